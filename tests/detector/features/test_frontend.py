"""The numba front end against librosa, and streaming against offline, for every block size."""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest

from detector.features import FeatureSpec, FrontEnd, extract, filterbank


def mixed_signal(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """Noise, two tones and a chirp: every bin carries energy, levels spread over ~60 dB."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.05 * rng.standard_normal(len(t))
    x += 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.1 * np.sin(2 * np.pi * 3100.0 * t + 1.0)
    x += 0.2 * np.sin(2 * np.pi * (100.0 * t + 0.5 * (sr / 8) * t**2 / seconds))
    return x.astype(np.float32)


def librosa_bands(spec: FeatureSpec, x: np.ndarray) -> np.ndarray:
    """Band powers (frames x bands) computed by librosa with the same options, in float64."""
    win = filterbank.window(spec).astype(np.float64)  # librosa pads a shorter window the same way
    name = spec.window if spec.window != "rect" else "boxcar"
    ref_window = librosa.filters.get_window(name, spec.win_length, fftbins=True)
    np.testing.assert_allclose(win, librosa.util.pad_center(ref_window, size=spec.n_fft), atol=1e-7)
    power = (
        np.abs(
            librosa.stft(
                x.astype(np.float64),
                n_fft=spec.n_fft,
                hop_length=spec.hop_length,
                win_length=spec.win_length,
                window=name,
                center=False,
            )
        )
        ** 2
    )
    if spec.scale == "mel":
        mel = librosa.feature.melspectrogram(
            S=power,
            sr=spec.sample_rate,
            n_mels=spec.n_bands,
            fmin=spec.fmin,
            fmax=spec.fmax,
            htk=False,
            norm="slaney",
        )
        return mel.T
    lo, hi = spec.linear_bins()
    return power[lo:hi].T


def to_power(spec: FeatureSpec, feats: np.ndarray) -> np.ndarray:
    logp = feats.astype(np.float64) / (10.0 if spec.log == "db" else 1.0)
    return 10.0**logp


def assert_power_close(ours: np.ndarray, ref: np.ndarray) -> None:
    # 1e-4 relative; values below 1e-7 of the spectrogram's peak (float32 FFT noise) compared absolutely
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-7 * ref.max())


@pytest.mark.parametrize(
    "spec",
    [
        FeatureSpec.profile("general"),
        FeatureSpec.profile("general", window="hamming", win_length=400, log="db"),
        FeatureSpec.profile("general", window="blackman", n_bands=40, fmin=0.0, fmax=8000.0, hop_length=256),
        FeatureSpec.profile("general", n_fft=1024, win_length=1024, hop_length=512, n_bands=128, fmax=8000.0),
    ],
    ids=["general", "hamming-400-db", "blackman-40", "1024-128"],
)
def test_mel_matches_librosa(spec: FeatureSpec) -> None:
    x = mixed_signal(3.0, spec.sample_rate)
    assert_power_close(to_power(spec, extract(spec, x)), librosa_bands(spec, x))


def test_linear_bins_match_librosa_stft() -> None:
    spec = FeatureSpec.profile("lowband")
    x = mixed_signal(4.0, spec.sample_rate, seed=3)
    ref = librosa_bands(spec, x)
    assert ref.shape[1] == 186  # 5.38 Hz bins from 0 to 1000 Hz
    assert_power_close(to_power(spec, extract(spec, x)), ref)


def test_full_band_linear_is_the_power_spectrogram() -> None:
    base = FeatureSpec.profile("general")
    spec = dataclasses.replace(base, scale="linear", fmin=0.0, fmax=8000.0, n_bands=257)
    x = mixed_signal(2.0, 16000, seed=5)
    power = np.abs(librosa.stft(x.astype(np.float64), n_fft=512, hop_length=160, center=False)) ** 2
    assert_power_close(to_power(spec, extract(spec, x)), power.T)


def test_mel_filterbank_equals_librosa() -> None:
    for spec in (
        FeatureSpec.profile("general"),
        FeatureSpec.profile("general", n_bands=128, fmin=0.0, fmax=8000.0),
    ):
        ref = librosa.filters.mel(
            sr=spec.sample_rate,
            n_fft=spec.n_fft,
            n_mels=spec.n_bands,
            fmin=spec.fmin,
            fmax=spec.fmax,
            htk=False,
            norm="slaney",
        )
        np.testing.assert_allclose(filterbank.dense(spec), ref, rtol=1e-5, atol=1e-8)


def test_log_floor_applies_to_silence() -> None:
    spec = FeatureSpec.profile("general")
    feats = extract(spec, np.zeros(16000, np.float32))
    np.testing.assert_allclose(feats, np.log10(spec.log_floor), atol=1e-5)
    db = extract(dataclasses.replace(spec, log="db"), np.zeros(16000, np.float32))
    np.testing.assert_allclose(db, 10 * np.log10(spec.log_floor), atol=1e-4)


def stream(spec: FeatureSpec, x: np.ndarray, sizes) -> np.ndarray:
    fe = FrontEnd(spec)
    out, i = [], 0
    for n in sizes:
        if i >= len(x):
            break
        out.append(fe.push(x[i : i + n]))
        i += n
    assert i >= len(x)
    assert fe.frames_emitted == sum(len(o) for o in out)
    return np.concatenate(out) if out else np.zeros((0, spec.n_bands), np.float32)


@pytest.mark.parametrize("block", [1, 7, 160, 511, 512, 1280, 16000, 160000])
def test_online_equals_offline_for_block_sizes(block: int) -> None:
    spec = FeatureSpec.profile("general")
    x = mixed_signal(12.0 if block >= 16000 else 2.0, 16000, seed=block)
    offline = extract(spec, x)
    assert offline.shape == (spec.frames_in(len(x)), spec.n_bands)
    online = stream(spec, x, iter(lambda: block, None))
    np.testing.assert_array_equal(online, offline)


def test_sixty_seconds_in_random_blocks_is_identical() -> None:
    spec = FeatureSpec.profile("general")
    x = mixed_signal(60.0, 16000, seed=11)
    rng = np.random.default_rng(12)
    sizes = rng.integers(0, 9000, size=10_000)  # includes empty pushes
    np.testing.assert_array_equal(stream(spec, x, sizes), extract(spec, x))


def test_lowband_streaming_equals_offline() -> None:
    spec = FeatureSpec.profile("lowband")
    x = mixed_signal(6.0, spec.sample_rate, seed=2)
    rng = np.random.default_rng(4)
    np.testing.assert_array_equal(stream(spec, x, rng.integers(1, 5000, size=10_000)), extract(spec, x))


def test_hop_longer_than_frame_skips_samples() -> None:
    spec = FeatureSpec.profile("general", n_fft=256, win_length=256, hop_length=700, n_bands=32)
    x = mixed_signal(2.0, 16000, seed=9)
    ref = librosa_bands(spec, x)
    assert_power_close(to_power(spec, extract(spec, x)), ref)
    np.testing.assert_array_equal(stream(spec, x, iter(lambda: 333, None)), extract(spec, x))


def test_reset_restarts_frame_zero() -> None:
    spec = FeatureSpec.profile("general")
    x = mixed_signal(1.0, 16000)
    fe = FrontEnd(spec)
    fe.push(x[:1000])
    fe.reset()
    assert fe.frames_emitted == 0
    np.testing.assert_array_equal(fe.push(x), extract(spec, x))


def test_short_and_empty_signals_give_no_frames() -> None:
    spec = FeatureSpec.profile("general")
    assert extract(spec, np.zeros(511, np.float32)).shape == (0, 64)
    assert extract(spec, np.zeros(0, np.float32)).shape == (0, 64)
    assert extract(spec, np.zeros(512, np.float32)).shape == (1, 64)


def test_float64_input_is_accepted_and_pcm_is_refused() -> None:
    spec = FeatureSpec.profile("general")
    x = mixed_signal(1.0, 16000)
    np.testing.assert_array_equal(extract(spec, x.astype(np.float64)), extract(spec, x))
    with pytest.raises(ValueError, match="float samples"):
        extract(spec, (x * 32767).astype(np.int16))
    with pytest.raises(ValueError, match="1-D"):
        extract(spec, np.zeros((100, 2), np.float32))
