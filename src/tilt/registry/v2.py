"""A registry's HTTP API v2, just enough to ask "do you already have this image?".

`remote_config_digest` fetches the manifest of ``repo:tag`` and returns its
config digest, which for an image built by the Docker engine is the image id.
So "the registry's config digest equals our image id" means the registry holds
exactly this image, and the push can be skipped.

Authentication follows the registry's ``WWW-Authenticate`` challenge: ``Basic``
with the Docker config's credentials, or ``Bearer`` through the token service
it names (Docker Hub, GHCR, GCR ...). Plain HTTP is tried only for a registry
the engine itself treats as insecure (127.0.0.0/8, ``insecure-registries``).
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

__all__ = ["RegistryAPIError", "api_host", "remote_config_digest"]

_MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)
_PARAM_RE = re.compile(r'(\w+)="([^"]*)"')


class RegistryAPIError(Exception):
    """The registry could not be asked (unreachable, refused, unexpected answer)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def api_host(registry: str) -> str:
    """Where a registry's v2 API lives (Docker Hub's is not ``docker.io``)."""
    return "registry-1.docker.io" if registry == "docker.io" else registry


def _basic(auth: Mapping[str, str] | None) -> str:
    if not auth or not auth.get("username"):
        return ""
    raw = f"{auth['username']}:{auth.get('password', '')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _open(req: urllib.request.Request, timeout_s: float, insecure_tls: bool) -> Any:
    ctx = None
    if req.full_url.startswith("https://") and insecure_tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return urllib.request.urlopen(req, timeout=timeout_s, context=ctx)


def _token(challenge: str, auth: Mapping[str, str] | None, timeout_s: float, insecure: bool) -> str:
    params = dict(_PARAM_RE.findall(challenge))
    realm = params.pop("realm", "")
    if not realm:
        raise RegistryAPIError(f"bearer challenge without realm: {challenge!r}")
    query = urllib.parse.urlencode({k: v for k, v in params.items() if k in ("service", "scope")})
    req = urllib.request.Request(f"{realm}?{query}" if query else realm)
    if basic := _basic(auth):
        req.add_header("Authorization", basic)
    try:
        with _open(req, timeout_s, insecure) as r:
            data = json.loads(r.read())
    except urllib.error.HTTPError as e:
        e.close()
        raise RegistryAPIError(f"token service {realm}: HTTP {e.code}", status=e.code) from None
    except (OSError, ValueError) as e:
        raise RegistryAPIError(f"token service {realm}: {e}") from None
    token = data.get("token") or data.get("access_token") or ""
    if not token:
        raise RegistryAPIError(f"token service {realm} returned no token")
    return str(token)


def _get_manifest(
    url: str, auth: Mapping[str, str] | None, timeout_s: float, insecure: bool
) -> dict[str, Any] | None:
    headers = {"Accept": _MANIFEST_TYPES}
    for attempt in range(2):
        req = urllib.request.Request(url, headers=headers)
        try:
            with _open(req, timeout_s, insecure) as r:
                return dict(json.loads(r.read()))
        except urllib.error.HTTPError as e:
            e.close()  # the error holds the response's socket
            if e.code == 404:
                return None
            challenge = e.headers.get("WWW-Authenticate", "") if e.code == 401 else ""
            if not challenge or attempt == 1:
                raise RegistryAPIError(
                    f"GET {url}: HTTP {e.code} {e.reason}", status=e.code
                ) from None
            scheme = challenge.split(" ", 1)[0].lower()
            if scheme == "basic":
                basic = _basic(auth)
                if not basic:
                    raise RegistryAPIError(f"GET {url}: credentials required", status=401) from None
                headers["Authorization"] = basic
            elif scheme == "bearer":
                headers["Authorization"] = "Bearer " + _token(challenge, auth, timeout_s, insecure)
            else:
                raise RegistryAPIError(
                    f"GET {url}: unknown auth scheme {scheme!r}", status=401
                ) from None
    return None  # pragma: no cover - the loop returns or raises


def remote_config_digest(
    registry: str,
    name: str,
    tag: str,
    *,
    auth: Mapping[str, str] | None = None,
    insecure: bool = False,
    timeout_s: float = 10.0,
) -> str | None:
    """The config digest of ``name:tag`` in ``registry``, or ``None`` when it has no such tag.

    Args:
        registry: The registry host (``127.0.0.1:5000``, ``docker.io``).
        name: The repository path inside it (``team/app``; ``library/x`` on Docker Hub).
        tag: The tag.
        auth: ``username``/``password`` from the Docker config, if any.
        insecure: The engine treats this registry as insecure: accept any TLS
            certificate, and fall back to plain HTTP.
        timeout_s: Per request.

    Returns:
        ``sha256:...``, or ``None`` (no such tag, or a multi-platform index,
        whose config cannot be compared with one local image).

    Raises:
        RegistryAPIError: the registry could not be asked.
    """
    path = f"/v2/{name}/manifests/{urllib.parse.quote(tag)}"
    host = api_host(registry)
    schemes = ["https", "http"] if insecure else ["https"]
    last: Exception | None = None
    for scheme in schemes:
        try:
            manifest = _get_manifest(f"{scheme}://{host}{path}", auth, timeout_s, insecure)
        except RegistryAPIError:
            raise
        except (OSError, ValueError) as e:  # TLS to a plain-HTTP registry, refused, ...
            last = e
            continue
        if manifest is None:
            return None
        config = manifest.get("config")
        if isinstance(config, dict) and isinstance(config.get("digest"), str):
            return str(config["digest"])
        return None
    raise RegistryAPIError(f"{registry} did not answer: {last}")
