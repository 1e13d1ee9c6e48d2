# ruff: noqa: E501
"""A Kubernetes API server emulated over real HTTP, for the official ``kubernetes`` client.

Why our own and not kmock (shared/notes/kmock/): kmock needs ~100 lines of private-API
patching and still ignores resourceVersion, never sends bookmarks or 410 Gone, has no field
managers, no immutable fields, no exec/port-forward upgrades, and adds aiohttp + kmock to the
dev dependencies. The semantics Tilt's code depends on are exactly those, so this emulator
implements them on the standard library (ThreadingHTTPServer + a small RFC 6455 framer):

- one global resourceVersion counter (like etcd); lists carry it, watches start after it;
  a watch from a compacted resourceVersion gets a 410 ``Expired`` ERROR event (lists: HTTP 410);
  ``allowWatchBookmarks`` gets BOOKMARK events; ``timeoutSeconds`` ends the watch;
- server-side apply (``application/apply-patch+yaml``) with per-manager field ownership,
  409 conflicts naming the other manager, ``force``; removal of fields a manager stops applying;
  a body carrying ``metadata.managedFields`` refused (400 ``metadata.managedFields must be
  nil``), its ``metadata.resourceVersion`` a precondition (409 when the object moved on);
- JSON merge / strategic-merge patch (as merge: lists replaced), PUT with optimistic concurrency;
- immutable fields answered with 422 in the real server's words, echoing the new value: Job
  template/selector and Deployment selector ``field is immutable``, Service clusterIP
  ``may not change once set``, StatefulSet ``spec: Forbidden: updates to statefulset spec ...``;
  annotations over 256 KiB answered with 422 ``Too long``;
- owner-reference garbage collection on delete (Background/Foreground; Orphan keeps children),
  finalizers delay deletion;
- CRDs become served resources when created; discovery for every served group/version;
- pod logs (``container``, ``follow``, ``previous``, ``sinceTime``, ``timestamps``), exec and
  port-forward over websockets (``v5.channel.k8s.io``/``v4.channel.k8s.io``).

The test drives the cluster side through this object's methods (it plays controller and
kubelet): ``put`` / ``patch_status`` / ``delete`` emit watch events like the real server does.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime
import hashlib
import itertools
import json
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Obj = dict[str, Any]


@dataclass
class ResourceInfo:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    subresources: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


BUILTIN: list[ResourceInfo] = [
    ResourceInfo("", "v1", "namespaces", "Namespace", False, ("status",)),
    ResourceInfo("", "v1", "pods", "Pod", True, ("status", "log", "exec", "portforward")),
    ResourceInfo("", "v1", "services", "Service", True, ("status",)),
    ResourceInfo("", "v1", "configmaps", "ConfigMap", True),
    ResourceInfo("", "v1", "secrets", "Secret", True),
    ResourceInfo("", "v1", "serviceaccounts", "ServiceAccount", True),
    ResourceInfo("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    ResourceInfo("", "v1", "events", "Event", True),
    ResourceInfo("", "v1", "nodes", "Node", False, ("status",)),
    ResourceInfo("apps", "v1", "deployments", "Deployment", True, ("status", "scale")),
    ResourceInfo("apps", "v1", "replicasets", "ReplicaSet", True, ("status",)),
    ResourceInfo("apps", "v1", "statefulsets", "StatefulSet", True, ("status",)),
    ResourceInfo("apps", "v1", "daemonsets", "DaemonSet", True, ("status",)),
    ResourceInfo("batch", "v1", "jobs", "Job", True, ("status",)),
    ResourceInfo("batch", "v1", "cronjobs", "CronJob", True, ("status",)),
    ResourceInfo("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("status",)),
    ResourceInfo("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceInfo("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceInfo("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceInfo(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
    ),
]

MAX_ANNOTATIONS_BYTES = 262144  # apimachinery's TotalAnnotationSizeLimitB


class ApiError(Exception):
    def __init__(
        self, code: int, reason: str, message: str, causes: list[Obj] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.causes = causes or []

    def status(self) -> Obj:
        status: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.causes:
            status["details"] = {"causes": self.causes}
        return status


def now_rfc3339(precise: bool = False) -> str:
    t = datetime.datetime.now(datetime.UTC)
    if precise:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------- selectors
_LBL = re.compile(
    r"^\s*(!?)([\w./-]+)\s*(?:(==|=|!=)\s*([\w.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$"
)


def _terms(sel: str) -> list[str]:
    return [t for t in re.split(r",(?![^(]*\))", sel or "") if t.strip()]


def label_match(labels: dict[str, str], sel: str) -> bool:
    for term in _terms(sel):
        m = _LBL.match(term)
        if not m:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
        neg, key, op, val, setop, vals = m.groups()
        if op in ("=", "=="):
            ok = labels.get(key) == val
        elif op == "!=":
            ok = labels.get(key) != val
        elif setop:
            opts = {v.strip() for v in vals.split(",")}
            ok = (labels.get(key) in opts) == (setop == "in")
        else:
            ok = (key in labels) != bool(neg)
        if not ok:
            return False
    return True


def field_match(obj: Obj, sel: str) -> bool:
    for term in _terms(sel):
        m = re.match(r"^\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not m:
            raise ApiError(400, "BadRequest", f"bad field selector {term!r}")
        key, op, val = m.groups()
        cur: Any = obj
        for part in key.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if (("" if cur is None else str(cur)) == val) != (op != "!="):
            return False
    return True


# ----------------------------------------------------------------------------- field ownership
def _leaves(obj: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Flatten to leaf paths; lists are atomic leaves (a simplification of list-map keys)."""
    out: dict[tuple[str, ...], Any] = {}
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            out.update(_leaves(v, (*prefix, k)))
    else:
        out[prefix] = obj
    return out


_SKIP_OWNERSHIP = {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")}


def _get_path(obj: Obj, path: tuple[str, ...]) -> Any:
    cur: Any = obj
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return _MISSING
        cur = cur[p]
    return cur


def _set_path(obj: Obj, path: tuple[str, ...], value: Any) -> None:
    cur = obj
    for p in path[:-1]:
        nxt = cur.get(p)
        if not isinstance(nxt, dict):
            nxt = cur[p] = {}
        cur = nxt
    cur[path[-1]] = copy.deepcopy(value)


def _del_path(obj: Obj, path: tuple[str, ...]) -> None:
    parents = []
    cur: Any = obj
    for p in path[:-1]:
        if not isinstance(cur, dict) or p not in cur:
            return
        parents.append((cur, p))
        cur = cur[p]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
    for parent, key in reversed(parents):  # drop maps left empty
        if parent[key] == {}:
            del parent[key]


_MISSING = object()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (the emulator also uses it for strategic merge patches)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# ----------------------------------------------------------------------------- immutability
def _go_value(value: Any) -> str:
    """A value as the API server prints it in a validation error (Go's ``%#v``; JSON here)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


#: What a real API server says about an update of each kind's immutable fields. Messages
#: echo the new value (``Invalid value: <the whole pod template>``), as the real ones do.
_STATEFULSET_FORBIDDEN = (
    "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
    "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden"
)


def _immutable_violations(info: ResourceInfo, old: Obj, new: Obj) -> list[str]:
    """The validation errors of an update that changes an immutable field (none: ``[]``)."""
    if info.kind == "Service":
        # pkg/apis/core/validation: the primary cluster IP "may not change once set" (the
        # server copies a changed spec.clusterIP into spec.clusterIPs before validating).
        a, b = _get_path(old, ("spec", "clusterIP")), _get_path(new, ("spec", "clusterIP"))
        if a not in (_MISSING, "", None, "None") and b not in (_MISSING, "", None) and a != b:
            return [
                f"spec.clusterIPs[0]: Invalid value: []string{{{_go_value(b)}}}: may not change once set"
            ]
        return []
    if info.kind == "StatefulSet":
        fixed = ("selector", "serviceName", "volumeClaimTemplates", "podManagementPolicy")
        for f in fixed:
            a, b = _get_path(old, ("spec", f)), _get_path(new, ("spec", f))
            if a is not _MISSING and b is not _MISSING and a != b:
                return [_STATEFULSET_FORBIDDEN]
        return []
    checks: list[tuple[str, ...]] = []
    if info.kind == "Job":
        checks += [("spec", "template"), ("spec", "selector"), ("spec", "completions")]
    elif info.kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        checks.append(("spec", "selector"))
    bad = []
    for path in checks:
        a, b = _get_path(old, path), _get_path(new, path)
        if a is _MISSING or b is _MISSING:
            continue
        if a != b:
            bad.append(f"{'.'.join(path)}: Invalid value: {_go_value(b)}: field is immutable")
    return bad


def _check_typed(info: ResourceInfo, key: Any, body: Obj) -> None:
    """Server-side apply types the patch first: a value of the wrong type is refused.

    As the real server (structured-merge-diff) does, for the string maps of Secrets and
    ConfigMaps: 500 ``failed to create typed patch object (...): .stringData.pin: expected
    string, got &value.valueUnstructured{Value:1234}`` -- the value itself in the message.
    """
    maps = {"Secret": ("data", "stringData"), "ConfigMap": ("data",)}.get(info.kind, ())
    bad = [
        f".{m}.{k}: expected string, got &value.valueUnstructured{{Value:{_go_value(v)}}}"
        for m in maps
        for k, v in ((body or {}).get(m) or {}).items()
        if not isinstance(v, str)
    ]
    if bad:
        ns = f"{key[1]}/" if key[1] else ""
        raise ApiError(
            500,
            "InternalError",
            f"failed to create typed patch object ({ns}{key[2]}; {info.group}/{info.version}, "
            f"Kind={info.kind}): {bad[0]}",
        )


# ----------------------------------------------------------------------------- websocket framing
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocket:
    """Server side of RFC 6455: enough for the client's exec/port-forward channels."""

    def __init__(self, sock: socket.socket, rfile: Any) -> None:
        self.sock, self.rfile = sock, rfile
        self._send_lock = threading.Lock()
        self.closed = False

    def send(self, payload: bytes, opcode: int = 2) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([n])
        elif n < 65536:
            header += bytes([126]) + struct.pack("!H", n)
        else:
            header += bytes([127]) + struct.pack("!Q", n)
        with self._send_lock:
            if self.closed:
                return
            try:
                self.sock.sendall(header + payload)
            except OSError:
                self.closed = True

    def recv(self) -> tuple[int, bytes] | None:
        """One message (opcode, payload); None when the peer closed."""
        try:
            head = self.rfile.read(2)
            if len(head) < 2:
                return None
            opcode, n = head[0] & 0x0F, head[1] & 0x7F
            masked = head[1] & 0x80
            if n == 126:
                n = struct.unpack("!H", self.rfile.read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if masked else b""
            data = self.rfile.read(n)
            if masked:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        except (OSError, struct.error):
            return None
        if opcode == 8:
            return None
        if opcode == 9:
            self.send(data, 10)
            return self.recv()
        return opcode, data

    def close(self) -> None:
        self.send(struct.pack("!H", 1000), 8)
        with self._send_lock:
            self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


# ----------------------------------------------------------------------------- exec / logs
@dataclass
class ExecResult:
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    #: a runtime error instead of an exit code (e.g. the executable is missing)
    error: str = ""


ExecHandler = Callable[[Obj, str, list[str], bytes], ExecResult]
#: (pod, port) -> a connected socket to the "container" port, or None to refuse
PortHandler = Callable[[Obj, int], "socket.socket | None"]


@dataclass
class _LogLine:
    ts: datetime.datetime
    text: str


@dataclass
class _ContainerLogs:
    current: list[_LogLine] = field(default_factory=list)
    previous: list[_LogLine] | None = None
    ended: bool = False
    generation: int = 0


# ----------------------------------------------------------------------------- the emulator
class Emulator:
    """The API server state plus the HTTP server that serves it."""

    def __init__(self, *, bookmark_interval_s: float = 0.5, history: int = 10000) -> None:
        self.resources: dict[tuple[str, str, str], ResourceInfo] = {}
        for r in BUILTIN:
            self.resources[(r.group, r.version, r.plural)] = r
        self.objects: dict[tuple[tuple[str, str, str], str, str], Obj] = {}
        self.cond = threading.Condition()
        self._rv = itertools.count(1)
        self.rv = 0
        #: (rv, type, resource key, object) in rv order
        self.events: list[tuple[int, str, tuple[str, str, str], Obj]] = []
        self.compacted_rv = 0
        self.history = history
        self.bookmark_interval_s = bookmark_interval_s
        self.logs: dict[tuple[str, str, str], _ContainerLogs] = {}
        self.exec_handler: ExecHandler | None = None
        self.port_handler: PortHandler | None = None
        self.requests: list[tuple[str, str]] = []  # (method, path?query) for assertions
        #: the next watches each get one of these as an ERROR event, then end
        self.watch_errors: list[ApiError] = []
        self.ssa_enabled = True
        #: ephemeral containers: refused (RBAC), and started by the "kubelet" at once
        self.ephemeral_forbidden = False
        self.run_ephemeral = True
        #: a new CRD's kind answers 404 this long (until "Established"), as on a real server
        self.crd_serving_delay_s = 0.0
        self.serving_from: dict[tuple[str, str, str], float] = {}
        #: a new CRD's kind is missing from discovery this long (the discovery controller
        #: lists it once the CRD is Established)
        self.crd_discovery_delay_s = 0.0
        self.discovered_from: dict[tuple[str, str, str], float] = {}
        #: websocket subprotocols the server accepts for exec/port-forward, preferred first
        self.ws_protocols = ("v5.channel.k8s.io", "v4.channel.k8s.io")
        self.latency_s = 0.0  # per-request delay (benchmarks)
        self._generation = 0  # bumped by drop_streams(): open streams end
        self.server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._open_socks: set[socket.socket] = set()
        self._socks_lock = threading.Lock()
        self.add_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})

    # ------------------------------------------------------------------ lifecycle
    def start(self, port: int = 0) -> Emulator:
        emu = self

        class Handler(_Handler):
            emulator = emu

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut every open connection (an API server going away)."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.drop_streams()
        with self._socks_lock:
            for s in list(self._open_socks):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
        self.server = None

    def restart(self) -> None:
        """Come back on the same port (an API server restart)."""
        self.stop()
        self.start(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kubeconfig(self, context: str = "kind-tilt", namespace: str = "") -> Obj:
        ctx: Obj = {"cluster": context, "user": "tilt-test"}
        if namespace:
            ctx["namespace"] = namespace
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "contexts": [{"name": context, "context": ctx}],
            "users": [{"name": "tilt-test", "user": {"token": "test-token"}}],
        }

    # ------------------------------------------------------------------ faults
    def drop_streams(self) -> None:
        """End every open watch and log stream (a dropped connection)."""
        with self.cond:
            self._generation += 1
            self.cond.notify_all()

    def compact(self) -> None:
        """Forget history up to now: older resourceVersions get 410 Gone."""
        with self.cond:
            self.compacted_rv = self.rv
            self.events.clear()
            self._generation += 1  # etcd compaction ends watches older than it
            self.cond.notify_all()

    # ------------------------------------------------------------------ resources
    def info_for(self, api_version: str, kind: str) -> ResourceInfo:
        group, _, version = api_version.rpartition("/")
        for r in self.resources.values():
            if r.group == group and r.version == version and r.kind == kind:
                return r
        raise ApiError(404, "NotFound", f"no resource for {api_version} {kind}")

    def _bump(self) -> int:
        self.rv = next(self._rv)
        return self.rv

    def _emit(self, etype: str, rkey: tuple[str, str, str], obj: Obj) -> None:
        self.events.append((self.rv, etype, rkey, copy.deepcopy(obj)))
        if len(self.events) > self.history:
            drop = len(self.events) - self.history
            self.compacted_rv = self.events[drop - 1][0]
            del self.events[:drop]
        self.cond.notify_all()

    def _stamp_new(self, obj: Obj, namespace: str) -> None:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_rfc3339())
        meta["generation"] = 1
        if namespace:
            meta["namespace"] = namespace
        if obj.get("kind") == "Service":
            spec = obj.setdefault("spec", {})
            if not spec.get("clusterIP"):
                n = int(hashlib.sha1(meta["uid"].encode()).hexdigest()[:4], 16)
                spec["clusterIP"] = f"10.96.{n // 256}.{n % 256}"
        if obj.get("kind") == "Pod":
            obj.setdefault("status", {}).setdefault("phase", "Pending")

    def _check_annotations(self, obj: Obj) -> None:
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        size = sum(len(k) + len(v or "") for k, v in ann.items())
        if size > MAX_ANNOTATIONS_BYTES:
            raise ApiError(
                422,
                "Invalid",
                f'{obj.get("kind")} "{obj["metadata"].get("name")}" is invalid: '
                f"metadata.annotations: Too long: must have at most {MAX_ANNOTATIONS_BYTES} bytes",
            )

    def _validate_update(self, info: ResourceInfo, old: Obj, new: Obj) -> None:
        bad = _immutable_violations(info, old, new)
        if bad:
            name = old["metadata"]["name"]
            group = f".{info.group}" if info.group else ""
            details = bad[0] if len(bad) == 1 else "[" + ", ".join(bad) + "]"
            raise ApiError(422, "Invalid", f'{info.kind}{group} "{name}" is invalid: {details}')
        self._check_annotations(new)

    def _maybe_register_crd(self, obj: Obj) -> None:
        if obj.get("kind") != "CustomResourceDefinition":
            return
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        for v in spec.get("versions") or []:
            if v.get("served", True):
                info = ResourceInfo(
                    spec.get("group", ""),
                    v["name"],
                    names.get("plural", ""),
                    names.get("kind", ""),
                    spec.get("scope", "Namespaced") == "Namespaced",
                )
                self.resources[(info.group, info.version, info.plural)] = info
                self.serving_from[(info.group, info.version, info.plural)] = (
                    time.monotonic() + self.crd_serving_delay_s
                )
                self.discovered_from[(info.group, info.version, info.plural)] = (
                    time.monotonic() + self.crd_discovery_delay_s
                )

    def _store(self, info: ResourceInfo, obj: Obj, etype: str) -> Obj:
        rkey = (info.group, info.version, info.plural)
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            # the last finalizer went: the deletion completes
            key = (rkey, meta.get("namespace", "") if info.namespaced else "", meta["name"])
            if key in self.objects:
                self.objects[key] = obj
                return self._delete(info, key[1], key[2], "Background")
        key = (rkey, meta.get("namespace", "") if info.namespaced else "", meta["name"])
        meta["resourceVersion"] = str(self._bump())
        obj["apiVersion"], obj["kind"] = info.group_version, info.kind
        self.objects[key] = obj
        self._maybe_register_crd(obj)
        self._emit(etype, rkey, obj)
        return copy.deepcopy(obj)

    # ---- in-process API for the test (the controller / kubelet side)
    def add_object(self, obj: Obj) -> Obj:
        """Create or replace an object as a controller would (emits ADDED/MODIFIED)."""
        with self.cond:
            obj = copy.deepcopy(obj)
            info = self.info_for(obj["apiVersion"], obj["kind"])
            meta = obj.setdefault("metadata", {})
            ns = meta.get("namespace", "default") if info.namespaced else ""
            key = ((info.group, info.version, info.plural), ns, meta["name"])
            old = self.objects.get(key)
            if old is None:
                self._stamp_new(obj, ns)
                return self._store(info, obj, "ADDED")
            for k in ("uid", "creationTimestamp", "generation", "managedFields"):
                if k in old["metadata"]:
                    meta.setdefault(k, old["metadata"][k])
            if ns:
                meta["namespace"] = ns
            return self._store(info, obj, "MODIFIED")

    put = add_object

    def get(self, api_version: str, kind: str, name: str, namespace: str = "default") -> Obj:
        with self.cond:
            info = self.info_for(api_version, kind)
            key = (
                (info.group, info.version, info.plural),
                namespace if info.namespaced else "",
                name,
            )
            if key not in self.objects:
                raise KeyError(f"{kind} {namespace}/{name}")
            return copy.deepcopy(self.objects[key])

    def find(
        self, api_version: str, kind: str, name: str, namespace: str = "default"
    ) -> Obj | None:
        try:
            return self.get(api_version, kind, name, namespace)
        except KeyError:
            return None

    def list(self, api_version: str, kind: str) -> list[Obj]:
        with self.cond:
            info = self.info_for(api_version, kind)
            rkey = (info.group, info.version, info.plural)
            return [copy.deepcopy(o) for (k, _, _), o in self.objects.items() if k == rkey]

    def patch_status(
        self, kind: str, name: str, status: Obj, namespace: str = "default", api_version: str = "v1"
    ) -> Obj:
        """Merge ``status`` into an object's status (the kubelet's status updates)."""
        with self.cond:
            info = self.info_for(api_version, kind)
            key = ((info.group, info.version, info.plural), namespace, name)
            obj = copy.deepcopy(self.objects[key])
            obj["status"] = merge_patch(obj.get("status") or {}, status)
            return self._store(info, obj, "MODIFIED")

    def remove(self, api_version: str, kind: str, name: str, namespace: str = "default") -> None:
        with self.cond:
            info = self.info_for(api_version, kind)
            self._delete(info, namespace if info.namespaced else "", name, "Background")

    # ---- deletion with owner-reference garbage collection
    def _delete(self, info: ResourceInfo, ns: str, name: str, propagation: str) -> Obj:
        rkey = (info.group, info.version, info.plural)
        key = (rkey, ns, name)
        obj = self.objects.get(key)
        if obj is None:
            group = f".{info.group}" if info.group else ""
            raise ApiError(404, "NotFound", f'{info.plural}{group} "{name}" not found')
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                obj = copy.deepcopy(obj)
                obj["metadata"]["deletionTimestamp"] = now_rfc3339()
                return self._store(info, obj, "MODIFIED")
            return copy.deepcopy(obj)
        del self.objects[key]
        self._bump()
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._emit("DELETED", rkey, obj)
        if info.kind == "CustomResourceDefinition":
            pass  # served resources stay known; their objects are left alone here
        if info.kind == "Namespace":
            for k in [k for k in self.objects if k[1] == name]:
                self._delete(self.resources[k[0]], k[1], k[2], "Background")
        if propagation != "Orphan":
            uid = obj["metadata"].get("uid")
            children = [
                (k, o)
                for k, o in self.objects.items()
                if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
            ]
            for k, _ in children:
                if k in self.objects:
                    self._delete(self.resources[k[0]], k[1], k[2], propagation)
        if info.kind == "Pod":
            for lk, logs in self.logs.items():
                if lk[0] == ns and lk[1] == name:
                    logs.ended = True
        return obj

    # ---- logs (the kubelet side)
    def log(self, pod: str, container: str, *lines: str, namespace: str = "default") -> None:
        with self.cond:
            logs = self.logs.setdefault((namespace, pod, container), _ContainerLogs())
            for line in lines:
                logs.current.append(_LogLine(datetime.datetime.now(datetime.UTC), line))
                time.sleep(0.000002)  # distinct timestamps, like a real runtime's ns clock
            self.cond.notify_all()

    def restart_container(self, pod: str, container: str, namespace: str = "default") -> None:
        """The container crashed and restarted: its log becomes the previous one."""
        with self.cond:
            logs = self.logs.setdefault((namespace, pod, container), _ContainerLogs())
            logs.previous, logs.current = logs.current, []
            logs.generation += 1
            self.cond.notify_all()

    def end_logs(self, pod: str, container: str, namespace: str = "default") -> None:
        with self.cond:
            self.logs.setdefault((namespace, pod, container), _ContainerLogs()).ended = True
            self.cond.notify_all()


def _q(params: dict[str, list[str]], name: str, default: str = "") -> str:
    v = params.get(name)
    return v[0] if v else default


class _Handler(BaseHTTPRequestHandler):
    emulator: Emulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK add
        # 40 ms to every keep-alive request (a real API server does not have that problem).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.emulator._socks_lock:
            self.emulator._open_socks.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.emulator._socks_lock:
            self.emulator._open_socks.discard(self.connection)

    # ------------------------------------------------------------------ plumbing
    def _send_json(self, code: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_chunked(self) -> None:
        with contextlib.suppress(OSError):
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        # Real clients of ours always send JSON (also as apply-patch+yaml); insisting on it
        # here catches a Python repr that YAML would happily parse.
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "BadRequest", f"body is not JSON: {raw[:80]!r}") from None

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        emu = self.emulator
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        params = parse_qs(split.query)
        emu.requests.append((method, self.path))
        if emu.latency_s:
            time.sleep(emu.latency_s)
        try:
            if self.headers.get("Upgrade", "").lower() == "websocket":
                self._websocket(path, params)
                return
            body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else None
            result = self._route(method, path, params, body)
            if result is not None:
                code, obj = result
                self._send_json(code, obj)
        except ApiError as e:
            self._send_json(e.code, e.status())
        except (BrokenPipeError, ConnectionResetError):
            pass

    # ------------------------------------------------------------------ routing
    def _route(
        self, method: str, path: str, params: dict[str, list[str]], body: Any
    ) -> tuple[int, Obj] | None:
        emu = self.emulator
        parts = path.strip("/").split("/")
        if path == "/version":
            return 200, {
                "major": "1",
                "minor": "36",
                "gitVersion": "v1.36.0-emulated",
                "platform": "linux/amd64",
            }
        if path == "/api":
            return 200, {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [],
            }
        if path == "/apis":
            return 200, self._group_list()
        if parts[0] == "api" and len(parts) == 2:
            return 200, self._resource_list("", parts[1])
        if parts[0] == "apis" and len(parts) == 3:
            return 200, self._resource_list(parts[1], parts[2])
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(
                404, "NotFound", f"the server could not find the requested resource ({path})"
            )
        ns = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        info = emu.resources.get((group, version, plural))
        if info is None or emu.serving_from.get((group, version, plural), 0) > time.monotonic():
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if plural == "namespaces" and len(rest) == 1 and ns:
            pass
        if not info.namespaced:
            ns = ""
        if sub == "log":
            self._logs(ns, name, params)
            return None
        if not name:
            if method == "GET":
                if _q(params, "watch") in ("true", "1"):
                    self._watch(info, ns, params)
                    return None
                return 200, self._list(info, ns, params)
            if method == "POST":
                return self._create(info, ns, body, params)
            raise ApiError(405, "MethodNotAllowed", f"{method} on a collection")
        with emu.cond:
            key = ((group, version, plural), ns, name)
            if method == "GET":
                if key not in emu.objects:
                    raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
                return 200, copy.deepcopy(emu.objects[key])
            if method == "DELETE":
                prop = (body or {}).get("propagationPolicy") or _q(
                    params, "propagationPolicy", "Background"
                )
                return 200, emu._delete(info, ns, name, prop)
            if method == "PUT":
                return self._replace(info, key, body, sub)
            if method == "PATCH":
                return self._patch(info, key, body, params, sub)
        raise ApiError(405, "MethodNotAllowed", method)

    def _group_list(self) -> Obj:
        groups: dict[str, list[str]] = {}
        for g, v, _ in self.emulator.resources:
            if g:
                groups.setdefault(g, [])
                if v not in groups[g]:
                    groups[g].append(v)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                    "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                }
                for g, vs in groups.items()
            ],
        }

    def _resource_list(self, group: str, version: str) -> Obj:
        emu = self.emulator
        res = [
            r
            for r in emu.resources.values()
            if r.group == group
            and r.version == version
            and emu.discovered_from.get((r.group, r.version, r.plural), 0) <= time.monotonic()
        ]
        if not res:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        out = []
        for r in res:
            out.append(
                {
                    "name": r.plural,
                    "singularName": r.kind.lower(),
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": verbs,
                }
            )
            out += [
                {
                    "name": f"{r.plural}/{s}",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["get"],
                }
                for s in r.subresources
            ]
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": out,
        }

    def _matching(self, info: ResourceInfo, ns: str, params: dict[str, list[str]]) -> Iterator[Obj]:
        rkey = (info.group, info.version, info.plural)
        for (k, ons, _), obj in self.emulator.objects.items():
            if k == rkey and (not ns or ons == ns) and self._selected(obj, params):
                yield obj

    @staticmethod
    def _selected(obj: Obj, params: dict[str, list[str]]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return label_match(labels, _q(params, "labelSelector")) and field_match(
            obj, _q(params, "fieldSelector")
        )

    def _list(self, info: ResourceInfo, ns: str, params: dict[str, list[str]]) -> Obj:
        emu = self.emulator
        with emu.cond:
            rv = _q(params, "resourceVersion")
            if (
                rv
                and rv != "0"
                and int(rv) < emu.compacted_rv
                and _q(params, "resourceVersionMatch") == "Exact"
            ):
                raise ApiError(
                    410, "Expired", f"too old resource version: {rv} ({emu.compacted_rv})"
                )
            items = [copy.deepcopy(o) for o in self._matching(info, ns, params)]
            return {
                "kind": f"{info.kind}List",
                "apiVersion": info.group_version,
                "metadata": {"resourceVersion": str(emu.rv)},
                "items": items,
            }

    # ------------------------------------------------------------------ watch
    def _watch(self, info: ResourceInfo, ns: str, params: dict[str, list[str]]) -> None:
        emu = self.emulator
        rkey = (info.group, info.version, info.plural)
        timeout_s = float(_q(params, "timeoutSeconds", "0") or 0) or 1800.0
        bookmarks = _q(params, "allowWatchBookmarks") in ("true", "1")
        deadline = time.monotonic() + timeout_s
        with emu.cond:
            gen = emu._generation
        self._start_chunked("application/json")

        def send(etype: str, obj: Obj) -> None:
            self._chunk(json.dumps({"type": etype, "object": obj}).encode() + b"\n")

        with emu.cond:
            rv_s = _q(params, "resourceVersion")
            pending: list[tuple[str, Obj]] = []
            if emu.watch_errors:
                # A real server ends a watch it cannot serve with an ERROR event (HTTP 200).
                pending = [("ERROR", emu.watch_errors.pop(0).status())]
                last = -1
            elif not rv_s or rv_s == "0":
                # No resourceVersion: synthetic ADDED for every current object, then changes.
                pending = [("ADDED", copy.deepcopy(o)) for o in self._matching(info, ns, params)]
                last = emu.rv
            else:
                last = int(rv_s)
                if last < emu.compacted_rv:
                    status = ApiError(
                        410, "Expired", f"too old resource version: {last} ({emu.compacted_rv})"
                    ).status()
                    pending = [("ERROR", status)]
                    last = -1
        try:
            for etype, obj in pending:
                send(etype, obj)
            if last < 0:
                self._end_chunked()
                return
            last_sent = time.monotonic()
            while True:
                with emu.cond:
                    batch = [e for e in emu.events if e[0] > last and e[2] == rkey]
                    if not batch and emu._generation == gen:
                        wait = min(
                            deadline - time.monotonic(),
                            emu.bookmark_interval_s if bookmarks else 1.0,
                        )
                        if wait > 0:
                            emu.cond.wait(wait)
                        batch = [e for e in emu.events if e[0] > last and e[2] == rkey]
                    if emu._generation != gen:
                        break
                    if last < emu.compacted_rv and not batch:
                        pass
                    cur_rv = emu.rv
                for rv, etype, _, obj in batch:
                    last = rv
                    ons = (obj.get("metadata") or {}).get("namespace", "")
                    if ns and ons != ns:
                        continue
                    if not self._selected(obj, params):
                        continue
                    send(etype, obj)
                    last_sent = time.monotonic()
                if bookmarks and time.monotonic() - last_sent >= emu.bookmark_interval_s:
                    last = max(last, cur_rv)
                    send(
                        "BOOKMARK",
                        {
                            "kind": info.kind,
                            "apiVersion": info.group_version,
                            "metadata": {"resourceVersion": str(last)},
                        },
                    )
                    last_sent = time.monotonic()
                if time.monotonic() >= deadline:
                    break
            self._end_chunked()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return
        self.close_connection = True

    # ------------------------------------------------------------------ writes
    def _create(
        self, info: ResourceInfo, ns: str, body: Obj, params: dict[str, list[str]]
    ) -> tuple[int, Obj]:
        emu = self.emulator
        with emu.cond:
            obj = copy.deepcopy(body)
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            if info.namespaced:
                ns = ns or meta.get("namespace") or "default"
                self._require_namespace(ns)
            key = ((info.group, info.version, info.plural), ns, meta["name"])
            if key in emu.objects:
                group = f".{info.group}" if info.group else ""
                raise ApiError(
                    409, "AlreadyExists", f'{info.plural}{group} "{meta["name"]}" already exists'
                )
            emu._check_annotations(obj)
            emu._stamp_new(obj, ns)
            manager = _q(params, "fieldManager")
            if manager:
                self._own(obj, manager, obj, "Update")
            return 201, emu._store(info, obj, "ADDED")

    def _require_namespace(self, ns: str) -> None:
        emu = self.emulator
        if (("", "v1", "namespaces"), "", ns) not in emu.objects:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found')

    @staticmethod
    def _own(obj: Obj, manager: str, applied: Obj, operation: str) -> None:
        """Record ``manager`` as the owner of every leaf of ``applied`` (taking them over)."""
        mine = {p for p in _leaves(applied) if p not in _SKIP_OWNERSHIP and p[0] != "status"}
        entries = []
        for e in obj["metadata"].get("managedFields") or []:
            fields = {tuple(p) for p in e["fields"]}
            if e["manager"] == manager:
                continue
            fields -= mine
            if fields:
                entries.append({**e, "fields": sorted(fields)})
        entries.append({"manager": manager, "operation": operation, "fields": sorted(mine)})
        obj["metadata"]["managedFields"] = entries

    def _replace(self, info: ResourceInfo, key: Any, body: Obj, sub: str) -> tuple[int, Obj]:
        emu = self.emulator
        old = emu.objects.get(key)
        if old is None:
            raise ApiError(404, "NotFound", f'{info.plural} "{key[2]}" not found')
        new = copy.deepcopy(body)
        rv = (new.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {info.plural} "{key[2]}": the object has been modified; please apply your changes to the latest version and try again',
            )
        if sub == "status":
            new = {**copy.deepcopy(old), "status": new.get("status")}
        meta = new.setdefault("metadata", {})
        for k in ("uid", "creationTimestamp", "generation", "managedFields"):
            if k in old["metadata"]:
                meta[k] = old["metadata"][k]
        if key[1]:
            meta["namespace"] = key[1]
        if info.kind == "Service" and not (new.get("spec") or {}).get("clusterIP"):
            new.setdefault("spec", {})["clusterIP"] = old["spec"]["clusterIP"]
        emu._validate_update(info, old, new)
        if new.get("spec") != old.get("spec"):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        return 200, emu._store(info, new, "MODIFIED")

    def _patch(
        self, info: ResourceInfo, key: Any, body: Any, params: dict[str, list[str]], sub: str
    ) -> tuple[int, Obj]:
        emu = self.emulator
        ct = self.headers.get("Content-Type", "")
        old = emu.objects.get(key)
        if "apply-patch" in ct:
            if not emu.ssa_enabled:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {ct})",
                )
            return self._apply(info, key, body, params, old)
        if old is None:
            raise ApiError(404, "NotFound", f'{info.plural} "{key[2]}" not found')
        if "json-patch" in ct:
            raise ApiError(415, "UnsupportedMediaType", "json-patch is not emulated")
        new = copy.deepcopy(old)
        if sub == "ephemeralcontainers":
            return self._ephemeral(info, old, body)
        if sub == "status":
            new["status"] = merge_patch(old.get("status") or {}, (body or {}).get("status") or {})
        else:
            new = merge_patch(old, body)
            new["metadata"]["uid"] = old["metadata"]["uid"]
        emu._validate_update(info, old, new)
        manager = _q(params, "fieldManager")
        if manager:
            self._own(new, manager, body, "Update")
        if new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        return 200, emu._store(info, new, "MODIFIED")

    def _ephemeral(self, info: ResourceInfo, old: Obj, body: Any) -> tuple[int, Obj]:
        """Add ephemeral containers (strategic merge by name; existing ones are immutable)."""
        emu = self.emulator
        name = old["metadata"]["name"]
        if emu.ephemeral_forbidden:
            raise ApiError(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: User "tilt" cannot patch resource "pods/ephemeralcontainers"',
            )
        new = copy.deepcopy(old)
        have = new["spec"].setdefault("ephemeralContainers", [])
        names = {c["name"] for c in have}
        for c in ((body or {}).get("spec") or {}).get("ephemeralContainers") or []:
            if c["name"] not in names:
                have.append(c)
                if emu.run_ephemeral:  # the kubelet starts it at once
                    new.setdefault("status", {}).setdefault(
                        "ephemeralContainerStatuses", []
                    ).append(
                        {
                            "name": c["name"],
                            "ready": False,
                            "restartCount": 0,
                            "image": c.get("image", ""),
                            "state": {"running": {"startedAt": now_rfc3339()}},
                        }
                    )
        return 200, emu._store(info, new, "MODIFIED")

    def _apply(
        self, info: ResourceInfo, key: Any, body: Obj, params: dict[str, list[str]], old: Obj | None
    ) -> tuple[int, Obj]:
        emu = self.emulator
        manager = _q(params, "fieldManager")
        if not manager:
            raise ApiError(400, "BadRequest", "PATCH /apply requires fieldManager")
        _check_typed(info, key, body)
        meta_in = (body or {}).get("metadata") or {}
        if meta_in.get("managedFields") is not None:
            # The real server's field manager: the applied configuration may not say who
            # owns what (``kubectl get -o yaml`` output pasted into a manifest does).
            raise ApiError(400, "BadRequest", "metadata.managedFields must be nil")
        rv = meta_in.get("resourceVersion")
        if rv and old is not None and rv != old["metadata"]["resourceVersion"]:
            # In an apply, a resourceVersion is a precondition, as in an update.
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {info.plural} "{key[2]}": the object has been modified; please apply your changes to the latest version and try again',
            )
        force = _q(params, "force") == "true"
        applied = copy.deepcopy(body)
        if old is None:
            ns = key[1]
            if info.namespaced:
                self._require_namespace(ns)
            obj = copy.deepcopy(applied)
            obj.setdefault("metadata", {})["name"] = key[2]
            emu._check_annotations(obj)
            emu._stamp_new(obj, ns)
            self._own(obj, manager, applied, "Apply")
            return 201, emu._store(info, obj, "ADDED")
        new_leaves = {
            p: v
            for p, v in _leaves(applied).items()
            if p not in _SKIP_OWNERSHIP and p[0] != "status"
        }
        conflicts = []
        previously_mine: set[tuple[str, ...]] = set()
        for e in old["metadata"].get("managedFields") or []:
            fields = {tuple(p) for p in e["fields"]}
            if e["manager"] == manager:
                previously_mine = fields
                continue
            for p in fields & set(new_leaves):
                if _get_path(old, p) != new_leaves[p]:
                    conflicts.append((e["manager"], p))
        if conflicts and not force:
            lines = "\n".join(f'- conflict with "{m}": .{".".join(p)}' for m, p in conflicts)
            n = len(conflicts)
            raise ApiError(
                409, "Conflict", f"Apply failed with {n} conflict{'s' if n > 1 else ''}: {lines}"
            )
        new = copy.deepcopy(old)
        owned_by_others = {
            tuple(p)
            for e in old["metadata"].get("managedFields") or []
            if e["manager"] != manager
            for p in e["fields"]
        }
        for p in previously_mine - set(new_leaves) - owned_by_others:
            _del_path(new, p)
        for p, v in new_leaves.items():
            _set_path(new, p, v)
        emu._validate_update(info, old, new)
        self._own(new, manager, applied, "Apply")
        if new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        if new == old:
            return 200, copy.deepcopy(old)  # a no-op apply does not bump resourceVersion
        return 200, emu._store(info, new, "MODIFIED")

    # ------------------------------------------------------------------ logs
    def _logs(self, ns: str, pod: str, params: dict[str, list[str]]) -> None:
        emu = self.emulator
        with emu.cond:
            pobj = emu.objects.get((("", "v1", "pods"), ns, pod))
            if pobj is None:
                raise ApiError(404, "NotFound", f'pods "{pod}" not found')
            containers = [c["name"] for c in (pobj.get("spec") or {}).get("containers") or []]
            container = _q(params, "container") or (containers[0] if len(containers) == 1 else "")
            if not container:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"a container name must be specified for pod {pod}, choose one of: {containers}",
                )
            logs = emu.logs.setdefault((ns, pod, container), _ContainerLogs())
            previous = _q(params, "previous") == "true"
            if previous and logs.previous is None:
                raise ApiError(
                    400,
                    "BadRequest",
                    f'previous terminated container "{container}" in pod "{pod}" not found',
                )
            gen, lgen = emu._generation, logs.generation
        follow = _q(params, "follow") == "true" and not previous
        stamps = _q(params, "timestamps") == "true"
        since = _q(params, "sinceTime")
        since_dt = datetime.datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        self._start_chunked("text/plain")
        sent = 0

        def fmt(line: _LogLine) -> bytes:
            ts = line.ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + " " if stamps else ""
            return (ts + line.text + "\n").encode()

        try:
            while True:
                with emu.cond:
                    src = logs.previous if previous else logs.current
                    assert src is not None
                    if logs.generation != lgen and not previous:
                        break  # the container restarted: this stream's container is gone
                    new = src[sent:]
                    if not new and follow and not logs.ended and emu._generation == gen:
                        emu.cond.wait(1.0)
                        new = src[sent:]
                    sent += len(new)
                    done = not follow or logs.ended or emu._generation != gen
                chunk = b"".join(
                    fmt(line) for line in new if since_dt is None or line.ts >= since_dt
                )
                if chunk:
                    self._chunk(chunk)
                if done and not new:
                    break
                if done and not follow:
                    break
            self._end_chunked()
        except OSError:
            return
        self.close_connection = True

    # ------------------------------------------------------------------ websockets
    def _websocket(self, path: str, params: dict[str, list[str]]) -> None:
        emu = self.emulator
        parts = path.strip("/").split("/")  # api/v1/namespaces/NS/pods/NAME/exec
        if len(parts) != 7 or parts[4] != "pods" or parts[6] not in ("exec", "portforward"):
            raise ApiError(404, "NotFound", path)
        ns, pod_name, kind = parts[3], parts[5], parts[6]
        with emu.cond:
            pod = copy.deepcopy(emu.objects.get((("", "v1", "pods"), ns, pod_name)))
        if pod is None:
            raise ApiError(404, "NotFound", f'pods "{pod_name}" not found')
        if (pod.get("status") or {}).get("phase") != "Running":
            raise ApiError(400, "BadRequest", f"pod {pod_name} is not running")
        offered = [
            p.strip()
            for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        proto = next((p for p in emu.ws_protocols if p in offered), "")
        accept = base64.b64encode(
            hashlib.sha1((self.headers["Sec-WebSocket-Key"] + WS_GUID).encode()).digest()
        ).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        if proto:
            self.send_header("Sec-WebSocket-Protocol", proto)
        self.end_headers()
        self.wfile.flush()
        ws = WebSocket(self.connection, self.rfile)
        self.close_connection = True
        try:
            if kind == "exec":
                self._exec(ws, pod, params)
            else:
                self._portforward(ws, pod, params)
        finally:
            ws.close()

    def _exec(self, ws: WebSocket, pod: Obj, params: dict[str, list[str]]) -> None:
        emu = self.emulator
        argv = params.get("command") or []
        container = _q(params, "container") or pod["spec"]["containers"][0]["name"]
        stdin = b""
        if _q(params, "stdin") == "true":
            chunks = []
            while True:
                msg = ws.recv()
                if msg is None:
                    break
                _, data = msg
                if not data:
                    continue
                if data[0] == 0:
                    chunks.append(data[1:])
                elif data[0] == 255 and data[1:2] == b"\x00":
                    break  # v5: the client closed stdin
            stdin = b"".join(chunks)
        if emu.exec_handler is None:
            res = ExecResult(error="exec is not configured in this emulated cluster")
        else:
            try:
                res = emu.exec_handler(pod, container, argv, stdin)
            except Exception as e:  # a broken test handler must not look like success
                res = ExecResult(error=f"emulator exec handler failed: {e!r}")
        if res.stdout:
            ws.send(b"\x01" + res.stdout)
        if res.stderr:
            ws.send(b"\x02" + res.stderr)
        if res.error:
            status: Obj = {
                "metadata": {},
                "status": "Failure",
                "message": res.error,
                "reason": "InternalError",
                "code": 500,
            }
        elif res.exit_code:
            status = {
                "metadata": {},
                "status": "Failure",
                "message": f"command terminated with non-zero exit code: error executing command {argv}, exit code {res.exit_code}",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(res.exit_code)}]},
            }
        else:
            status = {"metadata": {}, "status": "Success"}
        ws.send(b"\x03" + json.dumps(status).encode())

    def _portforward(self, ws: WebSocket, pod: Obj, params: dict[str, list[str]]) -> None:
        emu = self.emulator
        ports = [int(p) for v in params.get("ports") or [] for p in v.split(",")]
        conns: dict[int, socket.socket | None] = {}
        for i, port in enumerate(ports):
            s = emu.port_handler(pod, port) if emu.port_handler else None
            conns[i] = s
            ws.send(bytes([2 * i]) + struct.pack("<H", port))
            ws.send(bytes([2 * i + 1]) + struct.pack("<H", port))
            if s is None:
                ws.send(
                    bytes([2 * i + 1])
                    + f"error forwarding port {port} to pod {pod['metadata']['name']}: connection refused".encode()
                )
                continue

            def pump(i: int = i, s: socket.socket = s) -> None:
                try:
                    while True:
                        data = s.recv(65536)
                        if not data:
                            break
                        ws.send(bytes([2 * i]) + data)
                except OSError:
                    pass
                ws.close()

            threading.Thread(target=pump, daemon=True).start()
        while True:
            msg = ws.recv()
            if msg is None:
                break
            _, data = msg
            if not data:
                continue
            ch = data[0]
            if ch % 2 == 0 and ch // 2 in conns:
                payload = data[1:]
                s = conns[ch // 2]
                if s is not None and payload:
                    with contextlib.suppress(OSError):
                        s.sendall(payload)
        for s in conns.values():
            if s is not None:
                with contextlib.suppress(OSError):
                    s.close()
