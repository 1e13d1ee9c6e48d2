"""Kubernetes Jobs as tests (`tilt.engine.k8s_jobs`): against the emulated API, with a
background controller playing the Job controller (a pod per Job, its logs, the Job's
Complete/Failed condition)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_tilt, write_tree
from tests.k8s.cluster import Controller
from tests.k8s.conftest import run
from tests.k8s.emulator import Emulator
from tests.testresults.test_log_results import pytest_log
from tilt.engine import Engine
from tilt.engine.runner import standard_runners
from tilt.k8s.client import KubeClient
from tilt.logstore import LogStore

FIXTURES = Path(__file__).parent.parent / "testresults" / "fixtures"
GO_FAILING = (FIXTURES / "gotest.jsonl").read_text().splitlines()

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: unit}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: unit
        image: "IMAGE"
        command: ["sh", "-c", "go test -json ./..."]
"""

TILTFILE = "k8s_yaml('job.yaml')\nk8s_resource('unit', test=True)\n"


def _go(action: str, test: str, output: str = "") -> str:
    ev: dict[str, object] = {"Action": action, "Package": "example.com/p", "Test": test}
    if output:
        ev["Output"] = output
    return json.dumps(ev)


GO_PASSING = [
    _go("run", "TestOne"),
    _go("output", "TestOne", "--- PASS: TestOne (0.00s)\n"),
    _go("pass", "TestOne"),
    _go("run", "TestTwo"),
    _go("pass", "TestTwo"),
    json.dumps({"Action": "pass", "Package": "example.com/p", "Elapsed": 0.01}),
]


def ci(tmp_path: Path, image: str, tiltfile: str = TILTFILE, job: str = JOB) -> tuple[int, Engine]:
    write_tree(tmp_path, {"Tiltfile": tiltfile, "job.yaml": job.replace("IMAGE", image)})
    eng = Engine(
        str(tmp_path / "Tiltfile"),
        logs=LogStore(),
        watch=False,
        ci=True,
        ci_timeout_s=30,
        runners=standard_runners,
    )
    return asyncio.run(eng.run()), eng


def _unit(eng: Engine) -> dict[str, object]:
    (res,) = [r for r in eng.snapshot()["resources"] if r["name"] == "unit"]
    return dict(res)


def test_a_passing_job_passes_with_parsed_results(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with Controller(emu, job_logs={"registry.local/unit:1": GO_PASSING}):
        code, eng = ci(tmp_path, "registry.local/unit:1")
    assert code == 0, eng.ci_outcome
    test = _unit(eng)["test"]
    assert isinstance(test, dict)
    assert test["passed"] == 2 and test["failed"] == 0, test
    lines = [ln.text for ln in eng.logs.lines("unit")]
    assert any(t.startswith("Tests: 2 passed") for t in lines), lines
    # The pod's log streamed into the resource's log.
    assert any('"Test": "TestOne"' in t for t in lines), lines


def test_a_failing_job_fails_naming_the_failing_tests(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    image = "registry.local/unit:bad"
    with Controller(emu, job_logs={image: GO_FAILING}, job_image_exit_codes={image: 1}):
        code, eng = ci(tmp_path, image)
    assert code != 0
    assert "unit" in str(eng.ci_outcome)
    test = _unit(eng)["test"]
    assert isinstance(test, dict)
    assert test["failed"] >= 2, (test, [ln.text for ln in eng.logs.lines("unit")], eng.ci_outcome)
    lines = [ln.text for ln in eng.logs.lines("unit")]
    assert any("TestDivide/by_zero (calc_test.go:27)" in t for t in lines), lines
    assert any(t.startswith("ERROR: ") and "test(s) failed" in t for t in lines), lines


def test_a_failed_job_without_results_fails_with_the_job(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    image = "registry.local/unit:crash"
    with Controller(emu, job_logs={image: ["boom"]}, job_image_exit_codes={image: 2}):
        code, eng = ci(tmp_path, image)
    assert code != 0
    lines = [ln.text for ln in eng.logs.lines("unit")]
    assert any("Job/unit failed: Job has reached the specified backoff limit" in t for t in lines)


def test_a_new_image_deletes_and_recreates_the_job(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    logs = {"registry.local/unit:1": GO_PASSING, "registry.local/unit:2": GO_FAILING}
    with Controller(emu, job_logs=logs, job_image_exit_codes={"registry.local/unit:2": 1}) as c:
        code1, _ = ci(tmp_path, "registry.local/unit:1")
        first = emu.find("batch/v1", "Job", "unit")
        code2, eng = ci(tmp_path, "registry.local/unit:2")
        second = emu.find("batch/v1", "Job", "unit")
        assert len(c.job_pods) == 2
    assert code1 == 0 and code2 != 0
    assert first is not None and second is not None
    assert first["metadata"]["uid"] != second["metadata"]["uid"]
    image = second["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.local/unit:2"
    # The old Job's pod went with it; only the new one's results count.
    pods = [p["metadata"]["name"] for p in emu.list("v1", "Pod")]
    assert pods == [c.job_pods[1]]
    lines = [ln.text for ln in eng.logs.lines("unit")]
    assert "Job/unit: deleted (a test reruns as a new Job)" in lines
    assert not any(t.startswith("Tests: 2 passed") for t in lines)


def test_test_true_needs_a_job(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "Tiltfile": "k8s_yaml('d.yaml')\nk8s_resource('web', test=True)\n",
            "d.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                "spec: {template: {spec: {containers: [{name: w, image: x}]}}}\n"
            ),
        },
    )
    r = run_tilt("ci", "--port", "0", cwd=tmp_path, timeout=60)
    assert r.returncode != 0
    assert "test=True needs a Job in resource 'web' (it has Deployment)" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr


def test_tilt_ci_exit_code_and_summary(emu: Emulator, kubeconfig: Path, tmp_path: Path) -> None:
    image = "registry.local/unit:ci"
    write_tree(tmp_path, {"Tiltfile": TILTFILE, "job.yaml": JOB.replace("IMAGE", image)})
    junit = tmp_path / "out.xml"
    with Controller(emu, job_logs={image: GO_FAILING}, job_image_exit_codes={image: 1}):
        r = run_tilt(
            "ci",
            "--port",
            "0",
            "--output-junit",
            str(junit),
            cwd=tmp_path,
            env={"KUBECONFIG": str(kubeconfig), "TILT_DEV_DIR": str(tmp_path / ".dev")},
            timeout=120,
        )
    assert r.returncode == 1, r.stdout + r.stderr
    summary = r.stderr[r.stderr.index("Test results:") :].splitlines()
    assert any(s.startswith("  ✖ unit  calc_test.go:27  ") for s in summary), summary
    assert "TestDivide/by_zero" in junit.read_text()


def test_test_with_image_runs_a_job_from_the_template(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    image = "registry.local/gounit:1"
    tiltfile = (
        "test('gounit', image='registry.local/gounit:1', command='go test -json ./...',\n"
        "     env={'CGO_ENABLED': '0'}, timeout='2m', labels=['tests'])\n"
    )
    with Controller(emu, job_logs={image: GO_PASSING}):
        code, eng = ci(tmp_path, image, tiltfile=tiltfile)
    assert code == 0, eng.ci_outcome
    job = emu.find("batch/v1", "Job", "gounit")
    assert job is not None
    assert job["spec"]["backoffLimit"] == 0
    pod_spec = job["spec"]["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Never"
    (c,) = pod_spec["containers"]
    assert c["image"] == image
    assert c["command"] == ["sh", "-c", "go test -json ./..."]
    assert c["env"] == [{"name": "CGO_ENABLED", "value": "0"}]
    assert job["metadata"]["labels"]["tilt.dev/test"] == "gounit"
    (res,) = [r for r in eng.snapshot()["resources"] if r["name"] == "gounit"]
    assert res["test"]["passed"] == 2 and res["test"]["timeout_s"] == 120


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("test('u', 'make test', image='x')", "test: cmd= and image= do not go together"),
        ("test('u', image='x', shards=2)", "shards=, results=, test_files="),
        ("test('u', image='x', results_format='tap')", "unknown format 'tap'"),
        ("test('Bad_Name', image='x')", "names a Kubernetes Job"),
        ("test('u', command='go test')", "command= runs in image="),
    ],
)
def test_test_with_image_bad_arguments(tmp_path: Path, call: str, message: str) -> None:
    write_tree(tmp_path, {"Tiltfile": call + "\n"})
    r = run_tilt("ci", "--port", "0", cwd=tmp_path, timeout=60)
    assert r.returncode != 0
    assert message in r.stderr + r.stdout, r.stderr + r.stdout
    assert "Traceback" not in r.stderr


def test_a_job_that_never_finishes_fails_at_the_timeout(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    # No controller: the Job never gets a condition.
    tiltfile = "k8s_yaml('job.yaml')\nk8s_resource('unit', test=True, timeout=1)\n"
    code, eng = ci(tmp_path, "registry.local/unit:stuck", tiltfile=tiltfile)
    assert code != 0
    lines = [ln.text for ln in eng.logs.lines("unit")]
    assert "ERROR: timed out after 1s (test timeout)" in lines, lines


def test_a_docker_build_ref_is_injected_into_the_job_template(tmp_path: Path) -> None:
    from tilt.tiltfile import load_tiltfile

    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM scratch\n",
            "Tiltfile": "docker_build('registry.local/gounit', '.')\n"
            "test('gounit', image='registry.local/gounit', command=['go', 'test', '-json'])\n",
        },
    )
    result = load_tiltfile(str(tmp_path / "Tiltfile"))
    (res,) = [r for r in result.resources if r.name == "gounit"]
    assert res.test is not None and res.k8s is not None
    assert res.image_refs == ("registry.local/gounit",)
    (job,) = res.k8s.objects
    assert job.body["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "go",
        "test",
        "-json",
    ]


# ---- results from pytest's output and JUnit XML in the log; retries; the watch -------------

PYTEST_JOB = JOB.replace("go test -json ./...", "pytest -rA tests").replace(
    "backoffLimit: 0", "backoffLimit: 2"
)


def _lines(eng: Engine) -> list[str]:
    return [ln.text for ln in eng.logs.lines("unit")]


def test_pytest_output_in_the_log_gives_the_results(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    image = "registry.local/pyunit:1"
    out = pytest_log(tmp_path / "run", "-rA")
    with Controller(emu, job_logs={image: out}, job_image_exit_codes={image: 1}):
        code, eng = ci(tmp_path / "tf", image, job=PYTEST_JOB)
    assert code != 0
    test = _unit(eng)["test"]
    assert isinstance(test, dict)
    assert (test["status"], test["passed"], test["failed"], test["errored"], test["skipped"]) == (
        "parsed",
        5,
        2,
        1,
        2,
    ), test
    failures = {f["name"]: f for f in test["failures"]}
    assert failures["test_sub_wrong"]["location"] == "tests/test_math.py:23"
    assert failures["test_sub_wrong"]["message"] == "AssertionError: subtraction is off"
    lines = _lines(eng)
    assert (
        "  ✖ FAILED tests/test_math.py::TestSub::test_sub_wrong (tests/test_math.py:23): "
        "AssertionError: subtraction is off"
    ) in lines, lines
    assert any(t.startswith("ERROR: 3 of 10 test(s) failed: ") for t in lines), lines


def test_junit_printed_in_the_log_gives_the_results(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    image = "registry.local/pyunit:junit"
    out = pytest_log(
        tmp_path / "run",
        "tests/test_skips.py",
        "--junitxml=/dev/stdout",
        "-o",
        "junit_family=xunit1",
    )
    tiltfile = "k8s_yaml('job.yaml')\nk8s_resource('unit', test=True, results_format='junit')\n"
    with Controller(emu, job_logs={image: out}):
        code, eng = ci(tmp_path / "tf", image, tiltfile=tiltfile, job=PYTEST_JOB)
    assert code == 0, eng.ci_outcome
    test = _unit(eng)["test"]
    assert isinstance(test, dict)
    assert (test["status"], test["passed"], test["skipped"], test["failed"]) == (
        "parsed",
        1,
        2,
        0,
    ), test
    assert any(t.startswith("Tests: 1 passed, 2 skipped in ") for t in _lines(eng))


@pytest.mark.parametrize(
    "case",
    [
        # No results: the Job's success decides, and the status says why there are none.
        (["collected 3 items", "all good"], 0, "missing", "no JUnit XML document in the pod "),
        # A document cut short: malformed, and the Job's failure decides.
        (['<?xml version="1.0"?><testsuites><testsuite name="x">'], 1, "malformed", "never ends"),
    ],
)
def test_missing_or_malformed_results_fall_back_to_the_job(
    emu: Emulator,
    kubeconfig: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[list[str], int, str, str],
) -> None:
    log, exit_code, status, note = case
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    image = f"registry.local/pyunit:{status}"
    tiltfile = "k8s_yaml('job.yaml')\nk8s_resource('unit', test=True, results_format='junit')\n"
    job = JOB.replace("go test -json ./...", "pytest --junitxml=/dev/stdout")
    with Controller(emu, job_logs={image: log}, job_image_exit_codes={image: exit_code}):
        code, eng = ci(tmp_path, image, tiltfile=tiltfile, job=job)
    assert (code == 0) is (exit_code == 0), eng.ci_outcome
    test = _unit(eng)["test"]
    assert isinstance(test, dict)
    assert test["status"] == status and note in test["note"], test
    lines = _lines(eng)
    assert any(t.startswith(f"Tests: results {status}: ") for t in lines), lines
    if exit_code:
        assert "ERROR: Job/unit failed: Job has reached the specified backoff limit" in lines


def test_a_retried_job_marks_each_pod_and_reads_the_last_attempt(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    image = "registry.local/pyunit:flaky"
    first = pytest_log(tmp_path / "one", "-rA")  # fails: 2 failed, 1 error
    second = pytest_log(tmp_path / "two", "-rA", "tests/test_skips.py")  # passes
    attempts = {image: [(1, first), (0, second)]}
    with Controller(emu, job_attempts=attempts) as c:
        code, eng = ci(tmp_path / "tf", image, job=PYTEST_JOB)
        pods = list(c.job_pods)
    assert code == 0, eng.ci_outcome
    assert len(pods) == 2
    test = _unit(eng)["test"]
    assert isinstance(test, dict)
    # The last attempt's results only (the first one's failures are not counted).
    assert (test["passed"], test["skipped"], test["failed"], test["errored"]) == (1, 2, 0, 0)
    lines = _lines(eng)
    assert f"Job/unit: 2 attempts; results from pod {pods[1]} (attempt 2)" in lines, lines
    headers = {f"── pod {p} (attempt {i}) ──": p for i, p in enumerate(pods, 1)}
    assert set(headers) <= set(lines), lines

    def section_of(text: str) -> set[str]:
        """The pods whose header is the nearest above each line equal to ``text``."""
        owners: set[str] = set()
        current = ""
        for t in lines:
            current = headers.get(t, current)
            if t == text:
                owners.add(current)
        return owners

    # Each pod's own lines sit under its header.
    assert section_of(first[-1]) == {pods[0]}, first[-1]  # 2 failed, 5 passed, ...
    assert section_of(second[-1]) == {pods[1]}, second[-1]  # 1 passed, 2 skipped
    failed_line = next(t for t in first if t.startswith("FAILED tests/test_math.py"))
    assert section_of(failed_line) == {pods[0]}


def test_the_job_is_watched_not_polled(
    emu: Emulator, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with Controller(emu, job_logs={"registry.local/unit:1": GO_PASSING}):
        code, _ = ci(tmp_path, "registry.local/unit:1")
    assert code == 0
    jobs = [(m, p) for m, p in emu.requests if p.startswith("/apis/batch/v1/")]
    watches = [p for m, p in jobs if m == "GET" and "watch=true" in p]
    reads = [p for m, p in jobs if m == "GET" and "watch=true" not in p]
    assert watches, jobs
    # The Job is listed before the watch starts, then never read again: its status comes
    # by the watch (the one GET of it is the pod owner resolver's, cached). Polling read
    # it at least twice (once waiting for the old Job's deletion, once per poll).
    assert any("fieldSelector=metadata.name%3Dunit" in p for p in reads), reads
    gets = [p for p in reads if p.split("?")[0].endswith("/jobs/unit")]
    assert len(gets) <= 1, reads


def test_a_pytest_command_in_the_job_template_prints_each_outcome(tmp_path: Path) -> None:
    from tilt.tiltfile import load_tiltfile

    write_tree(
        tmp_path,
        {
            "Tiltfile": "test('pyunit', image='registry.local/py', command='pytest -q tests',\n"
            "     env={'PYTEST_ADDOPTS': '-x'})\n"
            "test('gounit', image='registry.local/go', command='go test -json ./...')\n"
        },
    )
    result = load_tiltfile(str(tmp_path / "Tiltfile"))
    env = {}
    for r in result.resources:
        assert r.k8s is not None
        (c,) = r.k8s.objects[0].body["spec"]["template"]["spec"]["containers"]
        env[r.name] = c.get("env")
    assert env["pyunit"] == [{"name": "PYTEST_ADDOPTS", "value": "-rA -x"}]
    assert env["gounit"] is None


# ---- the Job watch and the choice of the last attempt, on their own ------------------------


def _job_obj(emu: Emulator) -> dict[str, Any]:
    return emu.put(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "unit", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"name": "u", "image": "x"}]}}},
        }
    )


COMPLETE = {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}


def test_job_watch_sees_the_completion_across_a_compaction(emu: Emulator, kube: KubeClient) -> None:
    from tilt.engine.k8s_jobs import JobWatch

    job = _job_obj(emu)
    key = ("unit", "default")

    async def main() -> tuple[list[dict[str, Any]], bool, int]:
        async with JobWatch(kube, {"default": "unit"}, lambda _line: None) as w:
            assert await w.wait(lambda: key in w.jobs, 30)
            # The link drops; meanwhile the Job completes and the history is compacted:
            # the watch comes back with 410 Gone and relists.
            emu.stop()
            emu.patch_status("Job", "unit", COMPLETE, api_version="batch/v1")
            emu.compact()
            emu.start(emu.port)
            jobs, timed_out = await w.finished({key: job}, 30)
            return jobs, timed_out, w._informers["default"].relists

    jobs, timed_out, relists = run(main(), 60)
    assert not timed_out
    assert jobs[0]["status"]["conditions"][0]["type"] == "Complete"
    assert relists == 2


def test_job_watch_a_job_deleted_while_running_is_an_error(emu: Emulator, kube: KubeClient) -> None:
    from tilt.engine.k8s_jobs import JobWatch

    job = _job_obj(emu)
    key = ("unit", "default")

    async def main() -> str:
        async with JobWatch(kube, {"default": ""}, lambda _line: None) as w:
            assert await w.wait(lambda: key in w.jobs, 30)
            emu.remove("batch/v1", "Job", "unit")
            try:
                await w.finished({key: job}, None)
            except RuntimeError as e:
                return str(e)
            return "no error"

    assert run(main(), 60) == "Job(s) deleted while the test ran: unit"


def test_job_watch_times_out_on_a_job_that_never_finishes(emu: Emulator, kube: KubeClient) -> None:
    from tilt.engine.k8s_jobs import JobWatch

    job = _job_obj(emu)

    async def main() -> bool:
        async with JobWatch(kube, {"default": "unit"}, lambda _line: None) as w:
            _, timed_out = await w.finished({("unit", "default"): job}, 0.5)
            return timed_out

    assert run(main(), 60) is True


def _pod(name: str, created: str, phase: str, index: str = "") -> dict[str, Any]:
    labels = {"batch.kubernetes.io/job-completion-index": index} if index else {}
    return {
        "metadata": {"name": name, "creationTimestamp": created, "labels": labels},
        "status": {"phase": phase},
    }


def test_the_last_attempt_of_each_completion_index() -> None:
    from tilt.engine.k8s_jobs import _last_attempts

    done = {"status": COMPLETE}
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    plain = [
        _pod("a", "2026-01-01T00:00:01Z", "Failed"),
        _pod("b", "2026-01-01T00:00:12Z", "Succeeded"),
    ]
    assert [(p["metadata"]["name"], n, of) for p, n, of in _last_attempts(done, plain)] == [
        ("b", 2, 2)
    ]
    # A completed Job whose newest pod did not succeed (another ran over): the success counts.
    over = [*plain, _pod("c", "2026-01-01T00:00:13Z", "Failed")]
    assert [p["metadata"]["name"] for p, _, _ in _last_attempts(done, over)] == ["b"]
    assert [p["metadata"]["name"] for p, _, _ in _last_attempts(failed, over)] == ["c"]
    indexed = [
        _pod("i0-a", "2026-01-01T00:00:01Z", "Failed", "0"),
        _pod("i1-a", "2026-01-01T00:00:01Z", "Succeeded", "1"),
        _pod("i0-b", "2026-01-01T00:00:12Z", "Succeeded", "0"),
    ]
    got = sorted((p["metadata"]["name"], n, of) for p, n, of in _last_attempts(done, indexed))
    assert got == [("i0-b", 2, 2), ("i1-a", 1, 1)]
