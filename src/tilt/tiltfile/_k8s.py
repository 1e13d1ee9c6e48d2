"""Tiltfile builtins: Kubernetes (k8s_yaml, k8s_resource, helm, kustomize, ...).

The builtins validate their arguments at the call, as Tilt does, and record what
they declare in `K8sState`; resources are assembled in `finalize` (see
`tilt.tiltfile._k8s_assemble`) once the whole Tiltfile ran, because a later
``docker_build`` or ``k8s_resource`` changes what an earlier ``k8s_yaml`` becomes.
Nothing here talks to a cluster; ``helm`` and ``kustomize`` run the user's binary.

Tilt's Blob is a plain string here. Where Tilt tells a Blob from a path (``k8s_yaml``,
``filter_yaml``), a string that contains a newline, starts with ``{`` or contains
``apiVersion:`` is YAML text; any other string is a path.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from tilt.model import (
    Cmd,
    DiscoveryStrategy,
    FallBackOnStep,
    IgnoreRule,
    K8sCustomDeployTarget,
    K8sObject,
    Link,
    PodReadiness,
    PortForward,
    SyncStep,
    TestSpec,
    TriggerMode,
    WatchSpec,
)
from tilt.tiltfile._context import (
    Ctx,
    LoadState,
    TiltfileError,
    as_bool,
    as_cmd,
    as_int,
    as_str,
    as_str_dict,
    as_str_list,
    builtin,
    unique,
)
from tilt.tiltfile._context import typename as _typename
from tilt.tiltfile._k8s_assemble import (
    CustomDeploy,
    ImageLocator,
    K8sState,
    KindInfo,
    Registered,
    ResourceOptions,
    assemble_k8s,
)
from tilt.tiltfile._k8s_yaml import (
    JSONPath,
    ObjectSelector,
    YamlError,
    dump_yaml,
    matches_labels,
    parse_objects,
    split_escaped,
)
from tilt.tiltfile._resource_args import labels_arg, links_arg, trigger_mode_arg

if TYPE_CHECKING:
    from tilt.tiltfile._assemble import Assembly

__all__ = ["K8sState", "finalize", "is_yaml_text"]

# What a Tiltfile may ask for (``succeeded`` is Tilt's own default for Jobs).
_POD_READINESS = {"ignore": PodReadiness.IGNORE, "wait": PodReadiness.WAIT}
# Tilt's host check for "host:local:container" port forwards (k8s.go).
_OCTET = r"([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])"
_IP_RE = rf"({_OCTET}\.){{3}}{_OCTET}"
_HOSTNAME_RE = (
    r"(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*"
    r"([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])"
)
_HOST_RE = re.compile(f"^(?:{_IP_RE}|{_HOSTNAME_RE})$")
_PORT_MAX = 65535


class _DefaultTrue:
    """``auto_init``'s default: true, but distinguishable from an explicit True so that a
    later k8s_resource call for the same resource keeps an earlier auto_init=False."""

    def __repr__(self) -> str:
        return "True"


_DEFAULT_TRUE: Any = _DefaultTrue()


def is_yaml_text(value: str) -> bool:
    """Whether a string given where Tilt accepts a path or a Blob is YAML text."""
    return "\n" in value or value.lstrip().startswith("{") or "apiVersion:" in value


def _display(path: str) -> str:
    from tilt.tiltfile._loader import display_path

    return display_path(path)


# --- reading YAML ----------------------------------------------------------------------


def _items(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _objects_from(ctx: Ctx, fn: str, value: object) -> tuple[list[K8sObject], bool]:
    """The objects of a path, YAML text, or a list of those; and whether any input was
    given at all (Tilt tells ``k8s_yaml([])`` from a file with no objects)."""
    out: list[K8sObject] = []
    items = _items(value)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            where = f"item {i}: " if isinstance(value, list | tuple) else ""
            raise TiltfileError(
                f"{fn}: for parameter 'yaml': {where}got {_typename(item)}, "
                "want a path, YAML text, or a list of those"
            )
        if not item.strip():
            continue  # an empty Blob (filter_yaml matching nothing): no objects
        if is_yaml_text(item):
            source, text = f"the YAML text given to {fn}", item
        else:
            path = ctx.abspath(item)
            ctx.state.record_read(path)
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except FileNotFoundError:
                raise TiltfileError(
                    f"{fn}: error reading yaml file: {_display(path)}: no such file"
                ) from None
            except (OSError, UnicodeDecodeError) as e:
                raise TiltfileError(
                    f"{fn}: error reading yaml file {_display(path)}: {e}"
                ) from None
            source = _display(path)
        try:
            out += parse_objects(text, source)
        except YamlError as e:
            raise TiltfileError(f"{fn}: {e}") from None
    return out, any(isinstance(i, str) and i.strip() for i in items)


@builtin("k8s_yaml", located=True)
def k8s_yaml(ctx: Ctx, yaml: object, allow_duplicates: object = False) -> None:
    """Register Kubernetes YAML: a path, YAML text (a Blob in Tilt), or a list of those.

    Tilt groups the objects into resources after the Tiltfile ran: each workload
    (an object with container images, or of a kind declared with ``k8s_kind``; Jobs
    and CronJobs always) becomes a resource named after it, Services that select its
    pods join it, and the rest goes to ``uncategorized``. Images in the objects are
    matched to ``docker_build`` / ``custom_build`` refs. Multi-document files and
    ``kind: List`` are expanded; empty documents are skipped. Files read are watched.

    Blobs are plain strings here: a string that contains a newline, starts with
    ``{`` or contains ``apiVersion:`` is YAML text; any other string is a path,
    relative to the calling Tiltfile.

    Args:
        yaml: Path(s) to YAML files, or YAML text (e.g. the output of ``local()``,
            ``helm()`` or ``kustomize()``), or a list of those.
        allow_duplicates: Registering the same object (apiVersion, kind, name,
            namespace) twice is an error unless this is True; the later one wins.
    """
    fn = "k8s_yaml"
    dupes_ok = as_bool(fn, "allow_duplicates", allow_duplicates)
    objects, given = _objects_from(ctx, fn, yaml)
    if not objects and not given:
        raise TiltfileError(f"{fn}: Empty or Invalid YAML Resource Detected")
    st = ctx.state.family(K8sState)
    here = ctx.here()
    for obj in objects:
        key = (obj.api_version, obj.kind, obj.name, obj.namespace)
        first = st.objects.get(key)
        if first is not None and not dupes_ok:
            human = f"{obj.kind} {obj.name}"
            if obj.namespace:
                human += f" (Namespace: {obj.namespace})"
            raise TiltfileError(
                f"{fn}: Duplicate YAML: {human}\n"
                "Ignore this error with k8s_yaml(..., allow_duplicates=True)\n"
                f"YAML originally registered at: {first.location}"
            )
        if first is not None:
            first.obj, first.location = obj, here
        else:
            st.objects[key] = Registered(obj=obj, location=here)


@builtin("filter_yaml")
def filter_yaml(  # noqa: PLR0917 (Tilt's positional parameters)
    ctx: Ctx,
    yaml: object,
    labels: object = None,
    name: object = "",
    namespace: object = "",
    kind: object = "",
    api_version: object = "",
) -> tuple[str, str]:
    """Split YAML into the objects that match the filters and the rest.

    Every filter given must match. ``name``, ``namespace``, ``kind`` and
    ``api_version`` are case-insensitive regular expressions matched anywhere in the
    value (anchor them with ``^...$`` for an exact match); an unset namespace is
    ``default``. ``labels`` must all be among the object's labels (Tilt checks the
    pod template's labels of a workload too).

    Args:
        yaml: Path(s) to YAML, or YAML text, or a list of those (as ``k8s_yaml``).
        labels: Dict of labels the objects must carry.
        name: Regexp for ``metadata.name``.
        namespace: Regexp for ``metadata.namespace``.
        kind: Regexp for the kind (e.g. ``"Deployment"``).
        api_version: Regexp for the apiVersion (e.g. ``"apps/v1"``).

    Returns:
        A pair ``(matching, rest)`` of YAML texts (Blobs in Tilt); "" when empty.
    """
    fn = "filter_yaml"
    objects, _ = _objects_from(ctx, fn, yaml)
    want: dict[str, str] = {}
    if labels is not None:
        if not isinstance(labels, dict):
            raise TiltfileError(f"{fn}: for parameter 'labels': got {_typename(labels)}, want dict")
        want = as_str_dict(fn, "labels", labels)
    sel = _selector(
        fn,
        api_version=as_str(fn, "api_version", api_version, allow_none=True),
        kind=as_str(fn, "kind", kind, allow_none=True),
        name=as_str(fn, "name", name, allow_none=True),
        namespace=as_str(fn, "namespace", namespace, allow_none=True),
    )
    match: list[K8sObject] = []
    rest: list[K8sObject] = []
    for obj in objects:
        ok = sel.matches(obj) and (not want or matches_labels(obj, want))
        (match if ok else rest).append(obj)
    return dump_yaml(match), dump_yaml(rest)


def _selector(
    fn: str, *, api_version: str = "", kind: str = "", name: str = "", namespace: str = ""
) -> ObjectSelector:
    try:
        return ObjectSelector.make(
            fn, api_version=api_version, kind=kind, name=name, namespace=namespace
        )
    except ValueError as e:
        raise TiltfileError(str(e)) from None


# --- kinds and image paths -------------------------------------------------------------


def _json_paths(fn: str, arg: str, value: object) -> list[JSONPath]:
    out = []
    for p in as_str_list(fn, arg, value):
        try:
            out.append(JSONPath.parse(p))
        except ValueError as e:
            raise TiltfileError(f"{fn}: {arg}: {e}") from None
    return out


def _kind_info(st: K8sState, sel: ObjectSelector) -> KindInfo:
    key = (sel.api_version, sel.kind, sel.name, sel.namespace)
    info = st.kinds.get(key)
    if info is None:
        info = KindInfo(selector=sel)
        st.kinds[key] = info
    return info


@builtin("k8s_kind")
def k8s_kind(
    ctx: Ctx,
    kind: object,
    *,
    image_json_path: object = [],
    api_version: object = "",
    image_object: object = None,
    pod_readiness: object = "",
) -> None:
    """Tell Tilt about a kind of Kubernetes object: its objects are workloads.

    Objects of the kind become resources of their own even without images (e.g. a
    CRD instance whose pods you attach with ``k8s_resource(extra_pod_selectors=)``).
    ``image_json_path`` (or ``image_object``) says where their images are, so that
    they are matched to the images you build. As in Tilt, everything after ``kind``
    is keyword-only.

    Args:
        kind: Case-insensitive regexp for the object's ``kind`` (e.g. ``"Environment"``).
        image_json_path: A Kubernetes JSONPath, or a list of them, to image references
            in objects of this kind (e.g. ``"{.spec.runtime.image}"``).
        api_version: Case-insensitive regexp for the apiVersion (e.g. ``"apps/v1"``).
        image_object: ``{'json_path': ..., 'repo_field': ..., 'tag_field': ...}`` for
            kinds that spell the image as separate repository and tag fields.
        pod_readiness: ``'ignore'`` or ``'wait'``: whether resources with this kind wait
            for their pods to be ready (overridable by ``k8s_resource``).
    """
    fn = "k8s_kind"
    kind_s = as_str(fn, "kind", kind)
    if not kind_s:
        # Tilt accepts it: an empty regexp matches every kind. Say so, as a warning.
        ctx.state.warn(f"{fn}: kind is empty, so every kind of object matches", ctx.here())
    sel = _selector(
        fn, kind=kind_s, api_version=as_str(fn, "api_version", api_version, allow_none=True)
    )
    paths = _json_paths(fn, "image_json_path", image_json_path)
    locators = [ImageLocator(selector=sel, path=p) for p in paths]
    if image_object is not None:
        if paths:
            raise TiltfileError(f"{fn}: Cannot specify both image_json_path and image_object")
        locators = [_image_object(fn, sel, image_object)]
    readiness = _pod_readiness(fn, pod_readiness)
    info = _kind_info(ctx.state.family(K8sState), sel)
    if locators:
        info.locators = locators
    if readiness:
        info.pod_readiness = readiness


def _image_object(fn: str, sel: ObjectSelector, value: object) -> ImageLocator:
    shape = "{'json_path': str, 'repo_field': str, 'tag_field': str}"
    if not isinstance(value, dict) or set(value) != {"json_path", "repo_field", "tag_field"}:
        raise TiltfileError(f"{fn}: image_object: Expected dict of the form {shape}")
    fields = as_str_dict(fn, "image_object", value)
    try:
        path = JSONPath.parse(fields["json_path"])
    except ValueError as e:
        raise TiltfileError(f"{fn}: image_object: {e}") from None
    return ImageLocator(
        selector=sel, path=path, repo_field=fields["repo_field"], tag_field=fields["tag_field"]
    )


@builtin("k8s_image_json_path")
def k8s_image_json_path(  # noqa: PLR0917 (Tilt's positional parameters)
    ctx: Ctx,
    paths: object,
    api_version: object = "",
    kind: object = "",
    name: object = "",
    namespace: object = "",
) -> None:
    """Say where images are in the objects a selector matches (Tilt's k8s_image_json_path).

    Like ``k8s_kind``, matching objects become workloads. The selector fields are
    case-insensitive regular expressions; at least one of kind, name or namespace is
    required.

    Args:
        paths: A Kubernetes JSONPath or a list of them (e.g. ``"{.spec.image}"``).
        api_version: Regexp for the apiVersion.
        kind: Regexp for the kind.
        name: Regexp for ``metadata.name``.
        namespace: Regexp for ``metadata.namespace``.
    """
    fn = "k8s_image_json_path"
    parts = {
        "api_version": as_str(fn, "api_version", api_version, allow_none=True),
        "kind": as_str(fn, "kind", kind, allow_none=True),
        "name": as_str(fn, "name", name, allow_none=True),
        "namespace": as_str(fn, "namespace", namespace, allow_none=True),
    }
    if not (parts["kind"] or parts["name"] or parts["namespace"]):
        raise TiltfileError(f"{fn}: at least one of kind, name, or namespace must be specified")
    sel = _selector(
        fn,
        api_version=parts["api_version"],
        kind=parts["kind"],
        name=parts["name"],
        namespace=parts["namespace"],
    )
    json_paths = _json_paths(fn, "paths", paths)
    info = _kind_info(ctx.state.family(K8sState), sel)
    info.locators = [ImageLocator(selector=sel, path=p) for p in json_paths]


# --- k8s_resource ----------------------------------------------------------------------


def _port(spec: str, text: str) -> int:
    if not text.isdigit() or int(text) > _PORT_MAX:
        raise ValueError(
            f'invalid port forward "{spec}": port value "{text}" is not a number in the '
            f"valid range [0-{_PORT_MAX}]"
        )
    return int(text)


def _port_forward(item: object) -> PortForward:
    if isinstance(item, PortForward):
        return item
    if isinstance(item, int) and not isinstance(item, bool):
        if not 0 <= item <= _PORT_MAX:
            raise ValueError(f"port value {item} is not in the valid range [0-{_PORT_MAX}]")
        return PortForward(local_port=item, container_port=0)
    if isinstance(item, str):
        parts = item.split(":", 2)
        host = ""
        if len(parts) == 3:
            host = parts[0]
            if not _HOST_RE.match(host):
                raise ValueError(
                    f'invalid port forward "{item}": host "{host}" is not a valid hostname '
                    "or IP address"
                )
        local = _port(item, parts[1] if len(parts) == 3 else parts[0])
        container = _port(item, parts[-1]) if len(parts) > 1 else 0
        if host:
            return PortForward(local_port=local, container_port=container, host=host)
        return PortForward(local_port=local, container_port=container)
    raise ValueError(
        f"got {_typename(item)}, want an int, a string such as '8000:80', or a port_forward"
    )


def _port_forwards(fn: str, resource: str, value: object) -> list[PortForward]:
    try:
        return [_port_forward(item) for item in _items(value)]
    except ValueError as e:
        raise TiltfileError(f'{fn} "{resource}": port_forwards: {e}') from None


def _pod_selectors(fn: str, value: object) -> list[dict[str, str]]:
    if value is None:
        return []
    if isinstance(value, dict):
        items: list[object] = [value]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise TiltfileError(
            f"{fn}: extra_pod_selectors must be a dict or a list of dicts; got {_typename(value)}"
        )
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise TiltfileError(
                f"{fn}: extra_pod_selectors elements must be dicts; got {_typename(item)}"
            )
        for k, v in item.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TiltfileError(
                    f"{fn}: pod label keys and values must be strings; got {k!r}: {v!r}"
                )
        if item:
            out.append(dict(item))
    return out


def _string_seq(fn: str, arg: str, value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict):  # a set() (a dict here): a Starlark sequence, as in Tilt
        value = list(value)
    if not isinstance(value, list | tuple):
        raise TiltfileError(f"{fn}: for parameter {arg!r}: got {_typename(value)}, want list")
    return as_str_list(fn, arg, value)


def _pod_readiness(fn: str, value: object) -> PodReadiness | None:
    mode = as_str(fn, "pod_readiness", value, allow_none=True)
    if mode and mode not in _POD_READINESS:
        raise TiltfileError(
            f"{fn}: for parameter 'pod_readiness': Invalid value. Allowed: {{ignore, wait}}. "
            f"Got: {mode}"
        )
    return _POD_READINESS.get(mode)


def _object_fragments(fn: str, value: object) -> list[str]:
    frags = _string_seq(fn, "objects", value)
    for frag in frags:
        if not frag:
            raise TiltfileError(f"{fn}: objects: selector can't be empty")
        n = len(split_escaped(frag))
        if n > 3:
            raise TiltfileError(
                f"{fn}: objects: Too many parts in selector. Selectors must contain between 1 "
                f"and 3 parts (colon separated), found {n} parts in {frag}"
            )
    return frags


@builtin("k8s_resource", located=True)
def k8s_resource(  # noqa: PLR0917 (Tilt's positional parameters)
    ctx: Ctx,
    workload: object = "",
    new_name: object = "",
    port_forwards: object = [],
    extra_pod_selectors: object = [],
    trigger_mode: object = None,
    resource_deps: object = [],
    objects: object = [],
    auto_init: object = _DEFAULT_TRUE,
    pod_readiness: object = "",
    links: object = [],
    labels: object = [],
    discovery_strategy: object = "",
    test: object = False,
    results_format: object = "auto",
    timeout: object = "",
) -> None:
    """Configure a Kubernetes resource Tilt assembled, or make one from objects.

    With ``workload``, configures the resource of that name (the names Tilt gives
    workloads: ``name``, or ``name:kind``, ``name:kind:namespace`` when names
    collide). With only ``new_name`` and ``objects``, makes a new resource from
    objects no workload took (e.g. a CRD and its Secret). Several calls for one
    resource add up: lists are appended, later scalar settings win. A name no
    resource has is an error that suggests the closest one.

    Args:
        workload: The resource to configure.
        new_name: Rename the resource (or name the new one).
        port_forwards: ``8000``, ``'8000'`` (local and container port 8000),
            ``'8000:80'`` (local 8000 to container 80), ``'host:8000:80'``, a
            ``port_forward()``, or a list of those.
        extra_pod_selectors: A dict of labels, or a list of them: pods with all the
            labels of one of them belong to this resource too.
        trigger_mode: ``TRIGGER_MODE_AUTO`` or ``TRIGGER_MODE_MANUAL``; unset means the
            Tiltfile's ``trigger_mode()`` default.
        resource_deps: Resources that must be ready before this one updates.
        objects: Object selectors ``name``, ``name:kind`` or ``name:kind:namespace``
            (case-insensitive; each must match exactly one object that no other
            resource took) to add to this resource.
        auto_init: Whether the resource updates at ``tilt up`` (default True).
        pod_readiness: ``'ignore'`` or ``'wait'``: whether Tilt waits for pods to be
            ready. By default Jobs wait to succeed, resources with pods wait, others
            do not.
        links: URLs (or ``link()`` values) shown with the resource.
        labels: Group names for the resource in the UI.
        discovery_strategy: ``''``/``'default'`` (owner references and
            extra_pod_selectors) or ``'selectors-only'``.
        test: Beyond Tilt: the resource (whose workload is a Job) is a test: each
            update deletes and re-creates the Job, passes or fails with it, and reads
            per-test results from its pods' logs (see docs/testing.md).
        results_format: Beyond Tilt, with ``test=True``: where the per-test results
            are in the pod's log: ``"auto"`` (any of the following, recognised),
            ``"gotest"`` (a ``go test -json`` stream), ``"junit"`` (JUnit XML printed
            in the log, e.g. ``pytest --junitxml=/dev/stdout``), ``"pytest"`` (pytest's
            output: run it with ``-rA`` or ``-v``), or ``"none"`` (the Job's verdict).
        timeout: Beyond Tilt, with ``test=True``: how long the Job may run (seconds
            or a duration such as ``"5m"``; ``""`` for no limit).
    """
    fn = "k8s_resource"
    name = as_str(fn, "workload", workload, allow_none=True)
    rename = as_str(fn, "new_name", new_name, allow_none=True)
    if rename.endswith((".yaml", ".yml")):
        # Tilt's check for the old k8s_resource(name, yaml) form.
        raise TiltfileError(
            f"{fn}: It looks like k8s_resource is being called with deprecated arguments: "
            "second arg looks like a yaml file name, not a resource name. "
            "See https://docs.tilt.dev/resource_assembly_migration.html"
        )
    key = name or rename
    pfs = _port_forwards(fn, key, port_forwards)
    selectors = _pod_selectors(fn, extra_pod_selectors)
    mode = trigger_mode_arg(fn, trigger_mode)
    deps = _string_seq(fn, "resource_deps", resource_deps)
    frags = _object_fragments(fn, objects)
    init = None if auto_init is _DEFAULT_TRUE else as_bool(fn, "auto_init", auto_init)
    readiness = _pod_readiness(fn, pod_readiness)
    link_list = list(links_arg(fn, links, ctx.warn))
    label_list = list(labels_arg(fn, labels))
    strategy_s = as_str(fn, "discovery_strategy", discovery_strategy, allow_none=True)
    try:
        strategy = DiscoveryStrategy(strategy_s) if strategy_s else None
    except ValueError:
        raise TiltfileError(
            f"{fn}: for parameter 'discovery_strategy': Invalid. Must be one of: "
            '"default", "selectors-only"'
        ) from None
    test_spec = _job_test_spec(fn, test, results_format, timeout)
    manual = not name
    if manual and not frags:
        raise TiltfileError(
            f"{fn}: k8s_resource doesn't specify a workload or any objects. All non-workload "
            "resources must specify 1 or more objects"
        )
    if manual and not rename:
        raise TiltfileError(
            f"{fn}: k8s_resource has only non-workload objects but doesn't provide a new_name"
        )

    call = ResourceOptions(
        key=key,
        location=ctx.here(),
        manually_grouped=manual,
        new_name=rename,
        port_forwards=pfs,
        extra_pod_selectors=selectors,
        trigger_mode=mode,
        auto_init=init,
        resource_deps=deps,
        objects=frags,
        pod_readiness=readiness,
        links=link_list,
        labels=label_list,
        discovery_strategy=strategy,
        test=test_spec,
    )
    st = ctx.state.family(K8sState)
    earlier = st.options.get(key)
    if earlier is None:
        st.options[key] = call
    else:
        earlier.merge(call)


_JOB_RESULTS_FORMATS = ("auto", "pytest", "gotest", "junit", "none")


def _timeout_s(fn: str, timeout: object) -> float | None:
    """A test timeout: seconds or a duration string; ``""``/0: no limit."""
    if isinstance(timeout, bool) or not isinstance(timeout, str | int | float):
        raise TiltfileError(
            f"{fn}: for parameter 'timeout': got {_typename(timeout)}, want string or number"
        )
    if isinstance(timeout, str):
        if not timeout.strip():
            return None
        from tilt.commands.up import parse_duration

        try:
            out = parse_duration(timeout)
        except ValueError as e:
            raise TiltfileError(f"{fn}: for parameter 'timeout': {e}") from None
    else:
        out = float(timeout)
    return out if out > 0 else None


def _job_test_spec(
    fn: str, test: object, results_format: object, timeout: object
) -> TestSpec | None:
    """k8s_resource's test arguments, checked (None: not a test)."""
    if not as_bool(fn, "test", test):
        return None
    fmt = as_str(fn, "results_format", results_format)
    if fmt not in _JOB_RESULTS_FORMATS:
        raise TiltfileError(
            f"{fn}: for parameter 'results_format': unknown format {fmt!r} for a Job "
            f"(one of {', '.join(_JOB_RESULTS_FORMATS)}: results are read from its logs)"
        )
    return TestSpec(timeout_s=_timeout_s(fn, timeout), results_format=fmt)


@builtin("port_forward", located=True)
def port_forward(  # noqa: PLR0917 (Tilt's positional parameters)
    ctx: Ctx,
    local_port: object,
    container_port: object = None,
    name: object = None,
    link_path: object = None,
    host: object = None,
) -> PortForward:
    """Make a port forward for ``k8s_resource(port_forwards=)``.

    Args:
        local_port: The local port to listen on (0-65535; another int is a warning,
            as Tilt takes it).
        container_port: The container port to forward to; unset means ``local_port``
            if the container exposes it, else its first port.
        name: The link's text in the UI.
        link_path: A path to append to the forward's URL in links (e.g. ``/v1/app``).
        host: The host to bind (default ``localhost``); one that is not a hostname or
            IP address is a warning (Tilt checks it only in ``'host:local:container'``
            strings).

    Returns:
        A port_forward value.
    """
    fn = "port_forward"
    local = _int_port(ctx, fn, "local_port", local_port)
    container = (
        0 if container_port is None else _int_port(ctx, fn, "container_port", container_port)
    )
    host_s = as_str(fn, "host", host, allow_none=True)
    if host_s and not _HOST_RE.match(host_s):
        # Tilt checks the host of a "host:local:container" string, not port_forward(host=).
        ctx.warn(f'{fn}: host "{host_s}" is not a valid hostname or IP address')
    extra: dict[str, str] = {"host": host_s} if host_s else {}
    return PortForward(
        local_port=local,
        container_port=container,
        name=as_str(fn, "name", name, allow_none=True),
        link_path=as_str(fn, "link_path", link_path, allow_none=True),
        **extra,
    )


def _int_port(ctx: Ctx, fn: str, arg: str, value: object) -> int:
    """A port_forward() port: any int, as Tilt takes it; out of range is a warning."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TiltfileError(f"{fn}: for parameter {arg!r}: got {_typename(value)}, want int")
    if not 0 <= value <= _PORT_MAX:
        ctx.warn(f"{fn}: {arg} {value} is not in the valid range [0-{_PORT_MAX}]")
    return value


# --- cluster context -------------------------------------------------------------------


def read_kubeconfig(state: LoadState) -> tuple[str, str]:
    """The current context and its namespace, as kubectl resolves them ("" if none).

    ``KUBECONFIG`` (a path list; the first file that sets current-context wins) or
    ``~/.kube/config``; the namespace defaults to ``default``.
    """
    st = state.family(K8sState)
    if st.kube is not None:
        return st.kube
    import yaml

    env = state.env
    raw = env.get("KUBECONFIG", "")
    if raw:
        paths = [p for p in raw.split(os.pathsep) if p]
    else:
        home = env.get("HOME") or os.path.expanduser("~")
        paths = [os.path.join(home, ".kube", "config")]
    current = ""
    contexts: dict[str, dict[str, Any]] = {}
    for p in paths:
        try:
            with open(p, encoding="utf-8") as f:
                doc = yaml.load(f, Loader=yaml.CSafeLoader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if not isinstance(doc, dict):
            continue
        if not current and isinstance(doc.get("current-context"), str):
            current = doc["current-context"]
        for c in doc.get("contexts") or []:
            if isinstance(c, dict) and isinstance(c.get("name"), str):
                body = c.get("context")
                contexts.setdefault(c["name"], body if isinstance(body, dict) else {})
    namespace = contexts.get(current, {}).get("namespace") or "default"
    st.kube = (current, str(namespace))
    return st.kube


@builtin("k8s_context")
def k8s_context(ctx: Ctx) -> str:
    """The name of the Kubernetes context Tilt connects to ("" when there is none).

    Read from ``KUBECONFIG`` or ``~/.kube/config``, as kubectl does; no cluster is
    contacted.

    Returns:
        The current context's name.
    """
    ctx.state.family(K8sState).kube_used = True
    return read_kubeconfig(ctx.state)[0]


@builtin("k8s_namespace")
def k8s_namespace(ctx: Ctx) -> str:
    """The namespace of the current Kubernetes context (``default`` when it sets none).

    Returns:
        The namespace name.
    """
    ctx.state.family(K8sState).kube_used = True
    return read_kubeconfig(ctx.state)[1]


@builtin("workload_to_resource_function", located=True)
def workload_to_resource_function(ctx: Ctx, func: object) -> None:
    """Name the resources Tilt makes for workloads with your own function.

    Each workload (an object with images, or of a ``k8s_kind``) becomes a resource
    named ``func(id)``, where ``id`` has the attributes ``name``, ``kind`` (e.g.
    ``"Deployment"``), ``namespace`` (``"default"`` when unset) and ``group`` (``""``
    for the core group). The function runs when the resources are assembled, after
    the whole Tiltfile has run, for every workload; ``k8s_resource()`` then refers to
    the names it gave. Two workloads given the same name are an error. A later call
    replaces the function.

    What differs from Tilt: ``func`` must be a function defined with ``def`` at the top
    level of a file (Tilt also takes a lambda or a nested function), and ``id`` is a
    ``struct`` (Tilt's ``K8sObjectID``: ``str(id)`` there is
    ``name:kind:namespace:group`` in lowercase).

    Args:
        func: A function of one argument that returns the resource name (a string).
    """
    fn = "workload_to_resource_function"
    from tilt.tiltfile._loader import function_ref

    ref = function_ref(ctx.state, fn, "func", func)
    if ref.params != 1:
        raise TiltfileError(f"{fn} arg must take 1 argument. {ref.name} takes {ref.params}")
    ctx.state.family(K8sState).name_function = (ref, ctx.here())


@builtin("k8s_resource_assembly_version")
def k8s_resource_assembly_version(ctx: Ctx, version: object) -> None:
    """Choose how Kubernetes objects are grouped into resources (a legacy setting).

    Version 2, the grouping by workload that the rest of this reference describes, is
    the default; Tiltfiles written for Tilt before 0.8 call this with 2 at the top, and
    that call changes nothing. It must come before any ``k8s_yaml``, ``k8s_resource``
    or ``k8s_custom_deploy`` call.

    What differs from Tilt: version 1, the grouping by image Tilt deprecated in 2019,
    is not supported here and fails the load.

    Args:
        version: 1 or 2.
    """
    fn = "k8s_resource_assembly_version"
    number = as_int(fn, "version", version)
    st = ctx.state.family(K8sState)
    if st.objects or st.custom_deploys or st.options:
        raise TiltfileError(f"{fn} can only be called before introducing any k8s resources")
    if number < 1 or number > 2:
        raise TiltfileError(f"invalid {fn} {number}. Must be 1 or 2.")
    if number == 1:
        raise TiltfileError(
            f"{fn}(1): the resource assembly by image (deprecated by Tilt in 2019) is not "
            "supported here; remove the call to use version 2, the default"
        )


@builtin("allow_k8s_contexts")
def allow_k8s_contexts(ctx: Ctx, contexts: object) -> None:
    """Allow deploying to these Kubernetes contexts besides the known local ones.

    Tilt refuses to deploy to a context that is neither a known local cluster
    (Docker Desktop, minikube, kind, k3d, microk8s, ...) nor allowed here. The list is
    recorded in the settings (``allowed_k8s_contexts``); the check happens when
    resources are deployed, not while loading.

    Args:
        contexts: A context name or a list of them.
    """
    names = as_str_list("allow_k8s_contexts", "contexts", contexts)
    st = ctx.state.family(K8sState)
    st.allowed_contexts = unique([*st.allowed_contexts, *names])


@builtin("k8s_quiet_events", located=True)
def k8s_quiet_events(ctx: Ctx, reasons: object, resources: object = []) -> None:
    """Keep Kubernetes event reasons out of the log and the status (beyond Tilt).

    Quieted events are still listed in the events view (``e`` in the TUI, ``tilt get -o
    json``); they are no longer logged as ``[event]`` lines and never become a resource's
    status reason. Calls add up.

    Args:
        reasons: An event reason (``'Unhealthy'``, ``'BackOff'``, ...) or a list of them.
        resources: Resource names the rule applies to; empty (the default) for every resource.
    """
    fn = "k8s_quiet_events"
    why = as_str_list(fn, "reasons", reasons)
    names = as_str_list(fn, "resources", resources) or [""]
    st = ctx.state.family(K8sState)
    st.quiet_events = unique([*st.quiet_events, *((n, r) for n in names for r in why)])
    for n in names:
        if n:
            st.quiet_where.setdefault(n, ctx.here())


# --- helm and kustomize ----------------------------------------------------------------


def _which(ctx: Ctx, program: str) -> str | None:
    import shutil

    if os.sep in program:
        path = ctx.abspath(program)
        return path if os.access(path, os.X_OK) and os.path.isfile(path) else None
    return shutil.which(program, path=ctx.state.env.get("PATH", os.defpath))


def _run(ctx: Ctx, fn: str, argv: list[str]) -> str:
    """Run a tool in the Tiltfile's folder; its stdout, or a clear error."""
    import shlex
    import subprocess

    from tilt.process import guard_group, stop_signals_held, unguard_group

    ctx.state.log(f"local: {shlex.join(argv)}")
    try:
        with stop_signals_held():
            # A group of its own, stopped with the load (tilt.tiltfile.worker).
            popen = subprocess.Popen(
                argv,
                cwd=ctx.dir,
                env=dict(ctx.state.env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            guard_group(popen.pid)
    except OSError as e:
        raise TiltfileError(f"{fn}: cannot run {argv[0]}: {e}") from None
    try:
        with popen:
            out, err = popen.communicate()
    finally:
        unguard_group(popen.pid)
    proc = subprocess.CompletedProcess(argv, popen.returncode, out, err)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
        raise TiltfileError(
            f"{fn}: command {shlex.join(argv)!r} failed with exit code {proc.returncode}"
            + (f":\n{tail}" if tail else "")
        )
    return proc.stdout


def _helm_test_doc(doc: str) -> bool:
    # Tilt drops chart tests from `helm template` output ("# Source: chart/templates/tests/...").
    return any(re.match(r"^# Source: .*/tests/", line) for line in doc.split("\n"))


@builtin("helm")
def helm(  # noqa: PLR0917 (Tilt's positional parameters)
    ctx: Ctx,
    paths: object,
    name: object = "",
    namespace: object = "",
    values: object = [],
    set: object = [],
    kube_version: object = "",
    skip_crds: object = False,
) -> str:
    """Render a local Helm chart with ``helm template`` and return the YAML.

    Runs the ``helm`` found on ``$PATH`` (Helm 3) in the Tiltfile's folder, with the
    chart's CRDs included unless ``skip_crds``; chart tests are dropped. With
    ``namespace``, objects without one get it (``helm template`` does not set it).
    The chart folder and the values files are watched.

    Args:
        paths: Path to the chart directory (the folder with ``Chart.yaml``).
        name: The release name (default ``chart``, stable across loads, as in Tilt).
        namespace: The namespace to render for (``--namespace``).
        values: Values file(s) (``--values``).
        set: Value override(s) such as ``'image.tag=dev'`` (``--set``).
        kube_version: The Kubernetes version to render for (``--kube-version``).
        skip_crds: Leave the chart's CRDs out.

    Returns:
        The rendered YAML (a Blob in Tilt), for ``k8s_yaml``.
    """
    fn = "helm"
    chart = ctx.abspath(as_str(fn, "paths", paths))
    release = as_str(fn, "name", name, allow_none=True) or "chart"
    ns = as_str(fn, "namespace", namespace, allow_none=True)
    value_files = as_str_list(fn, "values", values)
    sets = as_str_list(fn, "set", set)
    kube = as_str(fn, "kube_version", kube_version, allow_none=True)
    no_crds = as_bool(fn, "skip_crds", skip_crds)
    if not os.path.exists(chart):
        raise TiltfileError(f'{fn}: Could not read Helm chart directory "{chart}": does not exist')
    if not os.path.isdir(chart):
        raise TiltfileError(
            f'{fn}: helm() may only be called on directories with Chart.yaml: "{chart}"'
        )
    ctx.state.record_read(chart)
    binary = _which(ctx, "helm")
    if binary is None:
        raise TiltfileError(
            f"{fn}: Unable to find Helm installation. Make sure `helm` is on your $PATH "
            "(install Helm 3: https://helm.sh/docs/intro/install/)."
        )
    argv = [binary, "template", release, chart, "--skip-crds" if no_crds else "--include-crds"]
    if ns:
        argv += ["--namespace", ns]
    if kube:
        argv += ["--kube-version", kube]
    for vf in value_files:
        path = ctx.abspath(vf)
        ctx.state.record_read(path)
        argv += ["--values", path]
    for s in sets:
        argv += ["--set", s]
    out = _run(ctx, fn, argv)
    docs = [d for d in re.split(r"^---[ \t]*$", out, flags=re.MULTILINE) if not _helm_test_doc(d)]
    text = "\n---".join(docs) if docs else ""
    if ns and text.strip():
        try:
            objs = parse_objects(text, f"helm template output for {_display(chart)}")
        except YamlError as e:
            raise TiltfileError(f"{fn}: {e}") from None
        for o in objs:
            meta = o.body.setdefault("metadata", {})
            if isinstance(meta, dict) and not meta.get("namespace"):
                meta["namespace"] = ns
        text = dump_yaml(objs)
    return text


@builtin("kustomize")
def kustomize(
    ctx: Ctx,
    paths: object,
    kustomize_bin: object = None,
    flags: object = [],
) -> str:
    """Run ``kustomize build`` on a folder and return the YAML.

    Uses ``kustomize`` from ``$PATH`` (or ``kustomize_bin``), falling back to
    ``kubectl kustomize`` as Tilt does. The folder is watched. (Tilt's API page
    calls the first parameter ``pathToDir``; Tilt itself accepts ``paths``, as here.)

    Args:
        paths: Path to the folder with ``kustomization.yaml``.
        kustomize_bin: The kustomize executable to run instead of the one on ``$PATH``.
        flags: Extra flags for ``kustomize build``.

    Returns:
        The YAML (a Blob in Tilt), for ``k8s_yaml``.
    """
    fn = "kustomize"
    folder = ctx.abspath(as_str(fn, "paths", paths))
    custom = as_str(fn, "kustomize_bin", kustomize_bin, allow_none=True)
    extra = _string_seq(fn, "flags", flags)
    if not os.path.isdir(folder):
        raise TiltfileError(f'{fn}: "{folder}" is not a directory')
    ctx.state.record_read(folder)
    binary = _which(ctx, custom or "kustomize")
    if binary is not None:
        argv = [binary, "build"]
    elif custom:
        raise TiltfileError(f'{fn}: kustomize_bin "{custom}" was not found or is not executable')
    else:
        kubectl = _which(ctx, "kubectl")
        if kubectl is None:
            raise TiltfileError(
                f"{fn}: Unable to find `kustomize` or `kubectl` on your $PATH; install kustomize "
                "(https://kubectl.docs.kubernetes.io/installation/kustomize/) or kubectl"
            )
        ctx.state.log("Falling back to `kubectl kustomize` since `kustomize` was not found in PATH")
        argv = [kubectl, "kustomize"]
    # Tilt passes the folder relative to the Tiltfile (kustomize mishandles absolute paths).
    return _run(ctx, fn, [*argv, *extra, os.path.relpath(folder, ctx.dir)])


# --- k8s_custom_deploy -----------------------------------------------------------------


def _deploy_cmd(fn: str, arg: str, value: object, bat_arg: str, bat: object) -> Cmd:
    if not isinstance(value, str | list | tuple):
        raise TiltfileError(
            f"{fn}: for parameter {arg!r}: got {_typename(value)}, want string or list of strings"
        )
    if os.name == "nt" and bat:
        if isinstance(bat, str):
            return Cmd(argv=("cmd", "/S", "/C", bat))
        return Cmd(argv=tuple(as_str_list(fn, bat_arg, bat)))
    cmd = as_cmd(fn, arg, value)
    if cmd is None:
        raise TiltfileError(f"{fn}: {arg} cannot be empty")
    return cmd


@builtin("k8s_custom_deploy", located=True)
def k8s_custom_deploy(  # noqa: PLR0917 (Tilt's positional parameters)
    ctx: Ctx,
    name: object,
    apply_cmd: object,
    delete_cmd: object,
    deps: object,
    image_selector: object = "",
    live_update: object = [],
    apply_dir: object = "",
    apply_env: object = {},
    apply_cmd_bat: object = "",
    delete_dir: object = "",
    delete_env: object = {},
    delete_cmd_bat: object = "",
    container_selector: object = "",
    image_deps: object = [],
) -> None:
    """Deploy to Kubernetes with your own commands: a K8S_CUSTOM_DEPLOY resource.

    ``apply_cmd`` runs when a path in ``deps`` changes and must print the YAML of
    the objects it applied; ``delete_cmd`` runs on ``tilt down``. Both must be
    idempotent. Configure the resource further with ``k8s_resource(name, ...)``.
    With ``live_update``, exactly one of ``image_selector`` and
    ``container_selector`` picks the container to update.

    Args:
        name: The resource name.
        apply_cmd: Deploy command; a string runs through ``sh -c``, a list is argv.
        delete_cmd: Delete command, the same way.
        deps: Paths whose changes re-run ``apply_cmd``.
        image_selector: Image reference of the containers Live Update may update.
        live_update: Live Update steps (``sync``, ``run``, ...).
        apply_dir: Working folder of ``apply_cmd`` (default: the Tiltfile's).
        apply_env: Environment variables for ``apply_cmd``.
        apply_cmd_bat: On Windows, replaces ``apply_cmd`` when non-empty.
        delete_dir: Working folder of ``delete_cmd`` (default: the Tiltfile's).
        delete_env: Environment variables for ``delete_cmd``.
        delete_cmd_bat: On Windows, replaces ``delete_cmd`` when non-empty.
        container_selector: Name of the container Live Update may update.
        image_deps: Images (built here) the deploy needs; their refs are passed to
            ``apply_cmd`` as ``TILT_IMAGE_i``.
    """
    fn = "k8s_custom_deploy"
    res_name = as_str(fn, "name", name)
    if not res_name:
        raise TiltfileError(f"{fn}: name must not be empty")
    apply = _deploy_cmd(fn, "apply_cmd", apply_cmd, "apply_cmd_bat", apply_cmd_bat)
    delete = _deploy_cmd(fn, "delete_cmd", delete_cmd, "delete_cmd_bat", delete_cmd_bat)
    dep_paths = tuple(unique(ctx.abspath(p) for p in as_str_list(fn, "deps", deps)))
    # The images family validates live_update as Tilt does and marks the steps used.
    from tilt.tiltfile._images import live_update_steps

    steps = live_update_steps(ctx, fn, live_update)
    image_sel = as_str(fn, "image_selector", image_selector, allow_none=True)
    container_sel = as_str(fn, "container_selector", container_selector, allow_none=True)
    from tilt.refs import parse_ref

    for ref in [image_sel] if image_sel else []:
        try:
            parse_ref(ref)
        except ValueError as e:
            raise TiltfileError(f'{fn}: can\'t parse "{ref}": {e}') from None
    if steps:
        count = bool(image_sel) + bool(container_sel)
        if count == 0:
            raise TiltfileError(f"{fn}: no Live Update selector specified")
        if count > 1:
            raise TiltfileError(f"{fn}: cannot specify more than one Live Update selector")
    images = _string_seq(fn, "image_deps", image_deps)
    for ref in images:
        try:
            parse_ref(ref)
        except ValueError as e:
            raise TiltfileError(f"{fn}: image_deps: {e}") from None
    here = ctx.here()
    # Files Live Update syncs do not re-run apply_cmd (Tilt's customDeployIgnoresForLiveUpdate).
    ignores = tuple(
        IgnoreRule(pattern=p, base_dir=ctx.dir, origin=f"{here} {fn}(live_update=)")
        for step in steps
        for p in (
            [step.local_path]
            if isinstance(step, SyncStep)
            else step.paths
            if isinstance(step, FallBackOnStep)
            else []
        )
    )
    target = K8sCustomDeployTarget(
        apply_cmd=apply,
        delete_cmd=delete,
        apply_dir=_dir(ctx, fn, "apply_dir", apply_dir),
        apply_env=as_str_dict(fn, "apply_env", apply_env),
        delete_dir=_dir(ctx, fn, "delete_dir", delete_dir),
        delete_env=as_str_dict(fn, "delete_env", delete_env),
        deps=dep_paths,
        image_selector=image_sel,
        container_selector=container_sel,
        live_update=steps,
        watch=WatchSpec(paths=dep_paths, ignores=ignores),
    )
    st = ctx.state.family(K8sState)
    if res_name in st.custom_deploys:
        first = st.custom_deploys[res_name]
        raise TiltfileError(
            f'{fn}: error making resource for {res_name}: k8s_resource named "{res_name}" '
            f"already exists (at {first.location})"
        )
    st.custom_deploys[res_name] = CustomDeploy(
        name=res_name, location=here, target=target, image_deps=tuple(images)
    )


def _dir(ctx: Ctx, fn: str, arg: str, value: object) -> str:
    path = as_str(fn, arg, value, allow_none=True)
    return ctx.abspath(path) if path else ctx.dir


def finalize(state: LoadState, asm: Assembly) -> None:
    """Assemble the Kubernetes resources (see `tilt.tiltfile._k8s_assemble`)."""
    assemble_k8s(state, asm, read_kubeconfig)


# --- test(image=...): a Job filled from a template ----------------------------------------

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _pytest_prints_outcomes(
    argv: list[str], env: dict[str, str], results_format: str
) -> dict[str, str]:
    """``env`` with ``PYTEST_ADDOPTS=-rA`` added when the command runs pytest: its log
    then names every test's outcome (`tilt.testresults` reads them from there). A ``-r``
    of the command's own wins (pytest reads PYTEST_ADDOPTS before the command line)."""
    from tilt.testresults import is_pytest_command

    if results_format not in ("auto", "pytest") or not argv:
        return env
    line = argv[2] if len(argv) >= 3 and argv[1] == "-c" else " ".join(argv)
    if not is_pytest_command(line):
        return env
    own = env.get("PYTEST_ADDOPTS", "")
    return {**env, "PYTEST_ADDOPTS": f"-rA {own}".strip()}


def job_test(
    ctx: Ctx,
    *,
    name: str,
    image: object,
    command: object,
    env: dict[str, str],
    spec: TestSpec,
    trigger_mode: TriggerMode | None,
    resource_deps: list[str],
    auto_init: bool,
    labels: list[str],
    links: list[Link],
) -> None:
    """``test(name, image=..., command=...)``: the Job that runs ``command`` in ``image``
    (restartPolicy Never, backoffLimit 0, the context's namespace) becomes resource
    ``name``, a test as with ``k8s_resource(name, test=True)``. A pytest command gets
    ``PYTEST_ADDOPTS=-rA`` (each test's outcome in the log)."""
    fn = "test"
    img = as_str(fn, "image", image)
    if not _DNS1123.match(name):
        raise TiltfileError(
            f"{fn}: with image=, the name {name!r} names a Kubernetes Job: lowercase letters, "
            "digits and '-', at most 63 characters"
        )
    if isinstance(command, str):
        argv = ["sh", "-c", command] if command.strip() else []
    else:
        argv = as_str_list(fn, "command", command)
    container: dict[str, Any] = {"name": "test", "image": img}
    if argv:
        container["command"] = argv
    env = _pytest_prints_outcomes(argv, env, spec.results_format)
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    body: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "tilt", "tilt.dev/test": name},
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"tilt.dev/test": name}},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }
    obj = K8sObject(api_version="batch/v1", kind="Job", name=name, body=body)
    st = ctx.state.family(K8sState)
    here = ctx.here()
    key = (obj.api_version, obj.kind, obj.name, obj.namespace)
    if key in st.objects:
        raise TiltfileError(f"{fn}: Job {name} is already registered at {st.objects[key].location}")
    st.objects[key] = Registered(obj=obj, location=here)
    call = ResourceOptions(
        key=name,
        location=here,
        trigger_mode=trigger_mode,
        auto_init=auto_init,
        resource_deps=list(resource_deps),
        labels=list(labels),
        links=list(links),
        test=spec,
    )
    earlier = st.options.get(name)
    if earlier is None:
        st.options[name] = call
    else:
        earlier.merge(call)
