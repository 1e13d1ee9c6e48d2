"""Pure formatting of snapshot values for the TUI: durations, ages, status words.

Kept free of Textual so it is cheap to test table-driven and to reuse.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tilt.engine.snapshot import ResourceSnapshot

__all__ = [
    "ResourceRow",
    "age",
    "duration",
    "failure_line",
    "pod_cell",
    "resource_row",
    "test_counts",
    "warning_count",
]


def duration(seconds: float) -> str:
    """A short duration: ``0.4s``, ``12s``, ``3m05s``, ``2h07m``."""
    if seconds < 0:
        seconds = 0.0
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        m, s = divmod(int(seconds), 60)
        return f"{m}m{s:02d}s"
    h, rest = divmod(int(seconds), 3600)
    return f"{h}h{rest // 60:02d}m"


def age(seconds: float) -> str:
    """How long ago, coarse as in Tilt's UI: ``5s``, ``3m``, ``2h``, ``4d``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def warning_count(res: ResourceSnapshot) -> int:
    """How many runtime events of type Warning a resource has (counting repeats).

    Kubernetes events of an older rollout (``current`` False) or silenced by
    ``k8s_quiet_events`` (``quiet``) are listed in the events view but not counted.
    """
    n = 0
    for ev in res.get("events") or ():
        if ev.get("current") is False or ev.get("quiet"):
            continue
        if str(ev.get("type", "")).lower() == "warning":
            n += int(ev.get("count") or 1)
    return n


@dataclass(frozen=True, kw_only=True, slots=True)
class ResourceRow:
    """One resource's table cells as plain strings plus tones for styling.

    Attributes:
        name: The resource name.
        kind: ``local``, ``k8s``, ``docker_compose``...
        update: Update status with its duration (``✔ ok 1.2s``).
        update_tone: ``ok``, ``error``, ``busy``, ``pending`` or ``none``.
        runtime: Runtime status (``✔ ready``, ``✖ exited 1``, ``-``); a Kubernetes
            resource's pod: its mark, ready containers and restarts (``✔ 1/1 ↻2``).
        runtime_tone: As ``update_tone``.
        dirty: ``● 3`` when files changed since the last update, else ``""``.
        trigger: ``auto`` / ``manual`` (``*`` when overridden from the UI).
        age: Age of the last update.
        links: Links and port-forwards, comma separated.
        details: One line of why: the failure reason, what it waits on, changed files.
        warnings: Count of Warning events.
        dirty_manual: A manual resource with pending changes (shown loudly).
    """

    name: str
    kind: str
    update: str
    update_tone: str
    runtime: str
    runtime_tone: str
    dirty: str
    trigger: str
    age: str
    links: str
    details: str
    warnings: int
    dirty_manual: bool


_UPDATE_WORDS = {
    "none": ("-", "none"),
    "pending": ("… pending", "pending"),
    "in_progress": ("⟳ updating", "busy"),
    "ok": ("✔ ok", "ok"),
    "error": ("✖ error", "error"),
    "cancelled": ("✖ cancelled", "error"),
}

# Short kind names for a narrow column.
_KINDS = {"docker_compose": "compose", "k8s_custom_deploy": "k8s-cd"}

_RUNTIME_WORDS = {
    "not_applicable": ("-", "none"),
    "none": ("○ stopped", "none"),
    "pending": ("… pending", "pending"),
    "ok": ("✔ ready", "ok"),
    "error": ("✖ error", "error"),
}


def _one_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _short_url(url: str) -> str:
    """``http://localhost:8081/`` -> ``localhost:8081``: the column is narrow."""
    for scheme in ("http://", "https://"):
        if url.startswith(scheme):
            url = url[len(scheme) :]
            break
    return url.rstrip("/")


def _links(res: ResourceSnapshot) -> str:
    out = [
        str(link.get("name") or _short_url(str(link.get("url", ""))))
        for link in res.get("links") or ()
    ]
    for pf in res.get("port_forwards") or ():
        local = pf.get("local_port")
        remote = pf.get("container_port") or local
        out.append(f":{local}" if local == remote else f":{local}→{remote}")
    return ", ".join(out)


def test_counts(test: dict[str, Any] | None) -> str:
    """A test resource's counts for the table: ``12✔ 3✖ 1⊘ 0.4s`` (✖: failed + errored).

    Empty for a resource that is no test or has not run; what went wrong with the
    results when they could not be read.
    """
    if not test or "status" not in test:
        return ""
    status = test.get("status")
    if status == "parsed":
        parts = [f"{int(test.get('passed') or 0)}✔"]
        bad = int(test.get("failed") or 0) + int(test.get("errored") or 0)
        if bad:
            parts.append(f"{bad}✖")
        if test.get("skipped"):
            parts.append(f"{int(test['skipped'])}⊘")
        return " ".join(parts) + f" {duration(float(test.get('duration_s') or 0))}"
    if status in ("missing", "malformed"):
        return f"results {status}"
    return ""


def failure_line(f: dict[str, Any]) -> str:
    """One failing test for the details: ``tests/test_a.py:12  test_x: AssertionError``."""
    where = f"{f.get('location')}  " if f.get("location") else ""
    msg = f": {f.get('message')}" if f.get("message") else ""
    return f"{where}{f.get('name', '')}{msg}"


def pod_cell(mark: str, pod: Mapping[str, Any]) -> str:
    """A Kubernetes resource's runtime cell: ``✔ 1/1``, ``✖ 0/1 ↻3`` (ready containers, then
    restarts when there were any)."""
    cell = f"{mark} {int(pod.get('ready_containers') or 0)}/{int(pod.get('total_containers') or 0)}"
    restarts = int(pod.get("restarts") or 0)
    return f"{cell} ↻{restarts}" if restarts else cell


def resource_row(res: ResourceSnapshot, now: float) -> ResourceRow:
    """Turn one resource of an engine snapshot into table cells.

    Args:
        res: One entry of ``snapshot()["resources"]``.
        now: The current time (``time.time()``), for durations and ages.

    Returns:
        The row's cells.
    """
    upd = res.get("update") or {}
    rt = res.get("runtime") or {}
    status = str(upd.get("status", "none"))
    word, tone = _UPDATE_WORDS.get(status, (status, "none"))
    started, finished = upd.get("started_at"), upd.get("finished_at")
    if status == "in_progress" and started is not None:
        word = f"{word} {duration(now - started)}"
    elif started is not None and finished is not None and status in ("ok", "error", "cancelled"):
        word = f"{word} {duration(finished - started)}"
    if res.get("queued") and status != "in_progress":
        word, tone = ("… queued", "pending")
    if not res.get("enabled", True):
        word, tone = ("disabled", "none")
    rstatus = str(rt.get("status", "not_applicable"))
    rword, rtone = _RUNTIME_WORDS.get(rstatus, (rstatus, "none"))
    if rstatus == "error" and rt.get("exit_code") is not None:
        rword = f"✖ exited {rt['exit_code']}"
    pod = rt.get("pod")
    if pod and rstatus not in ("not_applicable", "none"):
        # Kubernetes: the status's mark, ready containers, restarts (the pod's name and its
        # reason are in the details).
        rword = pod_cell(rword.split(" ", 1)[0], pod)
    count = int(res.get("pending_file_count") or 0)
    reasons = list(res.get("pending_reasons") or ())
    dirty = ""
    if res.get("dirty"):
        dirty = f"● {count}" if count else "●"
    trigger = str(res.get("trigger_mode", "auto"))
    if res.get("trigger_mode_overridden"):
        trigger += "*"
    last = finished if finished is not None else started
    age_s = age(now - last) if last is not None else "-"

    # The one line that says why: failures first, then what it waits on, then changes.
    details = ""
    if status in ("error", "cancelled") and upd.get("error"):
        details = _one_line(str(upd["error"]))
    elif rstatus == "error" and rt.get("message"):
        details = _one_line(str(rt["message"]))
    elif res.get("waiting_on"):
        details = _one_line(str(res["waiting_on"]))
    elif res.get("dirty"):
        # Base names: the table has little room; the details bar lists full paths.
        files = [os.path.basename(f) for f in res.get("pending_files") or ()]
        shown = ", ".join(files[:3]) + (f" (+{count - 3} more)" if count > 3 else "")
        details = "changed: " + (shown or "; ".join(reasons))
    elif rstatus == "pending" and rt.get("message"):
        details = _one_line(str(rt["message"]))
    elif str(rt.get("state", "")).startswith("pod "):
        # Kubernetes: the pod's name, status, ready containers and restarts.
        details = _one_line(str(rt["state"]))
    counts = test_counts(res.get("test"))
    if counts:
        details = f"{counts} · {details}" if details else counts
    dirty_manual = bool(res.get("dirty")) and trigger.startswith("manual")
    if dirty_manual and not details.startswith("changed"):
        files = [os.path.basename(f) for f in res.get("pending_files") or ()]
        details = "changed: " + (", ".join(files[:3]) or "; ".join(reasons)) + " · " + details
    return ResourceRow(
        name=str(res.get("name", "")),
        kind=_KINDS.get(str(res.get("kind", "")), str(res.get("kind", ""))),
        update=word,
        update_tone=tone,
        runtime=rword,
        runtime_tone=rtone,
        dirty=dirty,
        trigger=trigger,
        age=age_s,
        links=_links(res),
        details=details,
        warnings=warning_count(res),
        dirty_manual=dirty_manual,
    )
