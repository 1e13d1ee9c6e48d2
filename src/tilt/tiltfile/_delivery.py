"""Tiltfile builtins: image delivery (beyond Tilt).

``image_push_cmd(cmd)`` replaces how every built image reaches the cluster
(push, ``kind load``, nothing) with the user's own command, run once per image
with ``$EXPECTED_REF`` set. Tilt has no such builtin; its issue #2958 asks for
one ("user-specified image push strategy"). Its result is
``Settings.image_push_cmd``; `tilt.registry.destinations.UserCommand` runs it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tilt.model import Cmd
from tilt.tiltfile._context import Ctx, LoadState, TiltfileError, as_cmd, builtin

if TYPE_CHECKING:
    from tilt.tiltfile._assemble import Assembly

__all__ = ["DeliveryState", "finalize"]


@dataclass
class DeliveryState:
    push_cmd: Cmd | None = None


@builtin("image_push_cmd")
def image_push_cmd(ctx: Ctx, cmd: object) -> None:
    """Beyond Tilt: deliver every built image to the cluster with your own command.

    Instead of pushing to a registry, loading into kind/k3d, or nothing (which
    tilt decides from the cluster: ``tilt doctor`` shows the decision), tilt
    runs ``cmd`` once per built image, in tilt's working folder, with these
    variables set:

    - ``EXPECTED_REF``: the ref the cluster will be given, already tagged in the
      local Docker engine (with a ``default_registry``, the registry's name for
      the image, e.g. ``localhost:5000/app:tilt-3f2a9c0d1e4b5a6f``);
    - ``EXPECTED_REGISTRY``, ``EXPECTED_IMAGE``, ``EXPECTED_TAG``: its parts;
    - ``TILT_LOCAL_REF``: the image as the engine has it (``app:tilt-...``).

    Example: ``image_push_cmd('minikube image load $EXPECTED_REF')``. A failing
    command fails the resource's update with its output. Tilt's issue #2958.

    Args:
        cmd: a shell command (run with ``sh -c``) or an argv list.
    """
    st = ctx.state.family(DeliveryState)
    if st.push_cmd is not None:
        raise TiltfileError("image_push_cmd: already defined")
    st.push_cmd = as_cmd("image_push_cmd", "cmd", cmd, allow_empty=False)


def finalize(state: LoadState, asm: Assembly) -> None:
    """Put the command into ``asm.settings`` (after the settings family built it)."""
    st = state.family(DeliveryState)
    if st.push_cmd is not None:
        asm.settings = dataclasses.replace(asm.settings, image_push_cmd=st.push_cmd)
