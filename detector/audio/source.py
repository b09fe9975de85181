"""The interface every audio source implements: fill a SampleRing from a thread of its own."""

from __future__ import annotations

import abc
import threading

from detector.audio.ring import SampleRing


class Source(abc.ABC):
    """A producer of mono float32 samples at ``sample_rate``, written to a ring from its own thread.

    Life cycle: ``start(ring)`` once; the source writes until it ends by itself (end of file or
    stream: it then closes the ring and ``finished`` becomes True) or until ``stop()``. ``join()``
    waits for its thread. A fatal error ends the source, closes the ring, and is kept in ``error``.
    """

    #: rate of the samples written to the ring (after any resampling)
    sample_rate: int

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.finished = False

    @abc.abstractmethod
    def describe(self) -> str:
        """One line naming what this source reads from (for logs)."""

    @abc.abstractmethod
    def _run(self, ring: SampleRing) -> None:
        """Produce samples into ``ring`` until the input ends or ``self._stop`` is set."""

    def stats(self) -> dict[str, int | float | str]:
        """Source-specific counters (non-finite samples replaced, re-opens, partial bytes, ...)."""
        return {}

    def start(self, ring: SampleRing) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.describe()} already started")
        self._thread = threading.Thread(
            target=self._main, args=(ring,), name=type(self).__name__, daemon=True
        )
        self._thread.start()

    def _main(self, ring: SampleRing) -> None:
        try:
            self._run(ring)
            self.finished = not self._stop.is_set()
        except BaseException as exc:  # noqa: BLE001 - kept for the owner to report
            self.error = exc
        finally:
            ring.close()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
