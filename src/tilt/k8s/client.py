"""The official ``kubernetes`` client behind a small interface.

Blocking calls and streams run on threads; :func:`iterate_in_thread` feeds a blocking iterator
into the asyncio loop. The context comes from kubeconfig (``KUBECONFIG`` may list several files),
with a context/namespace override; :func:`check_context_allowed` refuses a context that is not a
local cluster unless ``allow_k8s_contexts`` names it, with Tilt's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

_kcfg: Any = k8s_config  # the client's config loaders are untyped

__all__ = [
    "ApiError",
    "ClusterContext",
    "ContextError",
    "ContextRefused",
    "KubeClient",
    "ResourceInfo",
    "check_context_allowed",
    "cluster_product",
    "iterate_in_thread",
    "load_context",
]

T = TypeVar("T")
Obj = dict[str, Any]

#: Cluster products that only run on the developer's machine (Tilt's IsDevCluster).
LOCAL_PRODUCTS = frozenset(
    {
        "kind",
        "k3d",
        "minikube",
        "microk8s",
        "docker-desktop",
        "rancher-desktop",
        "colima",
        "orbstack",
        "crc",
        "loopback",
    }
)


class ContextError(Exception):
    """The kubeconfig cannot be read or has no usable context."""


class ContextRefused(ContextError):
    """The context is not a local cluster and ``allow_k8s_contexts`` does not name it."""


class ApiError(Exception):
    """A non-2xx answer from the API server (``status``, ``reason`` from its Status body)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message or reason or f"HTTP {status}")
        self.status, self.reason, self.message = status, reason, message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def gone(self) -> bool:
        return self.status == 410


@dataclass(frozen=True, kw_only=True)
class ClusterContext:
    """Which cluster we talk to and what kind of cluster it is."""

    name: str
    cluster: str
    server: str
    namespace: str
    product: str  # one of LOCAL_PRODUCTS, or "gke"/"eks"/"aks"/"remote"

    @property
    def local(self) -> bool:
        return self.product in LOCAL_PRODUCTS


def _loopback(server: str) -> bool:
    host = urlsplit(server).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False


def cluster_product(context: str, cluster: str, server: str) -> str:
    """The cluster product, from context and cluster names and the server address.

    Follows Tilt's env detection (cluster-name prefixes), plus a loopback API server. As in
    Tilt the cluster's name decides, not the context's: a context renamed ``kind-dev`` that
    points at cluster ``gke_proj_zone_prod`` is GKE (the context name is used only when the
    kubeconfig names no cluster).
    """
    names = [(cluster or context).lower()] if cluster or context else []
    server_host = (urlsplit(server).hostname or "").lower()

    def any_prefix(*prefixes: str) -> bool:
        return any(n.startswith(p) for n in names for p in prefixes)

    if any_prefix("kind-") or "kind" in names:
        return "kind"
    if any_prefix("k3d-"):
        return "k3d"
    if any_prefix("minikube"):
        return "minikube"
    if any_prefix("docker-desktop", "docker-for-desktop"):
        return "docker-desktop"
    if any_prefix("microk8s"):
        return "microk8s"
    if any_prefix("rancher-desktop"):
        return "rancher-desktop"
    if any_prefix("colima"):
        return "colima"
    if any_prefix("orbstack"):
        return "orbstack"
    if any_prefix("crc-", "api-crc-testing") or server_host.endswith("crc.testing"):
        return "crc"
    if any_prefix("gke_"):
        return "gke"
    if any_prefix("arn:aws:eks") or server_host.endswith(".eks.amazonaws.com"):
        return "eks"
    if server_host.endswith(".azmk8s.io"):
        return "aks"
    if _loopback(server):
        return "loopback"
    return "remote"


def check_context_allowed(ctx: ClusterContext, allowed: tuple[str, ...] | list[str]) -> None:
    """Raise :class:`ContextRefused` with Tilt's message unless the context may be used."""
    if ctx.local or ctx.name in allowed:
        return
    raise ContextRefused(
        f"Stop! {ctx.name} might be production.\n"
        "If you're sure you want to deploy there, add:\n"
        f"\tallow_k8s_contexts('{ctx.name}')\n"
        "to your Tiltfile. Otherwise, switch k8s contexts and restart Tilt."
    )


def load_context(
    *,
    kubeconfig: str | None = None,
    context: str = "",
    namespace: str = "",
    env: dict[str, str] | None = None,
) -> tuple[ClusterContext, k8s_client.Configuration]:
    """Read kubeconfig (``kubeconfig`` or ``$KUBECONFIG`` or ``~/.kube/config``).

    ``context``/``namespace`` override the current context and its namespace (Tilt's
    ``k8s_context()``/``--context`` and ``k8s_namespace()``/``--namespace``).
    """
    environ = os.environ if env is None else env
    path = kubeconfig or environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    try:
        contexts, current = _kcfg.list_kube_config_contexts(config_file=path)
    except (k8s_config.ConfigException, OSError, TypeError) as e:
        raise ContextError(f"cannot read kubeconfig {path}: {e}") from None
    chosen = None
    if not context and os.pathsep in path:
        context = _first_current_context(path)
    if context:
        chosen = next((c for c in contexts or [] if c["name"] == context), None)
        if chosen is None:
            names = ", ".join(c["name"] for c in contexts or []) or "none"
            raise ContextError(f"context {context!r} not found in {path} (contexts: {names})")
    else:
        chosen = current
    if not chosen:
        raise ContextError(f"no current context in {path}; set one or pass --context")
    cfg = k8s_client.Configuration()
    try:
        _kcfg.load_kube_config(
            config_file=path, context=chosen["name"], client_configuration=cfg, persist_config=False
        )
    except (k8s_config.ConfigException, OSError) as e:
        raise ContextError(f"cannot use context {chosen['name']!r} from {path}: {e}") from None
    info = chosen.get("context") or {}
    cluster = info.get("cluster", "")
    ns = namespace or info.get("namespace") or "default"
    ctx = ClusterContext(
        name=chosen["name"],
        cluster=cluster,
        server=cfg.host,
        namespace=ns,
        product=cluster_product(chosen["name"], cluster, cfg.host),
    )
    return ctx, cfg


def _first_current_context(path: str) -> str:
    """kubectl's merge rule: the first file that sets current-context wins."""
    import yaml

    for p in path.split(os.pathsep):
        with contextlib.suppress(OSError, yaml.YAMLError):
            with open(os.path.expanduser(p)) as f:
                data = yaml.safe_load(f) or {}
            if isinstance(data, dict) and data.get("current-context"):
                return str(data["current-context"])
    return ""


@dataclass(frozen=True, kw_only=True)
class ResourceInfo:
    """What discovery says about a kind: its URL plural and whether it is namespaced."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str = "", name: str = "", sub: str = "") -> str:
        base = "/api/" if "/" not in self.api_version else "/apis/"
        p = base + self.api_version
        if self.namespaced and namespace:
            p += f"/namespaces/{namespace}"
        p += f"/{self.plural}"
        if name:
            p += f"/{name}"
        if sub:
            p += f"/{sub}"
        return p


class _Stream:
    """A streaming HTTP response that another thread may close (to stop a watch)."""

    def __init__(self, resp: Any) -> None:
        self.resp = resp

    def lines(self) -> Iterator[bytes]:
        buf = b""
        for chunk in self.resp.stream(65536, decode_content=False):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                yield line
        if buf:
            yield buf

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.resp.shutdown()
        with contextlib.suppress(Exception):
            self.resp.release_conn()


class KubeClient:
    """Blocking generic access to the API through the official client's ``ApiClient``.

    Thread-safe: urllib3's pool serves concurrent calls (``max_connections`` of them).
    """

    def __init__(
        self,
        configuration: k8s_client.Configuration,
        *,
        namespace: str = "default",
        max_connections: int = 16,
    ) -> None:
        configuration.connection_pool_maxsize = max_connections
        # TCP keepalive as client-go: a followed log or watch on a connection that died
        # without a FIN (a laptop sleeping, a cluster VM gone) fails instead of hanging.
        configuration.keep_alive = True
        self.configuration = configuration
        self.api: Any = k8s_client.ApiClient(configuration)
        self.namespace = namespace
        self._discovery: dict[str, dict[str, ResourceInfo]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.api.close()

    # ------------------------------------------------------------------ raw requests
    def _serialize(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None,
        body: Any,
        content_type: str | None,
    ) -> tuple[Any, ...]:
        headers = {"Accept": "application/json"}
        if body is not None:
            # The generated client writes JSON for json and yaml content types alike (JSON is
            # YAML: what apply patches need); the emulated server checks it gets JSON.
            headers["Content-Type"] = content_type or "application/json"
        q = [(k, v) for k, v in (query or {}).items() if v is not None and v != ""]
        return tuple(
            self.api.param_serialize(
                method,
                path,
                query_params=q,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout_s: float | None = 30,
    ) -> Any:
        """One call; the decoded JSON answer. Non-2xx raises :class:`ApiError`."""
        req = self._serialize(method, path, query, body, content_type)
        try:
            resp: Any = self.api.call_api(*req, _request_timeout=timeout_s)
        except k8s_client.ApiException as e:
            raise _api_error(e.status or 0, e.reason or "", e.body) from None
        except Exception as e:  # urllib3 connection errors: the cluster is unreachable
            raise _unreachable(self.configuration.host, e) from None
        data = resp.read()
        if not 200 <= resp.status < 300:
            raise _api_error(resp.status, resp.reason or "", data)
        return json.loads(data) if data else None

    def open_stream(
        self, path: str, *, query: dict[str, Any] | None = None, timeout_s: float | None = None
    ) -> _Stream:
        """A GET whose body is read incrementally (watches, followed logs)."""
        req = self._serialize("GET", path, query, None, None)
        try:
            resp: Any = self.api.call_api(
                *req, _request_timeout=(10, timeout_s) if timeout_s else None
            )
        except k8s_client.ApiException as e:
            raise _api_error(e.status or 0, e.reason or "", e.body) from None
        except Exception as e:
            raise _unreachable(self.configuration.host, e) from None
        if not 200 <= resp.status < 300:
            raise _api_error(resp.status, resp.reason or "", resp.read())
        return _Stream(resp.response)

    # ------------------------------------------------------------------ websockets
    def _ws_url(self, path: str, query: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
        _, url, headers, _, _ = self.api.param_serialize(
            "GET", path, query_params=query, header_params={}, auth_settings=["BearerToken"]
        )
        return url, {k.lower(): v for k, v in (headers or {}).items()}

    def portforward(self, namespace: str, pod: str, port: int) -> Any:
        """The client's port-forward websocket to one pod port (its ``PortForward`` object).

        Built from the client's ws_client directly: going through ``CoreV1Api`` would load
        every generated model first (1.6 s on the first call).
        """
        from kubernetes.stream import ws_client

        url, headers = self._ws_url(
            f"/api/v1/namespaces/{namespace}/pods/{pod}/portforward", [("ports", str(port))]
        )
        try:
            ws: Any = ws_client
            return ws.portforward_call(self.configuration, "GET", url, headers=headers)
        except k8s_client.ApiException as e:
            raise ApiError(e.status or 0, "PortForward", str(e.reason)) from None

    def exec_stream(
        self, namespace: str, pod: str, container: str, argv: list[str], *, stdin: bool
    ) -> Any:
        """An exec websocket (the client's ``WSClient``, binary channels)."""
        from kubernetes.stream import ws_client

        query = [("command", a) for a in argv] + [
            ("container", container),
            ("stdin", "true" if stdin else "false"),
            ("stdout", "true"),
            ("stderr", "true"),
            ("tty", "false"),
        ]
        url, headers = self._ws_url(f"/api/v1/namespaces/{namespace}/pods/{pod}/exec", query)
        try:
            ws: Any = ws_client
            return ws.websocket_call(
                self.configuration,
                "GET",
                url,
                headers=headers,
                _preload_content=False,
                binary=True,
            )
        except k8s_client.ApiException as e:
            raise ApiError(e.status or 0, "Exec", str(e.reason)) from None

    # ------------------------------------------------------------------ discovery
    def resource(self, api_version: str, kind: str) -> ResourceInfo:
        """Discovery for one kind; refreshed once on a miss (a CRD applied a moment ago)."""
        for refresh in (False, True):
            table = self._group_version(api_version, refresh)
            if kind in table:
                return table[kind]
        raise ApiError(
            404, "NotFound", f'no kind "{kind}" is registered for version "{api_version}"'
        )

    def _group_version(self, api_version: str, refresh: bool) -> dict[str, ResourceInfo]:
        with self._lock:
            cached = self._discovery.get(api_version)
        if cached is not None and not refresh:
            return cached
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        try:
            data = self.request("GET", path)
        except ApiError as e:
            if e.not_found:
                data = {"resources": []}
            else:
                raise
        table = {
            r["kind"]: ResourceInfo(
                api_version=api_version,
                kind=r["kind"],
                plural=r["name"],
                namespaced=bool(r.get("namespaced")),
            )
            for r in data.get("resources") or []
            if "/" not in r["name"]
        }
        with self._lock:
            self._discovery[api_version] = table
        return table

    # ------------------------------------------------------------------ object helpers
    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Obj | None:
        info = self.resource(api_version, kind)
        try:
            obj: Obj = self.request("GET", info.path(namespace or self.namespace, name))
        except ApiError as e:
            if e.not_found:
                return None
            raise
        return obj

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> Obj:
        info = self.resource(api_version, kind)
        query = {"labelSelector": label_selector, "fieldSelector": field_selector}
        result: Obj = self.request("GET", info.path(namespace), query=query)
        return result

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str = "",
        *,
        propagation: str = "Background",
    ) -> bool:
        """Delete; False when it was already gone."""
        info = self.resource(api_version, kind)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        try:
            self.request("DELETE", info.path(namespace or self.namespace, name), body=body)
        except ApiError as e:
            if e.not_found:
                return False
            raise
        return True


def _unreachable(host: str, e: Exception) -> ApiError:
    """One short line: urllib3 nests the OS error deep in a long repr."""
    text = str(getattr(e, "reason", None) or e)
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    why = m.group(1).strip() if m else text.splitlines()[0][:200] if text else type(e).__name__
    return ApiError(0, "Unreachable", f"cannot reach the Kubernetes API at {host}: {why}")


def _api_error(status: int, reason: str, body: Any) -> ApiError:
    message = ""
    if isinstance(body, bytes | str) and body:
        try:
            data = json.loads(body)
            message = data.get("message", "")
            reason = data.get("reason", reason) or reason
        except (ValueError, AttributeError):
            message = body.decode(errors="replace") if isinstance(body, bytes) else body
    return ApiError(status, reason, message)


async def iterate_in_thread(
    open_iter: Callable[[], tuple[Iterator[T], Callable[[], None]]],
    *,
    max_buffered: int = 1000,
) -> AsyncIterator[T]:
    """Run a blocking iterator on a thread and yield its items in the loop.

    ``open_iter`` returns the iterator and a function that stops it from another thread
    (closing the HTTP response). Cancelling the consumer stops the thread's iterator.
    Exceptions raised by the iterator are re-raised here.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(max_buffered)
    stopper: list[Callable[[], None]] = []
    stopped = threading.Event()

    def put(kind: str, item: Any) -> None:
        with contextlib.suppress(Exception):  # the loop may be closing
            asyncio.run_coroutine_threadsafe(queue.put((kind, item)), loop).result()

    def run() -> None:
        try:
            it, stop = open_iter()
            stopper.append(stop)
            if stopped.is_set():
                stop()
            for item in it:
                if stopped.is_set():
                    break
                put("item", item)
        except BaseException as e:
            if not stopped.is_set():
                put("error", e)
            return
        if not stopped.is_set():
            put("end", None)

    thread = threading.Thread(target=run, daemon=True, name="k8s-stream")
    thread.start()
    try:
        while True:
            kind, item = await queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stopped.set()
        for stop in stopper:
            with contextlib.suppress(Exception):
                stop()
        # unblock a producer waiting on a full queue
        while not queue.empty():
            queue.get_nowait()
