"""Spoken digits "zero".."nine" synthesised with every usable espeak-ng voice/variant (and flite voices)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import structlog

from trainer.data.clips import Clip, ClipSet, concat_clips, load_audio, safe_name, trim_silence
from trainer.data.debian import default_cache_dir
from trainer.errors import DataError

log = structlog.get_logger(__name__)

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LABELS = tuple(str(d) for d in range(10))  # label of DIGIT_WORDS[i] is str(i)
SAMPLE_RATE = 16000  # Hz
RATE_RANGE_WPM = (130, 210)  # espeak-ng -s: words per minute (default 175)
PITCH_RANGE = (25, 75)  # espeak-ng -p: 0-99 (default 50)
FLITE_STRETCH_RANGE = (0.85, 1.2)  # flite duration_stretch (1 = normal speed)
FLITE_SKIP = ("awb_time",)  # limited-domain voice: speaks clock times only
PROBE_WORD = "seven"
PROBE_MIN_BYTES = 2000  # a WAV header alone is 44 bytes; a spoken word is tens of kB
SUBPROCESS_TIMEOUT_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class Voice:
    """A synthesiser voice: ``engine`` ``espeak-ng`` or ``flite``, ``name`` as the engine takes it."""

    engine: str
    name: str

    @property
    def id(self) -> str:
        """File- and group-safe name, e.g. ``en-us+f3`` or ``flite-slt``."""
        prefix = "" if self.engine == "espeak-ng" else f"{self.engine}-"
        return safe_name(prefix + self.name).replace("_", "-")


def parse_voice(text: str) -> Voice:
    """``flite:slt`` -> a flite voice; anything else (``en-us``, ``en-us+f3``) an espeak-ng voice."""
    if text.startswith("flite:"):
        return Voice("flite", text.removeprefix("flite:"))
    return Voice("espeak-ng", text)


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(command), capture_output=True, timeout=SUBPROCESS_TIMEOUT_SECONDS)


def _command(voice: Voice, word: str, out: str, speed: float, pitch: int | None) -> list[str]:
    """Command line synthesising ``word`` to ``out`` (``speed``: wpm for espeak-ng, stretch for flite)."""
    if voice.engine == "flite":
        return [
            "flite",
            "-voice",
            voice.name,
            "--setf",
            f"duration_stretch={speed:.3f}",
            "-t",
            word,
            "-o",
            out,
        ]
    command = ["espeak-ng", "-v", voice.name, "-s", str(int(speed)), "-w", out]
    if pitch is not None:
        command[3:3] = ["-p", str(pitch)]
    return [*command, word]


def _probe(voice: Voice) -> bool:
    """True when the voice speaks a digit (mbrola voices without mbrola installed do not)."""
    with tempfile.TemporaryDirectory(prefix="sigdetect-probe-") as tmp:
        out = os.path.join(tmp, "probe.wav")
        speed = 1.0 if voice.engine == "flite" else 175
        try:
            result = _run(_command(voice, PROBE_WORD, out, speed, None))
        except (OSError, subprocess.TimeoutExpired):
            return False
        return result.returncode == 0 and os.path.exists(out) and os.path.getsize(out) > PROBE_MIN_BYTES


_VARIANT_LINE = re.compile(r"^\s*\d+\s+\S+\s+\S+\s+\S+\s+!v/(.+?)(\s+\(.*\))?\s*$")


@lru_cache(maxsize=4)
def espeak_voices(all_variants: bool = False) -> tuple[Voice, ...]:
    """English espeak-ng voices that work here, with variants.

    The plain English voices (``espeak-ng --voices=en``: en-gb, en-us, en-gb-scotland, ...; mbrola
    ones only when mbrola and their data are installed) come first; then each variant of
    ``espeak-ng --voices=variant`` (f1..f5, m1..m8, klatt, whisper, ...) joined to one of them,
    round-robin (``en-gb+f3``, ``en-us+klatt``, ...), or to every one of them with ``all_variants``.
    Every voice is tried once on a word; those that fail are left out.
    """
    if shutil.which("espeak-ng") is None:
        return ()
    listing = _run(["espeak-ng", "--voices=en"]).stdout.decode(errors="replace").splitlines()[1:]
    bases: list[str] = []
    for line in listing:
        fields = line.split()
        if len(fields) < 5 or fields[1] == "variant":
            continue
        language, file = fields[1], fields[4]
        name = Path(file).name if file.startswith("mb/") else language
        if name not in bases:
            bases.append(name)
    variants: list[str] = []
    for line in _run(["espeak-ng", "--voices=variant"]).stdout.decode(errors="replace").splitlines()[1:]:
        match = _VARIANT_LINE.match(line)
        if match and match.group(1) not in variants:
            variants.append(match.group(1))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        base_ok = list(pool.map(_probe, [Voice("espeak-ng", b) for b in bases]))
        bases = [b for b, ok in zip(bases, base_ok, strict=True) if ok]
        if not bases:
            return ()
        variant_ok = list(pool.map(_probe, [Voice("espeak-ng", f"{bases[0]}+{v}") for v in variants]))
    variants = [v for v, ok in zip(variants, variant_ok, strict=True) if ok]
    voices = [Voice("espeak-ng", b) for b in bases]
    if all_variants:
        voices += [Voice("espeak-ng", f"{b}+{v}") for v in variants for b in bases]
    else:
        voices += [Voice("espeak-ng", f"{bases[i % len(bases)]}+{v}") for i, v in enumerate(variants)]
    return tuple(voices)


@lru_cache(maxsize=1)
def flite_voices() -> tuple[Voice, ...]:
    """flite's built-in voices (``flite -lv``) that speak a digit, except limited-domain ones."""
    if shutil.which("flite") is None:
        return ()
    listing = _run(["flite", "-lv"]).stdout.decode(errors="replace")
    names = listing.split(":", 1)[-1].split()
    voices = [Voice("flite", name) for name in names if name not in FLITE_SKIP]
    return tuple(voice for voice in voices if _probe(voice))


def available_voices(all_variants: bool = False, include_flite: bool = True) -> list[Voice]:
    """Every usable voice: :func:`espeak_voices` then :func:`flite_voices`."""
    return list(espeak_voices(all_variants)) + (list(flite_voices()) if include_flite else [])


@dataclasses.dataclass(frozen=True)
class _Job:
    voice: Voice
    digit: int
    speed: float  # espeak-ng words per minute, or flite duration stretch
    pitch: int | None  # espeak-ng only

    def path(self, root: Path) -> Path:
        if self.voice.engine == "flite":
            name = f"{self.digit}_d{self.speed:.3f}.wav"
        else:
            name = f"{self.digit}_s{int(self.speed)}_p{self.pitch}.wav"
        return root / self.voice.id / name

    def description(self) -> str:
        word = DIGIT_WORDS[self.digit]
        if self.voice.engine == "flite":
            return f"flite -voice {self.voice.name} duration_stretch {self.speed:.3f} '{word}'"
        return f"espeak-ng -v {self.voice.name} -s {int(self.speed)} -p {self.pitch} '{word}'"


def _jobs(voices: Sequence[Voice], renditions: int, seed: int) -> list[_Job]:
    jobs = []
    for voice in voices:
        key = zlib.crc32(f"{voice.engine}:{voice.name}".encode())
        for digit in range(10):
            for rendition in range(renditions):
                rng = np.random.default_rng([seed, key, digit, rendition])
                if voice.engine == "flite":
                    jobs.append(_Job(voice, digit, round(float(rng.uniform(*FLITE_STRETCH_RANGE)), 3), None))
                else:
                    speed = int(rng.integers(RATE_RANGE_WPM[0], RATE_RANGE_WPM[1] + 1))
                    pitch = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
                    jobs.append(_Job(voice, digit, speed, pitch))
    return jobs


def _synthesize(job: _Job, root: Path) -> str:
    """Make the job's WAV if it is not cached yet; returns an error message or ``""``."""
    path = job.path(root)
    if path.exists():
        return ""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.wav")
    try:
        result = _run(_command(job.voice, DIGIT_WORDS[job.digit], str(partial), job.speed, job.pitch))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        return result.stderr.decode(errors="replace").strip() or f"exit status {result.returncode}"
    partial.replace(path)  # atomic: an interrupted run never leaves a half-written cached file
    return ""


def make_digits(
    cache_dir: str | Path | None = None,
    voices: Sequence[Voice | str] | None = None,
    renditions: int = 3,
    seed: int = 0,
    sample_rate: int = SAMPLE_RATE,
    trim: bool = True,
    workers: int | None = None,
) -> ClipSet:
    """Spoken digits 0-9, ``renditions`` per voice and digit, each with its own rate and pitch.

    Synthesised WAVs are cached under ``<cache>/digits/wav/<voice>/`` and the finished clip set under
    ``<cache>/digits/clips-<key>.npz``, so a second call with the same arguments only reads one file.

    Args:
        cache_dir: cache root (default ``$SIGDETECT_CACHE`` or ``~/.cache/sigdetect``).
        voices: voices or their names (``en-us+f3``, ``flite:slt``); default :func:`available_voices`.
        renditions: clips per voice and digit; espeak-ng rate 130-210 wpm and pitch 25-75, flite
            duration stretch 0.85-1.2, drawn from the seed.
        seed: random seed of the rate/pitch jitter.
        sample_rate: output rate, Hz.
        trim: trim leading/trailing silence.
        workers: parallel synthesiser processes (default: CPU count).

    Returns:
        A ClipSet: label ``"0"``..``"9"``, group = voice id.

    Raises:
        DataError: no synthesiser or no usable voice, or ``renditions`` < 1.
    """
    if renditions < 1:
        raise DataError(f"renditions: got {renditions}; expected at least 1")
    chosen = [parse_voice(v) if isinstance(v, str) else v for v in voices] if voices else available_voices()
    if not chosen:
        raise DataError("no speech synthesiser voice found; install espeak-ng (apt-get install espeak-ng)")
    for voice in chosen:
        if shutil.which(voice.engine) is None:
            raise DataError(f"voice {voice.id}: `{voice.engine}` not found; install it with apt-get")
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    digits_dir = root / "digits"
    request = {
        "voices": [[v.engine, v.name] for v in chosen],
        "renditions": renditions,
        "seed": seed,
        "sample_rate": sample_rate,
        "trim": trim,
        "format": 1,
    }
    key = hashlib.sha1(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]
    cached = digits_dir / f"clips-{key}.npz"
    if cached.exists():
        try:
            return _read_cache(cached, sample_rate, request)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("digit cache unreadable, rebuilding", path=str(cached), error=str(exc))
    jobs = _jobs(chosen, renditions, seed)
    wav_root = digits_dir / "wav"
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        errors = list(pool.map(lambda job: _synthesize(job, wav_root), jobs))

        def load(job: _Job) -> np.ndarray:
            x = load_audio(job.path(wav_root), sample_rate)
            return trim_silence(x, sample_rate) if trim else x

        ready = [job for job, error in zip(jobs, errors, strict=True) if not error]
        audio = list(pool.map(load, ready))
    clipset = ClipSet(meta={"generator": "digits", **request})
    clipset.skipped = [(job.description(), error) for job, error in zip(jobs, errors, strict=True) if error]
    for job, samples in zip(ready, audio, strict=True):
        if len(samples) == 0:
            clipset.skipped.append((job.description(), "silent"))
            continue
        clipset.clips.append(Clip(samples, sample_rate, LABELS[job.digit], job.voice.id, job.description()))
    if not clipset.clips:
        raise DataError(f"no digit could be synthesised: {clipset.skipped[:3]}")
    _write_cache(cached, clipset)
    log.info("digits synthesised", clips=len(clipset), voices=len(chosen), skipped=len(clipset.skipped))
    return clipset


def _write_cache(path: Path, clipset: ClipSet) -> None:
    samples, offsets = concat_clips(clipset.clips)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.npz")
    np.savez(
        partial,
        samples=samples,
        offsets=offsets,
        labels=np.array([c.label for c in clipset.clips]),
        groups=np.array([c.group for c in clipset.clips]),
        sources=np.array([c.source for c in clipset.clips]),
        skipped=np.array([json.dumps(list(item)) for item in clipset.skipped] or [""]),
    )
    partial.replace(path)


def _read_cache(path: Path, sample_rate: int, request: dict) -> ClipSet:
    with np.load(path, allow_pickle=False) as data:
        samples, offsets = data["samples"], data["offsets"]
        labels, groups, sources = data["labels"], data["groups"], data["sources"]
        skipped = [tuple(json.loads(item)) for item in data["skipped"] if item]
    clips = [
        Clip(
            samples[offsets[i] : offsets[i + 1]], sample_rate, str(labels[i]), str(groups[i]), str(sources[i])
        )
        for i in range(len(labels))
    ]
    return ClipSet(clips=clips, skipped=skipped, meta={"generator": "digits", **request})
