"""A one-shot report of the api's jobs (the manual `report` resource runs it)."""

from __future__ import annotations

import json
import os
import urllib.request


def main() -> None:
    api = os.environ.get("API_URL", "http://127.0.0.1:8765")
    with urllib.request.urlopen(f"{api}/jobs", timeout=2) as resp:
        jobs = json.load(resp)["jobs"]
    with urllib.request.urlopen(f"{api}/greeting", timeout=2) as resp:
        message = json.load(resp)["message"]
    print(f"report: {message} {len(jobs)} job(s) so far")


if __name__ == "__main__":
    main()
