"""`tilt ci` with each Kubernetes kind: never a success it did not earn."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import yaml

from tests.conftest import run_tilt, write_tree
from tests.k8s.cluster import Controller
from tests.k8s.emulator import Emulator

DEPLOYMENT = '''k8s_yaml(blob("""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: busybox
"""))
'''

# apply_cmd deploys with plain HTTP (no kubectl here) and prints what the cluster returned.
APPLY_PY = """
import json, os, sys, urllib.request
server, img = os.environ["EMU"], os.environ.get("TILT_IMAGE_0", "registry.local/web:1")
dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": img}]}}}}
req = urllib.request.Request(server + "/apis/apps/v1/namespaces/default/deployments",
                             data=json.dumps(dep).encode(), method="POST",
                             headers={"Content-Type": "application/json"})
print("deploying " + img, file=sys.stderr)
print(urllib.request.urlopen(req).read().decode())
"""
DELETE_PY = """
import os, urllib.request
req = urllib.request.Request(
    os.environ["EMU"] + "/apis/apps/v1/namespaces/default/deployments/web", method="DELETE")
urllib.request.urlopen(req).read()
print("deleted web")
"""


def test_ci_runs_k8s_custom_deploy(tmp_path: Path) -> None:
    """k8s_custom_deploy has a runner: apply_cmd deploys, the objects it prints are
    followed until their pod is ready; delete_cmd runs on `tilt down`."""
    emu = Emulator(bookmark_interval_s=0.2).start()
    try:
        kc = tmp_path / "kubeconfig"
        kc.write_text(yaml.safe_dump(emu.kubeconfig()))
        py = shlex.quote(sys.executable)
        tiltfile = (
            f"k8s_custom_deploy('web', apply_cmd={py!r} + ' apply.py', "
            f"delete_cmd={py!r} + ' delete.py', deps=['apply.py'], "
            "apply_env={'EMU': %r}, "
            "delete_env={'EMU': %r})\n" % (emu.url, emu.url)
        )
        write_tree(tmp_path, {"Tiltfile": tiltfile, "apply.py": APPLY_PY, "delete.py": DELETE_PY})
        env = {"KUBECONFIG": str(kc)}
        with Controller(emu):
            r = run_tilt("ci", "--port", "0", cwd=tmp_path, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        out = r.stdout
        assert "web │ deploying registry.local/web:1" in out
        assert "web │   Deployment/web deployed by apply_cmd" in out
        dep = emu.get("apps/v1", "Deployment", "web")
        assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/web:1"
        r = run_tilt("down", "--port", "1", cwd=tmp_path, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "deleted web" in r.stdout
        assert emu.find("apps/v1", "Deployment", "web") is None
    finally:
        emu.stop()


def test_ci_fails_on_k8s_without_a_cluster(tmp_path: Path) -> None:
    """Kubernetes has a runner now: without a kubeconfig, ci fails saying so (never SUCCESS)."""
    write_tree(tmp_path, {"Tiltfile": DEPLOYMENT + 'local_resource("ok", cmd="echo fine")\n'})
    missing = tmp_path / "no-kubeconfig"
    r = run_tilt("ci", "--port", "0", cwd=tmp_path, env={"KUBECONFIG": str(missing)})
    assert r.returncode == 1, r.stdout
    assert "SUCCESS" not in r.stdout
    assert f"Error: resource 'web' failed: cannot read kubeconfig {missing}" in r.stderr
    assert "Traceback" not in r.stderr
