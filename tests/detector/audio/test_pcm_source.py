"""Tests of PcmStreamSource on real pipes, FIFOs and a subprocess: exact samples, partial frames, channels."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
import structlog.testing

from detector.audio import PcmStreamSource, SampleRing
from detector.errors import AudioInputError

RATE_HZ = 16000


def feed(open_writer: Callable[[], BinaryIO], payload: bytes, seed: int = 0) -> threading.Thread:
    """In a thread: open the writer, write ``payload`` in random-sized pieces (cutting samples), close it."""

    def run() -> None:
        rng = np.random.default_rng(seed)
        pos = 0
        with open_writer() as write_end:
            while pos < len(payload):
                n = int(rng.integers(1, 3000))
                write_end.write(payload[pos : pos + n])
                write_end.flush()
                pos += n

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def pipe_source(payload: bytes, **kwargs) -> tuple[PcmStreamSource, threading.Thread]:
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb", buffering=0)
    source = PcmStreamSource(reader, **kwargs)
    return source, feed(lambda: os.fdopen(write_fd, "wb", buffering=0), payload)


def int16_noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-32768, 32768, n).astype("<i2")


def test_s16le_through_a_pipe_is_exact(collect) -> None:
    samples = int16_noise(50_000)
    source, writer = pipe_source(samples.tobytes(), in_rate=RATE_HZ, sample_rate=RATE_HZ, lossless=True)
    got = collect(source, SampleRing(2048))
    writer.join()
    np.testing.assert_array_equal(got, samples.astype(np.float32) / 32768)
    assert source.stats()["trailing_bytes_dropped"] == 0


def test_s16le_through_a_fifo_is_exact(tmp_path: Path, collect) -> None:
    fifo = tmp_path / "audio.fifo"
    os.mkfifo(fifo)
    samples = int16_noise(30_000, seed=1)
    source = PcmStreamSource(fifo, in_rate=RATE_HZ, sample_rate=RATE_HZ, lossless=True)
    ring = SampleRing(4096)
    source.start(ring)  # opens the FIFO in its own thread, waiting for the writer
    writer = feed(functools.partial(open, fifo, "wb", buffering=0), samples.tobytes(), seed=1)
    got = collect(source, ring, started=True)
    writer.join()
    np.testing.assert_array_equal(got, samples.astype(np.float32) / 32768)


def test_stream_ending_mid_sample_keeps_every_whole_sample(collect) -> None:
    samples = int16_noise(1001, seed=2)
    payload = samples.tobytes() + b"\x7f"  # one byte of a sample that never completes
    source, writer = pipe_source(payload, in_rate=RATE_HZ, sample_rate=RATE_HZ, lossless=True)
    with structlog.testing.capture_logs() as logs:
        got = collect(source, SampleRing(4096))
    writer.join()
    np.testing.assert_array_equal(got, samples.astype(np.float32) / 32768)
    assert source.stats()["trailing_bytes_dropped"] == 1
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1 and warnings[0]["trailing_bytes"] == 1


def test_stereo_channel_selection(collect) -> None:
    frames = int16_noise(2 * 20_000, seed=3).reshape(-1, 2)
    kwargs = {"in_rate": RATE_HZ, "sample_rate": RATE_HZ, "channels": 2, "lossless": True}
    source, writer = pipe_source(frames.tobytes() + b"\x01\x02\x03", channel=1, **kwargs)
    right = collect(source, SampleRing(4096))
    writer.join()
    np.testing.assert_array_equal(right, frames[:, 1].astype(np.float32) / 32768)
    assert source.stats()["trailing_bytes_dropped"] == 3  # 3 bytes of a 4-byte frame
    source, writer = pipe_source(frames.tobytes(), **kwargs)
    mean = collect(source, SampleRing(4096))
    writer.join()
    np.testing.assert_allclose(mean, frames.astype(np.float64).mean(axis=1) / 32768, rtol=0, atol=1e-7)
    with pytest.raises(AudioInputError, match="2 channel"):
        PcmStreamSource(os.devnull, channel=2, **kwargs)


def test_rate_conversion_8k_to_16k(collect) -> None:
    in_rate_hz, seconds = 8000, 1.0
    t = np.arange(round(seconds * in_rate_hz)) / in_rate_hz
    samples = (0.5 * np.sin(2 * np.pi * 1000 * t) * 32767).astype("<i2")
    source, writer = pipe_source(samples.tobytes(), in_rate=in_rate_hz, sample_rate=RATE_HZ, lossless=True)
    got = collect(source, SampleRing(4096))
    writer.join()
    assert abs(len(got) - seconds * RATE_HZ) <= 4
    peak_hz = np.argmax(np.abs(np.fft.rfft(got * np.hanning(len(got))))) * RATE_HZ / len(got)
    assert abs(peak_hz - 1000) <= 2


@pytest.mark.parametrize("sample_format", ["s32le", "f32le"])
def test_32_bit_formats(sample_format: str, collect) -> None:
    rng = np.random.default_rng(4)
    if sample_format == "s32le":
        raw = rng.integers(-(2**31), 2**31, 10_000).astype("<i4")
        expected = (raw.astype(np.float64) / 2**31).astype(np.float32)
    else:
        raw = rng.uniform(-1, 1, 10_000).astype("<f4")
        raw[[5, 6]] = [np.nan, np.inf]
        expected = np.where(np.isfinite(raw), raw, 0).astype(np.float32)
    source, writer = pipe_source(
        raw.tobytes(), in_rate=RATE_HZ, sample_rate=RATE_HZ, sample_format=sample_format, lossless=True
    )
    got = collect(source, SampleRing(4096))
    writer.join()
    np.testing.assert_array_equal(got, expected)
    assert source.stats()["nonfinite_replaced"] == (2 if sample_format == "f32le" else 0)


def test_lossy_mode_drops_when_the_ring_is_full(tmp_path: Path) -> None:
    path = tmp_path / "audio.raw"
    samples = int16_noise(10_000, seed=5)
    path.write_bytes(samples.tobytes())
    source = PcmStreamSource(path, in_rate=RATE_HZ, sample_rate=RATE_HZ)  # a regular file works too
    ring = SampleRing(1024)
    source.start(ring)
    source.join(10.0)  # nobody reads: the ring fills and the rest is dropped
    assert source.finished
    stats = ring.stats()
    assert (stats.offered, stats.stored, stats.dropped) == (10_000, 1024, 10_000 - 1024)
    block = ring.read()
    assert block.start == 0
    np.testing.assert_array_equal(block.samples, samples[:1024].astype(np.float32) / 32768)


def test_stop_is_honoured_when_the_blocked_read_returns() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as reader, os.fdopen(write_fd, "wb", buffering=0) as writer:
        source = PcmStreamSource(reader, in_rate=RATE_HZ, sample_rate=RATE_HZ)
        source.start(SampleRing(4096))
        writer.write(b"\0\0" * 100)
        time.sleep(0.1)
        source.stop()
        writer.write(b"\0\0" * 100)  # wakes the blocked read; the producer keeps its end open
        source.join(5.0)
        assert not source.running
        assert not source.finished


def test_subprocess_stdout(tmp_path: Path, collect) -> None:
    samples = int16_noise(20_000, seed=6)
    path = tmp_path / "payload.raw"
    path.write_bytes(samples.tobytes())
    code = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE)
    got = collect(
        PcmStreamSource(proc.stdout, in_rate=RATE_HZ, sample_rate=RATE_HZ, lossless=True), SampleRing(2048)
    )
    assert proc.wait(10) == 0
    proc.stdout.close()
    np.testing.assert_array_equal(got, samples.astype(np.float32) / 32768)


def test_bad_paths_and_parameters(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="no such file or FIFO"):
        PcmStreamSource(tmp_path / "missing", in_rate=RATE_HZ, sample_rate=RATE_HZ)
    with pytest.raises(AudioInputError, match="not a FIFO or regular file"):
        PcmStreamSource(tmp_path, in_rate=RATE_HZ, sample_rate=RATE_HZ)
    with pytest.raises(AudioInputError, match="s16le"):
        PcmStreamSource(os.devnull, in_rate=RATE_HZ, sample_rate=RATE_HZ, sample_format="u8")
