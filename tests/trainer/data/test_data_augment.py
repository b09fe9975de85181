"""Augmentation: exact gain, SNR of mixes, energy-preserving shifts, masks, pitch/tempo, EQ, Augmenter."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.data import augment as A

SR = 16000  # Hz


def tone(seconds: float = 1.0, freq: float = 440.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * SR / len(x))


@pytest.mark.parametrize("db", [-12.0, -0.5, 0.0, 6.0])
def test_gain_is_exact(db: float) -> None:
    x = tone()
    y = A.gain(x, db)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x * 10 ** (db / 20), rtol=1e-6, atol=1e-9)
    rms = lambda v: np.sqrt(np.mean(v.astype(np.float64) ** 2))  # noqa: E731
    assert 20 * np.log10(rms(y) / rms(x)) == pytest.approx(db, abs=1e-5)


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 30.0])
def test_mix_at_snr_hits_the_snr_on_the_active_part(snr_db: float) -> None:
    rng = np.random.default_rng(0)
    signal = np.zeros(3 * SR, np.float32)
    signal[SR : SR + SR // 2] = tone(0.5)  # 0.5 s of sound in 3 s: silence must not count
    background = (0.05 * rng.standard_normal(SR)).astype(np.float32)  # shorter: gets looped
    mixed = A.mix_at_snr(signal, background, snr_db, rng)
    assert mixed.dtype == np.float32 and len(mixed) == len(signal)
    bed = (mixed - signal).astype(np.float64)
    signal_power = np.mean(signal[SR : SR + SR // 2].astype(np.float64) ** 2)
    assert 10 * np.log10(signal_power / np.mean(bed**2)) == pytest.approx(snr_db, abs=0.5)


def test_mix_at_snr_crops_at_a_random_offset_and_handles_silence() -> None:
    background = np.arange(10 * SR, dtype=np.float32) / (10 * SR)
    a = A.mix_at_snr(tone(), background, 0.0, np.random.default_rng(1)) - tone()
    b = A.mix_at_snr(tone(), background, 0.0, np.random.default_rng(2)) - tone()
    assert not np.allclose(a, b)
    silent = np.zeros(SR, np.float32)
    assert np.array_equal(A.mix_at_snr(tone(), silent, 0.0, np.random.default_rng(0)), tone())
    mixed = A.mix_at_snr(silent, background, 0.0, np.random.default_rng(0))
    assert np.abs(mixed).max() > 0  # the background at its own level


def test_time_shift() -> None:
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    rng = np.random.default_rng(5)
    for _ in range(5):
        y = A.time_shift(x, 2000, rng)
        assert np.sum(y.astype(np.float64) ** 2) == pytest.approx(
            np.sum(x.astype(np.float64) ** 2), rel=1e-12
        )
        shift = int(np.argmax(np.fft.irfft(np.fft.rfft(y) * np.conj(np.fft.rfft(x)), len(x))))
        shift = shift - len(x) if shift > len(x) // 2 else shift
        assert abs(shift) <= 2000 and np.array_equal(y, np.roll(x, shift))
    z = A.time_shift(x, 2000, np.random.default_rng(3), mode="zero")
    assert len(z) == len(x) and np.sum(z**2) <= np.sum(x**2)
    assert np.array_equal(A.time_shift(x, 0, rng), x)


def test_masks_change_only_the_masked_region() -> None:
    rng = np.random.default_rng(0)
    features = rng.standard_normal((96, 64)).astype(np.float32)
    for _ in range(10):
        masked = A.time_mask(features, 12, rng)
        rows = np.flatnonzero((masked != features).any(axis=1))
        assert 1 <= len(rows) <= 12 and np.array_equal(rows, np.arange(rows[0], rows[-1] + 1))
        assert np.allclose(masked[rows], features.mean())
        masked = A.freq_mask(features, 8, rng)
        cols = np.flatnonzero((masked != features).any(axis=0))
        assert 1 <= len(cols) <= 8 and np.array_equal(cols, np.arange(cols[0], cols[-1] + 1))
        assert np.allclose(masked[:, cols], features.mean())
    assert np.array_equal(A.time_mask(features, 0, rng), features)
    batch = rng.standard_normal((4, 96, 64)).astype(np.float32)
    assert A.freq_mask(batch, 8, rng).shape == batch.shape


@pytest.mark.parametrize(("semitones", "tempo"), [(2.0, 1.0), (-1.0, 1.0), (0.0, 1.1), (1.0, 0.9)])
def test_pitch_tempo(semitones: float, tempo: float) -> None:
    x = tone(1.0, 440.0)
    y = A.pitch_tempo(x, SR, semitones, tempo)
    assert y.dtype == np.float32
    assert len(y) == pytest.approx(len(x) / tempo, abs=2)
    assert peak_hz(y[800:-800]) == pytest.approx(440.0 * 2 ** (semitones / 12), rel=0.01)
    assert np.array_equal(A.pitch_tempo(x, SR), x)


def test_random_eq_stays_within_gain_bounds() -> None:
    x = np.random.default_rng(1).standard_normal(SR).astype(np.float32)
    for seed in range(5):
        y = A.random_eq(x, SR, np.random.default_rng(seed))
        assert y.dtype == np.float32 and len(y) == len(x) and np.isfinite(y).all()
        ratio_db = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean(x.astype(np.float64) ** 2))
        assert -12.5 < ratio_db < 12.5  # two filters of at most +/- 6 dB
    assert not np.allclose(A.random_eq(x, SR, np.random.default_rng(0)), x)


def test_augmenter_is_seeded() -> None:
    bed = np.random.default_rng(9).standard_normal(SR).astype(np.float32) * 0.1
    x = tone()
    a = A.Augmenter(SR, [bed], seed=3, p_pitch_tempo=0.5, p_eq=0.5, p_background=0.8)
    b = A.Augmenter(SR, [bed], seed=3, p_pitch_tempo=0.5, p_eq=0.5, p_background=0.8)
    outs_a = [a(x) for _ in range(6)]
    outs_b = [b(x) for _ in range(6)]
    assert all(np.array_equal(p, q) for p, q in zip(outs_a, outs_b, strict=True))
    assert not all(np.array_equal(outs_a[0], o) for o in outs_a[1:])
    assert all(o.dtype == np.float32 and np.isfinite(o).all() for o in outs_a)
    features = np.random.default_rng(0).standard_normal((96, 64)).astype(np.float32)
    assert np.array_equal(
        a.features(features, np.random.default_rng(1)), b.features(features, np.random.default_rng(1))
    )
    never = A.Augmenter(SR, [bed], p_pitch_tempo=0, p_eq=0, p_gain=0, p_shift=0, p_background=0)
    assert np.array_equal(never(x), x)
