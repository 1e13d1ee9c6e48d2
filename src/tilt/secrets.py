"""Secret values never reach a log (Tilt's SecretSet).

Every value of every Kubernetes Secret tilt knows (``data``, base64-decoded, and
``stringData``) is replaced in log text by ``[redacted secret NAME:KEY]``, in its plain and
its base64 form. Tilt learns them when the Tiltfile loads (the Secrets among its Kubernetes
objects) and when they are deployed (what an ``apply_cmd`` printed too); once learned, a value
stays scrubbed until tilt exits, even after the Secret is gone. Values shorter than 5 bytes
are left alone, in both forms (Tilt's rule: scrubbing ``a`` or ``true`` would mangle every
line). ``secret_settings(disable_scrub=True)`` turns it off.

The log store (`tilt.logstore.LogStore`) holds one `SecretScrubber` and scrubs every line
appended to it: the single place every log line passes through. Its cost when no Secret is
known is one attribute read per line (`SecretScrubber.active`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tilt.model import TiltfileResult

__all__ = ["MIN_SECRET_LENGTH", "SecretScrubber"]

#: Values (as bytes) shorter than this are not scrubbed (Tilt's ``minSecretLengthToScrub``).
MIN_SECRET_LENGTH = 5


class SecretScrubber:
    """Collects secret values and scrubs text; thread-safe.

    Attributes:
        active: Whether `scrub` can change anything (values are known and scrubbing is not
            disabled): a plain attribute, so a hot path checks it for the price of a read.
    """

    def __init__(self, *, disabled: bool = False) -> None:
        self._disabled = disabled
        self._replacements: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self.active = False

    def __len__(self) -> int:
        return len(self._replacements)

    @property
    def disabled(self) -> bool:
        """``secret_settings(disable_scrub=True)``: text is left as it is (values are still
        learned, so turning scrubbing back on scrubs them again)."""
        return self._disabled

    @disabled.setter
    def disabled(self, value: bool) -> None:
        with self._lock:
            self._disabled = bool(value)
            self._compile()

    def _compile(self) -> None:
        """Rebuild the pattern (the lock is held). Adds are rare (a Tiltfile load, a deploy);
        the pattern is ready before the next line is scrubbed."""
        if self._disabled or not self._replacements:
            self._pattern = None
        else:
            # Longest first: a value containing another is replaced whole.
            alternatives = sorted(self._replacements, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, alternatives)))
        self.active = self._pattern is not None

    def add(self, name: str, key: str, value: bytes) -> None:
        """Learn one value of Secret ``name``'s ``key`` (its plain and base64 forms)."""
        self._add_many([(name, key, value)])

    def _add_many(self, values: Iterable[tuple[str, str, bytes]]) -> int:
        added = 0
        with self._lock:
            for name, key, value in values:
                if len(value) < MIN_SECRET_LENGTH:
                    continue  # as Tilt: neither form of a short value
                replacement = f"[redacted secret {name}:{key}]"
                forms = [base64.b64encode(value).decode()]
                # A binary value: only its base64 form can appear in text.
                with contextlib.suppress(UnicodeDecodeError):
                    forms.append(value.decode())
                for form in forms:
                    if self._replacements.get(form) != replacement:
                        self._replacements[form] = replacement
                        added += 1
            if added:
                self._compile()
        return added

    def learn_tiltfile(self, result: TiltfileResult) -> None:
        """Take a Tiltfile's scrub setting and learn the Secrets among its Kubernetes
        objects (every resource's, enabled or not), as Tilt does at load."""
        self.disabled = result.settings.secrets_disable_scrub
        if not self.disabled:
            self.add_objects(
                obj.body for r in result.resources if r.k8s is not None for obj in r.k8s.objects
            )

    def add_objects(self, objects: Iterable[dict[str, Any]]) -> int:
        """Learn the values of the Secrets among ``objects``; how many forms were added."""
        values: list[tuple[str, str, bytes]] = []
        for obj in objects:
            if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1":
                continue
            name = str((obj.get("metadata") or {}).get("name", ""))
            for key, b64 in (obj.get("data") or {}).items():
                try:
                    raw = base64.b64decode(str(b64), validate=False)
                except (binascii.Error, ValueError):
                    raw = str(b64).encode()
                values.append((name, str(key), raw))
            for key, text in (obj.get("stringData") or {}).items():
                values.append((name, str(key), str(text).encode()))
        return self._add_many(values)

    def scrub(self, text: str) -> str:
        """``text`` with every known value replaced."""
        pattern = self._pattern
        if pattern is None:
            return text
        replacements = self._replacements
        return pattern.sub(lambda m: replacements[m.group(0)], text)
