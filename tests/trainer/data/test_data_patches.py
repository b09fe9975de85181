"""Model input patches through the daemon's front end: odd inputs all give valid patches."""

from __future__ import annotations

import numpy as np
import pytest

from detector.features import FeatureSpec, extract
from trainer.data.clips import Clip
from trainer.data.patches import (
    active_patches,
    clip_patches,
    patch_samples,
    patch_starts,
    patches_for_clips,
    prepare,
)

GENERAL = FeatureSpec.profile("general")
LOWBAND = FeatureSpec.profile("lowband")
SR = 16000  # Hz


def valid(patches: np.ndarray, spec: FeatureSpec) -> bool:
    return (
        patches.dtype == np.float32
        and patches.ndim == 3
        and patches.shape[1:] == (spec.patch_frames, spec.n_bands)
        and bool(np.isfinite(patches).all())
    )


def noise(seconds: float, level: float = 0.1, sample_rate: int = SR, seed: int = 0) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(round(seconds * sample_rate))).astype(
        np.float32
    )


def test_patches_are_the_front_end_frames() -> None:
    x = noise(3.0)
    patches = clip_patches(x, GENERAL)
    features = extract(GENERAL, x)
    starts = patch_starts(len(features), GENERAL.patch_frames, GENERAL.patch_hop_frames)
    assert valid(patches, GENERAL) and len(patches) == len(starts)
    assert starts[-1] == len(features) - GENERAL.patch_frames  # the tail is covered
    for patch, start in zip(patches, starts, strict=True):
        assert np.array_equal(patch, features[start : start + GENERAL.patch_frames])
    assert len(clip_patches(x, GENERAL, hop_frames=48)) < len(patches)


@pytest.mark.parametrize(
    ("name", "samples", "rate"),
    [
        ("silent", np.zeros(2 * SR, np.float32), SR),
        ("empty", np.zeros(0, np.float32), SR),
        ("short", noise(0.05), SR),
        ("clipped", np.clip(noise(1.5, level=3.0), -1.0, 1.0), SR),
        ("over full scale", noise(1.5, level=3.0), SR),
        ("nan", np.where(np.arange(SR) % 7 == 0, np.nan, noise(1.0)).astype(np.float32), SR),
        ("11025 Hz", noise(1.5, sample_rate=11025), 11025),
        ("22050 Hz", noise(0.4, sample_rate=22050), 22050),
        ("int-like float64", np.round(noise(1.2) * 100).astype(np.float64) / 100, SR),
    ],
)
def test_odd_clips_give_valid_patches(name: str, samples: np.ndarray, rate: int) -> None:
    patches = clip_patches(samples, GENERAL, sample_rate=rate)
    assert valid(patches, GENERAL) and len(patches) >= 1, name
    active = active_patches(samples, GENERAL, sample_rate=rate)
    assert valid(active, GENERAL), name
    silent = name in ("silent", "empty")
    assert (len(active) == 0) if silent else (len(active) >= 1), name


def test_short_clip_is_centred_in_one_patch() -> None:
    x = noise(0.2)
    padded = prepare(x, GENERAL)
    assert len(padded) == patch_samples(GENERAL)
    start = (len(padded) - len(x)) // 2
    assert np.array_equal(padded[start : start + len(x)], x)
    assert not padded[:start].any() and not padded[start + len(x) :].any()
    assert clip_patches(x, GENERAL).shape == (1, GENERAL.patch_frames, GENERAL.n_bands)


def test_odd_rate_is_resampled_to_the_spec_rate() -> None:
    t = np.arange(2 * 11025) / 11025
    x = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    patches = clip_patches(x, GENERAL, sample_rate=11025)
    native = clip_patches(
        (0.5 * np.sin(2 * np.pi * 1000 * np.arange(2 * SR) / SR)).astype(np.float32), GENERAL
    )
    assert len(patches) == len(native)
    assert np.argmax(patches[0].mean(axis=0)) == np.argmax(native[0].mean(axis=0))


def test_min_energy_drops_quiet_patches() -> None:
    x = np.concatenate([noise(3.0, level=1e-4), noise(2.0, level=0.3)])
    every = clip_patches(x, GENERAL)
    loud = clip_patches(x, GENERAL, min_energy_db=-30.0)
    assert 0 < len(loud) < len(every)
    assert len(clip_patches(x, GENERAL, min_energy_db=20.0)) == 0


def test_active_patches_find_a_short_event() -> None:
    x = noise(6.0, level=1e-3)
    event = slice(4 * SR, 4 * SR + SR // 5)  # 200 ms burst at 4 s
    x[event] += noise(0.2, level=0.5, seed=1)
    patches = active_patches(x, GENERAL)
    every = clip_patches(x, GENERAL)
    assert 1 <= len(patches) < len(every) / 3
    loud_frames = int((extract(GENERAL, x).max(axis=1) > -2.0).sum())  # the burst; the rest is near -5
    assert loud_frames >= 20
    for patch in patches:  # every kept patch holds at least half of the burst
        assert (patch.max(axis=1) > -2.0).sum() >= loud_frames / 2


def test_active_patches_keep_all_of_a_steady_sound() -> None:
    t = np.arange(5 * LOWBAND.sample_rate) / LOWBAND.sample_rate
    x = (0.1 * np.sin(2 * np.pi * 300 * t) + 0.05 * np.random.default_rng(0).standard_normal(len(t))).astype(
        np.float32
    )
    assert len(active_patches(x, LOWBAND)) == len(clip_patches(x, LOWBAND))


def test_patches_for_clips_tracks_owners() -> None:
    clips = [Clip(noise(2.0, seed=i), SR, "a") for i in range(3)] + [Clip(np.zeros(100, np.float32), SR, "s")]
    patches, owners = patches_for_clips(clips, GENERAL, active=False)
    assert valid(patches, GENERAL) and len(patches) == len(owners)
    assert sorted(set(owners.tolist())) == [0, 1, 2, 3]
    patches, owners = patches_for_clips(clips, GENERAL, active=True)
    assert sorted(set(owners.tolist())) == [0, 1, 2]  # the silent clip has no active patch
