"""JSONL and log sinks: lines parse back to equal events; the log line carries every field."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import structlog.testing

from detector.events import Event
from detector.sinks import JsonlSink, LogSink, Sink


def _event(seq: int, state: str = "start") -> Event:
    return Event(
        id=f"{seq:032x}",
        seq=seq,
        device="box1",
        target="glass-break",
        state=state,  # type: ignore[arg-type]
        start=1.25 * seq,
        end=None if state == "start" else 1.25 * seq + 0.5,
        score=0.875,
        peak_score=0.9375,
        model="general",
        signature="3f2a9c",
        level_dbfs=-18.25,
        wallclock="2026-11-22T06:30:00.123Z",
    )


def test_jsonl_lines_parse_back_to_equal_events(tmp_path: Path) -> None:
    path = tmp_path / "out" / "nested" / "events.jsonl"  # parents created
    sink = JsonlSink(path)
    assert isinstance(sink, Sink)
    events = [_event(i, "start" if i % 2 else "end") for i in range(1, 7)]
    for event in events[:3]:
        sink.publish(event)
    # flushed per line: readable before close
    assert [Event.from_dict(json.loads(line)) for line in path.read_text().splitlines()] == events[:3]
    for event in events[3:]:
        sink.publish(event)
    sink.close()
    sink.close()  # idempotent
    lines = path.read_text().splitlines()
    assert [Event.from_dict(json.loads(line)) for line in lines] == events
    assert lines[0] == events[0].to_json()
    sink.publish(_event(99))  # after close: logged, not raised, not written
    assert len(path.read_text().splitlines()) == 6


def test_jsonl_appends_across_runs_and_threads(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(_event(0).to_json() + "\n")
    sink = JsonlSink(path)
    threads = [
        threading.Thread(target=lambda k=k: [sink.publish(_event(100 * k + i)) for i in range(50)])
        for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sink.close()
    seqs = [json.loads(line)["seq"] for line in path.read_text().splitlines()]  # every line is whole JSON
    assert seqs[0] == 0 and sorted(seqs[1:]) == sorted(100 * k + i for k in range(4) for i in range(50))
    assert sink.written == 200


def test_log_sink_logs_each_event() -> None:
    sink = LogSink()
    assert isinstance(sink, Sink)
    event = _event(7, "end")
    with structlog.testing.capture_logs() as logs:
        sink.publish(event)
    sink.close()
    assert len(logs) == 1
    entry = logs[0]
    assert entry["event"] == "detection" and entry["log_level"] == "info"
    assert list(entry)[:3] == ["target", "state", "id"]
    assert {k: v for k, v in entry.items() if k not in ("event", "log_level")} == event.to_dict()
