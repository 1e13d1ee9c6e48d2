"""tilt.model: a resource's kind and its targets cannot disagree."""

from __future__ import annotations

import pytest

from tilt.model import (
    Cmd,
    ComposeTarget,
    K8sCustomDeployTarget,
    K8sTarget,
    LocalTarget,
    Resource,
    ResourceKind,
    SourceLocation,
)

AT = SourceLocation(file="Tiltfile", line=1)
LOCAL = LocalTarget(cmd=Cmd(argv=("true",)))
COMPOSE = ComposeTarget(project_name="p", config_files=("c.yaml",), service="s")
CUSTOM = K8sCustomDeployTarget(apply_cmd=Cmd(argv=("a",)), delete_cmd=Cmd(argv=("d",)))


@pytest.mark.parametrize(
    ("kind", "targets"),
    [
        (ResourceKind.LOCAL, {"local": LOCAL}),
        (ResourceKind.K8S, {"k8s": K8sTarget()}),
        (ResourceKind.DOCKER_COMPOSE, {"compose": COMPOSE}),
        (ResourceKind.K8S_CUSTOM_DEPLOY, {"custom_deploy": CUSTOM}),
        (ResourceKind.K8S_CUSTOM_DEPLOY, {"custom_deploy": CUSTOM, "k8s": K8sTarget()}),
    ],
)
def test_kind_with_its_target(kind: ResourceKind, targets: dict[str, object]) -> None:
    r = Resource(name="r", kind=kind, location=AT, **targets)  # type: ignore[arg-type]
    assert r.kind is kind


@pytest.mark.parametrize(
    ("kind", "targets"),
    [
        (ResourceKind.DOCKER_COMPOSE, {}),
        (ResourceKind.DOCKER_COMPOSE, {"local": LOCAL}),
        (ResourceKind.LOCAL, {"local": LOCAL, "compose": COMPOSE}),
        (ResourceKind.K8S, {"custom_deploy": CUSTOM}),
        (ResourceKind.K8S_CUSTOM_DEPLOY, {"k8s": K8sTarget()}),
        (ResourceKind.LOCAL, {"local": LOCAL, "k8s": K8sTarget()}),
    ],
)
def test_kind_target_mismatch_is_rejected(kind: ResourceKind, targets: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=f"of kind {kind.value} needs"):
        Resource(name="r", kind=kind, location=AT, **targets)  # type: ignore[arg-type]
