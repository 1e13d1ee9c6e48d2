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
