"""Raw PCM stream source: interleaved samples from stdin, a pipe, a FIFO or a file (`arecord | detector`)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np
import structlog

from detector.audio.convert import StreamResampler, sanitize, to_float32, to_mono, write_waiting
from detector.audio.ring import SampleRing
from detector.audio.source import Source
from detector.errors import AudioInputError

log = structlog.get_logger(__name__)

SAMPLE_FORMATS = {"s16le": np.dtype("<i2"), "s32le": np.dtype("<i4"), "f32le": np.dtype("<f4")}


class PcmStreamSource(Source):
    """Reads headerless interleaved PCM and writes it, mono float32 at ``sample_rate``, to the ring.

    The producer paces the stream; this source reads as fast as data comes. By default a full ring drops
    samples (counted by the ring) so that a live producer is never held back; ``lossless=True`` waits for
    room instead, for recorded streams that must arrive whole.

    A stream ending mid-frame loses only that partial frame: it is counted in
    ``stats()["trailing_bytes_dropped"]`` and logged.

    Stopping: ``stop()`` is honoured when the current read returns. On a pipe or FIFO whose producer is
    silent, that is when it next writes or closes its end; opening a FIFO also waits for a writer.

    Args:
        stream_or_path: ``"-"`` for standard input, a path (FIFO or regular file), or a binary stream
            with ``readinto`` (not closed by the source).
        in_rate: rate of the stream, Hz.
        sample_rate: rate written to the ring, Hz; the stream is resampled if it differs.
        channels: interleaved channels per frame.
        channel: 0-based channel to keep; ``None`` averages all channels.
        sample_format: ``"s16le"``, ``"s32le"`` or ``"f32le"``.
        block_seconds: audio per read, seconds.
        lossless: wait for room in a full ring instead of dropping.

    Raises:
        AudioInputError: the path is missing or not a FIFO/file, or a parameter is out of range.
    """

    def __init__(
        self,
        stream_or_path: str | Path | BinaryIO,
        in_rate: int,
        sample_rate: int,
        channels: int = 1,
        channel: int | None = None,
        sample_format: str = "s16le",
        block_seconds: float = 0.02,
        lossless: bool = False,
    ) -> None:
        super().__init__()
        if sample_format not in SAMPLE_FORMATS:
            raise AudioInputError(
                f"unknown PCM sample format {sample_format!r}; expected one of {list(SAMPLE_FORMATS)}"
            )
        if channels < 1:
            raise AudioInputError(f"PCM stream channels must be >= 1, got {channels}")
        if channel is not None and not 0 <= channel < channels:
            raise AudioInputError(
                f"channel {channel} requested but the PCM stream has {channels} channel(s) "
                f"(valid: 0..{channels - 1}, or none to average them)"
            )
        if in_rate <= 0 or sample_rate <= 0 or block_seconds <= 0:
            raise AudioInputError(
                f"PCM stream rates and block size must be > 0, got in_rate={in_rate} Hz, "
                f"sample_rate={sample_rate} Hz, block_seconds={block_seconds}"
            )
        self._stream: BinaryIO | None = None
        self._path: Path | None = None
        if stream_or_path == "-":
            self._stream, self._name = sys.stdin.buffer, "stdin"
        elif isinstance(stream_or_path, str | Path):
            self._path = Path(stream_or_path)
            self._name = str(self._path)
            _check_path(self._path)
        else:
            self._stream = stream_or_path
            self._name = getattr(stream_or_path, "name", type(stream_or_path).__name__)
        self.in_rate = in_rate
        self.sample_rate = int(sample_rate)
        self.channels = channels
        self.channel = channel
        self.sample_format = sample_format
        self.lossless = lossless
        self.block_frames = max(1, round(block_seconds * in_rate))
        self._trailing = 0
        self._nonfinite = 0

    def describe(self) -> str:
        return f"PCM stream {self._name} ({self.sample_format}, {self.in_rate} Hz, {self.channels} ch)"

    def stats(self) -> dict[str, int | float | str]:
        return {"nonfinite_replaced": self._nonfinite, "trailing_bytes_dropped": self._trailing}

    def _run(self, ring: SampleRing) -> None:
        if self._path is None:
            self._pump(self._stream, ring)
            return
        with open(self._path, "rb", buffering=0) as f:  # blocks until a FIFO has a writer
            self._pump(f, ring)

    def _pump(self, stream: BinaryIO, ring: SampleRing) -> None:
        dtype = SAMPLE_FORMATS[self.sample_format]
        frame_bytes = dtype.itemsize * self.channels
        block_bytes = self.block_frames * frame_bytes
        buf = bytearray(block_bytes + frame_bytes)  # room for a carried partial frame
        view = memoryview(buf)
        resampler = StreamResampler(self.in_rate, self.sample_rate)
        carry = 0  # bytes of an incomplete frame at the start of buf
        while not self._stop.is_set():
            n = stream.readinto(view[carry : carry + block_bytes])
            if n is None:  # non-blocking stream without data
                self._stop.wait(0.001)
                continue
            if n == 0:
                break
            have = carry + n
            whole = have - have % frame_bytes
            if whole:
                raw = np.frombuffer(buf, dtype=dtype, count=whole // dtype.itemsize)
                if self.channels > 1:
                    raw = raw.reshape(-1, self.channels)
                block, n_bad = sanitize(to_mono(to_float32(raw), self.channel))
                self._nonfinite += n_bad
                if not self._emit(ring, resampler.process(block)):  # copies out of buf
                    return
            carry = have - whole
            view[:carry] = view[whole:have]
        if self._stop.is_set():
            return
        if carry:
            self._trailing += carry
            log.warning(
                "PCM stream ended mid-frame; partial frame dropped",
                source=self._name,
                trailing_bytes=carry,
                frame_bytes=frame_bytes,
            )
        self._emit(ring, resampler.flush())

    def _emit(self, ring: SampleRing, samples: np.ndarray) -> bool:
        if self.lossless:
            return write_waiting(ring, samples, self._stop)
        ring.write(samples)
        return True


def _check_path(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise AudioInputError(
            f"{path}: no such file or FIFO; expected raw PCM (a FIFO, a file, or '-')"
        ) from exc
    except OSError as exc:
        raise AudioInputError(f"{path}: cannot access: {exc.strerror}") from exc
    if not (stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISCHR(mode)):
        raise AudioInputError(
            f"{path}: not a FIFO or regular file; expected raw PCM (a FIFO, a file, or '-')"
        )
