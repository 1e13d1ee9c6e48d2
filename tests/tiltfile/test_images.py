"""The images family: docker_build, custom_build, default_registry and live_update steps."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pathspec
import pytest

from tests.tiltfile.conftest import FIXTURES, dump_of
from tilt.tiltfile._dockerfile import dockerfile_image_refs, read_dockerignore, to_gitwildmatch

DOCKERFILE = {"app/Dockerfile": "FROM alpine\n"}


def at(tmp_path: Path, want: object) -> object:
    """An expected value with "@" standing for the test's temp folder."""
    if isinstance(want, str):
        return want.replace("@", str(tmp_path))
    if isinstance(want, list):
        return [at(tmp_path, w) for w in want]
    return want


def image(data: dict[str, Any], ref: str) -> dict[str, Any]:
    for img in data["images"]:
        if img["ref"] == ref:
            return img
    raise KeyError(ref)


# --- docker_build: every parameter and its default ----------------------------------------

DOCKER_BUILD_CASES = [
    # (Tiltfile call, expected fields of the image; "@" stands for the temp folder)
    (
        "docker_build('app', 'app')",
        {
            "kind": "docker_build",
            "context": "@/app",
            "dockerfile": "@/app/Dockerfile",
            "dockerfile_contents": "",
            "build_args": {},
            "target": "",
            "entrypoint": None,
            "extra_tags": [],
            "platform": "",
            "network": "",
            "ssh": [],
            "secret": [],
            "cache_from": [],
            "pull": False,
            "extra_hosts": [],
            "ignore": [],
            "only": [],
            "live_update": [],
            "match_in_env_vars": False,
            "container_args": None,
            "image_deps": [],
            "location": {"file": "Tiltfile", "line": 1},
        },
    ),
    (
        "docker_build('app', 'app', build_args={'B': 'x', 'A': 1, 'C': True})",
        {"build_args": {"A": "1", "B": "x", "C": "true"}},
    ),
    (
        "docker_build('app', 'app', dockerfile='other/Dockerfile.dev')",
        {"dockerfile": "@/other/Dockerfile.dev"},
    ),
    (
        "docker_build('app', 'app', dockerfile_contents='FROM busybox\\n')",
        {"dockerfile": "", "dockerfile_contents": "FROM busybox\n"},
    ),
    ("docker_build('app', 'app', match_in_env_vars=True)", {"match_in_env_vars": True}),
    ("docker_build('app', 'app', ignore='*.log')", {"ignore": ["*.log"]}),
    ("docker_build('app', 'app', only=['src', './pkg'])", {"only": ["src", "./pkg"]}),
    (
        "docker_build('app', 'app', entrypoint='./run.sh --dev')",
        {"entrypoint": {"argv": ["sh", "-c", "./run.sh --dev"], "shell": True}},
    ),
    (
        "docker_build('app', 'app', entrypoint=['/app/run', '-v'])",
        {"entrypoint": {"argv": ["/app/run", "-v"], "shell": False}},
    ),
    ("docker_build('app', 'app', target='dev')", {"target": "dev"}),
    ("docker_build('app', 'app', ssh='default')", {"ssh": ["default"]}),
    ("docker_build('app', 'app', network='host')", {"network": "host"}),
    (
        "docker_build('app', 'app', secret=['id=a,src=a.txt', 'id=b'])",
        {"secret": ["id=a,src=a.txt", "id=b"]},
    ),
    ("docker_build('app', 'app', extra_tag='app:ci-42')", {"extra_tags": ["app:ci-42"]}),
    (
        "docker_build('app', 'app', container_args=['--port', '80'])",
        {"container_args": ["--port", "80"]},
    ),
    ("docker_build('app', 'app', container_args=[])", {"container_args": []}),
    ("docker_build('app', 'app', cache_from='app:cache')", {"cache_from": ["app:cache"]}),
    ("docker_build('app', 'app', pull=True)", {"pull": True}),
    ("docker_build('app', 'app', platform='linux/arm64')", {"platform": "linux/arm64"}),
    (
        "docker_build('app', 'app', extra_hosts=['db:10.0.0.2'])",
        {"extra_hosts": ["db:10.0.0.2"]},
    ),
    (
        # Tilt's documented positional order.
        "docker_build('app', 'app', {'K': 'v'}, 'app/Dockerfile')",
        {"build_args": {"K": "v"}, "dockerfile": "@/app/Dockerfile"},
    ),
    ("docker_build('gcr.io/team/app:v1', 'app')", {"ref": "gcr.io/team/app:v1"}),
]


@pytest.mark.parametrize(("call", "expected"), DOCKER_BUILD_CASES)
def test_docker_build_parameters(tiltfile, tmp_path: Path, call: str, expected: dict) -> None:  # type: ignore[no-untyped-def]
    files = {**DOCKERFILE, "other/Dockerfile.dev": "FROM alpine\n"}
    data = tiltfile(call + "\n", files=files)
    (img,) = data["images"]
    for key, want in expected.items():
        assert img[key] == at(tmp_path, want), key


def test_platform_defaults_to_docker_default_platform(
    tiltfile, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DOCKER_DEFAULT_PLATFORM", "linux/s390x")
    data = tiltfile("docker_build('app', 'app')\n", files=DOCKERFILE)
    assert data["images"][0]["platform"] == "linux/s390x"


def test_obsolete_cache_argument_warns(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile("docker_build('app', 'app', cache='/root/.cache')\n", files=DOCKERFILE)
    assert any("cache=...) is obsolete" in w["message"] for w in data["warnings"])


def test_dockerfile_is_read_relative_to_the_tiltfile_and_recorded(tiltfile, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "docker_build('app', 'app', dockerfile='docker/app.Dockerfile')\n",
        files={"app/main.go": "", "docker/app.Dockerfile": "FROM golang\n"},
    )
    img = data["images"][0]
    df = str(tmp_path / "docker" / "app.Dockerfile")
    assert img["dockerfile"] == df
    # A Dockerfile outside the context is watched too.
    assert img["watch"]["paths"] == [str(tmp_path / "app"), df]
    assert df in data["files_read"]


# --- custom_build ----------------------------------------------------------------------

CUSTOM_BUILD_CASES = [
    (
        "custom_build('tool', 'make image', ['src'])",
        {
            "kind": "custom_build",
            "command": {"argv": ["sh", "-c", "make image"], "shell": True},
            "command_dir": "@",
            "command_env": {},
            "deps": ["@/src"],
            "tag": "",
            "disable_push": False,
            "skips_local_docker": False,
            "outputs_image_ref_to": "",
            "live_update": [],
            "match_in_env_vars": False,
            "ignore": [],
            "entrypoint": None,
            "container_args": None,
            "image_deps": [],
        },
    ),
    (
        "custom_build('tool', ['bazel', 'run', '//:image'], 'src')",
        {"command": {"argv": ["bazel", "run", "//:image"], "shell": False}},
    ),
    ("custom_build('tool', 'make', ['src'], tag='dev')", {"tag": "dev"}),
    (
        "custom_build('tool', 'make', ['src'], disable_push=True, skips_local_docker=True)",
        {"disable_push": True, "skips_local_docker": True},
    ),
    (
        "custom_build('tool', 'make', ['src'], outputs_image_ref_to='out/ref.txt')",
        {"outputs_image_ref_to": "@/out/ref.txt"},
    ),
    (
        "custom_build('tool', 'make', ['src'], env={'A': 'b'}, dir='src')",
        {"command_env": {"A": "b"}, "command_dir": "@/src"},
    ),
    (
        "custom_build('tool', 'make', ['src'], entrypoint='serve', container_args=['-x'])",
        {
            "entrypoint": {"argv": ["sh", "-c", "serve"], "shell": True},
            "container_args": ["-x"],
        },
    ),
    (
        "custom_build('tool', 'make', ['src'], command_bat='build.bat', match_in_env_vars=True)",
        {"command": {"argv": ["sh", "-c", "make"], "shell": True}, "match_in_env_vars": True},
    ),
    (
        # Tilt's positional order: ref, command, deps, tag, disable_push, skips_local_docker.
        "custom_build('tool', 'make', ['src'], 'v2', True, True)",
        {"tag": "v2", "disable_push": True, "skips_local_docker": True},
    ),
]


@pytest.mark.parametrize(("call", "expected"), CUSTOM_BUILD_CASES)
def test_custom_build_parameters(tiltfile, tmp_path: Path, call: str, expected: dict) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(call + "\n", files={"src/main.c": ""})
    (img,) = data["images"]
    for key, want in expected.items():
        assert img[key] == at(tmp_path, want), key


def test_custom_build_watch_spec(tiltfile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "custom_build('tool', 'make', ['src', 'gen.txt'], ignore=['*.o'],\n"
        "             outputs_image_ref_to='src/ref.txt')\n",
        files={"src/.dockerignore": "build\n", "gen.txt": ""},
    )
    src = str(tmp_path / "src")
    watch = data["images"][0]["watch"]
    assert watch["paths"] == [src, str(tmp_path / "gen.txt")]
    assert watch["ignores"] == [
        {"pattern": "/build", "base_dir": src, "origin": f"{src}/.dockerignore:1"},
        {"pattern": "/*.o", "base_dir": src, "origin": "Tiltfile:1 custom_build(ignore=)"},
        {"pattern": ".git", "base_dir": src, "origin": "built-in"},
        {
            "pattern": "/ref.txt",
            "base_dir": src,
            "origin": "Tiltfile:1 custom_build(outputs_image_ref_to=)",
        },
    ]
    assert f"{src}/.dockerignore" in data["files_read"]


# --- default_registry ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "registry", "from_cluster", "single"),
    [
        ("default_registry('gcr.io/my-project')", "gcr.io/my-project", "", ""),
        (
            "default_registry('localhost:5005', host_from_cluster='registry:5000')",
            "localhost:5005",
            "registry:5000",
            "",
        ),
        ("default_registry('1234.ecr.aws', single_name='dev')", "1234.ecr.aws", "", "dev"),
        ("print('no registry')", "", "", ""),
    ],
)
def test_default_registry(
    tiltfile, call: str, registry: str, from_cluster: str, single: str
) -> None:  # type: ignore[no-untyped-def]
    settings = tiltfile(call + "\n")["settings"]
    assert settings["default_registry"] == registry
    assert settings["default_registry_host_from_cluster"] == from_cluster
    assert settings["default_registry_single_name"] == single


# --- watch spec and .dockerignore ------------------------------------------------------


def test_watch_spec_origins(tiltfile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "x = 1\ndocker_build('app', 'app', ignore=['tmp', '!tmp/keep'], only=['src'])\n",
        files={**DOCKERFILE, "app/.dockerignore": "# comment\n\n*.log\n!important.log\n"},
    )
    app = str(tmp_path / "app")
    watch = data["images"][0]["watch"]
    assert watch["paths"] == [app]
    assert watch["ignores"] == [
        {"pattern": "/*.log", "base_dir": app, "origin": f"{app}/.dockerignore:3"},
        {"pattern": "!/important.log", "base_dir": app, "origin": f"{app}/.dockerignore:4"},
        {"pattern": "/tmp", "base_dir": app, "origin": "Tiltfile:2 docker_build(ignore=)"},
        {"pattern": "!/tmp/keep", "base_dir": app, "origin": "Tiltfile:2 docker_build(ignore=)"},
        {"pattern": ".git", "base_dir": app, "origin": "built-in"},
    ]
    assert watch["only"] == [
        {"pattern": "/src", "base_dir": app, "origin": "Tiltfile:2 docker_build(only=)"}
    ]
    assert f"{app}/.dockerignore" in data["files_read"]


@pytest.mark.parametrize(
    ("files", "dockerfile_arg", "expected_file", "expected_patterns"),
    [
        # Only the context's .dockerignore.
        ({"app/.dockerignore": "a\n"}, "", "app/.dockerignore", ["/a"]),
        # <Dockerfile>.dockerignore next to the Dockerfile wins over the context's.
        (
            {"app/.dockerignore": "a\n", "app/Dockerfile.dockerignore": "b\n"},
            "",
            "app/Dockerfile.dockerignore",
            ["/b"],
        ),
        # ... also for a Dockerfile outside the context.
        (
            {"app/.dockerignore": "a\n", "df/dev.Dockerfile.dockerignore": "c\n"},
            "df/dev.Dockerfile",
            "df/dev.Dockerfile.dockerignore",
            ["/c"],
        ),
        # A custom Dockerfile without its own ignore file uses the context's.
        ({"app/.dockerignore": "a\n"}, "df/dev.Dockerfile", "app/.dockerignore", ["/a"]),
        # None at all: still recorded, so creating one later reloads the Tiltfile.
        ({}, "", "app/.dockerignore", []),
    ],
)
def test_dockerignore_file_choice(  # type: ignore[no-untyped-def]  # noqa: PLR0917
    tiltfile, tmp_path: Path, files, dockerfile_arg, expected_file, expected_patterns
) -> None:
    arg = f", dockerfile='{dockerfile_arg}'" if dockerfile_arg else ""
    data = tiltfile(
        f"docker_build('app', 'app'{arg})\n",
        files={**DOCKERFILE, "df/dev.Dockerfile": "FROM alpine\n", **files},
    )
    path = str(tmp_path / expected_file)
    rules = [r for r in data["images"][0]["watch"]["ignores"] if r["origin"] != "built-in"]
    assert [r["pattern"] for r in rules] == expected_patterns
    assert all(r["origin"].startswith(path + ":") for r in rules)
    assert path in data["files_read"]


# The reference: Docker's own matcher (moby/patternmatcher), written out here as it
# compiles a pattern to a regexp, plus its "or a parent folder matches" rule.


def _moby_regexp(pattern: str) -> re.Pattern[str]:
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*" and pattern[i + 1 : i + 2] == "*":
            i += 2
            if pattern[i : i + 1] == "/":
                i += 1
            out += ".*" if i >= len(pattern) else "(.*/)?"
            continue
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 1
        elif ch == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def _docker_excludes(patterns: list[str], path: str) -> bool:
    matched = False
    parents = path.split("/")[:-1]
    for raw in patterns:
        exclusion = raw.startswith("!")
        rx = _moby_regexp(raw[1:] if exclusion else raw)
        if exclusion != matched:
            continue
        hit = bool(rx.match(path)) or any(
            rx.match("/".join(parents[: i + 1])) for i in range(len(parents))
        )
        if hit:
            matched = not exclusion
    return matched


PATHS = [
    "a",
    "a/b",
    "a/b/c",
    "a/x/b",
    "a/x/y/b",
    "ab",
    "b",
    "x/a/b",
    "foo",
    "foobar",
    "foo/bar",
    "foox/bar",
    "fooxbar",
    "foo/x/bar",
    "foo.txt",
    "x/foo",
    "x.log",
    "d/x.log",
    "d/e/x.log",
    "keep.log",
    "d/keep.log",
    "node_modules/m/index.js",
    "src/node_modules/m",
    "build",
    "build/out.o",
    "src/build",
    "a1",
    "a2",
    "ax",
    "docs/a.md",
    "docs/sub/b.md",
    "x/docs/c.md",
]

DOCKERIGNORE_CASES = [
    ["*.log"],
    ["**/*.log"],
    ["*.log", "!keep.log"],
    ["**/*.log", "!**/keep.log"],
    ["foo"],
    ["foo*"],
    ["foo**"],
    ["foo**bar"],
    ["foo**/bar"],
    ["foo/**"],
    ["a/**/b"],
    ["a/**b"],
    ["**/a/b"],
    ["**"],
    ["**", "!docs"],
    ["/build/"],
    ["./docs/../build"],
    ["node_modules"],
    ["**/node_modules"],
    ["a?"],
    ["a[12]"],
    ["docs/*.md"],
    ["docs", "!docs/a.md"],
    ["../outside", "."],
]


@pytest.mark.parametrize("patterns", DOCKERIGNORE_CASES, ids=" ".join)
def test_dockerignore_translation_matches_docker(patterns: list[str]) -> None:
    cleaned = [line.pattern for line in read_dockerignore("\n".join(patterns) + "\n")]
    converted = [g for p in cleaned for g in to_gitwildmatch(p)]
    spec = pathspec.PathSpec.from_lines("gitignore", converted)
    for path in PATHS:
        assert spec.match_file(path) == _docker_excludes(cleaned, path), (path, converted)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.log", ["/*.log"]),
        ("/abs/path/", ["/abs/path"]),
        ("!keep", ["!/keep"]),
        ("! spaced", ["!/spaced"]),
        ("**/x", ["/**/x"]),
        ("x/**", ["/x/**"]),
        ("foo**", ["/foo*"]),
        ("foo**bar", ["/foobar", "/foo*/**/bar"]),
        ("a/**b", ["/a/**/b"]),
        ("a/./b/../c", ["/a/c"]),
        ("../escape", []),
        (".", []),
    ],
)
def test_to_gitwildmatch(pattern: str, expected: list[str]) -> None:
    assert to_gitwildmatch(pattern) == expected


def test_read_dockerignore_lines() -> None:
    text = (
        "\ufeff# comment\n  # not a comment (Docker only skips a leading #)\n\n  *.tmp  \n!/keep\n"
    )
    assert [(x.line, x.pattern) for x in read_dockerignore(text)] == [
        (2, "# not a comment (Docker only skips a leading #)"),
        (4, "*.tmp"),
        (5, "!keep"),
    ]


# --- image dependencies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("dockerfile", "build_args", "refs"),
    [
        ("FROM alpine\n", {}, ["alpine"]),
        ("from --platform=linux/amd64 gcr.io/base:1 as build\n", {}, ["gcr.io/base:1"]),
        ("FROM scratch\nCOPY x /x\n", {}, []),
        ("FROM a AS one\nFROM one\nCOPY --from=one /x /x\nCOPY --from=0 /y /y\n", {}, ["a"]),
        ("FROM a\nCOPY --from=tools:2 /t /t\n", {}, ["a", "tools:2"]),
        ("ARG BASE=base\nARG TAG\nFROM ${BASE}:${TAG:-latest}\n", {}, ["base:latest"]),
        ("ARG BASE=base\nFROM $BASE\n", {"BASE": "other"}, ["other"]),
        ("FROM a\nARG LATE=x\nFROM $LATE\n", {}, ["a"]),  # ARG after FROM is stage-local
        ("# escape=`\nFROM `\n  a\n", {}, ["a"]),
        ("FROM \\\n  # comment inside a continuation\n  b\n", {}, ["b"]),
        ("FROM a\nRUN <<EOF\nFROM not-an-instruction\nEOF\nFROM c\n", {}, ["a", "c"]),
        ("FROM a\nRUN --mount=type=cache,from=cachimg,target=/c make\n", {}, ["a", "cachimg"]),
    ],
)
def test_dockerfile_image_refs(dockerfile: str, build_args: dict, refs: list[str]) -> None:  # type: ignore[type-arg]
    assert dockerfile_image_refs(dockerfile, build_args) == refs


def test_image_deps_from_dockerfile(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "docker_build('gcr.io/app', 'app')\n"  # declared before its base
        "docker_build('gcr.io/base', 'base')\n"
        "docker_build('tools', 'tools')\n",
        files={
            "app/Dockerfile": "ARG B=gcr.io/base\nFROM $B\nCOPY --from=tools:1 /t /t\n",
            "base/Dockerfile": "FROM alpine\n",
            "tools/Dockerfile": "FROM tools:0\n",  # its own older version: not a dependency
        },
    )
    assert image(data, "gcr.io/app")["image_deps"] == ["gcr.io/base", "tools"]
    assert image(data, "gcr.io/base")["image_deps"] == []
    assert image(data, "tools")["image_deps"] == []
    assert [i["ref"] for i in data["images"]] == ["gcr.io/app", "gcr.io/base", "tools"]


def test_tagged_build_does_not_match_other_tags(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "docker_build('base:v2', 'base')\ndocker_build('app', 'app')\n",
        files={"base/Dockerfile": "FROM alpine\n", "app/Dockerfile": "FROM base:v1\n"},
    )
    assert image(data, "app")["image_deps"] == []


def test_custom_build_image_deps(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "custom_build('tool', 'make', ['.'], image_deps=['docker.io/library/base'])\n"
        "docker_build('base', 'base')\n",
        files={"base/Dockerfile": "FROM alpine\n"},
    )
    assert image(data, "tool")["image_deps"] == ["base"]


# --- live_update -----------------------------------------------------------------------


def test_live_update_steps_recorded(tiltfile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "docker_build('app', 'app', live_update=[\n"
        "  fall_back_on(['app/package.json']),\n"
        "  initial_sync(),\n"
        "  sync('app/src', '/srv/src'),\n"
        "  run('npm ci', trigger='app/src/package-lock.json', echo_off=True),\n"
        "  run(['touch', '/tmp/x']),\n"
        "  restart_container(),\n"
        "])\n",
        files=DOCKERFILE,
    )
    app = str(tmp_path / "app")
    assert data["images"][0]["live_update"] == [
        {"kind": "fall_back_on", "paths": [f"{app}/package.json"]},
        {"kind": "initial_sync"},
        {"kind": "sync", "local_path": f"{app}/src", "remote_path": "/srv/src"},
        {
            "kind": "run",
            "command": {"argv": ["sh", "-c", "npm ci"], "shell": True},
            "triggers": [f"{app}/src/package-lock.json"],
            "echo_off": True,
        },
        {
            "kind": "run",
            "command": {"argv": ["touch", "/tmp/x"], "shell": False},
            "triggers": [],
            "echo_off": False,
        },
        {"kind": "restart_container"},
    ]


def test_live_update_steps_in_variables_and_single_step(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "s = sync('app', '/app')\n"
        "docker_build('app', 'app', live_update=s)\n"
        "custom_build('tool', 'make', ['app'], live_update=[s, run('make')])\n",
        files=DOCKERFILE,
    )
    assert [len(i["live_update"]) for i in data["images"]] == [1, 2]


def test_sync_may_copy_from_a_base_image_context(tiltfile) -> None:  # type: ignore[no-untyped-def]
    # As in Tilt: an image's watched paths include those of the images it is built FROM.
    data = tiltfile(
        "docker_build('gcr.io/b', 'b', live_update=[sync('a/msg.txt', '/src/msg.txt')])\n"
        "docker_build('gcr.io/a', 'a')\n",
        files={
            "a/Dockerfile": "FROM alpine\n",
            "a/msg.txt": "hi",
            "b/Dockerfile": "FROM gcr.io/a\n",
        },
    )
    assert image(data, "gcr.io/b")["image_deps"] == ["gcr.io/a"]


LIVE_UPDATE_ERRORS = [
    (
        "live_update=[run('make'), sync('app', '/app')]",
        "docker_build: live_update: all sync steps must precede all run steps",
    ),
    (
        "live_update=[sync('app', '/app'), fall_back_on('app/x')]",
        "docker_build: live_update: all fall_back_on steps must precede all other steps",
    ),
    (
        "live_update=[restart_container(), sync('app', '/app')]",
        "docker_build: live_update: restart container is only valid as the last step",
    ),
    (
        "live_update=[sync('app', '/app'), initial_sync()]",
        "docker_build: live_update: initial_sync must precede all sync and run steps",
    ),
    (
        "live_update=[initial_sync(), initial_sync()]",
        "docker_build: live_update: initial_sync may only appear once",
    ),
    (
        "live_update=['quu', sync('app', '/baz')]",
        "docker_build: live_update: 'steps' must be a list of live update steps - "
        "got value '\"quu\"' of type 'string'",
    ),
    (
        "live_update=[sync('app', 'relative/dest')]",
        "docker_build: live_update: sync destination 'relative/dest' (Tiltfile:2) is not absolute",
    ),
]


@pytest.mark.parametrize(("arg", "message"), LIVE_UPDATE_ERRORS)
def test_live_update_validation_errors(tiltfile_error, tmp_path, arg: str, message: str) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error(f"x = 1\ndocker_build('app', 'app', {arg})\n", files=DOCKERFILE)
    assert msg.startswith(f"Error: Tiltfile:2:1: {message.replace('@', str(tmp_path))}"), msg
    assert "2 | docker_build('app', 'app'," in msg


def _deploy(image: str) -> str:
    """A Tiltfile line deploying ``image`` in a Deployment (a resource that uses it)."""
    yaml = (
        "apiVersion: apps/v1\\nkind: Deployment\\nmetadata: {name: web}\\nspec:\\n"
        "  selector: {matchLabels: {app: web}}\\n  template:\\n"
        "    metadata: {labels: {app: web}}\\n"
        f"    spec: {{containers: [{{name: c, image: {image}}}]}}\\n"
    )
    return f"k8s_yaml(blob('{yaml}'))\n"


@pytest.mark.parametrize(
    ("tiltfile_text", "message"),
    [
        (
            "x = 1\ndocker_build('app', 'app', live_update=[sync('elsewhere', '/app')])\n",
            "docker_build(\"app\"): live_update: sync step source '@/elsewhere' is not a "
            "child of any watched filepaths [@/app @/app/Dockerfile]",
        ),
        (
            "x = 1\ndocker_build('app', 'app', live_update=[fall_back_on('other.txt')])\n",
            "docker_build(\"app\"): live_update: fall_back_on paths '@/other.txt' is not a "
            "child of any watched filepaths [@/app @/app/Dockerfile]",
        ),
        (
            "x = 1\ncustom_build('tool', 'make', ['app'], live_update=[sync('lib', '/lib')])\n",
            "custom_build(\"tool\"): live_update: sync step source '@/lib' is not a child of "
            "any watched filepaths [@/app]",
        ),
    ],
)
def test_live_update_paths_outside_watched(  # type: ignore[no-untyped-def]
    tiltfile_error, tmp_path, tiltfile_text: str, message: str
) -> None:
    # Tilt checks only an image some resource deploys: deploy it.
    image = "tool" if "custom_build" in tiltfile_text else "app"
    msg = tiltfile_error(tiltfile_text + _deploy(image), files=DOCKERFILE)
    assert msg.startswith(f"Error: Tiltfile:2:1: {message.replace('@', str(tmp_path))}"), msg


def test_unused_live_update_step_is_an_error(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error("x = 1\nrestart_container()\ns = sync('a', '/a')\n")
    assert msg.startswith(
        "Error: Tiltfile:2: found 2 live_update steps that were created but not used in a "
        "live_update: restart_container step declared at Tiltfile:2; sync step: "
    ), msg


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("run('')", "run: cmd must not be empty"),
        (
            "run('bar', [4])",
            "run cmd 'bar' triggers contained value '4' of type 'int'. it may only contain strings",
        ),
        ("fall_back_on(4)", "fall_back_on: for parameter 'files': got int, want string"),
        ("sync('a')", "sync: missing a required argument: 'remote_path'"),
    ],
)
def test_step_argument_errors(tiltfile_error, call: str, message: str) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error(f"x = 1\n{call}\n")
    assert msg.startswith(f"Error: Tiltfile:2:1: {message}"), msg


# --- docker_build / custom_build / default_registry errors -------------------------------

BUILD_ERRORS = [
    (
        "docker_build('app', 'missing')",
        'docker_build: context "missing" does not exist (looked for @/missing)',
    ),
    (
        "docker_build('app', 'app/Dockerfile')",
        'docker_build: context "app/Dockerfile" is not a directory: @/app/Dockerfile',
    ),
    (
        "docker_build('app', 'nodf')",
        "docker_build: error reading dockerfile: open @/nodf/Dockerfile: no such file or directory",
    ),
    (
        "docker_build('app', 'app', dockerfile='x.Dockerfile', dockerfile_contents='FROM a')",
        "docker_build: Cannot specify both dockerfile and dockerfile_contents keyword arguments",
    ),
    (
        "docker_build('MyApp', 'app')",
        'docker_build: Argument 1 (ref): can\'t parse "MyApp": invalid reference format: '
        "repository name must be lowercase",
    ),
    (
        "docker_build('app::1', 'app')",
        'docker_build: Argument 1 (ref): can\'t parse "app::1": invalid reference format',
    ),
    (
        "docker_build('app', 'app', only=['src/*.go'])",
        "docker_build: 'only' does not support '*' file globs. Must be a real path: src/*.go",
    ),
    (
        "docker_build('app', 'app', ignore=['a\\nb'])",
        'docker_build: ignore cannot contain newlines; found ignore: "a\\nb"',
    ),
    (
        "docker_build('app', 'app', ignore=[1])",
        "docker_build: ignore must be a string or a sequence of strings; found a int",
    ),
    (
        "docker_build('app', 'app', extra_tag='Bad Tag')",
        'docker_build: Argument extra_tag="Bad Tag" not a valid image reference: '
        "invalid reference format",
    ),
    (
        "docker_build('app', 'app', build_args=['A=1'])",
        "docker_build: for parameter 'build_args': got list, want dict",
    ),
    (
        "docker_build('app', 'app', pull='yes')",
        "docker_build: for parameter 'pull': got string, want bool",
    ),
    (
        "docker_build('app', 'app', bogus=1)",
        "docker_build: got an unexpected keyword argument 'bogus'",
    ),
    (
        "custom_build('tool', '', ['app'])",
        "custom_build: Argument 2 (command) can't be empty",
    ),
    (
        "custom_build('tool', 'make', ['app'], tag='x', outputs_image_ref_to='ref.txt')",
        "custom_build: Cannot specify both tag= and outputs_image_ref_to=",
    ),
    (
        "custom_build('Tool', 'make', ['app'])",
        'custom_build: Argument 1 (ref): can\'t parse "Tool": invalid reference format: '
        "repository name must be lowercase",
    ),
    (
        "default_registry('not a host')",
        'default_registry: validating defaultRegistry: host "not a host" is not a valid '
        "registry host",
    ),
]


@pytest.mark.parametrize(("call", "message"), BUILD_ERRORS)
def test_build_errors(tiltfile_error, tmp_path, call: str, message: str) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error(f"x = 1\n{call}\n", files={**DOCKERFILE, "nodf/main.go": ""})
    assert msg.startswith(f"Error: Tiltfile:2:1: {message.replace('@', str(tmp_path))}"), msg
    assert f"2 | {call}" in msg


@pytest.mark.parametrize(
    ("first", "second", "shown"),
    [
        ("docker_build('app', 'app')", "docker_build('app', 'app')", "app"),
        ("docker_build('app', 'app')", "docker_build('docker.io/library/app', 'app')", "app"),
        (
            "docker_build('gcr.io/x/app:v1', 'app')",
            "custom_build('gcr.io/x/app:v1', 'make', [])",
            "gcr.io/x/app:v1",
        ),
    ],
)
def test_same_ref_twice(tiltfile_error, first: str, second: str, shown: str) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error(f"{first}\n{second}\n", files=DOCKERFILE)
    fn = second.split("(", maxsplit=1)[0]
    assert msg.startswith(
        f'Error: Tiltfile:2:1: {fn}: Image for ref "{shown}" has already been defined'
    )


def test_same_name_different_tags_is_allowed(tiltfile) -> None:  # type: ignore[no-untyped-def]
    data = tiltfile(
        "docker_build('app:v1', 'app')\ndocker_build('app:v2', 'app')\n", files=DOCKERFILE
    )
    assert [i["ref"] for i in data["images"]] == ["app:v1", "app:v2"]


def test_default_registry_twice(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error("default_registry('a.io')\ndefault_registry('b.io')\n")
    assert msg.startswith("Error: Tiltfile:2:1: default_registry: default registry already defined")


def test_image_cycle_names_the_images(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error(
        "docker_build('a', 'a')\ndocker_build('b', 'b')\n",
        files={"a/Dockerfile": "FROM b\n", "b/Dockerfile": "FROM a AS x\n"},
    )
    assert msg.startswith(
        "Error: Tiltfile:1: image builds depend on each other in a cycle (FROM / image_deps): "
        "a -> b -> a"
    ), msg


def test_custom_build_depending_on_itself_is_a_cycle(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error("x = 1\ncustom_build('tool', 'make', [], image_deps=['tool'])\n")
    assert "Tiltfile:2: image builds depend on each other in a cycle" in msg
    assert "tool -> tool" in msg


def test_unknown_image_dep(tiltfile_error) -> None:  # type: ignore[no-untyped-def]
    msg = tiltfile_error("x = 1\ncustom_build('tool', 'make', [], image_deps=['nope'])\n")
    assert msg.startswith(
        'Error: Tiltfile:2:1: custom_build: image_deps names "nope", which no docker_build '
        "or custom_build declares"
    ), msg


# --- the fixture: three images with their own contexts -----------------------------------

IMAGES = FIXTURES / "images"


@pytest.fixture
def fixture_data(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(IMAGES)
    return dump_of(IMAGES / "Tiltfile")


def test_fixture_images_in_declaration_order(fixture_data: dict[str, Any]) -> None:
    assert [i["ref"] for i in fixture_data["images"]] == [
        "example.com/api",
        "example.com/base",
        "worker",
    ]
    settings = fixture_data["settings"]
    assert (settings["default_registry"], settings["default_registry_host_from_cluster"]) == (
        "localhost:5005",
        "registry:5000",
    )


def test_fixture_api(fixture_data: dict[str, Any]) -> None:
    api = image(fixture_data, "example.com/api")
    d = str(IMAGES / "api")
    assert api["kind"] == "docker_build"
    assert api["context"] == d
    assert api["dockerfile"] == f"{d}/Dockerfile"
    assert api["build_args"] == {"PY": "3.11", "WORKERS": "4"}
    # FROM ${BASE} with ARG BASE=example.com/base
    assert api["image_deps"] == ["example.com/base"]
    assert [s["kind"] for s in api["live_update"]] == ["fall_back_on", "sync", "run"]
    watch = api["watch"]
    assert watch["paths"] == [d]
    # Dockerfile.dockerignore wins over api/.dockerignore (which ignores everything).
    assert [(r["pattern"], r["origin"]) for r in watch["ignores"]] == [
        ("/**/__pycache__", f"{d}/Dockerfile.dockerignore:2"),
        ("/*.pyc", f"{d}/Dockerfile.dockerignore:3"),
        ("!/keep.pyc", f"{d}/Dockerfile.dockerignore:4"),
        ("/*.tmp", "Tiltfile:5 docker_build(ignore=)"),
        ("/docs/**", "Tiltfile:5 docker_build(ignore=)"),
        (".git", "built-in"),
    ]
    assert watch["only"] == []


def test_fixture_base(fixture_data: dict[str, Any]) -> None:
    base = image(fixture_data, "example.com/base")
    d = str(IMAGES / "base")
    df = str(IMAGES / "docker" / "base.Dockerfile")
    assert (base["dockerfile"], base["target"], base["platform"]) == (df, "runtime", "linux/amd64")
    assert base["image_deps"] == []
    assert base["watch"]["paths"] == [d, df]
    assert [r["origin"] for r in base["watch"]["ignores"]] == [
        f"{d}/.dockerignore:1",
        f"{d}/.dockerignore:2",
        "built-in",
    ]
    assert [r["pattern"] for r in base["watch"]["only"]] == ["/requirements.txt", "/lib"]


def test_fixture_worker(fixture_data: dict[str, Any]) -> None:
    worker = image(fixture_data, "worker")
    d = str(IMAGES / "worker")
    assert worker["kind"] == "custom_build"
    assert worker["command"] == {
        "argv": ["sh", "-c", "./worker/build.sh $EXPECTED_REF"],
        "shell": True,
    }
    assert (worker["tag"], worker["command_env"], worker["deps"]) == ("dev", {"MODE": "dev"}, [d])
    assert worker["image_deps"] == ["example.com/base"]
    assert [(r["pattern"], r["origin"]) for r in worker["watch"]["ignores"]] == [
        ("/out", "Tiltfile:26 custom_build(ignore=)"),
        (".git", "built-in"),
    ]


def test_fixture_files_read(fixture_data: dict[str, Any]) -> None:
    read = set(fixture_data["files_read"])
    for rel in (
        "api/Dockerfile",
        "api/Dockerfile.dockerignore",
        "docker/base.Dockerfile",
        "base/.dockerignore",
        "worker/.dockerignore",
    ):
        assert os.path.join(str(IMAGES), rel) in read, rel
    # The overridden .dockerignore is not read.
    assert str(IMAGES / "api" / ".dockerignore") not in read
