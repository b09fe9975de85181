"""Audio file source: WAV/FLAC/OGG read in blocks, as fast as possible or paced at real time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from detector.audio.convert import StreamResampler, sanitize, to_mono, write_waiting
from detector.audio.ring import SampleRing
from detector.audio.source import Source
from detector.errors import AudioInputError

READABLE = "a readable audio file (WAV, FLAC, OGG)"


@dataclass(frozen=True)
class FileInfo:
    """What ``probe`` learned about an audio file."""

    path: Path
    sample_rate: int  # Hz
    channels: int
    frames: int  # samples per channel


def probe(path: str | Path) -> FileInfo:
    """Check that ``path`` is a non-empty audio file libsndfile can read.

    Raises:
        AudioInputError: naming the path and what is wrong with it.
    """
    p = Path(path)
    if not p.exists():
        raise AudioInputError(f"{p}: no such file; expected {READABLE}")
    if p.is_dir():
        raise AudioInputError(f"{p}: is a directory; expected {READABLE}")
    try:
        size_bytes = p.stat().st_size
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise AudioInputError(f"{p}: cannot open: {exc.strerror}") from exc
    if size_bytes == 0:
        raise AudioInputError(f"{p}: file is empty (0 bytes); expected {READABLE}")
    try:
        with sf.SoundFile(p) as f:
            info = FileInfo(p, f.samplerate, f.channels, f.frames)
    except sf.LibsndfileError as exc:
        raise AudioInputError(f"{p}: not {READABLE}: {exc.error_string}") from exc
    if info.frames == 0:
        raise AudioInputError(
            f"{p}: contains no audio samples ({info.sample_rate} Hz, {info.channels} channel(s))"
        )
    return info


class FileSource(Source):
    """Reads an audio file, converts it to mono float32 at ``sample_rate`` and writes it to the ring.

    In fast mode (default) the file is read as fast as the reader consumes it and nothing is ever dropped:
    when the ring is full the source waits. With ``realtime=True`` blocks are released at the pace of a
    live input (against a monotonic clock) and a full ring drops samples, like a live source.

    Args:
        path: WAV, FLAC or OGG file; any rate, any channel count, 8/16/24/32-bit or float.
        sample_rate: rate written to the ring, Hz; the file is resampled if its rate differs.
        channel: 0-based channel to keep; ``None`` averages all channels.
        realtime: pace the output at real time.
        block_seconds: duration of one read, seconds of file audio.

    Raises:
        AudioInputError: the file is missing, unreadable, not audio, empty, or lacks ``channel``.
    """

    def __init__(
        self,
        path: str | Path,
        sample_rate: int,
        channel: int | None = None,
        realtime: bool = False,
        block_seconds: float = 0.1,
    ) -> None:
        super().__init__()
        if block_seconds <= 0:
            raise ValueError(f"block_seconds must be > 0 s, got {block_seconds}")
        self.info = probe(path)
        if channel is not None and not 0 <= channel < self.info.channels:
            raise AudioInputError(
                f"{self.info.path}: channel {channel} requested but the file has {self.info.channels} "
                f"channel(s) (valid: 0..{self.info.channels - 1}, or none to average them)"
            )
        self.sample_rate = int(sample_rate)
        self.channel = channel
        self.realtime = realtime
        self.block_frames = max(1, round(block_seconds * self.info.sample_rate))  # file frames per read
        self._nonfinite = 0

    def describe(self) -> str:
        i = self.info
        pace = "real time" if self.realtime else "fast"
        return f"file {i.path} ({i.sample_rate} Hz, {i.channels} ch, {i.frames} frames, {pace})"

    def stats(self) -> dict[str, int | float | str]:
        return {
            "nonfinite_replaced": self._nonfinite,
            "file_rate": self.info.sample_rate,
            "file_channels": self.info.channels,
        }

    def _run(self, ring: SampleRing) -> None:
        resampler = StreamResampler(self.info.sample_rate, self.sample_rate)
        t0 = time.monotonic()
        frames_read = 0
        with sf.SoundFile(self.info.path) as f:
            while not self._stop.is_set():
                frames = f.read(self.block_frames, dtype="float32", always_2d=True)
                if len(frames) == 0:
                    break
                frames_read += len(frames)
                block, n_bad = sanitize(to_mono(frames, self.channel))
                self._nonfinite += n_bad
                if self.realtime:
                    # a live input would have this block once its last sample was captured
                    self._stop.wait(t0 + frames_read / self.info.sample_rate - time.monotonic())
                if not self._emit(ring, resampler.process(block)):
                    return
        if not self._stop.is_set():
            self._emit(ring, resampler.flush())

    def _emit(self, ring: SampleRing, samples: np.ndarray) -> bool:
        if self.realtime:
            ring.write(samples)
            return True
        return write_waiting(ring, samples, self._stop)
