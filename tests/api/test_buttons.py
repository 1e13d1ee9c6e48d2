"""Buttons over the real local API and the real CLI: a v1alpha1.ui_button's cmd runs with its
inputs in its environment, its output in the resource's log."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.conftest import run_tilt, write_tree
from tilt.api.client import ApiClient, ApiError
from tilt.api.server import ApiServer
from tilt.api.token import new_token, write_token
from tilt.engine import Engine
from tilt.logstore import LogStore

TILTFILE = """
local_resource('db', cmd='true')
v1alpha1.ui_button(
    name='seed', text='Seed', location={'component_type': 'resource', 'component_id': 'db'},
    inputs=[
        v1alpha1.ui_input_spec(name='ROWS', text=v1alpha1.ui_text_input_spec(default_val='10')),
        v1alpha1.ui_input_spec(name='RESET', bool=v1alpha1.ui_bool_input_spec(true_string='yes')),
        v1alpha1.ui_input_spec(name='TABLE',
                               choice=v1alpha1.ui_choice_input_spec(choices=['users', 'orders'])),
    ])
v1alpha1.cmd(name='seed',
             args=['sh', '-c', 'echo "seed $ROWS $TABLE reset=$RESET in $(pwd) $MODE"'],
             dir='scripts', env=['MODE=fast'],
             start_on=v1alpha1.start_on_spec(ui_buttons=['seed']))
v1alpha1.ui_button(name='off', text='Off', disabled=True,
                   location={'component_type': 'resource', 'component_id': 'db'})
v1alpha1.cmd(name='off', args=['true'], start_on={'ui_buttons': ['off']})
"""


def _lines(eng: Engine, name: str) -> list[str]:
    return [ln.text for ln in eng.logs.tail(name, 200)]


async def _until_line(eng: Engine, name: str, prefix: str, timeout_s: float = 15) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        for text in _lines(eng, name):
            if text.startswith(prefix):
                return text
        if time.monotonic() > deadline:
            raise AssertionError(f"no line starting {prefix!r}: {_lines(eng, name)}")
        await asyncio.sleep(0.02)


def _serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TILT_DEV_DIR", str(tmp_path / "dev"))
    write_tree(tmp_path, {"Tiltfile": TILTFILE, "scripts/.keep": ""})
    eng = Engine(str(tmp_path / "Tiltfile"), logs=LogStore(), watch=False)

    async def main() -> None:
        task = asyncio.create_task(eng.run())
        token = new_token()
        server = ApiServer(eng, token=token, port=0)
        port = await server.start()
        write_token(port, token)
        try:
            await eng.ready_event.wait()
            await body(eng, port)
        finally:
            await server.close()
            eng.shutdown()
            await asyncio.wait_for(task, 15)

    asyncio.run(main())


def test_button_runs_its_cmd_with_inputs_over_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(eng: Engine, port: int) -> None:
        assert [b.name for b in eng.buttons("db")] == ["seed", "off"]
        client = ApiClient(port)
        msg = await asyncio.to_thread(
            client.button, "db", "seed", {"ROWS": "3", "RESET": "true", "TABLE": "orders"}
        )
        assert msg == "db: running button Seed"
        line = await _until_line(eng, "db", "seed ")
        assert line == f"seed 3 orders reset=yes in {tmp_path / 'scripts'} fast"
        assert await _until_line(eng, "db", "Button seed: done")
        assert any(t.startswith("Button seed: running sh -c") for t in _lines(eng, "db"))
        # defaults
        await asyncio.to_thread(client.button, "db", "seed", {})
        await _until_line(eng, "db", "seed 10 users reset=false")

    _serve(tmp_path, monkeypatch, body)


@pytest.mark.parametrize(
    ("resource", "button", "inputs", "message"),
    [
        ("db", "nope", {}, "resource 'db' has no button 'nope' (buttons: seed, off)"),
        ("nope", "seed", {}, "no resource named 'nope'"),
        ("db", "off", {}, "button 'off' of 'db' is disabled"),
        ("db", "seed", {"TABLE": "carts"}, "input TABLE: 'carts' is not one of users, orders"),
    ],
)
def test_button_errors_over_the_api(  # noqa: PLR0917 -- parametrized
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    resource: str,
    button: str,
    inputs: dict[str, str],
    message: str,
) -> None:
    async def body(eng: Engine, port: int) -> None:
        client = ApiClient(port)
        with pytest.raises(ApiError) as info:
            await asyncio.to_thread(client.button, resource, button, inputs)
        assert message in str(info.value)

    _serve(tmp_path, monkeypatch, body)


def test_tilt_button_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(eng: Engine, port: int) -> None:
        env = {"TILT_DEV_DIR": str(tmp_path / "dev")}
        proc = await asyncio.to_thread(
            run_tilt, "button", "db", "seed", "ROWS=7", "--port", str(port), env=env
        )
        assert (proc.returncode, proc.stdout.strip()) == (0, "db: running button Seed")
        await _until_line(eng, "db", "seed 7 users")
        bad = await asyncio.to_thread(
            run_tilt, "button", "db", "seed", "ROWS", "--port", str(port), env=env
        )
        assert bad.returncode == 2
        assert "expected INPUT=VALUE, got 'ROWS'" in bad.stderr
        missing = await asyncio.to_thread(
            run_tilt, "button", "db", "nope", "--port", str(port), env=env
        )
        assert missing.returncode == 1
        assert missing.stderr.startswith("Error: resource 'db' has no button 'nope'")

    _serve(tmp_path, monkeypatch, body)
