"""The low-feature paper's synthetic signatures: determinism, SNR, spectral lines, distinct signatures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from detector.features import FeatureSpec, extract
from trainer.data import lowfeature as lf
from trainer.errors import DataError

SR = lf.SAMPLE_RATE
BIN_HZ = SR / 8192  # lowband profile bin width


def steady(freqs: tuple[float, ...], drift_hz: float = 2.0) -> lf.Signature:
    return lf.Signature("t", freqs, tuple(0.0 for _ in freqs), drift_hz=drift_hz)


def test_make_dataset_is_deterministic_by_seed() -> None:
    a = lf.make_dataset(3, 2, seconds=0.5, seed=4)
    b = lf.make_dataset(3, 2, seconds=0.5, seed=4)
    c = lf.make_dataset(3, 2, seconds=0.5, seed=5)
    assert a.classes == ["noise", "sig000", "sig001", "sig002"]
    assert len(a) == 8 and all(clip.sample_rate == SR and clip.samples.dtype == np.float32 for clip in a)
    assert all(np.array_equal(x.samples, y.samples) for x, y in zip(a, b, strict=True))
    assert a.meta["signatures"] == b.meta["signatures"] != c.meta["signatures"]
    assert not np.array_equal(a[0].samples, c[0].samples)
    assert {clip.group for clip in a if clip.label == "sig001"} == {"sig001"}
    assert len(lf.make_dataset(2, 3, seconds=0.5, seed=4, include_noise_only=False).classes) == 2


def test_renditions_differ_but_keep_the_signature() -> None:
    clipset = lf.make_dataset(1, 2, seconds=1.0, seed=0, include_noise_only=False)
    assert not np.allclose(clipset[0].samples, clipset[1].samples)


@pytest.mark.parametrize("snr_db", [0.0, -10.0])
def test_snr_measured_on_the_mixture(snr_db: float) -> None:
    """Noise power from the tone-free band (white noise is flat), tone power = total - noise."""
    x = lf.render(steady((120.0, 455.5, 870.0)), 4.0, snr_db, np.random.default_rng(3)).astype(np.float64)
    freqs, psd = sps.welch(x, SR, nperseg=4096)
    noise_power = psd[(freqs > 2000) & (freqs < 20000)].mean() * SR / 2
    tone_power = np.mean(x**2) - noise_power
    assert 10 * np.log10(tone_power / noise_power) == pytest.approx(snr_db, abs=0.5)


def test_snr_counts_only_the_on_part_of_a_pulsed_signature() -> None:
    pulsed = lf.Signature("p", (300.0,), (0.0,), period_seconds=0.5, duty=0.4)
    tones, noise, gate = lf.render_parts(pulsed, 3.0, -6.0, np.random.default_rng(1), "pink")
    on = gate > 0.5
    assert 0.35 < on.mean() < 0.45
    assert 10 * np.log10(np.mean(tones[on] ** 2) / np.mean(noise**2)) == pytest.approx(-6.0, abs=1e-6)
    assert np.abs(tones[gate == 0]).max() == 0.0


def test_levels_are_bounded() -> None:
    x = lf.render(steady((100.0,)), 1.0, 20.0, np.random.default_rng(0))
    rms_db = 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert lf.TARGET_RMS_DBFS - 3.01 <= rms_db <= lf.TARGET_RMS_DBFS + 3.01
    assert np.abs(x).max() <= lf.PEAK_LIMIT


def peak_bins(x: np.ndarray, count: int) -> list[float]:
    """The ``count`` strongest spectral lines of the lowband features (frame mean), in Hz."""
    mean = extract(FeatureSpec.profile("lowband"), x).mean(axis=0)
    order = np.argsort(mean)[::-1]
    peaks: list[int] = []
    for b in order:
        if all(abs(b - p) > 3 for p in peaks):
            peaks.append(int(b))
        if len(peaks) == count:
            break
    return sorted(p * BIN_HZ for p in peaks)


def test_tones_are_the_peaks_of_the_lowband_features() -> None:
    freqs = (82.0, 317.0, 640.5, 905.0)
    x = lf.render(steady(freqs), 4.0, -15.0, np.random.default_rng(2))
    peaks = peak_bins(x, len(freqs))
    assert np.allclose(peaks, freqs, atol=2 * BIN_HZ)


def test_different_signatures_differ_in_features() -> None:
    signatures = lf.make_signatures(2, np.random.default_rng(11))
    rng = np.random.default_rng(0)
    a = peak_bins(lf.render(signatures[0], 4.0, 0.0, rng), len(signatures[0].freqs_hz))
    b = peak_bins(lf.render(signatures[1], 4.0, 0.0, rng), len(signatures[1].freqs_hz))
    assert np.allclose(a, signatures[0].freqs_hz, atol=2 * BIN_HZ)
    assert np.allclose(b, signatures[1].freqs_hz, atol=2 * BIN_HZ)
    assert a != b


def test_signatures_are_valid_and_pairwise_distinct() -> None:
    signatures = lf.make_signatures(40, np.random.default_rng(0))
    assert [s.id for s in signatures[:2]] == ["sig000", "sig001"]
    for i, s in enumerate(signatures):
        assert 1 <= len(s.freqs_hz) <= 10
        assert all(lf.FREQ_MIN_HZ <= f <= lf.FREQ_MAX_HZ for f in s.freqs_hz)
        assert np.all(np.diff(s.freqs_hz) >= lf.MIN_TONE_SPACING_HZ)
        assert lf.Signature.from_dict(s.to_dict()) == s
        for other in signatures[i + 1 :]:
            assert s.distinct_from(other)
    assert any(s.period_seconds is not None for s in signatures)
    assert not steady((100.0, 300.0)).distinct_from(steady((105.0, 295.0)))
    assert not steady((100.0,)).distinct_from(steady((100.0, 400.0)))  # one's tones all inside the other's
    assert steady((100.0, 200.0)).distinct_from(steady((100.0, 400.0)))


def test_noise_colours_have_unit_power_and_their_slope() -> None:
    rng = np.random.default_rng(0)
    for kind, slope in (("white", 0.0), ("pink", -1.0), ("brown", -2.0)):
        x = lf.noise(kind, SR * 2, rng)
        assert np.mean(x**2) == pytest.approx(1.0)
        freqs, psd = sps.welch(x, SR, nperseg=8192)
        band = (freqs > 100) & (freqs < 10000)
        fitted = np.polyfit(np.log10(freqs[band]), np.log10(psd[band]), 1)[0]
        assert fitted == pytest.approx(slope, abs=0.15)


def test_bad_parameters_are_data_errors() -> None:
    with pytest.raises(DataError, match="tone 5"):
        lf.Signature("x", (5.0,), (0.0,))
    with pytest.raises(DataError, match="tones"):
        lf.Signature("x", tuple(range(100, 1000, 50)), (0.0,) * 18)
    with pytest.raises(DataError, match="noise kind"):
        lf.make_dataset(1, 1, seconds=0.1, noise_kinds=("violet",))
    with pytest.raises(DataError, match="snr_db_range"):
        lf.make_dataset(1, 1, seconds=0.1, snr_db_range=(5.0, -5.0))
