"""docker_build against the real Docker engine: build, skip by content tag, chains, push.

Images are FROM scratch with the host's static busybox; every repository
starts with IMAGE_PREFIX and is removed at the end of the session.
"""

from __future__ import annotations

import asyncio
import time
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
from tilt.docker.build import (
    BuildCancelledError,
    BuildError,
    BuildKitRequiredError,
    BuildResult,
    DependencyFailedError,
    ImageBuilder,
    build_all,
    buildx_available,
)
from tilt.docker.client import DockerUnavailableError
from tilt.image_graph import build_levels as build_order
from tilt.image_graph import touched_by as affected_images
from tilt.model import ImageBuildKind, ImageTarget, SourceLocation
from tilt.watch.matcher import TargetMatcher

APP = f"{IMAGE_PREFIX}/app"


def build(builder: ImageBuilder, image: ImageTarget, **kw: Any) -> tuple[BuildResult, list[str]]:
    lines: list[str] = []
    result = run(builder.build(image, on_output=lines.append, **kw))
    return result, lines


def files_in_image(client: Any, ref: str, folder: str = "/app") -> set[str]:
    out = client.containers.run(
        ref, ["/bin/busybox", "find", folder, "-type", "f"], remove=True, network_disabled=True
    )
    return {line[len(folder) + 1 :] for line in out.decode().split()}


def test_build_sends_the_filtered_context_then_skips_by_content_tag(
    tmp_path: Path, docker_client: Any, fresh_client: None
) -> None:
    copy_busybox(tmp_path / "app")
    result = load(
        tmp_path,
        f"docker_build('{APP}', 'app', dockerfile='app.Dockerfile', ignore=['tmp'],"
        f" extra_tag='{APP}:dev')",
        {
            "app.Dockerfile": busybox_dockerfile("COPY . /app"),
            "app/.dockerignore": "*.log\n",
            "app/main.txt": "hello\n",
            "app/debug.log": "noise\n",
            "app/tmp/scratch.txt": "scratch\n",
            "app/.git/HEAD": "ref\n",
        },
    )
    image = result.image(APP)
    builder = ImageBuilder()
    first, lines = build(builder, image)
    assert not first.skipped
    assert first.ref.startswith(f"{APP}:tilt-")
    assert first.image_id.startswith("sha256:")
    assert any(line.startswith("Step 1/") for line in lines)
    assert first.context_files == len({"busybox", ".dockerignore", "main.txt"})
    assert docker_client.images.get(first.ref).id == first.image_id
    assert docker_client.images.get(f"{APP}:dev").id == first.image_id
    # In the image: the accepted files; the Dockerfile added from outside the
    # context and .dockerignore were dropped by the engine, as with the docker CLI.
    assert files_in_image(docker_client, first.ref) == {"busybox", "main.txt"}

    second, lines = build(builder, image)
    assert second.skipped
    assert second.ref == first.ref
    assert second.image_id == first.image_id
    assert any("already built" in line for line in lines)

    # An ignored change keeps the tag; a real one makes a new image.
    (tmp_path / "app" / "debug.log").write_text("more\n")
    assert build(builder, image)[0].skipped
    (tmp_path / "app" / "main.txt").write_text("hello again\n")
    third, _ = build(builder, image)
    assert not third.skipped
    assert third.ref != first.ref


def test_failing_step_is_reported_with_its_output(
    tmp_path: Path, docker_client: Any, fresh_client: None
) -> None:
    copy_busybox(tmp_path / "bad")
    result = load(
        tmp_path,
        f"docker_build('{IMAGE_PREFIX}/bad', 'bad')",
        {
            "bad/Dockerfile": busybox_dockerfile(
                "RUN echo compiling && echo 'main.c:3: syntax error' && exit 3"
            )
        },
    )
    lines: list[str] = []
    with pytest.raises(BuildError) as info:
        run(ImageBuilder().build(result.image(f"{IMAGE_PREFIX}/bad"), on_output=lines.append))
    err = info.value
    # 4 steps of the Dockerfile's, then the classic builder's one per label (BUILT_LABELS).
    assert err.step.startswith("Step 4/6 : RUN echo compiling")
    assert "main.c:3: syntax error" in err.output
    assert "returned a non-zero code: 3" in err.message
    assert "main.c:3: syntax error" in str(err)
    assert "main.c:3: syntax error" in lines  # streamed as it happened, too


def test_buildkit_only_dockerfile_gives_one_clear_error(
    tmp_path: Path, docker_client: Any, fresh_client: None
) -> None:
    if buildx_available():
        pytest.skip("docker buildx is installed here: the build would use it")
    copy_busybox(tmp_path / "bk")
    result = load(
        tmp_path,
        f"docker_build('{IMAGE_PREFIX}/bk', 'bk')",
        {"bk/Dockerfile": busybox_dockerfile("RUN --mount=type=cache,target=/c echo hi")},
    )
    with pytest.raises(BuildKitRequiredError) as info:
        run(ImageBuilder().build(result.image(f"{IMAGE_PREFIX}/bk"), on_output=print))
    message = str(info.value)
    assert "RUN --mount (line 4)" in message
    assert "`docker buildx` is not installed" in message


def test_base_image_chain_builds_in_order_and_propagates_changes(
    tmp_path: Path, docker_client: Any, fresh_client: None
) -> None:
    base, mid, app = (f"{IMAGE_PREFIX}/{n}" for n in ("base", "mid", "leaf"))
    copy_busybox(tmp_path / "base")
    result = load(
        tmp_path,
        f"docker_build('{app}', 'leaf')\n"
        f"docker_build('{mid}', 'mid')\n"
        f"docker_build('{base}', 'base')\n",
        {
            "base/Dockerfile": busybox_dockerfile("COPY version.txt /base-version"),
            "base/version.txt": "1\n",
            "mid/Dockerfile": f"FROM {base}\nCOPY mid.txt /mid.txt\n",
            "mid/mid.txt": "mid\n",
            "leaf/Dockerfile": f"FROM {mid}\nCOPY . /app\n",
            "leaf/leaf.txt": "leaf\n",
        },
    )
    images = list(result.images)
    assert [[i.ref for i in level] for level in build_order(images)] == [[base], [mid], [app]]
    builder = ImageBuilder()
    started: list[str] = []

    async def one(image: ImageTarget, refs: Any) -> BuildResult:
        started.append(image.ref)
        return await builder.build(image, on_output=lambda _: None, base_refs=refs)

    results = run(build_all(images, one, max_parallel=3))
    assert started == [base, mid, app]
    built = {ref: r for ref, r in results.items() if isinstance(r, BuildResult)}
    assert set(built) == {base, mid, app}
    out = docker_client.containers.run(
        built[app].ref, ["/bin/busybox", "cat", "/base-version", "/mid.txt"], remove=True
    )
    assert out.decode().split() == ["1", "mid"]

    # A change in the base rebuilds the chain above it, with new tags all the way.
    (tmp_path / "base" / "version.txt").write_text("2\n")
    matchers = {i.ref: TargetMatcher.from_spec(i.watch) for i in images}
    changed = affected_images(
        images, [str(tmp_path / "base" / "version.txt")], lambda i: matchers[i.ref]
    )
    assert [i.ref for i in changed] == [base, mid, app]
    again = run(build_all(changed, one, max_parallel=3))
    for ref in (base, mid, app):
        new = again[ref]
        assert isinstance(new, BuildResult)
        assert not new.skipped
        assert new.ref != built[ref].ref
    final = again[app]
    assert isinstance(final, BuildResult)
    out = docker_client.containers.run(
        final.ref, ["/bin/busybox", "cat", "/base-version"], remove=True
    )
    assert out.decode().strip() == "2"
    # A leaf-only change rebuilds only the leaf; a change nobody watches, nothing.
    leaf_file = str(tmp_path / "leaf" / "leaf.txt")
    assert [i.ref for i in affected_images(images, [leaf_file], lambda i: matchers[i.ref])] == [app]
    outside = str(tmp_path / "README")
    assert affected_images(images, [outside], lambda i: matchers[i.ref]) == []


def test_failed_base_fails_dependents_without_building_them(
    tmp_path: Path, docker_client: Any, fresh_client: None
) -> None:
    base, app = f"{IMAGE_PREFIX}/fbase", f"{IMAGE_PREFIX}/fapp"
    copy_busybox(tmp_path / "base")
    result = load(
        tmp_path,
        f"docker_build('{base}', 'base')\ndocker_build('{app}', 'app')\n",
        {
            "base/Dockerfile": busybox_dockerfile("RUN exit 1"),
            "app/Dockerfile": f"FROM {base}\n",
        },
    )
    builder = ImageBuilder()
    started: list[str] = []

    async def one(image: ImageTarget, refs: Any) -> BuildResult:
        started.append(image.ref)
        return await builder.build(image, on_output=lambda _: None, base_refs=refs)

    results = run(build_all(list(result.images), one, max_parallel=2))
    assert started == [base]
    assert isinstance(results[base], BuildError)
    assert isinstance(results[app], DependencyFailedError)


def _target(ref: str, *deps: str) -> ImageTarget:
    return ImageTarget(
        ref=ref,
        kind=ImageBuildKind.DOCKER,
        context="/nonexistent",
        location=SourceLocation(file="Tiltfile", line=1),
        image_deps=deps,
    )


@pytest.mark.parametrize("max_parallel", [1, 2, 3])
def test_build_all_starts_each_image_when_its_bases_are_done(max_parallel: int) -> None:
    # a <- b, a <- c, independent d, e: the schedule, not Docker, is under test here.
    images = [_target("b", "a"), _target("a"), _target("c", "a"), _target("d"), _target("e")]
    running: set[str] = set()
    peak = [0]
    events: list[str] = []

    async def fake_build(image: ImageTarget, refs: Any) -> BuildResult:
        for dep in image.image_deps:
            assert f"done {dep}" in events
            assert refs[dep] == f"{dep}:tilt-built"
        running.add(image.ref)
        peak[0] = max(peak[0], len(running))
        events.append(f"start {image.ref}")
        await asyncio.sleep(0.02)
        running.discard(image.ref)
        events.append(f"done {image.ref}")
        return BuildResult(image_ref=image.ref, ref=f"{image.ref}:tilt-built")

    results = run(build_all(images, fake_build, max_parallel=max_parallel))
    assert sorted(results) == ["a", "b", "c", "d", "e"]
    assert all(isinstance(r, BuildResult) for r in results.values())
    assert peak[0] == max_parallel


def test_build_all_uses_refs_built_earlier_for_bases_not_rebuilt() -> None:
    seen: dict[str, Any] = {}

    async def fake_build(image: ImageTarget, refs: Any) -> BuildResult:
        seen[image.ref] = dict(refs)
        return BuildResult(image_ref=image.ref, ref=image.ref + ":new")

    run(
        build_all(
            [_target("app", "base")], fake_build, max_parallel=2, built_refs={"base": "base:old"}
        )
    )
    assert seen == {"app": {"base": "base:old"}}


def test_cancel_stops_a_running_build(
    tmp_path: Path, docker_client: Any, fresh_client: None
) -> None:
    copy_busybox(tmp_path / "slow")
    result = load(
        tmp_path,
        f"docker_build('{IMAGE_PREFIX}/slow', 'slow')",
        {"slow/Dockerfile": busybox_dockerfile("RUN echo sleeping && sleep 30")},
    )
    image = result.image(f"{IMAGE_PREFIX}/slow")

    async def go() -> float:
        cancel = asyncio.Event()

        def on_output(line: str) -> None:
            if line == "sleeping":
                cancel.set()

        start = time.monotonic()
        with pytest.raises(BuildCancelledError):
            await ImageBuilder().build(image, on_output=on_output, cancel=cancel)
        return time.monotonic() - start

    assert run(go()) < 20


def test_engine_unavailable_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_client: None
) -> None:
    result = load(
        tmp_path,
        f"docker_build('{APP}', 'app')",
        {"app/Dockerfile": "FROM scratch\n", "app/a.txt": "a\n"},
    )
    dead = tmp_path / "dead.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{dead}")
    with pytest.raises(DockerUnavailableError) as info:
        run(ImageBuilder().build(result.image(APP), on_output=lambda _: None))
    message = str(info.value)
    assert message.count("\n") == 0
    assert f"Docker engine not reachable at unix://{dead}" in message
    assert "retried on the next file change or trigger" in message


def test_push_to_default_registry(
    tmp_path: Path, docker_client: Any, fresh_client: None, registry: str
) -> None:
    copy_busybox(tmp_path / "app")
    result = load(
        tmp_path,
        f"default_registry('{registry}')\ndocker_build('{APP}', 'app')",
        {"app/Dockerfile": busybox_dockerfile("COPY . /app"), "app/x.txt": "x\n"},
    )
    built, lines = build(ImageBuilder(settings=result.settings), result.image(APP))
    repo = f"{APP.replace('/', '_')}"
    tag = built.ref.rsplit(":", 1)[1]
    assert built.pushed_ref == f"{registry}/{repo}:{tag}"
    assert built.deploy_ref == built.pushed_ref
    assert registry_tags(registry, repo) == [tag]
    assert any(line.startswith("Pushing ") for line in lines)


def test_host_from_cluster_names_what_the_cluster_pulls(
    tmp_path: Path, docker_client: Any, fresh_client: None, registry: str
) -> None:
    # default_registry(host, host_from_cluster=): pushed to host, pulled by the cluster
    # under the other name (Tilt's RegistryHosting.hostFromContainerRuntime).
    copy_busybox(tmp_path / "app")
    result = load(
        tmp_path,
        f"default_registry('{registry}', host_from_cluster='registry.cluster:5000')\n"
        f"docker_build('{APP}', 'app')",
        {"app/Dockerfile": busybox_dockerfile("COPY . /app"), "app/y.txt": "y\n"},
    )
    built, _ = build(ImageBuilder(settings=result.settings), result.image(APP))
    repo = APP.replace("/", "_")
    tag = built.ref.rsplit(":", 1)[1]
    assert built.ref == f"{APP}:{tag}"
    assert built.pushed_ref == f"{registry}/{repo}:{tag}"
    assert built.cluster_ref == f"registry.cluster:5000/{repo}:{tag}"
    assert built.pull_ref == built.cluster_ref
    assert registry_tags(registry, repo) == [tag]


def test_no_registry_keeps_the_image_local(
    tmp_path: Path, docker_client: Any, fresh_client: None
) -> None:
    copy_busybox(tmp_path / "app")
    result = load(
        tmp_path,
        f"docker_build('{APP}', 'app')",
        {"app/Dockerfile": busybox_dockerfile("COPY . /app"), "app/z.txt": "z\n"},
    )
    built, lines = build(ImageBuilder(settings=result.settings), result.image(APP))
    assert built.pushed_ref == ""
    assert built.cluster_ref == built.ref == built.pull_ref == built.deploy_ref
    assert not any(line.startswith("Pushing ") for line in lines)
