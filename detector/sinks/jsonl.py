"""JSONL sink: appends every event as one JSON line to a file (flushed per line)."""

from __future__ import annotations

import threading
from pathlib import Path

import structlog

from detector.events import Event

log = structlog.get_logger("detector")


class JsonlSink:
    """Appends ``event.to_json()`` plus a newline per event; thread-safe; each line is flushed at once."""

    def __init__(self, path: str | Path) -> None:
        """Open ``path`` for appending (parent directories are created).

        Raises:
            OSError: The file cannot be created or opened for appending.
        """
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8", newline="\n")
        self._lock = threading.Lock()
        self.written = 0
        self.errors = 0

    def publish(self, event: Event) -> None:
        """Append one line; a write error (disk full...) is logged and counted, never raised."""
        line = event.to_json() + "\n"
        with self._lock:
            if self._file.closed:
                log.warning("jsonl sink closed; event not written", path=str(self.path), seq=event.seq)
                return
            try:
                self._file.write(line)
                self._file.flush()
                self.written += 1
            except OSError as exc:
                self.errors += 1
                log.error("jsonl write failed", path=str(self.path), error=str(exc), seq=event.seq)

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if not self._file.closed:
                try:
                    self._file.close()
                except OSError as exc:
                    log.error("jsonl close failed", path=str(self.path), error=str(exc))
