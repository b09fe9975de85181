"""Clips to model input patches with the daemon's own front end (``detector.features.extract``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detector.features import FeatureSpec, extract
from trainer.data.clips import SILENCE_FLOOR_DBFS, Clip, resample

ACTIVE_MARGIN_DB = 10.0  # a frame is sound when this far above the clip's noise floor
NOISE_FLOOR_PERCENTILE = 10.0  # the clip's noise floor: this percentile of its frame energies
MIN_ACTIVE_FRACTION = 0.25  # share of a patch's frames that must be sound (see active_patches)
ENERGY_FLOOR = 1e-30  # power floor before taking dB


def patch_samples(spec: FeatureSpec) -> int:
    """Samples one patch spans."""
    return spec.n_fft + (spec.patch_frames - 1) * spec.hop_length


def prepare(samples: np.ndarray, spec: FeatureSpec, sample_rate: int | None = None) -> np.ndarray:
    """float32 mono at ``spec.sample_rate``: non-finite samples zeroed, resampled if ``sample_rate``
    differs, and zero-padded (sound centred) to one patch when shorter."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    x = np.where(np.isfinite(x), x, np.float32(0)).astype(np.float32, copy=False)
    if sample_rate is not None and sample_rate != spec.sample_rate:
        x = resample(x, sample_rate, spec.sample_rate)
    need = patch_samples(spec)
    if len(x) < need:
        padded = np.zeros(need, dtype=np.float32)
        start = (need - len(x)) // 2
        padded[start : start + len(x)] = x
        x = padded
    return np.ascontiguousarray(x)


def frame_energies_db(x: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Mean-square energy (dB re full scale) of each front-end frame ``[t * hop, t * hop + n_fft)``."""
    n_frames = spec.frames_in(len(x))
    squares = np.concatenate([[0.0], np.cumsum(np.asarray(x, dtype=np.float64) ** 2)])
    starts = np.arange(n_frames) * spec.hop_length
    energy = (squares[starts + spec.n_fft] - squares[starts]) / spec.n_fft
    return 10.0 * np.log10(np.maximum(energy, ENERGY_FLOOR))


def patch_starts(n_frames: int, patch_frames: int, hop_frames: int) -> np.ndarray:
    """First frame of each patch: every ``hop_frames``, plus one flush with the end to cover the tail."""
    if n_frames < patch_frames:
        return np.zeros(0, dtype=np.int64)
    starts = list(range(0, n_frames - patch_frames + 1, hop_frames))
    if starts[-1] != n_frames - patch_frames:
        starts.append(n_frames - patch_frames)
    return np.asarray(starts, dtype=np.int64)


def _cut(features: np.ndarray, starts: np.ndarray, patch_frames: int) -> np.ndarray:
    if len(starts) == 0:
        return np.zeros((0, patch_frames, features.shape[1]), dtype=np.float32)
    return np.ascontiguousarray(np.stack([features[s : s + patch_frames] for s in starts]), dtype=np.float32)


def _patch_energy_db(energy_db: np.ndarray, starts: np.ndarray, patch_frames: int) -> np.ndarray:
    power = 10 ** (energy_db / 10)
    return np.array([10 * np.log10(max(power[s : s + patch_frames].mean(), ENERGY_FLOOR)) for s in starts])


def clip_patches(
    samples: np.ndarray,
    spec: FeatureSpec,
    hop_frames: int | None = None,
    min_energy_db: float | None = None,
    sample_rate: int | None = None,
) -> np.ndarray:
    """All model input patches of one clip.

    Args:
        samples: mono samples (float; NaN/inf become 0).
        spec: the model's FeatureSpec; features come from ``detector.features.extract``, the daemon's code.
        hop_frames: frames between patch starts (default ``spec.patch_hop_frames``); a last patch flush
            with the clip's end is added so the tail is covered.
        min_energy_db: keep only patches whose mean frame energy is at least this (dB re full scale).
        sample_rate: rate of ``samples`` when it is not ``spec.sample_rate`` (resampled with soxr).

    Returns:
        float32 ``(n, patch_frames, n_bands)``; a clip shorter than one patch is zero-padded (centred)
        to exactly one patch. ``n`` is 0 only when ``min_energy_db`` rejects every patch.
    """
    hop = int(hop_frames or spec.patch_hop_frames)
    if hop < 1:
        raise ValueError(f"hop_frames: got {hop_frames}; expected >= 1")
    x = prepare(samples, spec, sample_rate)
    features = extract(spec, x)
    starts = patch_starts(len(features), spec.patch_frames, hop)
    if min_energy_db is not None and len(starts):
        energy = _patch_energy_db(frame_energies_db(x, spec), starts, spec.patch_frames)
        starts = starts[energy >= min_energy_db]
    return _cut(features, starts, spec.patch_frames)


def active_patches(
    samples: np.ndarray,
    spec: FeatureSpec,
    hop_frames: int | None = None,
    margin_db: float = ACTIVE_MARGIN_DB,
    min_active_fraction: float = MIN_ACTIVE_FRACTION,
    sample_rate: int | None = None,
) -> np.ndarray:
    """The patches of a clip where the sound is, rather than the silence or noise around it.

    A frame is *sound* when its energy is more than ``margin_db`` above the clip's noise floor (the
    10th percentile of its frame energies); a clip whose frames all lie within ``margin_db`` of each
    other (a steady sound, e.g. tones in noise) is sound throughout. A patch is kept when it holds at
    least ``min_active_fraction`` of a patch of sound frames, or half of all the clip's sound frames
    (so a short event yields the patches that contain most of it). At least one patch (the one with the
    most sound frames) is returned for any clip that is not silent.

    Args:
        samples, spec, hop_frames, sample_rate: as :func:`clip_patches`.
        margin_db: dB above the noise floor that count as sound.
        min_active_fraction: share of sound frames that always qualifies a patch.

    Returns:
        float32 ``(n, patch_frames, n_bands)``; ``n == 0`` only for a silent clip (below -90 dBFS).
    """
    hop = int(hop_frames or spec.patch_hop_frames)
    if hop < 1:
        raise ValueError(f"hop_frames: got {hop_frames}; expected >= 1")
    x = prepare(samples, spec, sample_rate)
    features = extract(spec, x)
    starts = patch_starts(len(features), spec.patch_frames, hop)
    energy = frame_energies_db(x, spec)
    if len(energy) == 0 or energy.max() < SILENCE_FLOOR_DBFS:
        return _cut(features, starts[:0], spec.patch_frames)
    floor = float(np.percentile(energy, NOISE_FLOOR_PERCENTILE))
    steady = energy.max() - floor <= margin_db
    active = energy >= SILENCE_FLOOR_DBFS if steady else energy > floor + margin_db
    counts = np.array([int(active[s : s + spec.patch_frames].sum()) for s in starts])
    needed = min(min_active_fraction * spec.patch_frames, 0.5 * int(active.sum()))
    keep = counts >= max(needed, 1)
    if not keep.any():
        keep[int(np.argmax(counts))] = True
    return _cut(features, starts[keep], spec.patch_frames)


def patches_for_clips(
    clips: Sequence[Clip],
    spec: FeatureSpec,
    active: bool = True,
    hop_frames: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Patches of many clips, stacked, and for each patch the index of the clip it came from.

    Args:
        clips: clips at any sample rate (resampled to ``spec.sample_rate``).
        spec: the model's FeatureSpec.
        active: :func:`active_patches` (default) or every patch (:func:`clip_patches`).
        hop_frames: frames between patches (default ``spec.patch_hop_frames``).

    Returns:
        ``(patches (n, patch_frames, n_bands) float32, clip_index (n,) int64)``.
    """
    chunks, owners = [], []
    for index, clip in enumerate(clips):
        function = active_patches if active else clip_patches
        patches = function(clip.samples, spec, hop_frames=hop_frames, sample_rate=clip.sample_rate)
        chunks.append(patches)
        owners.append(np.full(len(patches), index, dtype=np.int64))
    if not chunks:
        return np.zeros((0, spec.patch_frames, spec.n_bands), np.float32), np.zeros(0, np.int64)
    return np.concatenate(chunks), np.concatenate(owners)
