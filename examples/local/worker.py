"""A worker that depends on the api: it submits a job every few seconds and reports.

Run: python3 worker.py  (API_URL from the environment). Standard library only.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request


def main() -> None:
    api = os.environ.get("API_URL", "http://127.0.0.1:8765")
    interval_s = float(os.environ.get("WORKER_INTERVAL_S", "3"))
    while True:
        req = urllib.request.Request(f"{api}/jobs", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                job = json.load(resp)
            print(f"worker: submitted job {job['id']}", flush=True)
        except OSError as e:
            print(f"worker: api unreachable ({e}); retrying", flush=True)
        time.sleep(interval_s)


if __name__ == "__main__":
    main()
