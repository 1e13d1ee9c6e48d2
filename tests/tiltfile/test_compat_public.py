"""Constructs found in public Tiltfiles that loaded differently here than in Tilt.

Each fixture is a minimal Tiltfile written for the test that reproduces the construct.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_listdir_of_a_missing_folder_or_a_file_is_empty(tiltfile: Any, tmp_path: Path) -> None:
    # A pattern from multi-provider projects: include every file of a git-ignored folder
    # of user overrides, which usually does not exist. Tilt's filepath.Walk skips the
    # root, error included, so the list is empty instead of failing the load.
    data = tiltfile(
        "for f in listdir('tilt.d'):\n    include(f)\n"
        "print(listdir('tilt.d'), listdir('plain.txt', recursive=True))\n",
        files={"plain.txt": "x"},
    )
    assert data["logs"] == ["[] []"]
    assert str(tmp_path / "tilt.d") in data["files_read"]
