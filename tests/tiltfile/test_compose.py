"""The compose family: docker_compose and dc_resource, parsed in-process (no Docker)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from tests.tiltfile.conftest import FIXTURES, dump_of, resources_by_name
from tilt.model import ImageBuildKind, ImageTarget, SourceLocation
from tilt.tiltfile import load_tiltfile
from tilt.tiltfile._assemble import Assembly
from tilt.tiltfile._compose import docker_compose, finalize
from tilt.tiltfile._compose_spec import (
    ComposeError,
    interpolate,
    merge_compose,
    normalize_project_name,
    parse_env_file,
    published_ports,
)
from tilt.tiltfile._context import Ctx, LoadState

# Variables the fixtures interpolate: a developer's shell must not change the results.
_COMPOSE_VARS = (
    "DB_NAME",
    "PG_VERSION",
    "DB_PORT",
    "LOG_LEVEL",
    "QUEUE_NAME",
    "COMPOSE_PROFILES",
    "TAG",
    "PORT",
    "NAME",
    "UNSET_VAR",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _COMPOSE_VARS:
        monkeypatch.delenv(var, raising=False)


def _compose(res: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = res["compose"]
    return c


# --- the fixture: two files, .env, profiles, docker_build, depends_on --------------------

FIXTURE = FIXTURES / "compose"

# name -> (service, image_ref, image_refs, build_context, resource_deps, links, ports, trigger)
EXPECTED: dict[
    str, tuple[str, str, list[str], str, list[str], list[dict[str, str]], list[int], str]
] = {
    "api": (
        "api",
        "acme/api",
        ["acme/api"],
        "",
        ["cache", "db"],
        [
            {"url": "http://localhost:8000/", "name": ""},
            {"url": "http://localhost:9229/", "name": ""},
        ],
        [8000, 9229],
        "auto",
    ),
    "worker": ("worker", "compose-worker", [], str(FIXTURE / "worker"), ["api"], [], [], "manual"),
    "db": (
        "db",
        "postgres:16",
        [],
        "",
        [],
        [{"url": "http://localhost:15432/", "name": ""}],
        [15432],
        "auto",
    ),
    "cache": ("cache", "redis:7", [], "", [], [], [], "auto"),
    "db-admin": (
        "adminer",
        "adminer",
        [],
        "",
        ["db"],
        [{"url": "http://localhost:8081/", "name": "Adminer"}],
        [8081],
        "auto",
    ),
}


@pytest.fixture
def fixture_dump(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(FIXTURE)
    return dump_of(FIXTURE / "Tiltfile")


def test_fixture_resources_in_file_order(fixture_dump: dict[str, Any]) -> None:
    names = [r["name"] for r in fixture_dump["resources"]]
    # "debug" is behind a profile that is not enabled.
    assert names == ["api", "worker", "db", "cache", "db-admin"]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_fixture_resource(fixture_dump: dict[str, Any], name: str) -> None:
    service, image_ref, image_refs, context, deps, links, ports, trigger = EXPECTED[name]
    res = resources_by_name(fixture_dump)[name]
    comp = _compose(res)
    assert res["kind"] == "docker_compose"
    assert res["location"] == {"file": "Tiltfile", "line": 5}
    assert comp["service"] == service
    assert comp["project_name"] == "compose"
    assert comp["config_files"] == [
        str(FIXTURE / "docker-compose.yml"),
        str(FIXTURE / "docker-compose.dev.yml"),
    ]
    assert comp["profiles"] == ["tools"]
    assert comp["project_dir"] == str(FIXTURE)
    assert comp["image_ref"] == image_ref
    assert res["image_refs"] == image_refs
    assert comp["build_context"] == context
    assert res["resource_deps"] == deps
    assert res["links"] == links
    assert comp["published_ports"] == ports
    assert res["trigger_mode"] == trigger
    assert res["labels"] == (["backend"] if name == "worker" else [])


def test_fixture_image_is_used_and_files_are_recorded(fixture_dump: dict[str, Any]) -> None:
    assert [i["ref"] for i in fixture_dump["images"]] == ["acme/api"]
    assert not [w for w in fixture_dump["warnings"] if "acme/api" in w["message"]]
    for f in ("docker-compose.yml", "docker-compose.dev.yml", ".env"):
        assert str(FIXTURE / f) in fixture_dump["files_read"]


def test_fixture_merged_and_interpolated_service_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURE)
    result = load_tiltfile(str(FIXTURE / "Tiltfile"))
    api = result.resource("api").compose
    worker = result.resource("worker").compose
    assert api is not None and worker is not None
    assert api.service_config["environment"] == {
        "DATABASE_URL": "postgres://db:5432/acme",
        "PRICE": "$5",
        "DEBUG": "1",
    }
    assert api.service_config["ports"] == ["8000:8000", "127.0.0.1:9229:9229"]
    assert worker.service_config["command"] == ["python", "-m", "worker", "--reload"]
    assert worker.service_config["environment"] == {"LOG_LEVEL": "debug", "QUEUE": "jobs"}


# --- table-driven dump tests --------------------------------------------------------------

WEB = "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n"

# (id, Tiltfile, files, resource name, expected subset of the resource's dump)
CASES: list[tuple[str, str, dict[str, str], str, dict[str, Any]]] = [
    (
        "one-path",
        "docker_compose('docker-compose.yml')\n",
        {"docker-compose.yml": WEB},
        "web",
        {
            "links": [{"url": "http://localhost:8080/", "name": ""}],
            "resource_deps": [],
            "trigger_mode": "auto",
            "auto_init": True,
            "image_refs": [],
            "compose": {
                "service": "web",
                "image_ref": "nginx",
                "published_ports": [8080],
                "env_file": "",
                "profiles": [],
                "wait": False,
            },
        },
    ),
    (
        "project-name-from-folder",
        "docker_compose('My Stack.v2/compose.yaml')\n",
        {"My Stack.v2/compose.yaml": WEB},
        "web",
        {"compose": {"project_name": "mystackv2"}},
    ),
    (
        "project-name-given",
        "docker_compose('dc.yml', project_name='shop')\n",
        {"dc.yml": "services:\n  api:\n    build: .\n"},
        "api",
        {"compose": {"project_name": "shop", "image_ref": "shop-api"}},
    ),
    (
        "blob",
        "docker_compose(encode_yaml({'services': {'redis': {'image': 'redis',"
        " 'ports': '6379:6379'}}}))\n",
        {},
        "redis",
        {
            "links": [{"url": "http://localhost:6379/", "name": ""}],
            "compose": {"image_ref": "redis", "published_ports": [6379]},
        },
    ),
    (
        "one-line-blob",
        "docker_compose('services: {db: {image: postgres}}')\n",
        {},
        "db",
        {"compose": {"image_ref": "postgres"}},
    ),
    (
        "blob-overrides-file",
        "docker_compose(['docker-compose.yml',\n"
        '                "services:\\n  web:\\n    image: nginx:1.27\\n"])\n',
        {"docker-compose.yml": WEB},
        "web",
        {"compose": {"image_ref": "nginx:1.27"}},
    ),
    (
        "ports-long-syntax",
        "docker_compose('dc.yml')\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx\n    ports:\n"
            "    - target: 80\n      published: 8081\n    - target: 81\n      published: '8082'\n"
            "    - target: 82\n"
        },
        "web",
        {"compose": {"published_ports": [8081, 8082]}},
    ),
    (
        "ports-short-forms",
        "docker_compose('dc.yml')\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx\n    ports:\n"
            "    - 3000\n    - '4000-4001:4000-4001'\n    - '5000-5005:80'\n"
            "    - '[::1]:6001:6001'\n"
            "    - 7000:7000/udp\n    - 127.0.0.1:8000:80\n"
        },
        "web",
        {"compose": {"published_ports": [4000, 4001, 6001, 7000, 8000]}},
    ),
    (
        "unquoted-port-is-not-base-60",
        "docker_compose('dc.yml')\n",
        {"dc.yml": "services:\n  web:\n    image: nginx\n    ports:\n    - 22:22\n"},
        "web",
        {"compose": {"published_ports": [22]}},
    ),
    (
        "infer-links-off",
        "docker_compose('dc.yml')\ndc_resource('web', infer_links=False)\n",
        {"dc.yml": WEB},
        "web",
        {"links": []},
    ),
    (
        "user-links-after-inferred",
        "docker_compose('dc.yml')\ndc_resource('web', links=['localhost:9000/admin'])\n",
        {"dc.yml": WEB},
        "web",
        {
            "links": [
                {"url": "http://localhost:8080/", "name": ""},
                {"url": "http://localhost:9000/admin", "name": ""},
            ]
        },
    ),
    (
        "labels-and-auto-init",
        "docker_compose('dc.yml')\ndc_resource('web', labels='frontend', auto_init=False)\n",
        {"dc.yml": WEB},
        "web",
        {"labels": ["frontend"], "auto_init": False},
    ),
    (
        "trigger-mode-manual",
        "docker_compose('dc.yml')\ndc_resource('web', trigger_mode=TRIGGER_MODE_MANUAL)\n",
        {"dc.yml": WEB},
        "web",
        {"trigger_mode": "manual"},
    ),
    (
        "tiltfile-default-trigger-mode",
        "trigger_mode(TRIGGER_MODE_MANUAL)\ndocker_compose('dc.yml')\n",
        {"dc.yml": WEB},
        "web",
        {"trigger_mode": "manual"},
    ),
    (
        "depends-on-map-form-sorted",
        "docker_compose('dc.yml')\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx\n    depends_on:\n"
            "      redis: {condition: service_started}\n      db: {condition: service_healthy}\n"
            "  db:\n    image: postgres\n  redis:\n    image: redis\n"
        },
        "web",
        {"resource_deps": ["db", "redis"], "compose": {"depends_on": ["redis", "db"]}},
    ),
    (
        "depends-on-plus-resource-deps",
        "local_resource('seed', 'true')\ndocker_compose('dc.yml')\n"
        "dc_resource('web', resource_deps=['seed'])\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx\n    depends_on: [db]\n"
            "  db:\n    image: postgres\n"
        },
        "web",
        {"resource_deps": ["db", "seed"]},
    ),
    (
        "implicit-deps",
        "docker_compose('dc.yml')\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx\n    links: ['db:database']\n"
            "    volumes_from: [data, 'container:other']\n    network_mode: 'service:vpn'\n"
            "  db:\n    image: postgres\n  data:\n    image: busybox\n  vpn:\n    image: vpn\n"
        },
        "web",
        {"resource_deps": ["data", "db", "vpn"]},
    ),
    (
        "optional-dep-to-missing-service",
        "docker_compose('dc.yml')\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx\n    depends_on:\n"
            "      ghost: {condition: service_started, required: false}\n"
        },
        "web",
        {"resource_deps": []},
    ),
    (
        "new-name-followed-by-depends-on",
        "docker_compose('dc.yml')\ndc_resource('db', new_name='database')\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx\n    depends_on: [db]\n"
            "  db:\n    image: postgres\n"
        },
        "web",
        {"resource_deps": ["database"]},
    ),
    (
        "dc-resource-after-rename-uses-new-name",
        "docker_compose('dc.yml')\ndc_resource('web', new_name='site')\n"
        "dc_resource('site', labels=['x'])\n",
        {"dc.yml": WEB},
        "site",
        {"labels": ["x"], "compose": {"service": "web"}},
    ),
    (
        "env-file-arg",
        "docker_compose('dc.yml', env_file='conf/dev.env')\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx:${TAG}\n",
            "conf/dev.env": "TAG=1.25\n",
            ".env": "TAG=ignored\n",
        },
        "web",
        {"compose": {"image_ref": "nginx:1.25"}},
    ),
    (
        "dotenv-forms",
        "docker_compose('dc.yml')\n",
        {
            "dc.yml": "services:\n  web:\n    image: 'nginx:${TAG}'\n    environment:\n"
            "      A: '${A}'\n      B: '${B}'\n      C: '${C}'\n",
            ".env": "# comment\nexport TAG=1.2 # inline comment\nA='single $TAG'\n"
            'B="double $TAG\\tx"\nC=${TAG}-${NOPE:-dflt}\n',
        },
        "web",
        {"compose": {"image_ref": "nginx:1.2"}},
    ),
    (
        "default-forms",
        "docker_compose('dc.yml')\n",
        {
            "dc.yml": "services:\n  web:\n    image: 'nginx:${EMPTY-keep}${EMPTY:-colon}'\n",
            ".env": "EMPTY=\n",
        },
        "web",
        {"compose": {"image_ref": "nginx:colon"}},
    ),
    (
        "profile-enabled",
        "docker_compose('dc.yml', profiles=['debug'])\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx\n  tool:\n    image: busybox\n"
            "    profiles: [debug]\n"
        },
        "tool",
        {"compose": {"profiles": ["debug"]}},
    ),
    (
        "profile-star",
        "docker_compose('dc.yml', profiles='*')\n",
        {"dc.yml": "services:\n  tool:\n    image: busybox\n    profiles: [debug]\n"},
        "tool",
        {"compose": {"profiles": ["*"]}},
    ),
    (
        "wait",
        "docker_compose('dc.yml', wait=True)\n",
        {"dc.yml": WEB},
        "web",
        {"compose": {"wait": True}},
    ),
    (
        "extends",
        "docker_compose('dc.yml')\n",
        {
            "dc.yml": "services:\n  base:\n    image: nginx\n    ports: ['8080:80']\n"
            "  web:\n    extends: base\n    ports: ['8443:443']\n"
        },
        "web",
        {"compose": {"image_ref": "nginx", "published_ports": [8080, 8443]}},
    ),
    (
        "extends-other-file",
        "docker_compose('dc.yml')\n",
        {
            "dc.yml": "services:\n  web:\n    extends: {file: common.yml, service: app}\n",
            "common.yml": "services:\n  app:\n    image: 'httpd:${TAG:-2}'\n",
        },
        "web",
        {"compose": {"image_ref": "httpd:2"}},
    ),
    (
        "reset-tag",
        "docker_compose(['dc.yml', 'o.yml'])\n",
        {"dc.yml": WEB, "o.yml": "services:\n  web:\n    ports: !reset []\n"},
        "web",
        {"links": [], "compose": {"published_ports": []}},
    ),
    (
        "two-projects",
        "docker_compose('a/dc.yml')\ndocker_compose('b/dc.yml')\n",
        {"a/dc.yml": WEB, "b/dc.yml": "services:\n  api:\n    image: api\n"},
        "api",
        {"compose": {"project_name": "b"}},
    ),
    (
        "same-project-twice-adds-files",
        "docker_compose('dc.yml')\ndocker_compose('more.yml')\n",
        {"dc.yml": WEB, "more.yml": "services:\n  web:\n    image: nginx:2\n"},
        "web",
        {"compose": {"image_ref": "nginx:2"}},
    ),
]


def _subset(expected: Any, actual: Any, path: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        for k, v in expected.items():
            assert k in actual, f"{path}.{k} missing"
            _subset(v, actual[k], f"{path}.{k}")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


@pytest.mark.parametrize(
    ("text", "files", "name", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_dump(
    tiltfile,
    text: str,
    files: dict[str, str],
    name: str,  # type: ignore[no-untyped-def]
    expected: dict[str, Any],
) -> None:
    res = resources_by_name(tiltfile(text, files))[name]
    assert res["kind"] == "docker_compose"
    _subset(expected, res)


def test_blob_only_project_is_the_tiltfile_folder(tiltfile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        'docker_compose("services:\\n  a:\\n    build: ./a\\n")\n',
        {"a/Dockerfile": "FROM scratch\n"},
    )
    comp = _compose(resources_by_name(data)["a"])
    assert comp["project_dir"] == str(tmp_path)
    assert comp["build_context"] == str(tmp_path / "a")
    assert comp["project_name"] == normalize_project_name(tmp_path.name)
    # The blob is handed to Compose as a file of its own, with that text.
    (blob_file,) = comp["config_files"]
    assert Path(blob_file).read_text() == "services:\n  a:\n    build: ./a\n"


def test_shell_environment_beats_dotenv(tiltfile, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TAG", "from-shell")
    data = tiltfile(
        "docker_compose('dc.yml')\n",
        {"dc.yml": "services:\n  web:\n    image: nginx:${TAG}\n", ".env": "TAG=file\n"},
    )
    assert _compose(resources_by_name(data)["web"])["image_ref"] == "nginx:from-shell"


def test_compose_profiles_from_environment(tiltfile, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COMPOSE_PROFILES", "debug,extra")
    files = {
        "dc.yml": "services:\n  web:\n    image: nginx\n  tool:\n    image: busybox\n"
        "    profiles: [debug]\n"
    }
    data = tiltfile("docker_compose('dc.yml')\n", files)
    assert _compose(resources_by_name(data)["tool"])["profiles"] == ["debug", "extra"]
    assert data["logs"] == [
        f"Compose project {normalize_project_name(Path.cwd().name)!r} loading profiles "
        "from environment: debug,extra"
    ]
    # An explicit profiles= wins over the environment, even an empty one.
    data = tiltfile("docker_compose('dc.yml', profiles=[])\n", files)
    assert list(resources_by_name(data)) == ["web"]


def test_unset_variable_warns_and_is_blank(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "\ndocker_compose('dc.yml')\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx\n    environment:\n"
            "      A: x${UNSET_VAR}y\n      B: ${UNSET_VAR}\n"
        },
    )
    warnings = [w for w in data["warnings"] if "UNSET_VAR" in w["message"]]
    assert len(warnings) == 1  # once per variable
    assert warnings[0]["message"] == (
        'docker_compose: the "UNSET_VAR" variable is not set. Defaulting to a blank string.'
    )
    assert warnings[0]["location"] == {"file": "Tiltfile", "line": 2}


def test_files_read(tiltfile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "docker_compose('dc.yml', env_file='vars.env')\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx\n    env_file: [web.env]\n",
            "vars.env": "",
            "web.env": "A=1\n",
        },
    )
    for f in ("dc.yml", "vars.env", "web.env"):
        assert str(tmp_path / f) in data["files_read"]


# --- image matching, straight through finalize ---------------------------------------------


def _run_compose(tmp_path: Path, compose: str) -> LoadState:
    write_tree(tmp_path, {"Tiltfile": "", "dc.yml": compose})
    state = LoadState(main_path=str(tmp_path / "Tiltfile"), env={})
    ctx = Ctx(
        state=state,
        file=state.main_path,
        display_file="Tiltfile",
        location=SourceLocation(file="Tiltfile", line=1),
    )
    docker_compose(ctx, "dc.yml")
    return state


def _image(ref: str) -> ImageTarget:
    return ImageTarget(
        ref=ref,
        kind=ImageBuildKind.DOCKER,
        context="/src",
        location=SourceLocation(file="Tiltfile", line=1),
    )


@pytest.mark.parametrize(
    ("compose", "builds", "image_ref", "image_refs", "context", "used"),
    [
        # image: matches a build's ref (the tag of the service's image is free).
        (
            "services:\n  web:\n    image: gcr.io/acme/web:dev\n",
            ["gcr.io/acme/web"],
            "gcr.io/acme/web",
            ("gcr.io/acme/web",),
            "",
            {"gcr.io/acme/web"},
        ),
        # docker.io normalization: "web" and "docker.io/library/web" are one image.
        (
            "services:\n  web:\n    image: docker.io/library/web\n",
            ["web"],
            "web",
            ("web",),
            "",
            {"web"},
        ),
        # A build with a tag only matches that tag.
        ("services:\n  web:\n    image: web:v1\n", ["web:v2"], "web:v1", (), "", set()),
        # build: and no image: Compose's default name, which a docker_build may claim.
        (
            "services:\n  web:\n    build: ./web\n",
            ["proj-web"],
            "proj-web",
            ("proj-web",),
            "",
            {"proj-web"},
        ),
        # ...and without a matching build, Compose builds it from its context.
        (
            "services:\n  web:\n    build:\n      context: web\n      dockerfile: Dockerfile.dev\n",
            ["other"],
            "proj-web",
            (),
            "web",
            set(),
        ),
    ],
    ids=[
        "tagged-use",
        "normalized",
        "tag-mismatch",
        "default-name-built-by-tilt",
        "built-by-compose",
    ],
)
def test_image_matching(
    tmp_path: Path,
    *,
    compose: str,
    builds: list[str],
    image_ref: str,
    image_refs: tuple[str, ...],
    context: str,
    used: set[str],
) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    state = _run_compose(proj, compose)
    asm = Assembly(images=[_image(b) for b in builds])
    finalize(state, asm)
    (res,) = asm.resources
    assert res.compose is not None
    assert res.compose.image_ref == image_ref
    assert res.image_refs == image_refs
    assert res.compose.build_context == (str(proj / context) if context else "")
    assert asm.used_images == used


def test_dc_resource_image_overrides_the_match(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "docker_compose('dc.yml')\ndc_resource('web', image='acme/web')\n", {"dc.yml": WEB}
    )
    assert _compose(resources_by_name(data)["web"])["image_ref"] == "acme/web"


# --- errors: one message, with the location of the call -------------------------------------

# (id, Tiltfile, files, "file:line", message fragment)
ERRORS: list[tuple[str, str, dict[str, str], str, str]] = [
    (
        "missing-file",
        "x = 1\ndocker_compose('nope.yml')\n",
        {},
        "Tiltfile:2",
        "docker_compose: compose file not found: nope.yml",
    ),
    (
        "invalid-yaml",
        "docker_compose('dc.yml')\n",
        {"dc.yml": "services:\n  web:\n    image: nginx\n   ports: [\n"},
        "Tiltfile:1",
        "docker_compose: invalid YAML in dc.yml:4",
    ),
    (
        "no-services",
        "docker_compose('dc.yml')\n",
        {"dc.yml": "volumes:\n  data: {}\n"},
        "Tiltfile:1",
        "docker_compose: no services defined in dc.yml",
    ),
    ("empty-list", "docker_compose([])\n", {}, "Tiltfile:1", "docker_compose: Nothing to compose"),
    (
        "all-disabled-by-profiles",
        "docker_compose('dc.yml')\n",
        {"dc.yml": "services:\n  t:\n    image: x\n    profiles: [debug]\n"},
        "Tiltfile:1",
        "no services enabled in dc.yml",
    ),
    (
        "required-variable",
        "docker_compose('dc.yml')\n",
        {"dc.yml": "services:\n  web:\n    image: 'nginx:${TAG:?set TAG first}'\n"},
        "Tiltfile:1",
        "docker_compose: dc.yml: required variable TAG is missing a value: set TAG first",
    ),
    (
        "invalid-template",
        "docker_compose('dc.yml')\n",
        {"dc.yml": "services:\n  web:\n    image: 'nginx:${TAG'\n"},
        "Tiltfile:1",
        "Invalid template",
    ),
    (
        "undefined-dependency",
        "docker_compose('dc.yml')\n",
        {"dc.yml": "services:\n  web:\n    image: nginx\n    depends_on: [db]\n"},
        "Tiltfile:1",
        'service "web" depends on undefined service "db"',
    ),
    (
        "dependency-disabled-by-profile",
        "docker_compose('dc.yml')\n",
        {
            "dc.yml": "services:\n  web:\n    image: nginx\n    depends_on: [db]\n"
            "  db:\n    image: postgres\n    profiles: [db]\n"
        },
        "Tiltfile:1",
        "(it is disabled by its profiles)",
    ),
    (
        "no-image-no-build",
        "docker_compose('dc.yml')\n",
        {"dc.yml": "services:\n  web:\n    ports: ['80:80']\n"},
        "Tiltfile:1",
        'service "web" has neither an image nor a build context',
    ),
    (
        "bad-image",
        "docker_compose('dc.yml')\n",
        {"dc.yml": "services:\n  web:\n    image: Bad/Name\n"},
        "Tiltfile:1",
        "invalid image name 'Bad/Name'",
    ),
    (
        "missing-service-env-file",
        "docker_compose('dc.yml')\n",
        {"dc.yml": "services:\n  web:\n    image: nginx\n    env_file: web.env\n"},
        "Tiltfile:1",
        "env file web.env not found",
    ),
    (
        "missing-env-file-arg",
        "docker_compose('dc.yml', env_file='nope.env')\n",
        {"dc.yml": WEB},
        "Tiltfile:1",
        "cannot read env file nope.env",
    ),
    (
        "bad-dotenv-line",
        "docker_compose('dc.yml')\n",
        {"dc.yml": WEB, ".env": "OK=1\n!!! what\n"},
        "Tiltfile:1",
        ".env:2: invalid line",
    ),
    (
        "include-unsupported",
        "docker_compose('dc.yml')\n",
        {"dc.yml": "include: [other.yml]\n" + WEB},
        "Tiltfile:1",
        "top-level 'include' is not supported yet",
    ),
    (
        "configpaths-type",
        "docker_compose(42)\n",
        {},
        "Tiltfile:1",
        "docker_compose: configPaths: expected blob | path (string), got int",
    ),
    (
        "unknown-service",
        "docker_compose('dc.yml')\n\ndc_resource('wbe')\n",
        {"dc.yml": WEB},
        "Tiltfile:3",
        'dc_resource: no Docker Compose service found with name "wbe". Did you mean "web"? '
        "Found these instead: web",
    ),
    (
        "dc-resource-first",
        "dc_resource('web')\ndocker_compose('dc.yml')\n",
        {"dc.yml": WEB},
        "Tiltfile:1",
        "call docker_compose() before dc_resource()",
    ),
    (
        "old-name-after-rename",
        "docker_compose('dc.yml')\ndc_resource('web', new_name='site')\ndc_resource('web')\n",
        {"dc.yml": WEB},
        "Tiltfile:3",
        'Did you mean "site"? (an earlier dc_resource renamed it with new_name=)',
    ),
    (
        "rename-conflict",
        "docker_compose('dc.yml')\ndc_resource('web', new_name='db')\n",
        {"dc.yml": WEB + "  db:\n    image: postgres\n"},
        "Tiltfile:2",
        "new_name 'db': a Docker Compose resource of that name already exists",
    ),
    (
        "ambiguous-service",
        "docker_compose('a/dc.yml')\ndocker_compose('b/dc.yml')\ndc_resource('web')\n",
        {"a/dc.yml": WEB, "b/dc.yml": WEB},
        "Tiltfile:3",
        "found multiple resources named 'web', please specify which one with project_name=",
    ),
    (
        "unknown-project",
        "docker_compose('dc.yml')\ndc_resource('web', project_name='nope')\n",
        {"dc.yml": WEB},
        "Tiltfile:2",
        "no Docker Compose project named 'nope'",
    ),
    (
        "bad-trigger-mode",
        "docker_compose('dc.yml')\ndc_resource('web', trigger_mode='manual')\n",
        {"dc.yml": WEB},
        "Tiltfile:2",
        "for parameter 'trigger_mode': got string, want TRIGGER_MODE_AUTO or TRIGGER_MODE_MANUAL",
    ),
    (
        "bad-label",
        "docker_compose('dc.yml')\ndc_resource('web', labels=['no spaces'])\n",
        {"dc.yml": WEB},
        "Tiltfile:2",
        'dc_resource: Invalid label "no spaces"',
    ),
    (
        "duplicate-with-local-resource",
        "local_resource('web', 'true')\ndocker_compose('dc.yml')\n",
        {"dc.yml": WEB},
        "Tiltfile:1",
        "resource name 'web' is used twice: docker_compose at Tiltfile:2",
    ),
]


@pytest.mark.parametrize(
    ("text", "files", "where", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_error(
    tiltfile_error,
    text: str,
    files: dict[str, str],
    where: str,  # type: ignore[no-untyped-def]
    message: str,
) -> None:
    rendered = tiltfile_error(text, files)
    first = rendered.splitlines()[0]
    assert re.match(rf"Error: {re.escape(where)}(:\d+)?: ", first), rendered
    assert message in first, rendered
    assert "Traceback" not in rendered


def test_the_call_is_shown_under_the_error(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    rendered = tiltfile_error("x = 1\ndocker_compose('nope.yml')\n")
    assert "2 | docker_compose('nope.yml')" in rendered


# --- the pieces, table-driven ---------------------------------------------------------------

ENV = {"A": "a", "EMPTY": "", "N": "5"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$A", "a"),
        ("${A}", "a"),
        ("x${A}y$A", "xaya"),
        ("$$A", "$A"),
        ("$${A}", "${A}"),
        ("${MISSING:-dflt}", "dflt"),
        ("${EMPTY:-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${MISSING-dflt}", "dflt"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${MISSING+alt}", ""),
        ("${MISSING:-${A}-${N}}", "a-5"),
        ("${MISSING}", ""),
        ("${A?boom}", "a"),
        ("cost: $$5", "cost: $5"),
    ],
)
def test_interpolate(text: str, expected: str) -> None:
    unset: list[str] = []
    assert interpolate(text, ENV.get, unset.append) == expected
    assert unset == (["MISSING"] if text == "${MISSING}" else [])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${MISSING:?need it}", "required variable MISSING is missing a value: need it"),
        ("${EMPTY:?}", "required variable EMPTY is missing a value"),
        ("${MISSING?}", "required variable MISSING is missing a value"),
        ("${A", "Invalid template"),
        ("${}", "Invalid template"),
        ("$1", "Invalid template"),
        ("${A:x}", "Invalid template"),
    ],
)
def test_interpolate_errors(text: str, message: str) -> None:
    with pytest.raises(ComposeError, match=message.replace("$", r"\$").replace("{", r"\{")):
        interpolate(text, ENV.get, lambda _: None)


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("A=1\nB = two \n", {}, {"A": "1", "B": "two"}),
        ("# c\n\nexport A=1\n", {}, {"A": "1"}),
        ("A=x # comment\nB=y#not-a-comment\n", {}, {"A": "x", "B": "y#not-a-comment"}),
        ("A='lit $X \\n'\n", {"X": "x"}, {"A": "lit $X \\n"}),
        ('A="esc\\n$X \\$Y"\n', {"X": "x"}, {"A": "esc\nx $Y"}),
        ('A="multi\nline"\nB=2\n', {}, {"A": "multi\nline", "B": "2"}),
        ("A=1\nB=${A}-${X}\n", {"X": "x"}, {"A": "1", "B": "1-x"}),
        ("A=1\nB=$A\n", {"A": "shell"}, {"A": "1", "B": "shell"}),
        ("INHERIT\nNOTSET\n", {"INHERIT": "yes"}, {"INHERIT": "yes"}),
        ("A: 1\n", {}, {"A": "1"}),
        ("A=\n", {}, {"A": ""}),
    ],
)
def test_parse_env_file(text: str, env: dict[str, str], expected: dict[str, str]) -> None:
    assert parse_env_file(text, env.get) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\n=2\n", ".env:2: invalid line '=2'"),
        ('A="open\n', ".env:1: unterminated quoted value for A"),
        ("A B\n", ".env:1: invalid line 'A B'"),
    ],
)
def test_parse_env_file_errors(text: str, message: str) -> None:
    with pytest.raises(ComposeError) as info:
        parse_env_file(text, {}.get)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        (["80"], []),
        ([80], []),
        (["8080:80"], [8080]),
        (["127.0.0.1:8080:80/tcp"], [8080]),
        (["[::1]:8080:80"], [8080]),
        (["9000-9001:90-91"], [9000, 9001]),
        (["9000-9005:90"], []),
        (["0:80"], []),
        (["127.0.0.1::80"], []),
        (
            [
                {"target": 80, "published": 8080},
                {"target": 81, "published": "8081"},
                {"target": 82},
                {"target": 83, "published": "9000-9001"},
            ],
            [8080, 8081],
        ),
        (["junk:80", "a:b:c:d"], []),
    ],
)
def test_published_ports(ports: list[Any], expected: list[int]) -> None:
    assert published_ports(ports) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("myapp", "myapp"),
        ("My App", "myapp"),
        ("my.app_v2-x", "myapp_v2-x"),
        ("__Hidden", "hidden"),
        ("-x", "x"),
    ],
)
def test_normalize_project_name(name: str, expected: str) -> None:
    assert normalize_project_name(name) == expected


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # scalars are replaced, maps merge
        (
            [
                {"services": {"a": {"image": "x", "restart": "no"}}},
                {"services": {"a": {"image": "y"}}},
            ],
            {"services": {"a": {"image": "y", "restart": "no"}}},
        ),
        # environment as list or map merges by name
        (
            [
                {"services": {"a": {"environment": ["A=1", "B=2"]}}},
                {"services": {"a": {"environment": {"B": "3", "C": None}}}},
            ],
            {"services": {"a": {"environment": {"A": "1", "B": "3", "C": None}}}},
        ),
        # command is replaced, ports append (without repeating one)
        (
            [
                {"services": {"a": {"command": ["a", "b"], "ports": ["80:80"]}}},
                {"services": {"a": {"command": ["c"], "ports": ["80:80", "81:81"]}}},
            ],
            {"services": {"a": {"command": ["c"], "ports": ["80:80", "81:81"]}}},
        ),
        # volumes merge by container path
        (
            [
                {"services": {"a": {"volumes": ["./a:/data", "logs:/logs"]}}},
                {"services": {"a": {"volumes": ["./b:/data"]}}},
            ],
            {"services": {"a": {"volumes": ["./b:/data", "logs:/logs"]}}},
        ),
        # build string and map, depends_on list and map
        (
            [
                {"services": {"a": {"build": ".", "depends_on": ["b"]}}},
                {
                    "services": {
                        "a": {
                            "build": {"target": "dev"},
                            "depends_on": {"c": {"condition": "service_healthy"}},
                        }
                    }
                },
            ],
            {
                "services": {
                    "a": {
                        "build": {"context": ".", "target": "dev"},
                        "depends_on": {
                            "b": {"condition": "service_started", "required": True},
                            "c": {"condition": "service_healthy"},
                        },
                    }
                }
            },
        ),
        # healthcheck.test is replaced, the rest of healthcheck merges
        (
            [
                {"services": {"a": {"healthcheck": {"test": ["CMD", "a"], "retries": 3}}}},
                {"services": {"a": {"healthcheck": {"test": ["CMD", "b"]}}}},
            ],
            {"services": {"a": {"healthcheck": {"test": ["CMD", "b"], "retries": 3}}}},
        ),
        # a new service in a later file comes after the others
        (
            [{"services": {"b": {"image": "b"}}}, {"services": {"a": {"image": "a"}}}],
            {"services": {"b": {"image": "b"}, "a": {"image": "a"}}},
        ),
    ],
)
def test_merge_compose(files: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    merged = merge_compose(files)
    assert merged == expected
    assert list(merged["services"]) == list(expected["services"])


def test_loading_needs_no_docker(tiltfile, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # No docker or compose binary on PATH: loading still works (parsing is in-process).
    monkeypatch.setenv("PATH", os.devnull)
    data = tiltfile("docker_compose('dc.yml')\n", {"dc.yml": WEB})
    assert [r["name"] for r in data["resources"]] == ["web"]


def test_service_compose_builds_watches_its_context_with_dockerignore(tiltfile, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "docker_compose('compose.yaml')\n",
        files={
            "compose.yaml": "services:\n  web:\n    build: ./web\n  db:\n    image: redis\n",
            "web/Dockerfile": "FROM scratch\n",
            "web/.dockerignore": "node_modules\n",
        },
    )
    res = {r["name"]: r for r in data["resources"]}
    watch = res["web"]["compose"]["watch"]
    assert watch["paths"] == [str(tmp_path / "web")]
    assert [(i["pattern"], i["origin"]) for i in watch["ignores"]] == [
        ("/node_modules", f"{tmp_path / 'web' / '.dockerignore'}:1"),
        (".git", "built-in"),
    ]
    assert str(tmp_path / "web" / ".dockerignore") in data["files_read"]
    # A pulled image has nothing to watch.
    assert res["db"]["compose"]["watch"] == {"paths": [], "ignores": [], "only": []}
