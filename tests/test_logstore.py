"""The bounded per-resource log store."""

from __future__ import annotations

import pytest

from tilt.logstore import LINE_OVERHEAD_BYTES, LogLine, LogStore


def cost(text: str) -> int:
    return len(text) + LINE_OVERHEAD_BYTES


def test_append_numbers_lines_and_filters() -> None:
    s = LogStore()
    a = s.append("web", "hello")
    b = s.append("db", "ready", span="build")
    c = s.append("web", "world")
    assert (a.seq, b.seq, c.seq) == (1, 2, 3)
    assert a.span == "runtime" and b.span == "build"
    assert [ln.text for ln in s.lines()] == ["hello", "ready", "world"]
    assert [ln.text for ln in s.lines("web")] == ["hello", "world"]
    assert [ln.text for ln in s.lines(since_seq=1)] == ["ready", "world"]
    assert [ln.text for ln in s.lines("web", since_seq=1)] == ["world"]
    assert [ln.text for ln in s.lines(span="build")] == ["ready"]
    assert s.lines("nope") == []
    assert s.resources() == ["web", "db"]
    assert s.last_seq == 3


@pytest.mark.parametrize(
    ("resource", "n", "want"),
    [
        (None, 2, ["b2", "a3"]),
        (None, 10, ["a1", "b2", "a3"]),
        ("a", 1, ["a3"]),
        ("a", 5, ["a1", "a3"]),
        ("b", 5, ["b2"]),
        ("zzz", 5, []),
        (None, 0, []),
    ],
)
def test_tail(resource: str | None, n: int, want: list[str]) -> None:
    s = LogStore()
    s.append("a", "a1")
    s.append("b", "b2")
    s.append("a", "a3")
    assert [ln.text for ln in s.tail(resource, n)] == want


def test_listener_sees_every_line_in_order_and_unsubscribes() -> None:
    s = LogStore()
    seen: list[LogLine] = []
    unsub = s.add_listener(seen.append)
    for i in range(5):
        s.append("r", f"l{i}")
    unsub()
    unsub()  # a second call is harmless
    s.append("r", "after")
    assert [ln.text for ln in seen] == [f"l{i}" for i in range(5)]


def test_listener_removing_itself_does_not_skip_others() -> None:
    s = LogStore()
    seen: list[str] = []
    unsub_holder: list[object] = []

    def first(line: LogLine) -> None:
        seen.append("first")
        fn = unsub_holder[0]
        assert callable(fn)
        fn()

    unsub_holder.append(s.add_listener(first))
    s.add_listener(lambda ln: seen.append("second"))
    s.append("r", "x")
    s.append("r", "y")
    assert seen == ["first", "second", "second"]


def test_cap_drops_oldest_of_noisiest_with_one_counting_marker() -> None:
    line = "x" * 36  # costs 36 + overhead
    cap = cost(line) * 100
    s = LogStore(max_bytes=cap)
    markers: list[LogLine] = []
    s.add_listener(lambda ln: markers.append(ln) if ln.span == "system" else None)
    s.append("quiet", "q1")
    s.append("quiet", "q2")
    for i in range(300):
        s.append("noisy", f"{i:036d}")
    assert s.total_bytes <= cap
    # The quiet resource keeps everything; the noisy one lost its oldest lines.
    assert [ln.text for ln in s.lines("quiet")] == ["q1", "q2"]
    noisy = s.lines("noisy")
    dropped = s.dropped("noisy")
    assert dropped > 0 and s.dropped("quiet") == 0
    assert noisy[0].span == "system"
    assert noisy[0].text == f"... {dropped} lines dropped ..."
    # Exactly one marker in the log, and the kept lines are the newest, in order.
    assert sum(1 for ln in noisy if ln.span == "system") == 1
    kept = [int(ln.text) for ln in noisy[1:]]
    assert kept == list(range(300 - len(kept), 300))
    assert dropped + len(kept) == 300
    # The marker counted up over several runs of drops (not one per line).
    assert len(markers) >= 2
    assert len(markers) < dropped
    counts = [int(m.text.split()[1]) for m in markers]
    assert counts == sorted(counts) and counts[-1] == dropped
    # It sorts where the dropped lines were.
    merged = s.lines()
    assert merged.index(noisy[0]) < merged.index(noisy[1])


def test_two_equally_noisy_resources_share_the_drops() -> None:
    line = "y" * 40
    s = LogStore(max_bytes=cost(line) * 50)
    for _ in range(200):
        s.append("a", line)
        s.append("b", line)
    assert abs(s.dropped("a") - s.dropped("b")) <= 3
    assert len(s.lines("a")) > 10 and len(s.lines("b")) > 10


def test_newest_line_is_always_kept() -> None:
    s = LogStore(max_bytes=10)
    s.append("a", "a" * 100)
    s.append("b", "b" * 100)
    assert [ln.text[0] for ln in s.lines() if ln.span != "system"] == ["a", "b"]
    s.append("a", "c" * 100)
    assert [ln.text[0] for ln in s.lines("a") if ln.span != "system"] == ["c"]
    assert s.dropped("a") == 1


def test_since_seq_sees_a_new_marker() -> None:
    s = LogStore(max_bytes=cost("z" * 10) * 10)
    for _ in range(10):
        s.append("r", "z" * 10)
    mark = s.last_seq
    for _ in range(5):
        s.append("r", "z" * 10)
    new = s.lines("r", since_seq=mark)
    assert [ln.span for ln in new] == ["runtime"] * 5


def test_invalid_cap() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        LogStore(max_bytes=0)


def test_million_appends_stay_within_the_cap() -> None:
    # Speed is measured in benchmarks/, never asserted here (noisy machines).
    s = LogStore()
    s.add_listener(lambda ln: None)
    for i in range(1_000_000):
        s.append("web" if i % 4 else "db", "a typical log line of some length")
    assert s.last_seq == 1_000_000
    assert s.total_bytes <= s.max_bytes


def test_a_failing_listener_reaches_neither_the_producer_nor_other_listeners(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = LogStore()
    seen: list[str] = []

    def broken(line: LogLine) -> None:
        raise OSError(28, "No space left on device")

    store.add_listener(broken)
    store.add_listener(lambda ln: seen.append(ln.text))
    for i in range(100):
        store.append("r", str(i))
    assert [ln.text for ln in store.lines("r")] == [str(i) for i in range(100)]
    assert seen == [str(i) for i in range(100)]
    assert capsys.readouterr().err.count("a log observer failed") == 1
