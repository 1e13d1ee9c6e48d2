"""docs/tiltfile-api.md is generated from the builtins; it must match the code."""

from __future__ import annotations

from pathlib import Path

from tilt.tiltfile._context import BUILTINS
from tilt.tiltfile.apidoc import render

DOC = Path(__file__).parents[2] / "docs" / "tiltfile-api.md"


def test_api_doc_matches_code() -> None:
    assert DOC.read_text() == render(), (
        "docs/tiltfile-api.md is stale: run `uv run python -m tilt.tiltfile.apidoc "
        "> docs/tiltfile-api.md`"
    )


def test_every_builtin_has_a_docstring_with_args() -> None:
    render()
    missing = [name for name, b in BUILTINS.items() if not (b.doc or "").strip()]
    assert not missing, f"builtins without a docstring: {missing}"
