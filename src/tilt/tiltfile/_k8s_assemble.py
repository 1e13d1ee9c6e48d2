"""Kubernetes resource assembly: what the k8s builtins recorded, turned into resources.

This follows Tilt's assembly by workload (internal/tiltfile/tiltfile_state.go,
``assembleK8s``), in the same order:

1. ``k8s_custom_deploy`` resources, in call order (Tilt creates them at the call).
2. One resource per *workload*, in YAML registration order. A workload is an object
   whose kind was declared with ``k8s_kind`` / ``k8s_image_json_path`` (Job and
   CronJob are declared by default), or that has at least one container image. Its
   name is the shortest unique one of ``name``, ``name:kind``,
   ``name:kind:namespace``, ``name:kind:namespace:group`` (k8s.UniqueNames).
   Services whose selector matches the workload's pod template labels join it.
3. ``k8s_resource`` calls, in call order: new resources made from ``objects=``,
   renames, objects moved into resources, and every other setting.
4. What is left becomes the ``uncategorized`` resource, which Tilt lists after every
   other resource (so it is handed to the assembler to append last).

Image references found in a resource's objects are matched to the images
``docker_build`` / ``custom_build`` declared (`refs_match`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tilt.graph import closest
from tilt.image_graph import image_closures
from tilt.model import (
    DiscoveryStrategy,
    K8sCustomDeployTarget,
    K8sImageLocator,
    K8sObject,
    K8sTarget,
    Link,
    PodReadiness,
    PortForward,
    Resource,
    ResourceKind,
    RestartContainerStep,
    SourceLocation,
    TestSpec,
    TriggerMode,
)
from tilt.refs import parse_ref
from tilt.tiltfile._context import LoadState, TiltfileError, typename, unique
from tilt.tiltfile._k8s_yaml import (
    JSONPath,
    ObjectSelector,
    container_images,
    env_var_values,
    full_name,
    group_of,
    namespace_or_default,
    pod_template_labels,
    potential_names,
    service_selector,
    service_selects,
    split_escaped,
)

if TYPE_CHECKING:
    from tilt.tiltfile._assemble import Assembly

__all__ = [
    "UNCATEGORIZED",
    "CustomDeploy",
    "ImageLocator",
    "K8sState",
    "KindInfo",
    "Registered",
    "ResourceOptions",
    "assemble_k8s",
]

# Tilt's model.UnresourcedYAMLManifestName.
UNCATEGORIZED = "uncategorized"


@dataclass(frozen=True, kw_only=True)
class ImageLocator:
    """Where images live in objects a selector matches (k8s_kind / k8s_image_json_path).

    With ``repo_field`` set (k8s_kind's ``image_object``), the path reaches an object
    whose ``repo_field`` and ``tag_field`` make the image reference.
    """

    selector: ObjectSelector
    path: JSONPath
    repo_field: str = ""
    tag_field: str = ""

    def to_model(self) -> K8sImageLocator:
        """The locator as the model carries it on a `K8sTarget`."""
        sel = self.selector
        return K8sImageLocator(
            json_path=self.path.text,
            repo_field=self.repo_field,
            tag_field=self.tag_field,
            api_version=sel.api_version,
            kind=sel.kind,
            name=sel.name,
            namespace=sel.namespace,
        )

    def images(self, obj: K8sObject) -> list[str]:
        if not self.selector.matches(obj):
            return []
        if not self.repo_field:
            return self.path.strings(obj.body)
        out = []
        for found in self.path.find(obj.body):
            if not isinstance(found, dict):
                continue
            repo, tag = found.get(self.repo_field), found.get(self.tag_field)
            if isinstance(repo, str) and repo:
                out.append(f"{repo}:{tag}" if isinstance(tag, str) and tag else repo)
        return out


@dataclass
class KindInfo:
    """What Tilt knows about one kind of object (Tilt's KindInfo); matching objects are
    workloads whether or not they have images."""

    selector: ObjectSelector
    locators: list[ImageLocator] = field(default_factory=list)
    pod_readiness: PodReadiness | None = None


def _initial_kinds() -> list[KindInfo]:
    # Tilt's InitialKinds: Jobs succeed, CronJobs are never waited for. The kinds are
    # anchored here so that a CronJob does not also match the Job entry.
    return [
        KindInfo(
            selector=ObjectSelector.make("k8s", api_version="batch/v1", kind="^Job$"),
            pod_readiness=PodReadiness.SUCCEEDED,
        ),
        KindInfo(
            selector=ObjectSelector.make("k8s", api_version="batch/v1", kind="^CronJob$"),
            pod_readiness=PodReadiness.IGNORE,
        ),
    ]


@dataclass
class Registered:
    """One object from k8s_yaml and the call that registered it."""

    obj: K8sObject
    location: SourceLocation


@dataclass
class ResourceOptions:
    """What k8s_resource calls said about one resource; later calls add to earlier ones."""

    key: str
    location: SourceLocation
    manually_grouped: bool = False
    new_name: str = ""
    port_forwards: list[PortForward] = field(default_factory=list)
    extra_pod_selectors: list[dict[str, str]] = field(default_factory=list)
    trigger_mode: TriggerMode | None = None
    auto_init: bool | None = None
    resource_deps: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    pod_readiness: PodReadiness | None = None
    links: list[Link] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    discovery_strategy: DiscoveryStrategy | None = None
    # Beyond Tilt: k8s_resource(test=True): the resource is a test whose workload is a Job.
    test: TestSpec | None = None

    def merge(self, later: ResourceOptions) -> None:
        """Add a later call's settings: lists append, settings it gave replace ours."""
        self.manually_grouped = self.manually_grouped or later.manually_grouped
        self.new_name = later.new_name or self.new_name
        self.port_forwards += later.port_forwards
        self.extra_pod_selectors += later.extra_pod_selectors
        if later.trigger_mode is not None:
            self.trigger_mode = later.trigger_mode
        if later.auto_init is not None:
            self.auto_init = later.auto_init
        self.resource_deps += later.resource_deps
        self.objects += later.objects
        self.pod_readiness = later.pod_readiness or self.pod_readiness
        self.links += later.links
        self.labels += later.labels
        self.discovery_strategy = later.discovery_strategy or self.discovery_strategy
        self.test = later.test or self.test


@dataclass
class CustomDeploy:
    """One k8s_custom_deploy call."""

    name: str
    location: SourceLocation
    target: K8sCustomDeployTarget
    image_deps: tuple[str, ...] = ()


@dataclass
class K8sState:
    """Everything the k8s builtins recorded during one load."""

    # (apiVersion, kind, name, namespace) -> object, in registration order.
    objects: dict[tuple[str, str, str, str], Registered] = field(default_factory=dict)
    # Declared kinds by their selector's spelling, in declaration order.
    kinds: dict[tuple[str, str, str, str], KindInfo] = field(default_factory=dict)
    options: dict[str, ResourceOptions] = field(default_factory=dict)
    custom_deploys: dict[str, CustomDeploy] = field(default_factory=dict)
    allowed_contexts: list[str] = field(default_factory=list)
    quiet_events: list[tuple[str, str]] = field(default_factory=list)
    quiet_where: dict[str, SourceLocation] = field(default_factory=dict)  # resource -> call
    # workload_to_resource_function: the function (a _loader.FunctionRef) and its call.
    name_function: tuple[Any, SourceLocation] | None = None
    # (context, namespace) once the kubeconfig was read.
    kube: tuple[str, str] | None = None
    kube_used: bool = False


@dataclass
class _Res:
    """A resource being assembled."""

    name: str
    location: SourceLocation
    objects: list[K8sObject] = field(default_factory=list)
    used_images: list[str] = field(default_factory=list)
    custom: CustomDeploy | None = None
    manually_grouped: bool = False
    opts: ResourceOptions | None = None


class _Assembler:
    def __init__(self, st: K8sState, asm: Assembly, state: LoadState) -> None:
        self.st = st
        self.state = state
        self.asm = asm
        self.kinds = [*_initial_kinds(), *st.kinds.values()]
        self.locators = [loc for k in self.kinds for loc in k.locators]
        self.builds = _BuildIndex([i.ref for i in asm.images])
        self.env_builds = _BuildIndex([i.ref for i in asm.images if i.match_in_env_vars])
        self.resources: list[_Res] = []
        self.by_name: dict[str, _Res] = {}

    # -- facts about objects --

    def find_images(self, obj: K8sObject) -> list[str]:
        """Tilt's K8sEntity.FindImages: containers, declared paths, env vars."""
        found = container_images(obj)
        for loc in self.locators:
            found += loc.images(obj)
        if self.env_builds:
            found += [v for v in env_var_values(obj) if self.env_builds.find(v)]
        return found

    def is_workload(self, obj: K8sObject) -> bool:
        if any(k.selector.matches(obj) for k in self.kinds):
            return True
        return bool(self.find_images(obj))

    # -- resources --

    def make(self, name: str, location: SourceLocation, what: str) -> _Res:
        if name in self.by_name:
            raise TiltfileError(f'{what}: k8s_resource named "{name}" already exists', location)
        res = _Res(name=name, location=location)
        self.resources.append(res)
        self.by_name[name] = res
        return res

    def add_objects(self, res: _Res, objs: list[K8sObject]) -> None:
        res.objects += objs
        for obj in objs:
            res.used_images += self.find_images(obj)

    def run(self) -> list[K8sObject]:
        st = self.st
        for cd in st.custom_deploys.values():
            res = self.make(cd.name, cd.location, "k8s_custom_deploy")
            res.custom = cd
            res.used_images += cd.image_deps

        registered = list(st.objects.values())
        where = {id(r.obj): r.location for r in registered}
        workloads: list[K8sObject] = []
        rest: list[K8sObject] = []
        for r in registered:
            (workloads if self.is_workload(r.obj) else rest).append(r.obj)

        services = _ServiceIndex(rest)
        names = (
            _unique_names(workloads, where)
            if st.name_function is None
            else _function_names(self.state, st.name_function, workloads)
        )
        for obj, name in zip(workloads, names, strict=True):
            res = self.make(name, where[id(obj)], f"error making resource for workload {name}")
            self.add_objects(res, [obj])
            # Services whose selector matches this workload's pods join it.
            for labels in pod_template_labels(obj):
                match = services.take(labels)
                if match:
                    taken = {id(m) for m in match}
                    rest = [o for o in rest if id(o) not in taken]
                    self.add_objects(res, match)

        rest = self.apply_options(registered, rest)
        for res in self.resources:
            if not res.objects and res.custom is None:
                raise TiltfileError(
                    f'resource "{res.name}": could not associate any k8s YAML with this resource',
                    res.location,
                )
        return rest

    def apply_options(self, registered: list[Registered], rest: list[K8sObject]) -> list[K8sObject]:
        all_objects = [o for res in self.resources for o in res.objects] + rest
        fragments: dict[str, list[K8sObject]] = {}
        for obj in all_objects:
            for frag in potential_names(obj):
                fragments.setdefault(frag, []).append(obj)
        full_names = [full_name(o) for o in all_objects]

        for opts in self.st.options.values():
            key = opts.key
            if opts.manually_grouped:
                made = self.make(opts.new_name, opts.location, "k8s_resource")
                made.manually_grouped = True
                key = opts.new_name
            res_or_none = self.by_name.get(key)
            if res_or_none is None:
                known = [r.name for r in self.resources]
                hint = closest(key, known)
                if hint is None:
                    # "web" for "web:deployment": compare names without their kind suffix.
                    short = closest(key, [n.split(":")[0] for n in known])
                    hint = next((n for n in known if n.split(":")[0] == short), None)
                suggestion = f' (did you mean "{hint}"?)' if hint else ""
                listing = ", ".join(known) if known else "none"
                raise TiltfileError(
                    f'k8s_resource: specified unknown resource "{key}"{suggestion}. '
                    f"known k8s resources: {listing}",
                    opts.location,
                )
            res = res_or_none
            if res.opts is None:
                # The first k8s_resource call for a resource is where it is declared.
                res.opts = ResourceOptions(key=res.name, location=opts.location)
                res.location = opts.location
            # Options given under the old and the new name of a resource both apply.
            res.opts.merge(replace(opts, objects=[]))
            if opts.new_name and opts.new_name != res.name:
                if opts.new_name in self.by_name:
                    raise TiltfileError(
                        f'k8s_resource: specified to rename "{res.name}" to "{opts.new_name}", '
                        "but there already exists a resource with that name",
                        opts.location,
                    )
                del self.by_name[res.name]
                res.name = opts.new_name
                self.by_name[res.name] = res
            for frag in opts.objects:
                rest = self.take_object(
                    res, opts, frag, fragments=fragments, full_names=full_names, rest=rest
                )
        return rest

    def take_object(
        self,
        res: _Res,
        opts: ResourceOptions,
        frag: str,
        *,
        fragments: dict[str, list[K8sObject]],
        full_names: list[str],
        rest: list[K8sObject],
    ) -> list[K8sObject]:
        matches = fragments.get(frag.lower(), [])
        if not matches:
            raise TiltfileError(
                f'k8s_resource: No object identified by the fragment "{frag}" could be found. '
                f"Possible objects are: {_quoted(full_names)}",
                opts.location,
            )
        if len(matches) > 1:
            raise TiltfileError(
                f'k8s_resource: "{frag}" is not a unique fragment. Objects that match "{frag}" '
                f"are {_quoted([full_name(o) for o in matches])}",
                opts.location,
            )
        parts = split_escaped(frag)
        sel = ObjectSelector.make(
            "k8s_resource",
            name=parts[0],
            kind=parts[1] if len(parts) > 1 else "",
            namespace=parts[2] if len(parts) > 2 else "",
            exact=True,
        )
        taken = [o for o in rest if sel.matches(o)]
        if not taken:
            raise TiltfileError(
                f'k8s_resource: No object identified by the fragment "{frag}" could be found in '
                f"remaining YAML (it already belongs to a resource). Valid remaining fragments "
                f"are: {_quoted([full_name(o) for o in rest])}",
                opts.location,
            )
        res.objects.append(taken[0])
        return [o for o in rest if o is not taken[0]]

    # -- output --

    def pod_readiness(self, res: _Res) -> PodReadiness:
        """Tilt's rule (``inferPodReadinessMode``): the resource's own ``pod_readiness``;
        else its objects' kinds (``wait`` over ``ignore`` over ``succeeded``: Jobs succeed,
        CronJobs are ignored); else ``ignore`` for a resource grouped by hand
        (``k8s_resource(new_name=..., objects=...)``) with no ``extra_pod_selectors`` and no
        built image, since nothing tells it will have pods; else ``wait``. A
        ``k8s_custom_deploy`` waits too: what its ``apply_cmd`` makes is known only once it
        ran, so one that makes no pods needs ``pod_readiness='ignore'``, as in Tilt."""
        opts = res.opts
        if opts is not None and opts.pod_readiness:
            return opts.pod_readiness
        modes = {
            k.pod_readiness
            for obj in res.objects
            for k in self.kinds
            if k.pod_readiness and k.selector.matches(obj)
        }
        for mode in (PodReadiness.WAIT, PodReadiness.IGNORE, PodReadiness.SUCCEEDED):
            if mode in modes:
                return mode
        selectors = opts.extra_pod_selectors if opts is not None else ()
        if res.manually_grouped and not selectors and not self.image_refs(res):
            return PodReadiness.IGNORE
        return PodReadiness.WAIT

    def image_locators(self, res: _Res) -> tuple[K8sImageLocator, ...]:
        """The declared image locations that apply to one of ``res``'s objects."""
        return tuple(
            unique(
                loc.to_model()
                for loc in self.locators
                if any(loc.selector.matches(o) for o in res.objects)
            )
        )

    def image_refs(self, res: _Res) -> tuple[str, ...]:
        """The declared images (their build refs) this resource's objects use."""
        out: list[str] = []
        for used in unique(res.used_images):
            ref = self.builds.find(used)
            if ref:
                out.append(ref)
        return tuple(unique(out))

    def to_resource(self, res: _Res) -> Resource:
        opts = res.opts or ResourceOptions(key=res.name, location=res.location)
        refs = self.image_refs(res)
        self.asm.used_images.update(refs)
        target = K8sTarget(
            objects=tuple(res.objects),
            image_refs=refs,
            image_locators=self.image_locators(res),
            port_forwards=tuple(opts.port_forwards),
            extra_pod_selectors=tuple(opts.extra_pod_selectors),
            # A Job test's verdict is its update's (the Job's condition and its results),
            # not its pod's runtime status, unless pod_readiness says otherwise.
            pod_readiness=(
                opts.pod_readiness or PodReadiness.IGNORE
                if opts.test is not None
                else self.pod_readiness(res)
            ),
            discovery_strategy=opts.discovery_strategy or DiscoveryStrategy.DEFAULT,
        )
        trigger = opts.trigger_mode or self.asm.settings.default_trigger_mode
        if opts.test is not None and not any(o.kind == "Job" for o in res.objects):
            raise TiltfileError(
                f"{opts.location}: k8s_resource: test=True needs a Job in resource "
                f"{res.name!r} (it has {', '.join(o.kind for o in res.objects) or 'no objects'})"
            )
        return Resource(
            name=res.name,
            kind=ResourceKind.K8S_CUSTOM_DEPLOY if res.custom else ResourceKind.K8S,
            location=res.location,
            labels=tuple(unique(opts.labels)),
            resource_deps=tuple(unique(opts.resource_deps)),
            trigger_mode=trigger,
            auto_init=True if opts.auto_init is None else opts.auto_init,
            links=tuple(opts.links),
            image_refs=refs,
            k8s=target,
            custom_deploy=res.custom.target if res.custom else None,
            test=opts.test,
        )


class _BuildIndex:
    """`refs_match` over many refs: declared build refs indexed by normalized name."""

    def __init__(self, build_refs: list[str]) -> None:
        self.by_name: dict[str, list[tuple[str, str]]] = {}
        for ref in build_refs:
            try:
                parsed = parse_ref(ref)
            except ValueError:
                continue
            self.by_name.setdefault(parsed.name, []).append((parsed.tag, ref))

    def __bool__(self) -> bool:
        return bool(self.by_name)

    def find(self, used: str) -> str:
        """The first build ref that makes the image ``used`` names ("" for none)."""
        try:
            u = parse_ref(used)
        except ValueError:
            return ""
        for tag, ref in self.by_name.get(u.name, ()):
            if not tag or tag == u.tag:
                return ref
        return ""


class _ServiceIndex:
    """Unclaimed Services by one of their selector pairs, so that matching 200 workloads
    against 200 Services does not try every pair."""

    def __init__(self, objects: list[K8sObject]) -> None:
        self.order = {id(o): i for i, o in enumerate(objects)}
        self.by_pair: dict[tuple[str, str], list[K8sObject]] = {}
        self.match_all: list[K8sObject] = []
        for o in objects:
            if o.kind != "Service" or o.api_version != "v1":
                continue
            selector = service_selector(o)
            if selector:
                self.by_pair.setdefault(min(selector.items()), []).append(o)
            else:
                # Tilt: an empty selector matches every pod template.
                self.match_all.append(o)
        self.taken: set[int] = set()

    def take(self, labels: dict[str, str]) -> list[K8sObject]:
        found = [o for o in self.match_all if id(o) not in self.taken]
        for pair in labels.items():
            found += [
                o
                for o in self.by_pair.get(pair, ())
                if id(o) not in self.taken and service_selects(o, labels)
            ]
        found.sort(key=lambda o: self.order[id(o)])
        self.taken.update(id(o) for o in found)
        return found


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names) if names else "(none)"


def _unique_names(workloads: list[K8sObject], where: dict[int, SourceLocation]) -> list[str]:
    """Tilt's k8s.UniqueNames: each workload's shortest name no other workload wants."""
    counts: dict[str, int] = {}
    candidates = [potential_names(w) for w in workloads]
    for names in candidates:
        for n in names:
            counts[n] = counts.get(n, 0) + 1
    out = []
    for w, names in zip(workloads, candidates, strict=True):
        name = next((n for n in names if counts[n] == 1), "")
        if not name:
            # Only reachable when the very same object was registered twice.
            raise TiltfileError(
                f"Duplicate YAML Entity(s): [{names[-1]}] has been detected across one or more "
                "resources. Only one specification per entity can be applied to the cluster",
                where[id(w)],
            )
        out.append(name)
    return out


def _refuse_restart_container(asm: Assembly, resources: list[Resource]) -> None:
    """Tilt's maybeRestartContainerDeprecationError: no restart_container() for k8s.

    A Kubernetes resource whose images (their base images included) have a
    ``restart_container()`` step fails the load, naming every such resource; Docker Compose
    resources keep the step.
    """
    restarting = {
        i.ref for i in asm.images if any(isinstance(s, RestartContainerStep) for s in i.live_update)
    }
    if not restarting:
        return  # the common case: no image closure to walk per resource
    closure_of = image_closures(asm.images)
    names = [r.name for r in resources if restarting.intersection(closure_of(r.image_refs))]
    if names:
        raise TiltfileError(
            f"live_update: restart_container() is in the live_update of resource(s) "
            f"[{', '.join(names)}]: Tilt no longer supports it for Kubernetes resources. "
            "Restart the process instead with the restart_process extension "
            "(load('ext://restart_process', 'docker_build_with_restart')): "
            "https://github.com/tilt-dev/tilt-extensions/tree/master/restart_process"
        )


def _object_id(obj: K8sObject) -> dict[str, str]:
    """The fields of Tilt's K8sObjectID for an object."""
    return {
        "name": obj.name,
        "kind": obj.kind,
        "namespace": namespace_or_default(obj),
        "group": group_of(obj.api_version),
    }


def _id_text(obj: K8sObject) -> str:
    return ":".join(_object_id(obj).values()).lower()


def _function_names(
    state: LoadState, name_function: tuple[Any, SourceLocation], workloads: list[K8sObject]
) -> list[str]:
    """Tilt's workloadToResourceFunctionNames: each workload's name from the function."""
    from tilt.tiltfile._loader import TiltfileLoadError, call_function

    ref, where = name_function
    prefix = f"workload_to_resource_function: error applying {ref.name}"
    taken: dict[str, K8sObject] = {}
    out = []
    for obj in workloads:
        try:
            name = call_function(state, ref, _object_id(obj))
        except TiltfileLoadError as e:
            raise TiltfileError(
                f"{prefix}: error determining resource name for '{_id_text(obj)}': "
                f"{e.location}: {e.message}"
                if e.location
                else f"{prefix}: {e.message}",
                where,
            ) from None
        if not isinstance(name, str):
            raise TiltfileError(
                f"{prefix}: invalid return value. wanted: string. got: {typename(name)}", where
            )
        if name in taken:
            raise TiltfileError(
                f"{prefix}: both '{_id_text(obj)}' and '{_id_text(taken[name])}' mapped to "
                f"resource name '{name}'",
                where,
            )
        taken[name] = obj
        out.append(name)
    return out


#: Resources with Kubernetes events (what ``k8s_quiet_events`` may name).
_EVENT_KINDS = (ResourceKind.K8S, ResourceKind.K8S_CUSTOM_DEPLOY)


def _settings_update(st: K8sState, asm: Assembly, has_k8s: bool) -> None:
    changes: dict[str, Any] = {}
    if st.allowed_contexts:
        changes["allowed_k8s_contexts"] = tuple(
            unique([*asm.settings.allowed_k8s_contexts, *st.allowed_contexts])
        )
    if st.quiet_events:
        known = {r.name for r in (*asm.resources, *asm.tail_resources) if r.kind in _EVENT_KINDS}
        for name, where in st.quiet_where.items():
            if name not in known:
                hint = closest(name, sorted(known))
                raise TiltfileError(
                    f"k8s_quiet_events: no Kubernetes resource named {name!r}"
                    + (f" (did you mean {hint!r}?)" if hint else ""),
                    where,
                )
        changes["k8s_quiet_events"] = tuple(unique(st.quiet_events))
    if st.kube is not None and (has_k8s or st.kube_used):
        changes["k8s_context"], changes["k8s_namespace"] = st.kube
    if changes:
        asm.settings = replace(asm.settings, **changes)


def assemble_k8s(state: LoadState, asm: Assembly, read_kube: Any) -> None:
    """Append the k8s resources (and queue ``uncategorized``) to the assembly.

    ``read_kube`` is called to read the kubeconfig when there is anything for
    Kubernetes, so that the settings carry the context the graph was loaded for.
    """
    st = state.family(K8sState)
    if not (st.objects or st.custom_deploys or st.options or st.kinds):
        _settings_update(st, asm, has_k8s=False)
        return
    a = _Assembler(st, asm, state)
    rest = a.run()
    resources = [a.to_resource(r) for r in a.resources]
    _refuse_restart_container(asm, resources)
    asm.resources += resources
    if rest:
        where = {id(r.obj): r.location for r in st.objects.values()}
        uncategorized = Resource(
            name=UNCATEGORIZED,
            kind=ResourceKind.K8S,
            location=where[id(rest[0])],
            trigger_mode=asm.settings.default_trigger_mode,
            k8s=K8sTarget(objects=tuple(rest), pod_readiness=PodReadiness.IGNORE),
        )
        # Tilt appends it after every other manifest (local ones included).
        asm.tail_resources.append(uncategorized)
    read_kube(state)
    _settings_update(st, asm, has_k8s=True)
