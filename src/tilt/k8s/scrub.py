"""Secret values never reach a log (Tilt's SecretSet).

Every value of every Kubernetes Secret the Tiltfile deploys (``data``, base64-decoded, and
``stringData``) is replaced in log text by ``[redacted secret NAME:KEY]``, in its plain and its
base64 form. Values shorter than 5 characters are left alone (Tilt's rule: scrubbing "a" or
"true" would mangle every line). Once seen, a secret stays scrubbed until tilt exits.
``secret_settings(disable_scrub=True)`` turns it off.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["MIN_SECRET_LENGTH", "SecretScrubber"]

MIN_SECRET_LENGTH = 5


class SecretScrubber:
    """Collects secret values and scrubs text; thread-safe."""

    def __init__(self, *, disabled: bool = False) -> None:
        self.disabled = disabled
        self._replacements: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._replacements)

    def add(self, name: str, key: str, value: bytes) -> None:
        try:
            plain = value.decode()
        except UnicodeDecodeError:
            plain = ""
        encoded = base64.b64encode(value).decode()
        replacement = f"[redacted secret {name}:{key}]"
        with self._lock:
            for v in (plain, encoded):
                if len(v) >= MIN_SECRET_LENGTH:
                    self._replacements[v] = replacement
            self._pattern = None  # compiled again on the next scrub

    def add_objects(self, objects: Iterable[dict[str, Any]]) -> int:
        """Learn the values of the Secrets among ``objects``; how many values were added."""
        before = len(self)
        for obj in objects:
            if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1":
                continue
            name = (obj.get("metadata") or {}).get("name", "")
            for key, b64 in (obj.get("data") or {}).items():
                try:
                    self.add(name, key, base64.b64decode(str(b64), validate=False))
                except (binascii.Error, ValueError):
                    self.add(name, key, str(b64).encode())
            for key, text in (obj.get("stringData") or {}).items():
                self.add(name, key, str(text).encode())
        return len(self) - before

    def scrub(self, text: str) -> str:
        if self.disabled:
            return text
        pattern = self._pattern
        if pattern is None:
            with self._lock:
                if not self._replacements:
                    return text
                # Longest first: a value containing another is replaced whole.
                alternatives = sorted(self._replacements, key=len, reverse=True)
                pattern = self._pattern = re.compile("|".join(map(re.escape, alternatives)))
        return pattern.sub(lambda m: self._replacements[m.group(0)], text)
