"""Where Tilt accepts a Tiltfile, so do we: checks Tilt does not make are warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DOCKERFILE = {"app/Dockerfile": "FROM scratch\n", "app/src/main.py": "", "app/Makefile": ""}


def test_run_trigger_outside_every_sync_is_a_warning(tiltfile: Any, tmp_path: Path) -> None:
    # Tilt accepts this (the run step can never fire); we load it and say why.
    data = tiltfile(
        "docker_build('app', 'app', live_update=[\n"
        "    sync('app/src', '/src'),\n"
        "    run('make', trigger=['app/Makefile']),\n"
        "])\n",
        files=DOCKERFILE,
    )
    (img,) = data["images"]
    assert [s["kind"] for s in img["live_update"]] == ["sync", "run"]
    assert img["live_update"][1]["triggers"] == [str(tmp_path / "app" / "Makefile")]
    (warning,) = [w for w in data["warnings"] if "run step trigger" in w["message"]]
    assert warning["message"] == (
        f"docker_build: live_update: run step trigger '{tmp_path}/app/Makefile' is not inside "
        f"any sync step's local path [{tmp_path}/app/src]; a change there is never synced, "
        "so the run step will never fire"
    )
    assert warning["location"] == {"file": "Tiltfile", "line": 3}


def test_run_trigger_inside_a_sync_has_no_warning(tiltfile: Any) -> None:
    data = tiltfile(
        "docker_build('app', 'app', live_update=[\n"
        "    sync('app', '/app'),\n"
        "    run('make', trigger=['app/Makefile']),\n"
        "])\n",
        files=DOCKERFILE,
    )
    assert not [w for w in data["warnings"] if "run step trigger" in w["message"]]


def test_empty_k8s_kind_is_a_warning(tiltfile: Any) -> None:
    # Tilt compiles the empty kind as a regexp that matches every kind.
    data = tiltfile("k8s_kind('')\n")
    assert [w["message"] for w in data["warnings"]] == [
        "k8s_kind: kind is empty, so every kind of object matches"
    ]
