"""Tiltfile builtins: global settings (update_settings, watch_settings, trigger_mode, ...).

``finalize`` runs first of all families: it builds ``asm.settings`` (a
``model.Settings``) from what these builtins recorded plus the root
``.tiltignore``, so later families can read the default trigger mode and the
watch ignores. Families that own other settings fields (``default_registry``,
``k8s_context`` ...) fill them in their own finalize with ``dataclasses.replace``.

Settings that only make sense for Tilt's own server (analytics, version checks,
feature flags, snapshots) are accepted so that existing Tiltfiles
load unchanged, and documented as not applied.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tilt.model import DockerPruneSettings, IgnoreRule, Settings, TriggerMode
from tilt.tiltfile._context import (
    Ctx,
    LoadState,
    TiltfileError,
    as_bool,
    as_int,
    as_str,
    as_str_list,
    builtin,
    constant,
)

if TYPE_CHECKING:
    from tilt.tiltfile._assemble import Assembly

__all__ = ["SettingsState", "finalize", "parse_go_duration", "read_tiltignore"]

TILTIGNORE = ".tiltignore"


class _TiltDefault(int):
    """An int default that tells "not passed" from an explicit value.

    ``update_settings`` only changes what it is given (a second call keeps the first
    call's other values, as in Tilt); its repr is the plain number for the API docs.
    """


_DEFAULT_MAX_PARALLEL = _TiltDefault(3)
_DEFAULT_UPSERT_TIMEOUT = _TiltDefault(30)


@dataclass
class SettingsState:
    """What the settings builtins recorded during one load."""

    max_parallel_updates: int = 3
    k8s_upsert_timeout_secs: int = 30
    k8s_server_side_apply: str = "auto"
    suppress_unused_image_warnings: list[str] = field(default_factory=list)
    watch_ignores: list[IgnoreRule] = field(default_factory=list)
    default_trigger_mode: TriggerMode = TriggerMode.AUTO
    ci_timeout_secs: float = 1800.0
    ci_readiness_timeout_secs: float = 300.0
    ci_k8s_grace_period_secs: float = 0.0
    secrets_disable_scrub: bool = False
    team_id: str = ""
    features: dict[str, bool] = field(default_factory=dict)
    docker_prune: DockerPruneSettings = field(default_factory=DockerPruneSettings)


constant(
    "TRIGGER_MODE_AUTO",
    TriggerMode.AUTO,
    "Trigger mode: a resource updates as soon as a file it depends on changes (the default).",
)
constant(
    "TRIGGER_MODE_MANUAL",
    TriggerMode.MANUAL,
    "Trigger mode: a file change only marks the resource dirty; it updates when triggered.",
)


# --- Go durations -----------------------------------------------------------------------

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # Go accepts both micro signs
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string (``"30m"``, ``"1h30m"``, ``"1.5s"``, ``"0"``).

    Raises:
        ValueError: the text is not a Go duration.
    """
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"invalid duration {text!r}")
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            if re.match(r"\d+\.?\d*$|\.\d+$", s[pos:]):
                raise ValueError(f"missing unit in duration {text!r}")
            raise ValueError(f"invalid duration {text!r}")
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def _duration(ctx: Ctx, fn: str, arg: str, value: object) -> float | None:
    """A Go duration; None for a negative one, which Tilt takes (a warning here)."""
    text = as_str(fn, arg, value)
    try:
        secs = parse_go_duration(text)
    except ValueError as e:
        raise TiltfileError(
            f"{fn}: for parameter {arg!r}: {e} (want a Go duration such as '30s', '5m', '1h30m')"
        ) from None
    if secs < 0:
        # Tilt parses with time.ParseDuration and keeps any sign (value.Duration).
        ctx.warn(f"{fn}: {arg} is a negative duration ({text}); the setting is ignored")
        return None
    return secs


# --- builtins ---------------------------------------------------------------------------


@builtin("trigger_mode")
def trigger_mode(ctx: Ctx, trigger_mode: object) -> None:
    """Set the default trigger mode of every resource that does not set its own.

    ``TRIGGER_MODE_AUTO`` (the default) updates a resource as soon as a file it
    depends on changes; ``TRIGGER_MODE_MANUAL`` only marks it dirty until it is
    triggered (button, ``tilt trigger``). A resource's own ``trigger_mode=`` wins.

    Args:
        trigger_mode: ``TRIGGER_MODE_AUTO`` or ``TRIGGER_MODE_MANUAL``.
    """
    if not isinstance(trigger_mode, TriggerMode):
        raise TiltfileError(
            "trigger_mode: for parameter 'trigger_mode': want TRIGGER_MODE_AUTO or "
            f"TRIGGER_MODE_MANUAL, got {trigger_mode!r}"
        )
    ctx.state.family(SettingsState).default_trigger_mode = trigger_mode


@builtin("update_settings")
def update_settings(
    ctx: Ctx,
    max_parallel_updates: object = _DEFAULT_MAX_PARALLEL,
    k8s_upsert_timeout_secs: object = _DEFAULT_UPSERT_TIMEOUT,
    suppress_unused_image_warnings: object = None,
    k8s_server_side_apply: object = None,
) -> None:
    """Configure how updates run.

    Only the arguments given change (a later call keeps what an earlier one set);
    image names given to ``suppress_unused_image_warnings`` add up across calls.

    Args:
        max_parallel_updates: how many resources may update at the same time (>= 1).
        k8s_upsert_timeout_secs: how long a Kubernetes apply may take, in seconds (>= 1).
        suppress_unused_image_warnings: an image name or a list of them: no
            "Image not used in any deploy config" warning for these.
        k8s_server_side_apply: ``"true"`` (server-side apply), ``"false"`` (client-side
            three-way apply) or ``"auto"`` (server-side, client-side when the cluster
            refuses it; the default here).
    """
    fn = "update_settings"
    st = ctx.state.family(SettingsState)
    if max_parallel_updates is not _DEFAULT_MAX_PARALLEL:
        n = as_int(fn, "max_parallel_updates", max_parallel_updates)
        if n < 1:
            raise TiltfileError(f"{fn}: max number of parallel updates must be >= 1 (got: {n})")
        st.max_parallel_updates = n
    if k8s_upsert_timeout_secs is not _DEFAULT_UPSERT_TIMEOUT:
        t = as_int(fn, "k8s_upsert_timeout_secs", k8s_upsert_timeout_secs)
        if t < 1:
            raise TiltfileError(f"{fn}: minimum k8s upsert timeout is 1s; got {t}s")
        st.k8s_upsert_timeout_secs = t
    ssa = as_str(fn, "k8s_server_side_apply", k8s_server_side_apply, allow_none=True)
    if ssa:
        if ssa not in ("true", "false", "auto"):
            raise TiltfileError(
                f'{fn}: k8s_server_side_apply must be "true", "false", or "auto"; got "{ssa}"'
            )
        st.k8s_server_side_apply = ssa
    for ref in as_str_list(fn, "suppress_unused_image_warnings", suppress_unused_image_warnings):
        if ref not in st.suppress_unused_image_warnings:
            st.suppress_unused_image_warnings.append(ref)


@builtin("watch_settings", located=True)
def watch_settings(ctx: Ctx, ignore: object = []) -> None:  # never mutated
    """Exclude paths from every file watch (and every build context), like ``.tiltignore``.

    Patterns use gitignore syntax and are relative to the folder of the calling
    Tiltfile. They add to the patterns of ``.tiltignore`` and of earlier calls.

    Args:
        ignore: a pattern or a list of patterns.
    """
    fn = "watch_settings"
    where = ctx.here()
    origin = f"{where} watch_settings(ignore=)"
    st = ctx.state.family(SettingsState)
    for pattern in as_str_list(fn, "ignore", ignore):
        if not pattern.strip():
            continue
        st.watch_ignores.append(IgnoreRule(pattern=pattern, base_dir=ctx.dir, origin=origin))


@builtin("ci_settings", located=True)
def ci_settings(
    ctx: Ctx,
    k8s_grace_period: object = "",
    timeout: object = "30m",
    readiness_timeout: object = "5m",
) -> None:
    """Configure ``tilt ci``.

    Durations use Go's syntax (``"30s"``, ``"5m"``, ``"1h30m"``).

    Args:
        k8s_grace_period: how long ``tilt ci`` keeps waiting after a Kubernetes pod
            fails, in case it recovers (default: none).
        timeout: the longest ``tilt ci`` may run before it fails.
        readiness_timeout: how long a resource may take to become ready.
    """
    fn = "ci_settings"
    st = ctx.state.family(SettingsState)
    grace = as_str(fn, "k8s_grace_period", k8s_grace_period)
    st.ci_k8s_grace_period_secs = (
        (_duration(ctx, fn, "k8s_grace_period", grace) or 0.0) if grace else 0.0
    )
    if as_str(fn, "timeout", timeout):
        secs = _duration(ctx, fn, "timeout", timeout)
        if secs is not None:
            st.ci_timeout_secs = secs
    if as_str(fn, "readiness_timeout", readiness_timeout):
        secs = _duration(ctx, fn, "readiness_timeout", readiness_timeout)
        if secs is not None:
            st.ci_readiness_timeout_secs = secs


@builtin("secret_settings")
def secret_settings(ctx: Ctx, disable_scrub: object = False) -> None:
    """Configure how Secret values are handled in logs.

    By default the values of Kubernetes Secrets the Tiltfile deploys are replaced
    by a placeholder in every log line.

    Args:
        disable_scrub: if True, Secret values are shown in logs as they are.
    """
    st = ctx.state.family(SettingsState)
    st.secrets_disable_scrub = as_bool("secret_settings", "disable_scrub", disable_scrub)


@builtin("set_team")
def set_team(ctx: Ctx, team_id: object) -> None:
    """Associate the Tiltfile with a Tilt Cloud team.

    Recorded in the settings (``team_id``); nothing is sent anywhere.

    Args:
        team_id: the team's id.
    """
    team = as_str("set_team", "team_id", team_id)
    if not team:
        raise TiltfileError("set_team: team_id must not be empty")
    ctx.state.family(SettingsState).team_id = team


@builtin("version_settings")
def version_settings(ctx: Ctx, check_updates: object = True, constraint: object = "") -> None:
    """Accepted for compatibility; not applied.

    In Tilt this checks for new Tilt releases and fails when the running Tilt does
    not satisfy a semver ``constraint``. This tool has its own version numbers, so
    the constraint is validated for syntax only and never enforced, and nothing
    is checked online.

    Args:
        check_updates: whether Tilt checks for newer releases (ignored).
        constraint: a semver range such as ``">=0.22.2"`` (checked for syntax only).
    """
    fn = "version_settings"
    as_bool(fn, "check_updates", check_updates)
    text = as_str(fn, "constraint", constraint).strip()
    part = r"\s*(>=|<=|>|<|=|!=|~|\^)?\s*v?\d+(\.(\d+|x|\*)){0,2}(-[0-9A-Za-z.-]+)?\s*"
    if text and not re.fullmatch(rf"{part}((,|\s+|\|\|)\s*{part})*", text):
        raise TiltfileError(f"{fn}: invalid version constraint {text!r}")


@builtin("analytics_settings")
def analytics_settings(ctx: Ctx, enable: object = None) -> None:
    """Accepted for compatibility; not applied: this tool collects no analytics.

    Args:
        enable: whether Tilt sends usage analytics (ignored).
    """
    if enable is not None:
        as_bool("analytics_settings", "enable", enable)


@builtin("docker_prune_settings")
def docker_prune_settings(  # noqa: PLR0917 -- Tilt's positional parameters
    ctx: Ctx,
    disable: object = False,
    max_age_mins: object = 360,
    num_builds: object = 0,
    interval_hrs: object = 0,
    keep_recent: object = 2,
) -> None:
    """Configure how `tilt up` removes the old images it built.

    Every image `docker_build` builds carries the label ``dev.tilt.built=true``
    (``custom_build`` images do not). While `tilt up` runs (not `tilt ci`), once
    the first builds are done and then every ``interval_hrs`` hours (or, with
    ``num_builds``, after every that many builds instead), such images older than
    ``max_age_mins`` are removed, except the ``keep_recent`` most recent of each
    repository and any image a container (running or stopped) uses; Docker's
    build cache older than ``max_age_mins`` is pruned too. Nothing without the
    label is ever removed. Each prune logs one line per kind of object removed
    (``[Docker Prune] removed 3 images, reclaimed 1.2MB``) in the Tiltfile's log;
    a failure (no Docker engine, say) is logged as a warning and changes nothing
    else.

    As in Tilt, pruning "every `num_builds` builds" and "every `interval_hrs` hours"
    exclude each other: giving both (non-zero) fails the load.

    Args:
        disable: if True, never prune.
        max_age_mins: only images and build cache older than this many minutes
            are pruned (default 360, six hours).
        num_builds: prune after every this many builds (0: by time).
        interval_hrs: prune this often, in hours; 0 is Tilt's default of every hour.
        keep_recent: keep this many of the most recent images of each repository,
            however old (default 2).
    """
    fn = "docker_prune_settings"
    off = as_bool(fn, "disable", disable)
    ints = {
        arg: as_int(fn, arg, v)
        for arg, v in (
            ("max_age_mins", max_age_mins),
            ("num_builds", num_builds),
            ("interval_hrs", interval_hrs),
            ("keep_recent", keep_recent),
        )
    }
    if ints["num_builds"] != 0 and ints["interval_hrs"] != 0:
        raise TiltfileError(
            f"{fn}: can't specify both 'prune every X builds' and 'prune every Y hours'; "
            "please pass only one of `num_builds` and `interval_hrs`"
        )
    ctx.state.family(SettingsState).docker_prune = DockerPruneSettings(disable=off, **ints)


@builtin("enable_feature")
def enable_feature(ctx: Ctx, feature_name: object) -> None:
    """Accepted for compatibility; not applied: this tool has no feature flags.

    Args:
        feature_name: the name of a Tilt feature flag (recorded, ignored).
    """
    name = as_str("enable_feature", "feature_name", feature_name)
    ctx.state.family(SettingsState).features[name] = True


@builtin("disable_feature")
def disable_feature(ctx: Ctx, feature_name: object) -> None:
    """Accepted for compatibility; not applied: this tool has no feature flags.

    Args:
        feature_name: the name of a Tilt feature flag (recorded, ignored).
    """
    name = as_str("disable_feature", "feature_name", feature_name)
    ctx.state.family(SettingsState).features[name] = False


@builtin("disable_snapshots")
def disable_snapshots(ctx: Ctx) -> None:
    """Accepted for compatibility; not applied: this tool has no snapshot sharing."""


# --- .tiltignore and finalize -----------------------------------------------------------


def read_tiltignore(state: LoadState) -> list[IgnoreRule]:
    """The rules of the ``.tiltignore`` next to the main Tiltfile (gitignore syntax).

    The file is recorded as read (also when absent), so creating or editing it
    reloads the Tiltfile. Blank lines and ``#`` comments are skipped.
    """
    path = os.path.join(state.main_dir, TILTIGNORE)
    state.record_read(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise TiltfileError(f"cannot read {path}: {e.strerror or e}") from None
    rules = []
    for num, line in enumerate(lines, start=1):
        # gitignore: trailing spaces are dropped unless escaped with a backslash.
        pattern = line.rstrip(" \t") if not line.endswith("\\ ") else line
        if not pattern.strip() or pattern.lstrip().startswith("#"):
            continue
        rules.append(IgnoreRule(pattern=pattern, base_dir=state.main_dir, origin=f"{path}:{num}"))
    return rules


def finalize(state: LoadState, asm: Assembly) -> None:
    """Build ``asm.settings``: runs before every other family's finalize."""
    st = state.family(SettingsState)
    asm.settings = Settings(
        max_parallel_updates=st.max_parallel_updates,
        k8s_upsert_timeout_secs=st.k8s_upsert_timeout_secs,
        k8s_server_side_apply=st.k8s_server_side_apply,
        suppress_unused_image_warnings=tuple(st.suppress_unused_image_warnings),
        watch_ignores=(*read_tiltignore(state), *st.watch_ignores),
        default_trigger_mode=st.default_trigger_mode,
        ci_timeout_secs=st.ci_timeout_secs,
        ci_readiness_timeout_secs=st.ci_readiness_timeout_secs,
        ci_k8s_grace_period_secs=st.ci_k8s_grace_period_secs,
        secrets_disable_scrub=st.secrets_disable_scrub,
        team_id=st.team_id,
        docker_prune=st.docker_prune,
    )
