"""Single-producer single-consumer float32 sample ring with an absolute sample clock and drop accounting.

The writer (a capture callback, a file or pipe thread) never blocks: samples that do not fit are dropped,
counted, and recorded as a gap, so the reader always knows the exact stream position of every sample it
gets. Readers receive contiguous blocks as views into the ring (no copy) via ``peek``/``consume``.

Thread-safety model: exactly one writer thread and one reader thread. Counters are plain Python ints
updated after the data they publish is in place; the GIL makes each update atomic and ordered.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RingBlock:
    """A contiguous run of samples: ``samples[i]`` is stream sample ``start + i``."""

    start: int  # absolute stream index (samples since the stream began, dropped ones included)
    samples: np.ndarray  # float32 1-D; a view into the ring until consumed

    @property
    def end(self) -> int:
        return self.start + len(self.samples)


@dataclass(frozen=True)
class RingStats:
    """Counters of a ring (read without a lock: momentarily inconsistent by one write at most)."""

    stored: int  # samples that made it into the ring
    consumed: int  # samples the reader released
    dropped: int  # samples lost to overflow (the reader was too slow)
    skipped: int  # samples that never arrived (e.g. the device was away), see SampleRing.skip
    overflows: int  # writes that lost samples
    fill: int  # samples waiting to be read

    @property
    def offered(self) -> int:
        """The stream clock: every sample position the writer went past."""
        return self.stored + self.dropped + self.skipped


class SampleRing:
    """SPSC ring of float32 samples.

    Args:
        capacity: samples the ring holds; rounded up to a power of two.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be >= 1 sample, got {capacity}")
        self.capacity = 1 << (int(capacity) - 1).bit_length()
        self._mask = self.capacity - 1
        self._buf = np.zeros(self.capacity, dtype=np.float32)
        self._stored = 0  # written by the writer only
        self._consumed = 0  # written by the reader only
        self._dropped = 0
        self._skipped = 0
        self._overflows = 0
        # Gaps as (stored index at which the gap sits, samples missing there): appended by the writer
        # just before the first sample after the gap is published, popped by the reader. Consecutive
        # losses with no stored sample between them merge into the writer's open gap, so the deque holds
        # at most one entry per stretch of stored data. deque append/popleft are atomic in CPython.
        self._gaps: collections.deque[tuple[int, int]] = collections.deque()
        self._open_gap = 0  # writer-side: samples missing since the last stored sample
        self._gap_offset = 0  # reader-side: stream index minus stored index at the read position
        self._data_ready = threading.Event()
        self._closed = False

    # ------------------------------------------------------------------ writer side
    def write(self, samples: np.ndarray) -> int:
        """Append samples; never blocks. Returns how many were stored (the rest were dropped)."""
        n = len(samples)
        if n == 0:
            return 0
        free = self.capacity - (self._stored - self._consumed)
        take = min(n, free)
        if take:
            if self._open_gap:
                # publish the gap before the samples after it, so the reader never reads across it
                self._gaps.append((self._stored, self._open_gap))
                self._open_gap = 0
            pos = self._stored & self._mask
            first = min(take, self.capacity - pos)
            self._buf[pos : pos + first] = samples[:first]
            if take > first:
                self._buf[: take - first] = samples[first:take]
        lost = n - take
        if lost:
            self._open_gap += lost
            self._dropped += lost
            self._overflows += 1
        self._stored += take
        self._data_ready.set()
        return take

    def skip(self, n: int) -> None:
        """Advance the stream clock by ``n`` samples that will never arrive (a device outage, say).

        The reader sees a gap there, exactly as for dropped samples, so stream times after it stay true.
        """
        if n < 0:
            raise ValueError(f"cannot skip {n} samples")
        self._open_gap += n
        self._skipped += n

    def close(self) -> None:
        """Mark the end of the stream: readers drain what is left and then get ``None``."""
        self._closed = True
        self._data_ready.set()

    # ------------------------------------------------------------------ reader side
    @property
    def closed(self) -> bool:
        return self._closed

    def available(self) -> int:
        """Samples ready to read."""
        return self._stored - self._consumed

    def peek(self, max_samples: int | None = None, timeout: float | None = None) -> RingBlock | None:
        """Return the next contiguous block without consuming it.

        The block never spans a gap or the ring's wrap point; call ``consume(len(block.samples))`` once
        done with it (the view stays valid until then). Waits up to ``timeout`` seconds for data
        (``None`` waits until data or close). Returns ``None`` on timeout, or when closed and drained.
        """
        if max_samples is not None and max_samples < 1:
            raise ValueError(f"max_samples must be >= 1, got {max_samples}")
        while self._stored == self._consumed:
            if self._closed and self._stored == self._consumed:
                return None
            self._data_ready.clear()
            if self._stored != self._consumed or self._closed:
                continue
            if not self._data_ready.wait(timeout):
                return None
        stored = self._stored
        start_stored = self._consumed
        n = stored - start_stored
        # apply gaps that sit exactly at the read position; stop the block at the next gap
        while self._gaps and self._gaps[0][0] <= start_stored:
            self._gap_offset += self._gaps.popleft()[1]
        if self._gaps:
            n = min(n, self._gaps[0][0] - start_stored)
        pos = start_stored & self._mask
        n = min(n, self.capacity - pos)
        if max_samples is not None:
            n = min(n, max_samples)
        return RingBlock(start_stored + self._gap_offset, self._buf[pos : pos + n])

    def consume(self, n: int) -> None:
        """Release ``n`` samples previously returned by ``peek``."""
        if n < 0 or n > self._stored - self._consumed:
            raise ValueError(f"cannot consume {n} samples: {self._stored - self._consumed} available")
        self._consumed += n

    def read(self, max_samples: int | None = None, timeout: float | None = None) -> RingBlock | None:
        """``peek`` + copy + ``consume``: a block the caller may keep."""
        block = self.peek(max_samples, timeout)
        if block is None:
            return None
        out = RingBlock(block.start, block.samples.copy())
        self.consume(len(out.samples))
        return out

    def stats(self) -> RingStats:
        stored, consumed = self._stored, self._consumed
        return RingStats(
            stored=stored,
            consumed=consumed,
            dropped=self._dropped,
            skipped=self._skipped,
            overflows=self._overflows,
            fill=stored - consumed,
        )
