"""Errors tilt recovers from are kept in the dev folder's debug.log."""

from __future__ import annotations

from pathlib import Path

import pytest

from tilt import debuglog


def test_swallowed_errors_go_to_the_dev_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILT_DEV_DIR", str(tmp_path / "dev"))
    try:
        raise ConnectionError("event stream broke")
    except ConnectionError as e:
        debuglog.log("compose: following the Docker events failed", exc=e)
    text = (tmp_path / "dev" / "debug.log").read_text()
    assert "compose: following the Docker events failed" in text
    assert "ConnectionError: event stream broke" in text  # with its traceback
