"""Secret values out of every log: the scrubber's rules (Tilt's) and the log store's check."""

from __future__ import annotations

import base64

from tilt.logstore import LogStore
from tilt.secrets import SecretScrubber


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def test_a_short_value_is_left_alone_in_both_forms_as_in_tilt() -> None:
    """Tilt skips a value under 5 bytes, its base64 form too (8 characters for 4 bytes)."""
    s = SecretScrubber()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "f"}}
    assert s.add_objects([{**secret, "stringData": {"pin": "1234"}}]) == 0
    assert s.scrub(f"pin 1234 or {b64(b'1234')}") == f"pin 1234 or {b64(b'1234')}"
    assert not s.active


def test_the_length_rule_counts_bytes_as_tilt_does() -> None:
    """A 2-character value of 6 bytes (UTF-8) is long enough; 5 ASCII bytes are too."""
    s = SecretScrubber()
    s.add("greeting", "ja", "日本".encode())
    s.add("five", "k", b"abcde")
    assert s.scrub("say 日本 and abcde") == (
        "say [redacted secret greeting:ja] and [redacted secret five:k]"
    )
    assert s.scrub(b64("日本".encode())) == "[redacted secret greeting:ja]"


def test_a_binary_value_is_scrubbed_in_its_base64_form() -> None:
    raw = b"\xff\xfe\x00\x01\x02\x03"
    s = SecretScrubber()
    s.add("tls", "key", raw)
    assert s.scrub(f"key={b64(raw)}") == "key=[redacted secret tls:key]"


def test_disabling_and_enabling_again() -> None:
    s = SecretScrubber()
    s.add("db", "password", b"hunter2-very-secret")
    s.disabled = True
    assert not s.active and s.scrub("hunter2-very-secret") == "hunter2-very-secret"
    s.disabled = False
    assert s.active and s.scrub("hunter2-very-secret") == "[redacted secret db:password]"


def test_the_log_store_scrubs_every_line_and_keyed_updates() -> None:
    store = LogStore()
    seen: list[str] = []
    store.add_listener(lambda ln: seen.append(ln.text))
    store.append("api", "before: hunter2-very-secret")
    store.secrets.add("db", "password", b"hunter2-very-secret")
    store.append("api", "after: hunter2-very-secret")
    store.append("(Tiltfile)", "print hunter2-very-secret", span="tiltfile")
    store.append("web", "count 1 hunter2-very-secret", span="event", key="k")
    store.append("web", f"count 2 {b64(b'hunter2-very-secret')}", span="event", key="k")
    texts = [ln.text for ln in store.lines()]
    assert texts == [
        "before: hunter2-very-secret",  # learned later: what was stored stays
        "after: [redacted secret db:password]",
        "print [redacted secret db:password]",
        "count 2 [redacted secret db:password]",  # the keyed line, updated in place
    ]
    assert seen[1:] == [
        "after: [redacted secret db:password]",
        "print [redacted secret db:password]",
        "count 1 [redacted secret db:password]",
        "count 2 [redacted secret db:password]",
    ]


def test_with_no_secret_known_a_line_is_stored_as_given() -> None:
    """The no-Secret path does no work on the text: the very string object is stored."""
    store = LogStore()
    text = "".join(["a line ", "built at run time"])
    assert not store.secrets.active
    assert store.append("api", text).text is text
