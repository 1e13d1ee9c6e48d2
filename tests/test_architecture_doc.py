"""The runtime example in docs/architecture.md runs: a new runner plugged into a real engine."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from tilt.engine import Engine
from tilt.logstore import LogStore

DOC = Path(__file__).parent.parent / "docs" / "architecture.md"


def example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (block,) = [b for b in blocks if "class ApplyRunner" in b]
    return str(block)


def test_the_runtime_example_deploys_through_the_contract(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(example(), str(DOC), "exec"), namespace)
    (tmp_path / "Tiltfile").write_text(
        'k8s_custom_deploy("web", apply_cmd="echo applied > applied.txt", '
        'delete_cmd="true", deps=[])\n'
    )
    eng = Engine(
        str(tmp_path / "Tiltfile"),
        logs=LogStore(),
        watch=False,
        ci=True,
        ci_timeout_s=30,
        runners=namespace["runners"],
    )
    code = asyncio.run(eng.run())
    assert code == 0, eng.ci_outcome
    assert (tmp_path / "applied.txt").read_text() == "applied\n"
    (res,) = eng.snapshot()["resources"]
    assert res["runtime"]["message"] == "applied"
    assert "Initial Build" in [ln.text for ln in eng.logs.lines("web")]
