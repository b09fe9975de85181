"""Fixtures shared by the audio source tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from detector.audio import SampleRing, Source


def _collect(source: Source, ring: SampleRing, started: bool = False) -> np.ndarray:
    """Run ``source`` to its end and return every sample it wrote; checks the stream is gap-free, lossless."""
    if not started:
        source.start(ring)
    blocks, expected_start = [], 0
    while (block := ring.read(timeout=10.0)) is not None:
        assert block.start == expected_start, "gap in the stream"
        blocks.append(block.samples)
        expected_start = block.end
    source.join(10.0)
    assert not source.running
    assert source.error is None, source.error
    assert source.finished
    assert ring.stats().dropped == 0
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


@pytest.fixture
def collect() -> Callable[..., np.ndarray]:
    """``collect(source, ring, started=False)``: run a source to its end, return all its samples."""
    return _collect
