"""Kubernetes YAML for the k8s builtins: parsing, object facts, selectors and JSON paths.

Everything here is pure data work on parsed documents (plain dicts). It follows the
facts of Tilt's ``internal/k8s`` package: which kinds carry pod templates and
containers, how a Service selects pods, how object selectors and resource names are
spelled, and the subset of Kubernetes JSONPath that ``k8s_kind(image_json_path=)``
uses. PyYAML is imported lazily so that ``import tilt.tiltfile`` stays light.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tilt.model import K8sObject

__all__ = [
    "DEFAULT_NAMESPACE",
    "JSONPath",
    "ObjectSelector",
    "YamlError",
    "container_images",
    "dump_yaml",
    "env_var_values",
    "escape_join",
    "full_name",
    "group_of",
    "has_pod_template",
    "matches_labels",
    "namespace_or_default",
    "parse_objects",
    "pod_template_labels",
    "potential_names",
    "service_selector",
    "service_selects",
    "split_escaped",
]

DEFAULT_NAMESPACE = "default"

# Built-in kinds whose pods Tilt finds through typed objects, by API group ("" is core).
# Custom resources are "unstructured" in Tilt: their images are found only through
# k8s_kind / k8s_image_json_path paths.
_WORKLOAD_GROUPS = {"", "apps", "extensions", "batch"}
_POD_SPEC_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Pod": (("spec",),),
    "PodTemplate": (("template", "spec"),),
    "ReplicationController": (("spec", "template", "spec"),),
    "Deployment": (("spec", "template", "spec"),),
    "ReplicaSet": (("spec", "template", "spec"),),
    "StatefulSet": (("spec", "template", "spec"),),
    "DaemonSet": (("spec", "template", "spec"),),
    "Job": (("spec", "template", "spec"),),
    "CronJob": (("spec", "jobTemplate", "spec", "template", "spec"),),
}
# Where a pod *template* (metadata + spec) lives; a bare Pod has none (Tilt's
# ExtractPodTemplateSpec), so Services never attach to a bare Pod.
_POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "PodTemplate": ("template",),
    "ReplicationController": ("spec", "template"),
    "Deployment": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


class YamlError(Exception):
    """YAML that is not valid, or a document that is not a Kubernetes object."""


# --- parsing ---------------------------------------------------------------------------


def _loader() -> Any:
    """The C-accelerated safe loader, minus YAML 1.1 timestamps.

    Tilt converts YAML to JSON (sigs.k8s.io/yaml), where an unquoted date stays a
    string; keeping it a string here keeps bodies JSON-ready for apply.
    """
    if not _LOADER:
        import yaml

        class K8sLoader(yaml.CSafeLoader):
            pass

        K8sLoader.yaml_implicit_resolvers = {
            first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
        }
        _LOADER.append(K8sLoader)
    return _LOADER[0]


# Built on first use (importing yaml is not free).
_LOADER: list[Any] = []


class _Fallback(Exception):
    """A document the lean conversion leaves to PyYAML's constructor (merge keys...)."""


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _alias_ratio_allowed(decode_count: int) -> float:
    # go-yaml v3 (decode.go, allowedAliasRatio): generous for small documents,
    # 10% for big ones, linear in between.
    low, high = 400_000, 4_000_000
    if decode_count <= low:
        return 0.99
    if decode_count >= high:
        return 0.10
    return 0.99 - 0.89 * (decode_count - low) / (high - low)


def check_aliases(root: Any, source: str) -> None:
    """Reject a composed YAML document whose aliases expand it beyond reason.

    A "billion laughs" document is a few lines whose aliases expand to billions
    of nodes. The composer shares an aliased node, so the document is small
    until it is expanded (converted, encoded, applied). Go's YAML decoder
    refuses such documents with "excessive aliasing"; this applies its rule:
    more than 100 nodes reached through aliases, more than 1,000 in all, and a
    share of aliased nodes above `_alias_ratio_allowed`. Linear in the distinct
    nodes, whatever the expansion.

    Raises:
        YamlError: naming ``source``.
    """
    from yaml.nodes import MappingNode, SequenceNode

    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes and not children_done:
            continue
        if isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        else:
            sizes[key] = 1
            continue
        if children_done:
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            continue
        sizes[key] = 0  # on the stack: an alias to an ancestor counts once
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    decode_count = sizes[id(root)]
    alias_count = decode_count - len(sizes)
    if (
        alias_count > 100
        and decode_count > 1000
        and alias_count / decode_count > _alias_ratio_allowed(decode_count)
    ):
        raise YamlError(
            f"{source}: YAML document contains excessive aliasing "
            f"(its aliases expand it to {decode_count:,} nodes)"
        )


def _load_all(text: str, source: str = "YAML") -> list[Any]:
    """``yaml.load_all`` with the C parser, converting nodes to Python in a lean loop.

    PyYAML's constructor is the slow half of loading; plain strings, maps and lists
    (nearly all of Kubernetes YAML) skip it here, other scalars use its own
    constructors, and documents with merge keys or odd keys go through it whole.
    """
    from yaml.nodes import MappingNode, ScalarNode

    loader = _loader()(text)
    constructors = loader.yaml_constructors

    def convert(node: Any) -> Any:
        if isinstance(node, ScalarNode):
            if node.tag == _STR_TAG:
                return node.value
            return constructors[node.tag](loader, node)
        if isinstance(node, MappingNode):
            out = {}
            for k, v in node.value:
                if k.tag == _MERGE_TAG:
                    raise _Fallback
                key = convert(k)
                try:
                    out[key] = convert(v)
                except TypeError:
                    raise _Fallback from None
            return out
        return [convert(v) for v in node.value]

    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            check_aliases(node, source)
            try:
                docs.append(convert(node))
            except (_Fallback, KeyError, RecursionError):
                docs.append(loader.construct_document(node))
    finally:
        loader.dispose()
    return docs


def _mark_text(err: Any) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    if mark is None:
        return str(problem)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _object(doc: dict[str, Any], where: str) -> K8sObject:
    api_version = doc.get("apiVersion")
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        raise YamlError(f"{where}: not a Kubernetes object: Object 'Kind' is missing")
    if not isinstance(api_version, str) or not api_version:
        raise YamlError(f"{where}: not a Kubernetes object: Object 'apiVersion' is missing")
    meta = doc.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise YamlError(f"{where}: {kind}: metadata must be a mapping")
    name = meta.get("name", "")
    namespace = meta.get("namespace", "")
    if not isinstance(name, str) or not isinstance(namespace, str):
        raise YamlError(f"{where}: {kind}: metadata.name and metadata.namespace must be strings")
    return K8sObject(api_version=api_version, kind=kind, name=name, namespace=namespace, body=doc)


def parse_objects(text: str, source: str) -> list[K8sObject]:
    """Every Kubernetes object in a YAML stream, in order.

    Empty documents are skipped and ``kind: List`` documents are expanded into their
    items, as Tilt (and kubectl) do.

    Raises:
        YamlError: naming ``source`` and the YAML line for invalid YAML, or the
            document for one that is not a Kubernetes object.
    """
    import yaml

    try:
        docs = _load_all(text, source)
    except yaml.YAMLError as e:
        raise YamlError(f"{source} is not valid YAML: {_mark_text(e)}") from None
    out: list[K8sObject] = []
    for i, doc in enumerate(docs, 1):
        if doc is None:
            continue
        where = f"{source}: document {i}"
        if not isinstance(doc, dict):
            raise YamlError(f"{where}: not a Kubernetes object (got a {type(doc).__name__})")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for j, item in enumerate(doc["items"], 1):
                if not isinstance(item, dict):
                    raise YamlError(f"{where}: List item {j} is not a Kubernetes object")
                out.append(_object(item, f"{where}: List item {j}"))
            continue
        out.append(_object(doc, where))
    return out


def go_style_str(dumper: Any, data: str) -> Any:
    """A PyYAML representer for strings as Go's YAML encoder (yaml.v2) writes them.

    A string with a line break is a literal block (``|``) rather than a quoted string
    with ``\\n`` escapes; the emitter still falls back to double quotes where a block
    cannot hold the text (a key, trailing spaces, control characters). The difference
    shows when the YAML text passes through a shell's ``echo``, which may expand
    backslash escapes (dash's does).
    """
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


@functools.cache
def _k8s_dumper() -> Any:
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc,valid-type]
        pass

    Dumper.add_representer(str, go_style_str)
    return Dumper


def dump_yaml(objects: Sequence[K8sObject]) -> str:
    """Serialize objects as one YAML stream (Tilt's SerializeSpecYAML); "" for none."""
    if not objects:
        return ""
    import yaml

    dumper = _k8s_dumper()
    parts = [
        yaml.dump(o.body, Dumper=dumper, default_flow_style=False, sort_keys=False) for o in objects
    ]
    return "---\n".join(parts)


# --- object facts ----------------------------------------------------------------------


def group_of(api_version: str) -> str:
    """The API group of an apiVersion ("apps/v1" -> "apps", "v1" -> "")."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _get(doc: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _is_typed_workload(obj: K8sObject) -> bool:
    return obj.kind in _POD_SPEC_PATHS and group_of(obj.api_version) in _WORKLOAD_GROUPS


def _pod_specs(obj: K8sObject) -> Iterator[dict[str, Any]]:
    if not _is_typed_workload(obj):
        return
    for path in _POD_SPEC_PATHS[obj.kind]:
        spec = _get(obj.body, path)
        if isinstance(spec, dict):
            yield spec


def _containers(obj: K8sObject) -> Iterator[dict[str, Any]]:
    # Tilt walks every v1.Container: containers and initContainers (ephemeral
    # containers are another type and are not deployed images).
    for spec in _pod_specs(obj):
        for key in ("initContainers", "containers"):
            items = spec.get(key)
            if isinstance(items, list):
                yield from (c for c in items if isinstance(c, dict))


def container_images(obj: K8sObject) -> list[str]:
    """The ``image`` of every container of a built-in workload kind, in order."""
    out = []
    for c in _containers(obj):
        image = c.get("image")
        if isinstance(image, str) and image:
            out.append(image)
    return out


def env_var_values(obj: K8sObject) -> list[str]:
    """Container env values (for images built with ``match_in_env_vars=True``)."""
    out = []
    for c in _containers(obj):
        env = c.get("env")
        if isinstance(env, list):
            for var in env:
                value = var.get("value") if isinstance(var, dict) else None
                if isinstance(value, str) and value:
                    out.append(value)
    return out


def has_pod_template(obj: K8sObject) -> bool:
    """Whether the object makes pods (a pod template, or a bare Pod)."""
    return any(True for _ in _pod_specs(obj))


def pod_template_labels(obj: K8sObject) -> list[dict[str, str]]:
    """The labels of each pod template of a built-in workload (none for a bare Pod)."""
    path = _POD_TEMPLATE_PATHS.get(obj.kind)
    if path is None or group_of(obj.api_version) not in _WORKLOAD_GROUPS:
        return []
    template = _get(obj.body, path)
    if not isinstance(template, dict):
        return []
    labels = _get(template, ("metadata", "labels"))
    return [_str_dict(labels)]


def _str_dict(v: Any) -> dict[str, str]:
    if not isinstance(v, dict):
        return {}
    return {str(k): str(val) for k, val in v.items()}


def service_selector(obj: K8sObject) -> dict[str, str]:
    """A Service's ``spec.selector``."""
    return _str_dict(_get(obj.body, ("spec", "selector")))


def service_selects(obj: K8sObject, labels: dict[str, str]) -> bool:
    """Whether ``obj`` is a Service whose selector matches pods with ``labels``.

    As in Tilt (K8sEntity.SelectorMatchesLabels): only core/v1 Services count, and
    every selector pair must be among the labels, so an empty selector matches.
    """
    if obj.kind != "Service" or obj.api_version != "v1":
        return False
    selector = service_selector(obj)
    return all(labels.get(k) == v for k, v in selector.items())


def _object_metas(obj: K8sObject) -> list[dict[str, Any]]:
    """Every ObjectMeta of the object: its own and, for built-in kinds, its templates'."""
    metas = [_get(obj.body, ("metadata",))]
    if group_of(obj.api_version) in _WORKLOAD_GROUPS:
        if obj.kind == "CronJob":
            metas.append(_get(obj.body, ("spec", "jobTemplate", "metadata")))
        path = _POD_TEMPLATE_PATHS.get(obj.kind)
        if path is not None:
            metas.append(_get(obj.body, (*path, "metadata")))
        if obj.kind == "StatefulSet":
            claims = _get(obj.body, ("spec", "volumeClaimTemplates"))
            if isinstance(claims, list):
                metas += [c.get("metadata") for c in claims if isinstance(c, dict)]
    return [m if isinstance(m, dict) else {} for m in metas if m is not None]


def matches_labels(obj: K8sObject, labels: dict[str, str]) -> bool:
    """filter_yaml(labels=): each of the object's ObjectMetas carries all ``labels``.

    This is Tilt's MatchesMetadataLabels, which checks the pod template's metadata of a
    workload as well as the top-level one.
    """
    for meta in _object_metas(obj):
        have = _str_dict(meta.get("labels"))
        if any(have.get(k) != v for k, v in labels.items()):
            return False
    return True


def namespace_or_default(obj: K8sObject) -> str:
    return obj.namespace or DEFAULT_NAMESPACE


# --- names and selectors ---------------------------------------------------------------


def potential_names(obj: K8sObject) -> list[str]:
    """Tilt's candidate resource names, shortest first (k8s.potentialNames).

    ``name``, ``name:kind``, ``name:kind:namespace``, ``name:kind:namespace:group``,
    lowercased; an unset namespace is ``default`` and the core group is ``core``.
    """
    group = group_of(obj.api_version) or "core"
    parts = [obj.name, obj.kind, namespace_or_default(obj), group]
    return [":".join(parts[: i + 1]).lower() for i in range(len(parts))]


def escape_join(parts: Sequence[str]) -> str:
    """Join with ``:``, escaping ``:`` and ``\\`` in the parts (Tilt's sliceutils)."""
    return ":".join(p.replace("\\", "\\\\").replace(":", "\\:") for p in parts)


def split_escaped(text: str) -> list[str]:
    """The inverse of `escape_join`."""
    parts: list[str] = []
    cur: list[str] = []
    it = iter(text)
    for ch in it:
        if ch == "\\":
            cur.append(next(it, ""))
        elif ch == ":":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def full_name(obj: K8sObject) -> str:
    """``name:Kind:namespace`` as Tilt lists objects in its error messages."""
    return escape_join([obj.name, obj.kind, namespace_or_default(obj)])


def _compile(pattern: str, fn: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise ValueError(f"{fn}: error parsing {what} regexp {pattern!r}: {e}") from None


@dataclass(frozen=True)
class ObjectSelector:
    """Matches objects by apiVersion, kind, name and namespace (empty matches all).

    ``exact`` selectors (from ``objects=`` strings) match whole values, case
    insensitively; the others are case-insensitive regular expressions that match
    anywhere in the value, as Tilt's NewPartialMatchObjectSelector.
    """

    api_version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    exact: bool = False
    _res: tuple[re.Pattern[str] | None, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def make(
        cls,
        fn: str,
        *,
        api_version: str = "",
        kind: str = "",
        name: str = "",
        namespace: str = "",
        exact: bool = False,
    ) -> ObjectSelector:
        """Build a selector.

        Raises:
            ValueError: a pattern is not a valid regular expression.
        """
        res: list[re.Pattern[str] | None] = []
        for what, pattern in (
            ("apiVersion", api_version),
            ("kind", kind),
            ("name", name),
            ("namespace", namespace),
        ):
            if not pattern:
                res.append(None)
            elif exact:
                res.append(re.compile("^" + re.escape(pattern) + "$", re.IGNORECASE))
            else:
                res.append(_compile(pattern, fn, what))
        return cls(
            api_version=api_version,
            kind=kind,
            name=name,
            namespace=namespace,
            exact=exact,
            _res=tuple(res),
        )

    def matches(self, obj: K8sObject) -> bool:
        values = (obj.api_version, obj.kind, obj.name, namespace_or_default(obj))
        return all(rx is None or rx.search(v) for rx, v in zip(self._res, values, strict=True))


# --- JSONPath --------------------------------------------------------------------------

_Step = Callable[[Any], Iterator[Any]]
_TOKEN_RE = re.compile(
    r"""\.\.?(?P<field>(?:\\.|[^\s.\[\]{}()\\'"])+)  # .name, .*, ..name; \. escapes a dot
      | \[\s*(?P<quoted>'[^']*'|"[^"]*")\s*\]   # ['name']
      | \[\s*(?P<index>-?\d+)\s*\]              # [0]
      | \[\s*\*\s*\]                            # [*]
      | \[\?\(@\.(?P<fkey>[A-Za-z0-9_\-.]+)\s*==\s*(?P<fval>'[^']*'|"[^"]*")\)\]  # filter
    """,
    re.VERBOSE,
)


def _field_step(name: str) -> _Step:
    def step(v: Any) -> Iterator[Any]:
        if name == "*":
            if isinstance(v, dict):
                yield from v.values()
            elif isinstance(v, list):
                yield from v
        elif isinstance(v, dict) and name in v:
            yield v[name]

    return step


def _index_step(i: int) -> _Step:
    def step(v: Any) -> Iterator[Any]:
        if isinstance(v, list) and -len(v) <= i < len(v):
            yield v[i]

    return step


def _all_step(v: Any) -> Iterator[Any]:
    if isinstance(v, list):
        yield from v
    elif isinstance(v, dict):
        yield from v.values()


def _filter_step(key: str, want: str) -> _Step:
    path = key.split(".")

    def step(v: Any) -> Iterator[Any]:
        items = v if isinstance(v, list) else [v]
        for item in items:
            got = _get(item, path)
            if got is not None and str(got) == want:
                yield item

    return step


@dataclass(frozen=True)
class JSONPath:
    """A Kubernetes JSONPath such as ``{.spec.containers[*].image}`` (a subset).

    Supported: ``.field`` (a backslash escapes a dot in the name, as in
    ``.annotations.example\\.com/image``), ``['field']``, ``[N]``, ``[*]``, ``.*`` and the
    equality filter ``[?(@.name=="x")]`` -- what image paths in practice use.
    """

    text: str
    steps: tuple[_Step, ...] = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> JSONPath:
        """Parse a path; the surrounding braces are optional.

        Raises:
            ValueError: the path uses syntax outside the supported subset.
        """
        body = text.strip()
        if body.startswith("{") and body.endswith("}"):
            body = body[1:-1].strip()
        if not body.startswith((".", "[")):
            raise ValueError(f"invalid JSON path {text!r}: must start with '.' or '['")
        steps: list[_Step] = []
        pos = 0
        while pos < len(body):
            m = _TOKEN_RE.match(body, pos)
            if m is None:
                raise ValueError(f"invalid JSON path {text!r}: unexpected {body[pos:]!r}")
            if m.group("field") is not None:
                # As Kubernetes' parser: a backslash escapes the next character
                # (`annotations.example\.com/image`) and is then dropped.
                steps.append(_field_step(m.group("field").replace("\\", "")))
            elif m.group("quoted") is not None:
                steps.append(_field_step(m.group("quoted")[1:-1]))
            elif m.group("index") is not None:
                steps.append(_index_step(int(m.group("index"))))
            elif m.group("fkey") is not None:
                steps.append(_filter_step(m.group("fkey"), m.group("fval")[1:-1]))
            else:
                steps.append(_all_step)
            pos = m.end()
        return cls(text=text, steps=tuple(steps))

    def find(self, doc: Any) -> list[Any]:
        """Every value the path reaches in ``doc`` (none when a key is missing)."""
        values = [doc]
        for step in self.steps:
            values = [out for v in values for out in step(v)]
        return values

    def strings(self, doc: Any) -> list[str]:
        return [v for v in self.find(doc) if isinstance(v, str) and v]
