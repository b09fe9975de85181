"""Load any folder-per-class data set (``root/<class>/[<group>/]<clip>``) into a ClipSet."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import structlog

from trainer.data.clips import AUDIO_EXTENSIONS, Clip, ClipSet, load_audio, trim_silence
from trainer.errors import DataError

log = structlog.get_logger(__name__)


def group_of(class_dir: Path, path: Path) -> str:
    """A clip's group: its sub-directory below the class directory, else the file-name part before ``_``."""
    rel = path.relative_to(class_dir)
    if len(rel.parts) > 1:
        return rel.parts[0]
    return path.stem.split("_", 1)[0]


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def load_folder_dataset(
    root: str | Path,
    sample_rate: int,
    trim: bool = True,
    workers: int | None = None,
) -> ClipSet:
    """Read ``root/<class>/...`` audio files as labelled clips.

    The class is the immediate sub-directory of ``root``; files may sit directly in it or deeper. The
    group is the first sub-directory below the class (e.g. a speaker) when there is one, else the
    file-name prefix before the first ``_`` (``alice_003.wav`` -> ``alice``). Hidden files and files
    whose extension is not audio (``.wav .flac .ogg .oga .mp3 .aif .aiff .au``) are ignored.

    A file that cannot be decoded, or is silent (empty after trimming) is skipped, counted in
    ``ClipSet.skipped`` and reported in one log line at the end. A class with a single clip is kept
    but flagged (``ClipSet.warnings`` and a log warning): splits need at least two clips per class.

    Args:
        root: the data set directory.
        sample_rate: rate the clips are converted to, Hz.
        trim: trim leading and trailing silence.
        workers: parallel readers (default: CPU count).

    Returns:
        The clips, sorted by class then path.

    Raises:
        DataError: ``root`` is missing, not a directory, or holds no class directory with audio files.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"{root}: data set directory does not exist")
    if not root.is_dir():
        raise DataError(f"{root}: is not a directory; expected a folder with one sub-directory per class")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))
    stray = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    files: list[tuple[Path, Path]] = []  # (class dir, file)
    for class_dir in class_dirs:
        for dirpath, dirnames, filenames in os.walk(class_dir):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if _visible(path) and path.suffix.lower() in AUDIO_EXTENSIONS:
                    files.append((class_dir, path))
    if not files:
        what = "no class sub-directories" if not class_dirs else "no audio files in its class sub-directories"
        extra = (
            f" ({len(stray)} audio file(s) lie directly in it: put them in <class>/ folders)" if stray else ""
        )
        raise DataError(
            f"{root}: {what}{extra}; expected <root>/<class>/<clip>.wav (also .flac .ogg .oga .mp3 .aiff .au)"
        )

    def read(item: tuple[Path, Path]) -> tuple[np.ndarray | None, str]:
        try:
            x = load_audio(item[1], sample_rate)
        except DataError as exc:
            return None, str(exc)
        if trim:
            x = trim_silence(x, sample_rate)
        return (x, "") if len(x) else (None, "silent (nothing left after trimming)" if trim else "empty")

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        loaded = list(pool.map(read, files))
    clipset = ClipSet(meta={"root": str(root), "sample_rate": sample_rate, "trim": trim})
    clipset.skipped = [(str(path), f"not inside a class directory: {root}/<class>/") for path in stray]
    for (class_dir, path), (samples, reason) in zip(files, loaded, strict=True):
        if samples is None:
            clipset.skipped.append((str(path), reason))
            continue
        clipset.clips.append(Clip(samples, sample_rate, class_dir.name, group_of(class_dir, path), str(path)))
    if not clipset.clips:
        raise DataError(
            f"{root}: none of the {len(files)} audio file(s) could be used: "
            + "; ".join(f"{Path(p).name}: {r}" for p, r in clipset.skipped[:5])
        )
    for label, n in clipset.counts().items():
        if n < 2:
            message = (
                f"class {label!r} has only {n} clip; train/validation/test splits need at least 2 per class"
            )
            clipset.warnings.append(message)
            log.warning("class with one clip", root=str(root), label=label)
    empty = [d.name for d in class_dirs if d.name not in clipset.counts()]
    for name in empty:
        clipset.warnings.append(f"class directory {name!r} has no usable clip; it is left out")
        log.warning("class without clips", root=str(root), label=name)
    if clipset.skipped:
        log.warning(
            "files skipped",
            root=str(root),
            skipped=len(clipset.skipped),
            files=[f"{path}: {reason}" for path, reason in clipset.skipped],
        )
    log.info("folder data set loaded", root=str(root), classes=len(clipset.classes), clips=len(clipset))
    return clipset
