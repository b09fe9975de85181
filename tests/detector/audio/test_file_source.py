"""Tests of FileSource on real WAV files: exact round trip, pacing, resampling, channels and bad input."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from detector.audio import FileSource, SampleRing
from detector.errors import AudioInputError

RATE_HZ = 16000


def write_wav_int16(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write int16 samples, shape (n,) or (n, channels), with the stdlib wave module."""
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def tone(freq_hz: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq_hz * t)


def test_wav_round_trip_is_exact(tmp_path: Path, collect) -> None:
    path = tmp_path / "noise.wav"
    rng = np.random.default_rng(0)
    write_wav_int16(path, rng.integers(-32768, 32768, 40_000), RATE_HZ)
    reference, _ = sf.read(path, dtype="float32")
    # a ring much smaller than the file: the source must wait, not drop
    got = collect(FileSource(path, RATE_HZ, block_seconds=0.05), SampleRing(1024))
    np.testing.assert_array_equal(got, reference)


def test_realtime_is_paced_and_fast_mode_is_not(tmp_path: Path, collect) -> None:
    path = tmp_path / "half_second.wav"
    write_wav_int16(path, (tone(440, 0.5, RATE_HZ) * 32767).astype(np.int16), RATE_HZ)
    t0 = time.monotonic()
    collect(FileSource(path, RATE_HZ, realtime=True, block_seconds=0.05), SampleRing(RATE_HZ))
    paced = time.monotonic() - t0
    t0 = time.monotonic()
    collect(FileSource(path, RATE_HZ), SampleRing(RATE_HZ))
    fast = time.monotonic() - t0
    assert paced >= 0.4
    assert fast < paced / 2


def test_stop_ends_a_realtime_source_early(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    write_wav_int16(path, np.zeros(10 * RATE_HZ, np.int16), RATE_HZ)
    source = FileSource(path, RATE_HZ, realtime=True)
    ring = SampleRing(RATE_HZ)
    source.start(ring)
    time.sleep(0.2)
    source.stop()
    source.join(2.0)
    assert not source.running
    assert not source.finished
    assert ring.closed


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    with pytest.raises(AudioInputError, match="no such file") as err:
        FileSource(path, RATE_HZ)
    assert str(path) in str(err.value)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="is a directory"):
        FileSource(tmp_path, RATE_HZ)


@pytest.mark.parametrize(
    "content",
    [b"this is a text file, not audio\n", np.random.default_rng(1).bytes(5000)],
    ids=["text", "random"],
)
def test_not_an_audio_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.wav"
    path.write_bytes(content)
    with pytest.raises(AudioInputError, match=r"not a readable audio file \(WAV, FLAC, OGG\)") as err:
        FileSource(path, RATE_HZ)
    with pytest.raises(sf.LibsndfileError) as libsndfile_err:
        sf.SoundFile(path)
    assert str(path) in str(err.value)
    assert libsndfile_err.value.error_string in str(err.value)  # libsndfile's own reason is passed on


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.touch()
    with pytest.raises(AudioInputError, match=r"empty \(0 bytes\)"):
        FileSource(path, RATE_HZ)


def test_wav_without_frames(tmp_path: Path) -> None:
    path = tmp_path / "header_only.wav"
    write_wav_int16(path, np.zeros(0, np.int16), RATE_HZ)
    assert path.stat().st_size > 0
    with pytest.raises(AudioInputError, match="contains no audio samples") as err:
        FileSource(path, RATE_HZ)
    assert str(path) in str(err.value)


def test_8bit_unsigned_wav(tmp_path: Path, collect) -> None:
    path = tmp_path / "u8.wav"
    raw = np.random.default_rng(2).integers(0, 256, 5000).astype(np.uint8)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(RATE_HZ)
        w.writeframes(raw.tobytes())
    got = collect(FileSource(path, RATE_HZ), SampleRing(4096))
    np.testing.assert_array_equal(got, (raw.astype(np.float32) - 128) / 128)


def test_stereo_channel_selection_and_average(tmp_path: Path, collect) -> None:
    path = tmp_path / "stereo.wav"
    rng = np.random.default_rng(3)
    left, right = rng.integers(-32768, 32768, (2, 8000))
    write_wav_int16(path, np.stack([left, right], axis=1), RATE_HZ)
    got_right = collect(FileSource(path, RATE_HZ, channel=1), SampleRing(4096))
    got_left = collect(FileSource(path, RATE_HZ, channel=0), SampleRing(4096))
    got_mean = collect(FileSource(path, RATE_HZ), SampleRing(4096))
    np.testing.assert_array_equal(got_right, right / 32768)
    np.testing.assert_array_equal(got_left, left / 32768)
    np.testing.assert_allclose(got_mean, (left + right) / 2 / 32768, rtol=0, atol=1e-7)
    with pytest.raises(AudioInputError, match="2 channel"):
        FileSource(path, RATE_HZ, channel=2)


@pytest.mark.parametrize("file_rate_hz", [8000, 44100, 96000])
def test_resampled_to_16k_keeps_length_and_pitch(tmp_path: Path, file_rate_hz: int, collect) -> None:
    path = tmp_path / f"tone_{file_rate_hz}.wav"
    seconds = 1.0
    write_wav_int16(path, (tone(1000, seconds, file_rate_hz) * 32767).astype(np.int16), file_rate_hz)
    source = FileSource(path, RATE_HZ)
    got = collect(source, SampleRing(4096))
    assert abs(len(got) - seconds * RATE_HZ) <= 4
    spectrum = np.abs(np.fft.rfft(got * np.hanning(len(got))))
    peak_hz = np.argmax(spectrum) * RATE_HZ / len(got)
    assert abs(peak_hz - 1000) <= 2
    assert 0.4 < np.max(np.abs(got[1000:-1000])) < 0.6  # amplitude kept
    assert source.stats()["file_rate"] == file_rate_hz


def test_nan_and_inf_become_zero_and_are_counted(tmp_path: Path, collect) -> None:
    path = tmp_path / "float.wav"
    signal = np.linspace(-0.5, 0.5, 3000, dtype=np.float32)
    bad = [10, 11, 500, 2999]
    signal[bad] = [np.nan, np.inf, -np.inf, np.nan]
    sf.write(path, signal, RATE_HZ, subtype="FLOAT")
    source = FileSource(path, RATE_HZ, block_seconds=0.01)
    got = collect(source, SampleRing(4096))
    expected = signal.copy()
    expected[bad] = 0.0
    np.testing.assert_array_equal(got, expected)
    assert source.stats()["nonfinite_replaced"] == len(bad)


def test_flac_and_ogg_are_read(tmp_path: Path, collect) -> None:
    signal = tone(500, 0.3, RATE_HZ).astype(np.float32)
    flac = tmp_path / "a.flac"
    sf.write(flac, signal, RATE_HZ, subtype="PCM_16")
    np.testing.assert_array_equal(
        collect(FileSource(flac, RATE_HZ), SampleRing(4096)), sf.read(flac, dtype="float32")[0]
    )
    ogg = tmp_path / "a.ogg"
    sf.write(ogg, signal, RATE_HZ, format="OGG", subtype="VORBIS")
    got = collect(FileSource(ogg, RATE_HZ), SampleRing(4096))
    assert abs(len(got) - len(signal)) <= 1
