"""One Kubernetes session per `tilt up`: the whole resource flow, engine-independent.

The engine's Kubernetes runner (after the runtime-house contracts land) is meant to be thin:
``deploy()`` in its update (images already built), ``updaters()`` for live_update,
``down()`` for `tilt down`, and two callbacks into the loop:

- ``on_view(resource, PodsView)``: pods, status, readiness, link state (for the runtime state);
- ``on_log(resource, line)``: pod logs and Kubernetes messages, secrets already scrubbed
  (unless the session was given the ``scrubber`` of the log those lines go to: the engine's
  log store scrubs every line itself, with the scrubber the session learns Secrets into).

Both are called from worker threads: the runner hands them to the loop
(``loop.call_soon_threadsafe``). Port forwards and log followers are kept in step with the
pods here.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tilt.k8s.apply import (
    Applier,
    ApplyError,
    ApplyResult,
    ContainerCommand,
    prepare_objects,
)
from tilt.k8s.client import (
    ClusterContext,
    KubeClient,
    check_context_allowed,
    load_context,
)
from tilt.k8s.down import DownResult, delete_plan, plan_down
from tilt.k8s.events import EventMonitor, EventsView, QuietRules
from tilt.k8s.exec_updater import ExecUpdater
from tilt.k8s.logs import LogLine, ResourceLogs
from tilt.k8s.monitor import PodMonitor, PodsView
from tilt.k8s.pods import parse_time
from tilt.k8s.portforward import PortForwarder, PortInUse
from tilt.logstore import prints_update
from tilt.model import K8sTarget, Settings
from tilt.secrets import SecretScrubber

__all__ = ["K8sSession", "Link", "parse_apply_output", "pod_created", "pod_section_header"]

Obj = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Link:
    url: str
    name: str = ""
    error: str = ""  # e.g. the local port is in use


@dataclass
class _Resource:
    target: K8sTarget
    logs: ResourceLogs
    forwarders: list[PortForwarder] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    #: mark each pod's lines with a header (`── pod NAME (attempt N) ──`): a Job's retries
    pod_sections: bool = False
    attempts: dict[str, int] = field(default_factory=dict)  # pod name -> attempt (1-based)
    tries: dict[str, int] = field(default_factory=dict)  # owner uid -> its pods numbered
    last_pod: str = ""  # whose line was logged last
    section_lock: threading.Lock = field(default_factory=threading.Lock)


def pod_created(pod: Obj) -> tuple[float, str]:
    """A sort key: when the pod was created (oldest first), then its name."""
    meta = pod.get("metadata") or {}
    return parse_time(meta.get("creationTimestamp")), str(meta.get("name") or "")


def _owner_uid(pod: Obj) -> str:
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    return str(refs[0].get("uid") or "") if refs else ""


def pod_section_header(pod: str, attempt: int) -> str:
    """The line that starts a pod's lines in a resource's log (``pod_sections``)."""
    return f"── pod {pod} (attempt {attempt}) ──" if attempt else f"── pod {pod} ──"


def parse_apply_output(text: str) -> list[Obj]:
    """The objects in an ``apply_cmd``'s stdout (YAML or JSON documents, ``List`` kinds
    flattened). Raises ValueError with a message for the user when it is not that."""
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as e:
        raise ValueError(f"apply_cmd output is not YAML: {e}") from None
    out: list[Obj] = []
    for d in docs:
        if not isinstance(d, dict):
            raise ValueError("apply_cmd output must be Kubernetes objects (YAML or JSON)")
        if str(d.get("kind", "")).endswith("List") and isinstance(d.get("items"), list):
            out.extend(i for i in d["items"] if isinstance(i, dict))
        else:
            out.append(d)
    missing = [o.get("kind", "?") for o in out if not (o.get("metadata") or {}).get("uid")]
    if missing:
        raise ValueError(
            "apply_cmd must print the objects as the cluster returned them (with uids, e.g. "
            f"kubectl apply -o yaml); these have none: {', '.join(missing)}"
        )
    return out


class AppendOnlyEventLog:
    """Keyed event lines into a sink that can only append (``tilt alpha`` output, a test).

    A keyed line is passed on when it is new and at its 1st, 2nd, 4th, ... update, as the
    stream printer reprints a line the log store updated in place; the revisions of the last
    4,096 keys are remembered (an older key starts over: one more line, no growth).
    """

    _MAX_KEYS = 4096

    def __init__(self, sink: Callable[[str, str], None]) -> None:
        self._sink = sink
        self._revs: collections.OrderedDict[tuple[str, str], int] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, resource: str, line: str, key: str) -> None:
        if key:
            with self._lock:
                rev = self._revs.get((resource, key), -1) + 1
                self._revs[(resource, key)] = rev
                self._revs.move_to_end((resource, key))
                while len(self._revs) > self._MAX_KEYS:
                    self._revs.popitem(last=False)
            if rev and not prints_update(rev):
                return
        self._sink(resource, line)


class K8sSession:
    """Deploys resources and follows them; see the module docstring."""

    def __init__(
        self,
        kube: KubeClient,
        *,
        on_view: Callable[[str, PodsView], None],
        on_log: Callable[[str, str], None],
        settings: Settings | None = None,
        server_side: str = "",
        context: ClusterContext | None = None,
        on_events: Callable[[str, EventsView], None] | None = None,
        on_event_log: Callable[[str, str, str], None] | None = None,
        scrubber: SecretScrubber | None = None,
    ) -> None:
        settings = settings or Settings()
        self.kube = kube
        self.context = context
        self._on_view = on_view
        self._on_log = on_log
        # The ``[event]`` lines, ``(resource, line, key)``: a keyed line is created or updated
        # in place (a repeated event's count). Without a sink that can do that, they go with
        # the pod logs, as an append-only output prints them (first, then some updates).
        self._on_event_log = on_event_log or AppendOnlyEventLog(on_log)
        # The Secrets deployed are learned into ``scrubber`` (kept in records and errors,
        # which are not log lines). A scrubber handed in belongs to the log the lines go to,
        # which scrubs them (the engine's log store); the session's own scrubs them here.
        self._scrub_lines = scrubber is None
        self.scrubber = (
            scrubber
            if scrubber is not None
            else SecretScrubber(disabled=settings.secrets_disable_scrub)
        )
        self.upsert_timeout_s = float(settings.k8s_upsert_timeout_secs)
        #: Tilt's k8s_server_side_apply: the argument, else the Tiltfile's update_settings()
        self.server_side = server_side or settings.k8s_server_side_apply
        self.monitor = PodMonitor(kube, self._view_changed)
        # Kubernetes events (issue 12): lines into the log, records and the reason to on_events.
        self.events = EventMonitor(
            kube,
            on_log=self._event_log,
            on_view=on_events or (lambda _r, _v: None),
            quiet=QuietRules.from_pairs(settings.k8s_quiet_events),
            resolver=self.monitor.resolver,
            scrub=self.scrubber.scrub,
        )
        self._resources: dict[str, _Resource] = {}
        self._lock = threading.Lock()
        #: live_update copy strategy per (namespace, pod, container): probed once
        self._copy_strategies: dict[tuple[str, str, str], str] = {}
        #: the helper image for containers without tools (set once it is built and delivered)
        self.helper_image = ""
        #: or what makes it when a container first needs it (blocking; the runner's)
        self.helper: Callable[[Callable[[str], None]], str] | None = None

    @classmethod
    def connect(
        cls,
        settings: Settings,
        *,
        on_view: Callable[[str, PodsView], None],
        on_log: Callable[[str, str], None],
        on_events: Callable[[str, EventsView], None] | None = None,
        on_event_log: Callable[[str, str, str], None] | None = None,
        context: str = "",
        namespace: str = "",
        kubeconfig: str | None = None,
        scrubber: SecretScrubber | None = None,
    ) -> K8sSession:
        """The session for the Tiltfile's (or the flags') context; refuses a remote cluster.

        Raises ``ContextError``/``ContextRefused`` (their messages are for the user).
        """
        ctx, cfg = load_context(
            kubeconfig=kubeconfig,
            context=context or settings.k8s_context,
            namespace=namespace or settings.k8s_namespace,
        )
        check_context_allowed(ctx, settings.allowed_k8s_contexts)
        kube = KubeClient(cfg, namespace=ctx.namespace)
        return cls(
            kube,
            on_view=on_view,
            on_log=on_log,
            settings=settings,
            context=ctx,
            on_events=on_events,
            on_event_log=on_event_log,
            scrubber=scrubber,
        )

    # ---- logging
    def log(self, resource: str, text: str) -> None:
        self._on_log(resource, self.scrubber.scrub(text) if self._scrub_lines else text)

    def _event_log(self, resource: str, text: str, key: str) -> None:
        self._on_event_log(resource, self.scrubber.scrub(text) if self._scrub_lines else text, key)

    # ---- deploy
    async def deploy(
        self,
        resource: str,
        target: K8sTarget,
        images: Mapping[str, str] | None = None,
        *,
        pod_sections: bool = False,
        commands: Mapping[str, ContainerCommand] | None = None,
        env_images: Collection[str] = (),
    ) -> ApplyResult:
        """Apply the resource's objects with ``images`` (Tiltfile ref -> built ref) injected.

        With ``pod_sections`` each pod's lines in the resource's log start with a header
        naming the pod and its attempt (its place among its owner's pods, oldest first):
        a Job that retried shows each try apart. Raises ``ApplyError`` (its message names
        each object that failed and why).
        """
        bodies = [o.body for o in target.objects]
        self.scrubber.add_objects(bodies)
        prepared = prepare_objects(
            bodies, images or {}, target.image_locators, commands, env_images
        )
        applier = Applier(
            self.kube,
            server_side=self.server_side,
            upsert_timeout_s=self.upsert_timeout_s,
            log=lambda line: self.log(resource, line),
        )
        try:
            result = await applier.apply(prepared)
        except ApplyError as e:
            # The server's refusal may quote what was applied (server-side apply echoes a
            # value of the wrong type: ``.stringData.pin: expected string, got ...{Value:...}``).
            raise ApplyError({k: self.scrubber.scrub(v) for k, v in e.errors.items()}) from None
        for name in result.replaced:
            self.log(resource, f"{name}: replaced")
        with self._lock:
            res = self._resources.get(resource)
            if res is None:
                res = _Resource(
                    target=target,
                    logs=ResourceLogs(self.kube, lambda line: self._pod_log(resource, line)),
                )
                self._resources[resource] = res
            res.target = target
            res.pod_sections = pod_sections
            self._ensure_forwards(resource, res)
        self.events.track(resource, result.objects)
        self.monitor.track(
            resource,
            result.objects,
            pod_readiness=target.pod_readiness,
            extra_selectors=target.extra_pod_selectors,
        )
        return result

    def track_objects(
        self,
        resource: str,
        objects: Sequence[Obj],
        target: K8sTarget | None = None,
    ) -> None:
        """Follow objects deployed by someone else: ``k8s_custom_deploy``'s ``apply_cmd``
        prints the YAML of what it deployed (with uids), which the resource then owns.
        Secrets among them are scrubbed from logs from now on, as the ones ``deploy`` applies."""
        self.scrubber.add_objects(objects)
        target = target or K8sTarget()
        with self._lock:
            res = self._resources.get(resource)
            if res is None:
                res = _Resource(
                    target=target,
                    logs=ResourceLogs(self.kube, lambda line: self._pod_log(resource, line)),
                )
                self._resources[resource] = res
            res.target = target
            self._ensure_forwards(resource, res)
        self.events.track(resource, objects)
        self.monitor.track(
            resource,
            objects,
            pod_readiness=target.pod_readiness,
            extra_selectors=target.extra_pod_selectors,
        )

    async def wait_logs(self, resource: str, pods: Collection[str], timeout_s: float) -> bool:
        """Wait until the named (finished) pods' lines have all reached the resource's log.

        False when ``timeout_s`` passed first; True at once when the resource is not followed.
        """
        with self._lock:
            res = self._resources.get(resource)
        if res is None or not pods:
            return True
        return await asyncio.to_thread(res.logs.wait_drained, pods, timeout_s)

    def links(self, resource: str) -> list[Link]:
        with self._lock:
            res = self._resources.get(resource)
            return list(res.links) if res else []

    def updaters(self, resource: str, built_ref: str) -> list[ExecUpdater]:
        """Exec updaters for every current, running container that runs ``built_ref``."""
        view = self.monitor.view(resource)
        out = []
        for pod in view.objects:
            if (pod.get("status") or {}).get("phase") != "Running":
                continue
            for c in (pod.get("spec") or {}).get("containers") or []:
                if c.get("image") == built_ref:
                    out.append(
                        ExecUpdater(
                            self.kube,
                            namespace=pod["metadata"].get("namespace") or self.kube.namespace,
                            pod=pod["metadata"]["name"],
                            container=c["name"],
                            log=lambda line: self.log(resource, line),
                            helper_image=self.helper_image,
                            strategies=self._copy_strategies,
                            helper=self.helper,
                        )
                    )
        return out

    # ---- down
    async def down(
        self,
        resources: Sequence[tuple[str, K8sTarget]],
        *,
        delete_namespaces: bool = False,
        wait_s: float = 30.0,
    ) -> DownResult:
        """Delete what ``resources`` (dependencies first) declare; see :mod:`tilt.k8s.down`."""
        for name, _ in resources:
            self._stop_resource(name)
        plan = plan_down(
            [[o.body for o in t.objects] for _, t in resources],
            delete_namespaces=delete_namespaces,
        )
        return await delete_plan(self.kube, plan, wait_s=wait_s, log=lambda s: self.log("", s))

    def close(self) -> None:
        self.monitor.close()
        self.events.close()
        with self._lock:
            names = list(self._resources)
        for name in names:
            self._stop_resource(name)
        self.kube.close()

    def forget(self, resource: str) -> None:
        """Stop following ``resource`` (its pods, logs, port forwards); its objects stay."""
        self._stop_resource(resource)

    # ---- internals
    def _stop_resource(self, resource: str) -> None:
        self.monitor.untrack(resource)
        self.events.untrack(resource)
        with self._lock:
            res = self._resources.pop(resource, None)
        if res is not None:
            res.logs.stop()
            for f in res.forwarders:
                f.stop()

    def _ensure_forwards(self, resource: str, res: _Resource) -> None:
        wanted = list(res.target.port_forwards)
        if [f.pf for f in res.forwarders] == wanted and res.forwarders:
            return
        for f in res.forwarders:
            f.stop()
        res.forwarders, res.links = [], []
        for pf in wanted:
            fwd = PortForwarder(self.kube, pf, log=lambda line: self.log(resource, line))
            try:
                fwd.start()
            except PortInUse as e:
                self.log(resource, f"error: {e}")
                res.links.append(Link(url="", name=pf.name, error=str(e)))
                continue
            res.forwarders.append(fwd)
            res.links.append(Link(url=fwd.url, name=pf.name))

    def _pod_log(self, resource: str, line: LogLine) -> None:
        with self._lock:
            res = self._resources.get(resource)
        if res is None or not res.pod_sections:
            self.log(resource, line.display)
            return
        # Followers of several pods log from their own threads: a header and the line it
        # heads go out together.
        with res.section_lock:
            if line.pod != res.last_pod:
                res.last_pod = line.pod
                self.log(resource, pod_section_header(line.pod, res.attempts.get(line.pod, 0)))
            self.log(resource, line.display)

    @staticmethod
    def _number_attempts(res: _Resource, pods: Sequence[Obj]) -> None:
        """Give pods not seen before their attempt: their place among their owner's pods."""
        with res.section_lock:
            for pod in sorted(pods, key=pod_created):
                name = pod["metadata"]["name"]
                if name in res.attempts:
                    continue
                owner = _owner_uid(pod)
                res.tries[owner] = res.tries.get(owner, 0) + 1
                res.attempts[name] = res.tries[owner]

    def _view_changed(self, resource: str, view: PodsView) -> None:
        with self._lock:
            res = self._resources.get(resource)
        if res is not None:
            if res.pod_sections:
                self._number_attempts(res, view.objects)
            res.logs.sync(list(view.objects))
            target = view.forward_target
            for f in res.forwarders:
                ns = (target or {}).get("metadata", {}).get("namespace") or self.kube.namespace
                f.set_target(ns, target)
        self.events.pods_changed(resource, view)
        self._on_view(resource, view)
