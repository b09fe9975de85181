"""`trainer synth ...`, `fetch-sounds`, `collect-sounds`: folder-per-class output the loader reads back."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
import soundfile as sf

from trainer.data import commands
from trainer.data.folders import load_folder_dataset
from trainer.errors import DataError


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="trainer")
    commands.add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_synth_lowband_writes_a_loadable_data_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lowband"
    argv = [
        "synth",
        "lowband",
        "--out",
        str(out),
        "--signatures",
        "3",
        "--renditions",
        "2",
        "--seconds",
        "0.5",
    ]
    assert run(*argv, "--snr-db", "-10", "0", "--seed", "3") == 0
    assert "wrote 8 clips in 4 classes" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["generator"] == "lowfeature" and manifest["classes"] == {
        "noise": 2,
        "sig000": 2,
        "sig001": 2,
        "sig002": 2,
    }
    assert len(manifest["meta"]["signatures"]) == 3
    entry = manifest["clips"][0]
    assert (out / entry["path"]).exists() and entry["path"] == "sig000/sig000_00000.wav"
    info = sf.info(str(out / entry["path"]))
    assert info.samplerate == 44100 and info.channels == 1
    loaded = load_folder_dataset(out, 44100, trim=False)
    assert loaded.classes == ["noise", "sig000", "sig001", "sig002"]
    assert loaded.groups == ["noise", "sig000", "sig001", "sig002"]
    with pytest.raises(DataError, match="not empty"):
        run(*argv)
    assert run(*argv, "--force") == 0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_synth_digits_groups_in_file_names(tmp_path: Path) -> None:
    out = tmp_path / "digits"
    argv = ["synth", "digits", "--out", str(out), "--voices", "en-us", "en-gb+m3", "--renditions", "1"]
    assert run(*argv, "--cache", str(tmp_path / "cache")) == 0
    loaded = load_folder_dataset(out, 16000)
    assert loaded.classes == [str(d) for d in range(10)]
    assert loaded.groups == ["en-gb+m3", "en-us"]
    train, _, test = loaded.split(0.0, 0.5, by="group")
    assert set(train.groups).isdisjoint(test.groups)


def test_synth_backgrounds(tmp_path: Path) -> None:
    out = tmp_path / "beds"
    argv = ["synth", "backgrounds", "--out", str(out), "--kinds", "rain", "wind", "pink"]
    assert run(*argv, "--count", "2", "--seconds", "1.5") == 0
    loaded = load_folder_dataset(out, 16000, trim=False)
    assert loaded.counts() == {"pink": 2, "rain": 2, "wind": 2}
    assert all(abs(clip.seconds - 1.5) < 1e-3 for clip in loaded)


def test_bad_numbers_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--renditions"):
        run("synth", "lowband", "--out", str(tmp_path / "x"), "--renditions", "0")
    with pytest.raises(DataError, match="--seconds"):
        run("synth", "backgrounds", "--out", str(tmp_path / "x"), "--seconds", "0")
    with pytest.raises(DataError, match="fetch-sounds"):
        run("collect-sounds", "--out", str(tmp_path / "x"), "--cache", str(tmp_path / "empty-cache"))


def test_cli_reports_data_errors_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trainer.cli import main

    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("x")
    code = main(
        ["synth", "lowband", "--out", str(tmp_path / "taken"), "--signatures", "1", "--renditions", "1"]
    )
    assert code == 2
    assert "trainer synth: error:" in capsys.readouterr().err
