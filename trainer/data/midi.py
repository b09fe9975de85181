"""A tiny Standard MIDI File writer and fluidsynth renderer (pure Python, no MIDI library)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trainer.data.clips import load_audio
from trainer.errors import DataError

TICKS_PER_BEAT = 480
TEMPO_US_PER_BEAT = 500_000  # 120 beats per minute: one tick is 1/960 s
TICKS_PER_SECOND = TICKS_PER_BEAT * 1_000_000 / TEMPO_US_PER_BEAT
DRUM_CHANNEL = 9  # General MIDI percussion (channel 10, counted from 1)
RENDER_TIMEOUT_SECONDS = 600
SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)


@dataclasses.dataclass(frozen=True)
class Note:
    """One note: start and duration (s), note 0-127, velocity 1-127, program 0-127, MIDI channel 0-15."""

    start: float
    duration: float
    note: int
    velocity: int = 100
    program: int = 0
    channel: int = 0


def _vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_bytes(notes: Sequence[Note]) -> bytes:
    """A format-0 Standard MIDI File playing ``notes`` at 120 bpm (program changes inserted as needed)."""
    events: list[tuple[int, int, bytes]] = []  # (tick, order, message); note-offs sort before note-ons
    for note in notes:
        for name, value, low, high in (
            ("note", note.note, 0, 127),
            ("velocity", note.velocity, 1, 127),
            ("program", note.program, 0, 127),
            ("channel", note.channel, 0, 15),
        ):
            if not low <= value <= high:
                raise ValueError(f"MIDI {name} {value} out of range {low}..{high}")
        on = round(note.start * TICKS_PER_SECOND)
        off = max(on + 1, round((note.start + note.duration) * TICKS_PER_SECOND))
        if note.channel != DRUM_CHANNEL:
            events.append((on, 1, bytes([0xC0 | note.channel, note.program])))
        events.append((on, 2, bytes([0x90 | note.channel, note.note, note.velocity])))
        events.append((off, 0, bytes([0x80 | note.channel, note.note, 0])))
    events.sort(key=lambda event: (event[0], event[1]))
    track = bytearray(_vlq(0) + b"\xff\x51\x03" + TEMPO_US_PER_BEAT.to_bytes(3, "big"))
    tick = 0
    for at, _, message in events:
        track += _vlq(at - tick) + message
        tick = at
    track += _vlq(0) + b"\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
    header += TICKS_PER_BEAT.to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track)


def find_soundfont(extra_dirs: Sequence[str | Path] = ()) -> Path | None:
    """A General MIDI soundfont: ``*.sf2`` under ``extra_dirs`` first, then the system's usual paths."""
    for directory in extra_dirs:
        found = sorted(Path(directory).glob("**/*.sf2"))
        if found:
            return max(found, key=lambda path: path.stat().st_size)
    for path in SOUNDFONT_PATHS:
        if Path(path).is_file():
            return Path(path)
    return None


def fluidsynth_available() -> bool:
    """True when the ``fluidsynth`` command is on PATH."""
    return shutil.which("fluidsynth") is not None


def render(
    notes: Sequence[Note],
    soundfont: str | Path,
    sample_rate: int,
    reverb: bool = False,
    gain: float = 0.6,
) -> np.ndarray:
    """Render notes with fluidsynth to mono float32 at ``sample_rate``.

    Args:
        notes: what to play.
        soundfont: an ``.sf2`` file.
        sample_rate: Hz.
        reverb: keep fluidsynth's reverb and chorus (off by default: dry, cleanly separable notes).
        gain: fluidsynth master gain.

    Returns:
        float32 samples from time 0 to the end of the last note's release.

    Raises:
        DataError: fluidsynth is missing or fails.
    """
    if not fluidsynth_available():
        raise DataError("fluidsynth not found; install it (apt-get install fluidsynth) to render MIDI")
    with tempfile.TemporaryDirectory(prefix="sigdetect-midi-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        mid.write_bytes(midi_bytes(notes))
        effects = "1" if reverb else "0"
        command = [
            "fluidsynth",
            "-ni",
            "-q",
            "-g",
            str(gain),
            "-r",
            str(sample_rate),
            "-o",
            f"synth.reverb.active={effects}",
            "-o",
            f"synth.chorus.active={effects}",
            "-F",
            str(wav),
            str(soundfont),
            str(mid),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=RENDER_TIMEOUT_SECONDS)
        if result.returncode != 0 or not wav.exists():
            raise DataError(f"fluidsynth failed on {soundfont}: {result.stderr.strip() or result.returncode}")
        return load_audio(wav, sample_rate)
