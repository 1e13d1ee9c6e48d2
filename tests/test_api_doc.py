"""docs/api.md lists exactly the keys of the snapshot's TypedDicts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tilt.engine import snapshot

DOC = Path(__file__).parent.parent / "docs" / "api.md"


def documented() -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    current = ""
    for line in DOC.read_text().splitlines():
        heading = re.match(r"## (\w+)", line)
        if heading:
            current = heading.group(1)
            tables[current] = []
        row = re.match(r"\| `(\w+)` \|", line)
        if row and current:
            tables[current].append(row.group(1))
    return tables


@pytest.mark.parametrize("name", snapshot.__all__)
def test_documented_keys_are_the_typed_keys(name: str) -> None:
    td = getattr(snapshot, name)
    keys = sorted(td.__required_keys__ | td.__optional_keys__)
    assert sorted(documented()[name]) == keys


def test_the_engine_writes_exactly_the_typed_keys(tmp_path: Path) -> None:
    from tests.engine.helpers import local, result
    from tilt.engine.events import TiltfileReloaded
    from tilt.engine.state import EngineState

    st = EngineState(str(tmp_path / "Tiltfile"))
    st.apply(TiltfileReloaded(result=result(local("a", serve="x")), at=0.0))
    snap = st.snapshot()
    assert set(snap) == set(snapshot.EngineSnapshot.__required_keys__)
    (res,) = snap["resources"]
    assert set(res) == set(snapshot.ResourceSnapshot.__required_keys__)
    assert set(res["update"]) == set(snapshot.UpdateSnapshot.__required_keys__)
    assert set(res["runtime"]) == set(snapshot.RuntimeSnapshot.__required_keys__)
