"""Test resources in the engine: results in the snapshot, a file change reruns only the
affected test, a manual test turns dirty, and `tilt ci` runs every test before failing."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.engine.test_engine import ci, interactive, make, res, until
from tilt.engine import Engine
from tilt.engine.events import FilesChanged

FIXTURES = Path(__file__).parent.parent / "testresults" / "fixtures"


@pytest.fixture(autouse=True)
def dev_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILT_DEV_DIR", str(tmp_path / ".dev"))


def test_snapshot_carries_counts_duration_and_failures(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "pysuite", tmp_path / "py")
    eng = ci(tmp_path, f"test('py', '{sys.executable} -m pytest -q', dir='py', timeout=60)\n")
    t = res(eng.snapshot(), "py")["test"]
    assert t["status"] == "parsed"
    assert (t["passed"], t["failed"], t["errored"], t["skipped"]) == (5, 2, 1, 2)
    assert t["shards"] == 1 and t["timeout_s"] == 60.0
    assert t["failure_count"] == 3
    located = {f["name"]: f["location"] for f in t["failures"]}
    assert located["test_sub_wrong"] == "tests/test_math.py:23"
    assert t["summary"].startswith("5 passed, 2 failed, 1 errored, 2 skipped in ")
    assert eng.ci_outcome is not None and not eng.ci_outcome.ok


def test_non_test_resource_has_no_test_part(tmp_path: Path) -> None:
    eng = ci(tmp_path, "local_resource('a', 'true')\n")
    assert res(eng.snapshot(), "a")["test"] is None


def test_ci_runs_the_other_tests_and_what_waits_on_a_failed_one_counts_as_done(
    tmp_path: Path,
) -> None:
    eng = ci(
        tmp_path,
        "test('fails', 'exit 3')\n"
        "test('slow-pass', 'sleep 0.5; touch ran')\n"
        "local_resource('needs-fails', 'touch never', resource_deps=['fails'])\n",
    )
    assert eng.ci_outcome is not None and not eng.ci_outcome.ok
    assert eng.ci_outcome.message.startswith("1 test resource(s) failed (fails); fails: ")
    assert (tmp_path / "ran").exists()  # the other test ran to its end
    assert not (tmp_path / "never").exists()
    assert res(eng.snapshot(), "slow-pass")["update"]["status"] == "ok"


def test_a_change_reruns_only_the_affected_test_and_manual_turns_dirty(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    eng: Engine = make(
        tmp_path,
        "test('ta', 'echo run >> a.log', deps=['a'])\n"
        "test('tb', 'echo run >> b.log', deps=['b'], trigger_mode=TRIGGER_MODE_MANUAL)\n",
    )

    async def body(e: Engine) -> None:
        await until(e, lambda s: all(r["update"]["count"] == 1 for r in s["resources"]))
        e.post(FilesChanged(paths=frozenset({str(tmp_path / "a" / "x.py")}), at=time.time()))
        await until(e, lambda s: res(s, "ta")["update"]["count"] == 2)
        await until(e, lambda s: res(s, "ta")["update"]["status"] == "ok")
        e.post(FilesChanged(paths=frozenset({str(tmp_path / "b" / "y.py")}), at=time.time()))
        await until(e, lambda s: res(s, "tb")["dirty"])
        await asyncio.sleep(0.3)
        assert res(e.snapshot(), "tb")["update"]["count"] == 1

    interactive(eng, body)
    assert (tmp_path / "a.log").read_text() == "run\nrun\n"
    assert (tmp_path / "b.log").read_text() == "run\n"
