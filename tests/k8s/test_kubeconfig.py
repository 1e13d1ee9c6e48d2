"""The commands tilt runs target tilt's context: a kubeconfig pinned to it (as Tilt's frozen
kubeconfig), private, removed when tilt exits."""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import write_tree
from tests.k8s.emulator import Emulator
from tilt.engine import Engine
from tilt.engine.runner import standard_runners
from tilt.k8s.kubeconfig import KubeconfigError, PinnedKubeconfig, pinned_config
from tilt.logstore import LogStore


def two_files(tmp_path: Path, server: str = "https://127.0.0.1:6443") -> str:
    """$KUBECONFIG of two files: the first's current context is "prod", "kind-dev" in the
    second (its CA a file next to it, given relative)."""
    (tmp_path / "a").mkdir(parents=True)
    (tmp_path / "b").mkdir(parents=True)
    (tmp_path / "b" / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nx\n")
    a = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example.com"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "admin"}}],
        "users": [{"name": "admin", "user": {"token": "prod-token"}}],
    }
    b = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "kind-dev",
        "clusters": [
            {"name": "kind-dev", "cluster": {"server": server, "certificate-authority": "ca.crt"}},
            {"name": "prod", "cluster": {"server": "https://shadowed.example.com"}},
        ],
        "contexts": [
            {
                "name": "kind-dev",
                "context": {"cluster": "kind-dev", "user": "dev", "namespace": "x"},
            }
        ],
        "users": [{"name": "dev", "user": {"token": "dev-token"}}],
    }
    (tmp_path / "a" / "config").write_text(yaml.safe_dump(a))
    (tmp_path / "b" / "config").write_text(yaml.safe_dump(b))
    return os.pathsep.join([str(tmp_path / "a" / "config"), str(tmp_path / "b" / "config")])


def test_only_the_chosen_context_with_its_cluster_user_and_namespace(tmp_path: Path) -> None:
    env = {"KUBECONFIG": two_files(tmp_path)}
    cfg = pinned_config("kind-dev", "team", env=env)
    assert cfg["current-context"] == "kind-dev"
    assert cfg["contexts"] == [
        {"name": "kind-dev", "context": {"cluster": "kind-dev", "user": "dev", "namespace": "team"}}
    ]
    (cluster,) = cfg["clusters"]
    assert cluster["cluster"]["server"] == "https://127.0.0.1:6443"
    assert "certificate-authority" not in cluster["cluster"]  # inlined: the file may move
    ca = base64.b64decode(cluster["cluster"]["certificate-authority-data"])
    assert ca.startswith(b"-----BEGIN CERTIFICATE-----")
    assert cfg["users"] == [{"name": "dev", "user": {"token": "dev-token"}}]
    # Merged as kubectl does: the first file's current-context, the first definition of a name.
    default = pinned_config(env=env)
    assert default["current-context"] == "prod"
    assert default["clusters"][0]["cluster"]["server"] == "https://prod.example.com"
    with pytest.raises(KubeconfigError, match="'nope' not found"):
        pinned_config("nope", env=env)


def test_the_file_is_private_and_removed(tmp_path: Path) -> None:
    pinned = PinnedKubeconfig.write("kind-dev", env={"KUBECONFIG": two_files(tmp_path)})
    path = Path(pinned.path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert yaml.safe_load(path.read_text())["current-context"] == "kind-dev"
    pinned.remove()
    assert not path.exists() and not path.parent.exists()
    pinned.remove()  # twice is fine


TILTFILE = """
k8s_custom_deploy('cm', delete_cmd='true', deps=[],
                  apply_cmd='echo "$KUBECONFIG" > apply-path.txt; cp "$KUBECONFIG" apply.yaml; '
                            + 'cat cm.yaml')
k8s_resource('cm', pod_readiness='ignore')
local_resource('local', cmd='cp "$KUBECONFIG" local.yaml')
local_resource('own', cmd='echo "$KUBECONFIG" > own.txt', env={'KUBECONFIG': '/my/own'})
"""

CM_OUTPUT = """
apiVersion: v1
kind: ConfigMap
metadata: {name: cm, namespace: default, uid: 0b7d6a52-1111-4222-8333-944455556666}
data: {a: b}
"""


def test_commands_target_the_context_tilt_up_chose(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tilt up --context kind-dev --namespace team` while the kubeconfig's current context is
    "prod": apply_cmd and local_resource commands see kind-dev and team, nothing of prod; a
    command's own KUBECONFIG wins; the file is gone once tilt exits."""
    monkeypatch.setenv("KUBECONFIG", two_files(tmp_path / "kube", server=emu.url))
    write_tree(tmp_path, {"Tiltfile": TILTFILE, "cm.yaml": CM_OUTPUT})
    runners: Any = functools.partial(standard_runners, k8s_context="kind-dev", k8s_namespace="team")
    eng = Engine(
        str(tmp_path / "Tiltfile"),
        logs=LogStore(),
        watch=False,
        ci=True,
        ci_timeout_s=30,
        runners=runners,
    )
    code = asyncio.run(eng.run())
    assert code == 0, (eng.ci_outcome, [ln.text for ln in eng.logs.lines()])
    for seen in ("apply.yaml", "local.yaml"):
        cfg = yaml.safe_load((tmp_path / seen).read_text())
        assert cfg["current-context"] == "kind-dev", seen
        assert [c["name"] for c in cfg["contexts"]] == ["kind-dev"]
        assert cfg["contexts"][0]["context"]["namespace"] == "team"
        assert "prod" not in (tmp_path / seen).read_text()
    assert (tmp_path / "own.txt").read_text() == "/my/own\n"
    assert not Path((tmp_path / "apply-path.txt").read_text().strip()).exists()
