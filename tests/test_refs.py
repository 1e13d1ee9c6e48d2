"""tilt.refs: Docker's reference grammar and normalization, and Tilt's registry rewrite."""

from __future__ import annotations

import pytest

from tilt.refs import Registry, familiar_name, normalize, parse_ref, ref_error, refs_match


@pytest.mark.parametrize(
    ("ref", "normalized", "familiar"),
    [
        ("redis", "docker.io/library/redis", "redis"),
        ("redis:7", "docker.io/library/redis:7", "redis"),
        ("docker.io/redis", "docker.io/library/redis", "redis"),
        ("index.docker.io/library/redis", "docker.io/library/redis", "redis"),
        ("me/app", "docker.io/me/app", "me/app"),
        ("localhost/app", "localhost/app", "localhost/app"),
        ("localhost:5000/app:v1", "localhost:5000/app:v1", "localhost:5000/app"),
        ("gcr.io/proj/app", "gcr.io/proj/app", "gcr.io/proj/app"),
        (
            "app@sha256:" + "a" * 64,
            "docker.io/library/app@sha256:" + "a" * 64,
            "app",
        ),
        ("app:v1@sha256:" + "b" * 64, "docker.io/library/app:v1@sha256:" + "b" * 64, "app"),
    ],
)
def test_normalize_and_familiar_name(ref: str, normalized: str, familiar: str) -> None:
    assert normalize(ref) == normalized
    assert familiar_name(ref) == familiar
    assert parse_ref(ref).familiar == familiar


@pytest.mark.parametrize(
    ("ref", "error"),
    [
        ("app", ""),
        ("MyApp", "invalid reference format: repository name must be lowercase"),
        ("app::1", "invalid reference format"),
        ("", "invalid reference format"),
        ("a b", "invalid reference format"),
        ("app:" + "t" * 129, "invalid reference format"),
        ("a/" * 130 + "b", "repository name must not be more than 255 characters"),
    ],
)
def test_ref_errors_are_dockers(ref: str, error: str) -> None:
    assert ref_error(ref) == error
    if error:
        with pytest.raises(ValueError, match=r"repository name|invalid reference format"):
            parse_ref(ref)


@pytest.mark.parametrize(
    ("build", "used", "match"),
    [
        ("app", "app:v2", True),
        ("app", "docker.io/library/app", True),
        ("app:v1", "app:v1", True),
        ("app:v1", "app:v2", False),
        ("app", "other", False),
        ("localhost:5000/app", "app", False),
    ],
)
def test_refs_match(build: str, used: str, match: bool) -> None:
    assert refs_match(build, used) is match


def test_registry_rewrite_as_tilt_does() -> None:
    reg = Registry(host="localhost:5000")
    assert reg.push_ref("app", "tilt-1") == "localhost:5000/app:tilt-1"
    # "/" ":" "@" of the familiar name become "_".
    assert reg.push_ref("gcr.io/proj/app", "t") == "localhost:5000/gcr.io_proj_app:t"
    assert reg.push_ref("docker.io/library/redis", "t") == "localhost:5000/redis:t"
    # A name already under the registry keeps its name (tilt-dev/tilt#4911).
    assert reg.push_ref("localhost:5000/app", "t") == "localhost:5000/app:t"
    # Without host_from_cluster the cluster pulls what was pushed.
    assert reg.cluster_ref("app", "t") == "localhost:5000/app:t"


def test_registry_host_from_cluster_is_what_the_cluster_pulls() -> None:
    reg = Registry(host="localhost:5000", host_from_cluster="registry:5000")
    assert reg.push_ref("me/app", "t") == "localhost:5000/me_app:t"
    assert reg.cluster_ref("me/app", "t") == "registry:5000/me_app:t"
    # A name already under host is pushed as is; the cluster pulls that same image.
    assert reg.push_ref("localhost:5000/app", "t") == "localhost:5000/app:t"
    assert reg.cluster_ref("localhost:5000/app", "t") == "registry:5000/app:t"


def test_registry_single_name_moves_the_name_into_the_tag() -> None:
    reg = Registry(host="aws.ecr/x", single_name="repo")
    assert reg.push_ref("me/app", "tilt-1") == "aws.ecr/x/repo:me_app-tilt-1"
    assert reg.push_ref("aws.ecr/x/own", "tilt-1") == "aws.ecr/x/own:tilt-1"
