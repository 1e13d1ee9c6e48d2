"""Deploy against the emulated API: injection, labels, order, SSA, fallbacks."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.k8s.conftest import run
from tests.k8s.emulator import Emulator
from tilt.k8s.apply import (
    LAST_APPLIED,
    MANAGED_BY_LABEL,
    POD_TEMPLATE_HASH_LABEL,
    Applier,
    ApplyError,
    prepare_objects,
)
from tilt.k8s.client import KubeClient
from tilt.model import K8sImageLocator

Obj = dict[str, Any]


def deployment(name: str = "web", image: str = "web", init_image: str = "") -> Obj:
    spec: Obj = {"containers": [{"name": "app", "image": image}]}
    if init_image:
        spec["initContainers"] = [{"name": "init", "image": init_image}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [{"name": "v1", "served": True, "storage": True}],
    },
}


def test_images_injected_into_containers_init_containers_and_json_paths() -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"runtime": {"image": "web"}, "sidecar": {"repo": "web", "tag": "old"}},
    }
    locators = [
        K8sImageLocator(kind="Widget", json_path="{.spec.runtime.image}"),
        K8sImageLocator(
            kind="widget", json_path="{.spec.sidecar}", repo_field="repo", tag_field="tag"
        ),
    ]
    images = {"web": "localhost:5000/web:tilt-abc", "db": "db:tilt-1"}
    dep, cron, w = prepare_objects(
        [
            deployment(init_image="db"),
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": {"name": "c"},
                "spec": {
                    "jobTemplate": {
                        "spec": {
                            "template": {"spec": {"containers": [{"name": "x", "image": "web:v1"}]}}
                        }
                    }
                },
            },
            widget,
        ],
        images,
        locators,
    )
    pod = dep["spec"]["template"]["spec"]
    assert pod["containers"][0] == {
        "name": "app",
        "image": "localhost:5000/web:tilt-abc",
        "imagePullPolicy": "IfNotPresent",
    }
    assert pod["initContainers"][0]["image"] == "db:tilt-1"
    assert pod["initContainers"][0]["imagePullPolicy"] == "IfNotPresent"
    cron_pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cron_pod["containers"][0]["image"] == "localhost:5000/web:tilt-abc"
    assert w["spec"]["runtime"]["image"] == "localhost:5000/web:tilt-abc"
    assert w["spec"]["sidecar"] == {"repo": "localhost:5000/web", "tag": "tilt-abc"}
    assert "imagePullPolicy" not in w["spec"]["runtime"]
    # labels: every object, every pod template, plus the template hash
    for o in (dep, cron, w):
        assert o["metadata"]["labels"][MANAGED_BY_LABEL] == "tilt"
    tlabels = dep["spec"]["template"]["metadata"]["labels"]
    assert tlabels["app"] == "web" and tlabels[MANAGED_BY_LABEL] == "tilt"
    assert len(tlabels[POD_TEMPLATE_HASH_LABEL]) == 16
    # the hash changes with the image, and only then
    again = prepare_objects([deployment(init_image="db")], images)[0]
    other = prepare_objects([deployment(init_image="db")], {**images, "web": "web:tilt-new"})[0]
    h = lambda o: o["spec"]["template"]["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL]  # noqa: E731
    assert h(again) == h(dep) != h(other)


def test_apply_in_kind_order_with_crd_and_custom_resource(emu: Emulator, kube: KubeClient) -> None:
    seen: list[str] = []
    objs = prepare_objects(
        [
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w", "namespace": "team"},
                "spec": {"image": "web"},
            },
            deployment(),
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "team"},
                "spec": {"ports": [{"port": 80}]},
            },
            CRD,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
        ],
        {"web": "web:tilt-1"},
        [K8sImageLocator(kind="Widget", json_path="{.spec.image}")],
    )
    result = run(Applier(kube, log=seen.append).apply(objs))
    kinds = [o["kind"] for o in result.objects]
    # results come back in input order; the server saw them in kind order
    assert kinds == ["Widget", "Deployment", "Service", "CustomResourceDefinition", "Namespace"]
    posts = [p.split("?")[0] for m, p in emu.requests if m == "PATCH"]
    assert posts == [
        "/api/v1/namespaces/team",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
        "/api/v1/namespaces/team/services/web",
        "/apis/apps/v1/namespaces/default/deployments/web",
        "/apis/example.com/v1/namespaces/team/widgets/w",
    ]
    assert emu.get("example.com/v1", "Widget", "w", "team")["spec"]["image"] == "web:tilt-1"
    dep = emu.get("apps/v1", "Deployment", "web")
    assert dep["metadata"]["managedFields"][0]["manager"] == "tilt"
    assert result.method == "server-side"


def test_ssa_conflict_with_another_manager_is_forced(emu: Emulator, kube: KubeClient) -> None:
    obj = prepare_objects([deployment()], {})[0]
    obj["spec"]["replicas"] = 1
    run(Applier(kube).apply([obj]))
    # someone scales it with their own field manager (kubectl scale / an HPA)
    kube.request(
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web",
        query={"fieldManager": "kubectl-edit"},
        body={"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
    )
    with pytest.raises(ApplyError, match=r'conflict with "kubectl-edit": \.spec\.replicas'):
        run(Applier(kube, force_conflicts=False).apply([obj]))
    run(Applier(kube).apply([obj]))
    assert emu.get("apps/v1", "Deployment", "web")["spec"]["replicas"] == 1


def test_ssa_removes_fields_tilt_no_longer_applies(emu: Emulator, kube: KubeClient) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1", "b": "2"},
    }
    run(Applier(kube).apply([cm]))
    run(Applier(kube).apply([{**cm, "data": {"a": "1"}}]))
    assert emu.get("v1", "ConfigMap", "c")["data"] == {"a": "1"}


def test_immutable_field_deletes_and_recreates_and_says_so(emu: Emulator, kube: KubeClient) -> None:
    def job(image: str) -> Obj:
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "m", "image": image}],
                    }
                }
            },
        }

    log: list[str] = []
    applier = Applier(kube, log=log.append)
    first = run(applier.apply(prepare_objects([job("m")], {"m": "m:tilt-1"})))
    uid1 = first.objects[0]["metadata"]["uid"]
    second = run(applier.apply(prepare_objects([job("m")], {"m": "m:tilt-2"})))
    assert second.recreated == ("Job/migrate (namespace default)",)
    assert second.objects[0]["metadata"]["uid"] != uid1
    assert (
        emu.get("batch/v1", "Job", "migrate")["spec"]["template"]["spec"]["containers"][0]["image"]
        == "m:tilt-2"
    )
    assert any("immutable" in line and "deleting and re-creating" in line for line in log)
    # a Service's clusterIP: also immutable
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"clusterIP": "10.96.0.10"},
    }
    run(applier.apply([svc]))
    out = run(applier.apply([{**svc, "spec": {"clusterIP": "10.96.0.11"}}]))
    assert out.recreated and emu.get("v1", "Service", "s")["spec"]["clusterIP"] == "10.96.0.11"


def test_the_real_servers_immutable_field_messages_recreate(
    emu: Emulator, kube: KubeClient
) -> None:
    # A real API server refuses a changed Service clusterIP with "spec.clusterIPs[0]: Invalid
    # value: ...: may not change once set" and a StatefulSet's fixed fields with "spec:
    # Forbidden: updates to statefulset spec ...": both are re-created, as a Job is.
    log: list[str] = []
    applier = Applier(kube, log=log.append)
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80}]},
    }
    run(applier.apply([svc]))
    with pytest.raises(Exception, match="may not change once set"):
        kube.request(
            "PATCH",
            "/api/v1/namespaces/default/services/s",
            query={"fieldManager": "other"},
            body={"spec": {"clusterIP": "10.96.0.12"}},
            content_type="application/merge-patch+json",
        )
    out = run(applier.apply([{**svc, "spec": {**svc["spec"], "clusterIP": "10.96.0.11"}}]))
    assert out.recreated == ("Service/s (namespace default)",)
    assert emu.get("v1", "Service", "s")["spec"]["clusterIP"] == "10.96.0.11"
    assert any("spec.clusterIPs[0]: may not change once set" in line for line in log)

    def sts(claim_size: str) -> Obj:
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": "db"}]},
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {"resources": {"requests": {"storage": claim_size}}},
                    }
                ],
            },
        }

    run(applier.apply([sts("1Gi")]))
    out = run(applier.apply([sts("2Gi")]))
    assert out.recreated == ("StatefulSet/db (namespace default)",)
    assert any("spec: updates to statefulset spec" in line for line in log)


def test_recreate_log_names_the_field_not_the_echoed_template(
    emu: Emulator, kube: KubeClient
) -> None:
    # The server's message for a changed Job template echoes the whole new template, env
    # values included; the log line names the field only.
    def job(image: str) -> Obj:
        container = {"name": "m", "image": image, "env": [{"name": "TOKEN", "value": "t0ps3cret"}]}
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}},
        }

    log: list[str] = []
    applier = Applier(kube, log=log.append)
    run(applier.apply([job("m:1")]))
    out = run(applier.apply([job("m:2")]))
    assert out.recreated
    line = next(line for line in log if "deleting and re-creating" in line)
    assert "(spec.template: field is immutable)" in line
    assert "t0ps3cret" not in line and "m:2" not in line


def test_client_side_apply_when_ssa_is_off(emu: Emulator, kube: KubeClient) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1", "b": "2"},
    }
    applier = Applier(kube, server_side="false")
    r = run(applier.apply([cm]))
    assert r.method == "client-side"
    live = emu.get("v1", "ConfigMap", "c")
    assert LAST_APPLIED in live["metadata"]["annotations"]
    # a field someone else added survives; one we dropped goes (three-way)
    kube.request(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/c",
        body={"data": {"x": "theirs"}},
        content_type="application/merge-patch+json",
    )
    run(applier.apply([{**cm, "data": {"a": "1"}}]))
    assert emu.get("v1", "ConfigMap", "c")["data"] == {"a": "1", "x": "theirs"}


def test_auto_falls_back_to_client_side_when_the_server_refuses_ssa(
    emu: Emulator, kube: KubeClient
) -> None:
    emu.ssa_enabled = False
    log: list[str] = []
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    r = run(Applier(kube, server_side="auto", log=log.append).apply([cm]))
    assert r.method == "client-side" and emu.get("v1", "ConfigMap", "c")["data"] == {"a": "1"}
    assert any("refuses server-side apply" in line for line in log)
    with pytest.raises(ApplyError, match="unknown format"):
        run(Applier(kube, server_side="true").apply([cm]))


def test_too_large_annotations_fall_back_to_replace(emu: Emulator, kube: KubeClient) -> None:
    big = "x" * 200_000
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big"},
        "data": {"blob": big},
    }
    log: list[str] = []
    # client-side apply stores the whole object in an annotation: too long for the server
    r = run(
        Applier(kube, server_side="false", log=log.append).apply(
            [{**cm, "data": {"blob": big * 2}}]
        )
    )
    assert r.replaced == ("ConfigMap/big (namespace default)",)
    live = emu.get("v1", "ConfigMap", "big")
    assert LAST_APPLIED not in (live["metadata"].get("annotations") or {})
    assert any("replacing" in line for line in log)


def test_upsert_timeout(emu: Emulator, kube: KubeClient) -> None:
    emu.latency_s = 0.5
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    with pytest.raises(ApplyError, match=r"timed out after 0\.2s"):
        run(Applier(kube, upsert_timeout_s=0.2).apply([cm]))
    emu.latency_s = 0


def test_objects_of_one_kind_apply_in_parallel(emu: Emulator, kube: KubeClient) -> None:
    inflight = 0
    peak = 0
    lock = threading.Lock()
    gate = threading.Barrier(4, timeout=10)
    orig = kube.request

    def counting(*a: Any, **kw: Any) -> Any:
        nonlocal inflight, peak
        with lock:
            inflight += 1
            peak = max(peak, inflight)
        try:
            gate.wait()  # proves four requests are in flight at once
            return orig(*a, **kw)
        finally:
            with lock:
                inflight -= 1

    kube.request = counting  # type: ignore[method-assign]
    cms = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}, "data": {}}
        for i in range(4)
    ]
    run(Applier(kube, parallelism=4).apply(cms))
    assert peak == 4


def test_custom_resource_waits_for_its_crd_to_be_served(emu: Emulator, kube: KubeClient) -> None:
    emu.crd_serving_delay_s = 0.5  # the new kind answers 404 for a moment, as on a real server
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {},
    }
    result = run(Applier(kube).apply(prepare_objects([CRD, widget])))
    assert [o["kind"] for o in result.objects] == ["CustomResourceDefinition", "Widget"]
    widget_patches = [p for m, p in emu.requests if m == "PATCH" and "/widgets/w" in p]
    assert len(widget_patches) > 1  # refused while the kind was not served yet, then applied


def test_a_kind_no_crd_defines_is_refused_at_once_with_why(emu: Emulator, kube: KubeClient) -> None:
    # (Not after waiting out the upsert timeout for a CRD that will never come.)
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    typo = {"apiVersion": "v1", "kind": "ConfigMapp", "metadata": {"name": "c"}}
    for obj, kind in ((widget, "Widget"), (typo, "ConfigMapp")):
        with pytest.raises(ApplyError) as e:
            run(Applier(kube, upsert_timeout_s=5).apply([obj]))
        (why,) = e.value.errors.values()
        assert f'no kind "{kind}" is registered' in why
        assert "no CustomResourceDefinition defines it" in why
    # A CRD applied with it, its kind not in discovery yet: waited for (being established).
    emu.crd_discovery_delay_s = 0.5
    result = run(Applier(kube).apply(prepare_objects([CRD, {**widget, "spec": {}}])))
    assert [o["kind"] for o in result.objects] == ["CustomResourceDefinition", "Widget"]
    discoveries = [p for m, p in emu.requests if m == "GET" and p == "/apis/example.com/v1"]
    assert len(discoveries) > 2  # asked again until discovery listed it


def test_unreachable_cluster_is_one_message(emu: Emulator, kube: KubeClient) -> None:
    kube.configuration.retries = 0
    objs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}} for i in range(3)
    ]
    kube.resource("v1", "ConfigMap")  # discovery cached: the applies themselves fail
    emu.stop()
    with pytest.raises(ApplyError) as e:
        run(Applier(kube).apply(objs))
    assert list(e.value.errors) == ["cluster"]
    assert "cannot reach the Kubernetes API at http://127.0.0.1:" in e.value.errors["cluster"]


def test_a_selector_on_managed_by_keeps_matching_its_template() -> None:
    dep = deployment()
    dep["spec"]["selector"]["matchLabels"]["app.kubernetes.io/managed-by"] = "Helm"
    dep["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "Helm"
    (out,) = prepare_objects([dep])
    assert out["spec"]["template"]["metadata"]["labels"][MANAGED_BY_LABEL] == "Helm"
    assert out["metadata"]["labels"][MANAGED_BY_LABEL] == "tilt"


def copied_from_kubectl_get(obj: Obj, live: Obj) -> Obj:
    """``obj`` as ``kubectl get -o yaml`` shows it once deployed: with what the server set."""
    meta = live["metadata"]
    return {
        **obj,
        "metadata": {
            **obj["metadata"],
            "managedFields": meta["managedFields"],
            "resourceVersion": "1",  # long gone: the object moved on since
            "uid": "0c6c7d51-0000-4000-8000-000000000000",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "generation": 7,
            "selfLink": "/apis/apps/v1/namespaces/default/deployments/web",
        },
        "status": {"replicas": 1, "observedGeneration": 7},
    }


def test_the_emulator_refuses_what_the_real_server_refuses_in_an_apply(
    emu: Emulator, kube: KubeClient
) -> None:
    """Not stripped (sent as they are), a manifest copied from `kubectl get -o yaml` fails
    as on a real API server: managedFields, then the stale resourceVersion."""
    run(Applier(kube).apply(prepare_objects([deployment()], {})))
    live = emu.get("apps/v1", "Deployment", "web")
    path = "/apis/apps/v1/namespaces/default/deployments/web"
    query = {"fieldManager": "tilt", "force": "true"}
    ct = "application/apply-patch+yaml"
    body = copied_from_kubectl_get(deployment(), live)
    with pytest.raises(Exception, match=r"metadata\.managedFields must be nil") as e:
        kube.request("PATCH", path, query=query, body=body, content_type=ct)
    assert getattr(e.value, "status", None) == 400
    del body["metadata"]["managedFields"]
    with pytest.raises(Exception, match="the object has been modified") as e:
        kube.request("PATCH", path, query=query, body=body, content_type=ct)
    assert getattr(e.value, "status", None) == 409


@pytest.mark.parametrize("server_side", ["true", "false"])
def test_a_manifest_copied_from_kubectl_get_applies(
    emu: Emulator, kube: KubeClient, server_side: str
) -> None:
    """What only the server sets is dropped before applying (both apply methods), and the
    server's own values stay."""
    run(Applier(kube, server_side=server_side).apply(prepare_objects([deployment()], {})))
    live = emu.get("apps/v1", "Deployment", "web")
    copied = copied_from_kubectl_get(deployment(), live)
    copied["spec"]["replicas"] = 2
    (prepared,) = prepare_objects([copied], {})
    run(Applier(kube, server_side=server_side).apply([prepared]))
    after = emu.get("apps/v1", "Deployment", "web")
    assert after["spec"]["replicas"] == 2
    assert after["metadata"]["uid"] == live["metadata"]["uid"]
    assert after["metadata"]["creationTimestamp"] == live["metadata"]["creationTimestamp"]
    assert "status" not in prepared
    assert not {"managedFields", "resourceVersion", "uid", "selfLink"} & set(prepared["metadata"])


def test_image_injected_at_a_json_path_with_an_escaped_dot() -> None:
    # `k8s_kind(image_json_path='{...annotations.internal\.example\.tech/image}')`.
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "op"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"internal.example.tech/image": "op:dev"}},
                "spec": {"containers": []},
            }
        },
    }
    loc = K8sImageLocator(
        kind="Deployment",
        json_path="{.spec.template.metadata.annotations.internal\\.example\\.tech/image}",
    )
    (out,) = prepare_objects([dep], {"op": "localhost:5000/op:tilt-1"}, [loc])
    annotations = out["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"internal.example.tech/image": "localhost:5000/op:tilt-1"}


def test_entrypoint_and_container_args_replace_the_containers_command(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tilt's reference: docker_build/custom_build entrypoint= takes precedence over the
    # YAML's command (a string runs through sh -c), container_args= over its args; other
    # images' containers keep theirs. The overrides come from the loaded Tiltfile.
    from tests.conftest import write_tree
    from tilt.k8s.apply import container_commands
    from tilt.tiltfile import load_tiltfile

    monkeypatch.chdir(tmp_path)
    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM alpine\n",
            "Tiltfile": "docker_build('web', '.', entrypoint='./run.sh --dev')\n"
            "custom_build('job', 'true', ['.'], entrypoint=['/bin/job'], container_args=[])\n"
            "docker_build('args', '.', container_args=['--port', '80'])\n"
            "docker_build('plain', '.')\n",
        },
    )
    result = load_tiltfile(str(tmp_path / "Tiltfile"))
    commands = container_commands(result.images)
    assert set(commands) == {"web", "job", "args"}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "initContainers": [{"name": "i", "image": "job", "args": ["old"]}],
            "containers": [
                {"name": "w", "image": "web", "command": ["old"], "args": ["keep"]},
                {"name": "a", "image": "args:1.0", "command": ["keep"]},
                {"name": "p", "image": "plain", "command": ["keep"], "args": ["keep"]},
            ],
        },
    }
    (out,) = prepare_objects([pod], {"web": "web:tilt-1"}, commands=commands)
    init, web, args, plain = out["spec"]["initContainers"] + out["spec"]["containers"]
    assert (init["command"], init["args"]) == (["/bin/job"], [])
    assert (web["image"], web["command"], web["args"]) == (
        "web:tilt-1",
        ["sh", "-c", "./run.sh --dev"],
        ["keep"],
    )
    assert (args["command"], args["args"]) == (["keep"], ["--port", "80"])
    assert (plain["command"], plain["args"]) == (["keep"], ["keep"])
    assert pod["spec"]["containers"][0]["command"] == ["old"]  # the source is not changed


def test_match_in_env_vars_puts_the_built_ref_into_env_values(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tilt's reference: with match_in_env_vars=True an environment variable naming the
    # image is handled like a container's image: it gets the built ref. Only for those
    # images, and only values that name them.
    from tests.conftest import write_tree
    from tilt.k8s.apply import env_var_images
    from tilt.tiltfile import load_tiltfile

    monkeypatch.chdir(tmp_path)
    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM alpine\n",
            "Tiltfile": "docker_build('worker', '.', match_in_env_vars=True)\n"
            "docker_build('web', '.')\n",
        },
    )
    env_images = env_var_images(load_tiltfile(str(tmp_path / "Tiltfile")).images)
    assert env_images == {"worker"}
    env = [
        {"name": "WORKER_IMAGE", "value": "worker"},
        {"name": "WEB_IMAGE", "value": "web"},
        {"name": "OTHER", "value": "nginx"},
        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx", "env": env}]},
    }
    images = {"worker": "worker:tilt-1", "web": "web:tilt-2"}
    (out,) = prepare_objects([pod], images, env_images=env_images)
    assert [v.get("value") for v in out["spec"]["containers"][0]["env"]] == [
        "worker:tilt-1",
        "web",
        "nginx",
        None,
    ]
    (plain,) = prepare_objects([pod], images)
    assert plain["spec"]["containers"][0]["env"][0]["value"] == "worker"
