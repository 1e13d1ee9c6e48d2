"""Build contexts: exactly the files the image's matcher accepts, and content tags.

Each test loads a real Tiltfile with the real loader, so the ignore rules are
the ones docker_build records (.dockerignore, <Dockerfile>.dockerignore,
ignore=, only=, .git), and archives the context for real.
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
from pathlib import Path

import pytest

from tests.docker.conftest import load
from tilt.docker.context import EXTRA_DOCKERFILE_PREFIX, build_context, rewrite_base_refs
from tilt.docker.tags import content_tag

TREE = {
    "svc/Dockerfile": "FROM scratch\nCOPY . /app\n",
    "svc/.dockerignore": "*.log\n!keep.log\nbuild/\n",
    "svc/main.go": "package main\n",
    "svc/debug.log": "noise\n",
    "svc/keep.log": "kept\n",
    "svc/build/out.bin": "binary\n",
    "svc/node_modules/left-pad/index.js": "module.exports = 1\n",
    "svc/.git/HEAD": "ref: refs/heads/main\n",
    "svc/docs/readme.md": "# docs\n",
    "svc/main.go~": "editor backup\n",
}
BASE = {"Dockerfile", ".dockerignore", "main.go", "keep.log", "docs/readme.md"}


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: m for m in tf.getmembers()}


@pytest.mark.parametrize(
    ("name", "tiltfile", "extra_files", "expected"),
    [
        (
            ".dockerignore",
            "docker_build('img', 'svc')",
            {},
            BASE | {"node_modules/left-pad/index.js"},
        ),
        (
            "<Dockerfile>.dockerignore wins over .dockerignore",
            "docker_build('img', 'svc')",
            {"svc/Dockerfile.dockerignore": "docs\nnode_modules\n"},
            {
                "Dockerfile",
                "Dockerfile.dockerignore",
                ".dockerignore",
                "main.go",
                "debug.log",
                "keep.log",
                "build/out.bin",
            },
        ),
        (
            "ignore=",
            "docker_build('img', 'svc', ignore=['node_modules', '**/*.md'])",
            {},
            BASE - {"docs/readme.md"},
        ),
        (
            "only=",
            "docker_build('img', 'svc', only=['main.go', 'docs'])",
            {},
            {"main.go", "docs/readme.md"},
        ),
        (
            ".git is always out, even when .dockerignore re-includes it",
            "docker_build('img', 'svc', ignore=['node_modules'])",
            {"svc/.dockerignore": "*.log\n!.git\n"},
            {"Dockerfile", ".dockerignore", "main.go", "build/out.bin", "docs/readme.md"},
        ),
    ],
)
def test_context_holds_exactly_what_the_matcher_accepts(
    tmp_path: Path, name: str, tiltfile: str, extra_files: dict[str, str], expected: set[str]
) -> None:
    result = load(tmp_path, tiltfile, {**TREE, **extra_files})
    image = result.image("img")
    with build_context(image) as ctx:
        assert set(ctx.files) == expected, name
        data = ctx.read_all()
        assert ctx.size_bytes == len(data)
        names = members(data)
        sent_files = {n for n, m in names.items() if not m.isdir()}
        extra = {n for n in sent_files if n.startswith(EXTRA_DOCKERFILE_PREFIX)}
        if "Dockerfile" in expected:
            assert ctx.dockerfile_name == "Dockerfile"
            assert sent_files == expected
        else:
            # Not in the context as such: added under a generated name, with a
            # generated .dockerignore that makes the engine drop both.
            assert extra == {ctx.dockerfile_name}
            assert sent_files == expected | extra | {".dockerignore"}
            with tarfile.open(fileobj=io.BytesIO(data)) as tf:
                ignore_file = tf.extractfile(".dockerignore")
                assert ignore_file is not None
                assert ignore_file.read().decode().split() == [ctx.dockerfile_name, ".dockerignore"]
        # Parent directories travel along; ignored ones do not.
        dirs = {n.rstrip("/") for n, m in names.items() if m.isdir()}
        assert ".git" not in dirs
        assert all(os.path.dirname(f) in dirs | {""} for f in sent_files)


def test_dockerfile_outside_the_context_and_inline_contents(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        "docker_build('outside', 'svc', dockerfile='build/svc.Dockerfile')\n"
        "docker_build('inline', 'svc', dockerfile_contents='FROM scratch\\nCOPY main.go /\\n')\n",
        {**TREE, "build/svc.Dockerfile": "FROM scratch\nCOPY main.go /main.go\n"},
    )
    with build_context(result.image("outside")) as ctx:
        assert ctx.dockerfile_name.startswith(EXTRA_DOCKERFILE_PREFIX)
        assert ctx.dockerfile_text == "FROM scratch\nCOPY main.go /main.go\n"
        with tarfile.open(fileobj=io.BytesIO(ctx.read_all())) as tf:
            f = tf.extractfile(ctx.dockerfile_name)
            assert f is not None
            assert f.read() == b"FROM scratch\nCOPY main.go /main.go\n"
    with build_context(result.image("inline")) as ctx:
        assert ctx.dockerfile_text == "FROM scratch\nCOPY main.go /\n"
        assert ctx.dockerfile_name in members(ctx.read_all())


def test_ignored_directories_are_never_opened(tmp_path: Path) -> None:
    files = dict(TREE)
    for i in range(50):
        files[f"svc/node_modules/pkg{i}/lib/index.js"] = "x\n"
    result = load(tmp_path, "docker_build('img', 'svc', ignore=['node_modules'])", files)
    image = result.image("img")
    scanned: list[str] = []
    armed = [True]

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "os.scandir" and armed[0] and args:
            scanned.append(os.fsdecode(str(args[0])))

    # An audit hook sees every real os.scandir call; hooks cannot be removed, so disarm.
    sys.addaudithook(hook)
    try:
        with build_context(image) as ctx:
            assert "node_modules/pkg1/lib/index.js" not in ctx.files
    finally:
        armed[0] = False
    assert scanned, "the audit hook saw no scandir at all"
    assert not [p for p in scanned if "node_modules" in p]
    assert not [p for p in scanned if p.endswith("/.git")]


def test_symlinks_are_archived_as_links_and_empty_dirs_kept(tmp_path: Path) -> None:
    result = load(tmp_path, "docker_build('img', 'svc')", TREE)
    os.symlink("main.go", tmp_path / "svc" / "link.go")
    (tmp_path / "svc" / "empty").mkdir()
    with build_context(result.image("img")) as ctx:
        assert "link.go" in ctx.files
        names = members(ctx.read_all())
        assert names["link.go"].issym()
        assert names["link.go"].linkname == "main.go"
        assert names["empty/"].isdir() if "empty/" in names else names["empty"].isdir()


def tag_of(tmp_path: Path, tiltfile: str = "docker_build('img', 'svc')") -> str:
    result = load(tmp_path, tiltfile, {})
    with build_context(result.image("img")) as ctx:
        return content_tag(result.image("img"), ctx)


def test_content_tag_follows_the_filtered_content_only(tmp_path: Path) -> None:
    load(tmp_path, "docker_build('img', 'svc')", TREE)
    first = tag_of(tmp_path)
    assert first.startswith("tilt-")
    assert len(first) == len("tilt-") + 16
    assert tag_of(tmp_path) == first
    # Touching a file (mtime only) and changing an ignored file keep the tag.
    os.utime(tmp_path / "svc" / "main.go", (1, 1))
    (tmp_path / "svc" / "debug.log").write_text("more noise\n")
    (tmp_path / "svc" / ".git" / "HEAD").write_text("ref: refs/heads/other\n")
    assert tag_of(tmp_path) == first
    # Content, mode, a new file, the Dockerfile, build args and target change it.
    (tmp_path / "svc" / "main.go").write_text("package main // changed\n")
    second = tag_of(tmp_path)
    assert second != first
    (tmp_path / "svc" / "main.go").chmod(0o755)
    third = tag_of(tmp_path)
    assert third != second
    (tmp_path / "svc" / "new.txt").write_text("new\n")
    fourth = tag_of(tmp_path)
    assert fourth != third
    (tmp_path / "svc" / "Dockerfile").write_text("FROM scratch\nCOPY . /srv\n")
    fifth = tag_of(tmp_path)
    assert fifth != fourth
    with_args = tag_of(tmp_path, "docker_build('img', 'svc', build_args={'A': '1'})")
    assert with_args != fifth
    with_target = tag_of(tmp_path, "docker_build('img', 'svc', target='x')")
    assert with_target not in (fifth, with_args)


def test_rewrite_base_refs_pins_from_and_copy_from() -> None:
    text = (
        "ARG X=1\n"
        "FROM base AS build\n"
        "FROM --platform=linux/amd64 docker.io/library/base:latest\n"
        "COPY --from=tools /bin/tool /bin/tool\n"
        "COPY --from=build /out /out\n"
        "FROM other\n"
    )
    out = rewrite_base_refs(text, {"base": "base:tilt-1", "tools": "tools:tilt-2"})
    assert out.splitlines() == [
        "ARG X=1",
        "FROM base:tilt-1 AS build",
        "FROM --platform=linux/amd64 base:tilt-1",
        "COPY --from=tools:tilt-2 /bin/tool /bin/tool",
        "COPY --from=build /out /out",
        "FROM other",
    ]


def test_unpacked_context_for_buildx_holds_the_same_files(tmp_path: Path) -> None:
    # The BuildKit path builds from this folder: it must hold exactly what the archive holds.
    from tilt.docker.build import _unpack

    result = load(
        tmp_path,
        "docker_build('outside', 'svc', dockerfile='build/svc.Dockerfile')\n",
        {**TREE, "build/svc.Dockerfile": "FROM scratch\nCOPY main.go /main.go\n"},
    )
    dest = tmp_path / "unpacked"
    with build_context(result.image("outside")) as ctx:
        _unpack(ctx, str(dest))
        unpacked = {
            str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file() or p.is_symlink()
        }
        assert unpacked == set(ctx.files) | {ctx.dockerfile_name, ".dockerignore"}
        assert (dest / ctx.dockerfile_name).read_text() == "FROM scratch\nCOPY main.go /main.go\n"
