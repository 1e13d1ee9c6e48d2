"""Helpers for loader tests: load a Tiltfile in-process and look at its JSON dump."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tree
from tilt.tiltfile import TiltfileLoadError, load_tiltfile
from tilt.tiltfile.dump import to_jsonable

FIXTURES = Path(__file__).parent / "fixtures"


def dump_of(path: Path | str, args: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON (as Python data) `tilt dump tiltfile` prints for the Tiltfile at ``path``."""
    result = load_tiltfile(str(path), args)
    data: dict[str, Any] = to_jsonable(result)
    return data


def resources_by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in data["resources"]}


@pytest.fixture
def tiltfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Write a Tiltfile (and other files) into a temp dir and load it: returns the dump.

    ``tiltfile(text, files={...}, args=(...))``; run from that folder, as users do.
    """
    monkeypatch.chdir(tmp_path)

    def load(
        text: str, files: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        write_tree(tmp_path, {"Tiltfile": text, **(files or {})})
        return dump_of(tmp_path / "Tiltfile", args)

    return load


@pytest.fixture
def tiltfile_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Like ``tiltfile`` but expects a load error: returns its rendered message."""
    monkeypatch.chdir(tmp_path)

    def load(text: str, files: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> str:
        write_tree(tmp_path, {"Tiltfile": text, **(files or {})})
        with pytest.raises(TiltfileLoadError) as info:
            load_tiltfile(str(tmp_path / "Tiltfile"), args)
        return info.value.render()

    return load


@pytest.fixture(autouse=True)
def _no_github(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loader tests never reach the network: GitHub URLs point at a folder that does not exist.

    ``load('ext://NAME')`` of an extension that is not vendored fetches Tilt's extension
    repository with git; git rewrites the URL (``url.<base>.insteadOf``) to this local path,
    so a test that forgets to vendor fails fast instead of going online. The data folder
    where fetched repositories are kept is a temp folder too.
    """
    data = tmp_path_factory.mktemp("xdg-data")
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.file://{data}/no-github/.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://github.com/")
