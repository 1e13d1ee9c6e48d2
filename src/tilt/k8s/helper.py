"""The live_update helper image: a static busybox, for pods whose image has no tools.

`tilt.k8s.exec_updater.ExecUpdater` starts it as an ephemeral container targeting the app
container and unpacks files through ``/proc/1/root``. It is an image target like any other: the
runner builds it with the engine's builder and delivers it the way the cluster gets images
(issue 13), only when a container first needs it: ``K8sSession.helper`` (set by the runner,
`tilt.engine.k8s_helper`) gives the updater the ref the cluster pulls.
"""

from __future__ import annotations

import os
import shutil

from tilt.docker.sync import find_static_busybox
from tilt.model import ImageBuildKind, ImageTarget, SourceLocation, WatchSpec

__all__ = ["HELPER_REF", "HelperUnavailable", "helper_image_target"]

HELPER_REF = "tilt-sync-helper"

DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
ENTRYPOINT ["/bin/busybox", "sleep", "2147483647"]
"""


class HelperUnavailable(Exception):
    """No static busybox on this machine to build the helper image from."""


def helper_image_target(workdir: str, ref: str = HELPER_REF) -> ImageTarget:
    """Write the helper's build context under ``workdir``; its image target."""
    busybox = find_static_busybox()
    if busybox is None:
        raise HelperUnavailable(
            "live_update into an image without tar, busybox or sh needs a statically linked "
            "busybox on this machine (to build the helper image); none was found"
        )
    ctx = os.path.join(workdir, "tilt-sync-helper")
    os.makedirs(ctx, exist_ok=True)
    shutil.copy(busybox, os.path.join(ctx, "busybox"))
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)
    return ImageTarget(
        ref=ref,
        kind=ImageBuildKind.DOCKER,
        context=ctx,
        dockerfile=os.path.join(ctx, "Dockerfile"),
        location=SourceLocation(file="<tilt: live_update helper>", line=0),
        watch=WatchSpec(paths=(ctx,)),  # the build context is what the matcher accepts
    )
