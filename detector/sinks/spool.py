"""On-disk FIFO (sqlite) of outgoing MQTT messages: nothing leaves it until the broker acknowledged it.

Durability: the database runs in WAL mode with ``synchronous=FULL``. In WAL mode ``NORMAL`` already
survives a crash of the *process*, but a power cut (the usual way a Raspberry Pi goes down: its plug is
pulled, an SD card has no capacitor) can roll back the last committed transactions, i.e. lose events
the daemon believed safe. ``FULL`` adds one fsync of the WAL per commit; a box makes a few messages a
minute, so the cost is nothing, and acknowledgements are deleted in batches (``ack_many``) so a backlog
of thousands drains at sqlite speed rather than one fsync per message.

A file that cannot be opened or read as a spool (corrupt, not a database, unreadable) is renamed aside
to ``<name>.corrupt-<UTC time>`` and an empty spool starts in its place; when even that fails the spool
lives in memory for this run. The spool never takes the daemon down.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import structlog

log = structlog.get_logger("detector")

SCHEMA_VERSION = 1
DROP_LOG_INTERVAL_SECONDS = 60.0  # at most one "spool full" warning per minute

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', 1);
INSERT OR IGNORE INTO meta (key, value) VALUES ('dropped', 0);
"""


def default_spool_path(device: str) -> Path:
    """Where a device's spool lives when the config does not say.

    ``$STATE_DIRECTORY`` (set by systemd's ``StateDirectory=``; the first entry when it lists several),
    else ``~/.local/state/sigdetect``; the file is ``spool-<device>.sqlite`` (characters other than
    letters, digits, ``.``, ``_`` and ``-`` in the device id become ``_``).
    """
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    base = Path(state) if state else Path.home() / ".local" / "state" / "sigdetect"
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", device).lstrip(".") or "device"
    return base / f"spool-{safe}.sqlite"


class Message(NamedTuple):
    """One spooled message.

    Attributes:
        id: Spool id; increases with every ``put`` and is never reused (the send order).
        topic: MQTT topic.
        payload: Message body.
        qos: MQTT QoS, 0..2.
        retain: The broker should retain it.
    """

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Spool:
    """A thread-safe, persistent FIFO of outgoing messages with a size cap (oldest dropped, counted).

    One sqlite connection shared by all threads under a lock. Messages a previous run left behind are
    still there (``peek`` returns them first) when the same file is opened again.
    """

    def __init__(self, path: str | Path, max_messages: int = 100_000) -> None:
        """Open (or create) the spool file.

        Args:
            path: The sqlite file; parent directories are created. ``":memory:"``: not persistent.
            max_messages: Most messages kept; beyond it the oldest are deleted and counted in ``dropped``.

        Raises:
            ValueError: ``max_messages`` < 1.
        """
        if max_messages < 1:
            raise ValueError(f"max_messages: got {max_messages!r}; expected >= 1")
        self.path = Path(path) if str(path) != ":memory:" else None
        self.max_messages = int(max_messages)
        self.persistent = True
        self._lock = threading.Lock()
        self._last_drop_log = -float("inf")
        self._conn: sqlite3.Connection | None = self._open()
        conn = self._conn
        self._depth = int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
        self._dropped = int(conn.execute("SELECT value FROM meta WHERE key='dropped'").fetchone()[0])
        if self._depth:
            log.info("spool has messages from a previous run", path=str(self.path), depth=self._depth)

    # -- opening ---------------------------------------------------------------------------------------

    def _connect(self, target: str) -> sqlite3.Connection:
        conn = sqlite3.connect(target, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            if target != ":memory:":
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    log.warning("spool: WAL mode not available", path=target, journal_mode=mode)
            conn.execute("PRAGMA synchronous=FULL")
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {check}")
            conn.executescript(_SCHEMA)
            version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
            if version != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"schema version {version}; expected {SCHEMA_VERSION}")
            conn.execute("SELECT id, topic, payload, qos, retain FROM messages LIMIT 1").fetchall()
        except BaseException:
            conn.close()
            raise
        return conn

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            self.persistent = False
            return self._connect(":memory:")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._connect(str(self.path))
        except (sqlite3.Error, OSError) as exc:
            aside = self._set_aside(exc)
            if aside is not None:
                try:
                    return self._connect(str(self.path))
                except (sqlite3.Error, OSError) as exc2:
                    exc = exc2
            log.error(
                "spool file unusable; keeping messages in memory for this run (not persistent)",
                path=str(self.path),
                error=str(exc),
            )
            self.persistent = False
            return self._connect(":memory:")

    def _set_aside(self, exc: BaseException) -> Path | None:
        """Rename an unusable spool file (and its -wal/-shm) aside; returns the new name or None."""
        assert self.path is not None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            if self.path.exists():
                self.path.rename(aside)
            for suffix in ("-wal", "-shm"):
                extra = self.path.with_name(self.path.name + suffix)
                if extra.exists():
                    extra.rename(aside.with_name(aside.name + suffix))
        except OSError as err:
            log.error("spool file unusable and cannot be renamed", path=str(self.path), error=str(err))
            return None
        log.error(
            "spool file unusable; set aside, starting an empty spool",
            path=str(self.path),
            moved_to=str(aside),
            error=str(exc),
        )
        return aside

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise sqlite3.ProgrammingError("spool is closed")
        return self._conn

    # -- queue operations ------------------------------------------------------------------------------

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Append one message; returns its spool id.

        Raises:
            sqlite3.Error: The database failed (disk full, I/O error); the message was not stored.
        """
        return self.put_many([(topic, payload, qos, retain)])[0]

    def put_many(self, messages: Sequence[tuple[str, bytes, int, bool]]) -> list[int]:
        """Append several ``(topic, payload, qos, retain)`` messages in one transaction; returns their ids.

        Beyond ``max_messages`` the oldest messages are deleted and counted in ``dropped``. When the disk
        (or the database) is full, the oldest messages are dropped (counted) to make room, once.

        Raises:
            sqlite3.Error: The database failed; none of the messages was stored.
        """
        try:
            return self._put_many(messages)
        except sqlite3.OperationalError as exc:
            if "full" not in str(exc).lower():
                raise
            freed = self._drop_oldest(max(len(messages), self._depth // 10))
            log.error("spool disk full: oldest messages dropped", path=str(self.path), dropped=freed)
            if freed == 0:
                raise
            return self._put_many(messages)

    def _drop_oldest(self, n: int) -> int:
        """Delete the ``n`` oldest messages (counted as dropped); returns how many went."""
        with self._lock:
            conn = self._db()
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute(
                    "DELETE FROM messages WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT ?)", (n,)
                )
                gone = max(cur.rowcount, 0)
                conn.execute("UPDATE meta SET value = value + ? WHERE key='dropped'", (gone,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # sqlite may have rolled back itself (e.g. SQLITE_FULL)
                    conn.execute("ROLLBACK")
                raise
            self._dropped += gone
            self._depth -= gone
        return gone

    def _put_many(self, messages: Sequence[tuple[str, bytes, int, bool]]) -> list[int]:
        ids: list[int] = []
        with self._lock:
            conn = self._db()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for topic, payload, qos, retain in messages:
                    cur = conn.execute(
                        "INSERT INTO messages (topic, payload, qos, retain) VALUES (?, ?, ?, ?)",
                        (topic, bytes(payload), int(qos), int(bool(retain))),
                    )
                    ids.append(int(cur.lastrowid or 0))
                depth = self._depth + len(ids)
                excess = depth - self.max_messages
                if excess > 0:
                    conn.execute(
                        "DELETE FROM messages WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT ?)",
                        (excess,),
                    )
                    conn.execute("UPDATE meta SET value = value + ? WHERE key='dropped'", (excess,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # sqlite may have rolled back itself (e.g. SQLITE_FULL)
                    conn.execute("ROLLBACK")
                raise
            if excess > 0:
                self._dropped += excess
                depth -= excess
                now = time.monotonic()
                if now - self._last_drop_log >= DROP_LOG_INTERVAL_SECONDS:
                    self._last_drop_log = now
                    log.warning(
                        "spool full: oldest messages dropped",
                        path=str(self.path),
                        max_messages=self.max_messages,
                        dropped_total=self._dropped,
                    )
            self._depth = depth
        return ids

    def peek(self, limit: int = 100, after: int = 0) -> list[Message]:
        """The oldest ``limit`` messages with an id greater than ``after``, oldest first (not removed)."""
        with self._lock:
            cur = self._db().execute(
                "SELECT id, topic, payload, qos, retain FROM messages WHERE id > ? ORDER BY id LIMIT ?",
                (int(after), int(limit)),
            )
            rows = cur.fetchall()
        return [Message(int(r[0]), str(r[1]), bytes(r[2]), int(r[3]), bool(r[4])) for r in rows]

    def ack(self, message_id: int) -> None:
        """Delete one message (the broker acknowledged it); an unknown id is ignored."""
        self.ack_many([message_id])

    def ack_many(self, message_ids: Iterable[int]) -> None:
        """Delete several messages in one transaction; unknown ids are ignored."""
        ids = [(int(i),) for i in message_ids]
        if not ids:
            return
        with self._lock:
            conn = self._db()
            conn.execute("BEGIN IMMEDIATE")
            try:
                before = conn.total_changes
                conn.executemany("DELETE FROM messages WHERE id = ?", ids)
                deleted = conn.total_changes - before
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # sqlite may have rolled back itself (e.g. SQLITE_FULL)
                    conn.execute("ROLLBACK")
                raise
            self._depth = max(0, self._depth - deleted)

    @property
    def depth(self) -> int:
        """Messages waiting (including ones sent but not yet acknowledged)."""
        with self._lock:
            return self._depth

    @property
    def dropped(self) -> int:
        """Messages dropped because the spool was full, over the spool file's whole life."""
        with self._lock:
            return self._dropped

    def close(self) -> None:
        """Close the database (idempotent). What is left stays in the file for the next run."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except sqlite3.Error as exc:  # pragma: no cover - close does not fail in practice
                    log.warning("spool close failed", path=str(self.path), error=str(exc))
                self._conn = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
