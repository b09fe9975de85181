"""Recorded sounds from a fixed list of Debian packages: download, unpack, and organise into classes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import structlog

from trainer.data import midi
from trainer.data.clips import Clip, ClipSet, load_audio, trim_silence
from trainer.errors import DataError

log = structlog.get_logger(__name__)

PACKAGES = (
    "sonic-pi-samples",
    "fluid-soundfont-gm",
    "sound-theme-freedesktop",
    "oxygen-sounds",
    "yaru-theme-sound",
    "supertux-data",
    "wesnoth-1.16-data",
    "torcs-data",
    "freeciv-data",
    "asterisk-core-sounds-en-wav",
)
CACHE_ENV = "SIGDETECT_CACHE"
DEFAULT_CACHE = "~/.cache/sigdetect"
COMPLETE_MARKER = ".sigdetect-complete"
APT_TIMEOUT_SECONDS = 1800
DEFAULT_SAMPLE_RATE = 16000  # Hz
DEFAULT_MIN_SECONDS = 0.05
DEFAULT_MAX_SECONDS = 8.0
DEFAULT_MIN_CLIPS = 2
# extensions collected from unpacked packages (MP3 is not used by these packages)
DEBIAN_AUDIO_EXTENSIONS = (".wav", ".ogg", ".flac", ".oga")


def default_cache_dir() -> Path:
    """The cache root: ``$SIGDETECT_CACHE`` or ``~/.cache/sigdetect``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def debian_dir(cache_dir: str | Path | None = None) -> Path:
    """Where packages are unpacked: ``<cache>/debian`` (the cache root's default when ``None``)."""
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir() / "debian"


def _check_packages(packages: Iterable[str]) -> list[str]:
    packages = list(packages)
    unknown = [p for p in packages if p not in PACKAGES]
    if unknown:
        raise DataError(f"unknown package(s) {', '.join(unknown)}; expected some of: {', '.join(PACKAGES)}")
    return packages


def fetch(cache_dir: str | Path | None = None, packages: Sequence[str] = PACKAGES) -> dict[str, Path]:
    """Download and unpack Debian packages (``apt-get download`` + ``dpkg -x``); idempotent.

    A package already unpacked (its completion marker present) is not downloaded again. When the
    download fails because apt does not know the package, ``apt-get update`` is run once and the
    download retried.

    Args:
        cache_dir: directory holding one sub-directory per package (default ``<cache root>/debian``).
        packages: names from :data:`PACKAGES`.

    Returns:
        Package name -> unpacked directory.

    Raises:
        DataError: an unknown package, apt/dpkg missing or failing (the message carries apt's words).
    """
    packages = _check_packages(packages)
    root = debian_dir(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    updated = False
    for package in packages:
        target = root / package
        if (target / COMPLETE_MARKER).exists():
            out[package] = target
            continue
        for tool in ("apt-get", "dpkg"):
            if shutil.which(tool) is None:
                raise DataError(f"fetching {package}: `{tool}` not found; this needs a Debian-based system")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
            result = _apt_download(package, tmp)
            if result.returncode != 0 and "Unable to locate" in result.stderr and not updated:
                log.info("apt-get update", reason=f"apt does not know {package}")
                update = subprocess.run(
                    ["apt-get", "update", "-qq"],
                    capture_output=True,
                    text=True,
                    timeout=APT_TIMEOUT_SECONDS,
                )
                updated = True
                if update.returncode != 0:
                    raise DataError(f"fetching {package}: apt-get update failed: {update.stderr.strip()}")
                result = _apt_download(package, tmp)
            if result.returncode != 0:
                raise DataError(f"fetching {package}: apt-get download failed: {result.stderr.strip()}")
            debs = sorted(Path(tmp).glob("*.deb"))
            if not debs:
                raise DataError(f"fetching {package}: apt-get download produced no .deb file")
            if target.exists():
                shutil.rmtree(target)  # an earlier, interrupted unpack
            unpack = subprocess.run(
                ["dpkg", "-x", str(debs[0]), str(target)],
                capture_output=True,
                text=True,
                timeout=APT_TIMEOUT_SECONDS,
            )
            if unpack.returncode != 0:
                raise DataError(f"fetching {package}: dpkg -x failed: {unpack.stderr.strip()}")
            (target / COMPLETE_MARKER).write_text(debs[0].name + "\n")
        log.info("package unpacked", package=package, seconds=round(time.monotonic() - started, 1))
        out[package] = target
    return out


def _apt_download(package: str, directory: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "download", "-q", package],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT_SECONDS,
    )


# ---------------------------------------------------------------------------------------------- collect
PACKAGE_TAGS = {
    "sonic-pi-samples": "sonicpi",
    "fluid-soundfont-gm": "gm",
    "sound-theme-freedesktop": "freedesktop",
    "oxygen-sounds": "oxygen",
    "yaru-theme-sound": "yaru",
    "supertux-data": "supertux",
    "wesnoth-1.16-data": "wesnoth",
    "torcs-data": "torcs",
    "freeciv-data": "freeciv",
    "asterisk-core-sounds-en-wav": "asterisk",
}
# directory names that say nothing about the sound
GENERIC_DIRS = frozenset(
    [
        "usr",
        "share",
        "games",
        "sounds",
        "sound",
        "stereo",
        "data",
        "samples",
        "core",
        "buffers",
        "freedesktop",
        "yaru",
        "sonic-pi",
        "supertux2",
        "wesnoth",
        "1.16",
        "torcs",
        "freeciv",
        "stdsounds",
        "asterisk",
        "en_us_f_allison",
        "campaigns",
    ]
)
STEM_PREFIXES = ("oxygen-",)  # theme names in front of every file of a package
MIN_FAMILY_CHARS = 2  # a shortened stem must keep this many characters to be a class ("a-p" -/-> "a")
MUSIC_MARK = "music"  # a directory whose name contains this holds music tracks: one "music" class
MAX_CHUNKS_PER_FILE = 3  # a long recording gives at most this many max_seconds pieces
GM_NOTES = (48, 60, 72)  # C3, C4, C5
GM_VELOCITIES = (50, 80, 110)
GM_DURATIONS_SECONDS = (0.3, 1.0)
GM_RELEASE_SECONDS = 1.5  # silence after each note-off before the next note starts
GM_DRUM_NOTES = tuple(range(35, 82))  # the General MIDI percussion key map
NOTE_NAMES = ("c", "cs", "d", "ds", "e", "f", "fs", "g", "gs", "a", "as", "b")


def note_name(note: int) -> str:
    """MIDI note number as a name: 60 -> ``c4``, 61 -> ``cs4``."""
    return f"{NOTE_NAMES[note % 12]}{note // 12 - 1}"


def class_chain(package: str, rel_path: str | Path) -> list[str]:
    """Candidate class names of one file, most specific first (without the package tag).

    The file stem loses its theme prefix and variant suffix (``human-hit-3`` -> ``human-hit``,
    ``crash6`` -> ``crash``, ``tabla_ghe7`` -> ``tabla-ghe``); then come ever shorter prefixes of it
    (``drum-tom-mid-soft`` -> ``drum-tom-mid`` -> ``drum-tom`` -> ``drum``: sonic-pi's families), then
    the meaningful directories above it, nearest first. Music tracks all get the one class ``music``.
    """
    rel = Path(rel_path)
    dirs = [part.lower() for part in rel.parts[:-1]]
    if any(MUSIC_MARK in part for part in dirs):
        return [MUSIC_MARK]
    stem = rel.stem.lower()
    for prefix in STEM_PREFIXES:
        stem = stem.removeprefix(prefix)
    tokens = [token for token in re.split(r"[-_ .]+", stem) if token]
    while tokens and tokens[-1].isdigit():
        tokens.pop()
    if tokens:
        tokens[-1] = re.sub(r"\d+$", "", tokens[-1])
        if not tokens[-1]:
            tokens.pop()
    chain = ["-".join(tokens[:k]) for k in range(len(tokens), 0, -1)]
    chain = chain[:1] + [name for name in chain[1:] if len(name) >= MIN_FAMILY_CHARS]
    chain += [d for d in reversed(dirs) if d not in GENERIC_DIRS and not d.startswith(".")]
    return list(dict.fromkeys(chain))  # unique, order kept


def assign_classes(
    chains: Sequence[Sequence[str]], weights: Sequence[int], min_clips: int
) -> list[str | None]:
    """Pick each item's most specific candidate class that ends up with at least ``min_clips`` clips.

    Args:
        chains: per item, candidate class names from most to least specific.
        weights: clips each item contributes (a long recording cut in pieces counts each piece).
        min_clips: smallest class kept.

    Returns:
        Per item, its class, or ``None`` when no candidate gathers enough clips.
    """
    banned: set[str] = set()
    while True:
        support: dict[str, int] = {}
        for chain, weight in zip(chains, weights, strict=True):
            for name in chain:
                if name not in banned:
                    support[name] = support.get(name, 0) + weight
        chosen = [
            next((name for name in chain if name not in banned and support[name] >= min_clips), None)
            for chain in chains
        ]
        size: dict[str, int] = {}
        for name, weight in zip(chosen, weights, strict=True):
            if name is not None:
                size[name] = size.get(name, 0) + weight
        small = {name for name, n in size.items() if n < min_clips}
        if not small:
            return chosen
        banned |= small


def _audio_files(root: Path) -> list[Path]:
    """Regular audio files under ``root`` (symlinks skipped: in these packages they are duplicates)."""
    return sorted(
        path
        for path in root.rglob("*")
        if path.suffix.lower() in DEBIAN_AUDIO_EXTENSIONS and path.is_file() and not path.is_symlink()
    )


def _chunks(
    x: np.ndarray, sample_rate: int, min_seconds: float, max_seconds: float, limit: int
) -> list[np.ndarray]:
    """Cut a trimmed recording into up to ``limit`` consecutive ``max_seconds`` pieces (>= min_seconds)."""
    size = round(max_seconds * sample_rate)
    pieces = [x[start : start + size] for start in range(0, len(x), size)][:limit]
    return [piece for piece in pieces if len(piece) >= min_seconds * sample_rate]


def _load_file(
    path: Path, sample_rate: int, min_seconds: float, max_seconds: float, max_chunks: int
) -> tuple[list[np.ndarray], str]:
    try:
        x = load_audio(path, sample_rate, max_seconds=max_seconds * max_chunks + 2.0)
    except DataError as exc:
        return [], f"unreadable: {exc}"
    x = trim_silence(x, sample_rate)
    if len(x) == 0:
        return [], "silent"
    pieces = _chunks(x, sample_rate, min_seconds, max_seconds, max_chunks)
    return pieces, "" if pieces else f"shorter than {min_seconds} s after trimming"


def collect_clips(
    cache_dir: str | Path | None = None,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    min_seconds: float = DEFAULT_MIN_SECONDS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    min_clips: int = DEFAULT_MIN_CLIPS,
    packages: Sequence[str] | None = None,
    max_chunks_per_file: int = MAX_CHUNKS_PER_FILE,
    workers: int | None = None,
) -> ClipSet:
    """Organise the unpacked packages' sounds into labelled clips.

    Every ``.wav .ogg .flac .oga`` file is read, mixed to mono, resampled, trimmed of silence, and cut
    into ``max_seconds`` pieces (at most ``max_chunks_per_file``; pieces shorter than ``min_seconds``
    are dropped). Its class is the most specific name of :func:`class_chain` that gathers at least
    ``min_clips`` clips, prefixed by the package's tag (``wesnoth-human-hit``, ``sonicpi-tabla-ghe``,
    ``supertux-music``). ``fluid-soundfont-gm`` is rendered note by note with fluidsynth instead (see
    :func:`render_soundfont`). Unreadable, silent or too-short files are skipped and counted.

    Args:
        cache_dir: where :func:`fetch` unpacked the packages.
        sample_rate: output rate, Hz.
        min_seconds: shortest clip kept.
        max_seconds: longest clip; longer recordings are cut.
        min_clips: classes with fewer clips are dropped.
        packages: packages to use (default: every fetched one).
        max_chunks_per_file: most pieces taken from one recording.
        workers: parallel readers / renderers (default: CPU count).

    Returns:
        A ClipSet, group = package name; ``skipped`` lists unusable files with the reason and
        ``meta["packages"]`` the class and clip counts per package.

    Raises:
        DataError: nothing fetched, or a requested package not fetched yet.
    """
    root = debian_dir(cache_dir)
    available = [p for p in PACKAGES if (root / p / COMPLETE_MARKER).exists()]
    wanted = available if packages is None else _check_packages(packages)
    missing = [p for p in wanted if p not in available]
    if missing or not wanted:
        raise DataError(
            f"{root}: package(s) not fetched: {', '.join(missing) or 'none at all'}; "
            "run `trainer fetch-sounds` first"
        )
    workers = workers or os.cpu_count() or 1
    clipset = ClipSet(meta={"packages": {}, "sample_rate": sample_rate})
    for package in wanted:
        started = time.monotonic()
        if package == "fluid-soundfont-gm":
            clips, skipped = render_soundfont(root / package, sample_rate, workers=workers)
            dropped = ClipSet(clips=clips)
            small = dropped.drop_small_classes(min_clips)
            clips = dropped.clips
            skipped += [(f"{package}:{name}", f"class with fewer than {min_clips} clips") for name in small]
        else:
            clips, skipped = _collect_package(
                root / package,
                package,
                sample_rate,
                min_seconds,
                max_seconds,
                min_clips,
                max_chunks_per_file,
                workers,
            )
        n_classes = len({clip.label for clip in clips})
        clipset.clips += clips
        clipset.skipped += skipped
        seconds = round(time.monotonic() - started, 1)
        clipset.meta["packages"][package] = {
            "classes": n_classes,
            "clips": len(clips),
            "skipped": len(skipped),
            "seconds": seconds,
        }
        log.info(
            "package collected",
            package=package,
            classes=n_classes,
            clips=len(clips),
            skipped=len(skipped),
            seconds=seconds,
        )
    return clipset


def _collect_package(
    directory: Path,
    package: str,
    sample_rate: int,
    min_seconds: float,
    max_seconds: float,
    min_clips: int,
    max_chunks: int,
    workers: int,
) -> tuple[list[Clip], list[tuple[str, str]]]:
    files = _audio_files(directory)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        loaded = list(
            pool.map(lambda path: _load_file(path, sample_rate, min_seconds, max_seconds, max_chunks), files)
        )
    skipped = [
        (str(path), reason) for path, (pieces, reason) in zip(files, loaded, strict=True) if not pieces
    ]
    usable = [(path, pieces) for path, (pieces, _) in zip(files, loaded, strict=True) if pieces]
    chains = [class_chain(package, path.relative_to(directory)) for path, _ in usable]
    labels = assign_classes(chains, [len(pieces) for _, pieces in usable], min_clips)
    tag = PACKAGE_TAGS[package]
    clips: list[Clip] = []
    for (path, pieces), label in zip(usable, labels, strict=True):
        if label is None:
            skipped.append((str(path), f"no class with at least {min_clips} clips"))
            continue
        for index, piece in enumerate(pieces):
            source = str(path) if len(pieces) == 1 else f"{path}#{index * max_seconds:g}s"
            clips.append(Clip(piece, sample_rate, f"{tag}-{label}", package, source))
    return clips, skipped


def render_soundfont(
    package_dir: Path | None,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    programs: Sequence[int] = tuple(range(128)),
    notes: Sequence[int] = GM_NOTES,
    velocities: Sequence[int] = GM_VELOCITIES,
    durations_seconds: Sequence[float] = GM_DURATIONS_SECONDS,
    drums: bool = True,
    workers: int | None = None,
) -> tuple[list[Clip], list[tuple[str, str]]]:
    """General MIDI instrument x note classes rendered with fluidsynth from the unpacked soundfont.

    Class ``gm<program>_<note>`` (e.g. ``gm000_c4``: piano, middle C) and ``gmdrum_<key>`` for the
    percussion keys; each velocity x duration is one clip (a rendition). One MIDI file per instrument
    family (8 programs) is rendered in one fluidsynth call, dry (no reverb/chorus), and cut at the
    known note times; every clip is trimmed of silence.

    Args:
        package_dir: the unpacked ``fluid-soundfont-gm`` (``None``: the system's GM soundfont).
        sample_rate: Hz.
        programs: General MIDI programs (0-127).
        notes: MIDI notes played by each program.
        velocities: MIDI velocities, one rendition each (x durations).
        durations_seconds: note lengths, one rendition each (x velocities).
        drums: add the percussion keys 35-81.
        workers: parallel fluidsynth processes (default: CPU count).

    Returns:
        ``(clips, skipped)``; group is ``fluid-soundfont-gm``.

    Raises:
        DataError: no soundfont found or fluidsynth missing / failing.
    """
    soundfont = midi.find_soundfont([package_dir] if package_dir is not None else [])
    if soundfont is None:
        raise DataError(f"no .sf2 soundfont under {package_dir}; run `trainer fetch-sounds` first")
    if not midi.fluidsynth_available():
        raise DataError(
            "fluidsynth not found; install it (apt-get install fluidsynth) to render the soundfont"
        )
    jobs: list[list[tuple[str, midi.Note]]] = []
    renditions = [(v, d) for d in durations_seconds for v in velocities]
    slot = max(durations_seconds) + GM_RELEASE_SECONDS
    for family in range(0, 128, 8):
        family_programs = [p for p in programs if family <= p < family + 8]
        events = [
            (f"gm{program:03d}_{note_name(note)}", (velocity, duration, program, note))
            for program in family_programs
            for note in notes
            for velocity, duration in renditions
        ]
        if events:
            jobs.append(
                [
                    (label, midi.Note(i * slot, d, n, v, p, 0))
                    for i, (label, (v, d, p, n)) in enumerate(events)
                ]
            )
    if drums:
        events = [(f"gmdrum_{key}", (v, d, key)) for key in GM_DRUM_NOTES for v, d in renditions]
        jobs.append(
            [
                (label, midi.Note(i * slot, d, key, v, 0, midi.DRUM_CHANNEL))
                for i, (label, (v, d, key)) in enumerate(events)
            ]
        )

    def run(job: list[tuple[str, midi.Note]]) -> list[tuple[str, midi.Note, np.ndarray]]:
        audio = midi.render([note for _, note in job], soundfont, sample_rate)
        size = round(slot * sample_rate)
        out = []
        for label, note in job:
            start = round(note.start * sample_rate)
            out.append((label, note, audio[start : start + size]))
        return out

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        rendered = [item for part in pool.map(run, jobs) for item in part]
    clips: list[Clip] = []
    skipped: list[tuple[str, str]] = []
    for label, note, audio in rendered:
        description = (
            f"fluidsynth {soundfont.name} program {note.program} channel {note.channel} note {note.note} "
            f"velocity {note.velocity} duration {note.duration:g} s"
        )
        trimmed = trim_silence(audio, sample_rate)
        if len(trimmed) == 0:
            skipped.append((description, "silent"))
            continue
        clips.append(
            Clip(np.ascontiguousarray(trimmed), sample_rate, label, "fluid-soundfont-gm", description)
        )
    return clips, skipped
