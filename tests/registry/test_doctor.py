"""`tilt doctor`: the real command in a subprocess, with and without kubeconfig and cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import run_tilt
from tests.docker.conftest import free_port


def kubeconfig(path: Path, context: str, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": context,
                "clusters": [{"name": context, "cluster": {"server": server}}],
                "contexts": [{"name": context, "context": {"cluster": context, "user": "u"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
            }
        )
    )
    return path


def doctor(tmp_path: Path, *args: str, **env: str) -> Any:
    return run_tilt("doctor", *args, cwd=tmp_path, env={"DOCKER_CONFIG": str(tmp_path), **env})


def test_no_kubeconfig(tmp_path: Path, docker_client: Any) -> None:
    missing = tmp_path / "nope" / "config"
    r = doctor(tmp_path, KUBECONFIG=str(missing))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Docker"
    assert "  host        unix:///var/run/docker.sock" in lines
    assert any(line.startswith("  engine      ") and "API" in line for line in lines)
    assert f"  kubeconfig  {missing} (not found)" in lines
    assert "  context     not configured" in lines
    assert "  delivery    none: no Kubernetes context: images stay in the local Docker engine" in (
        lines
    )
    assert lines[-1] == "No check failed"

    j = json.loads(doctor(tmp_path, "-o", "json", KUBECONFIG=str(missing)).stdout)
    assert j["docker"]["reachable"] is True
    assert j["kubernetes"]["product"] == "none"
    assert j["kubernetes"]["kubeconfig"] == [{"path": str(missing), "exists": False}]
    assert j["delivery"]["mode"] == "none"
    assert j["ok"] is True
    assert {c["name"]: c["status"] for c in j["checks"]}["kubernetes"] == "info"


def test_docker_down_fails_with_what_to_do(tmp_path: Path) -> None:
    sock = tmp_path / "no-engine.sock"
    r = doctor(tmp_path, "-o", "json", DOCKER_HOST=f"unix://{sock}", KUBECONFIG=str(tmp_path / "x"))
    assert r.returncode == 1
    j = json.loads(r.stdout)
    check = next(c for c in j["checks"] if c["name"] == "docker")
    assert check["status"] == "fail"
    assert str(sock) in check["message"]
    assert "start Docker" in check["fix"]
    text = doctor(tmp_path, DOCKER_HOST=f"unix://{sock}", KUBECONFIG=str(tmp_path / "x")).stdout
    assert "  engine      not reachable" in text
    assert "FAIL  docker:" in text
    assert text.splitlines()[-1] == "1 check(s) failed"


def test_broken_kubeconfig(tmp_path: Path, docker_client: Any) -> None:
    bad = tmp_path / "kubeconfig"
    bad.write_text("contexts: [\n")
    j = json.loads(doctor(tmp_path, "-o", "json", KUBECONFIG=str(bad)).stdout)
    check = next(c for c in j["checks"] if c["name"] == "kubeconfig")
    assert check["status"] == "fail"
    assert str(bad) in check["message"]


def test_kind_cluster_down_and_kind_missing(tmp_path: Path, docker_client: Any) -> None:
    server = f"https://127.0.0.1:{free_port()}"  # nothing listens
    cfg = kubeconfig(tmp_path / "kubeconfig", "kind-dev", server)
    r = doctor(tmp_path, "-o", "json", KUBECONFIG=str(cfg), PATH="/usr/bin:/bin")
    assert r.returncode == 1, r.stdout + r.stderr
    j = json.loads(r.stdout)
    k = j["kubernetes"]
    assert (k["context"], k["product"], k["cluster_name"], k["server"]) == (
        "kind-dev",
        "kind",
        "dev",
        server,
    )
    assert j["delivery"]["mode"] == "kind-load"
    checks = {c["name"]: c for c in j["checks"]}
    assert checks["cluster"]["status"] == "fail"
    assert "kubectl --context kind-dev get nodes" in checks["cluster"]["fix"]
    assert checks["kind"]["status"] == "fail"
    assert "`kind` is not installed" in checks["kind"]["message"]


def test_tiltfile_registry_checked_against_a_real_registry(
    tmp_path: Path, plain_registry: str, docker_client: Any
) -> None:
    (tmp_path / "Tiltfile").write_text(f"default_registry('{plain_registry}')\n")
    cfg = kubeconfig(tmp_path / "kubeconfig", "prod", f"https://127.0.0.1:{free_port()}")
    r = doctor(tmp_path, "-f", "Tiltfile", KUBECONFIG=str(cfg))
    lines = r.stdout.splitlines()
    assert f"  registry    {plain_registry} (from the Tiltfile's default_registry())" in lines
    assert (
        f"  delivery    push: push to {plain_registry} (the cluster pulls from {plain_registry})"
        in (lines)
    )
    assert f"  OK    registry: {plain_registry} answers (HTTP)" in lines


def test_user_push_cmd_is_the_delivery(tmp_path: Path, docker_client: Any) -> None:
    (tmp_path / "Tiltfile").write_text("image_push_cmd('my-load $EXPECTED_REF')\n")
    j = json.loads(
        doctor(tmp_path, "-o", "json", "-f", "Tiltfile", KUBECONFIG=str(tmp_path / "x")).stdout
    )
    assert j["delivery"]["mode"] == "command"
    assert "'my-load $EXPECTED_REF'" in j["delivery"]["reason"]


def test_bad_tiltfile_is_one_message(tmp_path: Path) -> None:
    (tmp_path / "Tiltfile").write_text("image_push_cmd('a')\nimage_push_cmd('b')\n")
    r = doctor(tmp_path, "-f", "Tiltfile")
    assert r.returncode == 1
    assert "image_push_cmd: already defined" in r.stderr
    assert "Traceback" not in r.stderr
