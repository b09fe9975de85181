"""Folder-per-class loader: layout, groups, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from trainer.data.folders import load_folder_dataset
from trainer.errors import DataError

SR = 16000  # Hz


def write(
    path: Path, seconds: float = 0.3, sample_rate: int = SR, level: float = 0.3, freq: float = 500.0
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    sf.write(path, (level * np.sin(2 * np.pi * freq * t)).astype(np.float32), sample_rate)
    return path


def test_classes_groups_and_rates(tmp_path: Path) -> None:
    write(tmp_path / "bark" / "alice" / "one.wav")
    write(tmp_path / "bark" / "bob" / "two.flac", sample_rate=44100)
    write(tmp_path / "meow" / "carol_001.wav", sample_rate=8000)
    write(tmp_path / "meow" / "carol_002.ogg", sample_rate=22050)
    write(tmp_path / "meow" / "dave.wav", sample_rate=11025)
    (tmp_path / "meow" / "notes.txt").write_text("not audio, ignored")
    (tmp_path / "meow" / ".hidden.wav").write_bytes(b"junk, hidden: ignored")
    (tmp_path / "manifest.json").write_text("{}")
    clipset = load_folder_dataset(tmp_path, SR)
    assert clipset.classes == ["bark", "meow"]
    assert [(c.label, c.group) for c in clipset] == [
        ("bark", "alice"),
        ("bark", "bob"),
        ("meow", "carol"),
        ("meow", "carol"),
        ("meow", "dave"),
    ]
    assert all(c.sample_rate == SR and c.samples.dtype == np.float32 for c in clipset)
    assert all(abs(c.seconds - 0.3) < 0.12 for c in clipset)  # trimmed to the sound (+ padding)
    assert not clipset.skipped and not clipset.warnings


def test_missing_and_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_folder_dataset(tmp_path / "nope", SR)
    write(tmp_path / "file.wav")
    with pytest.raises(DataError, match="not a directory"):
        load_folder_dataset(tmp_path / "file.wav", SR)


def test_empty_directory_and_no_audio(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no class sub-directories"):
        load_folder_dataset(tmp_path, SR)
    (tmp_path / "dog").mkdir()
    (tmp_path / "dog" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no audio files"):
        load_folder_dataset(tmp_path, SR)


def test_audio_outside_class_folders_is_explained(tmp_path: Path) -> None:
    write(tmp_path / "loose.wav")
    with pytest.raises(DataError, match="directly in it"):
        load_folder_dataset(tmp_path, SR)


def test_corrupt_file_is_skipped_and_counted(tmp_path: Path) -> None:
    write(tmp_path / "a" / "x_1.wav")
    write(tmp_path / "a" / "x_2.wav")
    (tmp_path / "a" / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    (tmp_path / "a" / "empty.flac").write_bytes(b"")
    clipset = load_folder_dataset(tmp_path, SR)
    assert len(clipset) == 2
    assert sorted(Path(path).name for path, _ in clipset.skipped) == ["broken.wav", "empty.flac"]
    assert all("cannot read audio" in reason for _, reason in clipset.skipped)


def test_silent_clip_trimmed_to_empty_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "a" / "ok_1.wav")
    write(tmp_path / "a" / "ok_2.wav")
    write(tmp_path / "a" / "quiet_1.wav", level=0.0)
    clipset = load_folder_dataset(tmp_path, SR)
    assert len(clipset) == 2
    assert clipset.skipped == [(str(tmp_path / "a" / "quiet_1.wav"), "silent (nothing left after trimming)")]
    untrimmed = load_folder_dataset(tmp_path, SR, trim=False)
    assert len(untrimmed) == 3 and not untrimmed.skipped


def test_class_with_one_clip_is_kept_but_flagged(tmp_path: Path) -> None:
    write(tmp_path / "many" / "a_1.wav")
    write(tmp_path / "many" / "a_2.wav")
    write(tmp_path / "single" / "b_1.wav")
    clipset = load_folder_dataset(tmp_path, SR)
    assert clipset.counts() == {"many": 2, "single": 1}
    assert len(clipset.warnings) == 1 and "'single' has only 1 clip" in clipset.warnings[0]


def test_only_unusable_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bad.wav").write_bytes(b"nope")
    write(tmp_path / "a" / "silent.wav", level=0.0)
    with pytest.raises(DataError, match="none of the 2 audio file"):
        load_folder_dataset(tmp_path, SR)
