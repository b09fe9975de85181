"""Clips and clip sets: loading any audio file as mono float32, silence trimming, splits, folder output."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import soundfile as sf
import soxr

from detector.audio.convert import sanitize, to_float32, to_mono
from detector.errors import AudioInputError
from trainer.errors import DataError

TRIM_THRESHOLD_DB = -40.0  # dB relative to the loudest frame's energy
TRIM_FRAME_SECONDS = 0.020  # 20 ms energy frames
TRIM_PAD_SECONDS = 0.050  # 50 ms kept either side of the sound
SILENCE_FLOOR_DBFS = -90.0  # a clip whose loudest frame is below this is silent
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au")
MANIFEST_NAME = "manifest.json"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9+.\-]+")


@dataclasses.dataclass
class Clip:
    """One labelled sound.

    Attributes:
        samples: float32 mono samples in [-1, 1].
        sample_rate: Hz.
        label: class name.
        group: what makes clips related (speaker, voice, source package, signature); group-disjoint
            splits keep all clips of one group in one split.
        source: file path or a description of the generator and its parameters.
    """

    samples: np.ndarray
    sample_rate: int
    label: str
    group: str = ""
    source: str = ""

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return len(self.samples) / self.sample_rate


def load_audio(path: str | Path, sample_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Read an audio file as mono float32 at ``sample_rate``.

    Args:
        path: any file libsndfile decodes (WAV, FLAC, OGG/Vorbis/Opus, MP3 with libsndfile >= 1.1, AIFF, ...).
        sample_rate: wanted rate, Hz; other rates are resampled with soxr (HQ).
        max_seconds: read at most this much from the start of the file (all of it when ``None``).

    Returns:
        float32 1-D samples; channels are averaged; NaN/inf samples become 0.

    Raises:
        DataError: the file is missing or cannot be decoded (the message names it).
    """
    try:
        with sf.SoundFile(str(path)) as f:
            file_rate = f.samplerate
            frames = -1 if max_seconds is None else max(0, round(max_seconds * file_rate))
            raw = f.read(frames, dtype="float32", always_2d=True)
        samples = to_mono(to_float32(raw), None)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError, AudioInputError) as exc:
        raise DataError(f"{path}: cannot read audio ({exc}); expected a file soundfile can decode") from exc
    samples, _ = sanitize(np.ascontiguousarray(samples, dtype=np.float32))
    return resample(samples, file_rate, sample_rate)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample float32 mono samples with soxr (HQ); returns the input when the rates are equal."""
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if from_rate == to_rate or len(samples) == 0:
        return samples
    return soxr.resample(samples, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)


def frame_energies_db(x: np.ndarray, frame_samples: int) -> np.ndarray:
    """Mean-square energy, in dB re full scale, of consecutive non-overlapping frames (last one partial)."""
    n_frames = -(-len(x) // frame_samples)
    padded = np.zeros(n_frames * frame_samples, dtype=np.float64)
    padded[: len(x)] = x
    frames = padded.reshape(n_frames, frame_samples)
    counts = np.full(n_frames, frame_samples, dtype=np.float64)
    if n_frames:
        counts[-1] = len(x) - (n_frames - 1) * frame_samples
    energy = (frames**2).sum(axis=1) / counts
    return 10.0 * np.log10(np.maximum(energy, 1e-30))


def trim_silence(
    x: np.ndarray,
    sample_rate: int,
    threshold_db: float = TRIM_THRESHOLD_DB,
    frame_seconds: float = TRIM_FRAME_SECONDS,
    pad_seconds: float = TRIM_PAD_SECONDS,
) -> np.ndarray:
    """Cut the leading and trailing silence of a clip.

    A frame is sound when its energy is within ``threshold_db`` of the loudest frame; everything from
    the first to the last such frame is kept, plus ``pad_seconds`` either side (within the clip).

    Args:
        x: float mono samples.
        sample_rate: Hz.
        threshold_db: frame energy threshold relative to the loudest frame (negative dB).
        frame_seconds: energy frame length.
        pad_seconds: silence kept before the first and after the last sound frame.

    Returns:
        float32 samples (a view of ``x`` when possible); an empty array when the whole clip is silent
        (its loudest frame below -90 dBFS).
    """
    x = np.asarray(x, dtype=np.float32)
    frame = max(1, round(frame_seconds * sample_rate))
    if len(x) == 0:
        return x
    energy = frame_energies_db(x, frame)
    peak = float(energy.max())
    if peak < SILENCE_FLOOR_DBFS:
        return np.zeros(0, dtype=np.float32)
    loud = np.flatnonzero(energy >= peak + threshold_db)
    pad = round(pad_seconds * sample_rate)
    start = max(0, int(loud[0]) * frame - pad)
    end = min(len(x), (int(loud[-1]) + 1) * frame + pad)
    return x[start:end]


def safe_name(name: str) -> str:
    """A file-name-safe version of a label or group: runs of other characters become ``-``."""
    cleaned = _UNSAFE_NAME.sub("-", name).strip("-.")
    return cleaned or "unnamed"


class Split(NamedTuple):
    """Train / validation / test clip sets."""

    train: ClipSet
    val: ClipSet
    test: ClipSet


@dataclasses.dataclass
class ClipSet:
    """A list of clips with their class names, plus what was skipped or flagged while building it.

    Attributes:
        clips: the clips, in a deterministic order.
        skipped: ``(path or description, reason)`` for every input that could not be used.
        warnings: problems that do not stop the set from being used (e.g. a class with one clip).
        meta: free-form description of how the set was made (generator parameters, signatures, ...).
    """

    clips: list[Clip] = dataclasses.field(default_factory=list)
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self) -> Iterator[Clip]:
        return iter(self.clips)

    def __getitem__(self, index: int) -> Clip:
        return self.clips[index]

    @property
    def classes(self) -> list[str]:
        """Sorted class names."""
        return sorted({clip.label for clip in self.clips})

    @property
    def groups(self) -> list[str]:
        """Sorted group names."""
        return sorted({clip.group for clip in self.clips})

    def by_label(self) -> dict[str, list[Clip]]:
        """Clips of each class, classes in sorted order, clips in set order."""
        out: dict[str, list[Clip]] = {label: [] for label in self.classes}
        for clip in self.clips:
            out[clip.label].append(clip)
        return out

    def by_group(self) -> dict[str, list[Clip]]:
        """Clips of each group, groups in sorted order, clips in set order."""
        out: dict[str, list[Clip]] = {group: [] for group in self.groups}
        for clip in self.clips:
            out[clip.group].append(clip)
        return out

    def counts(self) -> dict[str, int]:
        """Clip count per class."""
        return {label: len(clips) for label, clips in self.by_label().items()}

    def subset(self, clips: Iterable[Clip]) -> ClipSet:
        """A new set of ``clips`` sharing this set's meta (not its skipped/warnings lists)."""
        return ClipSet(clips=list(clips), meta=dict(self.meta))

    def drop_small_classes(self, min_clips: int) -> list[str]:
        """Remove classes with fewer than ``min_clips`` clips, in place; returns the removed class names."""
        counts = self.counts()
        small = sorted(label for label, n in counts.items() if n < min_clips)
        if small:
            dropped = set(small)
            self.clips = [clip for clip in self.clips if clip.label not in dropped]
        return small

    def split(
        self,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        by: Literal["label", "group"] = "label",
    ) -> Split:
        """Split into train / validation / test, deterministically for a given seed.

        Args:
            val_fraction: share of clips for validation, in [0, 1).
            test_fraction: share of clips for test, in [0, 1); ``val + test < 1``.
            seed: shuffling seed.
            by: ``"label"``: stratified, each class split in these proportions (a class of ``n >= 3``
                clips puts at least one in every split whose fraction is > 0, and keeps at least one for
                train). ``"group"``: disjoint by group, every clip of a group lands in the same split;
                whole groups are dealt out (shuffled) until each split holds its share of clips, each
                split with a fraction > 0 gets at least one group when there are enough groups.

        Returns:
            ``Split(train, val, test)``; clips keep this set's order inside each split.

        Raises:
            DataError: fractions out of range, or an unknown ``by``.
        """
        if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
            raise DataError(
                f"split fractions: got val {val_fraction}, test {test_fraction}; expected each in [0, 1) "
                "and their sum < 1"
            )
        rng = np.random.default_rng(seed)
        assignment: dict[int, int] = {}  # id(clip) -> 0 train, 1 val, 2 test
        if by == "label":
            for clips in self.by_label().values():
                order = rng.permutation(len(clips))
                n_val, n_test = _allocate(len(clips), val_fraction, test_fraction)
                for rank, index in enumerate(order):
                    part = 2 if rank < n_test else 1 if rank < n_test + n_val else 0
                    assignment[id(clips[index])] = part
        elif by == "group":
            groups = self.by_group()
            names = list(groups)
            order = rng.permutation(len(names))
            n_val_groups, n_test_groups = _allocate(len(names), val_fraction, test_fraction)
            total = len(self.clips)
            targets = (0.0, val_fraction * total, test_fraction * total)
            taken, groups_in, remaining = [0, 0, 0], [0, 0, 0], len(names)
            for index in order:
                remaining -= 1  # groups left after this one
                train_reserve = 1 if groups_in[0] == 0 else 0
                val_reserve = max(0, n_val_groups - groups_in[1])
                wants_test = groups_in[2] < n_test_groups or taken[2] < targets[2]
                wants_val = groups_in[1] < n_val_groups or taken[1] < targets[1]
                if wants_test and test_fraction > 0 and remaining >= train_reserve + val_reserve:
                    part = 2
                elif wants_val and val_fraction > 0 and remaining >= train_reserve:
                    part = 1
                else:
                    part = 0
                taken[part] += len(groups[names[index]])
                groups_in[part] += 1
                for clip in groups[names[index]]:
                    assignment[id(clip)] = part
        else:
            raise DataError(f"split by: got {by!r}; expected 'label' or 'group'")
        parts: list[list[Clip]] = [[], [], []]
        for clip in self.clips:
            parts[assignment[id(clip)]].append(clip)
        return Split(*(self.subset(part) for part in parts))


def _allocate(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """How many of ``n`` items go to validation and test: rounded shares, at least one each when possible."""
    n_val, n_test = round(n * val_fraction), round(n * test_fraction)
    if n >= 3:
        n_val = max(n_val, 1 if val_fraction > 0 else 0)
        n_test = max(n_test, 1 if test_fraction > 0 else 0)
    elif n == 2 and (val_fraction > 0 or test_fraction > 0):
        # one for train, the other where the larger share is asked
        n_val, n_test = (0, 1) if test_fraction >= val_fraction else (1, 0)
    else:
        n_val = n_test = 0
    while n_val + n_test > n - 1 and n_val + n_test > 0:  # train keeps at least one
        if n_val >= n_test and n_val > 0:
            n_val -= 1
        else:
            n_test -= 1
    return n_val, n_test


def write_clipset(
    clipset: ClipSet,
    out_dir: str | Path,
    generator: str,
    params: dict[str, Any] | None = None,
    subtype: str = "PCM_16",
    force: bool = False,
) -> Path:
    """Write clips in folder-per-class layout, ``out_dir/<label>/<group>_<n>.wav``, plus ``manifest.json``.

    The layout is what :func:`trainer.data.folders.load_folder_dataset` reads back (class from the
    directory, group from the file-name prefix). Clips louder than full scale are scaled down to a peak
    of 0.99 for integer subtypes (and the manifest says so).

    Args:
        clipset: the clips.
        out_dir: output directory; created if missing.
        generator: what made the clips (goes into the manifest).
        params: generator parameters (JSON-serialisable; go into the manifest).
        subtype: soundfile subtype, ``PCM_16`` (default) or ``FLOAT``.
        force: allow writing into a non-empty directory that holds a previous manifest (its listed
            clips are removed first). A non-empty directory without a manifest is never overwritten.

    Returns:
        The manifest path.

    Raises:
        DataError: ``out_dir`` is not empty (without ``force``), is a file, or cannot be written.
    """
    out = Path(out_dir)
    manifest_path = out / MANIFEST_NAME
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: is a file; expected a directory (or a path that does not exist yet)")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise DataError(f"{out}: directory is not empty; pick a new --out or pass --force to replace it")
        if not manifest_path.exists():
            raise DataError(
                f"{out}: directory is not empty and holds no {MANIFEST_NAME}; refusing to overwrite it"
            )
        _remove_previous(out, manifest_path)
    counters: dict[str, int] = {}
    entries = []
    try:
        for clip in clipset.clips:
            label_dir = safe_name(clip.label)
            n = counters.get(label_dir, 0)
            counters[label_dir] = n + 1
            rel = Path(label_dir) / f"{safe_name(clip.group or clip.label).replace('_', '-')}_{n:05d}.wav"
            (out / rel.parent).mkdir(parents=True, exist_ok=True)
            samples = np.asarray(clip.samples, dtype=np.float32)
            peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
            scaled = subtype != "FLOAT" and peak > 0.99
            if scaled:
                samples = samples * np.float32(0.99 / peak)
            sf.write(str(out / rel), samples, clip.sample_rate, subtype=subtype)
            entry = {
                "path": rel.as_posix(),
                "label": clip.label,
                "group": clip.group,
                "source": clip.source,
                "seconds": round(clip.seconds, 4),
                "sample_rate": clip.sample_rate,
            }
            if scaled:
                entry["scaled_to_peak"] = 0.99
            entries.append(entry)
        manifest = {
            "generator": generator,
            "params": params or {},
            "classes": clipset.counts(),
            "n_clips": len(entries),
            "skipped": [{"item": item, "reason": reason} for item, reason in clipset.skipped],
            "warnings": clipset.warnings,
            "meta": clipset.meta,
            "clips": entries,
        }
        manifest_path.write_text(json.dumps(manifest, indent=1, default=_json_default) + "\n")
    except OSError as exc:
        raise DataError(f"{out}: cannot write the data set ({exc})") from exc
    return manifest_path


def _remove_previous(out: Path, manifest_path: Path) -> None:
    try:
        old = json.loads(manifest_path.read_text())
        paths = [out / entry["path"] for entry in old.get("clips", [])]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"{manifest_path}: unreadable manifest ({exc}); remove the directory by hand"
        ) from exc
    for path in paths:
        path.unlink(missing_ok=True)
    for directory in sorted({path.parent for path in paths}, reverse=True):
        if directory != out and directory.is_dir() and not any(directory.iterdir()):
            shutil.rmtree(directory)
    manifest_path.unlink()


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def concat_clips(clips: Sequence[Clip]) -> tuple[np.ndarray, np.ndarray]:
    """All samples end to end and the start offsets (length ``len(clips) + 1``), for compact caching."""
    offsets = np.zeros(len(clips) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(clip.samples) for clip in clips])
    samples = np.concatenate([clip.samples for clip in clips]) if clips else np.zeros(0, np.float32)
    return samples.astype(np.float32, copy=False), offsets
