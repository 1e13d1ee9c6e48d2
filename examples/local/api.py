"""A tiny HTTP service: GET /healthz (readiness), GET /greeting, POST /jobs, GET /jobs.

Run: python3 api.py  (PORT from the environment, default 8765). Standard library only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from greeting import greet

JOBS: list[dict[str, object]] = []
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._send(200, {"ok": True})
        elif self.path.startswith("/greeting"):
            self._send(200, {"message": greet(os.environ.get("GREET_NAME", "tilt"))})
        elif self.path == "/jobs":
            with LOCK:
                self._send(200, {"jobs": list(JOBS)})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/jobs":
            self._send(404, {"error": "not found"})
            return
        with LOCK:
            job = {"id": len(JOBS) + 1, "at": time.time()}
            JOBS.append(job)
        self._send(201, job)

    def log_message(self, fmt: str, *args: object) -> None:
        print(f"api: {self.command} {self.path}", flush=True)


def main() -> None:
    port = int(os.environ.get("PORT", "8765"))
    # Pretend to warm up, so the readiness probe has something to wait for.
    time.sleep(0.3)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"api: listening on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
