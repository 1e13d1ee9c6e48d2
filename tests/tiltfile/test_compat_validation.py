"""Where Tilt accepts a Tiltfile, so do we: checks Tilt does not make are warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DOCKERFILE = {"app/Dockerfile": "FROM scratch\n", "app/src/main.py": "", "app/Makefile": ""}


def test_run_trigger_outside_every_sync_is_a_warning(tiltfile: Any, tmp_path: Path) -> None:
    # Tilt accepts this (the run step can never fire); we load it and say why.
    data = tiltfile(
        "docker_build('app', 'app', live_update=[\n"
        "    sync('app/src', '/src'),\n"
        "    run('make', trigger=['app/Makefile']),\n"
        "])\n",
        files=DOCKERFILE,
    )
    (img,) = data["images"]
    assert [s["kind"] for s in img["live_update"]] == ["sync", "run"]
    assert img["live_update"][1]["triggers"] == [str(tmp_path / "app" / "Makefile")]
    (warning,) = [w for w in data["warnings"] if "run step trigger" in w["message"]]
    assert warning["message"] == (
        f"docker_build: live_update: run step trigger '{tmp_path}/app/Makefile' is not inside "
        f"any sync step's local path [{tmp_path}/app/src]; a change there is never synced, "
        "so the run step will never fire"
    )
    assert warning["location"] == {"file": "Tiltfile", "line": 3}


def test_run_trigger_inside_a_sync_has_no_warning(tiltfile: Any) -> None:
    data = tiltfile(
        "docker_build('app', 'app', live_update=[\n"
        "    sync('app', '/app'),\n"
        "    run('make', trigger=['app/Makefile']),\n"
        "])\n",
        files=DOCKERFILE,
    )
    assert not [w for w in data["warnings"] if "run step trigger" in w["message"]]


def test_empty_k8s_kind_is_a_warning(tiltfile: Any) -> None:
    # Tilt compiles the empty kind as a regexp that matches every kind.
    data = tiltfile("k8s_kind('')\n")
    assert [w["message"] for w in data["warnings"]] == [
        "k8s_kind: kind is empty, so every kind of object matches"
    ]


# Probe and link checks Tilt does not make: `probe()` and its actions keep any int and any
# scheme (Tilt's prober then fails), `link()` keeps whitespace outside the host. Each loads,
# with a warning at the call's line; (expression, warning).
TILT_SILENT = [
    (
        "probe(timeout_secs=0, exec=exec_action(['a']))",
        "probe: timeout_secs must be greater than 0, got 0; using the default, 1",
    ),
    (
        "probe(period_secs=-1, exec=exec_action(['a']))",
        "probe: period_secs must be greater than 0, got -1; using the default, 10",
    ),
    (
        "probe(initial_delay_secs=-2, exec=exec_action(['a']))",
        "probe: initial_delay_secs must not be negative, got -2; using the default, 0",
    ),
    (
        "probe(failure_threshold=0, exec=exec_action(['a']))",
        "probe: failure_threshold must be greater than 0, got 0; using the default, 3",
    ),
    (
        "http_get_action(0)",
        "http_get_action: port 0 is out of range (must be between 1 and 65535); "
        "the probe will fail",
    ),
    (
        "http_get_action(65536)",
        "http_get_action: port 65536 is out of range (must be between 1 and 65535); "
        "the probe will fail",
    ),
    (
        "http_get_action(80, scheme='ftp')",
        'http_get_action: scheme must be "http" or "https", got "ftp"; the probe will fail',
    ),
    (
        "tcp_socket_action(-1)",
        "tcp_socket_action: port -1 is out of range (must be between 1 and 65535); "
        "the probe will fail",
    ),
    ("exec_action([])", "exec_action: command is empty; the probe will fail"),
    (
        "port_forward(70000, 80)",
        "port_forward: local_port 70000 is not in the valid range [0-65535]",
    ),
    (
        "port_forward(8000, -1)",
        "port_forward: container_port -1 is not in the valid range [0-65535]",
    ),
    (
        "port_forward(8000, host='bad_host')",
        'port_forward: host "bad_host" is not a valid hostname or IP address',
    ),
    (
        "link('http://a/b c')",
        'link: URL "http://a/b c" contains whitespace (Tilt accepts it; a browser may not)',
    ),
]


@pytest.mark.parametrize(("expr", "message"), TILT_SILENT)
def test_checks_tilt_does_not_make_are_warnings(tiltfile: Any, expr: str, message: str) -> None:
    data = tiltfile(f"x = 1\np = {expr}\n")
    (warning,) = data["warnings"]
    assert warning == {"message": message, "location": {"file": "Tiltfile", "line": 2}}


def test_probe_out_of_range_takes_the_default(tiltfile: Any) -> None:
    data = tiltfile(
        "local_resource('s', serve_cmd='sleep 1', readiness_probe=probe(\n"
        "    period_secs=0, timeout_secs=-3, exec=exec_action(['true'])))\n"
    )
    (res,) = data["resources"]
    probe = res["local"]["readiness_probe"]
    assert (probe["period_secs"], probe["timeout_secs"]) == (10, 1)
    assert [w["location"]["line"] for w in data["warnings"]] == [1, 1]


def test_link_whitespace_in_resource_links_is_a_warning(tiltfile: Any) -> None:
    data = tiltfile("local_resource('s', 'true', links=['localhost:8000/a b'])\n")
    (res,) = data["resources"]
    assert [link["url"] for link in res["links"]] == ["http://localhost:8000/a b"]
    (warning,) = data["warnings"]
    assert warning["location"] == {"file": "Tiltfile", "line": 1}


def test_link_whitespace_in_the_host_is_an_error_as_in_tilt(tiltfile_error: Any) -> None:
    # Go's url.Parse refuses it: `invalid character " " in host name`.
    msg = tiltfile_error("link('http://a b')\n")
    assert msg.splitlines()[0] == (
        'Error: Tiltfile:1:1: link: validating URL "http://a b": invalid character " " in host name'
    )


def test_probe_tilt_accepts_but_cannot_run_fails_each_attempt() -> None:
    import asyncio

    from tilt.model import HttpGetAction, Probe, TcpSocketAction
    from tilt.probe import probe_once

    ftp = Probe(http_get=HttpGetAction(port=80, host="127.0.0.1", scheme="ftp", path=""))
    assert asyncio.run(probe_once(ftp)) == (
        False,
        'GET ftp://127.0.0.1:80/: unsupported protocol scheme "ftp"',
    )
    high = Probe(tcp_socket=TcpSocketAction(port=70000, host="127.0.0.1"))
    assert asyncio.run(probe_once(high)) == (False, "TCP 127.0.0.1:70000: invalid port 70000")


def test_docker_build_missing_context_with_dockerfile_elsewhere_is_a_warning(
    tiltfile: Any, tmp_path: Path
) -> None:
    # Tilt reads only the Dockerfile at load; the context is the build's business.
    data = tiltfile(
        "x = 1\ndocker_build('app', 'gone', dockerfile_contents='FROM scratch')\n"
        "docker_build('other', 'gone2', dockerfile='app/Dockerfile')\n",
        files=DOCKERFILE,
    )
    assert [i["context"] for i in data["images"]] == [
        str(tmp_path / "gone"),
        str(tmp_path / "gone2"),
    ]
    assert [
        (w["message"], w["location"]["line"])
        for w in data["warnings"]
        if w["message"].startswith("docker_build:")
    ] == [
        (
            f'docker_build: context "gone" does not exist (looked for {tmp_path}/gone); '
            "the build will fail until it does",
            2,
        ),
        (
            f'docker_build: context "gone2" does not exist (looked for {tmp_path}/gone2); '
            "the build will fail until it does",
            3,
        ),
    ]


def test_docker_build_missing_context_with_its_dockerfile_is_still_an_error(
    tiltfile_error: Any,
) -> None:
    # Tilt fails too: it reads <context>/Dockerfile.
    msg = tiltfile_error("docker_build('app', 'gone')\n")
    assert msg.splitlines()[0].startswith('Error: Tiltfile:1:1: docker_build: context "gone"')


def test_docker_build_only_outside_the_context_is_a_warning(tiltfile: Any, tmp_path: Path) -> None:
    data = tiltfile("docker_build('app', 'app', only=['../outside'])\n", files=DOCKERFILE)
    (img,) = data["images"]
    assert img["only"] == ["../outside"]
    (warning,) = [w for w in data["warnings"] if w["message"].startswith("docker_build:")]
    assert warning == {
        "message": f'docker_build: only entry "../outside" is outside the context '
        f"{tmp_path}/app; it matches nothing",
        "location": {"file": "Tiltfile", "line": 1},
    }


def test_a_set_works_where_tilt_takes_a_sequence_of_strings(tiltfile: Any, tmp_path: Path) -> None:
    # Tilt iterates any Starlark sequence (a set included) where it wants strings.
    data = tiltfile(
        "local_resource('a', 'true', deps=set(['x']), resource_deps=set(['b']),\n"
        "               ignore=set(['*.tmp']), tags=set(['t']))\n"
        "local_resource('b', 'true')\n"
        "docker_build('app', 'app', ignore=set(['*.md']), only=set(['src']),\n"
        "             extra_tag=set(['app:extra']))\n",
        files=DOCKERFILE,
    )
    res = {r["name"]: r for r in data["resources"]}
    assert res["a"]["resource_deps"] == ["b"]
    assert res["a"]["local"]["deps"] == [str(tmp_path / "x")]
    (img,) = data["images"]
    assert (img["ignore"], img["only"], img["extra_tags"]) == (["*.md"], ["src"], ["app:extra"])


def test_test_timeout_that_is_no_duration_is_a_warning(tiltfile: Any) -> None:
    # Tilt documents test(timeout=) and never reads it: any string loads there.
    data = tiltfile("x = 1\ntest('t', 'true', timeout='soon')\n")
    (res,) = data["resources"]
    assert res["test"]["timeout_s"] is None
    (warning,) = [w for w in data["warnings"] if "timeout" in w["message"]]
    assert warning == {
        "message": "test: for parameter 'timeout': invalid duration 'soon' "
        "(use e.g. 30s, 5m, 1h30m); the test runs without a limit",
        "location": {"file": "Tiltfile", "line": 2},
    }


def test_local_resource_takes_stdin_mode(tiltfile: Any) -> None:
    # Tilt had stdin_mode='pty' briefly (May 2024, then reverted); kept here as an extra.
    data = tiltfile(
        "local_resource('a', 'true', stdin_mode=None)\n"
        "local_resource('b', 'true', serve_cmd='sleep 1', serve_stdin_mode='pty')\n"
        "test('t', 'true', stdin_mode='pty')\n"
    )
    got = {
        r["name"]: (r["local"]["stdin_mode"], r["local"]["serve_stdin_mode"])
        for r in data["resources"]
    }
    assert got == {"a": ("", ""), "b": ("", "pty"), "t": ("pty", "")}
    assert [w for w in data["warnings"] if "stdin" in w["message"]] == []


def test_a_stdin_mode_that_is_not_pty_is_an_error(tiltfile_error: Any) -> None:
    msg = tiltfile_error(
        "x = 1\nlocal_resource('b', 'true', serve_cmd='s', serve_stdin_mode='tty')\n"
    )
    assert msg.splitlines()[0] == (
        "Error: Tiltfile:2:1: local_resource: serve_stdin_mode must be '' (stdin is /dev/null) "
        "or 'pty' (stdin is a pseudo-terminal), got 'tty'"
    )


def test_live_update_paths_of_an_image_nothing_deploys_are_not_checked(tiltfile: Any) -> None:
    # Tilt's checkForImpossibleLiveUpdates looks only at deployed images; an unused one
    # gets Tilt's "Image not used" warning and nothing else.
    data = tiltfile(
        "docker_build('app', 'app', live_update=[sync('elsewhere', '/app')])\n",
        files=DOCKERFILE,
    )
    (img,) = data["images"]
    assert img["live_update"][0]["kind"] == "sync"
    assert [w["message"] for w in data["warnings"]] == [
        "Image not used in any deploy config: ✕ app"
    ]


# Error sites checked against Tilt's source: where Tilt fails the load, so do we, with one
# message at the call's line. (name, Tiltfile, files, line, message part); the comment
# names what Tilt does and where.
TILT_ERRORS: list[tuple[str, str, dict[str, str], int, str]] = [
    # custom_build_test.go TestCustomBuildMissingImageDeps:
    # `image "fe": image dep "base" not found`.
    (
        "image-deps-unknown",
        "x = 1\ncustom_build('fe', 'true', ['.'], image_deps=['base'])\n",
        {},
        2,
        'custom_build: image_deps names "base", which no docker_build or custom_build declares',
    ),
    # updatesettings/update_settings.go: "minimum k8s upsert timeout is 1s; got %ds" (a
    # negative or zero timeout is an error there, unlike ci_settings' durations below).
    (
        "upsert-timeout-negative",
        "x = 1\nupdate_settings(k8s_upsert_timeout_secs=-1)\n",
        {},
        2,
        "minimum k8s upsert timeout is 1s; got -1s",
    ),
    # k8s.go yamlEntitiesFromSkylarkValue: "%s is not a valid YAML file".
    (
        "k8s-yaml-invalid",
        "x = 1\nk8s_yaml('bad.yaml')\n",
        {"bad.yaml": "kind: [\n"},
        2,
        "k8s_yaml: bad.yaml is not valid YAML",
    ),
    # tilt-dev/tilt PR #3461 (issue #3439): None or an empty Blob is an error, and so is
    # the empty Blob of a filter_yaml that matched nothing (PR #3972's test).
    ("k8s-yaml-none", "x = 1\nk8s_yaml(None)\n", {}, 2, "Empty or Invalid YAML Resource Detected"),
    (
        "k8s-yaml-empty-filter",
        "x = 1\nyes, no = filter_yaml('a.yaml', kind='Secret')\nk8s_yaml(yes)\n",
        {"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"},
        3,
        "Empty or Invalid YAML Resource Detected",
    ),
    # helm.go (*tiltfileState).helm: the chart must be a local folder (os.Stat); a remote
    # chart reference is "Could not read Helm chart directory %q: does not exist".
    (
        "helm-remote-chart",
        "x = 1\nk8s_yaml(helm('bitnami/redis'))\n",
        {},
        2,
        "Could not read Helm chart directory",
    ),
    # docker_compose.go (*tiltfileState).dcResource: "dc_resource: `name` must not be empty".
    (
        "dc-resource-empty-name",
        "x = 1\ndc_resource('')\n",
        {},
        2,
        "dc_resource: `name` must not be empty",
    ),
    # docker_compose.go renameDCService -> checkResourceConflict(newName): a resource of
    # that name declared before (a local_resource, another service) fails the call.
    (
        "dc-new-name-local-conflict",
        "local_resource('site', 'true')\ndocker_compose('dc.yml')\n"
        "dc_resource('web', new_name='site')\n",
        {"dc.yml": "services:\n  web:\n    image: nginx\n"},
        3,
        "dc_resource: new_name 'site': a local_resource of that name already exists",
    ),
    (
        "dc-new-name-service-conflict",
        "x = 1\ndocker_compose('dc.yml')\ndc_resource('web', new_name='db')\n",
        {"dc.yml": "services:\n  web:\n    image: nginx\n  db:\n    image: postgres\n"},
        3,
        "new_name 'db': a Docker Compose resource of that name already exists",
    ),
]


@pytest.mark.parametrize(
    ("text", "files", "line", "message"),
    [t[1:] for t in TILT_ERRORS],
    ids=[t[0] for t in TILT_ERRORS],
)
def test_errors_tilt_makes_too_name_the_line(
    tiltfile_error: Any, text: str, files: dict[str, str], line: int, message: str
) -> None:
    first = tiltfile_error(text, files).splitlines()[0]
    assert first.startswith(f"Error: Tiltfile:{line}:"), first
    assert message in first


def test_k8s_yaml_of_a_file_without_objects_loads(tiltfile: Any) -> None:
    # Tilt's yamlEntitiesFromSkylarkValue parses an empty file into no entities, no error.
    data = tiltfile("k8s_yaml('empty.yaml')\n", files={"empty.yaml": "# nothing yet\n---\n"})
    assert data["resources"] == []
    assert data["warnings"] == []


@pytest.mark.parametrize(
    ("arg", "field", "default"),
    [
        ("k8s_grace_period", "ci_k8s_grace_period_secs", 0.0),
        ("timeout", "ci_timeout_secs", 1800.0),
        ("readiness_timeout", "ci_readiness_timeout_secs", 300.0),
    ],
)
def test_ci_settings_negative_duration_is_a_warning(
    tiltfile: Any, arg: str, field: str, default: float
) -> None:
    # Tilt's value.Duration is time.ParseDuration, which keeps the sign; ci_settings
    # stores it as given. Here a negative one is ignored, with a warning at the call.
    data = tiltfile(f"x = 1\nci_settings({arg}='-5m')\n")
    assert data["settings"][field] == default
    assert data["warnings"] == [
        {
            "message": f"ci_settings: {arg} is a negative duration (-5m); the setting is ignored",
            "location": {"file": "Tiltfile", "line": 2},
        }
    ]
