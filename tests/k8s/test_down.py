"""`tilt down` ordering, keep annotation, namespaces flag, bounded wait."""

from __future__ import annotations

import threading
from typing import Any

from tests.k8s.conftest import run
from tests.k8s.emulator import Emulator
from tests.k8s.test_apply import CRD, deployment
from tilt.k8s.apply import Applier, prepare_objects
from tilt.k8s.client import KubeClient
from tilt.k8s.down import delete_plan, plan_down

Obj = dict[str, Any]


def obj(kind: str, name: str, api: str = "v1", ns: str = "team", **extra: Any) -> Obj:
    meta: Obj = {"name": name}
    if ns:
        meta["namespace"] = ns
    meta.update(extra)
    return {"apiVersion": api, "kind": kind, "metadata": meta}


def names(batches: Any) -> list[list[str]]:
    return [[f"{o['kind']}/{o['metadata']['name']}" for o in b] for b in batches]


def test_plan_order_keep_and_namespaces() -> None:
    db = [
        obj("Namespace", "team", ns=""),
        obj("Secret", "db-pass"),
        obj("StatefulSet", "db", "apps/v1"),
    ]
    web = [
        obj("ConfigMap", "web-cfg"),
        obj("Deployment", "web", "apps/v1"),
        obj("Service", "web"),
        obj("PersistentVolumeClaim", "uploads", annotations={"tilt.dev/down-policy": "keep"}),
    ]
    crd = [CRD, {**obj("Widget", "w", "example.com/v1")}]
    plan = plan_down([db, crd, web])  # web depends on db: web goes first
    assert names(plan.batches) == [
        ["Deployment/web"],
        ["Service/web"],
        ["ConfigMap/web-cfg"],
        ["Widget/w"],
        ["CustomResourceDefinition/widgets.example.com"],
        ["StatefulSet/db"],
        ["Secret/db-pass"],
    ]
    assert [(o["metadata"]["name"], why.split(" ")[0]) for o, why in plan.kept] == [
        ("uploads", "annotated"),
        ("team", "a"),
    ]
    with_ns = plan_down([db, crd, web], delete_namespaces=True)
    assert names(with_ns.batches)[-1] == ["Namespace/team"]


def test_down_deletes_in_order_and_waits(emu: Emulator, kube: KubeClient) -> None:
    objs = prepare_objects(
        [
            obj("Namespace", "team", ns=""),
            {**deployment(), "metadata": {"name": "web", "namespace": "team"}},
            obj("Service", "web"),
            obj("ConfigMap", "keep-me", annotations={"tilt.dev/down-policy": "keep"}),
        ]
    )
    run(Applier(kube).apply(objs))
    emu.requests.clear()
    log: list[str] = []
    result = run(delete_plan(kube, plan_down([objs], delete_namespaces=True), log=log.append))
    deletes = [p.split("?")[0] for m, p in emu.requests if m == "DELETE"]
    assert deletes == [
        "/apis/apps/v1/namespaces/team/deployments/web",
        "/api/v1/namespaces/team/services/web",
        "/api/v1/namespaces/team",
    ]
    assert result.deleted == [
        "Deployment/web (namespace team)",
        "Service/web (namespace team)",
        "Namespace/team",
    ]
    assert result.kept == ["ConfigMap/keep-me (namespace team)"]
    assert result.not_gone == []
    assert emu.find("apps/v1", "Deployment", "web", "team") is None


def test_down_wait_is_bounded_and_sees_finalizers_finish(emu: Emulator, kube: KubeClient) -> None:
    run(
        Applier(kube).apply(
            [obj("ConfigMap", "stuck", ns="default", finalizers=["example.com/hold"])]
        )
    )
    plan = plan_down([[obj("ConfigMap", "stuck", ns="default")]])
    result = run(delete_plan(kube, plan, wait_s=0.3))
    assert result.deleted == ["ConfigMap/stuck (namespace default)"]
    assert result.not_gone == ["ConfigMap/stuck (namespace default)"]

    # the controller removes its finalizer a moment later: the second down sees it go
    def release() -> None:
        threading.Event().wait(0.2)
        cm = emu.get("v1", "ConfigMap", "stuck")
        cm["metadata"]["finalizers"] = []
        emu.put(cm)

    t = threading.Thread(target=release)
    t.start()
    result = run(delete_plan(kube, plan, wait_s=20))
    t.join()
    assert result.not_gone == [] and emu.find("v1", "ConfigMap", "stuck") is None


def test_down_of_what_is_already_gone(emu: Emulator, kube: KubeClient) -> None:
    result = run(
        delete_plan(
            kube,
            plan_down(
                [[obj("ConfigMap", "never", ns="default"), obj("Widget", "w", "example.com/v1")]]
            ),
        )
    )
    assert result.deleted == [] and sorted(result.already_gone) == [
        "ConfigMap/never (namespace default)",
        "Widget/w (namespace team)",
    ]
