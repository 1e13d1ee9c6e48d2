"""`tilt ci` with test resources: every test runs, the combined verdict, the summary
of failing tests, and the JUnit XML of the run (real tilt, real pytest, real shards)."""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import run_tilt

FIXTURES = Path(__file__).parent.parent / "testresults" / "fixtures"


def project(tmp_path: Path, extra: str = "") -> Path:
    shutil.copytree(FIXTURES / "pysuite", tmp_path / "py")
    shutil.copy(FIXTURES / "gotest.jsonl", tmp_path / "go.jsonl")
    shutil.copy(FIXTURES / "surefire.xml", tmp_path / "surefire.xml")
    (tmp_path / "Tiltfile").write_text(
        f"test('py', '{sys.executable} -m pytest -q', dir='py', shards=2)\n"
        "test('go', 'cat go.jsonl', results_format='gotest')\n"
        "test('java', 'mkdir -p out && cp surefire.xml out/ && exit 1',\n"
        "     results='out/*.xml')\n"
        "test('lint', 'echo clean')\n"
        "local_resource('after', 'echo after lint', resource_deps=['lint'])\n" + extra
    )
    return tmp_path


def test_ci_runs_every_test_and_summarises_failures(tmp_path: Path) -> None:
    root = project(tmp_path)
    junit = root / "reports" / "tilt.xml"
    r = run_tilt(
        "ci",
        "--port",
        "0",
        "--output-junit",
        str(junit),
        cwd=root,
        env={"TILT_DEV_DIR": str(root / ".dev")},
        timeout=120,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    err = r.stderr
    # Every test resource ran although py failed first: the verdict names them all.
    assert "3 test resource(s) failed (" in err
    for name in ("py", "go", "java"):
        assert name in err.split("3 test resource(s) failed (")[1].split(")")[0]
    summary = err[err.index("Test results:") :].splitlines()
    assert "  ✔ lint  passed (exit code)" in summary
    assert any(
        s.startswith("  ✖ py    5 passed, 2 failed, 1 errored, 2 skipped in ") for s in summary
    )
    wrong = "  ✖ py    tests/test_math.py:23  tests/test_math.py::TestSub::test_sub_wrong: "
    assert any(s.startswith(wrong) for s in summary)
    assert any(s.startswith("  ✖ java  CartTest.java:42  ") for s in summary)
    assert any(s.startswith("  ✖ go    calc_test.go:27  ") for s in summary)
    # The shard logs were streamed with their prefix.
    assert "[shard 1/2] " in r.stdout and "[shard 2/2] " in r.stdout
    root_el = ET.parse(junit).getroot()
    suites = {s.get("name"): s for s in root_el.iter("testsuite")}
    assert set(suites) == {"py", "go", "java", "lint", "after"}
    assert suites["py"].get("tests") == "10" and suites["py"].get("failures") == "2"
    assert suites["after"].find("testcase/failure") is None


def test_ci_passes_with_passing_tests(tmp_path: Path) -> None:
    (tmp_path / "Tiltfile").write_text(
        "test('ok', 'echo fine', timeout='30s')\n"
        "test('sharded', 'echo shard $TILT_SHARD_INDEX of $TILT_SHARD_COUNT', shards=3)\n"
    )
    r = run_tilt("ci", "--port", "0", cwd=tmp_path, env={"TILT_DEV_DIR": str(tmp_path / ".d")})
    assert r.returncode == 0, r.stdout + r.stderr
    for i in range(3):
        assert f"[shard {i + 1}/3] shard {i} of 3" in r.stdout
    assert "  ✔ ok       passed (exit code)" in r.stdout
    assert r.stdout.rstrip().endswith("✔ sharded  passed (exit code)")


def test_ci_timeout_fails_the_test(tmp_path: Path) -> None:
    (tmp_path / "Tiltfile").write_text("test('slow', 'sleep 60', timeout=0.5)\n")
    r = run_tilt("ci", "--port", "0", cwd=tmp_path, env={"TILT_DEV_DIR": str(tmp_path / ".d")})
    assert r.returncode == 1
    assert "timed out after 0.5s (test timeout)" in r.stderr
