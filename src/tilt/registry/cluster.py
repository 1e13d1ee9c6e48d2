"""Which Kubernetes product the current kubeconfig context points at.

`load_kube_context` reads the kubeconfig files the way ``kubectl`` merges them
(``$KUBECONFIG``, colon-separated, else ``~/.kube/config``; for each context,
cluster and user the first file that names it wins, and so does the first
``current-context``), and keeps what Tilt looks at: the context and cluster
names, the server URL, the file a context came from and the cluster's
certificate authority path.

`detect_product` is a pure function of that. It follows Tilt's rules
(``clusterid.ProductFromContext``): the cluster name's prefix first
(``minikube``, ``docker-desktop``/``docker-for-desktop-cluster``, ``gke_``,
``kind``/``kind-``, ``microk8s-cluster``, ``api-crc-testing``, ``k3d-``,
``rancher-desktop``, ``colima``), then a context defined in a file under
``~/.config/k3d/`` (k3d), a certificate authority under ``~/.minikube/``
(a minikube profile with a custom name), and a file named ``kind-config-*``
(kind before 0.6). Beyond Tilt, it also names OrbStack (cluster ``orbstack``),
EKS (an ``arn:aws:eks:`` cluster or a ``*.eks.amazonaws.com`` server) and AKS
(a ``*.azmk8s.io`` server), so `tilt doctor` can say what it sees.
"""

from __future__ import annotations

import enum
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ClusterProduct",
    "KubeConfigError",
    "KubeContextInfo",
    "detect_product",
    "kubeconfig_paths",
    "load_kube_context",
    "product_cluster_name",
]


class ClusterProduct(enum.StrEnum):
    """A Kubernetes product, named as Tilt names it (``clusterid.Product``)."""

    NONE = "none"  # no kubeconfig or no current context
    UNKNOWN = "unknown"  # a cluster we cannot name (often a remote one)
    KIND = "kind"
    K3D = "k3d"
    MINIKUBE = "minikube"
    MICROK8S = "microk8s"
    DOCKER_DESKTOP = "docker-desktop"
    RANCHER_DESKTOP = "rancher-desktop"
    COLIMA = "colima"
    ORBSTACK = "orbstack"
    CRC = "crc"
    GKE = "gke"
    EKS = "eks"
    AKS = "aks"

    @property
    def is_dev_cluster(self) -> bool:
        """A cluster on the developer's machine (Tilt's ``IsDevCluster``, plus OrbStack)."""
        return self in _DEV_CLUSTERS

    @property
    def is_remote(self) -> bool:
        """A managed cloud cluster, or one we cannot name."""
        return self in (ClusterProduct.GKE, ClusterProduct.EKS, ClusterProduct.AKS) or (
            self is ClusterProduct.UNKNOWN
        )


_DEV_CLUSTERS = frozenset(
    {
        ClusterProduct.KIND,
        ClusterProduct.K3D,
        ClusterProduct.MINIKUBE,
        ClusterProduct.MICROK8S,
        ClusterProduct.DOCKER_DESKTOP,
        ClusterProduct.RANCHER_DESKTOP,
        ClusterProduct.COLIMA,
        ClusterProduct.ORBSTACK,
        ClusterProduct.CRC,
    }
)


class KubeConfigError(Exception):
    """A kubeconfig file that cannot be read; the message names the file."""


@dataclass(frozen=True, kw_only=True)
class KubeContextInfo:
    """What the kubeconfig says about one context.

    Attributes:
        context: The context's name (``kind-dev``).
        cluster: The cluster the context points at (its name in the kubeconfig).
        server: The API server URL, ``""`` when the cluster entry is missing.
        namespace: The context's namespace, ``""`` for the default.
        user: The user entry the context uses.
        origin: The kubeconfig file the context came from (Tilt's ``LocationOfOrigin``).
        certificate_authority: The cluster's ``certificate-authority`` file, if any.
    """

    context: str
    cluster: str
    server: str = ""
    namespace: str = ""
    user: str = ""
    origin: str = ""
    certificate_authority: str = ""

    @property
    def server_is_loopback(self) -> bool:
        """Whether the API server listens on this machine (127.0.0.0/8, ::1, localhost)."""
        host = urlsplit(self.server).hostname or ""
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def kubeconfig_paths(
    environ: Mapping[str, str] | None = None, home: str | None = None
) -> list[str]:
    """The kubeconfig files kubectl would read, in precedence order."""
    env = os.environ if environ is None else environ
    value = env.get("KUBECONFIG", "")
    if value:
        return [p for p in value.split(os.pathsep) if p]
    base = home if home is not None else str(Path.home())
    return [os.path.join(base, ".kube", "config")]


def _named(entries: Any) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(entries, list):
        return out
    for e in entries:
        if isinstance(e, dict) and isinstance(e.get("name"), str):
            body = next((v for k, v in e.items() if k != "name" and isinstance(v, dict)), {})
            out.append((e["name"], body))
    return out


def load_kube_context(
    context: str = "",
    *,
    paths: Sequence[str] | None = None,
) -> KubeContextInfo | None:
    """The context ``context`` (default: the current one) from the kubeconfig files.

    Args:
        context: A context name (``--context``/``k8s_context()``); ``""`` for
            the current context.
        paths: The files to read (default: `kubeconfig_paths`); missing files
            are skipped, as kubectl does.

    Returns:
        The context, or ``None`` when no file exists or no context is chosen.

    Raises:
        KubeConfigError: a file is not valid YAML, or ``context`` is named but
            not defined.
    """
    import yaml

    files = list(paths) if paths is not None else kubeconfig_paths()
    current = ""
    contexts: dict[str, tuple[dict[str, Any], str]] = {}
    clusters: dict[str, dict[str, Any]] = {}
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except FileNotFoundError:
            continue
        except (OSError, yaml.YAMLError) as e:
            raise KubeConfigError(f"{path}: cannot read kubeconfig: {e}") from None
        if not isinstance(data, dict):
            continue
        if not current and isinstance(data.get("current-context"), str):
            current = data["current-context"]
        for name, body in _named(data.get("contexts")):
            contexts.setdefault(name, (body, os.path.abspath(path)))
        for name, body in _named(data.get("clusters")):
            clusters.setdefault(name, body)
    chosen = context or current
    if not chosen:
        return None
    if chosen not in contexts:
        if context:
            known = ", ".join(sorted(contexts)) or "none"
            raise KubeConfigError(
                f"context {context!r} is not in the kubeconfig ({', '.join(files)}); "
                f"contexts defined: {known}"
            )
        return KubeContextInfo(context=chosen, cluster="")
    body, origin = contexts[chosen]
    cluster_name = str(body.get("cluster") or "")
    cluster = clusters.get(cluster_name, {})
    return KubeContextInfo(
        context=chosen,
        cluster=cluster_name,
        server=str(cluster.get("server") or ""),
        namespace=str(body.get("namespace") or ""),
        user=str(body.get("user") or ""),
        origin=origin,
        certificate_authority=str(cluster.get("certificate-authority") or ""),
    )


def _under(path: str, folder: str) -> bool:
    return bool(path) and path.startswith(folder.rstrip(os.sep) + os.sep)


def detect_product(info: KubeContextInfo | None, *, home: str | None = None) -> ClusterProduct:
    """Name the product behind a context (pure; ``home`` defaults to the user's).

    See the module docstring for the rules and their order.
    """
    if info is None:
        return ClusterProduct.NONE
    cn = info.cluster
    prefixes: list[tuple[tuple[str, ...], ClusterProduct]] = [
        (("minikube",), ClusterProduct.MINIKUBE),
        (("docker-for-desktop-cluster", "docker-desktop"), ClusterProduct.DOCKER_DESKTOP),
        (("gke_",), ClusterProduct.GKE),
        (("kind-",), ClusterProduct.KIND),
        (("microk8s-cluster",), ClusterProduct.MICROK8S),
        (("api-crc-testing",), ClusterProduct.CRC),
        (("k3d-",), ClusterProduct.K3D),
        (("rancher-desktop",), ClusterProduct.RANCHER_DESKTOP),
        (("colima",), ClusterProduct.COLIMA),
        (("orbstack",), ClusterProduct.ORBSTACK),
        (("arn:aws:eks:",), ClusterProduct.EKS),
    ]
    if cn == "kind":
        return ClusterProduct.KIND
    for options, product in prefixes:
        if cn.startswith(options):
            return product
    base = home if home is not None else str(Path.home())
    if _under(info.origin, os.path.join(base, ".config", "k3d")):
        return ClusterProduct.K3D
    if _under(info.certificate_authority, os.path.join(base, ".minikube")):
        return ClusterProduct.MINIKUBE
    if os.path.basename(info.origin).startswith("kind-config-"):
        return ClusterProduct.KIND
    host = urlsplit(info.server).hostname or ""
    if host.endswith(".eks.amazonaws.com"):
        return ClusterProduct.EKS
    if host.endswith(".azmk8s.io"):
        return ClusterProduct.AKS
    return ClusterProduct.UNKNOWN


def product_cluster_name(info: KubeContextInfo, product: ClusterProduct) -> str:
    """The name ``kind``/``k3d`` know the cluster by (for ``--name``/``-c``).

    ``kind-dev`` -> ``dev``; ``k3d-k3s-default`` -> ``k3s-default``; a k3d
    kubeconfig under ``~/.config/k3d/<name>/`` -> ``<name>``.
    """
    cn = info.cluster
    if product is ClusterProduct.KIND:
        if cn.startswith("kind-"):
            return cn[len("kind-") :]
        base = os.path.basename(info.origin)
        if base.startswith("kind-config-"):
            return base[len("kind-config-") :]
        return cn or "kind"
    if product is ClusterProduct.K3D:
        if cn.startswith("k3d-"):
            return cn[len("k3d-") :]
        parent = os.path.basename(os.path.dirname(info.origin))
        return parent or cn or "k3s-default"
    return cn
