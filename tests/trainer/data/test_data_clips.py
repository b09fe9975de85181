"""Clip loading, silence trimming, splits and the folder-per-class writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from trainer.data.clips import Clip, ClipSet, load_audio, safe_name, trim_silence, write_clipset
from trainer.data.folders import load_folder_dataset
from trainer.errors import DataError

SR = 16000  # Hz


def tone(seconds: float, sample_rate: int = SR, freq: float = 440.0, level: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    ("name", "subtype"),
    [("a.wav", "PCM_16"), ("a.flac", "PCM_24"), ("a.ogg", "VORBIS"), ("a.mp3", "MPEG_LAYER_III")],
)
def test_load_audio_any_format_stereo_to_mono_resampled(tmp_path: Path, name: str, subtype: str) -> None:
    left = tone(1.0, 22050, 440.0)
    stereo = np.stack([left, left], axis=1)
    sf.write(tmp_path / name, stereo, 22050, subtype=subtype)
    x = load_audio(tmp_path / name, SR)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - SR) <= 2
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    assert abs(np.argmax(spectrum) * SR / len(x) - 440.0) < 3.0


def test_load_audio_max_seconds(tmp_path: Path) -> None:
    sf.write(tmp_path / "long.wav", tone(3.0), SR)
    assert len(load_audio(tmp_path / "long.wav", SR, max_seconds=1.0)) == SR


def test_load_audio_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(DataError, match="broken.wav"):
        load_audio(bad, SR)
    with pytest.raises(DataError, match="missing.flac"):
        load_audio(tmp_path / "missing.flac", SR)


def test_trim_silence_keeps_padding_and_drops_silence() -> None:
    x = np.zeros(3 * SR, dtype=np.float32)
    x[SR : 2 * SR] = tone(1.0)
    y = trim_silence(x, SR)
    # the sound starts and ends on 20 ms frame boundaries here: 1 s plus exactly 50 ms either side
    pad = SR // 20
    assert np.array_equal(y, x[SR - pad : 2 * SR + pad])
    assert len(trim_silence(np.zeros(SR, np.float32), SR)) == 0
    assert len(trim_silence(np.zeros(0, np.float32), SR)) == 0


def test_trim_silence_threshold_is_relative_to_peak() -> None:
    x = np.concatenate([tone(0.5, level=0.001), np.zeros(SR // 2, np.float32), tone(0.5, level=0.5)])
    # the quiet tone is 54 dB below the loud one: trimmed at -40 dB, kept at -60 dB
    assert len(trim_silence(x, SR)) < 0.6 * SR
    assert len(trim_silence(x, SR, threshold_db=-60)) == len(x)


def make_set(n_groups: int = 6, per_group: int = 4, labels: tuple[str, ...] = ("a", "b", "c")) -> ClipSet:
    clips = [
        Clip(np.full(10, i, np.float32), SR, labels[i % len(labels)], f"g{g}", f"clip{g}-{i}")
        for g in range(n_groups)
        for i in range(per_group)
    ]
    return ClipSet(clips=clips)


def test_split_stratified_is_deterministic_and_covers_every_class() -> None:
    clipset = make_set(n_groups=10, per_group=3)
    first = clipset.split(0.2, 0.2, seed=7)
    again = clipset.split(0.2, 0.2, seed=7)
    other = clipset.split(0.2, 0.2, seed=8)
    sources = [[c.source for c in part] for part in first]
    assert sources == [[c.source for c in part] for part in again]
    assert sources != [[c.source for c in part] for part in other]
    assert sum(len(part) for part in first) == len(clipset)
    assert len({c.source for part in first for c in part}) == len(clipset)
    for part in first:
        assert part.classes == ["a", "b", "c"]
    assert [len(part) for part in first] == [18, 6, 6]


def test_split_by_group_is_disjoint() -> None:
    clipset = make_set(n_groups=10, per_group=4)
    train, val, test = clipset.split(0.2, 0.2, seed=1, by="group")
    groups = [set(part.groups) for part in (train, val, test)]
    assert all(groups) and not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert len(train) + len(val) + len(test) == len(clipset)
    assert [part.groups for part in clipset.split(0.2, 0.2, seed=1, by="group")] == [
        part.groups for part in (train, val, test)
    ]


def test_split_edge_cases() -> None:
    two_groups = make_set(n_groups=2, per_group=3)
    train, val, test = two_groups.split(0.0, 0.5, by="group")
    assert len(train.groups) == 1 and len(test.groups) == 1 and len(val) == 0
    one = ClipSet(clips=[Clip(np.zeros(4, np.float32), SR, "x", "g", "s")])
    train, val, test = one.split(0.1, 0.1)
    assert (len(train), len(val), len(test)) == (1, 0, 0)
    with pytest.raises(DataError, match="fractions"):
        one.split(0.6, 0.5)
    with pytest.raises(DataError, match="split by"):
        one.split(by="speaker")  # type: ignore[arg-type]


def test_write_clipset_round_trips_through_the_folder_loader(tmp_path: Path) -> None:
    clips = [
        Clip(tone(0.3, freq=300 + 50 * i), SR, label, group, f"gen {i}")
        for i, (label, group) in enumerate(
            [("dog", "park_a"), ("dog", "yard"), ("cat/x", "home"), ("cat/x", "home")]
        )
    ]
    manifest = write_clipset(ClipSet(clips=clips), tmp_path / "set", "test", {"k": 1})
    assert manifest.exists()
    loaded = load_folder_dataset(tmp_path / "set", SR, trim=False)
    assert loaded.classes == ["cat-x", "dog"]
    assert sorted(loaded.groups) == ["home", "park-a", "yard"]
    assert len(loaded) == 4 and not loaded.skipped
    with pytest.raises(DataError, match="not empty"):
        write_clipset(ClipSet(clips=clips), tmp_path / "set", "test")
    write_clipset(ClipSet(clips=clips[:2]), tmp_path / "set", "test", force=True)
    assert load_folder_dataset(tmp_path / "set", SR).classes == ["dog"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="no manifest.json"):
        write_clipset(ClipSet(clips=clips), tmp_path / "other", "test", force=True)


def test_write_clipset_scales_overs_for_pcm(tmp_path: Path) -> None:
    loud = Clip(tone(0.2, level=1.5), SR, "loud", "g", "x")
    write_clipset(ClipSet(clips=[loud]), tmp_path / "o", "test")
    x, _ = sf.read(tmp_path / "o" / "loud" / "g_00000.wav")
    assert np.abs(x).max() == pytest.approx(0.99, abs=1e-4)


def test_safe_name() -> None:
    assert safe_name("en-us+f3") == "en-us+f3"
    assert safe_name("a b/c") == "a-b-c"
    assert safe_name("///") == "unnamed"
