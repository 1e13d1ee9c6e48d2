"""image_push_cmd(): the Tiltfile side (beyond Tilt, its #2958)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tilt.model import Cmd
from tilt.registry.probe import TiltfileRegistry
from tilt.tiltfile import TiltfileLoadError, load_tiltfile


def load(tmp_path: Path, text: str) -> TiltfileRegistry:
    (tmp_path / "Tiltfile").write_text(text)
    return TiltfileRegistry.from_settings(load_tiltfile(str(tmp_path / "Tiltfile")).settings)


def test_string_runs_through_sh(tmp_path: Path) -> None:
    got = load(
        tmp_path,
        "default_registry('localhost:5000', host_from_cluster='reg:5000')\n"
        "image_push_cmd('minikube image load $EXPECTED_REF')\n",
    )
    assert got == TiltfileRegistry(
        host="localhost:5000",
        host_from_cluster="reg:5000",
        push_cmd="minikube image load $EXPECTED_REF",
        push_argv=("sh", "-c", "minikube image load $EXPECTED_REF"),
    )


def test_list_is_argv(tmp_path: Path) -> None:
    (tmp_path / "Tiltfile").write_text("image_push_cmd(['my-load', '--fast'])\n")
    settings = load_tiltfile(str(tmp_path / "Tiltfile")).settings
    assert settings.image_push_cmd == Cmd(argv=("my-load", "--fast"))


def test_absent_by_default(tmp_path: Path) -> None:
    assert load(tmp_path, "") == TiltfileRegistry()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("image_push_cmd('a')\nimage_push_cmd('b')\n", "image_push_cmd: already defined"),
        ("image_push_cmd('')\n", "image_push_cmd: cmd must not be empty"),
    ],
)
def test_errors_name_the_line(tmp_path: Path, text: str, error: str) -> None:
    (tmp_path / "Tiltfile").write_text(text)
    with pytest.raises(TiltfileLoadError) as info:
        load_tiltfile(str(tmp_path / "Tiltfile"))
    rendered = info.value.render()
    assert error in rendered
    assert "Tiltfile:" in rendered
    assert "Traceback" not in rendered
