"""The v2 client's Bearer-token flow (Docker Hub, GHCR, GCR style).

Debian's docker-registry only does token auth with a separately run token
service that signs JWTs; that service is the boundary we cannot run here, so a
small HTTP server plays both the registry's challenge and the token service,
over real HTTP. Basic auth is tested against the real registry (test_push.py).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tilt.registry.v2 import RegistryAPIError, remote_config_digest

CONFIG_DIGEST = "sha256:" + "ab" * 32


class _Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []

    def log_message(self, *_: object) -> None:
        pass

    def _send(self, code: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        auth = self.headers.get("Authorization", "")
        self.seen.append((url.path, auth))
        host = self.headers["Host"]
        if url.path == "/token":
            q = parse_qs(url.query)
            ok_user = auth == "Basic " + base64.b64encode(b"me:pw").decode()
            if q.get("scope") == ["repository:team/app:pull"] and q.get("service") == ["reg"]:
                self._send(200, {"token": "T-user" if ok_user else "T-anon"})
            else:
                self._send(400, {"error": "bad scope"})
            return
        if url.path.startswith("/v2/team/"):
            if auth not in ("Bearer T-user",):
                challenge = (
                    f'Bearer realm="http://{host}/token",service="reg",'
                    'scope="repository:team/app:pull"'
                )
                self._send(401, {"errors": []}, {"WWW-Authenticate": challenge})
                return
            if url.path == "/v2/team/app/manifests/t1":
                self._send(200, {"schemaVersion": 2, "config": {"digest": CONFIG_DIGEST}})
            else:
                self._send(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
            return
        self._send(404, {})


@pytest.fixture
def token_registry() -> Iterator[str]:
    _Handler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    t.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_bearer_token_with_credentials(token_registry: str) -> None:
    auth = {"username": "me", "password": "pw"}
    got = remote_config_digest(token_registry, "team/app", "t1", auth=auth, insecure=True)
    assert got == CONFIG_DIGEST
    assert ("/token", "Basic " + base64.b64encode(b"me:pw").decode()) in _Handler.seen
    assert remote_config_digest(token_registry, "team/app", "t2", auth=auth, insecure=True) is None


def test_bearer_token_refused_is_an_error(token_registry: str) -> None:
    with pytest.raises(RegistryAPIError) as info:
        remote_config_digest(token_registry, "team/app", "t1", insecure=True)
    assert info.value.status == 401


def test_plain_http_only_when_insecure(token_registry: str) -> None:
    with pytest.raises(RegistryAPIError, match="did not answer"):
        remote_config_digest(token_registry, "team/app", "t1", insecure=False)
