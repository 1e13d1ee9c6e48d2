"""`tilt doctor`: how this machine builds images and how they reach the cluster, and what is wrong.

One screen (or ``-o json``): the Docker engine (address, version, BuildKit),
the Kubernetes context (product, cluster, server), the registry found and
where it came from, the delivery mode chosen for images, and the checks that
failed with what to do. Works without a kubeconfig or a cluster: those lines
say "not configured". Exit status 1 when a check failed.
"""

from __future__ import annotations

import enum
import json
import os
import shutil
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from tilt.registry.decision import DeliveryMode
from tilt.registry.probe import DeliveryPlan, TiltfileRegistry, probe

__all__ = ["Check", "Status", "checks_for", "main", "render_text", "to_json"]


class Status(enum.StrEnum):
    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, kw_only=True)
class Check:
    """One thing looked at: its status, what was found, and what to do."""

    name: str
    status: Status
    message: str
    fix: str = ""


def _registry_answers(host: str, timeout_s: float = 3.0) -> tuple[bool, str, str]:
    """``(answers, scheme, error)`` for ``GET /v2/`` (200 or 401 both mean "a registry")."""
    last = ""
    for scheme in ("https", "http"):
        ctx = ssl.create_default_context() if scheme == "https" else None
        try:
            with urllib.request.urlopen(f"{scheme}://{host}/v2/", timeout=timeout_s, context=ctx):
                return True, scheme, ""
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 401:
                return True, scheme, ""
            last = f"HTTP {e.code}"
        except (OSError, ValueError) as e:
            last = str(getattr(e, "reason", e))
    return False, "", last


def checks_for(plan: DeliveryPlan, *, probe_registry: bool = True) -> list[Check]:
    """What is fine and what is not, each failure with what to do."""
    out: list[Check] = []
    d = plan.docker
    if d.reachable:
        out.append(
            Check(name="docker", status=Status.OK, message=f"engine {d.version} at {d.host}")
        )
    else:
        out.append(
            Check(
                name="docker",
                status=Status.FAIL,
                message=d.error or f"no engine at {d.host}",
                fix="start Docker, or point DOCKER_HOST at a running engine",
            )
        )
    if d.buildx:
        out.append(Check(name="buildkit", status=Status.OK, message="docker buildx is installed"))
    else:
        out.append(
            Check(
                name="buildkit",
                status=Status.WARN,
                message="docker buildx is not installed: Dockerfiles that need BuildKit "
                "(# syntax=, RUN --mount, COPY --chmod, heredocs) cannot be built",
                fix="install the buildx plugin (Debian: apt install docker-buildx; "
                "Docker Desktop ships it)",
            )
        )
    if plan.kube_error:
        out.append(
            Check(
                name="kubeconfig",
                status=Status.FAIL,
                message=plan.kube_error,
                fix="fix the file, or choose another context with --context",
            )
        )
    elif plan.context is None:
        out.append(
            Check(
                name="kubernetes",
                status=Status.INFO,
                message="no Kubernetes context is configured: local and Docker Compose "
                "resources work; Kubernetes resources cannot deploy",
                fix="create a local cluster (kind, k3d, minikube ...) or set KUBECONFIG",
            )
        )
    if plan.facts is not None and plan.facts.errors:
        out.append(
            Check(
                name="cluster",
                status=Status.FAIL,
                message="; ".join(plan.facts.errors),
                fix=f"check that the cluster runs: kubectl --context {plan.context.context} "
                "get nodes"
                if plan.context
                else "check that the cluster runs",
            )
        )
    elif plan.facts is not None:
        out.append(
            Check(
                name="cluster",
                status=Status.OK,
                message=f"{plan.product} cluster answers"
                + (
                    f" (runtime {plan.facts.container_runtime})"
                    if plan.facts.container_runtime
                    else ""
                ),
            )
        )
    mode = plan.decision.mode
    reg = plan.registry.registry
    if mode is DeliveryMode.PUSH and reg is not None and probe_registry:
        ok, scheme, err = _registry_answers(reg.host)
        if not ok:
            out.append(
                Check(
                    name="registry",
                    status=Status.FAIL,
                    message=f"registry {reg.host} does not answer from this machine ({err})",
                    fix="start the registry (for kind: docs/registries.md), or fix the host",
                )
            )
        elif scheme == "http":
            from tilt.registry.push import engine_treats_insecure

            if d.reachable and not engine_treats_insecure(reg.host, d.registry_config):
                out.append(
                    Check(
                        name="registry",
                        status=Status.FAIL,
                        message=f"registry {reg.host} speaks plain HTTP and the Docker engine "
                        "only pushes over HTTPS to it",
                        fix=f'add it to /etc/docker/daemon.json: {{"insecure-registries": '
                        f'["{reg.host}"]}} and restart the engine',
                    )
                )
            else:
                out.append(
                    Check(name="registry", status=Status.OK, message=f"{reg.host} answers (HTTP)")
                )
        else:
            out.append(
                Check(name="registry", status=Status.OK, message=f"{reg.host} answers (HTTPS)")
            )
    if mode in (DeliveryMode.KIND_LOAD, DeliveryMode.K3D_IMPORT):
        tool = "kind" if mode is DeliveryMode.KIND_LOAD else "k3d"
        if shutil.which(tool) is None:
            out.append(
                Check(
                    name=tool,
                    status=Status.FAIL,
                    message=f"`{tool}` is not installed, and the cluster has no registry",
                    fix=f"install {tool}, or give the cluster a local registry "
                    "(docs/registries.md)",
                )
            )
        else:
            out.append(
                Check(
                    name="registry",
                    status=Status.WARN,
                    message=f"no registry: images are copied in with `{tool}`, which is slower "
                    "than pushing to a local registry",
                    fix="set up a local registry (docs/registries.md)",
                )
            )
    if mode is DeliveryMode.PUSH and reg is None:
        out.append(
            Check(
                name="registry",
                status=Status.WARN,
                message="no registry is known: images are pushed under their own names, which "
                "works only for names in a registry you can push to",
                fix="set default_registry() in the Tiltfile, or advertise a local registry "
                "(docs/registries.md)",
            )
        )
    return out


def to_json(plan: DeliveryPlan, checks: list[Check]) -> dict[str, Any]:
    """The JSON of ``tilt doctor -o json``."""
    d, c, reg = plan.docker, plan.context, plan.registry.registry
    return {
        "docker": {
            "host": d.host,
            "reachable": d.reachable,
            "version": d.version,
            "api_version": d.api_version,
            "os_arch": d.os_arch,
            "buildx": d.buildx,
            "error": d.error,
        },
        "kubernetes": {
            "kubeconfig": [{"path": p, "exists": os.path.exists(p)} for p in plan.kubeconfig],
            "context": c.context if c else "",
            "cluster": c.cluster if c else "",
            "server": c.server if c else "",
            "namespace": c.namespace if c else "",
            "product": str(plan.product),
            "cluster_name": plan.cluster_name,
            "container_runtime": plan.facts.container_runtime if plan.facts else "",
            "error": plan.kube_error,
        },
        "registry": {
            "host": reg.host if reg else "",
            "host_from_cluster": reg.pull_host if reg else "",
            "single_name": reg.single_name if reg else "",
            "source": str(plan.registry.source),
            "reason": plan.registry.reason,
            "notes": list(plan.discovery.notes),
        },
        "delivery": {"mode": str(plan.decision.mode), "reason": plan.decision.reason},
        "checks": [
            {"name": k.name, "status": str(k.status), "message": k.message, "fix": k.fix}
            for k in checks
        ],
        "ok": not any(k.status is Status.FAIL for k in checks),
    }


def render_text(plan: DeliveryPlan, checks: list[Check]) -> str:
    """The one-screen report."""
    d, c, reg = plan.docker, plan.context, plan.registry.registry
    lines = ["Docker"]
    lines.append(f"  host        {d.host}")
    if d.reachable:
        lines.append(f"  engine      {d.version} (API {d.api_version}, {d.os_arch})")
    else:
        lines.append("  engine      not reachable")
    lines.append(f"  BuildKit    {'docker buildx' if d.buildx else 'docker buildx not installed'}")
    lines.append("Kubernetes")
    files = ", ".join(p + ("" if os.path.exists(p) else " (not found)") for p in plan.kubeconfig)
    lines.append(f"  kubeconfig  {files or 'none'}")
    if c is None:
        lines.append("  context     not configured")
        lines.append("  cluster     none")
    else:
        lines.append(
            f"  context     {c.context}" + (f" (namespace {c.namespace})" if c.namespace else "")
        )
        lines.append(f"  cluster     {plan.product}" + (f" ({c.cluster})" if c.cluster else ""))
        lines.append(f"  server      {c.server or 'unknown'}")
        if plan.facts is not None and plan.facts.container_runtime:
            lines.append(f"  runtime     {plan.facts.container_runtime}")
    lines.append("Images")
    if reg is None:
        lines.append("  registry    none")
    else:
        lines.append(f"  registry    {reg.host} (from {plan.registry.source.describe})")
        if reg.pull_host != reg.host:
            lines.append(f"  pulled as   {reg.pull_host}")
    lines.append(f"  why         {plan.registry.reason}")
    lines.append(f"  delivery    {plan.decision.mode}: {plan.decision.reason}")
    lines.append("Checks")
    for k in checks:
        lines.append(f"  {k.status.upper():<5} {k.name}: {k.message}")
        if k.fix and k.status in (Status.FAIL, Status.WARN, Status.INFO):
            lines.append(f"        -> {k.fix}")
    failed = sum(k.status is Status.FAIL for k in checks)
    lines.append(f"{failed} check(s) failed" if failed else "No check failed")
    return "\n".join(lines)


def _tiltfile_registry(path: str, tilt_args: list[str]) -> tuple[TiltfileRegistry, str]:
    """default_registry() and image_push_cmd() from a Tiltfile, or the load error."""
    from tilt.tiltfile import TiltfileLoadError, load_tiltfile

    try:
        result = load_tiltfile(path, tilt_args, subcommand="doctor")
    except TiltfileLoadError as e:
        return TiltfileRegistry(), e.render()
    return TiltfileRegistry.from_settings(result.settings), ""


def main(*, output: str, context: str, file: str | None, tilt_args: list[str]) -> int:
    """Run the checks and print them; 1 when a check failed."""
    tiltfile = TiltfileRegistry()
    if file is not None:
        tiltfile, error = _tiltfile_registry(file, tilt_args)
        if error:
            print(error, file=sys.stderr)
            return 1
    plan = probe(context=context, tiltfile=tiltfile)
    checks = checks_for(plan)
    if output == "json":
        print(json.dumps(to_json(plan, checks), indent=2))
    else:
        print(render_text(plan, checks))
    return 1 if any(k.status is Status.FAIL for k in checks) else 0
