"""Debian sound packages: class names from paths, MIDI rendering, a real fetch + collect of one package."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from trainer.data import debian, midi
from trainer.errors import DataError

NETWORK_TROUBLE = (
    "Failed to fetch",
    "Temporary failure",
    "Could not resolve",
    "Unable to connect",
    "403",
    "404",
)


@pytest.mark.parametrize(
    ("package", "path", "chain"),
    [
        (
            "wesnoth-1.16-data",
            "usr/share/games/wesnoth/1.16/data/core/sounds/human-hit-3.ogg",
            ["human-hit", "human"],
        ),
        ("torcs-data", "usr/share/games/torcs/data/sound/crash6.wav", ["crash"]),
        ("sonic-pi-samples", "usr/share/sonic-pi/samples/tabla_ghe7.flac", ["tabla-ghe", "tabla"]),
        (
            "sonic-pi-samples",
            "usr/share/sonic-pi/samples/drum_tom_mid_soft.flac",
            ["drum-tom-mid-soft", "drum-tom-mid", "drum-tom", "drum"],
        ),
        ("oxygen-sounds", "usr/share/sounds/Oxygen-Sys-Log-In.ogg", ["sys-log-in", "sys-log", "sys"]),
        (
            "wesnoth-1.16-data",
            "usr/share/games/wesnoth/1.16/data/core/sounds/horn-signals/horn-7.ogg",
            ["horn", "horn-signals"],
        ),
        ("asterisk-core-sounds-en-wav", "usr/share/asterisk/sounds/en_US_f_Allison/digits/5.wav", ["digits"]),
        (
            "asterisk-core-sounds-en-wav",
            "usr/share/asterisk/sounds/en_US_f_Allison/phonetic/a_p.wav",
            ["a-p", "phonetic"],
        ),
        ("supertux-data", "usr/share/games/supertux2/music/forest/forest2.ogg", ["music"]),
    ],
)
def test_class_chain(package: str, path: str, chain: list[str]) -> None:
    assert debian.class_chain(package, path) == chain


def test_assign_classes_takes_the_most_specific_class_with_enough_clips() -> None:
    chains = [
        ["drum-tom-mid-soft", "drum-tom-mid", "drum-tom", "drum"],
        ["drum-tom-mid-hard", "drum-tom-mid", "drum-tom", "drum"],
        ["drum-roll", "drum"],
        ["drum-cowbell", "drum"],
        ["bell"],
        ["loop-amen"],
    ]
    weights = [1, 1, 1, 1, 1, 3]  # a long loop cut into 3 pieces makes a class on its own
    assert debian.assign_classes(chains, weights, 2) == [
        "drum-tom-mid",
        "drum-tom-mid",
        "drum",
        "drum",
        None,
        "loop-amen",
    ]
    # a family that would be left with one member is given up
    assert debian.assign_classes([["a-x", "a"], ["a-x", "a"], ["a-y", "a"]], [1, 1, 1], 2) == [
        "a-x",
        "a-x",
        None,
    ]


def test_midi_file_structure() -> None:
    data = midi.midi_bytes(
        [midi.Note(0.0, 0.5, 60, 100, 5, 0), midi.Note(0.25, 0.5, 38, 90, 0, midi.DRUM_CHANNEL)]
    )
    assert data[:4] == b"MThd" and int.from_bytes(data[8:10], "big") == 0
    assert data[14:18] == b"MTrk" and int.from_bytes(data[18:22], "big") == len(data) - 22
    assert data.endswith(b"\xff\x2f\x00")
    assert bytes([0xC0, 5]) in data and bytes([0x90, 60, 100]) in data and bytes([0x99, 38, 90]) in data
    assert bytes([0xC9]) not in data  # no program change on the percussion channel
    assert midi._vlq(0) == b"\x00" and midi._vlq(127) == b"\x7f" and midi._vlq(128) == b"\x81\x00"
    assert midi._vlq(0x0FFFFFFF) == b"\xff\xff\xff\x7f"
    with pytest.raises(ValueError, match="note"):
        midi.midi_bytes([midi.Note(0.0, 1.0, 200)])
    assert debian.note_name(60) == "c4" and debian.note_name(61) == "cs4" and debian.note_name(48) == "c3"


@pytest.mark.skipif(
    shutil.which("fluidsynth") is None or midi.find_soundfont() is None,
    reason="fluidsynth or a GM soundfont missing",
)
def test_render_soundfont_classes() -> None:
    clips, skipped = debian.render_soundfont(
        None, programs=[0, 73], notes=[60], velocities=[70, 110], durations_seconds=[0.3], drums=False
    )
    assert not skipped
    assert sorted({c.label for c in clips}) == ["gm000_c4", "gm073_c4"]
    assert len(clips) == 4 and {c.group for c in clips} == {"fluid-soundfont-gm"}
    for clip in clips:
        assert clip.sample_rate == 16000 and 0.2 < clip.seconds <= debian.GM_RELEASE_SECONDS + 0.3
        spectrum = np.abs(np.fft.rfft(clip.samples * np.hanning(len(clip.samples))))
        assert (
            abs(np.argmax(spectrum[: len(spectrum) // 4]) * 16000 / len(clip.samples) - 261.6) < 15
        )  # middle C
    loud = [np.abs(c.samples).max() for c in clips if "velocity 110" in c.source]
    soft = [np.abs(c.samples).max() for c in clips if "velocity 70" in c.source]
    assert min(loud) > max(soft) * 0.9


def test_unknown_package_and_nothing_fetched(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown package"):
        debian.fetch(tmp_path, ["vlc"])
    with pytest.raises(DataError, match="fetch-sounds"):
        debian.collect_clips(tmp_path)


def test_cache_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(debian.CACHE_ENV, str(tmp_path))
    assert debian.default_cache_dir() == tmp_path
    assert debian.debian_dir() == tmp_path / "debian"
    monkeypatch.delenv(debian.CACHE_ENV)
    assert debian.default_cache_dir() == Path("~/.cache/sigdetect").expanduser()


@pytest.mark.skipif(
    shutil.which("apt-get") is None or shutil.which("dpkg") is None, reason="not a Debian system"
)
def test_fetch_and_collect_one_real_package(tmp_path: Path) -> None:
    package = "sound-theme-freedesktop"
    try:
        unpacked = debian.fetch(tmp_path, [package])
    except DataError as exc:
        if any(word in str(exc) for word in NETWORK_TROUBLE):
            pytest.skip(f"apt-get download does not work here: {exc}")
        raise
    marker = unpacked[package] / debian.COMPLETE_MARKER
    assert marker.exists()
    stamp = marker.stat().st_mtime_ns
    started = time.monotonic()
    assert debian.fetch(tmp_path, [package]) == unpacked  # idempotent: nothing downloaded again
    assert time.monotonic() - started < 1.0 and marker.stat().st_mtime_ns == stamp

    clipset = debian.collect_clips(tmp_path, packages=[package])
    counts = clipset.counts()
    assert len(counts) >= 4 and all(n >= 2 for n in counts.values())
    assert all(label.startswith("freedesktop-") for label in counts)
    assert "freedesktop-audio-channel-front" in counts
    assert {clip.group for clip in clipset} == {package}
    assert all(clip.sample_rate == 16000 and clip.samples.dtype == np.float32 for clip in clipset)
    assert all(debian.DEFAULT_MIN_SECONDS <= clip.seconds <= debian.DEFAULT_MAX_SECONDS for clip in clipset)
    sources = [clip.source.split("#")[0] for clip in clipset]
    assert not any(Path(s).is_symlink() for s in sources)  # the package's duplicate symlinks are skipped
    assert clipset.meta["packages"][package]["clips"] == len(clipset)
    assert all(reason for _, reason in clipset.skipped)
