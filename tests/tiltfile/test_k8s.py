"""The k8s family: k8s_yaml, k8s_resource, workload assembly, helm/kustomize, custom deploys."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.tiltfile.conftest import FIXTURES, dump_of, resources_by_name
from tilt.tiltfile import load_tiltfile
from tilt.tiltfile.dump import to_json

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: main
        image: {image}
"""
WEB = DEPLOY.format(name="web", image="example.com/web")


def k8s_of(r: dict[str, Any]) -> dict[str, Any]:
    k8s: dict[str, Any] = r["k8s"]
    return k8s


def refs(r: dict[str, Any]) -> list[str]:
    return [o["ref"] for o in k8s_of(r)["objects"]]


# --- the fixture, resource by resource ----------------------------------------------------

# name -> (object refs, image_refs, pod_readiness, trigger_mode, auto_init, resource_deps, labels)
FIXTURE_EXPECTED: dict[str, tuple[list[str], list[str], str, str, bool, list[str], list[str]]] = {
    "frontend": (
        ["frontend:deployment", "frontend:service"],
        ["example.com/frontend"],
        "wait",
        "auto",
        True,
        [],
        [],
    ),
    "api": (
        ["backend:deployment", "backend:service", "backend-config:configmap", "db-password:secret"],
        ["example.com/backend"],
        "wait",
        "manual",
        True,
        ["frontend"],
        ["backend"],
    ),
    "cache-a": (["cache:deployment:a"], [], "wait", "auto", True, [], []),
    "cache:deployment:b": (["cache:deployment:b"], [], "wait", "auto", True, [], []),
    "db:statefulset": (["db:statefulset"], [], "wait", "auto", True, [], []),
    "db:deployment": (["db:deployment"], ["example.com/backend"], "wait", "auto", True, [], []),
    "migrate": (["migrate:job"], ["example.com/backend"], "succeeded", "auto", False, ["api"], []),
    "nightly": (["nightly:cronjob"], [], "ignore", "auto", True, [], []),
    "bobo": (["bobo:uselessmachine"], ["example.com/um"], "wait", "auto", True, [], []),
    "crds": (
        ["uselessmachines.tilt.dev:customresourcedefinition"],
        [],
        "ignore",
        "auto",
        True,
        [],
        [],
    ),
    "uncategorized": (["main-db:database"], [], "ignore", "auto", True, [], []),
}


@pytest.fixture(scope="module")
def fixture_dump() -> dict[str, Any]:
    cwd = os.getcwd()
    os.chdir(FIXTURES / "k8s")
    try:
        return dump_of(FIXTURES / "k8s" / "Tiltfile")
    finally:
        os.chdir(cwd)


def test_fixture_resource_order(fixture_dump: dict[str, Any]) -> None:
    # Workloads in YAML order, then k8s_resource(objects=) groups, local resources, and
    # `uncategorized` last, as Tilt lists them.
    assert [r["name"] for r in fixture_dump["resources"]] == [
        "frontend",
        "api",
        "cache-a",
        "cache:deployment:b",
        "db:statefulset",
        "db:deployment",
        "migrate",
        "nightly",
        "bobo",
        "crds",
        "lint",
        "uncategorized",
    ]
    assert fixture_dump["warnings"] == []


@pytest.mark.parametrize("name", list(FIXTURE_EXPECTED))
def test_fixture_resource(fixture_dump: dict[str, Any], name: str) -> None:
    objects, images, readiness, trigger, auto_init, deps, labels = FIXTURE_EXPECTED[name]
    r = resources_by_name(fixture_dump)[name]
    assert r["kind"] == "k8s"
    assert refs(r) == objects
    assert r["image_refs"] == images
    assert k8s_of(r)["image_refs"] == images
    assert k8s_of(r)["pod_readiness"] == readiness
    assert r["trigger_mode"] == trigger
    assert r["auto_init"] is auto_init
    assert r["resource_deps"] == deps
    assert r["labels"] == labels


def test_fixture_port_forwards_links_and_selectors(fixture_dump: dict[str, Any]) -> None:
    by = resources_by_name(fixture_dump)
    pf = [
        (p["host"], p["local_port"], p["container_port"], p["name"], p["link_path"])
        for p in k8s_of(by["api"])["port_forwards"]
    ]
    assert pf == [
        ("localhost", 9000, 8080, "", ""),
        ("localhost", 9229, 9229, "", ""),
        ("localhost", 7000, 70, "debug", "/dbg"),
    ]
    assert k8s_of(by["api"])["extra_pod_selectors"] == [{"tier": "api"}]
    assert k8s_of(by["frontend"])["port_forwards"][0]["local_port"] == 8000
    assert by["frontend"]["links"] == [{"url": "http://localhost:8000/ui", "name": ""}]
    # Renamed resources point at the k8s_resource call; others at their k8s_yaml call.
    assert by["api"]["location"]["line"] == 12
    assert by["nightly"]["location"]["line"] == 8


def test_fixture_files_read_and_images_used(fixture_dump: dict[str, Any]) -> None:
    read = {os.path.basename(p) for p in fixture_dump["files_read"]}
    assert {"app.yaml", "collide.yaml", "jobs.yaml", "crd.yaml"} <= read
    assert not any("Image not used" in w["message"] for w in fixture_dump["warnings"])


def test_secret_values_never_in_the_dump() -> None:
    cwd = os.getcwd()
    os.chdir(FIXTURES / "k8s")
    try:
        result = load_tiltfile(str(FIXTURES / "k8s" / "Tiltfile"))
    finally:
        os.chdir(cwd)
    api = result.resource("api")
    assert api.k8s is not None
    secret = next(o for o in api.k8s.objects if o.kind == "Secret")
    assert secret.body["stringData"]["password"] == "hunter2-do-not-print"
    assert "hunter2" not in to_json(result)
    # Unquoted dates stay strings (as in Tilt's YAML-to-JSON), so bodies are JSON-ready.
    config = next(o for o in api.k8s.objects if o.kind == "ConfigMap")
    assert config.body["data"]["RELEASED"] == "2024-01-01"
    json.dumps([o.body for o in api.k8s.objects])


# --- k8s_yaml ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tiltfile_text", "files", "names"),
    [
        ("k8s_yaml('a.yaml')", {"a.yaml": WEB}, ["web"]),
        (
            "k8s_yaml(['a.yaml', 'b.yaml'])",
            {"a.yaml": WEB, "b.yaml": DEPLOY.format(name="api", image="x")},
            ["web", "api"],
        ),
        ("k8s_yaml(read_file('a.yaml'))", {"a.yaml": WEB}, ["web"]),
        ("k8s_yaml(local('cat a.yaml'))", {"a.yaml": WEB}, ["web"]),
        (
            "k8s_yaml(encode_yaml({'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'p'},"
            " 'spec': {'containers': [{'name': 'c', 'image': 'busybox'}]}}))",
            {},
            ["p"],
        ),
        (
            'k8s_yaml(\'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"},'
            ' "spec": {"containers": [{"name": "c", "image": "busybox"}]}}\')',
            {},
            ["j"],
        ),
        ("k8s_yaml('sub/a.yaml')", {"sub/a.yaml": "---\n\n---\n" + WEB + "---\n"}, ["web"]),
        (
            "k8s_yaml('l.yaml')",
            {
                "l.yaml": "apiVersion: v1\nkind: List\nitems:\n"
                "- {apiVersion: v1, kind: Pod, metadata: {name: p1},"
                " spec: {containers: [{name: c, image: x}]}}\n"
                "- {apiVersion: v1, kind: Pod, metadata: {name: p2},"
                " spec: {containers: [{name: c, image: x}]}}\n"
            },
            ["p1", "p2"],
        ),
        ("k8s_yaml('a.yaml')\nk8s_yaml('a.yaml', allow_duplicates=True)", {"a.yaml": WEB}, ["web"]),
    ],
    ids=[
        "path",
        "list",
        "read_file-blob",
        "local-blob",
        "encode_yaml",
        "json",
        "empty-docs",
        "kind-List",
        "allow_duplicates",
    ],
)
def test_k8s_yaml_inputs(
    tiltfile: Any, tiltfile_text: str, files: dict[str, str], names: list[str]
) -> None:
    data = tiltfile(tiltfile_text + "\n", files)
    assert [r["name"] for r in data["resources"]] == names


def test_k8s_yaml_in_loaded_file_is_relative_to_the_running_load(tiltfile: Any) -> None:
    data = tiltfile(
        "load('lib/k.star', 'deploy')\ndeploy()\n",
        {"lib/k.star": "def deploy():\n    k8s_yaml('app.yaml')\n", "app.yaml": WEB},
    )
    assert [r["name"] for r in data["resources"]] == ["web"]
    assert any(p.endswith("/app.yaml") and "lib" not in p for p in data["files_read"])


@pytest.mark.parametrize(
    ("workloads", "expected"),
    [
        ([("web", "Deployment", "")], ["web"]),
        (
            [("web", "Deployment", ""), ("web", "StatefulSet", "")],
            ["web:deployment", "web:statefulset"],
        ),
        (
            [("web", "Deployment", "a"), ("web", "Deployment", "b"), ("api", "Deployment", "a")],
            ["web:deployment:a", "web:deployment:b", "api"],
        ),
        (
            [("web", "Deployment", ""), ("web", "Deployment", "prod")],
            ["web:deployment:default", "web:deployment:prod"],
        ),
    ],
    ids=["unique", "kinds", "namespaces", "default-namespace"],
)
def test_workload_names_disambiguate_like_tilt(
    tiltfile: Any, workloads: list[tuple[str, str, str]], expected: list[str]
) -> None:
    docs = []
    for name, kind, ns in workloads:
        meta = f"{{name: {name}" + (f", namespace: {ns}}}" if ns else "}")
        docs.append(
            f"apiVersion: apps/v1\nkind: {kind}\nmetadata: {meta}\nspec:\n  template:\n"
            "    spec:\n      containers: [{name: c, image: busybox}]\n"
        )
    data = tiltfile("k8s_yaml('w.yaml')\n", {"w.yaml": "---\n".join(docs)})
    assert [r["name"] for r in data["resources"]] == expected


def test_only_objects_with_images_or_declared_kinds_are_workloads(tiltfile: Any) -> None:
    yaml_text = (
        WEB + "---\napiVersion: v1\nkind: Service\nmetadata: {name: other}\n"
        "spec: {selector: {app: nothing}}\n"
        + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
        + "---\napiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n"
    )
    data = tiltfile("k8s_kind('widget')\nk8s_yaml('a.yaml')\n", {"a.yaml": yaml_text})
    by = resources_by_name(data)
    assert list(by) == ["web", "w", "uncategorized"]
    assert refs(by["web"]) == ["web:deployment"]
    assert refs(by["uncategorized"]) == ["other:service", "g:gadget"]


def test_image_matching_tags_env_vars_and_json_paths(tiltfile: Any) -> None:
    yaml_text = (
        DEPLOY.format(name="a", image="example.com/a:v1")
        + "---\n"
        + DEPLOY.format(name="b", image="docker.io/library/redis")
        + "---\n"
        + DEPLOY.format(name="c", image="busybox").replace(
            "        image: busybox\n",
            "        image: busybox\n        env: [{name: IMG, value: example.com/env-img}]\n",
        )
        + "---\napiVersion: example.com/v1\nkind: Fn\nmetadata: {name: fn}\n"
        "spec: {runtime: {image: example.com/fn}}\n"
    )
    files = {"a.yaml": yaml_text}
    for d in ("a", "env", "fn", "unused"):
        files[f"{d}/Dockerfile"] = "FROM scratch\n"
    data = tiltfile(
        "docker_build('example.com/a', 'a')\n"
        "docker_build('redis', 'a')\n"
        "docker_build('example.com/env-img', 'env', match_in_env_vars=True)\n"
        "docker_build('example.com/fn', 'fn')\n"
        "docker_build('example.com/unused', 'unused')\n"
        "k8s_image_json_path('{.spec.runtime.image}', kind='Fn')\n"
        "k8s_yaml('a.yaml')\n",
        files,
    )
    by = resources_by_name(data)
    assert by["a"]["image_refs"] == ["example.com/a"]
    assert by["b"]["image_refs"] == ["redis"]
    assert by["c"]["image_refs"] == ["example.com/env-img"]
    assert by["fn"]["image_refs"] == ["example.com/fn"]
    warnings = [w["message"] for w in data["warnings"]]
    assert warnings == ["Image not used in any deploy config: ✕ example.com/unused"]


def test_k8s_kind_image_object_and_pod_readiness(tiltfile: Any) -> None:
    cr = (
        "apiVersion: example.com/v1\nkind: Env\nmetadata: {name: e}\n"
        "spec: {img: {repo: example.com/e, tag: dev}}\n"
    )
    data = tiltfile(
        "docker_build('example.com/e', '.')\n"
        "k8s_kind('Env', image_object={'json_path': '{.spec.img}', 'repo_field': 'repo',"
        " 'tag_field': 'tag'}, pod_readiness='ignore')\n"
        "k8s_yaml('e.yaml')\n",
        {"e.yaml": cr, "Dockerfile": "FROM scratch\n"},
    )
    e = resources_by_name(data)["e"]
    assert e["image_refs"] == ["example.com/e"]
    assert k8s_of(e)["pod_readiness"] == "ignore"


def test_image_locators_are_carried_on_the_target(tiltfile: Any) -> None:
    # The deployer needs to know where to put the built refs: the locators that
    # apply to a resource's objects stay on its K8sTarget.
    yaml_text = (
        "apiVersion: example.com/v1\nkind: Env\nmetadata: {name: e}\n"
        "spec: {img: {repo: example.com/e, tag: dev}}\n"
        "---\napiVersion: example.com/v1\nkind: Fn\nmetadata: {name: f, namespace: ns}\n"
        "spec: {runtime: {image: example.com/f}}\n"
    )
    data = tiltfile(
        "docker_build('example.com/e', '.')\n"
        "docker_build('example.com/f', '.')\n"
        "k8s_kind('Env', image_object={'json_path': '{.spec.img}', 'repo_field': 'repo',"
        " 'tag_field': 'tag'})\n"
        "k8s_image_json_path('{.spec.runtime.image}', kind='Fn', namespace='ns')\n"
        "k8s_resource('f', discovery_strategy='selectors-only')\n"
        "k8s_yaml('a.yaml')\n",
        {"a.yaml": yaml_text, "Dockerfile": "FROM scratch\n"},
    )
    by = resources_by_name(data)
    loc = {"api_version": "", "name": "", "namespace": "", "repo_field": "", "tag_field": ""}
    assert k8s_of(by["e"])["image_locators"] == [
        {**loc, "json_path": "{.spec.img}", "kind": "Env", "repo_field": "repo", "tag_field": "tag"}
    ]
    assert k8s_of(by["f"])["image_locators"] == [
        {**loc, "json_path": "{.spec.runtime.image}", "kind": "Fn", "namespace": "ns"}
    ]
    assert k8s_of(by["e"])["discovery_strategy"] == "default"
    assert k8s_of(by["f"])["discovery_strategy"] == "selectors-only"


def test_services_attach_by_selector_only(tiltfile: Any) -> None:
    yaml_text = (
        WEB + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web-svc}\n"
        "spec: {selector: {app: web}}\n"
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web-other}\n"
        "spec: {selector: {app: web, tier: db}}\n"
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"
    )
    data = tiltfile("k8s_yaml('a.yaml')\n", {"a.yaml": yaml_text})
    by = resources_by_name(data)
    assert refs(by["web"]) == ["web:deployment", "web-svc:service"]
    assert refs(by["uncategorized"]) == ["web-other:service", "web:configmap"]


# --- k8s_resource ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("8000", [("localhost", 8000, 0)]),
        ("'8000'", [("localhost", 8000, 0)]),
        ("'8000:80'", [("localhost", 8000, 80)]),
        ("'0.0.0.0:8000:80'", [("0.0.0.0", 8000, 80)]),
        ("'elastic.local:9200:8000'", [("elastic.local", 9200, 8000)]),
        ("port_forward(8000)", [("localhost", 8000, 0)]),
        ("port_forward(8000, 80, host='127.0.0.1')", [("127.0.0.1", 8000, 80)]),
        (
            "[8000, '9000:90', port_forward(7000, 70)]",
            [("localhost", 8000, 0), ("localhost", 9000, 90), ("localhost", 7000, 70)],
        ),
        ("[]", []),
    ],
)
def test_port_forward_forms(tiltfile: Any, spec: str, expected: list[tuple[str, int, int]]) -> None:
    data = tiltfile(
        f"k8s_yaml('a.yaml')\nk8s_resource('web', port_forwards={spec})\n", {"a.yaml": WEB}
    )
    pfs = k8s_of(resources_by_name(data)["web"])["port_forwards"]
    assert [(p["host"], p["local_port"], p["container_port"]) for p in pfs] == expected


def test_k8s_resource_objects_make_a_new_resource(tiltfile: Any) -> None:
    yaml_text = (
        WEB
        + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: bar-password}\n"
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bar, namespace: ns1}\n"
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: bar, namespace: ns1}\n"
        "spec: {selector: {app: none}}\n"
    )
    data = tiltfile(
        "k8s_yaml('a.yaml')\n"
        "k8s_resource(objects=['bar-password', 'BAR:ConfigMap', 'bar:service:ns1'],"
        " new_name='bar', resource_deps=['web'])\n"
        "k8s_resource('web', objects=[])\n",
        {"a.yaml": yaml_text},
    )
    by = resources_by_name(data)
    assert list(by) == ["web", "bar"]
    assert refs(by["bar"]) == ["bar-password:secret", "bar:configmap:ns1", "bar:service:ns1"]
    assert by["bar"]["resource_deps"] == ["web"]
    assert k8s_of(by["bar"])["pod_readiness"] == "ignore"


def test_trigger_mode_default_and_auto_init_merge(tiltfile: Any) -> None:
    data = tiltfile(
        "trigger_mode(TRIGGER_MODE_MANUAL)\n"
        "k8s_yaml(['a.yaml', 'b.yaml'])\n"
        "k8s_resource('web', auto_init=False)\n"
        "k8s_resource('web', labels=['x'])\n"
        "k8s_resource('api', trigger_mode=TRIGGER_MODE_AUTO)\n",
        {"a.yaml": WEB, "b.yaml": DEPLOY.format(name="api", image="x")},
    )
    by = resources_by_name(data)
    assert (by["web"]["trigger_mode"], by["web"]["auto_init"], by["web"]["labels"]) == (
        "manual",
        False,
        ["x"],
    )
    assert (by["api"]["trigger_mode"], by["api"]["auto_init"]) == ("auto", True)


def test_custom_deploy_resource(tiltfile: Any) -> None:
    data = tiltfile(
        "docker_build('example.com/app', '.')\n"
        "k8s_custom_deploy('app', apply_cmd='./deploy.sh apply', delete_cmd=['./deploy.sh',"
        " 'delete'], deps=['chart'], image_deps=['example.com/app'],"
        " apply_env={'MODE': 'dev'}, image_selector='example.com/app',"
        " live_update=[sync('chart/src', '/app/src')])\n"
        "k8s_resource('app', port_forwards='8080:80', resource_deps=['setup'])\n"
        "local_resource('setup', 'true')\n",
        {"Dockerfile": "FROM scratch\n", "chart/src/x": ""},
    )
    by = resources_by_name(data)
    app = by["app"]
    assert app["kind"] == "k8s_custom_deploy"
    cd = app["custom_deploy"]
    assert cd["apply_cmd"]["argv"] == ["sh", "-c", "./deploy.sh apply"]
    assert cd["delete_cmd"]["argv"] == ["./deploy.sh", "delete"]
    assert cd["apply_env"] == {"MODE": "dev"}
    assert cd["deps"] == [os.path.join(os.getcwd(), "chart")]
    assert cd["watch"]["paths"] == cd["deps"]
    assert [i["pattern"] for i in cd["watch"]["ignores"]] == [
        os.path.join(os.getcwd(), "chart", "src")
    ]
    assert cd["image_selector"] == "example.com/app"
    assert app["image_refs"] == ["example.com/app"]
    assert k8s_of(app)["port_forwards"][0]["local_port"] == 8080
    assert app["resource_deps"] == ["setup"]
    assert data["warnings"] == []


# --- filter_yaml, contexts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "matching", "rest"),
    [
        ("kind='service'", ["web"], ["web", "cfg"]),
        ("name='^web$', kind='Deploy'", ["web"], ["web", "cfg"]),
        # Tilt checks every ObjectMeta: the Deployment's own metadata has no labels.
        ("labels={'app': 'web'}", ["cfg"], ["web", "web"]),
        ("api_version='apps/v1'", ["web"], ["web", "cfg"]),
        ("namespace='^default$'", ["web", "web", "cfg"], []),
        ("name='nomatch'", [], ["web", "web", "cfg"]),
    ],
)
def test_filter_yaml(tiltfile: Any, args: str, matching: list[str], rest: list[str]) -> None:
    yaml_text = (
        WEB + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        "spec: {selector: {app: web}}\n"
        "---\napiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: cfg, labels: {app: web}}\n"
    )
    data = tiltfile(
        f"m, r = filter_yaml('a.yaml', {args})\n"
        "print(encode_json([[d['metadata']['name'] for d in decode_yaml_stream(m)],"
        " [d['metadata']['name'] for d in decode_yaml_stream(r)]]))\n",
        {"a.yaml": yaml_text},
    )
    assert json.loads(data["logs"][-1]) == [matching, rest]


def test_filter_yaml_result_feeds_k8s_yaml(tiltfile: Any) -> None:
    data = tiltfile(
        "web, rest = filter_yaml('a.yaml', name='web')\nk8s_yaml(web)\n",
        {"a.yaml": WEB + "---\n" + DEPLOY.format(name="api", image="x")},
    )
    assert [r["name"] for r in data["resources"]] == ["web"]


def test_k8s_context_namespace_and_allowed(
    tiltfile: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kube = tmp_path / "kube.yaml"
    kube.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: kind-dev\ncontexts:\n"
        "- name: kind-dev\n  context: {cluster: kind-dev, namespace: team}\n"
    )
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "missing"), str(kube)]))
    data = tiltfile(
        "print(k8s_context(), k8s_namespace())\nallow_k8s_contexts(['staging', k8s_context()])\n"
    )
    assert data["logs"] == ["kind-dev team"]
    s = data["settings"]
    assert (s["k8s_context"], s["k8s_namespace"]) == ("kind-dev", "team")
    assert s["allowed_k8s_contexts"] == ["staging", "kind-dev"]


def test_no_kubeconfig_means_empty_context(
    tiltfile: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    data = tiltfile("print(repr(k8s_context()), k8s_namespace())\n")
    assert data["logs"] == ['"" default']


# --- helm and kustomize (real binaries; helm is a stand-in script on PATH) -----------------------

FAKE_HELM = """#!/bin/sh
if [ "$1" = version ]; then echo v3.14.0; exit 0; fi
echo "args: $*" >&2
cat <<EOF
---
# Source: chart/templates/deploy.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $2-web
spec:
  template:
    spec:
      containers: [{name: c, image: busybox}]
---
# Source: chart/templates/tests/test-connection.yaml
apiVersion: v1
kind: Pod
metadata:
  name: $2-test
spec:
  containers: [{name: c, image: busybox}]
EOF
echo "$*" > "$HELM_ARGS_FILE"
"""


def _bin_dir(tmp_path: Path, programs: dict[str, str]) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in programs.items():
        p = bin_dir / name
        p.write_text(text)
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_helm_runs_helm_template(
    tiltfile: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    bin_dir = _bin_dir(tools, {"helm": FAKE_HELM})
    args_file = tmp_path / "helm-args"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HELM_ARGS_FILE", str(args_file))
    data = tiltfile(
        "k8s_yaml(helm('chart', name='rel', namespace='team', values=['v.yaml'], set=['a=b']))\n",
        {"chart/Chart.yaml": "name: chart\n", "v.yaml": "x: 1\n"},
    )
    web = resources_by_name(data)["rel-web"]
    assert refs(web) == ["rel-web:deployment:team"]
    assert [r["name"] for r in data["resources"]] == ["rel-web"]  # chart tests dropped
    args = args_file.read_text().split()
    assert args[:3] == ["template", "rel", str(tmp_path / "chart")]
    assert "--include-crds" in args
    assert args[args.index("--namespace") + 1] == "team"
    assert args[args.index("--values") + 1] == str(tmp_path / "v.yaml")
    assert args[args.index("--set") + 1] == "a=b"
    assert str(tmp_path / "chart") in data["files_read"]


def test_helm_missing_binary(
    tiltfile_error: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    msg = tiltfile_error("\nk8s_yaml(helm('chart'))\n", {"chart/Chart.yaml": "name: c\n"})
    assert msg.startswith("Error: Tiltfile:2:")
    assert "helm: Unable to find Helm installation. Make sure `helm` is on your $PATH" in msg


@pytest.mark.skipif(
    shutil.which("kubectl") is None and shutil.which("kustomize") is None,
    reason="needs kubectl or kustomize",
)
def test_kustomize_runs_the_real_tool(tiltfile: Any) -> None:
    data = tiltfile(
        "k8s_yaml(kustomize('overlay'))\n",
        {
            "overlay/kustomization.yaml": "namePrefix: dev-\nresources: [deploy.yaml]\n",
            "overlay/deploy.yaml": WEB,
        },
    )
    assert [r["name"] for r in data["resources"]] == ["dev-web"]
    assert any(p.endswith("overlay") for p in data["files_read"])


def test_kustomize_missing_tools(
    tiltfile_error: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    msg = tiltfile_error("k8s_yaml(kustomize('.'))\n")
    assert msg.startswith("Error: Tiltfile:1:")
    assert "install kustomize" in msg


# --- errors: one clear message with its location ------------------------------------------------

ERRORS: list[tuple[str, str, dict[str, str], str, str]] = [
    (
        "invalid-yaml",
        "\nk8s_yaml('bad.yaml')\n",
        {"bad.yaml": WEB + "---\nkind: [\n"},
        "Tiltfile:2:",
        "bad.yaml is not valid YAML: line 15",
    ),
    (
        "not-an-object",
        "k8s_yaml('x.yaml')\n",
        {"x.yaml": "- a\n- b\n"},
        "Tiltfile:1:",
        "x.yaml: document 1: not a Kubernetes object",
    ),
    (
        "missing-kind",
        "k8s_yaml('x.yaml')\n",
        {"x.yaml": "apiVersion: v1\nmetadata: {name: a}\n"},
        "Tiltfile:1:",
        "Object 'Kind' is missing",
    ),
    ("missing-file", "k8s_yaml('nope.yaml')\n", {}, "Tiltfile:1:", "nope.yaml: no such file"),
    ("empty", "k8s_yaml([])\n", {}, "Tiltfile:1:", "Empty or Invalid YAML Resource Detected"),
    (
        "duplicate",
        "k8s_yaml('a.yaml')\nk8s_yaml('a.yaml')\n",
        {"a.yaml": WEB},
        "Tiltfile:2:",
        "Duplicate YAML: Deployment web\nIgnore this error with k8s_yaml(..., "
        "allow_duplicates=True)\nYAML originally registered at: Tiltfile:1",
    ),
    (
        "unknown-workload",
        "k8s_yaml('a.yaml')\n\nk8s_resource('wbe')\n",
        {"a.yaml": WEB},
        "Tiltfile:3",
        'k8s_resource: specified unknown resource "wbe" (did you mean "web"?). '
        "known k8s resources: web",
    ),
    (
        "bad-port-forward",
        "k8s_yaml('a.yaml')\nk8s_resource('web', port_forwards='80:abc')\n",
        {"a.yaml": WEB},
        "Tiltfile:2:",
        'k8s_resource "web": port_forwards: invalid port forward "80:abc": port value "abc"',
    ),
    (
        "port-out-of-range",
        "k8s_yaml('a.yaml')\nk8s_resource('web', port_forwards=70000)\n",
        {"a.yaml": WEB},
        "Tiltfile:2:",
        "port value 70000 is not in the valid range [0-65535]",
    ),
    (
        "bad-pf-host",
        "k8s_yaml('a.yaml')\nk8s_resource('web', port_forwards='bad_host:1:2')\n",
        {"a.yaml": WEB},
        "Tiltfile:2:",
        'host "bad_host" is not a valid hostname',
    ),
    (
        "bad-pf-type",
        "k8s_yaml('a.yaml')\nk8s_resource('web', port_forwards=[True])\n",
        {"a.yaml": WEB},
        "Tiltfile:2:",
        "got bool, want an int",
    ),
    (
        "objects-no-name",
        "k8s_yaml('a.yaml')\nk8s_resource(objects=['web'])\n",
        {"a.yaml": WEB},
        "Tiltfile:2:",
        "k8s_resource has only non-workload objects but doesn't provide a new_name",
    ),
    (
        "no-workload-no-objects",
        "k8s_resource(new_name='x')\n",
        {},
        "Tiltfile:1:",
        "doesn't specify a workload or any objects",
    ),
    (
        "fragment-not-found",
        "k8s_yaml('a.yaml')\nk8s_resource(new_name='x', objects=['nope'])\n",
        {"a.yaml": WEB},
        "Tiltfile:2",
        'No object identified by the fragment "nope" could be found. Possible objects are: '
        '"web:Deployment:default"',
    ),
    (
        "fragment-not-unique",
        "k8s_yaml('a.yaml')\nk8s_resource(new_name='x', objects=['web'])\n",
        {"a.yaml": WEB + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"},
        "Tiltfile:2",
        '"web" is not a unique fragment',
    ),
    (
        "fragment-taken",
        "k8s_yaml('a.yaml')\nk8s_resource(new_name='x', objects=['web:deployment'])\n",
        {"a.yaml": WEB},
        "Tiltfile:2",
        "could be found in remaining YAML",
    ),
    (
        "too-many-parts",
        "k8s_resource(new_name='x', objects=['a:b:c:d'])\n",
        {},
        "Tiltfile:1:",
        "Too many parts in selector",
    ),
    (
        "rename-collision",
        "k8s_yaml(['a.yaml', 'b.yaml'])\nk8s_resource('web', new_name='api')\n",
        {"a.yaml": WEB, "b.yaml": DEPLOY.format(name="api", image="x")},
        "Tiltfile:2",
        'specified to rename "web" to "api", but there already exists a resource with that name',
    ),
    (
        "bad-pod-readiness",
        "k8s_resource('web', pod_readiness='sometimes')\n",
        {},
        "Tiltfile:1:",
        "Invalid value. Allowed: {ignore, wait}. Got: sometimes",
    ),
    (
        "bad-discovery",
        "k8s_resource('web', discovery_strategy='x')\n",
        {},
        "Tiltfile:1:",
        "discovery_strategy",
    ),
    ("bad-label", "k8s_resource('web', labels=['-x'])\n", {}, "Tiltfile:1:", 'Invalid label "-x"'),
    (
        "bad-extra-selector",
        "k8s_resource('web', extra_pod_selectors=['a=b'])\n",
        {},
        "Tiltfile:1:",
        "extra_pod_selectors elements must be dicts; got string",
    ),
    (
        "v1-style-call",
        "k8s_resource('web', 'web.yaml')\n",
        {},
        "Tiltfile:1:",
        "deprecated arguments",
    ),
    (
        "k8s_kind-two-positional",
        "k8s_kind('Env', '{.spec.image}')\n",
        {},
        "Tiltfile:1:",
        "k8s_kind",
    ),
    (
        "bad-json-path",
        "k8s_kind('Env', image_json_path='spec.image')\n",
        {},
        "Tiltfile:1:",
        "invalid JSON path",
    ),
    (
        "image-json-path-no-selector",
        "k8s_image_json_path('{.a}')\n",
        {},
        "Tiltfile:1:",
        "at least one of kind, name, or namespace must be specified",
    ),
    (
        "custom-deploy-empty-apply",
        "k8s_custom_deploy('x', '', 'true', deps=[])\n",
        {},
        "Tiltfile:1:",
        "k8s_custom_deploy: apply_cmd cannot be empty",
    ),
    (
        "custom-deploy-no-selector",
        "k8s_custom_deploy('x', 'a', 'b', [], live_update=[sync('.', '/app')])\n",
        {},
        "Tiltfile:1:",
        "no Live Update selector specified",
    ),
    (
        "custom-deploy-twice",
        "k8s_custom_deploy('x', 'a', 'b', [])\nk8s_custom_deploy('x', 'a', 'b', [])\n",
        {},
        "Tiltfile:2:",
        'k8s_resource named "x" already exists',
    ),
    (
        "workload-vs-custom-deploy",
        "k8s_custom_deploy('web', 'a', 'b', [])\nk8s_yaml('a.yaml')\n",
        {"a.yaml": WEB},
        "Tiltfile:2",
        'k8s_resource named "web" already exists',
    ),
    (
        "helm-not-a-dir",
        "helm('Chart.yaml')\n",
        {"Chart.yaml": ""},
        "Tiltfile:1:",
        "helm() may only be called on directories with Chart.yaml",
    ),
    (
        "filter-bad-regex",
        "filter_yaml('a.yaml', name='(')\n",
        {"a.yaml": WEB},
        "Tiltfile:1:",
        "filter_yaml: error parsing name regexp",
    ),
]


@pytest.mark.parametrize(
    ("text", "files", "where", "fragment"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_errors(
    tiltfile_error: Any, text: str, files: dict[str, str], where: str, fragment: str
) -> None:
    msg = tiltfile_error(text, files)
    assert msg.startswith(f"Error: {where}"), msg
    assert fragment in msg, msg
    assert "Traceback" not in msg


# --- the YAML reader ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        WEB,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        "data: {a: '1', b: 2, c: true, d: null, e: 1.5, f: 0x10, g: 2024-01-01}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: &l {x: y}}\n"
        "data:\n  <<: *l\n  b: '2'\n",
    ],
    ids=["deployment", "scalars", "anchors-and-merge-keys"],
)
def test_yaml_reader_matches_pyyaml(text: str) -> None:
    import yaml

    from tilt.tiltfile._k8s_yaml import _loader, parse_objects

    expected = [d for d in yaml.load_all(text, Loader=_loader()) if d is not None]
    assert [o.body for o in parse_objects(text, "t.yaml")] == expected


def test_pod_readiness_defaults_are_tilts(tiltfile: Any) -> None:
    """Tilt's inferPodReadinessMode: a resource grouped by hand waits when it has
    extra_pod_selectors (its pods are found by label); of the kinds matching an object, `wait`
    wins over `ignore` over `succeeded`; a k8s_custom_deploy waits unless told to ignore."""
    crs = (
        "apiVersion: example.com/v1\nkind: Foo\nmetadata: {name: foo}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: labelled}\n"
    )
    data = tiltfile(
        "k8s_yaml('crs.yaml')\n"
        "k8s_kind('Fo.*', pod_readiness='wait')\n"
        "k8s_kind('Foo', pod_readiness='ignore')\n"
        "k8s_resource(new_name='plain', objects=['plain'])\n"
        "k8s_resource(new_name='labelled', objects=['labelled'],"
        " extra_pod_selectors=[{'app': 'operand'}])\n"
        "k8s_custom_deploy('waits', apply_cmd='true', delete_cmd='true', deps=[])\n"
        "k8s_custom_deploy('ignores', apply_cmd='true', delete_cmd='true', deps=[])\n"
        "k8s_resource('ignores', pod_readiness='ignore')\n",
        {"crs.yaml": crs},
    )
    by = resources_by_name(data)
    assert k8s_of(by["plain"])["pod_readiness"] == "ignore"
    assert k8s_of(by["labelled"])["pod_readiness"] == "wait"
    assert k8s_of(by["foo"])["pod_readiness"] == "wait"
    assert k8s_of(by["waits"])["pod_readiness"] == "wait"
    assert k8s_of(by["ignores"])["pod_readiness"] == "ignore"
