"""The sqlite spool: FIFO order, acknowledgement, persistence, the size cap, corrupt files, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import structlog.testing

from detector.sinks import Message, Spool, default_spool_path


def test_fifo_peek_ack(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.sqlite", max_messages=100) as spool:
        ids = [spool.put(f"t/{i}", f"p{i}".encode(), qos=1, retain=i % 2 == 1) for i in range(5)]
        assert ids == sorted(ids) and len(set(ids)) == 5
        assert spool.depth == 5
        assert spool.peek(2) == [
            Message(ids[0], "t/0", b"p0", 1, False),
            Message(ids[1], "t/1", b"p1", 1, True),
        ]
        assert [m.id for m in spool.peek(10, after=ids[2])] == ids[3:]
        spool.ack(ids[1])
        spool.ack(ids[1])  # twice: ignored
        spool.ack(999_999)  # unknown: ignored
        assert spool.depth == 4
        assert [m.topic for m in spool.peek(10)] == ["t/0", "t/2", "t/3", "t/4"]
        spool.ack_many([ids[0], ids[2]])
        assert [m.topic for m in spool.peek(10)] == ["t/3", "t/4"]
        assert spool.put_many([("a", b"", 2, True), ("b", b"\x00\xff", 1, False)]) == [ids[4] + 1, ids[4] + 2]
        assert spool.peek(10)[-2:] == [
            Message(ids[4] + 1, "a", b"", 2, True),
            Message(ids[4] + 2, "b", b"\x00\xff", 1, False),
        ]
        assert spool.dropped == 0


def test_survives_reopen_and_ids_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "s.sqlite"  # parents are created
    with Spool(path) as spool:
        first = [spool.put("t", bytes([i])) for i in range(3)]
        spool.ack(first[2])  # the newest is acknowledged: its id must not come back
    with Spool(path) as spool:
        assert spool.depth == 2
        assert [m.payload for m in spool.peek(10)] == [b"\x00", b"\x01"]
        assert spool.put("t", b"new") > first[2]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cap_drops_oldest_and_counts_persistently(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with structlog.testing.capture_logs() as logs, Spool(path, max_messages=3) as spool:
        for i in range(5):
            spool.put("t", str(i).encode())
        assert spool.depth == 3
        assert spool.dropped == 2
        assert [m.payload for m in spool.peek(10)] == [b"2", b"3", b"4"]
        spool.put_many([("t", b"5", 1, False), ("t", b"6", 1, False)])
        assert [m.payload for m in spool.peek(10)] == [b"4", b"5", b"6"]
        assert spool.dropped == 4
    assert [e["event"] for e in logs].count("spool full: oldest messages dropped") == 1  # rate-limited
    with Spool(path, max_messages=3) as spool:
        assert spool.dropped == 4  # the count is kept in the file


def test_corrupt_file_set_aside_and_fresh_spool(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"\x00garbage" * 512)
    with structlog.testing.capture_logs() as logs, Spool(path) as spool:
        assert spool.depth == 0 and spool.persistent
        spool.put("t", b"ok")
    aside = sorted(p.name for p in tmp_path.glob("s.sqlite.corrupt-*"))
    assert len(aside) == 1 and aside[0].endswith("Z")
    assert (tmp_path / aside[0]).read_bytes().startswith(b"\x00garbage")
    assert any(
        e["event"].startswith("spool file unusable; set aside") and e["log_level"] == "error" for e in logs
    )
    with Spool(path) as spool:
        assert [m.payload for m in spool.peek(5)] == [b"ok"]


def test_damaged_database_detected(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Spool(path) as spool:
        for i in range(200):
            spool.put("t", bytes(500) + str(i).encode())
    data = bytearray(path.read_bytes())
    data[4096 : 4096 + 2048] = b"\xff" * 2048  # smash a page of the message table
    path.write_bytes(bytes(data))
    with Spool(path) as spool:
        assert spool.depth == 0
        spool.put("t", b"fresh")
    assert len(list(tmp_path.glob("s.sqlite.corrupt-*"))) == 1


def test_unusable_path_falls_back_to_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory should be")
    with structlog.testing.capture_logs() as logs, Spool(blocker / "s.sqlite") as spool:
        assert spool.persistent is False
        spool.put("t", b"x")
        assert spool.depth == 1
    assert any("in memory" in e["event"] for e in logs)


def test_thread_safe_puts_and_acks(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_messages=100_000)
    ids: list[list[int]] = [[] for _ in range(4)]

    def writer(k: int) -> None:
        for i in range(100):
            ids[k].append(spool.put(f"w{k}", str(i).encode()))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_ids = [i for chunk in ids for i in chunk]
    assert len(set(all_ids)) == 400 and spool.depth == 400
    for k in range(4):  # each writer's messages keep their order
        assert [m.payload for m in spool.peek(1000) if m.topic == f"w{k}"] == [
            str(i).encode() for i in range(100)
        ]
    acker = [threading.Thread(target=spool.ack_many, args=(chunk,)) for chunk in ids]
    for t in acker:
        t.start()
    for t in acker:
        t.join()
    assert spool.depth == 0 and spool.peek(10) == []
    spool.close()
    spool.close()  # idempotent
    with pytest.raises(sqlite3.ProgrammingError):
        spool.put("t", b"after close")


def test_max_messages_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_messages"):
        Spool(tmp_path / "s.sqlite", max_messages=0)


def test_default_spool_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}/state:{tmp_path}/other")
    assert default_spool_path("box1") == tmp_path / "state" / "spool-box1.sqlite"
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_spool_path("a/b") == tmp_path / ".local" / "state" / "sigdetect" / "spool-a_b.sqlite"


def test_a_full_disk_drops_the_oldest_and_keeps_spooling(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.sqlite", max_messages=1_000_000) as spool:
        page = spool._db().execute("PRAGMA page_size").fetchone()[0]
        pages = spool._db().execute("PRAGMA page_count").fetchone()[0]
        spool._db().execute(f"PRAGMA max_page_count = {pages + 40}")  # the file may grow by 40 pages only
        payload = b"x" * (page // 4)
        with structlog.testing.capture_logs() as logs:
            ids = [spool.put("t", payload) for _ in range(400)]  # far more than 40 pages hold
        assert len(ids) == 400 and ids == sorted(ids)
        assert spool.dropped > 0 and spool.depth == 400 - spool.dropped
        kept = spool.peek(1000)
        assert [m.id for m in kept] == ids[-len(kept) :]  # the newest survive, in order
        assert any(e["event"] == "spool disk full: oldest messages dropped" for e in logs)
