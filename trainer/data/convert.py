"""Any audio file (WAV, FLAC, OGG, MP3, AIFF, any rate, channels, bit depth) -> 16 kHz mono PCM16 WAV."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import structlog

from trainer.data.clips import AUDIO_EXTENSIONS, load_audio
from trainer.errors import DataError

log = structlog.get_logger(__name__)

TARGET_RATE = 16000  # Hz
TARGET_SUBTYPE = "PCM_16"


@dataclasses.dataclass
class ConvertReport:
    """What :func:`convert_tree` did: files written, already up to date, and skipped (path, reason)."""

    converted: list[str] = dataclasses.field(default_factory=list)
    up_to_date: list[str] = dataclasses.field(default_factory=list)
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        """Counts and the skipped files with their reasons."""
        return {
            "converted": len(self.converted),
            "up_to_date": len(self.up_to_date),
            "skipped": len(self.skipped),
            "skipped_files": [{"path": p, "reason": r} for p, r in self.skipped],
        }


def convert_file(
    src: str | Path, dst: str | Path, sample_rate: int = TARGET_RATE, max_seconds: float | None = None
) -> Path:
    """Decode ``src``, mix to mono, resample to ``sample_rate`` and write ``dst`` as PCM16 WAV.

    ``max_seconds`` keeps only the start of a long recording (default: all of it).

    Samples beyond full scale (from resampling) are clipped to [-1, 1]. The file is written under a
    temporary name and renamed, so an interrupted run never leaves a half-written WAV.

    Raises:
        DataError: ``src`` cannot be decoded, or ``dst`` cannot be written.
    """
    x = load_audio(src, sample_rate, max_seconds=max_seconds)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.{os.getpid()}.partial.wav")
    try:
        sf.write(str(tmp), np.clip(x, -1.0, 1.0), sample_rate, subtype=TARGET_SUBTYPE, format="WAV")
        tmp.replace(dst)
    except (OSError, sf.LibsndfileError) as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"{dst}: cannot write ({exc})") from exc
    return dst


def convert_tree(
    src_root: str | Path,
    dst_root: str | Path,
    sample_rate: int = TARGET_RATE,
    max_seconds: float | None = None,
) -> ConvertReport:
    """Convert every audio file under ``src_root`` to ``dst_root/<same relative path>.wav``.

    Symbolic links are followed; ``max_seconds`` is passed to :func:`convert_file`.

    Files whose output exists and is newer than the input are left alone (re-running is cheap). A file
    that cannot be decoded is skipped and listed with its reason; one log line counts them at the end.

    Raises:
        DataError: ``src_root`` is not a directory, or two inputs map to one output (``a.ogg``, ``a.wav``).
    """
    src_root, dst_root = Path(src_root), Path(dst_root)
    if not src_root.is_dir():
        raise DataError(f"{src_root}: not a directory; expected a folder of audio files")
    report = ConvertReport()
    seen: dict[Path, Path] = {}
    for path in sorted(src_root.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        dst = (dst_root / path.relative_to(src_root)).with_suffix(".wav")
        if dst in seen:
            raise DataError(f"{path} and {seen[dst]} both convert to {dst}; rename one of them")
        seen[dst] = path
        if dst.exists() and dst.stat().st_mtime >= path.stat().st_mtime:
            report.up_to_date.append(str(dst))
            continue
        try:
            convert_file(path, dst, sample_rate, max_seconds)
        except DataError as exc:
            report.skipped.append((str(path), str(exc)))
            continue
        report.converted.append(str(dst))
    if report.skipped:
        log.warning("files skipped", root=str(src_root), skipped=len(report.skipped))
    return report
