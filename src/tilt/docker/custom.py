"""custom_build: run the user's command to make the image, then find, tag and push it.

As in Tilt (internal/build/custom_builder.go), the command runs in
``custom_build(dir=)`` with tilt's environment plus ``env=`` and:

- ``EXPECTED_REF``: the ref the command must produce:
  ``<name>:tilt-build-<unix time>``, where the name is the registry name with
  ``default_registry``; with ``tag=``, the declared name with that tag (the
  user's script does not know about the registry);
- ``EXPECTED_REGISTRY``, ``EXPECTED_IMAGE``, ``EXPECTED_TAG``: the parts of
  ``EXPECTED_REF`` (registry host, or empty; the rest of the name; the tag),
  for tools that take them separately;
- ``TILT_IMAGE_MAP_<i>`` / ``TILT_IMAGE_<i>``: for each of ``image_deps``, its
  ref as declared and the ref just built for it.

Then:

- ``outputs_image_ref_to``: the command writes the ref it built into that file
  (removed before the run, so a stale ref is never read); tilt uses it as is;
- ``skips_local_docker``: the image is not in the local engine (a remote
  builder); tilt neither inspects nor pushes it, and needs no Docker at all;
- otherwise tilt looks the image up in the engine (with Tilt's hint when it
  is missing), tags it ``<name>:tilt-<16 hex of its id>`` (so a rebuild with
  the same result keeps the same ref) and, with ``default_registry`` and
  without ``disable_push``, pushes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tilt.docker.build import wait_process
from tilt.image_build import BuildError, BuildResult, OnOutput

if TYPE_CHECKING:
    from tilt.docker.destination import DestinationChooser
    from tilt.model import ImageTarget, Settings
    from tilt.process import ProcessSupervisor

__all__ = ["expected_ref_env", "run_custom_build"]

_MISSING_IMAGE_HINT = (
    "Could not find image in Docker\n"
    "Did your custom_build script properly tag the image?\n"
    "If your custom_build doesn't use Docker, you might need to use "
    "skips_local_docker=True, see https://docs.tilt.dev/custom_build.html"
)
_OUTPUT_LINES = 40


def expected_ref_env(
    image: ImageTarget, settings: Settings, *, now_s: float | None = None
) -> dict[str, str]:
    """``EXPECTED_REF`` and its parts for one run of a custom_build command."""
    from tilt.refs import repository

    if image.tag:
        # The user's script makes a fixed tag and knows nothing of the registry.
        repo, tag, registry = repository(image.ref), image.tag, ""
    else:
        tag = f"tilt-build-{int(time.time() if now_s is None else now_s)}"
        reg = settings.registry
        repo = reg.push_repository(image.ref) if reg is not None else repository(image.ref)
        registry = reg.host if reg is not None and repo.startswith(reg.host + "/") else ""
    name = repo[len(registry) + 1 :] if registry else repo
    return {
        "EXPECTED_REF": f"{repo}:{tag}",
        "EXPECTED_REGISTRY": registry,
        "EXPECTED_IMAGE": name,
        "EXPECTED_TAG": tag,
    }


async def run_custom_build(
    image: ImageTarget,
    *,
    supervisor: ProcessSupervisor,
    settings: Settings,
    on_output: OnOutput,
    base_refs: Mapping[str, str] | None = None,
    destination_for: DestinationChooser | None = None,
) -> BuildResult:
    """Run a custom_build's command and return the image it made.

    Args:
        image: A custom_build image target.
        supervisor: Owns the command's process group.
        settings: For ``default_registry``.
        on_output: Gets every line of the command's output and tilt's notes.
        base_refs: Built refs of ``image.image_deps``.
        destination_for: Picks the image's destination (default: ``settings``').

    Returns:
        The result; ``ref`` is the ref to deploy locally.

    Raises:
        BuildError: the command failed, wrote no ref, or made no image.
        DockerUnavailableError: the engine is needed (no ``skips_local_docker``)
            and cannot be reached.
    """
    from tilt.docker.client import get_client
    from tilt.docker.destination import LocalImage
    from tilt.docker.destination import destination_for as default_destination_for
    from tilt.docker.tags import digest_tag
    from tilt.process import CommandNotFoundError
    from tilt.refs import repository, tag_of, with_tag

    assert image.command is not None, "custom_build without a command"
    start = time.monotonic()
    env = dict(image.command_env)
    expected = expected_ref_env(image, settings)
    env.update(expected)
    for i, dep in enumerate(image.image_deps):
        built = (base_refs or {}).get(dep)
        if built:
            env[f"TILT_IMAGE_MAP_{i}"] = dep
            env[f"TILT_IMAGE_{i}"] = built
    if image.outputs_image_ref_to:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(image.outputs_image_ref_to)

    on_output("Custom Build: Injecting Environment Variables")
    for key in ("EXPECTED_REF", "EXPECTED_REGISTRY", "EXPECTED_IMAGE", "EXPECTED_TAG"):
        on_output(f"  {key}={expected[key]}")
    on_output(f"Running custom build cmd {image.command.display!r}")
    output: list[str] = []
    cancelled = False

    def collect(line: str) -> None:
        if cancelled:
            return  # nothing of a cancelled build reaches the log
        output.append(line)
        del output[: -_OUTPUT_LINES * 2]
        on_output(line)

    cwd = image.command_dir or os.getcwd()
    try:
        proc = await supervisor.start(image.command.argv, cwd=cwd, env=env, on_output=collect)
    except (CommandNotFoundError, FileNotFoundError, PermissionError) as e:
        raise BuildError(image.ref, str(e), step="custom_build command") from None

    def mute() -> None:
        nonlocal cancelled
        cancelled = True

    status = await wait_process(proc, on_cancel=mute)
    if not status.success:
        raise BuildError(
            image.ref,
            f"Custom build command failed: {status.describe()}",
            step=f"custom_build command {image.command.display!r}",
            output=output[-_OUTPUT_LINES:],
        )

    built_ref = expected["EXPECTED_REF"]
    from_file = bool(image.outputs_image_ref_to)
    if from_file:
        built_ref = _read_ref_file(image)
        on_output(f"Image ref from {image.outputs_image_ref_to}: {built_ref}")

    if image.skips_local_docker:
        # Not in the local engine: nothing to inspect, tag or push.
        return BuildResult(
            image_ref=image.ref,
            ref=built_ref,
            cluster_ref=built_ref,
            duration_s=time.monotonic() - start,
        )

    client = await asyncio.to_thread(get_client)
    image_id = await asyncio.to_thread(_inspect_id, client, built_ref)
    if image_id is None:
        raise BuildError(
            image.ref,
            f"{built_ref}: {_MISSING_IMAGE_HINT}",
            step="custom_build result",
            output=output[-_OUTPUT_LINES:],
        )
    if from_file:
        ref = built_ref
        tag = tag_of(built_ref) or "latest"
    else:
        tag = digest_tag(image_id)
        ref = with_tag(image.ref, tag)
        await asyncio.to_thread(client.api.tag, image_id, repository(image.ref), tag)
    choose = destination_for or default_destination_for
    delivered = await choose(image, settings).deliver(
        image, LocalImage(ref=ref, image_id=image_id, tag=tag), on_output=on_output
    )
    return BuildResult(
        image_ref=image.ref,
        ref=ref,
        image_id=image_id,
        pushed_ref=delivered.pushed_ref,
        cluster_ref=delivered.cluster_ref,
        duration_s=time.monotonic() - start,
    )


def _read_ref_file(image: ImageTarget) -> str:
    from tilt.refs import parse_ref

    path = image.outputs_image_ref_to
    try:
        with open(path, encoding="utf-8") as f:
            ref = f.read().strip()
    except OSError as e:
        raise BuildError(
            image.ref,
            f"outputs_image_ref_to: the command did not write {path} ({e.strerror or e})",
            step="custom_build result",
        ) from None
    try:
        parse_ref(ref)
    except ValueError:
        raise BuildError(
            image.ref,
            f"outputs_image_ref_to: {path} holds {ref!r}, which is not an image reference",
            step="custom_build result",
        ) from None
    return ref


def _inspect_id(client: object, ref: str) -> str | None:
    from tilt.docker.build import _image_id

    return _image_id(client, ref)
