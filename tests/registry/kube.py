"""A tiny Kubernetes API server for the three reads registry discovery makes.

The k8s work's full emulator (tests/k8s/emulator.py) had not reached main when
these tests were written; this serves, over real HTTP and in the API's own
shapes, only what `KubeClusterReader` asks the official client for: one
ConfigMap, one Service (GET by name, 404 ``Status`` otherwise) and the Node list
(``limit`` honoured). Switch to the full emulator when it is on main.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_PLURALS = {"ConfigMap": "configmaps", "Service": "services"}


class MiniKube:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.nodes: list[dict[str, Any]] = []
        self.requests: list[str] = []
        kube = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                kube.requests.append(url.path)
                if url.path == "/api/v1/nodes":
                    limit = int(parse_qs(url.query).get("limit", ["0"])[0] or 0)
                    items = kube.nodes[:limit] if limit else kube.nodes
                    body: dict[str, Any] = {
                        "apiVersion": "v1",
                        "kind": "NodeList",
                        "metadata": {"resourceVersion": "1"},
                        "items": items,
                    }
                    code = 200
                elif url.path in kube.objects:
                    body, code = kube.objects[url.path], 200
                else:
                    code = 404
                    body = {
                        "apiVersion": "v1",
                        "kind": "Status",
                        "status": "Failure",
                        "reason": "NotFound",
                        "message": f"{url.path} not found",
                        "code": 404,
                    }
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> MiniKube:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_object(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        if obj["kind"] == "Node":
            self.nodes.append(obj)
            return
        path = f"/api/v1/namespaces/{meta['namespace']}/{_PLURALS[obj['kind']]}/{meta['name']}"
        self.objects[path] = {**obj, "apiVersion": "v1"}

    def kubeconfig(self, context: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": "u"}}],
            "users": [{"name": "u", "user": {"token": "test-token"}}],
        }
