"""Scripted scenes the TUI tests, the snapshots and the screenshot share."""

from __future__ import annotations

from tilt.ui.scripted import ScriptedController, resource

#: The pinned wall clock of every scene (ages and durations are computed from it).
NOW = 1_800_000_000.0


def idle() -> ScriptedController:
    """Tiltfile.example after start: tests passed, api and worker up, report manual."""
    c = ScriptedController(
        [
            resource(
                "tests",
                labels=["backend"],
                update_status="ok",
                update_count=1,
                started_at=NOW - 95,
                finished_at=NOW - 93.8,
                reason="Initial Build",
                cmd="python3 -m unittest -q test_greeting",
            ),
            resource(
                "api",
                labels=["backend"],
                resource_deps=["tests"],
                update_status="ok",
                update_count=1,
                started_at=NOW - 93,
                finished_at=NOW - 93,
                runtime_status="ok",
                pid=4242,
                runtime_message="HTTP GET /healthz: 200",
                links=[("http://127.0.0.1:8765/greeting", "greeting")],
                serve_cmd="python3 -u api.py",
            ),
            resource(
                "worker",
                resource_deps=["api"],
                update_status="ok",
                update_count=1,
                started_at=NOW - 90,
                finished_at=NOW - 90,
                runtime_status="ok",
                pid=4243,
                serve_cmd="python3 -u worker.py",
            ),
            resource(
                "report",
                labels=["tools"],
                resource_deps=["api"],
                trigger_mode="manual",
                auto_init=False,
                cmd="python3 report.py",
            ),
        ],
        tiltfile="/project/Tiltfile.example",
    )
    c.tiltfile["duration_s"] = 0.04
    c.log("(Tiltfile)", "Loading Tiltfile at: /project/Tiltfile.example", "tiltfile")
    c.log("(Tiltfile)", "Successfully loaded Tiltfile (41ms)", "tiltfile")
    c.log("tests", "Running cmd: python3 -m unittest -q test_greeting", "build")
    c.log("tests", "Ran 3 tests in 0.001s", "build")
    c.log("tests", "OK", "build")
    c.log("api", "serving on 127.0.0.1:8765", "runtime")
    for i in range(1, 6):
        c.log("worker", f"submitted job {i}: greeting 'hello, Tiltfile.example'", "runtime")
        c.log("api", f'127.0.0.1 "POST /jobs HTTP/1.1" 201 (job {i})', "runtime")
    return c


def parallel_builds() -> ScriptedController:
    """Three builds running at once, their output interleaved."""
    c = ScriptedController(
        [
            resource(
                name,
                update_status="in_progress",
                update_count=2,
                started_at=NOW - 3.5 + i,
                reason="1 File Changed: [src/x.py]",
                cmd=f"make {name}",
            )
            for i, name in enumerate(("frontend", "backend", "migrations"))
        ]
        + [
            resource(
                "db",
                update_status="ok",
                update_count=1,
                started_at=NOW - 300,
                finished_at=NOW - 299,
                runtime_status="ok",
                serve_cmd="postgres -D data",
            )
        ],
        tiltfile="/project/Tiltfile",
    )
    for step in range(1, 11):
        c.log("frontend", f"[{step}/10] bundling chunk {step} (vendor-{step * 37}.js)", "build")
        c.log("backend", f"compiling module app.service{step} ... ok", "build")
        if step % 2:
            c.log("migrations", f"applying 00{step}_add_table_{step}.sql", "build")
    return c


def dirty_manual() -> ScriptedController:
    """The manual `report` has changed files waiting for a trigger."""
    c = idle()
    c.update(
        "report",
        status="ready",
        update={"status": "ok", "count": 1, "started_at": NOW - 600, "finished_at": NOW - 599.5},
        pending_files=[
            "examples/local/report.py",
            "examples/local/greeting.py",
            "examples/local/templates/summary.txt",
            "examples/local/templates/footer.txt",
        ],
    )
    return c


def failing() -> ScriptedController:
    """A compose service OOM-killed and unhealthy, with its events, and its row selected."""
    c = ScriptedController(
        [
            resource(
                "redis",
                kind="docker_compose",
                update_status="ok",
                update_count=1,
                started_at=NOW - 400,
                finished_at=NOW - 398,
                runtime_status="ok",
            ),
            resource(
                "indexer",
                kind="docker_compose",
                update_status="ok",
                update_count=1,
                started_at=NOW - 400,
                finished_at=NOW - 396,
                runtime_status="error",
                runtime_exit_code=137,
                runtime_message="container exited with code 137 (OOMKilled)",
                events=[
                    {
                        "type": "Normal",
                        "reason": "Started",
                        "object": "container/proj-indexer-1",
                        "message": "container started",
                        "count": 3,
                        "first_seen": NOW - 396,
                        "last_seen": NOW - 70,
                    },
                    {
                        "type": "Warning",
                        "reason": "Unhealthy",
                        "object": "container/proj-indexer-1",
                        "message": "health check failed: curl: (7) connection refused",
                        "count": 4,
                        "first_seen": NOW - 200,
                        "last_seen": NOW - 40,
                    },
                    {
                        "type": "Warning",
                        "reason": "OOMKilled",
                        "object": "container/proj-indexer-1",
                        "message": "container killed: out of memory (limit 256MiB)",
                        "count": 2,
                        "first_seen": NOW - 130,
                        "last_seen": NOW - 12,
                    },
                    {
                        "type": "Warning",
                        "reason": "Died",
                        "object": "container/proj-indexer-1",
                        "message": "exit code 137",
                        "count": 2,
                        "first_seen": NOW - 130,
                        "last_seen": NOW - 12,
                    },
                ],
            ),
        ],
        tiltfile="/project/Tiltfile",
    )
    c.log("indexer", "indexing batch 41 (12000 docs)", "runtime")
    c.log("indexer", "Container proj-indexer-1 OOMKilled (exit 137)", "event")
    c.log("redis", "Ready to accept connections tcp", "runtime")
    return c


def failing_tests() -> ScriptedController:
    """A sharded pytest resource with failing tests beside a passing go test and a server."""
    failures = [
        {
            "name": "test_sub_wrong",
            "suite": "tests.test_math.TestSub",
            "outcome": "failed",
            "duration_s": 0.001,
            "message": "AssertionError: subtraction is off",
            "details": ["self = <test_math.TestSub object>", "assert got == 3"],
            "file": "tests/test_math.py",
            "line": 23,
            "location": "tests/test_math.py:23",
            "shard": 1,
        },
        {
            "name": "test_uses_database",
            "suite": "tests.test_errors",
            "outcome": "errored",
            "duration_s": 0.002,
            "message": 'failed on setup with "RuntimeError: database fixture could not connect"',
            "details": [],
            "file": "tests/test_errors.py",
            "line": 6,
            "location": "tests/test_errors.py:6",
            "shard": 0,
        },
    ]
    c = ScriptedController(
        [
            resource(
                "api",
                update_status="ok",
                update_count=1,
                started_at=NOW - 60,
                finished_at=NOW - 60,
                runtime_status="ok",
                pid=4242,
                serve_cmd="python3 -u api.py",
            ),
            resource(
                "unit",
                labels=["tests"],
                update_status="error",
                update_count=2,
                started_at=NOW - 30,
                finished_at=NOW - 27.6,
                reason="1 File Changed: [tests/test_math.py]",
                cmd="python -m pytest -q",
                error="2 of 10 test(s) failed: tests/test_math.py::TestSub::test_sub_wrong "
                "(tests/test_math.py:23)",
                exit_code=1,
                test={
                    "shards": 2,
                    "timeout_s": 300.0,
                    "status": "parsed",
                    "passed": 6,
                    "failed": 1,
                    "errored": 1,
                    "skipped": 2,
                    "total": 10,
                    "duration_s": 0.41,
                    "note": "",
                    "summary": "6 passed, 1 failed, 1 errored, 2 skipped in 0.4s",
                    "failures": failures,
                    "failure_count": 2,
                },
            ),
            resource(
                "go-unit",
                labels=["tests"],
                update_status="ok",
                update_count=1,
                started_at=NOW - 50,
                finished_at=NOW - 48.8,
                cmd="go test -json ./...",
                test={
                    "shards": 1,
                    "timeout_s": None,
                    "status": "parsed",
                    "passed": 42,
                    "failed": 0,
                    "errored": 0,
                    "skipped": 1,
                    "total": 43,
                    "duration_s": 1.2,
                    "note": "",
                    "summary": "42 passed, 1 skipped in 1.2s",
                    "failures": [],
                    "failure_count": 0,
                },
            ),
        ],
        tiltfile="/project/Tiltfile",
    )
    c.log("api", "listening on :8080", "runtime")
    c.log("unit", "1 File Changed: [tests/test_math.py]", "build")
    c.log("unit", "[shard 1/2] Running cmd: python -m pytest -q (2 file(s))", "build:shard-1")
    c.log("unit", "[shard 2/2] Running cmd: python -m pytest -q (1 file(s))", "build:shard-2")
    c.log("unit", "[shard 2/2] ....F", "build:shard-2")
    c.log("unit", "[shard 2/2] =================== FAILURES ===================", "build:shard-2")
    c.log("unit", "[shard 2/2] ____________ TestSub.test_sub_wrong ____________", "build:shard-2")
    c.log("unit", "[shard 2/2] >       assert got == 3, 'subtraction is off'", "build:shard-2")
    c.log("unit", "[shard 2/2] E       AssertionError: subtraction is off", "build:shard-2")
    c.log("unit", "[shard 2/2] tests/test_math.py:23: AssertionError", "build:shard-2")
    c.log("unit", "[shard 2/2] 1 failed, 4 passed in 0.07s", "build:shard-2")
    for i in range(24):
        c.log("unit", f"[shard 1/2] tests/test_api.py::test_route_{i} PASSED", "build:shard-1")
    c.log("unit", "[shard 1/2] ==================== ERRORS ====================", "build:shard-1")
    c.log("unit", "[shard 1/2] ____ ERROR at setup of test_uses_database ____", "build:shard-1")
    c.log("unit", "[shard 1/2] E   RuntimeError: database unreachable", "build:shard-1")
    c.log("unit", "Tests: 6 passed, 1 failed, 1 errored, 2 skipped in 0.4s", "build")
    c.log("unit", "  ✖ FAILED tests/test_math.py::TestSub::test_sub_wrong", "build")
    c.log("unit", "ERROR: 2 of 10 test(s) failed", "build")
    return c


def kubernetes() -> ScriptedController:
    """Two Kubernetes resources: one ready with port forwards and restarts, one that
    cannot pull its image."""
    c = ScriptedController(
        [
            resource(
                "web",
                kind="k8s",
                update_status="ok",
                update_count=2,
                started_at=NOW - 40,
                finished_at=NOW - 36.5,
                reason="Initial Build",
                runtime_status="ok",
                runtime_state="pod web-7d9f8c6b5-x2k4p: Running, 1/1 ready, 2 restarts",
                port_forwards=[(8080, 80), (9090, 9090)],
                pod={
                    "name": "web-7d9f8c6b5-x2k4p",
                    "phase": "Running",
                    "status": "ready",
                    "reason": "Ready",
                    "restarts": 2,
                    "ready_containers": 1,
                    "total_containers": 1,
                },
            ),
            resource(
                "api",
                kind="k8s",
                update_status="ok",
                update_count=1,
                started_at=NOW - 40,
                finished_at=NOW - 38,
                reason="Initial Build",
                runtime_status="error",
                runtime_message="ImagePullBackOff: the cluster pulls kind-registry:5000/api:tilt-"
                "3f2a but tilt pushed localhost:5001/api:tilt-3f2a",
                runtime_state="pod api-5c9d7-q8z2m: Pending, 0/1 ready",
                pod={
                    "name": "api-5c9d7-q8z2m",
                    "phase": "Pending",
                    "status": "error",
                    "reason": "ImagePullBackOff",
                    "restarts": 0,
                    "ready_containers": 0,
                    "total_containers": 1,
                },
            ),
        ],
        tiltfile="/project/Tiltfile",
    )
    c.log("(Tiltfile)", "Successfully loaded Tiltfile (52ms)", "tiltfile")
    c.log("web", "Applying 2 object(s) to context kind-dev", "build")
    c.log("web", "Port forward: http://localhost:8080/", "build")
    c.log("web", "listening on :80", "runtime")
    return c
