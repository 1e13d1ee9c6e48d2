"""The emulated API server answers the official client's typed calls as a real server does
(for the behaviours the code under test relies on)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import watch

from tests.k8s.emulator import Emulator
from tilt.k8s.client import KubeClient


@pytest.fixture
def typed(kube: KubeClient) -> tuple[Any, Any]:
    return k8s.CoreV1Api(kube.api), k8s.AppsV1Api(kube.api)


def test_typed_crud_selectors_and_conflicts(emu: Emulator, typed: Any) -> None:
    core, _ = typed
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "labels": {"x": "1"}},
    }
    created = core.create_namespaced_config_map("default", body)
    assert created.metadata.uid and created.metadata.resource_version
    with pytest.raises(k8s.ApiException) as e:
        core.create_namespaced_config_map("default", body)
    assert e.value.status == 409
    core.create_namespaced_config_map(
        "default", {**body, "metadata": {"name": "b", "labels": {"x": "2"}}}
    )
    names = [
        c.metadata.name
        for c in core.list_namespaced_config_map("default", label_selector="x in (2,3)").items
    ]
    assert names == ["b"]
    stale = {**body, "metadata": {"name": "a", "resourceVersion": "1"}, "data": {"k": "v"}}
    with pytest.raises(k8s.ApiException) as e:
        core.replace_namespaced_config_map("a", "default", stale)
    assert e.value.status == 409  # optimistic concurrency
    with pytest.raises(k8s.ApiException) as e:
        core.create_namespaced_config_map("nope", body)
    assert e.value.status == 404  # the namespace does not exist


def test_typed_watch_sees_changes_and_bookmarks(emu: Emulator, typed: Any) -> None:
    core, _ = typed
    lst = core.list_namespaced_config_map("default")
    emu.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}})
    w = watch.Watch()
    seen = []
    for ev in w.stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=lst.metadata.resource_version,
        allow_watch_bookmarks=True,
        timeout_seconds=2,
    ):
        seen.append(ev["type"])
        if ev["type"] == "BOOKMARK":
            w.stop()
    assert seen[0] == "ADDED" and "BOOKMARK" in seen


def test_ssa_through_the_typed_client_and_gc(emu: Emulator, typed: Any) -> None:
    _, apps = typed
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    out = apps.patch_namespaced_deployment(
        "d",
        "default",
        dep,
        field_manager="tilt",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    assert out.metadata.managed_fields[0].manager == "tilt"
    rs = emu.put(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "d-1",
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "d",
                        "uid": out.metadata.uid,
                    }
                ],
            },
            "spec": {},
        }
    )
    assert rs["metadata"]["uid"]
    apps.delete_namespaced_deployment("d", "default")
    assert emu.find("apps/v1", "ReplicaSet", "d-1") is None  # garbage-collected with its owner
