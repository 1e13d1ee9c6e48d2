"""Where the cluster's local registry is, and whether it or the Tiltfile's wins.

Tilt's order of precedence (``internal/k8s/registry.go``), first found wins:

1. the ``local-registry-hosting`` ConfigMap in ``kube-public``
   (KEP-1755: key ``localRegistryHosting.v1``, YAML with ``host``,
   ``hostFromContainerRuntime``, ``hostFromClusterNetwork``, ``help``);
2. on microk8s, the registry add-on: Service ``registry`` in namespace
   ``container-registry``, pushed to at ``localhost:<its first nodePort>``;
3. the first Node's annotations: ``tilt.dev/registry`` (with
   ``tilt.dev/registry-from-cluster`` as the host the runtime pulls from), else
   ``kind.x-k8s.io/registry``;

and only then the Tiltfile's ``default_registry(host, host_from_cluster=,
single_name=)``. As in Tilt, a registry the cluster advertises wins over the
Tiltfile's (users have asked otherwise, Tilt #4125); `choose_registry` keeps
that rule and says, in one log line, which one won and why.

Parsing is pure (`parse_local_registry_hosting`, `from_node_annotations`,
`from_microk8s_service`, `discover`); fetching goes through the small
`ClusterReader` protocol, whose `KubeClusterReader` implementation calls the
official ``kubernetes`` client.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tilt.registry.cluster import ClusterProduct

__all__ = [
    "CONFIGMAP_KEY",
    "CONFIGMAP_NAME",
    "CONFIGMAP_NAMESPACE",
    "ClusterFacts",
    "ClusterReader",
    "Discovery",
    "KubeClusterReader",
    "RegistryChoice",
    "RegistryHosting",
    "RegistrySource",
    "choose_registry",
    "discover",
    "from_microk8s_service",
    "from_node_annotations",
    "parse_local_registry_hosting",
    "validate_host",
]

CONFIGMAP_NAMESPACE = "kube-public"
CONFIGMAP_NAME = "local-registry-hosting"
CONFIGMAP_KEY = "localRegistryHosting.v1"
TILT_ANNOTATION = "tilt.dev/registry"
TILT_ANNOTATION_FROM_CLUSTER = "tilt.dev/registry-from-cluster"
KIND_ANNOTATION = "kind.x-k8s.io/registry"
MICROK8S_NAMESPACE = "container-registry"
MICROK8S_SERVICE = "registry"

# host[:port][/path], as Docker accepts a registry host (Tilt validates the same way).
_HOST_RE = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"
)


class RegistrySource(enum.StrEnum):
    """Where a registry came from."""

    CONFIGMAP = "configmap"  # kube-public/local-registry-hosting (KEP-1755)
    MICROK8S = "microk8s"  # the microk8s registry add-on
    NODE_TILT = "node-annotation-tilt"  # tilt.dev/registry on the first Node
    NODE_KIND = "node-annotation-kind"  # kind.x-k8s.io/registry on the first Node
    TILTFILE = "tiltfile"  # default_registry()
    NONE = "none"

    @property
    def describe(self) -> str:
        return {
            RegistrySource.CONFIGMAP: (
                f"the {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME} ConfigMap (KEP-1755)"
            ),
            RegistrySource.MICROK8S: (
                f"the microk8s registry add-on (Service {MICROK8S_NAMESPACE}/{MICROK8S_SERVICE})"
            ),
            RegistrySource.NODE_TILT: f"the first Node's {TILT_ANNOTATION} annotation",
            RegistrySource.NODE_KIND: f"the first Node's {KIND_ANNOTATION} annotation",
            RegistrySource.TILTFILE: "the Tiltfile's default_registry()",
            RegistrySource.NONE: "nowhere",
        }[self]


@dataclass(frozen=True, kw_only=True)
class RegistryHosting:
    """A registry: where we push, and where the cluster pulls from.

    Attributes:
        host: Where tools outside the cluster push (``localhost:5001``),
            possibly with a path (``gcr.io/my-project``).
        host_from_container_runtime: Where the cluster's runtime pulls from
            (image refs in the applied objects); ``""`` means ``host``.
        host_from_cluster_network: Where pods reach it (informational).
        single_name: Push every image to this one repository (Tilt's
            ``default_registry(single_name=)``).
        help: A URL the cluster publishes for setting the registry up.
    """

    host: str
    host_from_container_runtime: str = ""
    host_from_cluster_network: str = ""
    single_name: str = ""
    help: str = ""

    @property
    def pull_host(self) -> str:
        """The host the cluster pulls images from."""
        return self.host_from_container_runtime or self.host


@dataclass(frozen=True, kw_only=True)
class Discovery:
    """What the cluster says about its registry.

    Attributes:
        registry: The registry found, or ``None``.
        source: Where it was found (`RegistrySource.NONE` when not found).
        help: A setup URL the cluster advertised without a host.
        notes: What was looked at and why it did not count (for `tilt doctor`
            and the debug log): ``"ConfigMap kube-public/... not found"``.
        unreachable: Reads failed (the cluster could not be asked).
    """

    registry: RegistryHosting | None = None
    source: RegistrySource = RegistrySource.NONE
    help: str = ""
    notes: tuple[str, ...] = ()
    unreachable: bool = False


@dataclass(frozen=True, kw_only=True)
class ClusterFacts:
    """What the registry discovery reads from the cluster (all optional).

    Attributes:
        configmap_data: ``data`` of the local-registry-hosting ConfigMap, or ``None``.
        microk8s_service: The microk8s registry Service as a dict (``spec.ports``), or ``None``.
        node_annotations: The first Node's annotations, or ``None`` without nodes.
        container_runtime: The first Node's ``containerRuntimeVersion``
            (``containerd://1.7.2``, ``docker://24.0``), ``""`` if unknown.
        errors: Reads that failed for another reason than "not found".
    """

    configmap_data: Mapping[str, str] | None = None
    microk8s_service: Mapping[str, Any] | None = None
    node_annotations: Mapping[str, str] | None = None
    container_runtime: str = ""
    errors: tuple[str, ...] = field(default=())

    @property
    def runtime_name(self) -> str:
        """``containerd``, ``docker``, ``cri-o`` ... (the scheme of ``container_runtime``)."""
        return self.container_runtime.split("://", 1)[0] if self.container_runtime else ""


def validate_host(host: str) -> str | None:
    """Why ``host`` is not a valid registry host, or ``None`` when it is."""
    if not host:
        return "empty host"
    if not _HOST_RE.match(host):
        return f"{host!r} is not a valid registry host (want e.g. 'localhost:5000')"
    return None


def parse_local_registry_hosting(
    data: Mapping[str, str], *, product: ClusterProduct = ClusterProduct.UNKNOWN
) -> tuple[RegistryHosting | None, str, str]:
    """Parse the KEP-1755 ConfigMap's ``data``.

    Returns:
        ``(registry or None, help URL, note)``: the note says why there is no
        registry (missing key, bad YAML, no host, invalid host) or is ``""``.
        As Tilt does for a cluster it cannot name, a ``host`` with a path
        (``registry.example.com/team``) is split into host and ``single_name``.
    """
    import yaml

    text = data.get(CONFIGMAP_KEY)
    if text is None:
        return None, "", f"the ConfigMap has no {CONFIGMAP_KEY!r} key"
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return None, "", f"{CONFIGMAP_KEY} is not valid YAML: {str(e).splitlines()[0]}"
    if not isinstance(doc, dict):
        return None, "", f"{CONFIGMAP_KEY} is not a YAML mapping"

    def s(key: str) -> str:
        v = doc.get(key)
        return v.strip() if isinstance(v, str) else ""

    help_url = s("help")
    host = s("host")
    if not host:
        return None, help_url, f"{CONFIGMAP_KEY} has no host"
    single_name = ""
    if product is ClusterProduct.UNKNOWN and "/" in host:
        host, single_name = host.split("/", 1)
    reg = RegistryHosting(
        host=host,
        host_from_container_runtime=s("hostFromContainerRuntime"),
        host_from_cluster_network=s("hostFromClusterNetwork"),
        single_name=single_name,
        help=help_url,
    )
    for h in (reg.host, reg.host_from_container_runtime):
        if h and (why := validate_host(h)):
            return None, help_url, f"{CONFIGMAP_KEY}: {why}"
    return reg, help_url, ""


def from_node_annotations(
    annotations: Mapping[str, str],
) -> tuple[RegistryHosting | None, RegistrySource, str]:
    """The registry a Node's annotations name (Tilt's kind and tilt.dev scripts)."""
    tilt_host = (annotations.get(TILT_ANNOTATION) or "").strip()
    if tilt_host:
        from_cluster = annotations.get(TILT_ANNOTATION_FROM_CLUSTER) or ""
        reg = RegistryHosting(host=tilt_host, host_from_container_runtime=from_cluster.strip())
        source = RegistrySource.NODE_TILT
    else:
        kind_host = (annotations.get(KIND_ANNOTATION) or "").strip()
        if not kind_host:
            return None, RegistrySource.NONE, "the first Node has no registry annotation"
        reg = RegistryHosting(host=kind_host)
        source = RegistrySource.NODE_KIND
    for h in (reg.host, reg.host_from_container_runtime):
        if h and (why := validate_host(h)):
            return None, RegistrySource.NONE, f"the Node's registry annotation: {why}"
    return reg, source, ""


def from_microk8s_service(service: Mapping[str, Any]) -> tuple[RegistryHosting | None, str]:
    """The microk8s add-on's registry: ``localhost:<nodePort of the first port>``."""
    ports = (service.get("spec") or {}).get("ports") or []
    node_port = ports[0].get("nodePort") if ports and isinstance(ports[0], dict) else None
    if not node_port:
        return None, "the microk8s registry Service has no nodePort"
    return RegistryHosting(host=f"localhost:{node_port}"), ""


def discover(facts: ClusterFacts, product: ClusterProduct) -> Discovery:
    """Apply Tilt's precedence to what was read from the cluster (pure)."""
    notes: list[str] = list(facts.errors)
    help_url = ""
    if facts.configmap_data is None:
        notes.append(f"ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}: not found")
    else:
        reg, help_url, note = parse_local_registry_hosting(facts.configmap_data, product=product)
        if reg is not None:
            return Discovery(registry=reg, source=RegistrySource.CONFIGMAP, help=help_url)
        notes.append(f"ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}: {note}")
    if product is ClusterProduct.MICROK8S and facts.runtime_name != "docker":
        if facts.microk8s_service is None:
            notes.append(
                "microk8s without its registry add-on: run `sudo microk8s enable registry`"
            )
        else:
            reg, note = from_microk8s_service(facts.microk8s_service)
            if reg is not None:
                return Discovery(
                    registry=reg, source=RegistrySource.MICROK8S, help=help_url, notes=tuple(notes)
                )
            notes.append(note)
    if facts.node_annotations is None:
        notes.append("no Node to read registry annotations from")
    else:
        reg, source, note = from_node_annotations(facts.node_annotations)
        if reg is not None:
            return Discovery(registry=reg, source=source, help=help_url, notes=tuple(notes))
        notes.append(note)
    return Discovery(help=help_url, notes=tuple(notes), unreachable=bool(facts.errors))


@dataclass(frozen=True, kw_only=True)
class RegistryChoice:
    """The registry images go to, where it came from, and the log line saying so."""

    registry: RegistryHosting | None
    source: RegistrySource
    reason: str


def choose_registry(
    discovery: Discovery,
    *,
    tiltfile_host: str = "",
    tiltfile_host_from_cluster: str = "",
    tiltfile_single_name: str = "",
    context: str = "",
) -> RegistryChoice:
    """Tilt's rule: the cluster's registry wins over ``default_registry()``.

    Returns:
        The choice, with one line for the log that says which won and why.
    """
    where = f" of context {context!r}" if context else ""
    tiltfile = (
        RegistryHosting(
            host=tiltfile_host,
            host_from_container_runtime=tiltfile_host_from_cluster,
            single_name=tiltfile_single_name,
        )
        if tiltfile_host
        else None
    )
    cluster = discovery.registry
    if cluster is not None:
        reason = f"Registry: {cluster.host} from {discovery.source.describe}{where}"
        if cluster.pull_host != cluster.host:
            reason += f" (the cluster pulls from {cluster.pull_host})"
        if tiltfile is not None and tiltfile.host != cluster.host:
            reason += (
                f"; it wins over the Tiltfile's default_registry({tiltfile.host!r}), as in "
                "Tilt: a registry the cluster advertises is the one it can pull from"
            )
        return RegistryChoice(registry=cluster, source=discovery.source, reason=reason)
    cluster_said = (
        f"the cluster{where} could not be asked"
        if discovery.unreachable
        else f"the cluster{where} advertises none"
    )
    if tiltfile is not None:
        reason = (
            f"Registry: {tiltfile.host} from the Tiltfile's default_registry() ({cluster_said})"
        )
        if tiltfile.pull_host != tiltfile.host:
            reason += f"; the cluster pulls from {tiltfile.pull_host}"
        return RegistryChoice(registry=tiltfile, source=RegistrySource.TILTFILE, reason=reason)
    reason = f"Registry: none ({cluster_said} and the Tiltfile sets none)"
    if discovery.help:
        reason += f"; to set one up: {discovery.help}"
    return RegistryChoice(registry=None, source=RegistrySource.NONE, reason=reason)


# --- fetching ---------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    reason = getattr(exc, "reason", None)
    if reason is not None:  # urllib3's MaxRetryError: the underlying connection error
        text = str(reason)
    return text.splitlines()[0][:300] if text else type(exc).__name__


class ClusterReader(Protocol):
    """Reads what registry discovery needs from a cluster (blocking calls)."""

    def read_facts(self, product: ClusterProduct) -> ClusterFacts: ...


class KubeClusterReader:
    """`ClusterReader` through the official ``kubernetes`` client.

    Args:
        api_client: A ``kubernetes.client.ApiClient`` for the context.
        timeout_s: Per-request timeout.
    """

    def __init__(self, api_client: Any, *, timeout_s: float = 5.0) -> None:
        self._api_client = api_client
        self._timeout_s = timeout_s

    def read_facts(self, product: ClusterProduct) -> ClusterFacts:
        import json

        from kubernetes import client as k8s
        from kubernetes.client.exceptions import ApiException

        core = k8s.CoreV1Api(self._api_client)
        errors: list[str] = []
        unreachable = False

        def get(what: str, fn: Any, *args: Any, **kw: Any) -> dict[str, Any] | None:
            """The object as JSON (no model: a field the client does not know must not fail)."""
            nonlocal unreachable
            if unreachable:  # one "cannot connect" is enough; don't wait for each read
                return None
            try:
                resp = fn(*args, _request_timeout=self._timeout_s, _preload_content=False, **kw)
                return dict(json.loads(resp.data))
            except ApiException as e:
                if e.status != 404:
                    errors.append(f"{what}: {e.status} {e.reason}")
            except ValueError as e:
                errors.append(f"{what}: not JSON: {e}")
            except Exception as e:  # unreachable cluster, TLS, ...
                unreachable = True
                errors.append(f"{what}: {type(e).__name__}: {_first_line(e)}")
            return None

        cm = get(
            f"ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}",
            core.read_namespaced_config_map,
            CONFIGMAP_NAME,
            CONFIGMAP_NAMESPACE,
        )
        svc = None
        if product is ClusterProduct.MICROK8S:
            svc = get(
                f"Service {MICROK8S_NAMESPACE}/{MICROK8S_SERVICE}",
                core.read_namespaced_service,
                MICROK8S_SERVICE,
                MICROK8S_NAMESPACE,
            )
        nodes = get("Nodes", core.list_node, limit=1)
        items = (nodes or {}).get("items") or []
        node: dict[str, Any] | None = items[0] if nodes is not None and items else None
        if node is not None:
            meta = node.get("metadata") or {}
            info = (node.get("status") or {}).get("nodeInfo") or {}
        return ClusterFacts(
            configmap_data=(
                {str(k): str(v) for k, v in (cm.get("data") or {}).items()} if cm else None
            ),
            microk8s_service=svc,
            node_annotations=(
                {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
                if node is not None
                else None
            ),
            container_runtime=str(info.get("containerRuntimeVersion") or "") if node else "",
            errors=tuple(errors),
        )
