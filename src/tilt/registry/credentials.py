"""Registry credentials from the user's Docker config, and where they were looked up.

The ``docker`` SDK reads the same file the ``docker`` CLI writes
(``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``), including
``credsStore``/``credHelpers`` helper programs. `lookup_credentials` asks it
for one registry and keeps where it looked, so an "unauthorized" error can say
exactly which file and which helper were tried.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

__all__ = ["Credentials", "lookup_credentials", "registry_of"]

DOCKER_HUB = "docker.io"


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """The outcome of one lookup.

    Attributes:
        registry: The registry host looked up (``127.0.0.1:5000``, ``docker.io``).
        auth: What the SDK passes to the engine (``username``/``password`` or
            ``identitytoken``), ``None`` when nothing was found.
        config_file: The Docker config file read, ``""`` when none exists.
        helper: The credential helper consulted (``docker-credential-desktop``), if any.
        error: Why the lookup failed (a helper that is missing or failed), if it did.
    """

    registry: str
    auth: dict[str, str] | None = field(default=None, repr=False)
    config_file: str = ""
    helper: str = ""
    error: str = ""

    @property
    def where(self) -> str:
        """A sentence fragment saying where credentials were looked up and what was found."""
        if not self.config_file:
            default = os.path.join(
                os.environ.get("DOCKER_CONFIG") or os.path.join("~", ".docker"), "config.json"
            )
            return f"no Docker config file exists ({default}): no credentials for {self.registry}"
        via = f" through the credential helper {self.helper}" if self.helper else ""
        if self.error:
            return f"looked up in {self.config_file}{via}, which failed: {self.error}"
        if self.auth:
            user = self.auth.get("username") or self.auth.get("Username") or "a token"
            return f"found in {self.config_file}{via} (user {user})"
        return f"looked up in {self.config_file}{via}: no entry for {self.registry}"


def registry_of(repository: str) -> str:
    """The registry host of a repository name (``docker.io`` when it names none)."""
    first, sep, rest = repository.partition("/")
    if sep and rest and ("." in first or ":" in first or first == "localhost"):
        return "docker.io" if first in ("index.docker.io", "registry-1.docker.io") else first
    return DOCKER_HUB


def lookup_credentials(registry: str) -> Credentials:
    """Ask the Docker config (and its helpers) for ``registry``'s credentials (blocking)."""
    import docker.auth
    import docker.errors
    from docker.utils.config import find_config_file

    path = find_config_file() or ""
    if not path:
        return Credentials(registry=registry)
    try:
        config = docker.auth.load_config(path)
    except Exception as e:  # an unreadable or malformed file
        return Credentials(registry=registry, config_file=path, error=str(e))
    helper_name = config.cred_helpers.get(registry) or config.creds_store or ""
    helper = f"docker-credential-{helper_name}" if helper_name else ""
    if helper and shutil.which(helper) is None:
        return Credentials(
            registry=registry, config_file=path, helper=helper, error=f"{helper} is not on PATH"
        )
    try:
        auth = config.resolve_authconfig(None if registry == DOCKER_HUB else registry)
    except docker.errors.DockerException as e:
        return Credentials(registry=registry, config_file=path, helper=helper, error=str(e))
    found = {str(k): str(v) for k, v in (auth or {}).items() if v}
    secret_keys = ("password", "Password", "IdentityToken", "identitytoken")
    if not any(k in found for k in secret_keys):
        found = {}
    return Credentials(
        registry=registry,
        auth=found or None,
        config_file=path,
        helper=helper,
    )
