"""Deploy: image injection, Tilt's labels, apply in kind order with objects of a kind in parallel.

Server-side apply with field manager ``tilt`` (``force`` taken: a dev loop owns what it deploys,
as Tilt does), client-side three-way apply when SSA is turned off (Tilt's
``update_settings(k8s_server_side_apply="false")``) or, with ``"auto"``, when the server does not
accept apply patches. An apply refused for an immutable field (``field is immutable``,
``Forbidden:``, a Service's ``may not change once set``) deletes the object and creates it
again, and says so (naming the fields, not the values the server echoes: a whole pod template
with its env); annotations too large for the server fall back to replace; the whole upsert is
bounded by ``k8s_upsert_timeout_secs``.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tilt.k8s.client import ApiError, KubeClient, ResourceInfo
from tilt.model import ImageTarget, K8sImageLocator

__all__ = [
    "KIND_ORDER",
    "MANAGED_BY_LABEL",
    "POD_TEMPLATE_HASH_LABEL",
    "SERVER_SET_METADATA",
    "Applier",
    "ApplyError",
    "ApplyResult",
    "ContainerCommand",
    "container_commands",
    "env_var_images",
    "inject_images",
    "kind_rank",
    "locator_matches",
    "pod_specs",
    "prepare_objects",
    "strip_server_fields",
]

Obj = dict[str, Any]
Log = Callable[[str], None]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
#: Tilt's label on pod templates: a hash of the template we applied, so the pods of the
#: current rollout are known (older rollouts' pods carry another hash).
POD_TEMPLATE_HASH_LABEL = "tilt.dev/pod-template-hash"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

#: Helm's install order, which Tilt uses: what others depend on first; unknown kinds (custom
#: resources) last, after their CRDs.
KIND_ORDER = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)
_RANK = {k: i for i, k in enumerate(KIND_ORDER)}


def kind_rank(kind: str) -> int:
    return _RANK.get(kind, len(KIND_ORDER))


# ----------------------------------------------------------------------------- locating images
def locator_matches(loc: K8sImageLocator, obj: Obj) -> bool:
    """Tilt's selector rule: case-insensitive regular expressions found anywhere in the value."""
    meta = obj.get("metadata") or {}
    pairs = (
        (loc.kind, obj.get("kind", "")),
        (loc.api_version, obj.get("apiVersion", "")),
        (loc.name, meta.get("name", "")),
        (loc.namespace, meta.get("namespace", "")),
    )
    return all(not pattern or _search(pattern, value) for pattern, value in pairs)


def _search(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value, re.IGNORECASE) is not None
    except re.error:
        return pattern.lower() == value.lower()


# A field name may escape a dot with a backslash (`annotations.example\.com/image`), as
# Kubernetes' JSONPath parser allows; the backslashes are dropped.
_SEG = re.compile(r"\.?((?:\\.|[^.\[\]\\])+)|\[(\*|\d+)\]")


def _path_segments(json_path: str) -> list[str | int | None]:
    p = json_path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    segs: list[str | int | None] = []
    pos = 0
    while pos < len(p):
        m = _SEG.match(p, pos)
        if not m:
            raise ValueError(f"unsupported JSONPath {json_path!r}")
        if m.group(1) is not None:
            segs.append(m.group(1).replace("\\", ""))
        else:
            segs.append(None if m.group(2) == "*" else int(m.group(2)))
        pos = m.end()
    return segs


def _locate(node: Any, segs: list[str | int | None]) -> Iterator[tuple[Any, str | int]]:
    """(container, key) pairs whose ``container[key]`` is what the path names."""
    if not segs:
        return
    head, rest = segs[0], segs[1:]
    keys: list[str | int]
    if head is None:
        keys = list(range(len(node))) if isinstance(node, list) else []
    elif isinstance(head, int):
        keys = [head] if isinstance(node, list) and head < len(node) else []
    else:
        keys = [head] if isinstance(node, dict) and head in node else []
    for k in keys:
        if not rest:
            yield node, k
        else:
            yield from _locate(node[k], rest)


# ----------------------------------------------------------------------------- pod templates
def pod_specs(obj: Obj) -> list[Obj]:
    """The pod specs an object carries (Pod, workloads' templates, CronJob's job template)."""
    kind = obj.get("kind", "")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    if kind == "Pod":
        return [spec]
    if kind == "CronJob":
        tmpl = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    else:
        tmpl = spec.get("template") or {}
    inner = tmpl.get("spec") if isinstance(tmpl, dict) else None
    return [inner] if isinstance(inner, dict) else []


def _pod_template(obj: Obj) -> Obj | None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return None
    if obj.get("kind") == "CronJob":
        tmpl = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    else:
        tmpl = spec.get("template")
    return tmpl if isinstance(tmpl, dict) and isinstance(tmpl.get("spec"), dict) else None


@dataclass(frozen=True, kw_only=True)
class ContainerCommand:
    """docker_build/custom_build ``entrypoint=`` and ``container_args=`` of an image: the
    ``command`` (when given) and the ``args`` (when given, even empty) of every container
    that runs it."""

    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None


def container_commands(images: Iterable[ImageTarget]) -> dict[str, ContainerCommand]:
    """The command overrides ``images`` ask for, by Tiltfile image ref."""
    out: dict[str, ContainerCommand] = {}
    for img in images:
        command = img.entrypoint.argv if img.entrypoint and img.entrypoint.argv else None
        if command is not None or img.container_args is not None:
            out[img.ref] = ContainerCommand(command=command, args=img.container_args)
    return out


def env_var_images(images: Iterable[ImageTarget]) -> frozenset[str]:
    """The Tiltfile refs of ``images`` built with ``match_in_env_vars=True``."""
    return frozenset(img.ref for img in images if img.match_in_env_vars)


def inject_images(
    obj: Obj,
    images: Mapping[str, str],
    locators: Sequence[K8sImageLocator] = (),
    match: Callable[[str, str], bool] | None = None,
    *,
    commands: Mapping[str, ContainerCommand] | None = None,
    env_images: Collection[str] = (),
) -> list[str]:
    """Replace image refs in ``obj`` (in place) by the built ones; the refs injected.

    ``images`` maps a Tiltfile image ref (``docker_build('web', ...)``) to the ref just built.
    Containers and init containers get ``imagePullPolicy: IfNotPresent`` where an image was
    injected (so a local-only image is not pulled). A container whose image has an entry in
    ``commands`` (by Tiltfile ref) gets its ``command`` and/or ``args`` replaced, as Tilt
    does for ``entrypoint=``/``container_args=``. An environment variable whose value names
    an image of ``env_images`` (built with ``match_in_env_vars=True``) gets the built ref.
    """
    if match is None:
        from tilt.refs import refs_match

        match = refs_match

    def built_for(used: str) -> str | None:
        for ref, built in images.items():
            if match(ref, used):
                return built
        return None

    def command_for(used: str) -> ContainerCommand | None:
        for ref, cmd in (commands or {}).items():
            if match(ref, used):
                return cmd
        return None

    injected: list[str] = []
    for spec in pod_specs(obj):
        for key in ("initContainers", "containers", "ephemeralContainers"):
            for c in spec.get(key) or []:
                if isinstance(c, dict) and isinstance(c.get("image"), str):
                    cmd = command_for(c["image"])
                    if cmd is not None and cmd.command is not None:
                        c["command"] = list(cmd.command)
                    if cmd is not None and cmd.args is not None:
                        c["args"] = list(cmd.args)
                    built = built_for(c["image"])
                    if built:
                        c["image"] = built
                        c["imagePullPolicy"] = "IfNotPresent"
                        injected.append(built)
                if isinstance(c, dict) and env_images:
                    for var in c.get("env") or []:
                        value = var.get("value") if isinstance(var, dict) else None
                        if not isinstance(value, str):
                            continue
                        ref = next((r for r in env_images if match(r, value)), None)
                        built = images.get(ref) if ref is not None else None
                        if built:
                            var["value"] = built
                            injected.append(built)
    for loc in locators:
        if not locator_matches(loc, obj):
            continue
        for parent, slot in _locate(obj, _path_segments(loc.json_path)):
            value = parent[slot]
            if loc.repo_field and isinstance(value, dict):
                repo, tag = value.get(loc.repo_field), value.get(loc.tag_field)
                if not isinstance(repo, str):
                    continue
                built = built_for(f"{repo}:{tag}" if tag else repo)
                if built:
                    name, _, new_tag = built.rpartition(":")
                    if "/" in new_tag or not name:
                        name, new_tag = built, ""
                    value[loc.repo_field] = name
                    if loc.tag_field:
                        value[loc.tag_field] = new_tag
                    injected.append(built)
            elif isinstance(value, str):
                built = built_for(value)
                if built:
                    parent[slot] = built
                    injected.append(built)
    return injected


def _template_hash(tmpl: Obj) -> str:
    data = json.dumps(tmpl, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()[:16]


#: What the server writes into an object (``kubectl get -o yaml`` shows it) and an apply must
#: not send back: server-side apply refuses ``managedFields`` (``metadata.managedFields must be
#: nil``) and takes a ``resourceVersion`` as a precondition (409 once the object moved on, or
#: in another cluster); the others are the server's to set.
SERVER_SET_METADATA = (
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def strip_server_fields(obj: Obj) -> None:
    """Remove, in place, what only the server sets: `SERVER_SET_METADATA` and ``status``
    (manifests copied from ``kubectl get -o yaml`` carry them)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in SERVER_SET_METADATA:
            meta.pop(key, None)
    obj.pop("status", None)


def prepare_objects(
    objects: Sequence[Obj],
    images: Mapping[str, str] | None = None,
    locators: Sequence[K8sImageLocator] = (),
    commands: Mapping[str, ContainerCommand] | None = None,
    env_images: Collection[str] = (),
) -> list[Obj]:
    """Copies of ``objects`` ready to apply: server-set fields removed, images injected,
    Tilt's labels set.

    What only the server sets is dropped (`strip_server_fields`). Every object and pod
    template gets ``app.kubernetes.io/managed-by: tilt``; pod templates get
    ``tilt.dev/pod-template-hash`` (a hash of the template after injection).
    """
    out = []
    for src in objects:
        obj = copy.deepcopy(src)
        strip_server_fields(obj)
        inject_images(obj, images or {}, locators, commands=commands, env_images=env_images)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("labels", {})
        if meta["labels"] is None:
            meta["labels"] = {}
        meta["labels"][MANAGED_BY_LABEL] = "tilt"
        tmpl = _pod_template(obj)
        if tmpl is not None:
            tmeta = tmpl.setdefault("metadata", {})
            labels = tmeta.get("labels") or {}
            labels = {k: v for k, v in labels.items() if k != POD_TEMPLATE_HASH_LABEL}
            selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            if MANAGED_BY_LABEL not in selector:
                # (A selector on managed-by, e.g. a Helm chart's, must keep matching.)
                labels[MANAGED_BY_LABEL] = "tilt"
            tmeta["labels"] = labels
            labels[POD_TEMPLATE_HASH_LABEL] = _template_hash(tmpl)
        out.append(obj)
    return out


# ----------------------------------------------------------------------------- applying
class ApplyError(Exception):
    """Some objects could not be applied; ``errors`` maps ``kind/name`` to the reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True, kw_only=True)
class ApplyResult:
    """What the server answered for each object, in the order applied."""

    objects: tuple[Obj, ...]
    recreated: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    method: str = "server-side"  # or "client-side"


def display_name(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind', '?')}/{meta.get('name', '?')}" + (f" (namespace {ns})" if ns else "")


#: How a real API server refuses a change only a re-creation can make: most kinds say
#: ``field is immutable`` (Job template, selectors), a StatefulSet or Pod ``Forbidden:``, a
#: Service whose clusterIP changed ``spec.clusterIPs[0]: ...: may not change once set`` (or
#: ``primary clusterIP can not be unset``).
_IMMUTABLE_MARKERS = (
    "field is immutable",
    "Forbidden:",
    "may not change once set",
    "can not be unset",
)


def _is_immutable_error(e: ApiError) -> bool:
    return e.status == 422 and any(m in e.message for m in _IMMUTABLE_MARKERS)


_FIELD_ERROR_RE = re.compile(r"([A-Za-z][\w.\[\]-]*): (?:Invalid value|Forbidden)")


def _immutable_summary(message: str) -> str:
    """``spec.template: field is immutable`` from the server's message.

    The server's ``Invalid value:`` is the whole new value (``core.PodTemplateSpec{...}``,
    thousands of characters with every env value): only the paths and the reason are kept.
    """
    marker = next((m for m in _IMMUTABLE_MARKERS if m in message), "")
    paths = list(dict.fromkeys(_FIELD_ERROR_RE.findall(message)))
    if marker == "Forbidden:":
        marker = message.split("Forbidden: ", 1)[1].split("\n", 1)[0][:200]
    return f"{', '.join(paths)}: {marker}" if paths else marker


def _is_too_long(e: ApiError) -> bool:
    return e.status == 422 and "metadata.annotations: Too long" in e.message


def _three_way_patch(last: Any, new: Any) -> Any:
    """A JSON merge patch: ``new``, with keys ``last`` had and ``new`` dropped set to null."""
    if not isinstance(new, dict):
        return new
    patch = {
        k: _three_way_patch((last or {}).get(k) if isinstance(last, dict) else None, v)
        for k, v in new.items()
    }
    if isinstance(last, dict):
        for k in last:
            if k not in new:
                patch[k] = None
    return patch


@dataclass
class _Outcome:
    obj: Obj
    recreated: bool = False
    replaced: bool = False
    method: str = "server-side"


@dataclass
class Applier:
    """Applies prepared objects through a :class:`KubeClient`.

    ``server_side`` is Tilt's ``k8s_server_side_apply``: ``"true"``, ``"false"`` (client-side
    three-way apply with the last-applied annotation), or ``"auto"`` (the default here:
    server-side, falling back to client-side when the server refuses it).
    """

    kube: KubeClient
    server_side: str = "auto"
    field_manager: str = "tilt"
    force_conflicts: bool = True
    upsert_timeout_s: float = 30.0
    parallelism: int = 8
    log: Log = field(default=lambda _line: None)
    _ssa_refused: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def apply(self, objects: Sequence[Obj]) -> ApplyResult:
        """Apply in kind order; the objects of one kind in parallel. Bounded by the timeout."""
        try:
            return await asyncio.wait_for(self._apply_all(objects), self.upsert_timeout_s)
        except TimeoutError:
            raise ApplyError(
                {"apply": f"timed out after {self.upsert_timeout_s:g}s (k8s_upsert_timeout_secs)"}
            ) from None

    async def _apply_all(self, objects: Sequence[Obj]) -> ApplyResult:
        groups: dict[int, list[tuple[int, Obj]]] = {}
        for i, obj in enumerate(objects):
            groups.setdefault(kind_rank(obj.get("kind", "")), []).append((i, obj))
        sem = asyncio.Semaphore(max(1, self.parallelism))
        results: dict[int, _Outcome] = {}
        errors: dict[str, str] = {}
        deadline = time.monotonic() + self.upsert_timeout_s

        async def one(i: int, obj: Obj) -> None:
            async with sem:
                try:
                    results[i] = await asyncio.to_thread(self.apply_one, obj, deadline)
                except ApiError as e:
                    if e.status == 0:  # unreachable: one message, not one per object
                        unreachable.append(e.message)
                    else:
                        errors[display_name(obj)] = e.message or e.reason

        unreachable: list[str] = []
        for rank in sorted(groups):
            await asyncio.gather(*(one(i, o) for i, o in groups[rank]))
            if unreachable:
                raise ApplyError({"cluster": unreachable[0]})
            if errors:
                raise ApplyError(errors)
        ordered = [results[i] for i in sorted(results)]
        return ApplyResult(
            objects=tuple(r.obj for r in ordered),
            recreated=tuple(display_name(r.obj) for r in ordered if r.recreated),
            replaced=tuple(display_name(r.obj) for r in ordered if r.replaced),
            method="client-side"
            if any(r.method == "client-side" for r in ordered)
            else "server-side",
        )

    # ---- one object, blocking (runs on a worker thread)
    def apply_one(self, obj: Obj, deadline: float | None = None) -> _Outcome:
        deadline = deadline or time.monotonic() + self.upsert_timeout_s
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        default_ns = self.kube.namespace
        info = self._resource(obj, deadline)
        if info.namespaced:
            meta.setdefault("namespace", default_ns)
        else:
            meta.pop("namespace", None)
        ns, name = meta.get("namespace", ""), meta["name"]
        try:
            return self._upsert_custom(info, obj, ns, name, deadline)
        except ApiError as e:
            if _is_immutable_error(e):
                self.log(
                    f"{display_name(obj)}: the apply changes an immutable field "
                    f"({_immutable_summary(e.message)}); deleting and re-creating it"
                )
                self._delete_and_wait(info, ns, name, deadline)
                out = self._upsert(info, obj, ns, name)
                out.recreated = True
                return out
            if _is_too_long(e):
                self.log(f"{display_name(obj)}: annotations too large to apply; replacing it")
                return self._replace(info, obj, ns, name)
            raise

    def _resource(self, obj: Obj, deadline: float) -> ResourceInfo:
        # A custom resource right after its CRD: discovery may lag until the CRD is established.
        # A kind no CRD defines will not come: said at once, not at the upsert timeout.
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        coming: bool | None = None
        while True:
            try:
                return self.kube.resource(api_version, kind)
            except ApiError as e:
                if not e.not_found:
                    raise
                if coming is None:
                    coming = self._crd_defines(api_version, kind)
                if not coming:
                    raise ApiError(
                        404,
                        "NotFound",
                        f"{e.message}: the cluster does not serve it and no "
                        "CustomResourceDefinition defines it (check apiVersion and kind, or "
                        "apply its CRD first)",
                    ) from None
                if time.monotonic() + 0.2 > deadline:
                    raise
                time.sleep(0.2)

    def _crd_defines(self, api_version: str, kind: str) -> bool:
        """Whether a CustomResourceDefinition in the cluster defines this kind and version."""
        group, _, version = api_version.rpartition("/")
        if not group:
            return False  # the core group: no CRD can add to it
        try:
            crds = self.kube.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        except ApiError:
            return True  # cannot tell: wait as before
        for crd in crds.get("items") or []:
            spec = crd.get("spec") or {}
            if (
                spec.get("group") == group
                and (spec.get("names") or {}).get("kind") == kind
                and any(v.get("name") == version for v in spec.get("versions") or [])
            ):
                return True
        return False

    def _upsert_custom(
        self, info: ResourceInfo, obj: Obj, ns: str, name: str, deadline: float
    ) -> _Outcome:
        # A custom resource right after its CRD was created: the API serves the new kind a
        # moment after discovery lists it (the CRD is "Established"); 404 until then.
        while True:
            try:
                return self._upsert(info, obj, ns, name)
            except ApiError as e:
                custom = kind_rank(obj.get("kind", "")) == len(KIND_ORDER)
                if not (e.not_found and custom) or time.monotonic() + 0.2 > deadline:
                    raise
                time.sleep(0.2)

    def _req(self, method: str, path: str, **kw: Any) -> Any:
        # No request outlives the upsert timeout (the thread cannot be cancelled).
        return self.kube.request(method, path, timeout_s=self.upsert_timeout_s, **kw)

    def _use_ssa(self) -> bool:
        return self.server_side != "false" and not self._ssa_refused

    def _upsert(self, info: ResourceInfo, obj: Obj, ns: str, name: str) -> _Outcome:
        if self._use_ssa():
            query = {"fieldManager": self.field_manager}
            if self.force_conflicts:
                query["force"] = "true"
            try:
                answer = self._req(
                    "PATCH",
                    info.path(ns, name),
                    query=query,
                    body=obj,
                    content_type="application/apply-patch+yaml",
                )
                return _Outcome(answer)
            except ApiError as e:
                if not (e.status == 415 and self.server_side == "auto"):
                    raise
                with self._lock:
                    if not self._ssa_refused:
                        self._ssa_refused = True
                        self.log("the cluster refuses server-side apply; using client-side apply")
        return self._client_side(info, obj, ns, name)

    def _client_side(self, info: ResourceInfo, obj: Obj, ns: str, name: str) -> _Outcome:
        path = info.path(ns, name)
        config = copy.deepcopy(obj)
        config.get("metadata", {}).get("annotations", {}).pop(LAST_APPLIED, None)
        last_applied = json.dumps(config, sort_keys=True, separators=(",", ":"))
        body = copy.deepcopy(config)
        body["metadata"].setdefault("annotations", {})[LAST_APPLIED] = last_applied
        query = {"fieldManager": "tilt-client-side-apply"}
        try:
            live = self._req("GET", path)
        except ApiError as e:
            if not e.not_found:
                raise
            created = self._req("POST", info.path(ns), query=query, body=body)
            return _Outcome(created, method="client-side")
        prev_raw = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
        try:
            previous = json.loads(prev_raw) if prev_raw else {}
        except ValueError:
            previous = {}
        patch = _three_way_patch(previous, body)
        answer = self._req(
            "PATCH", path, query=query, body=patch, content_type="application/merge-patch+json"
        )
        return _Outcome(answer, method="client-side")

    def _replace(self, info: ResourceInfo, obj: Obj, ns: str, name: str) -> _Outcome:
        body = copy.deepcopy(obj)
        body.get("metadata", {}).get("annotations", {}).pop(LAST_APPLIED, None)
        path = info.path(ns, name)
        try:
            live = self._req("GET", path)
        except ApiError as e:
            if not e.not_found:
                raise
            created = self._req("POST", info.path(ns), body=body)
            return _Outcome(created, replaced=True)
        body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        return _Outcome(self._req("PUT", path, body=body), replaced=True)

    def _delete_and_wait(self, info: ResourceInfo, ns: str, name: str, deadline: float) -> None:
        path = info.path(ns, name)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        try:
            self._req("DELETE", path, body=body)
        except ApiError as e:
            if not e.not_found:
                raise
        while time.monotonic() < deadline:
            try:
                self._req("GET", path)
            except ApiError as e:
                if e.not_found:
                    return
                raise
            time.sleep(0.05)
        raise ApiError(408, "Timeout", f"{info.kind}/{name} was not deleted in time")
