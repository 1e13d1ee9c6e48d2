"""Docker: image builds (context, content tags, build, push, custom_build) and Compose.

The image-build layer (issue 4) is `tilt.docker.build.ImageBuilder` and the
helpers it is made of: `tilt.docker.context` (the build context archive, made
with the same matcher the watcher uses), `tilt.docker.tags` (content tags and
registry names), `tilt.docker.custom` (custom_build) and `tilt.docker.client`
(the lazily created SDK client). Names listed in ``__all__`` are imported on
first use, so ``import tilt.docker`` loads neither the SDK nor the builders.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "BuildError",
    "BuildResult",
    "ContextTar",
    "DockerUnavailableError",
    "ImageBuilder",
    "build_context",
    "content_tag",
]

_WHERE = {
    "BuildError": "tilt.docker.build",
    "BuildResult": "tilt.docker.build",
    "ImageBuilder": "tilt.docker.build",
    "ContextTar": "tilt.docker.context",
    "build_context": "tilt.docker.context",
    "content_tag": "tilt.docker.tags",
    "DockerUnavailableError": "tilt.docker.client",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tilt.docker' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
