"""A fixture shaped like a real multi-service repo gives the graph a Tilt user expects.

Three images with their own contexts and ignores, YAML with Deployments, Services, a
ConfigMap, a Job and a CRD, local resources with serve_cmd and probes, a load()ed helper
file and config arguments -- checked resource by resource.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_tilt
from tests.tiltfile.conftest import FIXTURES, dump_of, resources_by_name

ROOT = FIXTURES / "multiservice"


@pytest.fixture(scope="module")
def graph() -> dict[str, Any]:
    return dump_of(ROOT / "Tiltfile", ("--debug", "api", "web"))


def _objs(res: dict[str, Any]) -> list[str]:
    return [o["ref"] for o in res["k8s"]["objects"]]


def test_resources_in_tilt_order(graph: dict[str, Any]) -> None:
    # Workloads in YAML order, then local resources, then uncategorized (Tilt's order).
    assert [r["name"] for r in graph["resources"]] == [
        "api",
        "worker",
        "web",
        "migrate",
        "db-proxy",
        "codegen",
        "unit-tests",
        "uncategorized",
    ]
    assert graph["order"] == [
        "db-proxy",
        "api",
        "worker",
        "web",
        "migrate",
        "codegen",
        "unit-tests",
        "uncategorized",
    ]


# name -> (kind, objects, image_refs, resource_deps, trigger_mode, auto_init, labels)
EXPECTED: dict[str, tuple[str, list[str], list[str], list[str], str, bool, list[str]]] = {
    "api": (
        "k8s",
        ["api:deployment", "api:service"],
        ["example.com/api"],
        ["db-proxy"],
        "auto",
        True,
        ["backend"],
    ),
    "worker": (
        "k8s",
        ["worker:deployment"],
        ["example.com/worker"],
        ["api"],
        "auto",
        True,
        ["backend"],
    ),
    # web is built FROM example.com/api: the base image comes first.
    "web": (
        "k8s",
        ["web:deployment", "web:service"],
        ["example.com/api", "example.com/web"],
        ["api"],
        "auto",
        True,
        ["frontend"],
    ),
    "migrate": ("k8s", ["migrate:job"], ["example.com/api"], ["api"], "manual", True, []),
    "uncategorized": (
        "k8s",
        [
            "web-config:configmap",
            "databases.example.com:customresourcedefinition",
            "main-db:database",
        ],
        [],
        [],
        "auto",
        True,
        [],
    ),
    "db-proxy": ("local", [], [], [], "auto", True, ["infra"]),
    "codegen": ("local", [], [], [], "auto", True, ["infra"]),
    "unit-tests": ("local", [], [], [], "manual", False, ["test"]),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_resource(graph: dict[str, Any], name: str) -> None:
    kind, objs, images, deps, trigger, auto_init, labels = EXPECTED[name]
    r = resources_by_name(graph)[name]
    assert r["kind"] == kind
    if kind == "k8s":
        assert _objs(r) == objs
    assert r["image_refs"] == images
    assert r["resource_deps"] == deps
    assert r["trigger_mode"] == trigger
    assert r["auto_init"] is auto_init
    assert r["labels"] == labels


def test_port_forwards(graph: dict[str, Any]) -> None:
    res = resources_by_name(graph)
    api = [(p["local_port"], p["container_port"]) for p in res["api"]["k8s"]["port_forwards"]]
    assert api == [(8080, 0), (9229, 9229)]  # 0: the pod's first declared port, as in Tilt
    web = [(p["local_port"], p["container_port"]) for p in res["web"]["k8s"]["port_forwards"]]
    assert web == [(3000, 80)]


def test_local_resources(graph: dict[str, Any]) -> None:
    res = resources_by_name(graph)
    proxy = res["db-proxy"]["local"]
    assert proxy["cmd"] is None
    assert proxy["serve_cmd"] == {
        "argv": ["sh", "-c", "python3 -m http.server 15433"],
        "shell": True,
    }
    assert proxy["readiness_probe"]["period_secs"] == 2
    assert proxy["readiness_probe"]["tcp_socket"] == {"port": 15433, "host": "localhost"}
    codegen = res["codegen"]["local"]
    assert codegen["dir"] == str(ROOT / "proto")
    assert codegen["deps"] == [str(ROOT / "proto")]
    assert [(i["pattern"], i["base_dir"]) for i in codegen["watch"]["ignores"]] == [
        ("proto/gen", str(ROOT))
    ]
    tests = res["unit-tests"]["local"]
    assert tests["cmd"] == {"argv": ["python3", "-m", "pytest", "services/api"], "shell": False}
    assert tests["allow_parallel"] is True


def test_images_with_their_own_contexts_and_ignores(graph: dict[str, Any]) -> None:
    images = {i["ref"]: i for i in graph["images"]}
    assert list(images) == ["example.com/api", "example.com/web", "example.com/worker"]
    api = images["example.com/api"]
    assert api["context"] == str(ROOT / "services/api")
    dockerignore = str(ROOT / "services/api/.dockerignore")
    assert [i["origin"] for i in api["watch"]["ignores"]] == [
        f"{dockerignore}:1",
        f"{dockerignore}:2",
        f"{dockerignore}:3",
        "built-in",
    ]
    # The helper is load()ed from tilt/ and called by the main Tiltfile: its relative paths
    # resolve against the main Tiltfile's folder (the file whose load is running).
    web = images["example.com/web"]
    assert web["context"] == str(ROOT / "services/web")
    assert web["image_deps"] == ["example.com/api"]
    assert web["watch"]["ignores"][0]["origin"].endswith(
        "tilt/helpers.star:5 docker_build(ignore=)"
    )
    worker = images["example.com/worker"]
    assert worker["dockerfile"] == str(ROOT / "services/worker/worker.Dockerfile")
    assert worker["build_args"] == {"DEBUG": "1"}  # from --debug
    assert worker["watch"]["ignores"][0]["origin"] == (
        str(ROOT / "services/worker/worker.Dockerfile.dockerignore") + ":1"
    )
    assert [s["kind"] for s in worker["live_update"]] == ["sync", "run"]


def test_config_and_settings(graph: dict[str, Any]) -> None:
    assert graph["config"]["values"] == {"to-run": ["api", "web"], "debug": True}
    # Enabling a resource enables what it depends on; uncategorized stays on, as in Tilt.
    assert graph["config"]["enabled_resources"] == ["api", "web", "db-proxy", "uncategorized"]
    assert graph["settings"]["max_parallel_updates"] == 4
    assert [i["pattern"] for i in graph["settings"]["watch_ignores"]] == ["**/*.tmp"]
    assert str(ROOT / "tilt/helpers.star") in graph["files_read"]
    assert str(ROOT / "k8s/crd.yaml") in graph["files_read"]
    assert graph["warnings"] == []


def test_cli_prints_the_same_graph(tmp_path: Path) -> None:
    proc = run_tilt(
        "dump", "tiltfile", "-f", str(ROOT / "Tiltfile"), "--", "--debug", "api", "web", cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [r["name"] for r in data["resources"]][:4] == ["api", "worker", "web", "migrate"]
