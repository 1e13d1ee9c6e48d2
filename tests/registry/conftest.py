"""Fixtures for the registry tests: real registries (with and without auth), a Docker
config of our own, and small FROM-scratch images.

Every image these tests create has a repository containing `PREFIX` (unique per
session); they are removed at the end, and nothing else is touched.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import ctypes.util
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.docker.conftest import copy_busybox, serve_registry

#: Repository prefix of every image these tests create.
PREFIX = f"tilt-test-reg-{uuid.uuid4().hex[:8]}"


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash for an htpasswd file, through the system's libcrypt (libxcrypt).

    The registry's htpasswd auth only accepts bcrypt. libcrypt.so.1 is part of
    every Debian system (libc needs it), so this adds no dependency.
    """
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(b"$2y$", 5, None, 0)
    if not salt:
        pytest.fail("libcrypt cannot make bcrypt salts (needed for htpasswd)")
    hashed = lib.crypt(password.encode(), salt)
    if not hashed or not hashed.startswith(b"$2"):
        pytest.fail("libcrypt did not produce a bcrypt hash")
    return str(hashed.decode())


@dataclass(frozen=True)
class AuthRegistry:
    host: str
    user: str
    password: str


@pytest.fixture
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry on 127.0.0.1 without auth; yields ``host:port``."""
    with serve_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


@pytest.fixture
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A registry on 127.0.0.1 that requires basic auth (htpasswd, bcrypt)."""
    root = tmp_path_factory.mktemp("registry-auth")
    user, password = "tilt", secrets.token_hex(8)
    htpasswd = root / "htpasswd"
    htpasswd.write_text(f"{user}:{bcrypt_hash(password)}\n")
    with serve_registry(root, htpasswd=htpasswd) as host:
        yield AuthRegistry(host, user, password)


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Point DOCKER_CONFIG at a private folder; call it with ``{registry: (user, pw)}``."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))

    def write(auths: dict[str, tuple[str, str]] | None = None) -> Path:
        data: dict[str, Any] = {"auths": {}}
        for reg, (user, pw) in (auths or {}).items():
            data["auths"][reg] = {"auth": base64.b64encode(f"{user}:{pw}".encode()).decode()}
        path = folder / "config.json"
        path.write_text(json.dumps(data))
        return path

    return write


@dataclass(frozen=True)
class Image:
    image_ref: str  # as a Tiltfile would declare it
    local_ref: str  # name:tilt-... in the engine
    image_id: str


def build_image(client: Any, root: Path, name: str, content: str) -> Image:
    """Build a tiny FROM-scratch image ``PREFIX/name:tilt-test`` whose layer holds ``content``."""
    ctx = root / name
    copy_busybox(ctx)
    (ctx / "id.txt").write_text(content)
    (ctx / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY id.txt /id.txt\n"
    )
    ref = f"{PREFIX}/{name}"
    image, _ = client.images.build(path=str(ctx), tag=f"{ref}:tilt-test", rm=True)
    return Image(image_ref=ref, local_ref=f"{ref}:tilt-test", image_id=str(image.id))


@pytest.fixture
def image(docker_client: Any, tmp_path: Path) -> Image:
    """A fresh image (unique content, so unique id) in the local engine."""
    return build_image(docker_client, tmp_path, "app", uuid.uuid4().hex)


@pytest.fixture(scope="session", autouse=True)
def _remove_registry_test_images() -> Iterator[None]:
    yield
    with contextlib.suppress(Exception):
        import docker

        client = docker.from_env(timeout=30)
        for img in client.api.images():
            for tag in img.get("RepoTags") or ():
                if PREFIX in tag:  # also the registry copies (``_`` for ``/``)
                    with contextlib.suppress(Exception):
                        client.api.remove_image(tag, force=True)
        client.close()


@pytest.fixture
def fresh_client() -> Iterator[None]:
    """Forget tilt's cached Docker clients before and after."""
    from tilt.docker.client import reset_client

    reset_client()
    yield
    reset_client()
