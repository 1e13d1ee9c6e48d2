"""Push an image to a registry: skip when it is already there, progress lines, clear errors.

`push` tags the built image as the registry ref, asks the registry (HTTP API
v2, `tilt.registry.v2`) whether it already holds that exact image (config
digest = our image id) and skips the push when it does; otherwise it pushes
through the engine (credentials from the user's Docker config,
`tilt.registry.credentials`), one progress line per layer state change.

Failures become one `RegistryError` that says what to do:

- `RegistryAuthError`: which registry refused, where credentials were looked
  up (file, helper) and what was found;
- `InsecureRegistryError`: a plain-HTTP registry the engine will only talk
  HTTPS to: add it to ``insecure-registries`` in the engine's
  ``/etc/docker/daemon.json`` (or use ``localhost``/127.0.0.1, which the
  engine always allows over HTTP);
- `RegistryUnreachableError`: nothing answered at that address (for a kind
  registry: is its container running, and is it on the host port?).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tilt.docker.build import BuildError
from tilt.registry.credentials import Credentials, lookup_credentials, registry_of

__all__ = [
    "InsecureRegistryError",
    "PushResult",
    "RegistryAuthError",
    "RegistryError",
    "RegistryUnreachableError",
    "engine_treats_insecure",
    "explain_push_error",
    "push",
]

OnOutput = Callable[[str], None]
_T = TypeVar("_T")

_AUTH_MARKERS = (
    "unauthorized",
    "authentication required",
    "no basic auth credentials",
    "denied: requested access",
    "access to the resource is denied",
    "insufficient_scope",
)
_INSECURE_MARKERS = ("server gave http response to https client",)
_TLS_MARKERS = ("x509:", "certificate signed by unknown authority", "tls: ")
_UNREACHABLE_MARKERS = ("connection refused", "no such host", "i/o timeout", "no route to host")


class RegistryError(BuildError):
    """A push that failed, with what to do (a `BuildError`: shown on the resource).

    Attributes:
        registry: The registry host.
    """

    def __init__(self, image_ref: str, registry: str, message: str, *, step: str) -> None:
        self.registry = registry
        super().__init__(image_ref, message, step=step)


class RegistryAuthError(RegistryError):
    """The registry refused our credentials, or we had none."""


class InsecureRegistryError(RegistryError):
    """The registry speaks plain HTTP (or an untrusted TLS) and the engine will not."""


class RegistryUnreachableError(RegistryError):
    """Nothing answered at the registry's address."""


@dataclass(frozen=True, kw_only=True)
class PushResult:
    """A push (or a push found unnecessary).

    Attributes:
        ref: The pushed ``repo:tag``.
        skipped: The registry already had this exact image.
        digest: The manifest digest the registry reported (``""`` when skipped
            or unknown).
        duration_s: Wall time.
    """

    ref: str
    skipped: bool = False
    digest: str = ""
    duration_s: float = 0.0


def explain_push_error(
    image_ref: str, registry: str, message: str, creds: Credentials, *, step: str
) -> BuildError:
    """Turn the engine's push error text into an error that says what to do (pure)."""
    low = message.lower()
    if any(m in low for m in _AUTH_MARKERS):
        return RegistryAuthError(
            image_ref,
            registry,
            f"registry {registry} refused the push ({message.strip()}). Credentials: "
            f"{creds.where}. Run `docker login {registry}` (or fix the credential helper), "
            "then trigger the resource again.",
            step=step,
        )
    if any(m in low for m in _INSECURE_MARKERS):
        return InsecureRegistryError(
            image_ref,
            registry,
            f"registry {registry} speaks plain HTTP, and the Docker engine only pushes over "
            f"HTTPS to it ({message.strip()}). Add it to the engine's insecure registries: "
            f'/etc/docker/daemon.json {{"insecure-registries": ["{registry}"]}} and restart the '
            "engine (Docker Desktop: Settings > Docker Engine); or reach it as localhost:PORT, "
            "which the engine always allows over HTTP.",
            step=step,
        )
    if any(m in low for m in _TLS_MARKERS):
        return InsecureRegistryError(
            image_ref,
            registry,
            f"registry {registry}'s TLS certificate is not trusted by the Docker engine "
            f"({message.strip()}). Put its CA at /etc/docker/certs.d/{registry}/ca.crt, or list "
            f'it in daemon.json "insecure-registries".',
            step=step,
        )
    if any(m in low for m in _UNREACHABLE_MARKERS):
        return RegistryUnreachableError(
            image_ref,
            registry,
            f"registry {registry} is not reachable from the Docker engine ({message.strip()}). "
            "Is the registry running and published on that port? For a kind registry see "
            "docs/registries.md.",
            step=step,
        )
    return BuildError(image_ref, message.strip(), step=step)


def engine_treats_insecure(registry: str, registry_config: dict[str, Any]) -> bool:
    """Whether the engine allows plain HTTP to ``registry`` (``docker info``'s RegistryConfig)."""
    index = (registry_config.get("IndexConfigs") or {}).get(registry)
    if isinstance(index, dict) and "Secure" in index:
        return not bool(index["Secure"])
    hostname = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry
    hostname = hostname.strip("[]").split("]")[0]
    cidrs = []
    for c in registry_config.get("InsecureRegistryCIDRs") or ():
        with contextlib.suppress(ValueError):
            cidrs.append(ipaddress.ip_network(c))
    try:
        addrs = {ipaddress.ip_address(hostname)}
    except ValueError:
        try:
            addrs = {
                ipaddress.ip_address(info[4][0])
                for info in socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP)
            }
        except OSError:
            return False
    return any(a in net for a in addrs for net in cidrs if a.version == net.version)


async def _abortable(
    fn: Callable[[], _T], abort: Callable[[], None], cancel: asyncio.Event | None
) -> _T:
    """Run blocking ``fn`` in a thread; ``abort`` it on task cancellation or ``cancel``."""
    from tilt.docker.build import BuildCancelledError

    task = asyncio.ensure_future(asyncio.to_thread(fn))
    waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    try:
        waits: set[asyncio.Future[Any]] = {task} | ({waiter} if waiter else set())
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        abort()
        with contextlib.suppress(BaseException):
            await task
        raise
    finally:
        if waiter is not None:
            waiter.cancel()
    if task.done():
        return task.result()
    abort()
    with contextlib.suppress(BaseException):
        await task
    raise BuildCancelledError("push cancelled")


def _split(ref: str) -> tuple[str, str]:
    from tilt.refs import repository, tag_of

    return repository(ref), tag_of(ref) or "latest"


def _remote_name(repo: str) -> str:
    """The repository path inside its registry (``library/`` added on Docker Hub)."""
    first, sep, rest = repo.partition("/")
    name = rest if sep and ("." in first or ":" in first or first == "localhost") else repo
    if registry_of(repo) == "docker.io" and "/" not in name:
        name = "library/" + name
    return name


async def push(
    image_ref: str,
    image_id: str,
    push_ref: str,
    *,
    on_output: OnOutput,
    cancel: asyncio.Event | None = None,
    skip_if_present: bool = True,
) -> PushResult:
    """Tag ``image_id`` as ``push_ref`` and push it, unless the registry already has it.

    Args:
        image_ref: The image target's ref (for errors).
        image_id: The local image (``sha256:...``).
        push_ref: ``registry/name:tag`` to push.
        on_output: Gets progress lines, on the event loop.
        cancel: Set it to abort (`BuildCancelledError`); cancelling the task aborts too.
        skip_if_present: Ask the registry first (HTTP API v2).

    Raises:
        RegistryError: the push failed (auth, insecure registry, unreachable).
        BuildError: any other push failure.
    """
    from tilt.docker.client import get_client, new_api_client

    start = time.monotonic()
    repo, tag = _split(push_ref)
    registry = registry_of(repo)
    step = f"push {repo}:{tag}"
    loop = asyncio.get_running_loop()
    client = await asyncio.to_thread(get_client)
    creds = await asyncio.to_thread(lookup_credentials, registry)
    await asyncio.to_thread(client.api.tag, image_id, repo, tag)
    if skip_if_present:
        from tilt.registry.v2 import RegistryAPIError, remote_config_digest

        info = await asyncio.to_thread(client.info)
        insecure = engine_treats_insecure(registry, dict(info.get("RegistryConfig") or {}))
        try:
            remote = await asyncio.to_thread(
                remote_config_digest,
                registry,
                _remote_name(repo),
                tag,
                auth=creds.auth,
                insecure=insecure,
            )
        except RegistryAPIError as e:
            remote = None
            on_output(f"Could not ask {registry} whether it has {repo}:{tag} ({e}); pushing")
        if remote == image_id:
            on_output(
                f"{registry} already has {repo}:{tag} (image {image_id[7:19]}): skipping the push"
            )
            return PushResult(
                ref=f"{repo}:{tag}", skipped=True, duration_s=time.monotonic() - start
            )

    on_output(f"Pushing {repo}:{tag}")
    api = await asyncio.to_thread(new_api_client)
    digest = ""

    def emit(line: str) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed under us (shutdown)
            loop.call_soon_threadsafe(on_output, line)

    def run() -> str:
        nonlocal digest
        last: dict[str, str] = {}
        for chunk in api.push(repo, tag=tag, stream=True, decode=True, auth_config=creds.auth):
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                return str(detail)
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
            status = chunk.get("status")
            if not status:
                continue
            layer = chunk.get("id", "")
            if layer and last.get(layer) == status:
                continue  # progress bytes of the same step: one line is enough
            last[layer] = status
            emit(f"{layer}: {status}" if layer else str(status))
        return ""

    try:
        error = await _abortable(run, api.close, cancel)
    except BuildError:
        raise
    except Exception as e:  # the SDK's APIError (e.g. 404 for an unknown image) and friends
        error = str(getattr(e, "explanation", None) or e)
    finally:
        api.close()
    if error:
        raise explain_push_error(image_ref, registry, error, creds, step=step)
    on_output(f"Pushed {repo}:{tag}" + (f" ({digest})" if digest else ""))
    return PushResult(ref=f"{repo}:{tag}", digest=digest, duration_s=time.monotonic() - start)
