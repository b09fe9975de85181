"""Shared fixtures for the trainer model tests: a tiny feature spec and tone patches made by the front end."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from detector.features import FeatureSpec, extract  # noqa: E402

# lowband-like, scaled down so networks and conversions stay fast: 16 frames x 47 bins of 21.5 Hz, 0-1000 Hz
TINY_SPEC = FeatureSpec.profile(
    "lowband", n_fft=2048, win_length=2048, hop_length=1024, n_bands=47, patch_frames=16, patch_hop_frames=4
)
TONES_HZ = (200.0, 450.0, 700.0)  # one class per tone


def tone_patches(
    spec: FeatureSpec, n: int, *, seed: int, tones_hz: tuple[float, ...] = TONES_HZ, snr: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` patches ``(n, frames, bands)``: a jittered sine tone in white noise, labels cycling the tones."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(spec.patch_seconds * spec.sample_rate) + 1) / spec.sample_rate
    xs, ys = [], []
    for i in range(n):
        label = i % len(tones_hz)
        f = tones_hz[label] * (1 + 0.01 * rng.standard_normal())
        signal = snr * 0.2 * np.sin(
            2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)
        ) + 0.2 * rng.standard_normal(len(t))
        xs.append(extract(spec, signal.astype(np.float32))[: spec.patch_frames])
        ys.append(label)
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


@pytest.fixture(scope="session")
def tiny_spec() -> FeatureSpec:
    return TINY_SPEC


@pytest.fixture(scope="session")
def tones() -> dict[str, np.ndarray]:
    """Three-class tone patches: 48 for training, 24 for validation."""
    x, y = tone_patches(TINY_SPEC, 48, seed=1)
    xv, yv = tone_patches(TINY_SPEC, 24, seed=2)
    return {"x": x, "y": y, "x_val": xv, "y_val": yv}


@pytest.fixture(scope="session")
def make_tones():
    """The ``tone_patches`` factory, for tests that need other specs or sizes."""
    return tone_patches


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same Python / NumPy / TF random state (weights, dropout, samplers)."""
    import keras

    keras.utils.set_random_seed(1234)
