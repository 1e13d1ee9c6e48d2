"""An ImagePullBackOff tied back to how the image was delivered (pure, table-driven)."""

from __future__ import annotations

import pytest

from tilt.registry.decision import DeliveryDecision, DeliveryMode
from tilt.registry.destinations import DeliveredImage
from tilt.registry.discovery import RegistryChoice, RegistryHosting, RegistrySource
from tilt.registry.explain import explain_pull_failure

M = DeliveryMode
LOCAL = RegistryChoice(
    registry=RegistryHosting(host="localhost:5000"), source=RegistrySource.TILTFILE, reason=""
)
REMOTE = RegistryChoice(
    registry=RegistryHosting(host="localhost:5001", host_from_container_runtime="reg:5000"),
    source=RegistrySource.CONFIGMAP,
    reason="",
)
NONE = RegistryChoice(registry=None, source=RegistrySource.NONE, reason="")


@pytest.mark.parametrize(
    ("mode", "registry", "image", "expected"),
    [
        (
            M.PUSH,
            LOCAL,
            "localhost:5000/app:t",
            [
                "pushed localhost:5000/app:t to localhost:5000",
                "the Tiltfile's default_registry()",
                "localhost is the node itself",
                "host_from_cluster",
            ],
        ),
        (
            M.PUSH,
            REMOTE,
            "reg:5000/app:t",
            [
                "pulls reg:5000/app:t from reg:5000",
                "the kube-public/local-registry-hosting ConfigMap",
                "nodes can reach reg:5000",
            ],
        ),
        (M.PUSH, NONE, "app:t", ["under the image's own name", "default_registry()"]),
        (M.NONE, NONE, "app:t", ["kept in the local Docker engine", "imagePullPolicy"]),
        (M.KIND_LOAD, NONE, "app:t", ["copied into the nodes with kind load"]),
        (M.K3D_IMPORT, NONE, "app:t", ["with k3d image import"]),
        (M.COMMAND, NONE, "app:t", ["image_push_cmd() delivered"]),
    ],
)
def test_explains_by_delivery(
    mode: DeliveryMode, registry: RegistryChoice, image: str, expected: list[str]
) -> None:
    delivered = {
        image: DeliveredImage(
            pushed_ref=image.replace("reg:5000", "localhost:5001"), cluster_ref=image, mode=mode
        )
    }
    text = explain_pull_failure(
        reason="ImagePullBackOff",
        image=image,
        decision=DeliveryDecision(mode=mode, reason="why"),
        registry=registry,
        delivered=delivered,
    )
    assert text.startswith("ImagePullBackOff: ")
    for part in expected:
        assert part in text


def test_not_ours_and_not_a_pull_error() -> None:
    decision = DeliveryDecision(mode=M.PUSH, reason="")
    text = explain_pull_failure(
        reason="ErrImagePull", image="redis:7", decision=decision, registry=NONE, delivered={}
    )
    assert "redis:7 is not an image tilt built" in text
    assert (
        explain_pull_failure(
            reason="CrashLoopBackOff", image="x", decision=decision, registry=NONE, delivered={}
        )
        == ""
    )
