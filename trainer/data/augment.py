"""Waveform and spectrogram augmentation, every random choice drawn from an explicit numpy Generator."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np
import soxr
from scipy import signal as sps

from trainer.data.clips import frame_energies_db

ACTIVE_FRAME_SAMPLES = 320  # energy frames for "where the signal is": 20 ms at 16 kHz
ACTIVE_THRESHOLD_DB = -40.0  # a frame is active within this many dB of the loudest frame
EQ_MAX_GAIN_DB = 6.0
EQ_FREQ_RANGE_HZ = (80.0, 8000.0)  # centre / corner frequencies (capped below Nyquist)
EQ_Q_RANGE = (0.5, 2.0)
WSOLA_FRAME_SECONDS = 0.040  # time-stretch frame
WSOLA_TOLERANCE = 0.25  # search +/- this fraction of a frame for the best-matching segment


def gain(x: np.ndarray, db: float) -> np.ndarray:
    """``x`` scaled by ``db`` decibels (amplitude factor ``10 ** (db / 20)``), float32."""
    return (np.asarray(x, dtype=np.float32) * np.float32(10 ** (db / 20))).astype(np.float32)


def active_power(
    x: np.ndarray, frame_samples: int = ACTIVE_FRAME_SAMPLES, threshold_db: float = ACTIVE_THRESHOLD_DB
) -> float:
    """Mean power of the frames within ``threshold_db`` of the loudest one (0.0 for silence)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0 or not np.any(x):
        return 0.0
    energy = frame_energies_db(x, frame_samples)
    active = energy >= energy.max() + threshold_db
    return float(np.mean(10 ** (energy[active] / 10)))


def fit_length(background: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``background`` from a random offset, looping it when it is shorter than ``n``."""
    background = np.asarray(background, dtype=np.float32)
    if len(background) == 0:
        raise ValueError("background has no samples")
    start = int(rng.integers(len(background)))
    index = (start + np.arange(n)) % len(background)
    return background[index]


def mix_at_snr(
    signal: np.ndarray,
    background: np.ndarray,
    snr_db: float,
    rng: np.random.Generator,
    frame_samples: int = ACTIVE_FRAME_SAMPLES,
) -> np.ndarray:
    """Add ``background`` under ``signal`` so that the signal-to-background ratio is ``snr_db``.

    The background is cropped (or looped) to the signal's length from a random offset. The signal's
    power is measured over its active part (frames within 40 dB of its loudest frame), so silence
    around a short sound does not lower it; the background's over the whole cropped segment.
    A silent signal gets the background at its own level; a silent background adds nothing.

    Returns:
        float32 mixture, same length as ``signal``.
    """
    signal = np.asarray(signal, dtype=np.float32)
    if len(signal) == 0:
        return signal.copy()
    bed = fit_length(background, len(signal), rng).astype(np.float64)
    bed_power = float(np.mean(bed**2))
    if bed_power == 0:
        return signal.copy()
    signal_power = active_power(signal, frame_samples)
    if signal_power > 0:
        bed *= np.sqrt(signal_power / (bed_power * 10 ** (snr_db / 10)))
    return (signal + bed).astype(np.float32)


def time_shift(
    x: np.ndarray,
    max_shift_samples: int,
    rng: np.random.Generator,
    mode: Literal["circular", "zero"] = "circular",
) -> np.ndarray:
    """Shift by a random whole number of samples in ``[-max_shift_samples, max_shift_samples]``.

    ``circular``: samples pushed off one end come back at the other (energy is preserved exactly).
    ``zero``: they are dropped and the gap is filled with zeros.
    """
    x = np.asarray(x, dtype=np.float32)
    if mode not in ("circular", "zero"):
        raise ValueError(f"time_shift mode: got {mode!r}; expected 'circular' or 'zero'")
    limit = min(int(max_shift_samples), len(x))
    shift = int(rng.integers(-limit, limit + 1)) if limit > 0 else 0
    if mode == "circular":
        return np.roll(x, shift)
    out = np.zeros_like(x)
    if shift >= 0:
        out[shift:] = x[: len(x) - shift]
    else:
        out[:shift] = x[-shift:]
    return out


def _wsola(x: np.ndarray, stretch: float, frame: int) -> np.ndarray:
    """Waveform-similarity overlap-add time stretch: duration times ``stretch``, pitch unchanged."""
    n_out = max(1, round(len(x) * stretch))
    hop_out = frame // 2
    hop_in = hop_out / stretch
    tolerance = max(1, int(frame * WSOLA_TOLERANCE))
    pad = frame + tolerance
    padded = np.concatenate([np.zeros(pad), np.asarray(x, dtype=np.float64), np.zeros(pad + frame)])
    window = np.hanning(frame + 2)[1:-1]
    out = np.zeros(n_out + frame)
    norm = np.zeros(n_out + frame)
    previous = 0
    for k, out_pos in enumerate(range(0, n_out, hop_out)):
        nominal = min(round(k * hop_in), len(x))
        if k == 0:
            best = nominal
        else:
            template = padded[pad + previous + hop_out : pad + previous + hop_out + frame]
            lo = max(nominal - tolerance, -pad)
            region = padded[pad + lo : pad + nominal + tolerance + frame]
            score = np.correlate(region, template, mode="valid")
            best = lo + int(np.argmax(score)) if np.any(template) else nominal
        out[out_pos : out_pos + frame] += padded[pad + best : pad + best + frame] * window
        norm[out_pos : out_pos + frame] += window
        previous = best
    return (out / np.maximum(norm, 1e-3))[:n_out]


def pitch_tempo(x: np.ndarray, sample_rate: int, semitones: float = 0.0, tempo: float = 1.0) -> np.ndarray:
    """Shift the pitch by ``semitones`` and play at ``tempo`` times the speed (for small changes).

    The pitch is moved by resampling with soxr (which speeds up or slows down by the same factor);
    a WSOLA time stretch then sets the duration to ``len(x) / tempo``. ``semitones=0, tempo=1``
    returns a copy.
    """
    x = np.asarray(x, dtype=np.float32)
    if tempo <= 0:
        raise ValueError(f"tempo: got {tempo}; expected > 0")
    if len(x) == 0 or (semitones == 0 and tempo == 1):
        return x.copy()
    ratio = 2 ** (semitones / 12)
    y = soxr.resample(x, sample_rate, sample_rate / ratio, quality="HQ") if semitones else x
    stretch = ratio / tempo
    if abs(stretch - 1) > 1e-6:
        y = _wsola(y, stretch, max(16, round(WSOLA_FRAME_SECONDS * sample_rate)))
    return np.asarray(y, dtype=np.float32)


def _biquad(kind: str, f0: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    """RBJ audio-EQ-cookbook biquad as one second-order section ``[b0 b1 b2 1 a1 a2]``."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sample_rate
    cos, alpha = np.cos(w0), np.sin(w0) / (2 * q)
    if kind == "peak":
        b = [1 + alpha * a, -2 * cos, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos, 1 - alpha / a]
    else:
        root = 2 * np.sqrt(a) * alpha
        sign = 1 if kind == "lowshelf" else -1
        b = [
            a * ((a + 1) - sign * (a - 1) * cos + root),
            sign * 2 * a * ((a - 1) - sign * (a + 1) * cos),
            a * ((a + 1) - sign * (a - 1) * cos - root),
        ]
        den = [
            (a + 1) + sign * (a - 1) * cos + root,
            -sign * 2 * ((a - 1) + sign * (a + 1) * cos),
            (a + 1) + sign * (a - 1) * cos - root,
        ]
    return np.array([*b, *den]) / den[0]


def random_eq(
    x: np.ndarray,
    sample_rate: int,
    rng: np.random.Generator,
    n_filters: int = 2,
    max_gain_db: float = EQ_MAX_GAIN_DB,
) -> np.ndarray:
    """Colour ``x`` with ``n_filters`` random peaking/low-shelf/high-shelf biquads, +/- ``max_gain_db``."""
    x = np.asarray(x, dtype=np.float32)
    top = min(EQ_FREQ_RANGE_HZ[1], 0.45 * sample_rate)
    sections = []
    for _ in range(n_filters):
        kind = ("peak", "lowshelf", "highshelf")[int(rng.integers(3))]
        f0 = float(np.exp(rng.uniform(np.log(EQ_FREQ_RANGE_HZ[0]), np.log(top))))
        q = float(rng.uniform(*EQ_Q_RANGE)) if kind == "peak" else 1 / np.sqrt(2)
        sections.append(_biquad(kind, f0, float(rng.uniform(-max_gain_db, max_gain_db)), q, sample_rate))
    if not sections or len(x) == 0:
        return x.copy()
    return sps.sosfilt(np.array(sections), x).astype(np.float32)


def _mask(features: np.ndarray, max_width: int, rng: np.random.Generator, axis: int) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    if features.ndim < 2:
        raise ValueError(f"expected (frames, bands) features, got shape {features.shape}")
    out = features.copy()
    size = features.shape[axis]
    if max_width < 1 or size == 0:
        return out
    width = int(rng.integers(1, min(max_width, size) + 1))
    start = int(rng.integers(0, size - width + 1))
    fill = features.mean(axis=(-2, -1), keepdims=True)
    index: list[slice] = [slice(None)] * features.ndim
    index[axis] = slice(start, start + width)
    region = out[tuple(index)]
    out[tuple(index)] = np.broadcast_to(fill, region.shape)
    return out


def time_mask(features: np.ndarray, max_width: int, rng: np.random.Generator) -> np.ndarray:
    """Replace 1..``max_width`` consecutive frames (axis -2) by the patch's mean value; returns a copy."""
    return _mask(features, max_width, rng, axis=-2)


def freq_mask(features: np.ndarray, max_width: int, rng: np.random.Generator) -> np.ndarray:
    """Replace 1..``max_width`` consecutive bands (axis -1) by the patch's mean value; returns a copy."""
    return _mask(features, max_width, rng, axis=-1)


@dataclasses.dataclass
class Augmenter:
    """Random augmentation chain, seeded; each step runs with its own probability.

    Waveform steps (:meth:`__call__`), in order: pitch/tempo, EQ, gain, time shift, background at an
    SNR. Feature steps (:meth:`features`): time mask, frequency mask. The instance owns a Generator
    made from ``seed``; pass ``rng`` to a call to use another one instead.
    Pitch/tempo changes the length (``len / tempo``); the other steps keep it.
    """

    sample_rate: int
    backgrounds: Sequence[np.ndarray] = ()
    seed: int = 0
    p_pitch_tempo: float = 0.3
    semitones_range: tuple[float, float] = (-1.0, 1.0)
    tempo_range: tuple[float, float] = (0.9, 1.1)
    p_eq: float = 0.3
    p_gain: float = 0.5
    gain_db_range: tuple[float, float] = (-6.0, 6.0)
    p_shift: float = 0.5
    max_shift_seconds: float = 0.1
    shift_mode: Literal["circular", "zero"] = "circular"
    p_background: float = 0.5
    snr_db_range: tuple[float, float] = (0.0, 20.0)
    p_time_mask: float = 0.5
    max_time_mask_frames: int = 10
    p_freq_mask: float = 0.5
    max_freq_mask_bands: int = 8

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.backgrounds = [np.asarray(b, dtype=np.float32) for b in self.backgrounds if len(b)]

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """One random waveform augmentation of ``x`` (float32 mono at ``sample_rate``)."""
        rng = rng or self.rng
        y = np.asarray(x, dtype=np.float32)
        if rng.random() < self.p_pitch_tempo:
            y = pitch_tempo(
                y, self.sample_rate, rng.uniform(*self.semitones_range), rng.uniform(*self.tempo_range)
            )
        if rng.random() < self.p_eq:
            y = random_eq(y, self.sample_rate, rng)
        if rng.random() < self.p_gain:
            y = gain(y, rng.uniform(*self.gain_db_range))
        if rng.random() < self.p_shift:
            y = time_shift(y, round(self.max_shift_seconds * self.sample_rate), rng, self.shift_mode)
        if self.backgrounds and rng.random() < self.p_background:
            bed = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
            y = mix_at_snr(y, bed, rng.uniform(*self.snr_db_range), rng)
        return np.asarray(y, dtype=np.float32)

    def features(self, features: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """One random spectrogram augmentation of a ``(frames, bands)`` patch (or a batch of them)."""
        rng = rng or self.rng
        out = np.asarray(features, dtype=np.float32)
        if rng.random() < self.p_time_mask:
            out = time_mask(out, self.max_time_mask_frames, rng)
        if rng.random() < self.p_freq_mask:
            out = freq_mask(out, self.max_freq_mask_bands, rng)
        return out
