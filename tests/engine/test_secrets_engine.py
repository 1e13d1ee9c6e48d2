"""Secret values the Tiltfile declares never reach any log: local_resource and serve_cmd
output and the Tiltfile's own, from the first load on (Tilt learns them at load)."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import pytest

from tests.engine.test_engine import interactive, log_text, make
from tilt.engine import Engine
from tilt.engine.state import TILTFILE_NAME

VALUE = "hunter2-very-secret"
TILTFILE = f"""
{{settings}}
k8s_yaml(blob('''
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: {VALUE}
'''))
print('the Tiltfile prints {VALUE}')
local_resource('echo', cmd='echo cmd={VALUE}; echo b64={base64.b64encode(VALUE.encode()).decode()}',
               serve_cmd='echo serve={VALUE}; exec sleep 30')
"""


def run_until_served(tmp_path: Path, settings: str) -> Engine:
    """`tilt up` until the serve_cmd has printed its line."""
    eng = make(tmp_path, TILTFILE.format(settings=settings), selected=["echo"])

    async def body(eng: Engine) -> None:
        deadline = time.monotonic() + 20
        while "serve=" not in log_text(eng, "echo"):
            assert time.monotonic() < deadline, log_text(eng, "echo")
            await asyncio.sleep(0.02)

    interactive(eng, body)
    return eng


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The Secret's own resource cannot deploy (no cluster): only the logs matter here.
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))


def test_every_line_of_every_resource_is_scrubbed(tmp_path: Path) -> None:
    eng = run_until_served(tmp_path, "")
    echo = log_text(eng, "echo")
    tiltfile = log_text(eng, TILTFILE_NAME)
    assert "cmd=[redacted secret db:password]" in echo
    assert "b64=[redacted secret db:password]" in echo
    assert "serve=[redacted secret db:password]" in echo
    assert "the Tiltfile prints [redacted secret db:password]" in tiltfile
    everything = "\n".join(ln.text for ln in eng.logs.lines())
    assert VALUE not in everything
    assert base64.b64encode(VALUE.encode()).decode() not in everything


def test_disable_scrub_shows_them(tmp_path: Path) -> None:
    eng = run_until_served(tmp_path, "secret_settings(disable_scrub=True)")
    assert f"serve={VALUE}" in log_text(eng, "echo")
    assert f"the Tiltfile prints {VALUE}" in log_text(eng, TILTFILE_NAME)


def test_an_update_error_kept_in_the_state_is_scrubbed(tmp_path: Path) -> None:
    # The error is shown beyond the log (status line, `tilt get`, the API): it is scrubbed too.
    text = TILTFILE.format(settings="").replace(
        "local_resource('echo'",
        f"local_resource('bad', cmd=['/nonexistent/{VALUE}'])\nlocal_resource('echo'",
    )
    eng = make(tmp_path, text, selected=["bad"])

    async def body(eng: Engine) -> None:
        deadline = time.monotonic() + 20
        while not eng.state.resources["bad"].last_error:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)

    interactive(eng, body)
    error = eng.state.resources["bad"].last_error
    assert "/nonexistent/[redacted secret db:password]" in error
    (bad,) = [r for r in eng.snapshot()["resources"] if r["name"] == "bad"]
    assert VALUE not in str(bad["update"])
