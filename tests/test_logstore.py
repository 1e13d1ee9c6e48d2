"""The bounded per-resource log store."""

from __future__ import annotations

import pytest

from tilt.logstore import (
    KEY_OVERHEAD_BYTES,
    LINE_OVERHEAD_BYTES,
    LogLine,
    LogStore,
    prints_update,
)


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


# ---- keyed lines: updated in place -------------------------------------------------------
def test_a_keyed_line_is_updated_in_place_and_listeners_see_the_update() -> None:
    s = LogStore()
    seen: list[LogLine] = []
    s.add_listener(seen.append)
    a = s.append("web", "Unhealthy (x1)", span="event", key="k")
    s.append("web", "other")
    b = s.append("web", "Unhealthy (x2)", span="runtime", key="k")
    assert (b.seq, b.rev, b.key, b.span) == (a.seq, 1, "k", "event")  # its place and span kept
    assert [ln.text for ln in s.lines("web")] == ["Unhealthy (x2)", "other"]
    assert [(ln.seq, ln.rev) for ln in s.lines("web")] == [(1, 1), (2, 0)]
    assert s.last_seq == 2  # an update is no new line
    assert [(ln.text, ln.rev) for ln in seen] == [
        ("Unhealthy (x1)", 0),
        ("other", 0),
        ("Unhealthy (x2)", 1),
    ]
    keyed_cost = cost("Unhealthy (x2)") + len("k") + KEY_OVERHEAD_BYTES  # the key counts too
    assert s.total_bytes == keyed_cost + cost("other")
    # The same text again is no update; another resource's key is another line.
    assert s.append("web", "Unhealthy (x2)", key="k") is b
    c = s.append("db", "Unhealthy (x1)", key="k")
    assert c.seq == 3 and c.rev == 0 and len(seen) == 4
    assert s.tail("web", 1)[0].text == "other" and s.tail("web", 2)[0].text == "Unhealthy (x2)"


def test_a_dropped_keyed_line_takes_its_key_with_it() -> None:
    s = LogStore(max_bytes=cost("x" * 10) * 3)
    first = s.append("web", "k-line v0", key="k")
    for i in range(5):
        s.append("web", f"filler {i:03d}")
    assert all(ln.seq != first.seq for ln in s.lines("web"))  # dropped under the cap
    again = s.append("web", "k-line v1", key="k")
    assert again.seq > first.seq and again.rev == 0  # a new line, at the end
    assert s.lines("web")[-1] is again


def test_updates_keep_the_key_index_and_bytes_bounded() -> None:
    cap = 64 * 1024
    s = LogStore(max_bytes=cap)
    for i in range(50_000):
        s.append("web", f"event {i % 3000} (x{i // 3000 + 1})", key=f"e{i % 3000}")
        s.append("web", f"plain line {i}")
    assert s.total_bytes <= cap
    keyed = [ln for ln in s.lines("web") if ln.key]
    assert keyed and len(keyed) == len({ln.key for ln in keyed})  # one line per key
    assert len(s._logs["web"].keyed) == len(keyed)  # the index holds only stored lines


@pytest.mark.parametrize(
    ("rev", "printed"),
    [(0, False), (1, True), (2, True), (3, False), (4, True), (7, False), (8, True), (1024, True)],
)
def test_prints_update_at_doublings_of_the_revision(rev: int, printed: bool) -> None:
    assert prints_update(rev) is printed
