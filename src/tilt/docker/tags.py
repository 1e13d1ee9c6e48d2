"""Image names and tags: content tags, and where an image goes with default_registry.

A docker_build image is tagged ``<name>:tilt-<16 hex>`` where the hex digits
are a sha256 over its filtered build context (paths, modes, contents), its
Dockerfile as sent, its build args, target and platform (`content_tag`). The
same inputs give the same tag, so when the engine already has that tag (after
a restart, or after an undo) the build is skipped. A custom_build image is
tagged with its image id instead (`digest_tag`, as Tilt does), since only the
user's command knows what went into it.

Names, tags and the registry rewrite of ``default_registry`` live in `tilt.refs`.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tilt.docker.context import ContextTar
    from tilt.model import ImageTarget

__all__ = ["TAG_PREFIX", "content_tag", "digest_tag"]

#: Every tag tilt makes starts with this (clean-up removes images by it).
TAG_PREFIX = "tilt-"
_HEX_CHARS = 16


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
