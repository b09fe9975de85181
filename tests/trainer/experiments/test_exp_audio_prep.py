"""Spectral gating and format conversion (any format -> 16 kHz mono PCM16), corrupt files skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from trainer.data.convert import convert_file, convert_tree
from trainer.data.denoise import spectral_gate
from trainer.errors import DataError

RATE = 16000


def _power_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-20)


def _band_db(x: np.ndarray, f0: float, width: float = 40.0) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return 10 * np.log10(spectrum[np.abs(freqs - f0) < width].sum() + 1e-20)


def test_spectral_gate_removes_stationary_noise_keeps_tone() -> None:
    rng = np.random.default_rng(0)
    n = 3 * RATE
    noise = 0.02 * rng.standard_normal(n)
    tone = np.zeros(n)
    t = np.arange(RATE) / RATE
    tone[RATE : 2 * RATE] = 0.3 * np.sin(2 * np.pi * 1000 * t)  # the middle second only
    x = (noise + tone).astype(np.float32)
    y = spectral_gate(x, RATE)
    assert y.shape == x.shape and y.dtype == np.float32
    edge = slice(0, int(0.8 * RATE))  # noise alone
    assert _power_db(y[edge]) < _power_db(x[edge]) - 15  # stationary noise reduced by > 15 dB
    middle = slice(int(1.1 * RATE), int(1.9 * RATE))
    assert abs(_band_db(y[middle], 1000) - _band_db(x[middle], 1000)) < 1.0  # the tone kept within 1 dB
    # off the tone's frequency the middle second is cleaned too
    assert _band_db(y[middle], 4000, 500) < _band_db(x[middle], 4000, 500) - 10


def test_spectral_gate_with_a_noise_sample_and_no_op_cases() -> None:
    rng = np.random.default_rng(1)
    noise = (0.05 * rng.standard_normal(RATE)).astype(np.float32)
    t = np.arange(RATE) / RATE
    clean = 0.3 * np.sin(2 * np.pi * 500 * t)
    x = (0.05 * rng.standard_normal(RATE) + clean).astype(np.float32)
    y = spectral_gate(x, RATE, noise=noise)  # the tone spans the whole clip: the sample tells it apart
    assert abs(_band_db(y, 500) - _band_db(x, 500)) < 1.0
    assert _power_db(y - clean) < _power_db(x - clean) - 6  # noise under and around the tone reduced
    untouched = spectral_gate(x, RATE, prop_decrease=0.0)  # gain 1 everywhere: an STFT round trip
    assert np.allclose(untouched, x, atol=1e-4)
    assert len(spectral_gate(np.zeros(0, np.float32), RATE)) == 0


def test_convert_flac_44k_stereo_24bit(tmp_path: Path) -> None:
    rate = 44100
    t = np.arange(int(1.5 * rate)) / rate
    left = 0.5 * np.sin(2 * np.pi * 1000 * t)
    right = 0.5 * np.sin(2 * np.pi * 1000 * t)
    src = tmp_path / "in.flac"
    sf.write(src, np.stack([left, right], axis=1), rate, subtype="PCM_24")
    assert sf.info(str(src)).channels == 2 and sf.info(str(src)).subtype == "PCM_24"
    out = convert_file(src, tmp_path / "out" / "in.wav")
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
    assert abs(info.frames - 24000) <= 2
    y, _ = sf.read(out, dtype="float32")
    assert np.max(np.abs(y[1000:-1000])) == pytest.approx(0.5, abs=0.01)
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 16000 / len(y) - 1000) < 2  # still a 1 kHz tone


def test_convert_tree_skips_and_counts_corrupt_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "tone").mkdir(parents=True)
    (src / "noise").mkdir()
    rng = np.random.default_rng(0)
    sf.write(
        src / "tone" / "a_1.ogg", 0.3 * np.sin(np.arange(22050) / 5), 22050, format="OGG", subtype="VORBIS"
    )
    sf.write(src / "noise" / "b_1.wav", 0.1 * rng.standard_normal((8000, 2)), 8000, subtype="FLOAT")
    (src / "noise" / "broken_1.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(100))
    (src / "noise" / "notes.txt").write_text("not audio")
    report = convert_tree(src, tmp_path / "dst")
    assert len(report.converted) == 2 and len(report.skipped) == 1
    assert report.skipped[0][0].endswith("broken_1.wav") and "cannot read audio" in report.skipped[0][1]
    assert report.to_dict()["skipped"] == 1
    assert sf.info(str(tmp_path / "dst" / "tone" / "a_1.wav")).samplerate == 16000
    again = convert_tree(src, tmp_path / "dst")  # second run: nothing to redo
    assert len(again.converted) == 0 and len(again.up_to_date) == 2 and len(again.skipped) == 1


def test_convert_refuses_missing_input(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read audio"):
        convert_file(tmp_path / "missing.flac", tmp_path / "out.wav")
    with pytest.raises(DataError, match="not a directory"):
        convert_tree(tmp_path / "nowhere", tmp_path / "dst")
