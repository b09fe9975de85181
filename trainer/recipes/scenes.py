"""Noisy renditions: a sound shifted inside a patch-long window and mixed into a background bed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detector.features import FeatureSpec, extract
from trainer.data.augment import gain, mix_at_snr, pitch_tempo, random_eq


def window_samples(spec: FeatureSpec) -> int:
    """Samples one patch spans."""
    return (spec.patch_frames - 1) * spec.hop_length + spec.n_fft


@dataclass(frozen=True)
class Rendering:
    """How a clip is turned into a noisy training or test window."""

    snr_db: tuple[float, float] = (0.0, 20.0)  # signal-to-background ratio range
    clean_fraction: float = 0.1  # share of windows left without background
    gain_db: tuple[float, float] = (-12.0, 6.0)
    eq_probability: float = 0.3
    pitch_probability: float = 0.2
    max_semitones: float = 1.0
    max_tempo_change: float = 0.08  # +-8 %


def place(samples: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples holding the clip: shorter ones at a random offset (zeros around), longer ones cropped."""
    if len(samples) >= n:
        start = int(rng.integers(0, len(samples) - n + 1))
        return np.asarray(samples[start : start + n], dtype=np.float32)
    out = np.zeros(n, dtype=np.float32)
    start = int(rng.integers(0, n - len(samples) + 1))
    out[start : start + len(samples)] = samples
    return out


def render_window(
    samples: np.ndarray,
    beds: Sequence[np.ndarray],
    spec: FeatureSpec,
    rng: np.random.Generator,
    how: Rendering = Rendering(),
) -> np.ndarray:
    """One noisy rendition of a clip as waveform, ``window_samples(spec)`` long."""
    x = np.asarray(samples, dtype=np.float32)
    if how.pitch_probability and rng.random() < how.pitch_probability:
        x = pitch_tempo(
            x,
            spec.sample_rate,
            semitones=float(rng.uniform(-how.max_semitones, how.max_semitones)),
            tempo=float(1.0 + rng.uniform(-how.max_tempo_change, how.max_tempo_change)),
        )
    x = place(x, window_samples(spec), rng)
    if beds and rng.random() >= how.clean_fraction:
        x = mix_at_snr(x, beds[int(rng.integers(len(beds)))], float(rng.uniform(*how.snr_db)), rng)
    if how.eq_probability and rng.random() < how.eq_probability:
        x = random_eq(x, spec.sample_rate, rng)
    return np.clip(gain(x, float(rng.uniform(*how.gain_db))), -1.0, 1.0)


def render_patch(
    samples: np.ndarray,
    beds: Sequence[np.ndarray],
    spec: FeatureSpec,
    rng: np.random.Generator,
    how: Rendering = Rendering(),
) -> np.ndarray:
    """One noisy rendition of a clip as a model input patch ``(patch_frames, n_bands)``."""
    return extract(spec, render_window(samples, beds, spec, rng, how))


def background_patch(
    bed: np.ndarray, spec: FeatureSpec, rng: np.random.Generator, gain_db: tuple[float, float] = (-12.0, 6.0)
) -> np.ndarray:
    """A patch of background alone: a random stretch of ``bed`` at a random level."""
    x = place(np.asarray(bed, dtype=np.float32), window_samples(spec), rng)
    return extract(spec, np.clip(gain(x, float(rng.uniform(*gain_db))), -1.0, 1.0))
