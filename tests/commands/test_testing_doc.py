"""docs/testing.md: its Tiltfiles load, and the example project runs green under `tilt ci`."""

from __future__ import annotations

import re
import shutil
import socket
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import run_tilt
from tilt.tiltfile import load_tiltfile

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "testing.md"
EXAMPLE = ROOT / "examples" / "testing"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def test_the_doc_shows_the_example_tiltfile() -> None:
    assert blocks("python")[0] == (EXAMPLE / "Tiltfile").read_text()


def test_every_tiltfile_of_the_doc_loads(tmp_path: Path) -> None:
    for i, text in enumerate(blocks("python")):
        folder = tmp_path / str(i)
        shutil.copytree(EXAMPLE, folder)
        (folder / "Tiltfile").write_text(text)
        result = load_tiltfile(str(folder / "Tiltfile"), ())
        assert all(r.test is not None for r in result.resources if r.name != "shop")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_example_runs_green_under_ci(tmp_path: Path) -> None:
    project = tmp_path / "testing"
    shutil.copytree(EXAMPLE, project)
    r = run_tilt(
        "ci",
        "--port",
        "0",
        "--output-junit",
        "junit.xml",
        cwd=project,
        env={
            "PYTHON": sys.executable,
            "EXAMPLE_SHOP_PORT": str(free_port()),
            "TILT_DEV_DIR": str(tmp_path / "dev"),
        },
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "  ✔ unit  7 passed in " in r.stdout
    assert "[shard 1/2]" in r.stdout and "[shard 2/2]" in r.stdout
    suites = {s.get("name"): s for s in ET.parse(project / "junit.xml").getroot()}
    assert suites["unit"].get("tests") == "7"
    # The durations of this run are kept for the next split.
    assert list((tmp_path / "dev" / "test-durations").glob("*-unit.json"))
