"""`tilt why PATH`: does a change to this path matter, to which target, and which rule decided.

Beyond Tilt, whose users debug ignores by trial and error (issue 4, item 4).
For every target of the Tiltfile - each image (docker_build, custom_build),
each local_resource and k8s_custom_deploy - it asks the target's matcher
(`tilt.watch.matcher.TargetMatcher.explain`, the very object the watcher and
the build context use) and prints IN or OUT with the deciding rule: the
pattern and where it came from (``/repo/.dockerignore:3``,
``Tiltfile:12 docker_build(ignore=)``, ``.tiltignore:1``, ``built-in``), or
the reason no rule was needed (outside every watched path, not in ``only=``).

Two answers are given for a docker_build: *watch* (does a change start a
build; ``.tiltignore`` and ``watch_settings(ignore=)`` count) and *build
context* (is the file sent to Docker; only the image's own rules count, as
in Tilt). The Tiltfile's own reads (``read_file``, ``load``, ...) are listed
too, since a change to them reloads the Tiltfile.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tilt.model import IgnoreRule, TiltfileResult, WatchSpec

__all__ = ["Verdict", "explain_path", "main"]


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """One target's answer for one path.

    Attributes:
        target: What the target is, e.g. ``image app (docker_build, Tiltfile:3)``.
        aspect: ``watch`` or ``build context``.
        included: Whether the path counts for that aspect.
        reason: Which rule decided, for people.
        note: Extra context (who uses the image, trigger mode), may be empty.
    """

    target: str
    aspect: str
    included: bool
    reason: str
    note: str = ""


def _decide(spec: WatchSpec, extra: tuple[IgnoreRule, ...], path: str) -> tuple[bool, str]:
    from tilt.watch.matcher import TargetMatcher

    decision = TargetMatcher.from_spec(spec, extra_ignores=extra).explain(path)
    return decision.included, decision.reason


def explain_path(result: TiltfileResult, path: str) -> list[Verdict]:
    """Every target's verdict on ``path`` (absolute), in Tiltfile order.

    Args:
        result: The loaded Tiltfile.
        path: The absolute path asked about.

    Returns:
        Images first (watch, then build context for docker_build), then
        resources with file watches of their own.
    """
    from tilt.model import ImageBuildKind, TriggerMode

    shared = result.settings.watch_ignores
    verdicts: list[Verdict] = []
    for image in result.images:
        users = [r.name for r in result.resources if image.ref in r.image_refs]
        note = "used by " + ", ".join(users) if users else "no resource uses it: not built"
        label = f"image {image.ref} ({image.kind.value}, {image.location})"
        inc, why = _decide(image.watch, shared, path)
        verdicts.append(Verdict(target=label, aspect="watch", included=inc, reason=why, note=note))
        if image.kind is ImageBuildKind.DOCKER:
            if image.dockerfile and os.path.normpath(path) == image.dockerfile:
                verdicts.append(
                    Verdict(
                        target=label,
                        aspect="build context",
                        included=True,
                        reason="the Dockerfile is always sent",
                    )
                )
            elif not _under(path, image.context):
                verdicts.append(
                    Verdict(
                        target=label,
                        aspect="build context",
                        included=False,
                        reason=f"not under the context {image.context}",
                    )
                )
            else:
                inc, why = _decide(image.watch, (), path)
                verdicts.append(
                    Verdict(target=label, aspect="build context", included=inc, reason=why)
                )
    for res in result.resources:
        spec = None
        kind = res.kind.value
        if res.local is not None and (res.local.cmd or res.local.serve_cmd):
            spec, kind = res.local.watch, "local_resource"
        elif res.custom_deploy is not None:
            spec, kind = res.custom_deploy.watch, "k8s_custom_deploy"
        elif res.compose is not None and res.compose.watch.paths:
            # A service Compose builds itself watches its build context.
            spec, kind = res.compose.watch, "docker_compose service"
        if spec is None:
            continue
        note = (
            "manual trigger mode: marks it pending"
            if res.trigger_mode is TriggerMode.MANUAL
            else ""
        )
        inc, why = _decide(spec, shared, path)
        verdicts.append(
            Verdict(
                target=f"{kind} {res.name} ({res.location})",
                aspect="watch",
                included=inc,
                reason=why,
                note=note,
            )
        )
    return verdicts


def _under(path: str, root: str) -> bool:
    path, root = os.path.normpath(path), os.path.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def render(result: TiltfileResult, path: str, out: TextIO) -> None:
    """Print the verdicts for ``path`` as a short report."""
    verdicts = explain_path(result, path)
    out.write(f"{path}\n")
    if os.path.normpath(path) in {os.path.normpath(p) for p in result.files_read}:
        out.write("  Tiltfile: IN   the Tiltfile read this file; a change reloads it\n")
    if not verdicts:
        out.write("  (the Tiltfile declares no images or watched resources)\n")
    current = ""
    triggered: list[str] = []
    for v in verdicts:
        if v.target != current:
            current = v.target
            out.write(f"\n{v.target}\n")
            if v.note:
                out.write(f"  ({v.note})\n")
        mark = "IN " if v.included else "OUT"
        out.write(f"  {v.aspect + ':':15}{mark}  {v.reason}\n")
        if v.aspect == "watch" and v.included and not v.note.startswith("no resource"):
            triggered.append(v.target.split(" (", 1)[0])
    out.write("\n")
    if triggered:
        out.write("A change to this path triggers: " + "; ".join(triggered) + "\n")
    else:
        out.write("A change to this path triggers nothing.\n")


def main(path: str, tiltfile: str = "Tiltfile", tilt_args: list[str] | None = None) -> int:
    """`tilt why PATH [-f Tiltfile]`; returns the exit code."""
    from tilt.tiltfile import TiltfileLoadError
    from tilt.tiltfile.worker import load_isolated

    try:
        # Loaded as `tilt up` would load it (in a child: tilt.tiltfile.worker), so the
        # answer is about what up runs.
        result = load_isolated(tiltfile, tilt_args or [], subcommand="up")
    except TiltfileLoadError as e:
        print(e.render(), file=sys.stderr)
        return 1
    render(result, os.path.abspath(path), sys.stdout)
    return 0
