"""`tilt down` deletes the Tiltfile's Kubernetes objects (the real CLI, the emulated API)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import run_tilt, write_tree
from tests.k8s.conftest import run
from tests.k8s.emulator import Emulator
from tests.k8s.test_apply import deployment
from tilt.k8s.apply import Applier, prepare_objects
from tilt.k8s.client import KubeClient

YAML = """
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: data
  namespace: team
  annotations: {tilt.dev/down-policy: keep}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: team}
spec: {ports: [{port: 80}]}
"""


def test_tilt_down_deletes_what_the_tiltfile_declares(
    emu: Emulator, kube: KubeClient, kubeconfig: Path, tmp_path: Path
) -> None:
    dep = {**deployment(), "metadata": {"name": "web", "namespace": "team"}}
    write_tree(
        tmp_path,
        {
            "Tiltfile": "k8s_yaml('app.yaml')\nk8s_resource('web')\n",
            "app.yaml": YAML + "---\n" + yaml.safe_dump(dep),
        },
    )
    run(Applier(kube).apply(prepare_objects([*yaml.safe_load_all(YAML), dep])))
    env = {"KUBECONFIG": str(kubeconfig)}
    r = run_tilt("down", "--port", "1", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "deleted Deployment/web (namespace team)" in r.stdout
    assert "deleted Service/web (namespace team)" in r.stdout
    assert "keeping ConfigMap/data (namespace team)" in r.stdout
    assert emu.find("apps/v1", "Deployment", "web", "team") is None
    assert emu.find("v1", "Namespace", "team", "") is not None  # namespaces only when asked
    r = run_tilt("down", "--port", "1", "--delete-namespaces", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "deleted Namespace/team" in r.stdout
    assert emu.find("v1", "Namespace", "team", "") is None


def test_tilt_down_refuses_a_remote_context(tmp_path: Path) -> None:
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
        "clusters: [{name: prod, cluster: {server: 'https://prod.example.com'}}]\n"
        "contexts: [{name: prod, context: {cluster: prod, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    write_tree(
        tmp_path,
        {
            "Tiltfile": "k8s_yaml('cm.yaml')\n",
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        },
    )
    r = run_tilt("down", "--port", "1", cwd=tmp_path, env={"KUBECONFIG": str(cfg)})
    assert r.returncode == 1
    assert "Stop! prod might be production." in r.stderr and "Traceback" not in r.stderr


def test_tilt_down_runs_no_delete_cmd_against_a_remote_context(tmp_path: Path) -> None:
    # k8s_custom_deploy's delete_cmd deletes from the kubeconfig's cluster as well: refused
    # with Tilt's message before it runs, as the objects tilt itself deletes are.
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
        "clusters: [{name: prod, cluster: {server: 'https://prod.example.com'}}]\n"
        "contexts: [{name: prod, context: {cluster: prod, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    marker = tmp_path / "deleted.txt"
    write_tree(
        tmp_path,
        {
            "Tiltfile": (
                "k8s_custom_deploy('web', apply_cmd='true', "
                f"delete_cmd='echo gone > {marker}', deps=[])\n"
            )
        },
    )
    r = run_tilt("down", "--port", "1", cwd=tmp_path, env={"KUBECONFIG": str(cfg)})
    assert r.returncode == 1
    assert "Stop! prod might be production." in r.stderr and "Traceback" not in r.stderr
    assert not marker.exists()
    # Allowed by name: the delete_cmd runs.
    tiltfile = (tmp_path / "Tiltfile").read_text()
    (tmp_path / "Tiltfile").write_text("allow_k8s_contexts('prod')\n" + tiltfile)
    r = run_tilt("down", "--port", "1", cwd=tmp_path, env={"KUBECONFIG": str(cfg)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert marker.read_text() == "gone\n"


def test_tilt_down_runs_delete_cmd_against_the_chosen_context(tmp_path: Path) -> None:
    # As under `tilt up` (and Tilt's `tilt down`): KUBECONFIG pinned to --context, not the
    # kubeconfig's current context.
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: kind-other\n"
        "clusters: [{name: kind-other, cluster: {server: 'https://127.0.0.1:1'}},"
        " {name: kind-dev, cluster: {server: 'https://127.0.0.1:2'}}]\n"
        "contexts: [{name: kind-other, context: {cluster: kind-other, user: u}},"
        " {name: kind-dev, context: {cluster: kind-dev, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    seen = tmp_path / "seen.yaml"
    write_tree(
        tmp_path,
        {
            "Tiltfile": (
                "k8s_custom_deploy('web', apply_cmd='true', "
                f"delete_cmd='cp \"$KUBECONFIG\" {seen}', deps=[])\n"
            )
        },
    )
    r = run_tilt(
        "down", "--port", "1", "--context", "kind-dev", "--namespace", "team",
        cwd=tmp_path, env={"KUBECONFIG": str(cfg)},
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    pinned = yaml.safe_load(seen.read_text())
    assert pinned["current-context"] == "kind-dev"
    assert pinned["contexts"] == [
        {"name": "kind-dev", "context": {"cluster": "kind-dev", "user": "u", "namespace": "team"}}
    ]


def test_tilt_down_scrubs_secret_values_from_delete_cmd_output(
    emu: Emulator, kubeconfig: Path, tmp_path: Path
) -> None:
    # As under `tilt up`: the Tiltfile's Secrets are learned at load, and what tilt prints
    # of a delete_cmd (its output, its error) never shows their values.
    value = "hunter2-down-secret"
    write_tree(
        tmp_path,
        {
            "Tiltfile": (
                "k8s_yaml(blob('apiVersion: v1\\nkind: Secret\\nmetadata: {name: db}\\n"
                f"stringData: {{password: {value}}}\\n'))\n"
                "k8s_custom_deploy('web', apply_cmd='true', "
                f"delete_cmd='echo deleting with {value}; exit 3', deps=[])\n"
            )
        },
    )
    r = run_tilt("down", "--port", "1", cwd=tmp_path, env={"KUBECONFIG": str(kubeconfig)})
    assert "deleting with [redacted secret db:password]" in r.stdout, r.stdout + r.stderr
    assert value not in r.stdout + r.stderr
