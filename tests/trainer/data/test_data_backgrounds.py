"""Synthetic background textures: every kind, deterministic, at the stated level, with its character."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from trainer.data import backgrounds as B
from trainer.errors import DataError

SR = 16000  # Hz


@pytest.mark.parametrize("kind", B.KINDS)
def test_every_kind_is_deterministic_finite_and_levelled(kind: str) -> None:
    x = B.make_background(kind, 3.0, SR, np.random.default_rng(1))
    y = B.make_background(kind, 3.0, SR, np.random.default_rng(1))
    z = B.make_background(kind, 3.0, SR, np.random.default_rng(2))
    assert x.dtype == np.float32 and len(x) == 3 * SR and np.isfinite(x).all()
    assert np.array_equal(x, y) and not np.array_equal(x, z)
    assert np.abs(x).max() <= B.PEAK_LIMIT + 1e-6
    rms_db = 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert B.BACKGROUND_RMS_DBFS - 15 < rms_db <= B.BACKGROUND_RMS_DBFS + 0.01


def band_share(x: np.ndarray, lo: float, hi: float) -> float:
    freqs, psd = sps.welch(x, SR, nperseg=2048)
    return float(psd[(freqs >= lo) & (freqs < hi)].sum() / psd.sum())


def test_textures_have_their_spectral_character() -> None:
    rng = np.random.default_rng(0)
    wind = B.make_background("wind", 3.0, SR, rng)
    rain = B.make_background("rain", 3.0, SR, rng)
    traffic = B.make_background("traffic", 3.0, SR, rng)
    assert band_share(wind, 0, 1000) > 0.9
    assert band_share(traffic, 0, 1000) > 0.75
    assert band_share(rain, 1000, 8000) > 0.5
    machinery = B.make_background("machinery", 3.0, SR, rng)
    freqs, psd = sps.welch(machinery, SR, nperseg=8192)
    low = freqs < 130
    assert psd[low].max() > 100 * np.median(psd)  # a strong hum line


def test_unknown_kind_and_bad_duration() -> None:
    with pytest.raises(DataError, match="background kind"):
        B.make_background("thunder", 1.0, SR, np.random.default_rng(0))
    with pytest.raises(DataError, match="seconds"):
        B.make_background("rain", 0.0, SR, np.random.default_rng(0))


def test_fallbacks_without_external_tools() -> None:
    rng = np.random.default_rng(0)
    babble = B._babble_formants(SR, SR, rng)
    assert len(babble) == SR and np.isfinite(babble).all() and np.abs(babble).max() > 0
