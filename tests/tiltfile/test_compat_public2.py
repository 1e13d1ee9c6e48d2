"""More constructs from public Tiltfiles that loaded differently here than in Tilt.

Each fixture is a minimal Tiltfile written for the test that reproduces the construct.
"""

from __future__ import annotations

from typing import Any

from tests.tiltfile.conftest import resources_by_name


def test_unknown_resource_dep_is_dropped_with_a_warning(tiltfile: Any) -> None:
    # A pattern from projects with optional parts: the dependency list names a resource
    # that is only declared when an environment variable is set. Tilt warns and drops
    # the dependency from the resource (validateResourceDependencies).
    data = tiltfile(
        "local_resource('gen', 'true')\n"
        "local_resource('web', 'true', resource_deps=['gen', 'ui-server'])\n"
    )
    web = resources_by_name(data)["web"]
    assert web["resource_deps"] == ["gen"]
    assert [w["message"] for w in data["warnings"]] == [
        'resource "web": resource_deps names unknown resource "ui-server"; '
        "the dependency is ignored"
    ]
    assert data["order"] == ["gen", "web"]


def test_k8s_resource_assembly_version_2_is_accepted(tiltfile: Any) -> None:
    # Tiltfiles written for Tilt before 0.8 (tilt's own integration tests, demo
    # projects) open with this call; version 2 is what Tilt does by default.
    data = tiltfile(
        "k8s_resource_assembly_version(2)\nk8s_yaml('app.yaml')\n",
        files={
            "app.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
            "spec:\n  template:\n    spec:\n      containers:\n      - name: c\n"
            "        image: web\n"
        },
    )
    assert data["order"] == ["web"]


def test_k8s_resource_assembly_version_errors(tiltfile_error: Any) -> None:
    files = {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"}
    late = tiltfile_error("k8s_yaml('app.yaml')\nk8s_resource_assembly_version(2)\n", files=files)
    assert "k8s_resource_assembly_version can only be called before introducing any k8s" in late
    assert "invalid k8s_resource_assembly_version 3. Must be 1 or 2." in tiltfile_error(
        "k8s_resource_assembly_version(3)\n"
    )
    assert "got string, want int" in tiltfile_error("k8s_resource_assembly_version('2')\n")
    assert "not supported here" in tiltfile_error("k8s_resource_assembly_version(1)\n")


def test_fast_build_is_a_name_that_fails_when_called(tiltfile: Any, tiltfile_error: Any) -> None:
    # Tilt keeps fast_build as a builtin that fails when called, so an old Tiltfile
    # that mentions it only in a branch that does not run still loads.
    data = tiltfile("if False:\n    fast_build('img', 'Dockerfile.base')\nprint('loaded')\n")
    assert data["logs"] == ["loaded"]
    err = tiltfile_error("fast_build('img', 'Dockerfile.base', entrypoint='/go/bin/app')\n")
    assert "fast_build is no longer supported. live_update provides" in err
