"""Settings builtins: update/watch/ci/secret settings, trigger_mode, the root .tiltignore."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tiltfile.conftest import FIXTURES, dump_of, resources_by_name
from tilt.tiltfile._settings import parse_go_duration

DEFAULTS = {
    "max_parallel_updates": 3,
    "k8s_upsert_timeout_secs": 30,
    "k8s_server_side_apply": "auto",
    "suppress_unused_image_warnings": [],
    "watch_ignores": [],
    "default_trigger_mode": "auto",
    "ci_timeout_secs": 1800.0,
    "ci_readiness_timeout_secs": 300.0,
    "ci_k8s_grace_period_secs": 0.0,
    "secrets_disable_scrub": False,
    "team_id": "",
    "docker_prune": {
        "disable": False,
        "max_age_mins": 360,
        "num_builds": 0,
        "interval_hrs": 0,
        "keep_recent": 2,
    },
}


def _mine(settings: dict[str, Any]) -> dict[str, Any]:
    """The fields this family owns (others, e.g. default_registry, belong to other families)."""
    return {k: settings[k] for k in DEFAULTS}


def test_defaults(tiltfile: Any) -> None:
    assert _mine(tiltfile("")["settings"]) == DEFAULTS


# (Tiltfile text, the settings fields expected to differ from the defaults)
OVERRIDE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("max_parallel", "update_settings(max_parallel_updates=5)", {"max_parallel_updates": 5}),
    (
        "positional",
        "update_settings(1, 10)",
        {"max_parallel_updates": 1, "k8s_upsert_timeout_secs": 10},
    ),
    (
        "later_call_keeps_earlier_values",
        "update_settings(max_parallel_updates=7)\nupdate_settings(k8s_upsert_timeout_secs=90)",
        {"max_parallel_updates": 7, "k8s_upsert_timeout_secs": 90},
    ),
    (
        "explicit_default_value_still_applies",
        "update_settings(max_parallel_updates=7)\nupdate_settings(max_parallel_updates=3)",
        {},
    ),
    (
        "suppress_adds_up",
        "update_settings(suppress_unused_image_warnings='a')\n"
        "update_settings(suppress_unused_image_warnings=['b', 'a'])",
        {"suppress_unused_image_warnings": ["a", "b"]},
    ),
    (
        "server_side_apply",
        "update_settings(k8s_server_side_apply='false')\nupdate_settings(max_parallel_updates=4)",
        {"k8s_server_side_apply": "false", "max_parallel_updates": 4},
    ),
    (
        "trigger_mode_manual",
        "trigger_mode(TRIGGER_MODE_MANUAL)",
        {"default_trigger_mode": "manual"},
    ),
    (
        "trigger_mode_last_call_wins",
        "trigger_mode(TRIGGER_MODE_MANUAL)\ntrigger_mode(TRIGGER_MODE_AUTO)",
        {},
    ),
    (
        "ci_settings",
        "ci_settings(k8s_grace_period='10s', timeout='1h30m', readiness_timeout='90s')",
        {
            "ci_k8s_grace_period_secs": 10.0,
            "ci_timeout_secs": 5400.0,
            "ci_readiness_timeout_secs": 90.0,
        },
    ),
    ("ci_settings_defaults", "ci_settings()", {}),
    ("ci_settings_fractional", "ci_settings(timeout='1.5m')", {"ci_timeout_secs": 90.0}),
    ("secret_settings", "secret_settings(disable_scrub=True)", {"secrets_disable_scrub": True}),
    ("set_team", "set_team('team-123')", {"team_id": "team-123"}),
    (
        "docker_prune_settings",
        "docker_prune_settings(disable=False, max_age_mins=60, num_builds=0, interval_hrs=2, "
        "keep_recent=1)",
        {
            "docker_prune": {
                "disable": False,
                "max_age_mins": 60,
                "num_builds": 0,
                "interval_hrs": 2,
                "keep_recent": 1,
            }
        },
    ),
    (
        "docker_prune_settings_positional_last_call_wins",
        "docker_prune_settings(num_builds=4)\ndocker_prune_settings(True, 30, 5)",
        {
            "docker_prune": {
                "disable": True,
                "max_age_mins": 30,
                "num_builds": 5,
                "interval_hrs": 0,
                "keep_recent": 2,
            }
        },
    ),
    (
        "accepted_but_not_applied",
        "version_settings(check_updates=False, constraint='>=0.22.2')\n"
        "version_settings(constraint='>=0.30.0 <1.0.0')\n"
        "analytics_settings(False)\n"
        "enable_feature('labels')\ndisable_feature('snapshots')\ndisable_snapshots()",
        {},
    ),
]


@pytest.mark.parametrize(
    ("text", "changed"),
    [pytest.param(t, c, id=name) for name, t, c in OVERRIDE_CASES],
)
def test_overrides(tiltfile: Any, text: str, changed: dict[str, Any]) -> None:
    assert _mine(tiltfile(text + "\n")["settings"]) == {**DEFAULTS, **changed}


def test_trigger_mode_is_the_default_for_resources(tiltfile: Any) -> None:
    data = tiltfile(
        "local_resource('a', cmd='true')\n"
        "local_resource('b', cmd='true', trigger_mode=TRIGGER_MODE_AUTO)\n"
        "trigger_mode(TRIGGER_MODE_MANUAL)\n"  # applies to resources declared before it too
        "local_resource('c', cmd='true')\n"
    )
    modes = {n: r["trigger_mode"] for n, r in resources_by_name(data).items()}
    assert modes == {"a": "manual", "b": "auto", "c": "manual"}


def test_watch_settings_rules(tiltfile: Any, tmp_path: Path) -> None:
    data = tiltfile(
        "watch_settings(ignore=['*.tmp', 'build/'])\ninclude('sub/Tiltfile')\n",
        files={"sub/Tiltfile": "\nwatch_settings(ignore='cache')\n"},
    )
    assert data["settings"]["watch_ignores"] == [
        {
            "pattern": "*.tmp",
            "base_dir": str(tmp_path),
            "origin": "Tiltfile:1 watch_settings(ignore=)",
        },
        {
            "pattern": "build/",
            "base_dir": str(tmp_path),
            "origin": "Tiltfile:1 watch_settings(ignore=)",
        },
        {
            "pattern": "cache",
            "base_dir": str(tmp_path / "sub"),
            "origin": "sub/Tiltfile:2 watch_settings(ignore=)",
        },
    ]


def test_tiltignore(tiltfile: Any, tmp_path: Path) -> None:
    data = tiltfile(
        "watch_settings(ignore=['from-tiltfile'])\n",
        files={
            ".tiltignore": "# comment\n\nnode_modules\n*.log   \n!keep.log\n  \n"
            "trailing\\ \n/rooted\n",
            "sub/.tiltignore": "not-read\n",  # only the root .tiltignore counts
        },
    )
    ti = str(tmp_path / ".tiltignore")
    rules = [(r["pattern"], r["base_dir"], r["origin"]) for r in data["settings"]["watch_ignores"]]
    assert rules == [
        ("node_modules", str(tmp_path), f"{ti}:3"),
        ("*.log", str(tmp_path), f"{ti}:4"),
        ("!keep.log", str(tmp_path), f"{ti}:5"),
        ("trailing\\ ", str(tmp_path), f"{ti}:7"),
        ("/rooted", str(tmp_path), f"{ti}:8"),
        ("from-tiltfile", str(tmp_path), "Tiltfile:1 watch_settings(ignore=)"),
    ]
    assert ti in data["files_read"]


def test_absent_tiltignore_is_still_watched(tiltfile: Any, tmp_path: Path) -> None:
    data = tiltfile("")
    assert data["files_read"] == [str(tmp_path / "Tiltfile"), str(tmp_path / ".tiltignore")]


DURATIONS = [
    ("0", 0.0),
    ("30s", 30.0),
    ("5m", 300.0),
    ("1h30m", 5400.0),
    ("1.5h", 5400.0),
    ("300ms", 0.3),
    ("2m3s", 123.0),
    ("+10s", 10.0),
    ("-1s", -1.0),
    ("1us", 1e-6),
    ("1µs", 1e-6),
]


@pytest.mark.parametrize(("text", "secs"), DURATIONS)
def test_go_durations(text: str, secs: float) -> None:
    assert parse_go_duration(text) == pytest.approx(secs)


@pytest.mark.parametrize("text", ["", "10", "1d", "abc", "1h 30m", "m", "1.s.5"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


ERROR_CASES: list[tuple[str, str, str]] = [
    (
        "max_parallel_zero",
        "update_settings(max_parallel_updates=0)",
        "Error: Tiltfile:1:1: update_settings: max number of parallel updates must be >= 1 "
        "(got: 0)",
    ),
    (
        "max_parallel_wrong_type",
        "update_settings(max_parallel_updates='4')",
        "Error: Tiltfile:1:1: update_settings: for parameter 'max_parallel_updates': got "
        "string, want int",
    ),
    (
        "upsert_timeout_zero",
        "x = 1\nupdate_settings(k8s_upsert_timeout_secs=0)",
        "Error: Tiltfile:2:1: update_settings: minimum k8s upsert timeout is 1s; got 0s",
    ),
    (
        "server_side_apply_value",
        "update_settings(k8s_server_side_apply='yes')",
        'Error: Tiltfile:1:1: update_settings: k8s_server_side_apply must be "true", "false", '
        'or "auto"; got "yes"',
    ),
    (
        "server_side_apply_bool",
        "update_settings(k8s_server_side_apply=True)",
        "Error: Tiltfile:1:1: update_settings: for parameter 'k8s_server_side_apply': got bool, "
        "want string",
    ),
    (
        "suppress_wrong_type",
        "update_settings(suppress_unused_image_warnings=3)",
        "Error: Tiltfile:1:1: update_settings: for parameter 'suppress_unused_image_warnings': "
        "got int, want string or list of strings",
    ),
    (
        "trigger_mode_string",
        "trigger_mode('manual')",
        "Error: Tiltfile:1:1: trigger_mode: for parameter 'trigger_mode': want "
        "TRIGGER_MODE_AUTO or TRIGGER_MODE_MANUAL, got 'manual'",
    ),
    (
        "watch_settings_wrong_type",
        "watch_settings(ignore=5)",
        "Error: Tiltfile:1:1: watch_settings: for parameter 'ignore': got int, want string or "
        "list of strings",
    ),
    (
        "ci_bad_duration",
        "ci_settings(timeout='30 minutes')",
        "Error: Tiltfile:1:1: ci_settings: for parameter 'timeout': invalid duration "
        "'30 minutes' (want a Go duration such as '30s', '5m', '1h30m')",
    ),
    (
        "ci_missing_unit",
        "ci_settings(readiness_timeout='10')",
        "Error: Tiltfile:1:1: ci_settings: for parameter 'readiness_timeout': missing unit in "
        "duration '10' (want a Go duration such as '30s', '5m', '1h30m')",
    ),
    (
        "secret_settings_wrong_type",
        "secret_settings(disable_scrub='yes')",
        "Error: Tiltfile:1:1: secret_settings: for parameter 'disable_scrub': got string, "
        "want bool",
    ),
    (
        "version_constraint_syntax",
        "version_settings(constraint='newest please')",
        "Error: Tiltfile:1:1: version_settings: invalid version constraint 'newest please'",
    ),
    ("set_team_empty", "set_team('')", "Error: Tiltfile:1:1: set_team: team_id must not be empty"),
    (
        "unknown_argument",
        "update_settings(max_parallel=2)",
        "Error: Tiltfile:1:1: update_settings: got an unexpected keyword argument 'max_parallel'",
    ),
]


@pytest.mark.parametrize(
    ("text", "first_line"), [pytest.param(t, e, id=name) for name, t, e in ERROR_CASES]
)
def test_errors(tiltfile_error: Any, text: str, first_line: str) -> None:
    msg = tiltfile_error(text + "\n")
    assert msg.splitlines()[0] == first_line
    assert "Traceback" not in msg


def test_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    root = FIXTURES / "settings"
    monkeypatch.chdir(root)
    data = dump_of(root / "Tiltfile")
    assert _mine(data["settings"]) == {
        **DEFAULTS,
        "max_parallel_updates": 2,
        "k8s_upsert_timeout_secs": 120,
        "suppress_unused_image_warnings": ["example.com/base"],
        "default_trigger_mode": "manual",
        "ci_timeout_secs": 600.0,
        "ci_readiness_timeout_secs": 300.0,
        "ci_k8s_grace_period_secs": 30.0,
        "secrets_disable_scrub": True,
        "watch_ignores": [
            {"pattern": "node_modules", "base_dir": str(root), "origin": f"{root}/.tiltignore:2"},
            {"pattern": "*.pyc", "base_dir": str(root), "origin": f"{root}/.tiltignore:3"},
            {
                "pattern": "**/*.tmp",
                "base_dir": str(root),
                "origin": "Tiltfile:9 watch_settings(ignore=)",
            },
            {
                "pattern": "docs/",
                "base_dir": str(root),
                "origin": "Tiltfile:9 watch_settings(ignore=)",
            },
        ],
    }
    modes = {n: (r["trigger_mode"], r["auto_init"]) for n, r in resources_by_name(data).items()}
    assert modes == {"lint": ("manual", True), "server": ("auto", True)}
