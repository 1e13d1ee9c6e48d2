"""custom_build against the real Docker engine: the command, its env, and what it made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.docker.conftest import (
    IMAGE_PREFIX,
    busybox_dockerfile,
    copy_busybox,
    load,
    registry_tags,
    run,
)
from tilt.docker.build import BuildError, BuildResult, ImageBuilder
from tilt.model import TiltfileResult

REF = f"{IMAGE_PREFIX}/custom"


@pytest.fixture
def base(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> str:
    """A busybox image for the commands to `docker tag` as their result."""
    d = tmp_path_factory.mktemp("cbase")
    copy_busybox(d)
    (d / "Dockerfile").write_text(busybox_dockerfile("COPY Dockerfile /marker"))
    tag = f"{IMAGE_PREFIX}/cbase:1"
    docker_client.images.build(path=str(d), tag=tag, rm=True, forcerm=True)
    return tag


def build(result: TiltfileResult, ref: str = REF) -> tuple[BuildResult, list[str]]:
    lines: list[str] = []
    builder = ImageBuilder(settings=result.settings)
    return run(builder.build(result.image(ref), on_output=lines.append)), lines


def env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_command_gets_expected_ref_and_result_is_tagged_by_image_id(
    tmp_path: Path, docker_client: Any, fresh_client: None, base: str
) -> None:
    result = load(
        tmp_path,
        f"custom_build('{REF}', 'docker tag {base} $EXPECTED_REF && env > env.txt "
        "&& echo made it', ['src'], dir='work', env={'FOO': 'bar'})",
        {"src/a.txt": "a\n", "work/.keep": ""},
    )
    built, lines = build(result)
    env = env_file(tmp_path / "work" / "env.txt")
    assert env["EXPECTED_REF"].startswith(f"{REF}:tilt-build-")
    assert env["EXPECTED_IMAGE"] == REF
    assert env["EXPECTED_TAG"] == env["EXPECTED_REF"].rsplit(":", 1)[1]
    assert env["EXPECTED_REGISTRY"] == ""
    assert env["FOO"] == "bar"
    base_id = docker_client.images.get(base).id
    assert built.image_id == base_id
    assert built.ref == f"{REF}:tilt-{base_id.split(':')[1][:16]}"
    assert docker_client.images.get(built.ref).id == base_id
    assert "made it" in lines
    assert any("EXPECTED_REF=" in line for line in lines)


def test_tag_fixes_the_expected_ref(
    tmp_path: Path, docker_client: Any, fresh_client: None, base: str
) -> None:
    result = load(
        tmp_path,
        f"custom_build('{REF}', 'docker tag {base} $EXPECTED_REF && echo $EXPECTED_REF > seen',"
        " ['src'], tag='v1')",
        {"src/a.txt": "a\n"},
    )
    built, _ = build(result)
    assert (tmp_path / "seen").read_text().strip() == f"{REF}:v1"
    assert built.ref.startswith(f"{REF}:tilt-")


def test_outputs_image_ref_to_names_the_result(
    tmp_path: Path, docker_client: Any, fresh_client: None, base: str
) -> None:
    made = f"{REF}:from-file"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "ref.txt").write_text("stale:ref\n")
    result = load(
        tmp_path,
        f"custom_build('{REF}', 'test ! -e out/ref.txt && docker tag {base} {made} "
        f"&& echo {made} > out/ref.txt', ['src'], outputs_image_ref_to='out/ref.txt')",
        {"src/a.txt": "a\n"},
    )
    built, _ = build(result)
    assert built.ref == made
    assert built.image_id == docker_client.images.get(base).id


def test_skips_local_docker_needs_no_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_client: None
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/dead.sock")
    result = load(
        tmp_path,
        f"custom_build('{REF}', 'echo pushed $EXPECTED_REF elsewhere', ['src'],"
        " skips_local_docker=True)",
        {"src/a.txt": "a\n"},
    )
    built, lines = build(result)
    assert built.ref.startswith(f"{REF}:tilt-build-")
    assert built.image_id == ""
    assert f"pushed {built.ref} elsewhere" in lines


def test_failing_command_shows_its_output(tmp_path: Path, fresh_client: None) -> None:
    result = load(
        tmp_path,
        f"custom_build('{REF}', 'echo step one; echo broken >&2; exit 3', ['src'])",
        {"src/a.txt": "a\n"},
    )
    with pytest.raises(BuildError) as info:
        build(result)
    assert info.value.message == "Custom build command failed: exit code 3"
    assert info.value.output[-2:] == ("step one", "broken")


def test_missing_image_gets_tilts_hint(
    tmp_path: Path, docker_client: Any, fresh_client: None
) -> None:
    missing = f"{REF}-missing"
    result = load(tmp_path, f"custom_build('{missing}', 'true', ['src'])", {"src/a.txt": "a\n"})
    with pytest.raises(BuildError) as info:
        build(result, missing)
    assert "Did your custom_build script properly tag the image?" in info.value.message
    assert "skips_local_docker=True" in info.value.message


def test_push_and_disable_push_and_image_deps(
    tmp_path: Path, docker_client: Any, fresh_client: None, base: str, registry: str
) -> None:
    dep = f"{IMAGE_PREFIX}/cdep"
    copy_busybox(tmp_path / "dep")
    result = load(
        tmp_path,
        f"default_registry('{registry}')\n"
        f"docker_build('{dep}', 'dep')\n"
        f"custom_build('{REF}', 'docker tag {base} $EXPECTED_REF && env > env.txt', ['src'],"
        f" image_deps=['{dep}'])\n"
        f"custom_build('{REF}-np', 'docker tag {base} $EXPECTED_REF', ['src'],"
        " disable_push=True)\n",
        {"dep/Dockerfile": busybox_dockerfile(), "src/a.txt": "a\n"},
    )
    builder = ImageBuilder(settings=result.settings)
    dep_built = run(builder.build(result.image(dep), on_output=lambda _: None))
    built = run(
        builder.build(result.image(REF), on_output=lambda _: None, base_refs={dep: dep_built.ref})
    )
    env = env_file(tmp_path / "env.txt")
    escaped = REF.replace("/", "_")
    assert env["EXPECTED_REGISTRY"] == registry
    assert env["EXPECTED_IMAGE"] == escaped
    assert env["EXPECTED_REF"].startswith(f"{registry}/{escaped}:tilt-build-")
    assert env["TILT_IMAGE_MAP_0"] == dep
    assert env["TILT_IMAGE_0"] == dep_built.ref
    tag = built.ref.rsplit(":", 1)[1]
    assert built.pushed_ref == f"{registry}/{escaped}:{tag}"
    assert tag in registry_tags(registry, escaped)

    not_pushed = run(builder.build(result.image(f"{REF}-np"), on_output=lambda _: None))
    assert not_pushed.pushed_ref == ""


def test_cancelling_the_task_stops_the_command_and_its_output(tmp_path: Path) -> None:
    # Task cancellation, as an update's cancel does it: the command's group is
    # stopped and none of its lines reach the log once the cancel has returned.
    import asyncio

    result = load(
        tmp_path,
        f"custom_build('{REF}', 'echo started; while true; do echo tick; sleep 0.02; done',"
        " ['src'])",
        {"src/a.txt": "a\n"},
    )
    lines: list[str] = []

    async def go() -> int:
        builder = ImageBuilder(settings=result.settings)
        task = asyncio.create_task(builder.build(result.image(REF), on_output=lines.append))
        while "tick" not in lines:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        seen = len(lines)
        await asyncio.sleep(0.3)  # a running loop would print ~15 more ticks meanwhile
        return seen

    seen = run(go())
    assert lines[seen:] == []
    assert "started" in lines
