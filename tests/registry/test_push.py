"""Pushing to a real registry on 127.0.0.1 (Debian's docker-registry), with and without auth."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.docker.conftest import free_port
from tests.registry.conftest import AuthRegistry, Image
from tilt.registry.credentials import Credentials, lookup_credentials
from tilt.registry.push import (
    InsecureRegistryError,
    RegistryAuthError,
    RegistryUnreachableError,
    engine_treats_insecure,
    explain_push_error,
    push,
)
from tilt.registry.v2 import remote_config_digest

pytestmark = pytest.mark.usefixtures("fresh_client")


def run_push(image: Image, push_ref: str, **kw: Any) -> tuple[Any, list[str]]:
    lines: list[str] = []
    result = asyncio.run(
        asyncio.wait_for(
            push(image.image_ref, image.image_id, push_ref, on_output=lines.append, **kw), 120
        )
    )
    return result, lines


def tags(host: str, repo: str, auth: tuple[str, str] | None = None) -> list[str]:
    req = urllib.request.Request(f"http://{host}/v2/{repo}/tags/list")
    if auth:
        import base64

        req.add_header(
            "Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        )
    with urllib.request.urlopen(req, timeout=5) as r:
        return sorted(json.loads(r.read()).get("tags") or [])


def test_push_then_skip_when_present(
    image: Image, plain_registry: str, docker_config: Callable[..., Path]
) -> None:
    docker_config()
    repo = f"{plain_registry}/{image.image_ref.replace('/', '_')}"
    result, lines = run_push(image, f"{repo}:tilt-test")
    assert not result.skipped
    assert result.ref == f"{repo}:tilt-test"
    assert result.digest.startswith("sha256:")
    assert lines[0] == f"Pushing {repo}:tilt-test"
    assert any(line.endswith(": Pushed") for line in lines), lines
    assert lines[-1] == f"Pushed {repo}:tilt-test ({result.digest})"
    assert tags(plain_registry, image.image_ref.replace("/", "_")) == ["tilt-test"]
    # the registry holds exactly our image: its config digest is our image id
    name = image.image_ref.replace("/", "_")
    assert remote_config_digest(plain_registry, name, "tilt-test", insecure=True) == image.image_id

    again, lines = run_push(image, f"{repo}:tilt-test")
    assert again.skipped
    assert lines == [
        f"{plain_registry} already has {repo}:tilt-test (image {image.image_id[7:19]}): "
        "skipping the push"
    ]


def test_other_image_under_same_tag_is_pushed(
    docker_client: Any, image: Image, plain_registry: str, tmp_path: Path
) -> None:
    from tests.registry.conftest import build_image

    ref = f"{plain_registry}/same:tilt-test"
    run_push(image, ref)
    other = build_image(docker_client, tmp_path / "o", "other", "different content")
    result, _ = run_push(other, ref)
    assert not result.skipped
    assert (
        remote_config_digest(plain_registry, "same", "tilt-test", insecure=True) == other.image_id
    )


def test_push_with_htpasswd_auth(
    image: Image, auth_registry: AuthRegistry, docker_config: Callable[..., Path]
) -> None:
    reg = auth_registry
    docker_config({reg.host: (reg.user, reg.password)})
    ref = f"{reg.host}/authed:tilt-test"
    result, _ = run_push(image, ref)
    assert not result.skipped
    assert tags(reg.host, "authed", (reg.user, reg.password)) == ["tilt-test"]
    # the presence check authenticates too (Basic challenge)
    again, _ = run_push(image, ref)
    assert again.skipped


def test_no_credentials_explains_where_it_looked(
    image: Image, auth_registry: AuthRegistry, docker_config: Callable[..., Path]
) -> None:
    path = docker_config({"other.example:5000": ("x", "y")})
    with pytest.raises(RegistryAuthError) as info:
        run_push(image, f"{auth_registry.host}/authed:tilt-test")
    msg = str(info.value)
    assert f"registry {auth_registry.host} refused the push" in msg
    assert f"looked up in {path}: no entry for {auth_registry.host}" in msg
    assert f"Run `docker login {auth_registry.host}`" in msg
    assert info.value.registry == auth_registry.host


def test_wrong_password_names_the_user_and_file(
    image: Image, auth_registry: AuthRegistry, docker_config: Callable[..., Path]
) -> None:
    path = docker_config({auth_registry.host: (auth_registry.user, "wrong")})
    with pytest.raises(RegistryAuthError) as info:
        run_push(image, f"{auth_registry.host}/authed:tilt-test")
    assert f"found in {path} (user {auth_registry.user})" in str(info.value)


def test_unreachable_registry(image: Image, docker_config: Callable[..., Path]) -> None:
    docker_config()
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(RegistryUnreachableError) as info:
        run_push(image, f"{host}/nowhere:tilt-test")
    assert f"registry {host} is not reachable from the Docker engine" in str(info.value)
    assert "connection refused" in str(info.value)


def test_credentials_lookup_without_config(docker_config: Callable[..., Path]) -> None:
    creds = lookup_credentials("127.0.0.1:5000")
    assert creds.auth is None
    assert creds.where.startswith("no Docker config file exists")


def test_credentials_lookup_reads_the_file(docker_config: Callable[..., Path]) -> None:
    path = docker_config({"127.0.0.1:5000": ("me", "pw")})
    creds = lookup_credentials("127.0.0.1:5000")
    assert creds.auth is not None
    assert (creds.auth["username"], creds.auth["password"]) == ("me", "pw")
    assert creds.where == f"found in {path} (user me)"


def test_missing_credential_helper_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_config: Callable[..., Path]
) -> None:
    path = docker_config()
    path.write_text(json.dumps({"credHelpers": {"127.0.0.1:5000": "tilt-nonexistent"}}))
    creds = lookup_credentials("127.0.0.1:5000")
    assert creds.helper == "docker-credential-tilt-nonexistent"
    assert creds.auth is None
    assert creds.where == (
        f"looked up in {path} through the credential helper docker-credential-tilt-nonexistent,"
        " which failed: docker-credential-tilt-nonexistent is not on PATH"
    )


# The engine's own messages (Docker 20.10-27), as they arrive in the push stream.
INSECURE = 'Get "https://10.1.2.3:5000/v2/": http: server gave HTTP response to HTTPS client'
X509 = 'Get "https://reg.local/v2/": x509: certificate signed by unknown authority'


def test_insecure_registry_says_what_to_configure() -> None:
    creds = Credentials(registry="10.1.2.3:5000")
    err = explain_push_error("app", "10.1.2.3:5000", INSECURE, creds, step="push")
    assert isinstance(err, InsecureRegistryError)
    assert '"insecure-registries": ["10.1.2.3:5000"]' in str(err)
    assert "/etc/docker/daemon.json" in str(err)
    tls = explain_push_error("app", "reg.local", X509, creds, step="push")
    assert isinstance(tls, InsecureRegistryError)
    assert "/etc/docker/certs.d/reg.local/ca.crt" in str(tls)


@pytest.mark.parametrize(
    ("registry", "config", "insecure"),
    [
        ("127.0.0.1:5000", {"InsecureRegistryCIDRs": ["127.0.0.0/8"]}, True),
        ("localhost:5000", {"InsecureRegistryCIDRs": ["127.0.0.0/8"]}, True),
        ("10.1.2.3:5000", {"InsecureRegistryCIDRs": ["127.0.0.0/8"]}, False),
        ("10.1.2.3:5000", {"InsecureRegistryCIDRs": ["10.0.0.0/8"]}, True),
        ("reg:5000", {"IndexConfigs": {"reg:5000": {"Secure": False}}}, True),
        ("docker.io", {"IndexConfigs": {"docker.io": {"Secure": True}}}, False),
    ],
)
def test_engine_treats_insecure(registry: str, config: dict[str, Any], insecure: bool) -> None:
    assert engine_treats_insecure(registry, config) is insecure


def test_real_engine_registry_config(docker_client: Any) -> None:
    config = docker_client.info()["RegistryConfig"]
    assert engine_treats_insecure("127.0.0.1:5000", config)
