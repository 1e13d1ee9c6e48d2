"""Secret scrubbing: plain and base64 values, short values, disable_scrub, streamed logs."""

from __future__ import annotations

import base64

from tests.k8s.emulator import Emulator
from tests.k8s.test_logs import Sink, eventually, make_pod
from tilt.k8s.client import KubeClient
from tilt.k8s.logs import LogLine, PodLogs
from tilt.k8s.scrub import SecretScrubber

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db"},
    "data": {
        "password": base64.b64encode(b"hunter2-very-secret").decode(),
        "flag": base64.b64encode(b"yes").decode(),
    },
    "stringData": {"token": "tok_abcdef"},
}


def test_values_scrubbed_in_plain_and_base64() -> None:
    s = SecretScrubber()
    assert (
        s.add_objects(
            [SECRET, {"apiVersion": "v1", "kind": "ConfigMap", "data": {"x": "hunter2-not"}}]
        )
        == 4
    )
    enc = base64.b64encode(b"hunter2-very-secret").decode()
    assert s.scrub(f"connecting with hunter2-very-secret and {enc}") == (
        "connecting with [redacted secret db:password] and [redacted secret db:password]"
    )
    assert s.scrub("token=tok_abcdef ok") == "token=[redacted secret db:token] ok"
    assert s.scrub("flag is yes") == "flag is yes"  # under 5 characters: left alone
    assert s.scrub("hunter2-not") == "hunter2-not"


def test_disable_scrub() -> None:
    s = SecretScrubber(disabled=True)
    s.add_objects([SECRET])
    assert s.scrub("hunter2-very-secret") == "hunter2-very-secret"


def test_a_pod_printing_a_secret_never_shows_it(emu: Emulator, kube: KubeClient) -> None:
    s = SecretScrubber()
    s.add_objects([SECRET])
    sink = Sink()

    def emit(line: LogLine) -> None:
        sink(LogLine(pod=line.pod, container=line.container, text=s.scrub(line.text)))

    emu.log("web-1", "app", "DB_PASSWORD=hunter2-very-secret")
    logs = PodLogs(kube, make_pod(emu), emit)
    try:
        eventually(lambda: len(sink.shown()) == 1, "the line")
        assert sink.shown() == ["DB_PASSWORD=[redacted secret db:password]"]
    finally:
        logs.stop()


def test_many_secrets_and_overlapping_values() -> None:
    s = SecretScrubber()
    for i in range(500):
        s.add(f"s{i}", "k", f"value-number-{i:04d}".encode())
    line = "x " * 50 + "value-number-0420 " + "y " * 50
    out = s.scrub(line)
    assert "[redacted secret s420:k]" in out and "value-number" not in out
    s.add("long", "k", b"value-number-0420-and-more")
    assert s.scrub("value-number-0420-and-more") == "[redacted secret long:k]"
