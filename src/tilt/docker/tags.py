"""Image names and tags: content tags, and where an image goes with default_registry.

A docker_build image is tagged ``<name>:tilt-<16 hex>`` where the hex digits
are a sha256 over its filtered build context (paths, modes, contents), its
Dockerfile as sent, its build args, target and platform (`content_tag`). The
same inputs give the same tag, so when the engine already has that tag (after
a restart, or after an undo) the build is skipped. A custom_build image is
tagged with its image id instead (`digest_tag`, as Tilt does), since only the
user's command knows what went into it.

With ``default_registry(host)``, images are pushed as ``host/<escaped name>``
(`registry_repository`): the familiar name with ``/``, ``:`` and ``@`` turned
into ``_``, as Tilt does; a name already under ``host/`` keeps its name, and
``single_name`` puts every image in one repository.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tilt.docker.context import ContextTar
    from tilt.model import ImageTarget, Settings

__all__ = [
    "TAG_PREFIX",
    "content_tag",
    "digest_tag",
    "familiar_name",
    "registry_repository",
    "registry_tag",
    "repository",
    "split_ref",
    "with_tag",
]

#: Every tag tilt makes starts with this (clean-up removes images by it).
TAG_PREFIX = "tilt-"
_HEX_CHARS = 16
_ESCAPE_RE = re.compile(r"[/:@]")


def content_tag(image: ImageTarget, context: ContextTar) -> str:
    """``tilt-<digest>`` of what a docker_build's result depends on.

    Args:
        image: The image target (its build args, target and platform count).
        context: Its archived build context (`tilt.docker.context.build_context`),
            whose digest covers the files and the Dockerfile as sent.

    Returns:
        The tag, e.g. ``tilt-3f2a9c0d1e4b5a6f``.
    """
    h = hashlib.sha256()
    h.update(context.digest.encode())
    h.update(b"\0")
    h.update(context.dockerfile_text.encode())
    h.update(b"\0")
    h.update(
        json.dumps(
            {
                "build_args": dict(sorted(image.build_args.items())),
                "target": image.target,
                "platform": image.platform,
            },
            sort_keys=True,
        ).encode()
    )
    return TAG_PREFIX + h.hexdigest()[:_HEX_CHARS]


def digest_tag(image_id: str) -> str:
    """Tilt's tag for an image known by id: ``tilt-`` and 16 hex digits of the id."""
    hex_part = image_id.split(":", 1)[-1]
    return TAG_PREFIX + hex_part[:_HEX_CHARS]


def split_ref(ref: str) -> tuple[str, str]:
    """``(repository, tag)`` of a reference; the digest part, if any, is dropped."""
    ref = ref.split("@", 1)[0]
    head, sep, last = ref.rpartition("/")
    if ":" in last:
        name, tag = last.rsplit(":", 1)
        return (head + sep + name, tag)
    return ref, ""


def repository(ref: str) -> str:
    """The reference without tag or digest: ``localhost:5000/app:v1`` -> ``localhost:5000/app``."""
    return split_ref(ref)[0]


def with_tag(ref: str, tag: str) -> str:
    """``ref``'s repository with ``tag``."""
    return f"{repository(ref)}:{tag}"


def familiar_name(ref: str) -> str:
    """Docker's short form of the repository: ``docker.io/library/redis`` -> ``redis``."""
    name = repository(ref)
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _escape(name: str) -> str:
    return _ESCAPE_RE.sub("_", name)


def registry_repository(ref: str, settings: Settings) -> str:
    """Where ``ref`` is pushed with ``default_registry``, or ``""`` without one.

    Tilt's rule: ``host/`` + the familiar name with ``/ : @`` escaped as ``_``;
    a name already under ``host/`` is kept; with ``single_name``, every image
    goes to ``host/single_name`` (see `registry_tag`).
    """
    host = settings.default_registry
    if not host:
        return ""
    name = familiar_name(ref)
    if name.startswith(host + "/"):
        return name
    if settings.default_registry_single_name:
        return f"{host}/{settings.default_registry_single_name}"
    return f"{host}/{_escape(name)}"


def registry_tag(ref: str, tag: str, settings: Settings) -> str:
    """The tag to push ``ref`` with: ``tag``, prefixed by the escaped name with single_name.

    With one repository for every image, the image name has to live in the tag.
    """
    if settings.default_registry_single_name and not familiar_name(ref).startswith(
        settings.default_registry + "/"
    ):
        return f"{_escape(familiar_name(ref))}-{tag}"
    return tag
