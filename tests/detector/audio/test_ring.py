"""Tests of SampleRing: exact stream positions under concurrent overflow, and its small contracts."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from detector.audio.ring import SampleRing

INDEX_PERIOD = 2**23  # float32 holds every integer below this exactly
TOTAL_SAMPLES = 10_000_000


def _stream(n: int) -> np.ndarray:
    """Sample i of the stream carries its own index (mod 2**23)."""
    return (np.arange(n, dtype=np.int64) % INDEX_PERIOD).astype(np.float32)


def _hammer(capacity: int, seed: int, reader_sleep_prob: float) -> dict:
    """Write TOTAL_SAMPLES in random blocks while a reader with random pauses consumes; check every block."""
    ring = SampleRing(capacity)
    data = _stream(TOTAL_SAMPLES)
    writer_drops: list[tuple[int, int]] = []  # (first dropped stream index, count), as the writer saw them
    writer_error: list[BaseException] = []

    def writer() -> None:
        try:
            rng = np.random.default_rng(seed)
            pos = 0
            while pos < TOTAL_SAMPLES:
                n = min(int(rng.integers(1, 4097)), TOTAL_SAMPLES - pos)
                stored = ring.write(data[pos : pos + n])
                if stored < n:
                    writer_drops.append((pos + stored, n - stored))
                pos += n
                if rng.random() < 0.2:
                    time.sleep(0.0001)  # let the reader in now and then
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            writer_error.append(exc)
        finally:
            ring.close()

    thread = threading.Thread(target=writer)
    thread.start()
    rng = np.random.default_rng(seed + 1)
    delivered = 0
    prev_end = 0
    reader_gaps: list[tuple[int, int]] = []
    n_blocks = 0
    while True:
        block = ring.peek(int(rng.integers(1, 8193)), timeout=10.0)
        if block is None:
            break
        assert len(block.samples) > 0
        assert block.start >= prev_end, "blocks overlap or go backwards"
        if block.start > prev_end:
            reader_gaps.append((prev_end, block.start - prev_end))
        expected = (np.arange(block.start, block.end, dtype=np.int64) % INDEX_PERIOD).astype(np.float32)
        np.testing.assert_array_equal(block.samples, expected)
        delivered += len(block.samples)
        prev_end = block.end
        n_blocks += 1
        ring.consume(len(block.samples))
        if rng.random() < reader_sleep_prob:
            time.sleep(float(rng.uniform(0, 0.001)))
    thread.join()
    assert not writer_error, writer_error
    assert ring.closed
    stats = ring.stats()
    if prev_end < TOTAL_SAMPLES:  # samples dropped after the last delivered block
        reader_gaps.append((prev_end, TOTAL_SAMPLES - prev_end))
    assert stats.offered == TOTAL_SAMPLES
    assert delivered + stats.dropped == stats.offered
    assert delivered == stats.consumed == stats.stored
    assert sum(n for _, n in reader_gaps) == stats.dropped
    assert _merge(writer_drops) == reader_gaps
    assert stats.overflows == len(writer_drops)
    return {"dropped": stats.dropped, "gaps": len(reader_gaps), "blocks": n_blocks}


def _merge(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join adjacent (start, count) runs, as the reader sees them."""
    out: list[tuple[int, int]] = []
    for start, n in runs:
        if out and out[-1][0] + out[-1][1] == start:
            out[-1] = (out[-1][0], out[-1][1] + n)
        else:
            out.append((start, n))
    return out


@pytest.mark.timeout(60)
def test_small_ring_under_overflow_keeps_exact_positions() -> None:
    result = _hammer(capacity=4096, seed=1, reader_sleep_prob=0.3)
    assert result["dropped"] > 0
    assert result["gaps"] > 10
    assert result["blocks"] > 100


@pytest.mark.timeout(60)
def test_big_ring_drops_nothing() -> None:
    result = _hammer(capacity=TOTAL_SAMPLES, seed=2, reader_sleep_prob=0.01)
    assert result["dropped"] == 0
    assert result["gaps"] == 0


def test_wrap_around_splits_blocks_at_the_end_of_the_buffer() -> None:
    ring = SampleRing(8)
    ring.write(np.arange(6, dtype=np.float32))
    ring.consume(len(ring.peek().samples))
    ring.write(np.arange(6, 11, dtype=np.float32))  # positions 6, 7, then 0, 1, 2
    first = ring.read()
    second = ring.read()
    assert (first.start, first.samples.tolist()) == (6, [6, 7])
    assert (second.start, second.samples.tolist()) == (8, [8, 9, 10])
    assert ring.available() == 0


def test_capacity_rounds_up_to_a_power_of_two() -> None:
    assert SampleRing(5000).capacity == 8192
    with pytest.raises(ValueError):
        SampleRing(0)


def test_peek_does_not_consume() -> None:
    ring = SampleRing(16)
    ring.write(np.array([1, 2, 3], dtype=np.float32))
    a = ring.peek()
    b = ring.peek(max_samples=2)
    assert a.start == b.start == 0
    assert a.samples.tolist() == [1, 2, 3]
    assert b.samples.tolist() == [1, 2]
    assert ring.available() == 3


def test_consume_more_than_available_raises() -> None:
    ring = SampleRing(16)
    ring.write(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="3 available"):
        ring.consume(4)
    with pytest.raises(ValueError):
        ring.consume(-1)


def test_overflow_drops_the_tail_and_records_the_gap() -> None:
    ring = SampleRing(4)
    assert ring.write(np.arange(6, dtype=np.float32)) == 4
    ring.consume(len(ring.peek().samples))
    ring.write(np.arange(6, 8, dtype=np.float32))
    block = ring.read()
    assert (block.start, block.samples.tolist()) == (6, [6, 7])
    stats = ring.stats()
    assert (stats.offered, stats.dropped, stats.overflows) == (8, 2, 1)


def test_close_drains_then_returns_none() -> None:
    ring = SampleRing(16)
    ring.write(np.array([1, 2], dtype=np.float32))
    ring.close()
    assert ring.read().samples.tolist() == [1, 2]
    assert ring.peek(timeout=5.0) is None
    assert ring.read() is None


def test_peek_times_out_with_none() -> None:
    ring = SampleRing(16)
    t0 = time.monotonic()
    assert ring.peek(timeout=0.05) is None
    assert time.monotonic() - t0 >= 0.04


def test_peek_wakes_when_data_arrives() -> None:
    ring = SampleRing(16)
    timer = threading.Timer(0.05, ring.write, args=(np.ones(2, dtype=np.float32),))
    timer.start()
    block = ring.peek(timeout=5.0)
    timer.join()
    assert block is not None and block.samples.tolist() == [1, 1]


def test_overflow_storm_with_a_stalled_reader_keeps_one_gap() -> None:
    ring = SampleRing(8)
    ring.write(np.arange(8, dtype=np.float32))
    for _ in range(10_000):  # the reader is stuck: every write is lost
        assert ring.write(np.ones(64, dtype=np.float32)) == 0
    assert len(ring._gaps) == 0  # nothing published until data follows the gap
    ring.consume(len(ring.peek().samples))
    ring.write(np.array([5.0], dtype=np.float32))
    assert len(ring._gaps) == 1
    block = ring.read()
    assert (block.start, block.samples.tolist()) == (8 + 640_000, [5.0])
    stats = ring.stats()
    assert (stats.dropped, stats.overflows, stats.offered) == (640_000, 10_000, 640_009)


def test_skip_advances_the_stream_clock_without_data() -> None:
    ring = SampleRing(64)
    ring.write(np.arange(10, dtype=np.float32))
    ring.skip(1000)  # e.g. the capture device was away for 1000 samples
    ring.write(np.arange(10, 15, dtype=np.float32))
    first, second = ring.read(), ring.read()
    assert (first.start, len(first.samples)) == (0, 10)
    assert (second.start, second.samples.tolist()) == (1010, [10, 11, 12, 13, 14])
    stats = ring.stats()
    assert (stats.skipped, stats.dropped, stats.offered) == (1000, 0, 1015)
    with pytest.raises(ValueError):
        ring.skip(-1)


def test_peek_refuses_an_empty_request() -> None:
    ring = SampleRing(16)
    ring.write(np.ones(4, dtype=np.float32))
    with pytest.raises(ValueError, match="max_samples"):
        ring.peek(max_samples=0)
