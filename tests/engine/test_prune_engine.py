"""docker_prune_settings end to end: a real engine, Docker and Compose.

The project's repository already holds an old image tilt built (labelled, created
in 2020) and an old one it did not (no label). After the first build `tilt up`
prunes: the labelled one goes, the one just built and deployed stays, the
unlabelled one stays. Disabled, or under `tilt ci`, nothing is pruned.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker.test_prune import LABELS, OLD, load_image
from tests.engine.test_compose_engine import Proj, drive, log_text, new_proj, res, until
from tilt.engine import Engine
from tilt.engine.state import TILTFILE_NAME
from tilt.logstore import LogStore

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
ENTRYPOINT ["/bin/busybox", "sleep", "3600"]
"""


@pytest.fixture
def proj(tmp_path: Path, docker_client: Any) -> Iterator[Proj]:
    with new_proj(tmp_path, docker_client) as p:
        yield p


def setup(proj: Proj, prune_call: str) -> tuple[str, str]:
    """Write the project; load the old images. Returns (labelled id, unlabelled id)."""
    proj.busybox("app")
    proj.write(
        {
            "Tiltfile": f"""
{prune_call}
docker_build('{proj.image}', 'app')
docker_compose('compose.yaml', project_name='{proj.name}')
""",
            "app/Dockerfile": DOCKERFILE,
            "compose.yaml": (
                f"services:\n  app:\n    image: {proj.image}\n    stop_signal: SIGKILL\n"
            ),
        }
    )
    old = load_image(proj.client, f"{proj.image}:old", created=OLD, labels=LABELS)
    mine = load_image(proj.client, f"{proj.image}:mine", created=OLD, labels={})
    return old, mine


def exists(client: Any, ref: str) -> bool:
    try:
        client.api.inspect_image(ref)
    except Exception:  # ImageNotFound
        return False
    return True


def deployed_ref(eng: Engine, image: str) -> str:
    return eng.state.built_images[image].local_ref


def test_tilt_up_prunes_old_images_it_built_after_the_first_build(proj: Proj) -> None:
    old, mine = setup(proj, "docker_prune_settings(max_age_mins=1, keep_recent=0)")
    eng = Engine(str(proj.root / "Tiltfile"), logs=LogStore(), watch=False)

    async def body(eng: Engine) -> None:
        await until(lambda: res(eng, "app")["runtime"]["status"] == "ok", "app up", 60)
        assert eng.pruner is not None
        await until(lambda: eng.pruner is not None and eng.pruner.passes >= 1, "a pass", 60)
        text = log_text(eng, TILTFILE_NAME)
        assert "[Docker Prune] removed 1 images, reclaimed " in text, text
        assert not exists(proj.client, old)
        assert exists(proj.client, mine)
        # The image just built and deployed is young, and in use: it stays.
        assert exists(proj.client, deployed_ref(eng, proj.image))

    drive(eng, body)


@pytest.mark.parametrize(
    ("prune_call", "ci"),
    [
        pytest.param(
            "docker_prune_settings(disable=True, max_age_mins=1, keep_recent=0)",
            False,
            id="disabled",
        ),
        pytest.param("docker_prune_settings(max_age_mins=1, keep_recent=0)", True, id="tilt_ci"),
    ],
)
def test_no_pruning_when_disabled_or_in_ci(proj: Proj, prune_call: str, ci: bool) -> None:
    old, mine = setup(proj, prune_call)
    eng = Engine(
        str(proj.root / "Tiltfile"),
        logs=LogStore(),
        watch=False,
        ci=ci,
        ci_timeout_s=60 if ci else None,
    )

    async def body(eng: Engine) -> None:
        await until(lambda: res(eng, "app")["runtime"]["status"] == "ok", "app up", 60)
        await until(lambda: res(eng, "app")["update"]["count"] >= 1, "update done", 60)
        # The pruner is polled in the same turn of the loop that ends the update.
        if ci:
            assert eng.pruner is None
        else:
            assert eng.pruner is not None
            assert eng.pruner.settings.disable
            assert eng.pruner.builds >= 1
            assert eng.pruner.passes == 0 and not eng.pruner.running

    drive(eng, body)
    assert "[Docker Prune]" not in log_text(eng, TILTFILE_NAME)
    assert exists(proj.client, old)
    assert exists(proj.client, mine)
