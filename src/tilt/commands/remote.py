"""Commands that talk to a running `tilt up` over the local API.

`tilt get [-o json]`, `tilt trigger NAME`, `tilt cancel NAME`,
`tilt logs [-f] [NAME...]`, `tilt down`, `tilt enable`/`tilt disable`.
Each finds the API on ``--port`` / ``TILT_PORT`` / 10350 and reads its token.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tilt.api.client import ApiClient, ApiError

if TYPE_CHECKING:
    from tilt.engine.snapshot import EngineSnapshot
    from tilt.model import Resource, TiltfileResult

__all__ = ["button", "cancel", "down", "enable", "get", "logs", "trigger"]


def _fail(e: ApiError) -> int:
    print(f"Error: {e}", file=sys.stderr)
    return 1


def trigger(port: int, names: Sequence[str]) -> int:
    """Queue an update of each named resource."""
    try:
        client = ApiClient(port)
        for n in names:
            print(client.trigger(n))
    except ApiError as e:
        return _fail(e)
    return 0


def button(port: int, name: str, button_name: str, assignments: Sequence[str]) -> int:
    """Run a resource's ``v1alpha1.ui_button`` with INPUT=VALUE assignments."""
    inputs: dict[str, str] = {}
    for a in assignments:
        key, sep, value = a.partition("=")
        if not sep or not key:
            print(f"Error: expected INPUT=VALUE, got {a!r}", file=sys.stderr)
            return 2
        inputs[key] = value
    try:
        print(ApiClient(port).button(name, button_name, inputs))
    except ApiError as e:
        return _fail(e)
    return 0


def cancel(port: int, names: Sequence[str]) -> int:
    """Cancel the running update of each named resource."""
    try:
        client = ApiClient(port)
        for n in names:
            print(client.cancel(n))
    except ApiError as e:
        return _fail(e)
    return 0


def enable(port: int, names: Sequence[str], enabled: bool) -> int:
    """Enable or disable each named resource."""
    try:
        client = ApiClient(port)
        for n in names:
            print(client.enable(n, enabled))
    except ApiError as e:
        return _fail(e)
    return 0


def down(
    port: int,
    *,
    tiltfile: str = "Tiltfile",
    tilt_args: Sequence[str] = (),
    delete_volumes: bool = False,
    delete_namespaces: bool = False,
    context: str = "",
    namespace: str = "",
) -> int:
    """Stop the running `tilt up` (if any), then remove the Tiltfile's Compose projects
    and Kubernetes objects (`tilt.k8s.down`: dependents first, namespaces only with
    ``delete_namespaces``, ``tilt.dev/down-policy: keep`` kept).

    As Tilt's ``down``, the Tiltfile is loaded (with ``tilt_args``) and each
    Docker Compose project it declares is taken down (``docker compose down
    --remove-orphans``; named volumes only with ``delete_volumes``, Tilt keeps
    them). Containers outlive `tilt up` by design (Tilt's ``up`` leaves them
    running on exit); this is what removes them.

    Args:
        port: The API port of a running `tilt up` (0: none).
        tiltfile: The Tiltfile whose Compose projects to remove.
        tilt_args: Arguments for the Tiltfile's config (after ``--``).
        delete_volumes: Also remove the projects' named volumes.

    Returns:
        0 on success, 1 when nothing could be done or a step failed.
    """
    import os

    stopped = False
    up_error: ApiError | None = None
    try:
        client = ApiClient(port)
        print(client.shutdown())
        stopped = True
        _wait_gone(client)
    except ApiError as e:
        up_error = e
    if not os.path.exists(tiltfile):
        # Nothing to take down but the `tilt up` (the only thing older versions did).
        return 0 if stopped else _fail(up_error or ApiError(f"no Tiltfile at {tiltfile}"))
    from tilt.tiltfile import TiltfileLoadError
    from tilt.tiltfile.worker import load_isolated

    try:
        result = load_isolated(tiltfile, tilt_args, subcommand="down")
    except TiltfileLoadError as e:
        print(e.render(), file=sys.stderr)
        return 1
    code = _compose_down(result, delete_volumes)
    k8s_code = _k8s_down(result, delete_namespaces, context, namespace)
    return code or k8s_code


def _k8s_down(result: TiltfileResult, delete_namespaces: bool, context: str, namespace: str) -> int:
    """Delete the Kubernetes objects the Tiltfile declares; 1 when something failed."""
    import asyncio
    import contextlib

    by_name = {r.name: r for r in result.resources}
    custom = [(n, r) for n in reversed(result.order) if (r := by_name.get(n)) and r.custom_deploy]
    if custom and (refused := _context_refused(result, context, namespace)):
        # Before any delete_cmd runs: it deletes from the kubeconfig's cluster too.
        print(f"Error: {refused}", file=sys.stderr)
        return 1
    custom_code = _custom_deploy_down(custom, result, context, namespace)
    targets = [
        (n, by_name[n].k8s)
        for n in result.order
        if n in by_name and by_name[n].k8s is not None and by_name[n].custom_deploy is None
    ]
    if not targets:
        return custom_code

    def say(text: str) -> None:
        with contextlib.suppress(BrokenPipeError):
            print(text, flush=True)

    from tilt.k8s.client import ContextError
    from tilt.k8s.session import K8sSession

    try:
        session = K8sSession.connect(
            result.settings,
            on_view=lambda _r, _v: None,
            on_log=lambda _r, line: say(f"  {line}"),
            context=context,
            namespace=namespace,
        )
    except ContextError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    ctx = session.context
    say(
        f"Deleting the Kubernetes objects of {len(targets)} resource(s)"
        + (f" from context {ctx.name}" if ctx else "")
    )
    try:
        done = asyncio.run(
            session.down(
                [(n, t) for n, t in targets if t is not None], delete_namespaces=delete_namespaces
            )
        )
    finally:
        session.close()
    for name, why in done.errors.items():
        print(f"Error: could not delete {name}: {why}", file=sys.stderr)
    if done.not_gone:
        print(f"Error: still there: {', '.join(done.not_gone)}", file=sys.stderr)
    return 1 if done.errors or done.not_gone or custom_code else 0


def _context_refused(result: TiltfileResult, context: str, namespace: str) -> str:
    """Tilt's "might be production" refusal for the context `tilt down` would act on, or ""
    (also "" when there is no usable kubeconfig: Tilt lets a cluster-less Tiltfile go on)."""
    from tilt.k8s.client import ContextError, ContextRefused, check_context_allowed, load_context

    settings = result.settings
    try:
        ctx, _ = load_context(
            context=context or settings.k8s_context,
            namespace=namespace or settings.k8s_namespace,
        )
        check_context_allowed(ctx, settings.allowed_k8s_contexts)
    except ContextRefused as e:
        return str(e)
    except ContextError:
        return ""
    return ""


def _custom_deploy_down(
    resources: list[tuple[str, Resource]], result: TiltfileResult, context: str, namespace: str
) -> int:
    """Run the ``delete_cmd`` of each k8s_custom_deploy (dependents first); 1 on a failure.

    As under `tilt up` (and Tilt's `tilt down`), each runs with ``KUBECONFIG`` pinned to the
    context and namespace the Tiltfile and flags choose (`tilt.k8s.kubeconfig`)."""
    import asyncio
    import contextlib
    import os

    from tilt.engine.k8s_custom import CustomDeployError, run_delete_cmd
    from tilt.k8s.kubeconfig import KubeconfigError, PinnedKubeconfig
    from tilt.process import ProcessSupervisor
    from tilt.secrets import SecretScrubber

    if not resources:
        return 0
    # As under `tilt up`: the Tiltfile's Secrets never reach the output.
    secrets = SecretScrubber()
    secrets.learn_tiltfile(result)

    def say(text: str) -> None:
        with contextlib.suppress(BrokenPipeError):
            print(f"  {secrets.scrub(text)}", flush=True)

    pinned: PinnedKubeconfig | None = None
    with contextlib.suppress(KubeconfigError):  # no usable context: the user's own then
        pinned = PinnedKubeconfig.write(
            context or result.settings.k8s_context, namespace or result.settings.k8s_namespace
        )
    code = 0
    try:
        for name, res in resources:
            assert res.custom_deploy is not None
            print(f"{name}: k8s_custom_deploy's delete_cmd", flush=True)
            supervisor = ProcessSupervisor()
            if pinned is not None:
                supervisor.base_env["KUBECONFIG"] = pinned.path
            try:
                asyncio.run(
                    run_delete_cmd(supervisor, res.custom_deploy, base_dir=os.getcwd(), log=say)
                )
            except CustomDeployError as e:
                print(f"Error: could not delete {name}: {secrets.scrub(str(e))}", file=sys.stderr)
                code = 1
    finally:
        if pinned is not None:
            pinned.remove()
    return code


def _wait_gone(client: ApiClient, timeout_s: float = 30.0) -> None:
    """Wait until the `tilt up` we asked to stop no longer answers (it may be mid-deploy)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            client.snapshot()
        except ApiError:
            return
        time.sleep(0.1)


def _compose_down(result: TiltfileResult, delete_volumes: bool) -> int:
    import asyncio
    import contextlib

    from tilt.docker.compose import ComposeError, ComposeProject

    projects: dict[str, ComposeProject] = {}
    try:
        for r in result.resources:
            if r.compose is not None and r.compose.project_name not in projects:
                projects[r.compose.project_name] = ComposeProject.from_target(r.compose)
    except ComposeError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1

    def say(text: str) -> None:
        # `tilt down | head` must still take everything down.
        with contextlib.suppress(BrokenPipeError):
            print(text, flush=True)

    code = 0
    for name, project in projects.items():
        what = " and its volumes" if delete_volumes else ""
        say(f"Removing Docker Compose project {name}{what}")
        done = asyncio.run(project.down(delete_volumes, on_output=lambda line: say(f"  {line}")))
        if not done.ok:
            print(f"Error: docker compose down of {name} failed: {done.error()}", file=sys.stderr)
            code = 1
    return code


def _age(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    d = max(0.0, now - ts)
    if d < 60:
        return f"{d:.0f}s"
    if d < 3600:
        return f"{d / 60:.0f}m"
    return f"{d / 3600:.1f}h"


def _table(snap: EngineSnapshot, names: Sequence[str]) -> str:
    import time

    from tilt.stream import terminal_safe

    now = time.time()
    shown = [r for r in snap["resources"] if not names or r["name"] in names]
    # Kubernetes pods get their columns (as kubectl's): only when one of the rows has a pod.
    pods = any(r["runtime"].get("pod") for r in shown)
    head = ["NAME", "STATUS", "UPDATE", "RUNTIME", "TRIGGER", "DIRTY", "LAST UPDATE", "WHY"]
    if pods:
        head[4:4] = ["POD", "READY", "RESTARTS"]
    rows = [head]
    for r in shown:
        trig = r["trigger_mode"] + ("" if r["auto_init"] else " (no init)")
        dirty = str(r["pending_file_count"]) + " file(s)" if r["pending_file_count"] else ""
        if not dirty and r["pending_reasons"]:
            dirty = "yes"
        why = r["waiting_on"] or r["update"]["error"] or r["runtime"]["message"]
        pod = r["runtime"]["state"] if r["runtime"]["state"].startswith("pod ") else ""
        if pod and r["runtime"]["status"] == "ok":
            why = pod  # Kubernetes: the pod's name, status, ready containers, restarts
        forwards = ", ".join(
            f"localhost:{pf['local_port']}→{pf['container_port']}" for pf in r["port_forwards"]
        )
        if forwards:
            why = f"{why.splitlines()[0] if why else ''} [{forwards}]".strip()
        rows.append(
            [
                r["name"],
                r["status"],
                r["update"]["status"],
                r["runtime"]["status"],
                trig,
                dirty or "-",
                _age(r["update"]["finished_at"] or r["update"]["started_at"], now),
                why.splitlines()[0] if why else "",
            ]
        )
        if pods:
            p = r["runtime"].get("pod")
            rows[-1][4:4] = (
                [p["name"], f"{p['ready_containers']}/{p['total_containers']}", str(p["restarts"])]
                if p
                else ["-", "-", "-"]
            )
        # Messages can carry a child's or the Tiltfile's text: no control sequences.
        rows[-1] = [terminal_safe(c) for c in rows[-1]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    out = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        out.append("   ".join([*cells, row[-1]]).rstrip())
    tf = snap["tiltfile"]
    if tf["status"] == "error":
        out.append("")
        out.append("Tiltfile error (the last good resources keep running):")
        out.append(terminal_safe(tf["error"]))
    return "\n".join(out)


def get(port: int, names: Sequence[str], output: str) -> int:
    """Print the resources' state: a table, or the whole snapshot as JSON."""
    try:
        snap = ApiClient(port).snapshot()
    except ApiError as e:
        return _fail(e)
    known = {r["name"] for r in snap["resources"]}
    missing = [n for n in names if n not in known]
    if missing:
        print(f"Error: no resource named {missing[0]!r}", file=sys.stderr)
        return 1
    if output == "json":
        if names:
            snap = {**snap, "resources": [r for r in snap["resources"] if r["name"] in names]}
        print(json.dumps(snap, indent=2))
    else:
        print(_table(snap, names))
    return 0


def logs(port: int, names: Sequence[str], *, follow: bool, tail: int | None) -> int:
    """Print the log (of the named resources), prefixed as `tilt up --stream` does.

    A line updated in place (a repeated event's count) is printed with its current
    text; when following, its updates are printed as the stream printer does (the
    1st, 2nd, 4th, ... one).
    """
    from tilt.logstore import prints_update
    from tilt.stream import source_prefix, terminal_safe

    out = sys.stdout
    printed = 0  # the highest seq printed: a line seen again is an update of it
    try:
        for line in ApiClient(port).logs(names, follow=follow, tail=tail):
            seq = int(line.get("seq") or 0)
            if seq and seq <= printed and not prints_update(int(line.get("rev") or 0)):
                continue
            printed = max(printed, seq)
            text = terminal_safe(line["text"])
            out.write(terminal_safe(source_prefix(line["resource"])) + text + "\n")
            if follow:
                out.flush()
    except ApiError as e:
        return _fail(e)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0
    out.flush()
    return 0
