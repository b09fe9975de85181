"""Event logic on scripted score streams: thresholds, min windows, hysteresis, hold-open, refractory."""

from __future__ import annotations

import json

import pytest

from detector.events import Event, EventRules, EventTracker, sequence

HOP_S = 0.08  # patch hop of the general profile
WINDOW_S = 0.962  # its patch span


def tracker(rules: EventRules | None = None, threshold: float = 0.6, seq=None) -> EventTracker:
    return EventTracker(
        "dog",
        rules or EventRules(),
        threshold=threshold,
        patch_hop_seconds=HOP_S,
        device="box",
        model="general",
        signature="abc123",
        seq=seq or sequence(),
        clock=lambda: "2026-01-01T00:00:00.000Z",
    )


def feed(t: EventTracker, scores: list[float], first: int = 0, threshold: float | None = None) -> list[Event]:
    """Feed window scores (window i starts at (first + i) hops); return all events."""
    out: list[Event] = []
    for i, s in enumerate(scores, start=first):
        out += t.update(i * HOP_S, i * HOP_S + WINDOW_S, s, -20.0 - i, threshold)
    return out


def centre(i: int) -> float:
    return i * HOP_S + WINDOW_S / 2


def test_a_single_window_over_threshold_is_no_event_two_are() -> None:
    assert feed(tracker(), [0.1, 0.9, 0.1, 0.1]) == []
    events = feed(tracker(), [0.1, 0.9, 0.95, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert [e.state for e in events] == ["start", "end"]
    start, end = events
    assert start.start == pytest.approx(centre(1) - HOP_S / 2)
    assert start.end is None and start.score == 0.95 and start.peak_score == 0.95
    assert end.start == start.start and end.end == pytest.approx(centre(2) + HOP_S / 2)
    assert end.id == start.id and end.seq == start.seq + 1
    assert end.score == pytest.approx((0.9 + 0.95) / 2) and end.peak_score == 0.95
    assert end.level_dbfs == -21.0  # the loudest of windows 1 and 2


def test_start_is_emitted_as_soon_as_min_windows_are_reached() -> None:
    t = tracker(EventRules(min_windows=3))
    assert t.update(0, WINDOW_S, 0.9, -20) == []
    assert t.update(HOP_S, HOP_S + WINDOW_S, 0.9, -20) == []
    (start,) = t.update(2 * HOP_S, 2 * HOP_S + WINDOW_S, 0.9, -20)
    assert start.state == "start" and t.active


def test_hysteresis_keeps_an_event_open_between_the_two_thresholds() -> None:
    # on at 0.6, off below 0.55: 0.57 continues the event, 0.5 (with no hold) ends it
    rules = EventRules(hysteresis=0.05, hold_seconds=0.0)
    events = feed(tracker(rules), [0.7, 0.7, 0.57, 0.57, 0.57, 0.5, 0.1])
    assert [e.state for e in events] == ["start", "end"]
    assert events[1].end == pytest.approx(centre(4) + HOP_S / 2)


def test_hold_open_bridges_short_dips_but_not_long_ones() -> None:
    rules = EventRules(hold_seconds=0.2, refractory_seconds=0.0)
    short_dip = [0.9, 0.9, 0.1, 0.1, 0.9, 0.9] + [0.1] * 6  # 2 windows = 0.16 s below
    events = feed(tracker(rules), short_dip)
    assert [e.state for e in events] == ["start", "end"]
    long_dip = [0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.9, 0.9] + [0.1] * 6  # 0.32 s below
    events = feed(tracker(rules), long_dip)
    assert [e.state for e in events] == ["start", "end", "start", "end"]
    assert events[0].id != events[2].id


def test_refractory_time_blocks_a_new_event_right_after_one_ended() -> None:
    rules = EventRules(hold_seconds=0.0, refractory_seconds=1.0)
    scores = [0.9, 0.9, 0.1] + [0.9] * 5 + [0.1] * 20 + [0.9, 0.9, 0.1]
    events = feed(tracker(rules), scores)
    # the burst at windows 3-7 falls within 1 s of the first event's end: ignored; window 28 is not
    assert [e.state for e in events] == ["start", "end", "start", "end"]
    assert events[2].start == pytest.approx(centre(28) - HOP_S / 2)


def test_flush_ends_an_open_event_and_drops_a_candidate() -> None:
    t = tracker()
    feed(t, [0.9, 0.9, 0.9])
    (end,) = t.flush()
    assert end.state == "end" and not t.active
    t2 = tracker()
    feed(t2, [0.1, 0.9])  # one window: a candidate only
    assert t2.busy and t2.flush() == [] and not t2.busy


def test_an_effective_threshold_only_raises_the_bar() -> None:
    assert feed(tracker(), [0.7, 0.7, 0.1], threshold=0.8) == []  # adapted threshold above the scores
    events = feed(tracker(), [0.7, 0.7, 0.1], threshold=0.2)  # lower than the signature's: ignored
    assert events and events[0].score == 0.7
    assert feed(tracker(), [0.5, 0.5, 0.1], threshold=0.2) == []


def test_rules_threshold_overrides_the_signature_and_nan_counts_as_zero() -> None:
    t = tracker(EventRules(threshold=0.3), threshold=0.9)
    assert t.threshold == 0.3
    assert [e.state for e in feed(t, [0.4, 0.4, float("nan")] + [0.0] * 6)] == ["start", "end"]


def test_seq_is_shared_across_targets_and_events_are_design_json() -> None:
    seq = sequence()
    a, b = tracker(seq=seq), tracker(seq=seq)
    ea = feed(a, [0.9, 0.9])
    eb = feed(b, [0.9, 0.9])
    assert [e.seq for e in ea + eb] == [1, 2]
    doc = json.loads(ea[0].to_json())
    assert set(doc) == {
        "id", "seq", "device", "target", "state", "start", "end", "score", "peak_score",
        "model", "signature", "level_dbfs", "wallclock",
    }  # fmt: skip
    assert Event.from_dict(doc) == ea[0]
    with pytest.raises(ValueError, match="lacks seq"):
        Event.from_dict({k: v for k, v in doc.items() if k != "seq"})


@pytest.mark.parametrize(
    "bad", [{"threshold": 1.5}, {"hysteresis": -0.1}, {"min_windows": 0}, {"hold_seconds": -1.0}]
)
def test_bad_rules_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        EventRules(**bad)
