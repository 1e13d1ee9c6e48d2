"""The resource graph: the types a Tiltfile resolves to.

Everything here is a frozen, keyword-only dataclass or an enum. The loader
(`tilt.tiltfile`) produces a `TiltfileResult`; the engine and every observer
read it and never mutate it. `tilt dump tiltfile` prints it as JSON through
`tilt.tiltfile.dump` (schema in docs/tiltfile-json.md).

Fields whose metadata carries ``dump=False`` are left out of the JSON dump
(for example the full bodies of Kubernetes objects, which may hold Secret
values).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tilt.refs import Registry

__all__ = [
    "ApiObject",
    "Cmd",
    "ComposeTarget",
    "ConfigState",
    "DiscoveryStrategy",
    "DockerPruneSettings",
    "ExecAction",
    "FallBackOnStep",
    "HttpGetAction",
    "IgnoreRule",
    "ImageBuildKind",
    "ImageTarget",
    "InitialSyncStep",
    "K8sCustomDeployTarget",
    "K8sImageLocator",
    "K8sObject",
    "K8sTarget",
    "Link",
    "LiveUpdateStep",
    "LocalTarget",
    "PodReadiness",
    "PortForward",
    "Probe",
    "Resource",
    "ResourceKind",
    "RestartContainerStep",
    "RunStep",
    "Settings",
    "SourceLocation",
    "SyncStep",
    "TcpSocketAction",
    "TestSpec",
    "TiltfileResult",
    "TiltfileWarning",
    "TriggerMode",
    "WatchSpec",
]


def _hidden() -> Any:
    """Metadata for a field the JSON dump leaves out."""
    return {"dump": False}


class TriggerMode(enum.Enum):
    """When a resource updates after a file change (Tilt's TRIGGER_MODE_*)."""

    AUTO = "auto"
    MANUAL = "manual"


class ResourceKind(enum.Enum):
    LOCAL = "local"
    K8S = "k8s"
    DOCKER_COMPOSE = "docker_compose"
    K8S_CUSTOM_DEPLOY = "k8s_custom_deploy"


class PodReadiness(enum.Enum):
    """Whether a Kubernetes resource waits for its pods (Tilt's ``pod_readiness``).

    ``WAIT``: ready once its pods are ready; ``IGNORE``: ready once applied;
    ``SUCCEEDED``: ready once its pods completed (Tilt's default for Jobs).
    """

    WAIT = "wait"
    IGNORE = "ignore"
    SUCCEEDED = "succeeded"


class DiscoveryStrategy(enum.Enum):
    """How a Kubernetes resource finds its pods (Tilt's ``discovery_strategy``).

    ``DEFAULT``: owner references from its objects plus ``extra_pod_selectors``;
    ``SELECTORS_ONLY``: only ``extra_pod_selectors``.
    """

    DEFAULT = "default"
    SELECTORS_ONLY = "selectors-only"


class ImageBuildKind(enum.Enum):
    DOCKER = "docker_build"
    CUSTOM = "custom_build"


@dataclass(frozen=True, kw_only=True)
class SourceLocation:
    """Where in a Tiltfile (or a loaded file) something was declared."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, kw_only=True)
class Cmd:
    """A command. A string given in a Tiltfile runs through ``sh -c`` (``shell``)."""

    argv: tuple[str, ...]
    shell: bool = False

    @property
    def display(self) -> str:
        if self.shell and len(self.argv) == 3:
            return self.argv[2]
        import shlex

        return shlex.join(self.argv)


@dataclass(frozen=True, kw_only=True)
class IgnoreRule:
    """One gitwildmatch pattern, the folder it is relative to, and who set it.

    ``origin`` names the rule's source for `tilt why`: ``/repo/.tiltignore:3``,
    ``Tiltfile:12 local_resource(ignore=)``, ``built-in`` ...
    """

    pattern: str
    base_dir: str
    origin: str


@dataclass(frozen=True, kw_only=True)
class WatchSpec:
    """The paths a target watches and the rules that exclude paths under them.

    ``only`` (docker_build's ``only=``) restricts: when non-empty a path must
    match one of these rules to count.
    """

    paths: tuple[str, ...] = ()
    ignores: tuple[IgnoreRule, ...] = ()
    only: tuple[IgnoreRule, ...] = ()


@dataclass(frozen=True, kw_only=True)
class HttpGetAction:
    port: int
    host: str = "localhost"
    scheme: str = "http"
    path: str = ""


@dataclass(frozen=True, kw_only=True)
class TcpSocketAction:
    port: int
    host: str = "localhost"


@dataclass(frozen=True, kw_only=True)
class ExecAction:
    command: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Probe:
    """A readiness probe, with Tilt's (Kubernetes') defaults."""

    initial_delay_secs: int = 0
    timeout_secs: int = 1
    period_secs: int = 10
    success_threshold: int = 1
    failure_threshold: int = 3
    http_get: HttpGetAction | None = None
    tcp_socket: TcpSocketAction | None = None
    exec: ExecAction | None = None


@dataclass(frozen=True, kw_only=True)
class Link:
    url: str
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class PortForward:
    local_port: int
    container_port: int
    host: str = "localhost"
    name: str = ""
    link_path: str = ""


@dataclass(frozen=True, kw_only=True)
class SyncStep:
    local_path: str
    remote_path: str
    kind: str = "sync"


@dataclass(frozen=True, kw_only=True)
class RunStep:
    command: Cmd
    triggers: tuple[str, ...] = ()
    echo_off: bool = False
    kind: str = "run"


@dataclass(frozen=True, kw_only=True)
class FallBackOnStep:
    paths: tuple[str, ...]
    kind: str = "fall_back_on"


@dataclass(frozen=True, kw_only=True)
class InitialSyncStep:
    kind: str = "initial_sync"


@dataclass(frozen=True, kw_only=True)
class RestartContainerStep:
    kind: str = "restart_container"


LiveUpdateStep = SyncStep | RunStep | FallBackOnStep | InitialSyncStep | RestartContainerStep


@dataclass(frozen=True, kw_only=True)
class ImageTarget:
    """An image built by docker_build or custom_build."""

    ref: str
    kind: ImageBuildKind
    context: str
    location: SourceLocation
    # docker_build
    dockerfile: str = ""
    dockerfile_contents: str = ""
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    entrypoint: Cmd | None = None
    extra_tags: tuple[str, ...] = ()
    platform: str = ""
    network: str = ""
    ssh: tuple[str, ...] = ()
    secret: tuple[str, ...] = ()
    cache_from: tuple[str, ...] = ()
    pull: bool = False
    extra_hosts: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    # custom_build
    command: Cmd | None = None
    command_dir: str = ""
    command_env: dict[str, str] = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    tag: str = ""
    disable_push: bool = False
    skips_local_docker: bool = False
    outputs_image_ref_to: str = ""
    # both
    live_update: tuple[LiveUpdateStep, ...] = ()
    match_in_env_vars: bool = False
    container_args: tuple[str, ...] | None = None
    image_deps: tuple[str, ...] = ()
    watch: WatchSpec = field(default_factory=WatchSpec)


@dataclass(frozen=True, kw_only=True)
class LocalTarget:
    """What a local_resource runs: ``cmd`` per update, ``serve_cmd`` long-running."""

    cmd: Cmd | None = None
    dir: str = ""
    env: dict[str, str] = field(default_factory=dict)
    serve_cmd: Cmd | None = None
    serve_dir: str = ""
    serve_env: dict[str, str] = field(default_factory=dict)
    # ``stdin_mode=``/``serve_stdin_mode=``: "" (stdin is /dev/null) or "pty".
    stdin_mode: str = ""
    serve_stdin_mode: str = ""
    readiness_probe: Probe | None = None
    allow_parallel: bool = False
    deps: tuple[str, ...] = ()
    watch: WatchSpec = field(default_factory=WatchSpec)


@dataclass(frozen=True, kw_only=True)
class K8sObject:
    """One Kubernetes object from k8s_yaml; ``body`` is the whole parsed document."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""
    body: dict[str, Any] = field(default_factory=dict, metadata=_hidden(), compare=False)

    @property
    def ref(self) -> str:
        """Tilt's display form, e.g. ``web:deployment:default``."""
        parts = [self.name, self.kind.lower()]
        if self.namespace:
            parts.append(self.namespace)
        return ":".join(parts)


@dataclass(frozen=True, kw_only=True)
class K8sImageLocator:
    """Where images are in the objects a selector matches, beyond container images.

    From ``k8s_kind(image_json_path=)``/``k8s_image_json_path`` (``json_path``
    reaches image references) or ``k8s_kind(image_object=)`` (``json_path``
    reaches objects whose ``repo_field`` and ``tag_field`` make the reference).
    The selector fields are Tilt's case-insensitive regular expressions, matched
    anywhere in the value ("" matches everything).
    """

    json_path: str
    repo_field: str = ""
    tag_field: str = ""
    api_version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""


@dataclass(frozen=True, kw_only=True)
class K8sTarget:
    """A Kubernetes resource's objects and how to follow them.

    ``image_locators`` are the declared image locations that apply to these
    objects (containers' ``image`` fields always count), so a deployer can put
    the built refs in.
    """

    objects: tuple[K8sObject, ...] = ()
    image_refs: tuple[str, ...] = ()
    image_locators: tuple[K8sImageLocator, ...] = ()
    port_forwards: tuple[PortForward, ...] = ()
    extra_pod_selectors: tuple[dict[str, str], ...] = ()
    pod_readiness: PodReadiness = PodReadiness.WAIT
    discovery_strategy: DiscoveryStrategy = DiscoveryStrategy.DEFAULT


@dataclass(frozen=True, kw_only=True)
class K8sCustomDeployTarget:
    apply_cmd: Cmd
    delete_cmd: Cmd
    apply_dir: str = ""
    apply_env: dict[str, str] = field(default_factory=dict)
    delete_dir: str = ""
    delete_env: dict[str, str] = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    image_selector: str = ""
    container_selector: str = ""
    live_update: tuple[LiveUpdateStep, ...] = ()
    watch: WatchSpec = field(default_factory=WatchSpec)


@dataclass(frozen=True, kw_only=True)
class ComposeTarget:
    project_name: str
    config_files: tuple[str, ...]
    service: str
    env_file: str = ""
    profiles: tuple[str, ...] = ()
    image_ref: str = ""
    build_context: str = ""
    depends_on: tuple[str, ...] = ()
    published_ports: tuple[int, ...] = ()
    # The folder relative paths in the compose files resolve against (compose's
    # --project-directory): the first file's, or the Tiltfile's for inline YAML only.
    project_dir: str = ""
    # docker_compose(wait=True): `docker compose up --wait`.
    wait: bool = False
    # A service Compose builds itself (``build:``, no docker_build): its build
    # context minus its .dockerignore and .git, as a docker_build's context.
    watch: WatchSpec = field(default_factory=WatchSpec)
    service_config: dict[str, Any] = field(default_factory=dict, metadata=_hidden(), compare=False)


@dataclass(frozen=True, kw_only=True)
class TestSpec:
    """What makes a resource a test (``test()``): its timeout and, beyond Tilt, results and shards.

    ``results_format`` is ``auto``, ``pytest``, ``gotest``, ``junit`` or ``none``
    (`tilt.testresults.ResultsFormat`); ``results`` are JUnit XML globs the command
    writes; ``test_files`` the patterns of pytest files split across ``shards``.
    """

    __test__ = False  # not a pytest test class

    timeout_s: float | None = None
    results_format: str = "auto"
    results: tuple[str, ...] = ()
    shards: int = 1
    test_files: tuple[str, ...] = ()
    rerun_failed_first: bool = False


@dataclass(frozen=True, kw_only=True)
class Resource:
    """One row of the UI: a unit that updates, runs and reports status."""

    name: str
    kind: ResourceKind
    location: SourceLocation
    labels: tuple[str, ...] = ()
    resource_deps: tuple[str, ...] = ()
    trigger_mode: TriggerMode = TriggerMode.AUTO
    auto_init: bool = True
    links: tuple[Link, ...] = ()
    image_refs: tuple[str, ...] = ()
    local: LocalTarget | None = None
    k8s: K8sTarget | None = None
    compose: ComposeTarget | None = None
    custom_deploy: K8sCustomDeployTarget | None = None
    # Beyond Tilt: update again after any resource_dep updates (dirty in manual mode).
    update_on_dep_change: bool = False
    # Declared with test(): a timeout, per-test results, shards.
    test: TestSpec | None = None

    def __post_init__(self) -> None:
        # The kind says which target describes what the resource runs; any other
        # combination (a compose resource without a compose target...) is a bug.
        given = {
            name
            for name, target in (
                ("local", self.local),
                ("k8s", self.k8s),
                ("compose", self.compose),
                ("custom_deploy", self.custom_deploy),
            )
            if target is not None
        }
        required, allowed = _KIND_TARGETS[self.kind]
        if not required <= given or not given <= allowed:
            raise ValueError(
                f"resource {self.name!r} of kind {self.kind.value} needs the target(s) "
                f"{sorted(required)} and may have {sorted(allowed)}, got {sorted(given)}"
            )

    @property
    def updates_on_change(self) -> bool:
        """Whether a file change starts an update by itself (auto trigger mode)."""
        return self.trigger_mode is TriggerMode.AUTO


# Per kind: the targets a resource must have, and the targets it may have (a
# k8s_custom_deploy resource also carries a K8sTarget for its pods).
_KIND_TARGETS: dict[ResourceKind, tuple[frozenset[str], frozenset[str]]] = {
    ResourceKind.LOCAL: (frozenset({"local"}), frozenset({"local"})),
    ResourceKind.K8S: (frozenset({"k8s"}), frozenset({"k8s"})),
    ResourceKind.DOCKER_COMPOSE: (frozenset({"compose"}), frozenset({"compose"})),
    ResourceKind.K8S_CUSTOM_DEPLOY: (
        frozenset({"custom_deploy"}),
        frozenset({"custom_deploy", "k8s"}),
    ),
}


@dataclass(frozen=True, kw_only=True)
class TiltfileWarning:
    message: str
    location: SourceLocation | None = None


@dataclass(frozen=True, kw_only=True)
class ApiObject:
    """A Tilt API object declared with a ``v1alpha1.*`` builtin, kept in the graph.

    ``kind`` is Tilt's (``UIButton``, ``Cmd``, ``ConfigMap``, ``Extension``,
    ``ExtensionRepo``, ``FileWatch``); ``spec`` uses Tilt's JSON field names
    (``ConfigMap`` keeps its ``data`` there). `tilt.buttons` derives the TUI's
    button actions from the UIButton and Cmd objects.
    """

    kind: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    location: SourceLocation | None = None


@dataclass(frozen=True, kw_only=True)
class DockerPruneSettings:
    """``docker_prune_settings()``: how ``tilt up`` removes the old images it built."""

    disable: bool = False
    #: Images (and build cache) younger than this are kept.
    max_age_mins: int = 360
    #: Prune after every this many builds (0: by time, every ``interval_hrs``).
    num_builds: int = 0
    #: Prune this often, in hours (0: Tilt's default, every hour).
    interval_hrs: int = 0
    #: The most recent images of each repository that are never pruned.
    keep_recent: int = 2


@dataclass(frozen=True, kw_only=True)
class Settings:
    max_parallel_updates: int = 3
    k8s_upsert_timeout_secs: int = 30
    #: update_settings(k8s_server_side_apply=): "true", "false" (client-side) or "auto"
    k8s_server_side_apply: str = "auto"
    suppress_unused_image_warnings: tuple[str, ...] = ()
    watch_ignores: tuple[IgnoreRule, ...] = ()
    default_trigger_mode: TriggerMode = TriggerMode.AUTO
    default_registry: str = ""
    default_registry_single_name: str = ""
    default_registry_host_from_cluster: str = ""
    k8s_context: str = ""
    k8s_namespace: str = ""
    allowed_k8s_contexts: tuple[str, ...] = ()
    ci_timeout_secs: float = 1800.0
    ci_readiness_timeout_secs: float = 300.0
    ci_k8s_grace_period_secs: float = 0.0
    secrets_disable_scrub: bool = False
    team_id: str = ""
    # Beyond Tilt (its #2958): image_push_cmd() delivers each built image.
    image_push_cmd: Cmd | None = None
    #: ``k8s_quiet_events`` (beyond Tilt): ``(resource or "" for all, event reason)`` pairs.
    k8s_quiet_events: tuple[tuple[str, str], ...] = ()
    docker_prune: DockerPruneSettings = field(default_factory=DockerPruneSettings)

    @property
    def registry(self) -> Registry | None:
        """``default_registry``'s registry (None when the Tiltfile set none)."""
        if not self.default_registry:
            return None
        from tilt.refs import Registry

        return Registry(
            host=self.default_registry,
            host_from_cluster=self.default_registry_host_from_cluster,
            single_name=self.default_registry_single_name,
        )


@dataclass(frozen=True, kw_only=True)
class ConfigState:
    """`config.*`: the arguments after ``--`` and what the Tiltfile made of them."""

    args: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)
    enabled_resources: tuple[str, ...] | None = None
    subcommand: str = "up"


@dataclass(frozen=True, kw_only=True)
class TiltfileResult:
    """A loaded Tiltfile: the validated resource graph and what it depends on."""

    tiltfile: str
    resources: tuple[Resource, ...]
    images: tuple[ImageTarget, ...]
    order: tuple[str, ...]
    settings: Settings
    config: ConfigState
    files_read: tuple[str, ...]
    warnings: tuple[TiltfileWarning, ...] = ()
    logs: tuple[str, ...] = ()
    api_objects: tuple[ApiObject, ...] = ()

    def resource(self, name: str) -> Resource:
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(name)

    def image(self, ref: str) -> ImageTarget:
        for i in self.images:
            if i.ref == ref:
                return i
        raise KeyError(ref)
