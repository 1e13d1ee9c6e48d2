"""`tilt ci` never reports success for a resource kind this tilt cannot deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_tilt, write_tree

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

CUSTOM_DEPLOY = (
    'k8s_custom_deploy("web", apply_cmd="echo applied > applied.txt", delete_cmd="true", deps=[])\n'
)


@pytest.mark.parametrize(
    ("tiltfile", "kind"),
    [(CUSTOM_DEPLOY, "k8s_custom_deploy")],
    ids=["k8s_custom_deploy"],
)
def test_ci_fails_on_a_kind_without_a_runner(tmp_path: Path, tiltfile: str, kind: str) -> None:
    write_tree(tmp_path, {"Tiltfile": tiltfile + 'local_resource("ok", cmd="echo fine")\n'})
    r = run_tilt("ci", "--port", "0", cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert "SUCCESS" not in r.stdout
    msg = f"cannot deploy {kind} resources yet: this tilt has no runtime for them"
    assert f"Error: resource 'web' failed: {msg}" in r.stderr
    assert f"          web │ ERROR: {msg} (nothing was deployed)" in r.stdout.splitlines()
    # Nothing was run on its behalf.
    assert not (tmp_path / "applied.txt").exists()


def test_ci_fails_on_k8s_without_a_cluster(tmp_path: Path) -> None:
    """Kubernetes has a runner now: without a kubeconfig, ci fails saying so (never SUCCESS)."""
    write_tree(tmp_path, {"Tiltfile": DEPLOYMENT + 'local_resource("ok", cmd="echo fine")\n'})
    missing = tmp_path / "no-kubeconfig"
    r = run_tilt("ci", "--port", "0", cwd=tmp_path, env={"KUBECONFIG": str(missing)})
    assert r.returncode == 1, r.stdout
    assert "SUCCESS" not in r.stdout
    assert f"Error: resource 'web' failed: cannot read kubeconfig {missing}" in r.stderr
    assert "Traceback" not in r.stderr
