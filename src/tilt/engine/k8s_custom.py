"""``k8s_custom_deploy``: run its ``apply_cmd``/``delete_cmd`` (the Kubernetes runner's helpers).

``apply_cmd`` runs as a process of the supervisor (its own process group, stopped with the
rest), in ``apply_dir`` with ``apply_env`` and, as in Tilt, ``TILT_IMAGE_MAP_i`` (the
Tiltfile's image name) and ``TILT_IMAGE_i`` (the built ref) for each of ``image_deps``. Its
stdout must be the objects it deployed as the cluster returned them (with uids, e.g.
``kubectl apply -o yaml``): they are what the resource owns and follows. Its stderr goes to
the resource's log.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tilt.model import Cmd, K8sCustomDeployTarget
    from tilt.process import ProcessSupervisor

__all__ = ["CustomDeployError", "image_env", "run_apply_cmd", "run_delete_cmd"]

Obj = dict[str, Any]


class CustomDeployError(Exception):
    """apply_cmd/delete_cmd failed; the message is for the user."""


def image_env(image_refs: Sequence[str], built: Mapping[str, str]) -> dict[str, str]:
    """Tilt's ``TILT_IMAGE_MAP_i``/``TILT_IMAGE_i`` for ``image_deps`` (in their order)."""
    env: dict[str, str] = {}
    for i, ref in enumerate(image_refs):
        env[f"TILT_IMAGE_MAP_{i}"] = ref
        env[f"TILT_IMAGE_{i}"] = built.get(ref, ref)
    return env


async def _run(
    supervisor: ProcessSupervisor,
    what: str,
    cmd: Cmd,
    *,
    cwd: str,
    env: Mapping[str, str],
    log: Callable[[str], None],
    stdout_to: str,
) -> None:
    from tilt.engine.local import describe_exit

    # stdout to a file (it is YAML for apply_cmd), stderr to the log; `exec` keeps one
    # process in the group the supervisor owns.
    argv = ["sh", "-c", 'out="$1"; shift; exec "$@" >"$out"', "sh", stdout_to, *cmd.argv]
    log(f"Running {what}: {cmd.display}")
    try:
        proc = await supervisor.start(argv, cwd=cwd, env=dict(env), on_output=log)
    except OSError as e:
        raise CustomDeployError(f"{what} could not start: {e}") from None
    status = await proc.wait()
    if status.returncode != 0 or status.signal is not None:
        raise CustomDeployError(f'{what} "{cmd.display}" failed: {describe_exit(status)}')


async def run_apply_cmd(
    supervisor: ProcessSupervisor,
    target: K8sCustomDeployTarget,
    *,
    base_dir: str,
    images: Mapping[str, str],
    image_refs: Sequence[str],
    log: Callable[[str], None],
) -> list[Obj]:
    """Run ``apply_cmd``; the objects it printed. Raises `CustomDeployError`."""
    from tilt.k8s.session import parse_apply_output

    fd, path = tempfile.mkstemp(prefix="tilt-apply-", suffix=".yaml")
    os.close(fd)
    try:
        env = {**target.apply_env, **image_env(image_refs, images)}
        await _run(
            supervisor,
            "apply_cmd",
            target.apply_cmd,
            cwd=target.apply_dir or base_dir,
            env=env,
            log=log,
            stdout_to=path,
        )
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    finally:
        os.unlink(path)
    try:
        return parse_apply_output(text)
    except ValueError as e:
        raise CustomDeployError(str(e)) from None


async def run_delete_cmd(
    supervisor: ProcessSupervisor,
    target: K8sCustomDeployTarget,
    *,
    base_dir: str,
    log: Callable[[str], None],
) -> None:
    """Run ``delete_cmd`` (its output goes to the log). Raises `CustomDeployError`."""
    fd, path = tempfile.mkstemp(prefix="tilt-delete-", suffix=".out")
    os.close(fd)
    try:
        await _run(
            supervisor,
            "delete_cmd",
            target.delete_cmd,
            cwd=target.delete_dir or base_dir,
            env=target.delete_env,
            log=log,
            stdout_to=path,
        )
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f.read().splitlines():
                log(line)
    finally:
        os.unlink(path)
