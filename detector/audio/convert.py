"""Sample conversion shared by every audio source: PCM to float32, channel pick, NaN cleanup, resampling."""

from __future__ import annotations

import threading

import numpy as np
import soxr

from detector.audio.ring import SampleRing
from detector.errors import AudioInputError

INT16_FULL_SCALE = 32768.0  # 2**15: int16 value of 1.0
INT32_FULL_SCALE = 2147483648.0  # 2**31: int32 value of 1.0
UINT8_ZERO = 128.0  # 8-bit PCM is unsigned, centred on 128, full scale 128
RING_POLL_SECONDS = 0.001  # how often a lossless writer re-checks a full ring


def to_float32(raw: np.ndarray) -> np.ndarray:
    """Convert PCM samples to float32 in [-1, 1).

    Args:
        raw: int16, int32, uint8 (8-bit unsigned PCM), float32 or float64 samples; shape ``(n,)`` or
            ``(n, channels)``. Any byte order.

    Returns:
        float32 samples of the same shape; ``raw`` itself when it already is native float32.

    Raises:
        AudioInputError: for any other sample type.
    """
    kind, size = raw.dtype.kind, raw.dtype.itemsize
    if kind == "f" and size in (4, 8):
        return raw.astype(np.float32, copy=False)
    if kind == "i" and size == 2:
        return raw.astype(np.float32) * np.float32(1.0 / INT16_FULL_SCALE)
    if kind == "i" and size == 4:
        return raw.astype(np.float32) * np.float32(1.0 / INT32_FULL_SCALE)  # power-of-two scale: exact
    if kind == "u" and size == 1:
        return (raw.astype(np.float32) - np.float32(UINT8_ZERO)) * np.float32(1.0 / UINT8_ZERO)
    raise AudioInputError(
        f"unsupported sample type {raw.dtype}; expected int16, int32, uint8, float32 or float64"
    )


def to_mono(frames: np.ndarray, channel: int | None) -> np.ndarray:
    """Reduce ``(n, channels)`` frames to one channel.

    Args:
        frames: float samples, shape ``(n,)`` (already mono) or ``(n, channels)``.
        channel: 0-based channel to keep, or ``None`` to average all channels.

    Returns:
        1-D samples (a view when one channel is selected).

    Raises:
        AudioInputError: ``channel`` does not exist in the input.
    """
    n_channels = 1 if frames.ndim == 1 else frames.shape[1]
    if channel is not None and not 0 <= channel < n_channels:
        raise AudioInputError(
            f"channel {channel} requested but the input has {n_channels} channel(s) "
            f"(valid: 0..{n_channels - 1}, or none to average them)"
        )
    if frames.ndim == 1:
        return frames
    if channel is not None:
        return frames[:, channel]
    if n_channels == 1:
        return frames[:, 0]
    return frames.mean(axis=1, dtype=np.float32)


def sanitize(block: np.ndarray) -> tuple[np.ndarray, int]:
    """Replace NaN and +/-inf samples by 0.0.

    Args:
        block: float samples.

    Returns:
        ``(block, n_replaced)``: ``block`` itself when it is all finite, else a cleaned copy.
    """
    finite = np.isfinite(block)
    if finite.all():
        return block, 0
    return np.where(finite, block, block.dtype.type(0)), int(finite.size - np.count_nonzero(finite))


class StreamResampler:
    """Chunk-by-chunk float32 resampling (soxr) whose output is continuous across chunks.

    Args:
        in_rate: rate of the input samples, Hz.
        out_rate: rate wanted, Hz. When equal to ``in_rate``, blocks pass through (no copy, no delay).
        channels: channels per frame; blocks are ``(n,)`` for 1, ``(n, channels)`` otherwise.
        quality: soxr quality, ``"HQ"`` or ``"VHQ"``.
    """

    def __init__(self, in_rate: float, out_rate: float, channels: int = 1, quality: str = "HQ") -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be > 0 Hz, got {in_rate} -> {out_rate}")
        if quality not in ("HQ", "VHQ"):
            raise ValueError(f"resampling quality must be 'HQ' or 'VHQ', got {quality!r}")
        self.in_rate, self.out_rate, self.channels = in_rate, out_rate, channels
        self.passthrough = in_rate == out_rate
        self._stream = (
            None
            if self.passthrough
            else soxr.ResampleStream(in_rate, out_rate, channels, dtype="float32", quality=quality)
        )

    def process(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample one block; ``last=True`` also flushes the resampler's delay line."""
        if self._stream is None:
            return block.astype(np.float32, copy=False)
        return self._stream.resample_chunk(np.ascontiguousarray(block, dtype=np.float32), last=last)

    def flush(self) -> np.ndarray:
        """Return the samples still held in the delay line (call once, at the end of the input)."""
        shape = (0,) if self.channels == 1 else (0, self.channels)
        return self.process(np.zeros(shape, dtype=np.float32), last=True)


def write_waiting(ring: SampleRing, samples: np.ndarray, stop: threading.Event) -> bool:
    """Write all ``samples`` to ``ring``, waiting for the reader to make room instead of dropping.

    Returns:
        False if ``stop`` was set before everything was written.
    """
    while len(samples):
        free = ring.capacity - ring.available()
        if free == 0:
            if stop.wait(RING_POLL_SECONDS):
                return False
            continue
        samples = samples[ring.write(samples[:free]) :]
    return True
