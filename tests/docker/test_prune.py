"""docker_build's label and `tilt.docker.prune.prune`, against the real Docker engine.

Images whose age matters are loaded from a hand-made ``docker save`` archive whose
config says when they were created (2020, or a few seconds ago), so which image
is old never depends on how long a test takes. Every image and container a test
makes is named with `IMAGE_PREFIX` and removed afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.docker.conftest import IMAGE_PREFIX, busybox_dockerfile, copy_busybox, load, run
from tilt.docker.build import BUILT_LABELS, ImageBuilder
from tilt.docker.prune import PruneReport, human_size, prune

OLD = datetime(2020, 1, 1, tzinfo=UTC).timestamp()
LABELS = dict(BUILT_LABELS)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def load_image(client: Any, tag: str, *, created: float, labels: dict[str, str]) -> str:
    """Load a one-file image tagged ``tag`` that says it was created at ``created``; its id."""
    layer = _tar({"hello.txt": f"{tag} {created}\n".encode()})
    stamp = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": stamp,
            "config": {"Labels": labels, "Cmd": ["/hello.txt"]},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()],
            },
            "history": [{"created": stamp}],
        }
    ).encode()
    manifest = json.dumps(
        [{"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}]
    ).encode()
    archive = _tar({"manifest.json": manifest, "config.json": config, "layer.tar": layer})
    list(client.api.load_image(archive))
    return str(client.api.inspect_image(tag)["Id"])


class Images:
    """Loads images under one unique repository prefix; removes them (and containers) after."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.prefix = f"{IMAGE_PREFIX}-prune-{uuid.uuid4().hex[:6]}"
        self.containers: list[str] = []
        #: Every repository a test used: pruning is always limited to them, so that
        #: no other labelled image on this engine is ever a candidate.
        self.repos: set[str] = set()

    def repo(self, name: str) -> str:
        self.repos.add(f"{self.prefix}-{name}")
        return f"{self.prefix}-{name}"

    def load(self, repo: str, tag: str, *, created: float, labelled: bool = True) -> str:
        return load_image(
            self.client,
            f"{self.repo(repo)}:{tag}",
            created=created,
            labels=LABELS if labelled else {},
        )

    def container(self, image: str) -> str:
        cid = str(
            self.client.api.create_container(image, name=f"{self.prefix}-{uuid.uuid4().hex[:6]}")[
                "Id"
            ]
        )
        self.containers.append(cid)
        return cid

    def exists(self, image_id: str) -> bool:
        try:
            self.client.api.inspect_image(image_id)
        except Exception:  # docker.errors.ImageNotFound
            return False
        return True

    def cleanup(self) -> None:
        for cid in self.containers:
            with contextlib.suppress(Exception):
                self.client.api.remove_container(cid, force=True)
        for img in self.client.api.images():
            for tag in img.get("RepoTags") or ():
                if tag.startswith(self.prefix):
                    with contextlib.suppress(Exception):
                        self.client.api.remove_image(tag, force=True)


@pytest.fixture
def images(docker_client: Any) -> Iterator[Images]:
    imgs = Images(docker_client)
    try:
        yield imgs
    finally:
        imgs.cleanup()


def do_prune(images: Images, **kw: Any) -> PruneReport:
    args: dict[str, Any] = {
        "now": time.time(),
        "max_age_s": 360 * 60.0,
        "keep_recent": 2,
        "repositories": sorted(images.repos),
        **kw,
    }
    return prune(images.client.api, **args)


def test_docker_build_labels_its_images(tmp_path: Path, docker_client: Any) -> None:
    copy_busybox(tmp_path)
    ref = f"{IMAGE_PREFIX}-labelled"
    result = load(
        tmp_path,
        f"docker_build('{ref}', '.')\n",
        {"Dockerfile": busybox_dockerfile("LABEL mine=yes")},
    )
    built = run(ImageBuilder().build(result.image(ref), on_output=lambda _line: None))
    labels = docker_client.api.inspect_image(built.ref)["Config"]["Labels"]
    assert labels["dev.tilt.built"] == "true"
    assert labels["dev.tilt.gc"] == "true"
    assert labels["mine"] == "yes"  # the Dockerfile's own labels stay


def test_old_labelled_images_go_except_the_newest_per_repository(images: Images) -> None:
    now = time.time()
    olds = [images.load("a", f"t{i}", created=OLD + i * 60) for i in range(4)]
    other = images.load("b", "t0", created=OLD)
    young = images.load("a", "young", created=now - 5)
    # keep_recent=2 per repository: of "a", the young one and the newest old one stay;
    # "b" has one image, which stays.
    report = do_prune(images, now=now, keep_recent=2)
    assert sorted(report.images) == sorted(olds[:3])
    assert [images.exists(i) for i in olds] == [False, False, False, True]
    assert images.exists(other)
    assert images.exists(young)
    assert report.image_bytes > 0
    assert report.lines()[0].startswith("[Docker Prune] removed 3 images, reclaimed ")


def test_keep_recent_zero_removes_every_old_one_but_not_young_ones(images: Images) -> None:
    now = time.time()
    olds = [images.load("a", f"t{i}", created=OLD + i) for i in range(2)]
    young = images.load("a", "young", created=now - 5)
    report = do_prune(images, now=now, keep_recent=0, max_age_s=60.0)
    assert sorted(report.images) == sorted(olds)
    assert images.exists(young)


def test_images_containers_use_unlabelled_ones_and_kept_refs_stay(images: Images) -> None:
    used = images.load("a", "used", created=OLD)
    stopped_user = images.container(used)
    unlabelled = images.load("a", "mine", created=OLD, labelled=False)
    deployed = images.load("a", "deployed", created=OLD)
    gone = images.load("a", "gone", created=OLD)
    report = do_prune(images, keep_recent=0, keep={f"{images.repo('a')}:deployed"})
    assert report.images == [gone]
    assert report.errors == []  # the used image was never tried
    assert images.exists(used) and images.exists(unlabelled) and images.exists(deployed)
    assert not images.exists(gone)
    # Once the container is gone, the image it used is old like the rest.
    images.client.api.remove_container(stopped_user, force=True)
    assert do_prune(images, keep_recent=0, keep={deployed}).images == [used]
    assert images.exists(unlabelled) and images.exists(deployed)


def test_only_the_given_repositories_are_candidates(images: Images) -> None:
    a = images.load("a", "t0", created=OLD)
    b = images.load("b", "t0", created=OLD)
    report = do_prune(images, keep_recent=0, repositories=[images.repo("b")])
    assert report.images == [b]
    assert images.exists(a)


def test_an_image_with_several_tags_goes_whole(images: Images) -> None:
    img = images.load("a", "t0", created=OLD)
    images.client.api.tag(img, images.repo("copy"), "t0")
    images.repos.discard(images.repo("copy"))
    report = do_prune(images, keep_recent=0, repositories=[images.repo("a")])
    assert report.images == [img]
    assert not images.exists(img)


def test_nothing_old_nothing_removed(images: Images) -> None:
    young = images.load("a", "t0", created=time.time() - 5)
    report = do_prune(images, keep_recent=0)
    assert report.images == []
    assert images.exists(young)
    assert report.lines()[0] == "[Docker Prune] removed 0 images, reclaimed 0B"


def test_human_size() -> None:
    assert human_size(0) == "0B"
    assert human_size(999) == "999B"
    assert human_size(1500) == "1.5kB"
    assert human_size(12_500_000) == "12.5MB"
    assert human_size(3 * 10**12) == "3TB"


def test_buildx_builds_get_the_labels_too(
    tmp_path: Path, docker_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A BuildKit-only Dockerfile goes to `docker buildx build`; a stand-in `docker`
    # records its arguments (buildx is not installed on every test machine).
    import tilt.docker.build as build_mod
    from tilt.image_build import BuildError

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    argv_file = tmp_path / "argv"
    fake = bin_dir / "docker"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {argv_file}\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(build_mod, "buildx_available", lambda: True)
    ref = f"{IMAGE_PREFIX}-buildx-labelled"
    proj = tmp_path / "proj"
    copy_busybox(proj)
    result = load(
        proj,
        f"docker_build('{ref}', '.')\n",
        {"Dockerfile": "# syntax=docker/dockerfile:1\n" + busybox_dockerfile()},
    )
    with pytest.raises(BuildError):
        run(ImageBuilder().build(result.image(ref), on_output=lambda _line: None))
    argv = argv_file.read_text().splitlines()
    assert argv[:2] == ["buildx", "build"]
    labels = {argv[i + 1] for i, a in enumerate(argv) if a == "--label"}
    assert labels == {"dev.tilt.built=true", "dev.tilt.gc=true"}
