"""Image builds in a monorepo of three services and a 50,000-file node_modules (ignored).

Figures:

- per image: the build context actually sent (files, bytes), and the time from
  a file save to the build being ready to start, as far as the image layer
  controls it: which images the change touches (`tilt.image_graph.touched_by`, cached
  matchers), the context walk + tar (`build_context`) and the content tag.
  For scale, the time a plain walk of the whole repo takes (what a builder
  that does not prune ignored folders pays on every build);
- three independent image builds against the real Docker engine with
  ``max_parallel`` 3 versus 1 (wall time ratio). Each build runs a 1 s step,
  and every round changes a file in each service so nothing is cached or
  skipped by content tag.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

N_SERVICES = 3
N_NODE_MODULES = 50_000
N_SOURCE_FILES = 200
RUNS = 15
PREFIX = f"tilt-bench-img-{uuid.uuid4().hex[:6]}"


def generate(root: Path) -> Path:
    nm = root / "node_modules"
    per_dir = 100
    for d in range(N_NODE_MODULES // per_dir):
        pkg = nm / f"pkg{d}" / "lib"
        pkg.mkdir(parents=True)
        for f in range(per_dir):
            (pkg / f"f{f}.js").write_text("module.exports = 1;\n")
    (root / "shared").mkdir()
    (root / "shared" / "util.txt").write_text("shared\n" * 100)
    lines = []
    for i in range(N_SERVICES):
        svc = root / "services" / f"svc{i}"
        (svc / "src").mkdir(parents=True)
        for f in range(N_SOURCE_FILES):
            (svc / "src" / f"m{f}.txt").write_text(f"service {i} module {f}\n" * 40)
        shutil.copy("/bin/busybox", svc / "busybox")
        (svc / "Dockerfile").write_text(
            "FROM scratch\n"
            f"COPY services/svc{i}/busybox /bin/busybox\n"
            f"COPY services/svc{i}/src /app/src\n"
            "COPY shared /app/shared\n"
            'RUN ["/bin/busybox", "sleep", "1"]\n'
        )
        others = [f"services/svc{j}" for j in range(N_SERVICES) if j != i]
        lines.append(
            f"docker_build('{PREFIX}/svc{i}', '.', dockerfile='services/svc{i}/Dockerfile', "
            f"ignore={others!r})"
        )
    (root / ".dockerignore").write_text("node_modules\n")
    tf = root / "Tiltfile"
    tf.write_text("\n".join(lines) + "\n")
    return tf


def _walk_all(root: Path) -> int:
    n = 0
    for _, _, files in os.walk(root):
        n += len(files)
    return n


def _context_figures(tf: Path) -> None:
    from tilt.docker.context import build_context
    from tilt.docker.tags import content_tag
    from tilt.image_graph import touched_by as affected_images
    from tilt.tiltfile import load_tiltfile
    from tilt.watch.matcher import TargetMatcher

    result = load_tiltfile(str(tf))
    images = list(result.images)
    matchers = {i.ref: TargetMatcher.from_spec(i.watch) for i in images}
    root = tf.parent
    t0 = time.perf_counter()
    total = _walk_all(root)
    plain_walk = time.perf_counter() - t0
    print(
        f"repo: {total} files ({N_NODE_MODULES} in node_modules); a plain os.walk of it "
        f"takes {plain_walk * 1000:.0f} ms"
    )
    from tilt.watch.matcher import BUILTIN_IGNORES

    first = images[0]
    unfiltered = TargetMatcher(paths=first.watch.paths, ignores=BUILTIN_IGNORES)
    t0 = time.perf_counter()
    with build_context(first, unfiltered) as ctx:
        print(
            f"  for scale, {first.ref.split('/')[-1]} without its ignores: {len(ctx.files)} "
            f"files, {ctx.size_bytes / 1024:.0f} KiB, {(time.perf_counter() - t0) * 1000:.0f} ms"
        )
    for image in images:
        service = image.ref.rsplit("/", 1)[-1]
        target = root / "services" / service / "src" / "m0.txt"
        times = []
        for n in range(RUNS):
            target.write_text(f"edit {n}\n")
            start = time.perf_counter()
            touched = affected_images(images, [str(target)], lambda i: matchers[i.ref])
            assert [i.ref for i in touched] == [image.ref], touched
            with build_context(image, matchers[image.ref]) as ctx:
                content_tag(image, ctx)
                size, files = ctx.size_bytes, len(ctx.files)
            times.append(time.perf_counter() - start)
        print(
            f"  {image.ref.split('/')[-1]}: context {files} files, {size / 1024:.0f} KiB sent; "
            f"save -> build start: median {statistics.median(times) * 1000:.1f} ms, "
            f"max {max(times) * 1000:.1f} ms ({RUNS} saves)"
        )


def _parallel_figures(tf: Path) -> None:
    from tilt.docker.build import BuildResult, ImageBuilder, build_all
    from tilt.docker.client import DockerUnavailableError, get_client
    from tilt.tiltfile import load_tiltfile

    try:
        client = get_client()
    except DockerUnavailableError as e:
        print(f"parallel builds: skipped ({e})")
        return
    result = load_tiltfile(str(tf))
    images = list(result.images)
    builder = ImageBuilder()

    async def round_(max_parallel: int) -> float:
        for i in range(N_SERVICES):
            (tf.parent / "services" / f"svc{i}" / "src" / "nonce.txt").write_text(uuid.uuid4().hex)
        start = time.perf_counter()
        results = await build_all(
            images,
            lambda img, refs: builder.build(img, on_output=lambda _: None, base_refs=refs),
            max_parallel=max_parallel,
        )
        wall = time.perf_counter() - start
        for ref, r in results.items():
            if not isinstance(r, BuildResult) or r.skipped:
                raise RuntimeError(f"{ref}: {r!r}")
        return wall

    try:
        asyncio.run(round_(3))  # warm-up: the COPY busybox layers
        serial = [asyncio.run(round_(1)) for _ in range(2)]
        parallel = [asyncio.run(round_(3)) for _ in range(2)]
        s, p = min(serial), min(parallel)
        print(
            f"3 independent builds (each with a 1 s step): max_parallel=1 {s:.2f} s, "
            f"max_parallel=3 {p:.2f} s, ratio {s / p:.2f}x"
        )
    finally:
        for img in client.api.images():
            for tag in img.get("RepoTags") or ():
                if tag.startswith(PREFIX):
                    client.api.remove_image(tag, force=True)


def run() -> None:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        tf = generate(Path(d))
        print(f"(generated the repo in {time.perf_counter() - t0:.1f} s)")
        _context_figures(tf)
        _parallel_figures(tf)


if __name__ == "__main__":
    run()
