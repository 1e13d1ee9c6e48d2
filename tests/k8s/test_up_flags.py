"""`tilt ci --context/--namespace` choose the cluster and namespace (the real CLI, the
emulated API)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import run_tilt, write_tree
from tests.k8s.emulator import Emulator

TILTFILE = """
k8s_yaml(blob('''
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}
'''))
k8s_resource(new_name='settings', objects=['settings'])
"""


def test_ci_context_and_namespace_flags(emu: Emulator, tmp_path: Path) -> None:
    cfg = emu.kubeconfig("kind-tilt")
    # The current context points at nothing: only --context reaches the emulator.
    cfg["clusters"].append({"name": "kind-gone", "cluster": {"server": "https://127.0.0.1:1"}})
    gone = {"cluster": "kind-gone", "user": "tilt-test"}
    cfg["contexts"].append({"name": "kind-gone", "context": gone})
    cfg["current-context"] = "kind-gone"
    kc = tmp_path / "kubeconfig"
    kc.write_text(yaml.safe_dump(cfg))
    emu.add_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    write_tree(tmp_path, {"Tiltfile": TILTFILE})
    env = {"KUBECONFIG": str(kc)}
    r = run_tilt(
        "ci", "--port", "0", "--context", "kind-tilt", "--namespace", "team", cwd=tmp_path, env=env
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "context kind-tilt" in r.stdout
    assert emu.find("v1", "ConfigMap", "settings", "team") is not None
    assert emu.find("v1", "ConfigMap", "settings", "default") is None
