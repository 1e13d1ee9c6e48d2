"""Registry discovery: parsing what the cluster advertises (pure), precedence, and the choice."""

from __future__ import annotations

import pytest

from tilt.registry.cluster import ClusterProduct as P
from tilt.registry.discovery import (
    CONFIGMAP_KEY,
    ClusterFacts,
    RegistryHosting,
    RegistrySource,
    choose_registry,
    discover,
    from_microk8s_service,
    from_node_annotations,
    parse_local_registry_hosting,
)

KEP_EXAMPLE = """\
host: "localhost:5001"
hostFromContainerRuntime: "kind-registry:5000"
hostFromClusterNetwork: "kind-registry:5000"
help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
"""


def test_parse_kep_1755_example() -> None:
    reg, help_url, note = parse_local_registry_hosting({CONFIGMAP_KEY: KEP_EXAMPLE})
    assert note == ""
    assert help_url == "https://kind.sigs.k8s.io/docs/user/local-registry/"
    assert reg == RegistryHosting(
        host="localhost:5001",
        host_from_container_runtime="kind-registry:5000",
        host_from_cluster_network="kind-registry:5000",
        help=help_url,
    )
    assert reg.pull_host == "kind-registry:5000"


@pytest.mark.parametrize(
    ("data", "note"),
    [
        ({}, "has no 'localRegistryHosting.v1' key"),
        ({CONFIGMAP_KEY: "host: [unclosed"}, "is not valid YAML"),
        ({CONFIGMAP_KEY: "- a list"}, "is not a YAML mapping"),
        ({CONFIGMAP_KEY: 'help: "https://example.com/setup"'}, "has no host"),
        ({CONFIGMAP_KEY: 'host: "not a host!"'}, "is not a valid registry host"),
        ({CONFIGMAP_KEY: 'host: "ok:5000"\nhostFromContainerRuntime: "bad host"'}, "bad host"),
    ],
)
def test_parse_rejects_with_a_note(data: dict[str, str], note: str) -> None:
    reg, _, got = parse_local_registry_hosting(data)
    assert reg is None
    assert note in got


def test_parse_help_without_host_keeps_help() -> None:
    reg, help_url, _ = parse_local_registry_hosting({CONFIGMAP_KEY: "help: https://x/setup"})
    assert reg is None
    assert help_url == "https://x/setup"


def test_host_with_path_on_unknown_cluster_becomes_single_name() -> None:
    data = {CONFIGMAP_KEY: "host: registry.example.com/team"}
    reg, _, _ = parse_local_registry_hosting(data, product=P.UNKNOWN)
    assert reg is not None
    assert (reg.host, reg.single_name) == ("registry.example.com", "team")
    reg, _, _ = parse_local_registry_hosting(data, product=P.KIND)
    assert reg is not None
    assert (reg.host, reg.single_name) == ("registry.example.com/team", "")


@pytest.mark.parametrize(
    ("annotations", "expected", "source"),
    [
        (
            {"tilt.dev/registry": "localhost:5000", "tilt.dev/registry-from-cluster": "reg:5000"},
            RegistryHosting(host="localhost:5000", host_from_container_runtime="reg:5000"),
            RegistrySource.NODE_TILT,
        ),
        (
            {"kind.x-k8s.io/registry": "localhost:5001"},
            RegistryHosting(host="localhost:5001"),
            RegistrySource.NODE_KIND,
        ),
        (  # tilt.dev wins over kind.x-k8s.io, as in Tilt
            {"tilt.dev/registry": "localhost:5000", "kind.x-k8s.io/registry": "localhost:5001"},
            RegistryHosting(host="localhost:5000"),
            RegistrySource.NODE_TILT,
        ),
        ({"other": "x"}, None, RegistrySource.NONE),
        ({"tilt.dev/registry": "bad host"}, None, RegistrySource.NONE),
    ],
)
def test_node_annotations(
    annotations: dict[str, str], expected: RegistryHosting | None, source: RegistrySource
) -> None:
    reg, got_source, _ = from_node_annotations(annotations)
    assert reg == expected
    assert got_source is source


def test_microk8s_service() -> None:
    reg, _ = from_microk8s_service({"spec": {"ports": [{"port": 5000, "nodePort": 32000}]}})
    assert reg == RegistryHosting(host="localhost:32000")
    reg, note = from_microk8s_service({"spec": {"ports": []}})
    assert reg is None
    assert "no nodePort" in note


CM = {CONFIGMAP_KEY: 'host: "localhost:5001"'}
NODE = {"tilt.dev/registry": "localhost:5002"}
MK8S = {"spec": {"ports": [{"nodePort": 32000}]}}


@pytest.mark.parametrize(
    ("facts", "product", "host", "source"),
    [
        (
            ClusterFacts(configmap_data=CM, node_annotations=NODE),
            P.KIND,
            "localhost:5001",
            "configmap",
        ),
        (ClusterFacts(node_annotations=NODE), P.KIND, "localhost:5002", "node-annotation-tilt"),
        (
            ClusterFacts(
                microk8s_service=MK8S, node_annotations=NODE, container_runtime="containerd://1"
            ),
            P.MICROK8S,
            "localhost:32000",
            "microk8s",
        ),
        # microk8s on the docker runtime builds into its engine: no add-on lookup (Tilt)
        (
            ClusterFacts(
                microk8s_service=MK8S, node_annotations=NODE, container_runtime="docker://2"
            ),
            P.MICROK8S,
            "localhost:5002",
            "node-annotation-tilt",
        ),
        # the add-on only counts on microk8s
        (ClusterFacts(microk8s_service=MK8S, node_annotations={}), P.KIND, None, "none"),
        # a ConfigMap without host falls through to the Node
        (
            ClusterFacts(configmap_data={CONFIGMAP_KEY: "help: h"}, node_annotations=NODE),
            P.KIND,
            "localhost:5002",
            "node-annotation-tilt",
        ),
        (ClusterFacts(), P.KIND, None, "none"),
    ],
)
def test_precedence(facts: ClusterFacts, product: P, host: str | None, source: str) -> None:
    d = discover(facts, product)
    assert (d.registry.host if d.registry else None) == host
    assert d.source == source


def test_nothing_found_explains_what_was_looked_at() -> None:
    d = discover(ClusterFacts(errors=("Nodes: 403 Forbidden",)), P.MICROK8S)
    assert d.registry is None
    assert "Nodes: 403 Forbidden" in d.notes
    assert any("not found" in n for n in d.notes)
    assert any("microk8s enable registry" in n for n in d.notes)


def test_cluster_registry_wins_and_says_so() -> None:
    d = discover(ClusterFacts(configmap_data={CONFIGMAP_KEY: KEP_EXAMPLE}), P.KIND)
    choice = choose_registry(d, tiltfile_host="gcr.io/me", context="kind-dev")
    assert choice.registry is not None
    assert choice.registry.host == "localhost:5001"
    assert choice.source is RegistrySource.CONFIGMAP
    assert choice.reason == (
        "Registry: localhost:5001 from the kube-public/local-registry-hosting ConfigMap (KEP-1755)"
        " of context 'kind-dev' (the cluster pulls from kind-registry:5000); it wins over the "
        "Tiltfile's default_registry('gcr.io/me'), as in Tilt: a registry the cluster advertises "
        "is the one it can pull from"
    )


def test_tiltfile_registry_when_cluster_has_none() -> None:
    choice = choose_registry(
        discover(ClusterFacts(), P.UNKNOWN),
        tiltfile_host="127.0.0.1:5000",
        tiltfile_host_from_cluster="registry:5000",
        tiltfile_single_name="dev",
    )
    assert choice.source is RegistrySource.TILTFILE
    assert choice.registry == RegistryHosting(
        host="127.0.0.1:5000", host_from_container_runtime="registry:5000", single_name="dev"
    )
    assert "from the Tiltfile's default_registry() (the cluster advertises none)" in choice.reason
    assert "the cluster pulls from registry:5000" in choice.reason


def test_no_registry_at_all_points_to_help() -> None:
    d = discover(ClusterFacts(configmap_data={CONFIGMAP_KEY: "help: https://h"}), P.KIND)
    choice = choose_registry(d)
    assert choice.registry is None
    assert choice.reason.endswith("to set one up: https://h")


def test_unreachable_cluster_is_not_advertising_none() -> None:
    d = discover(ClusterFacts(errors=("ConfigMap ...: connection refused",)), P.KIND)
    assert d.unreachable
    assert choose_registry(d, context="kind-dev").reason == (
        "Registry: none (the cluster of context 'kind-dev' could not be asked and the Tiltfile "
        "sets none)"
    )
    assert "(the cluster could not be asked)" in choose_registry(d, tiltfile_host="r:5000").reason
