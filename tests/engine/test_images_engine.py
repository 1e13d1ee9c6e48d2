"""Image builds driven by the engine: change mapping, base-image chains, custom_build.

Four images in one repository - three docker_builds whose contexts are the
repository root narrowed with ``only=``, all built FROM a base image, and a
custom_build - each run by a Compose service. A change must rebuild exactly
the images whose matcher accepts it, then the images built FROM them, then
redeploy the services that run them; a change no image matches rebuilds
nothing. Real Docker engine, real watcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.test_compose_engine import Proj, drive, new_proj, res, until
from tilt.engine import Engine
from tilt.logstore import LogStore

# Every service idles; SIGKILL so a recreate does not wait for a grace period.
SERVICE = """\
  {name}:
    image: {image}
    stop_signal: SIGKILL
"""


@pytest.fixture
def repo(tmp_path: Path, docker_client: Any) -> Iterator[Proj]:
    with new_proj(tmp_path, docker_client) as p:
        yield p


def built(eng: Engine, since: int = 0) -> list[str]:
    assert eng.images is not None
    return [b.image_ref for b in eng.images.history[since:] if not b.skipped]


def cids(eng: Engine) -> dict[str, str]:
    return {n: res(eng, n)["runtime"]["container_id"] for n in "abcd"}


def counts(eng: Engine) -> dict[str, int]:
    return {n: res(eng, n)["update"]["count"] for n in "abcd"}


def test_change_mapping_base_chain_and_custom_build(repo: Proj) -> None:
    proj = repo
    base = f"{proj.image}-base"
    img = {n: f"{proj.image}-{n}" for n in "abcd"}
    proj.busybox("base", "svc/d")
    files: dict[str, str] = {
        "base/Dockerfile": (
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        ),
        "svc/d/Dockerfile": (
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY app /app\n"
            'ENTRYPOINT ["/bin/busybox", "sleep", "3600"]\n'
        ),
        "svc/d/app/x.txt": "d1\n",
        "README.md": "the repository\n",
        "compose.yaml": "services:\n"
        + "".join(SERVICE.format(name=n, image=img[n]) for n in "abcd"),
    }
    for n in "abc":
        files[f"svc/{n}/Dockerfile"] = (
            f'FROM {base}\nCOPY svc/{n}/app /app\nENTRYPOINT ["sleep", "3600"]\n'
        )
        files[f"svc/{n}/app/x.txt"] = f"{n}1\n"
    files["Tiltfile"] = f"""
docker_build('{base}', 'base')
for n in ['a', 'b', 'c']:
    docker_build('{proj.image}-' + n, '.', dockerfile='svc/%s/Dockerfile' % n,
                 only=['svc/' + n])
custom_build('{img["d"]}', 'docker build -q -t $EXPECTED_REF svc/d', deps=['svc/d'])
docker_compose('compose.yaml', project_name='{proj.name}')
"""
    proj.write(files)
    eng = Engine(str(proj.root / "Tiltfile"), logs=LogStore(), watch=True, quiet_period_s=0.05)

    async def settled(expect: dict[str, int]) -> None:
        await until(lambda: counts(eng) == expect, f"update counts {expect}", 60)
        await until(
            lambda: (
                all(res(eng, n)["runtime"]["status"] == "ok" for n in "abcd")
                and not any(res(eng, n)["update"]["status"] == "in_progress" for n in "abcd")
            ),
            "all running",
            60,
        )

    async def body(eng: Engine) -> None:
        await settled({"a": 1, "b": 1, "c": 1, "d": 1})
        first = built(eng)
        # The base is built once, before the three built FROM it; custom_build ran.
        assert sorted(first) == sorted([base, img["a"], img["b"], img["c"], img["d"]])
        assert all(first.index(base) < first.index(img[n]) for n in "abc")
        # Which image runs as which ref reached the engine state as events.
        facts = eng.state.built_images
        assert sorted(facts) == sorted([base, *img.values()])
        assert all(f.local_ref.startswith(ref + ":tilt-") for ref, f in facts.items())
        assert all(f.cluster_ref == f.deploy_ref == f.local_ref for f in facts.values())
        before, mark = cids(eng), len(eng.images.history if eng.images else [])

        # One service's file: exactly its image, exactly its container.
        (proj.root / "svc/b/app/x.txt").write_text("b2\n")
        await settled({"a": 1, "b": 2, "c": 1, "d": 1})
        assert built(eng, mark) == [img["b"]]
        after = cids(eng)
        assert after["b"] != before["b"]
        assert {n: after[n] for n in "acd"} == {n: before[n] for n in "acd"}

        # Outside every image's matcher (only= leaves README.md out): nothing.
        mark = len(eng.images.history if eng.images else [])
        (proj.root / "README.md").write_text("edited\n")
        await asyncio.sleep(0.8)
        assert counts(eng) == {"a": 1, "b": 2, "c": 1, "d": 1}
        assert built(eng, mark) == []

        # The base image's context: the base, then every image FROM it, redeployed.
        (proj.root / "base/extra.txt").write_text("new file in the base context\n")
        await settled({"a": 2, "b": 3, "c": 2, "d": 1})
        rebuilt = built(eng, mark)
        assert sorted(rebuilt) == sorted([base, img["a"], img["b"], img["c"]])
        assert rebuilt.count(base) == 1  # shared by three resources, built once

        # custom_build: its deps, its resource only.
        mark = len(eng.images.history if eng.images else [])
        (proj.root / "svc/d/app/x.txt").write_text("d2\n")
        await settled({"a": 2, "b": 3, "c": 2, "d": 2})
        assert built(eng, mark) == [img["d"]]
        assert "Custom Build: Injecting Environment Variables" in "\n".join(
            ln.text for ln in eng.logs.lines("d")
        )

    drive(eng, body, timeout_s=150)


def test_cancel_aborts_a_running_build_and_nothing_is_tagged(repo: Proj) -> None:
    # Cancelling the update during `RUN sleep 6`: the engine's build stream is shut,
    # so the engine stops the build; no tag appears, not even once the sleep would
    # have ended, and no build line reaches the log after "Update cancelled".
    proj = repo
    proj.busybox("slow")
    marker = f"sleeping-{proj.name}"
    proj.write(
        {
            "slow/Dockerfile": (
                "FROM scratch\nCOPY busybox /bin/busybox\n"
                f'RUN ["/bin/busybox", "sh", "-c", "echo {marker}; /bin/busybox sleep 6"]\n'
                'ENTRYPOINT ["/bin/busybox", "sleep", "3600"]\n'
            ),
            "compose.yaml": "services:\n" + SERVICE.format(name="slow", image=proj.image),
            "Tiltfile": (
                f"docker_build('{proj.image}', 'slow')\n"
                f"docker_compose('compose.yaml', project_name='{proj.name}')\n"
            ),
        }
    )
    eng = Engine(str(proj.root / "Tiltfile"), logs=LogStore(), watch=False)

    def build_lines() -> list[str]:
        return [ln.text for ln in eng.logs.lines("slow") if ln.span == "build"]

    def tags() -> list[str]:
        return [
            t
            for img in proj.client.api.images()
            for t in img.get("RepoTags") or ()
            if t.startswith(proj.image + ":")
        ]

    async def body(eng: Engine) -> None:
        await until(lambda: marker in build_lines(), "the RUN step to start", 60)
        assert eng.cancel("slow") == "cancelling the running update"
        await until(lambda: res(eng, "slow")["update"]["status"] == "cancelled", "cancelled", 30)
        # Longer than the RUN step: an engine still building would have tagged by now.
        await asyncio.sleep(8)
        assert tags() == []
        lines = build_lines()
        assert "Update cancelled" in lines
        assert lines[-1] == "Update cancelled", lines[lines.index("Update cancelled") :]

    drive(eng, body, timeout_s=120)
