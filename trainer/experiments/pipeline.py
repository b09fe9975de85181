"""The general-purpose pipeline paper, rebuilt: any format -> 16 kHz mono PCM16 -> silence trimming ->
spectral-gating noise reduction -> 2 s segments -> augmentation -> log-mel CNN, train / val / test.

The default data set is a 7-class set in the paper's spirit (its classes: car, truck, cat, dog, human
speech, crowd, silence), from the allowed sources only: ``vehicle`` (torcs engine loops + synthetic
traffic), ``animal`` (wesnoth wolves, horses, bats, gryphons, boars, birds; a sonic-pi crow), ``speech``
(asterisk prompts + espeak-ng sentences), ``crowd`` (espeak-ng babble), ``silence`` (room-tone noise at
-75..-50 dBFS), ``music`` (supertux tracks, sonic-pi loops, fluidsynth progressions) and ``alert``
(freedesktop / oxygen / yaru notification sounds). Any folder-per-class directory works instead.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import structlog

from trainer.data.clips import Clip, ClipSet
from trainer.errors import DataError
from trainer.experiments import common, metrics

log = structlog.get_logger(__name__)

SPEC = common.TAGGING_SPEC
SEGMENT_SAMPLES = common.patch_samples(SPEC)  # one 2.048 s model input
SEVEN_CLASSES = ("alert", "animal", "crowd", "music", "silence", "speech", "vehicle")
PAPER = {"classes": 7, "clips": 870, "pi_ram_mb": [150, 200], "pi_ram_max_mb": 300}
# (package, regular expression on the path inside it): the recorded sources of each class
RECORDED = {
    "vehicle": [
        ("torcs-data", r"/sound/(?!.*(crash|skid|boom|backfire|gear|out_of_road|locked|axle)).*\.wav$")
    ],
    "animal": [
        ("wesnoth-1.16-data", r"/(wolf|bat|horse|gryphon|tusker|birds)[-a-z]*[-_0-9]*\.(ogg|wav)$"),
        ("sonic-pi-samples", r"misc_crow"),
    ],
    "speech": [("asterisk-core-sounds-en-wav", r"\.wav$")],
    "music": [
        ("supertux-data", r"/music/.*\.ogg$"),
        ("sonic-pi-samples", r"/loop_[a-z_0-9]*\.flac$"),
        ("freeciv-data", r"fanfare"),
    ],
    "alert": [
        ("sound-theme-freedesktop", r"/(?!audio-channel|audio-test)[^/]*\.oga$"),
        ("oxygen-sounds", r"\.ogg$"),
        ("yaru-theme-sound", r"\.oga$"),
    ],
}
MAX_SOURCE_FILES = 60  # per class and package (asterisk has hundreds of prompts)
SPEECH_SENTENCES = (
    "the train to the city leaves at nine",
    "please close the door when you leave",
    "we will meet again tomorrow morning",
    "can you hear the sound of the river",
    "turn left after the second traffic light",
)
SPEECH_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-us+f3", "en-gb+m3", "en-029")
MARKER = ".complete"


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Every choice of the experiment (it goes into the results)."""

    seed: int = 0
    synthetic_per_class: int = 40  # crowd / silence / traffic / synthetic music clips
    convert_max_seconds: float = 30.0  # longest stretch of a source converted (music tracks are minutes)
    max_segments_per_clip: int = 4  # 2 s pieces taken from one trimmed clip
    denoise: bool = True  # spectral gating before segmenting
    keep_raw: bool = True  # also train on the segments as recorded (the daemon does not denoise)
    max_shift_seconds: float = 0.8  # augmentation: circular shift moving a sound around its 2 s window
    val_fraction: float = 0.2  # the paper: 20 % validation
    test_fraction: float = 0.2  # separate test set (whole recordings)
    augment: int = 1  # augmented copies of each training segment (denoised and raw)
    epochs: int = 30
    patience: int = 6
    batch_size: int = 32
    learning_rate: float = 1e-3
    filters: tuple[int, ...] = (12, 24, 48, 96)

    @classmethod
    def quick(cls) -> PipelineConfig:
        """A few-minute version: 15 synthetic clips per class, 1 augmented copy, 8 epochs."""
        return cls(synthetic_per_class=15, augment=1, epochs=8, patience=0, max_segments_per_clip=2)


# ---------------------------------------------------------------------------------------------- sources
def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        dst.symlink_to(src)


def _espeak(text: str, voice: str, out: Path, speed: int, pitch: int) -> bool:
    out.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), text],
        capture_output=True,
        timeout=60,
    )
    return result.returncode == 0 and out.exists()


def build_seven_class_sources(config: PipelineConfig, cache_dir: str | Path | None = None) -> Path:
    """Lay out the 7-class set's sources, in their own formats, under ``<cache>/experiments/pipeline7/raw``.

    Recorded files are symbolic links to the unpacked Debian packages (OGG, OGA, FLAC, WAV at 22.05-48
    kHz, mono or stereo); synthetic clips are written as FLAC (24-bit), WAV (float) or espeak-ng's
    22.05 kHz WAV, so the conversion step has every kind of input. Done once (a marker file says so).

    Raises:
        DataError: a package is not fetched (run ``trainer fetch-sounds``).
    """
    from trainer.data import backgrounds, debian

    raw = (
        common.experiments_cache(cache_dir) / "pipeline7" / f"raw-{config.synthetic_per_class}-{config.seed}"
    )
    if (raw / MARKER).exists():
        return raw
    if raw.exists():
        shutil.rmtree(raw)
    root = debian.debian_dir(None if cache_dir is None else Path(cache_dir) / "debian")
    needed = sorted({package for sources in RECORDED.values() for package, _ in sources})
    missing = [p for p in needed if not (root / p / debian.COMPLETE_MARKER).exists()]
    if missing:
        debian.fetch(root, missing)
    rng = np.random.default_rng(config.seed)
    for label, sources in RECORDED.items():
        for package, pattern in sources:
            regex = re.compile(pattern, re.IGNORECASE)
            files = [p for p in debian._audio_files(root / package) if regex.search(str(p))]
            if len(files) > MAX_SOURCE_FILES:
                files = [files[i] for i in np.sort(rng.choice(len(files), MAX_SOURCE_FILES, replace=False))]
            tag = debian.PACKAGE_TAGS[package]
            for path in files:
                name = f"{tag}-{common.safe_group(path.stem)}_{path.stem}{path.suffix}"
                _link(path, raw / label / name)
    rate = 16000
    n = config.synthetic_per_class
    for label in SEVEN_CLASSES:
        (raw / label).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        seconds = float(rng.uniform(3.0, 6.0))
        samples = int(seconds * rate)
        crowd = backgrounds.crowd(samples, rate, np.random.default_rng([config.seed, 1, i]))
        sf.write(
            raw / "crowd" / f"babble{i:03d}_0.flac", _level(crowd, rng, -30, -15), rate, subtype="PCM_24"
        )
        kind = ("pink", "brown", "white")[i % 3]
        room = backgrounds.make_background(kind, seconds, rate, np.random.default_rng([config.seed, 2, i]))
        sf.write(raw / "silence" / f"room{i:03d}_0.wav", _level(room, rng, -75, -50), rate, subtype="FLOAT")
        if i < n // 2:
            traffic = backgrounds.traffic(samples, rate, np.random.default_rng([config.seed, 3, i]))
            sf.write(raw / "vehicle" / f"traffic{i:03d}_0.flac", _level(traffic, rng, -30, -15), rate)
            music = backgrounds.music(samples, rate, np.random.default_rng([config.seed, 4, i]))
            sf.write(raw / "music" / f"synthmusic{i:03d}_0.flac", _level(music, rng, -30, -15), rate)
    if shutil.which("espeak-ng"):
        for v, voice in enumerate(SPEECH_VOICES):
            for s, sentence in enumerate(SPEECH_SENTENCES):
                speed, pitch = int(rng.integers(140, 200)), int(rng.integers(30, 70))
                _espeak(
                    sentence,
                    voice,
                    raw / "speech" / f"espeak-{common.safe_group(voice)}_{v}-{s}.wav",
                    speed,
                    pitch,
                )
    (raw / MARKER).write_text("ok\n")
    return raw


def _level(x: np.ndarray, rng: np.random.Generator, lo_dbfs: float, hi_dbfs: float) -> np.ndarray:
    """``x`` scaled to an RMS level drawn in [lo, hi] dBFS, peak kept below 0.99."""
    x = np.asarray(x, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x**2))) or 1.0
    y = x * (10 ** (rng.uniform(lo_dbfs, hi_dbfs) / 20) / rms)
    peak = float(np.max(np.abs(y)))
    return (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32)


# ---------------------------------------------------------------------------------------------- pipeline
def segments(clip: Clip, max_segments: int) -> list[np.ndarray]:
    """Up to ``max_segments`` consecutive 2 s pieces of a clip (a shorter clip: one, zero-padded)."""
    n = len(clip.samples) // SEGMENT_SAMPLES
    if n == 0:
        return [common.fixed_length(clip.samples, SEGMENT_SAMPLES)]
    return [
        clip.samples[k * SEGMENT_SAMPLES : (k + 1) * SEGMENT_SAMPLES].copy()
        for k in range(min(n, max_segments))
    ]


def prepare(
    data_dir: Path, config: PipelineConfig, cache_dir: str | Path | None
) -> tuple[ClipSet, dict[str, Any], Path]:
    """Steps 1-2: convert every file to 16 kHz mono PCM16 (cached), load it with silence trimming.

    Returns:
        ``(clips, conversion report, directory of the PCM16 files)``; unreadable files are in the
        report's and the clip set's ``skipped`` lists, never fatal.
    """
    from trainer.data.convert import convert_tree
    from trainer.data.folders import load_folder_dataset

    key = common.key_of({"src": str(data_dir.resolve()), "max": config.convert_max_seconds})
    pcm = common.experiments_cache(cache_dir) / "pipeline7" / f"pcm16-{key}"
    report = convert_tree(data_dir, pcm, max_seconds=config.convert_max_seconds)
    clipset = load_folder_dataset(pcm, 16000, trim=True, workers=2)
    return clipset, report.to_dict(), pcm


def run(
    config: PipelineConfig = PipelineConfig(),
    cache_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    export_path: str | Path | None = None,
    name: str = "pipeline7",
) -> dict[str, Any]:
    """Run the whole pipeline and measure it on the separate test set (confusion matrix, per class).

    Args:
        config: parameters.
        cache_dir: cache root.
        data_dir: a folder-per-class data set in any audio formats; default: the 7-class set.
        export_path: also export the trained classifier there (``.tflite`` + ``.json``, kind classifier).
        name: the experiment's and the exported model's name.

    Returns:
        JSON-serialisable results; ``skipped`` lists every unreadable input file with its reason.
    """
    import keras

    from trainer.data.backgrounds import make_background
    from trainer.data.denoise import spectral_gate
    from trainer.models.architectures import band_stats, embedding_cnn

    started = time.monotonic()
    source = Path(data_dir) if data_dir is not None else build_seven_class_sources(config, cache_dir)
    clipset, conversion, pcm = prepare(source, config, cache_dir)
    classes = clipset.classes
    if len(classes) < 2:
        raise DataError(f"{source}: {len(classes)} usable class(es); a classifier needs at least 2")
    index = {c: i for i, c in enumerate(classes)}
    train, val, test = common.grouped_split(
        clipset, config.val_fraction, config.test_fraction, config.seed, name
    )
    fields = ("seed", "max_segments_per_clip", "denoise", "keep_raw", "max_shift_seconds", "augment")
    fields += ("val_fraction", "test_fraction")
    key = common.data_key(config, fields, pcm=str(pcm), n=len(clipset))
    path = common.experiments_cache(cache_dir) / "pipeline7" / f"features-{key}.npz"

    def build() -> dict[str, np.ndarray]:
        rng = np.random.default_rng(config.seed)
        beds = [make_background(kind, 10.0, 16000, rng) for kind in ("pink", "brown", "rain", "wind")]

        def pieces(clips: list[Clip], clean: bool) -> tuple[list[Clip], list[np.ndarray]]:
            out_clips, raw = [], []
            for clip in clips:
                x = spectral_gate(clip.samples, clip.sample_rate) if clean else clip.samples
                for seg in segments(dataclasses.replace(clip, samples=x), config.max_segments_per_clip):
                    out_clips.append(dataclasses.replace(clip, samples=seg))
                    raw.append(seg)
            return out_clips, raw

        arrays: dict[str, np.ndarray] = {}
        tr_clips, tr = pieces(train, config.denoise)
        if config.keep_raw and config.denoise:
            raw_clips, raw = pieces(train, False)
            tr_clips, tr = tr_clips + raw_clips, tr + raw
        aug, owners = common.augmented_signals(
            tr_clips, config.augment, config.seed, beds, max_shift_seconds=config.max_shift_seconds
        )
        arrays["x_train"] = common.clip_features(tr + aug, SPEC)
        arrays["y_train"] = np.asarray(
            [index[c.label] for c in tr_clips] + [index[tr_clips[i].label] for i in owners]
        )
        arrays["x_train_clean"] = arrays["x_train"][: len(tr)]
        arrays["y_train_clean"] = arrays["y_train"][: len(tr)]
        for split_name, clips in (("val", val), ("test", test)):
            seg_clips, segs = pieces(clips, config.denoise)
            arrays[f"x_{split_name}"] = common.clip_features(segs, SPEC)
            arrays[f"y_{split_name}"] = np.asarray([index[c.label] for c in seg_clips], np.int64)
        raw_clips, raw_segs = pieces(test, False)
        arrays["x_test_raw"] = common.clip_features(raw_segs, SPEC)
        arrays["y_test_raw"] = np.asarray([index[c.label] for c in raw_clips], np.int64)
        return arrays

    arrays = common.cached_arrays(path, build)
    for split_name in ("train", "val", "test"):
        common.require_test_clips(
            classes, [classes[i] for i in arrays[f"y_{split_name}"]], f"{name} {split_name}"
        )
    prepared = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    mean, std = band_stats(arrays["x_train"][:3000])
    model = embedding_cnn(
        (SPEC.patch_frames, SPEC.n_bands),
        role="classifier",
        n_classes=len(classes),
        mean=mean,
        std=std,
        filters=config.filters,
        dropout=0.3,
        name=name,
    )
    summary, curves = common.train_with_curves(
        model,
        (arrays["x_train"], arrays["y_train"]),
        (arrays["x_val"], arrays["y_val"]),
        {
            "train": (arrays["x_train_clean"], arrays["y_train_clean"]),
            "test": (arrays["x_test"], arrays["y_test"]),
        },
        loss=keras.losses.SparseCategoricalCrossentropy(),
        epochs=config.epochs,
        patience=config.patience,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
    )
    scores = model.predict(arrays["x_test"], batch_size=128, verbose=0)
    raw_scores = model.predict(arrays["x_test_raw"], batch_size=128, verbose=0)
    predicted = np.argmax(scores, axis=1)
    matrix = metrics.confusion(arrays["y_test"], predicted, len(classes))
    summary_test = metrics.classification_summary(arrays["y_test"], scores, classes)
    top2 = metrics.top_k_accuracy(np.eye(len(classes), dtype=bool)[arrays["y_test"]], scores, 2)
    skipped = [{"path": p, "reason": r} for p, r in clipset.skipped]
    skipped_conv = conversion.pop("skipped_files")
    results: dict[str, Any] = {
        "experiment": name,
        "config": dataclasses.asdict(config),
        "data": {
            "source": str(source),
            "classes": classes,
            "files_per_class": clipset.counts(),
            "conversion": conversion,
            "split_clips": {"train": len(train), "val": len(val), "test": len(test)},
            "split_segments": {k: int(len(arrays[f"y_{k}"])) for k in ("train", "val", "test")},
            "train_segments_clean": int(len(arrays["y_train_clean"])),
            "prepare_seconds": round(prepared - started, 1),
        },
        "skipped": skipped_conv + [s for s in skipped if s["path"] not in {k["path"] for k in skipped_conv}],
        "model": {
            "params": int(model.count_params()),
            "epochs_run": summary.epochs_run,
            "best_epoch": summary.best_epoch,
            "train_seconds": round(time.monotonic() - prepared, 1),
        },
        "test": {
            "accuracy": float(np.mean(predicted == arrays["y_test"])),
            "top2": top2,
            "accuracy_not_denoised": float(np.mean(np.argmax(raw_scores, 1) == arrays["y_test_raw"])),
            "macro_f1": summary_test["macro_f1"],
            "per_class": summary_test["per_class"],
            "confusion": matrix.tolist(),
        },
        "train_accuracy": float(curves["train"][summary.best_epoch]) if summary.best_epoch else None,
        "curves": curves,
        "paper": PAPER,
    }
    results["skipped_count"] = len(results["skipped"])
    if results["skipped"]:
        log.warning("unreadable files skipped", count=results["skipped_count"], dataset=str(source))
    if export_path is not None:
        from trainer.export import export_tflite

        info = export_tflite(
            model,
            export_path,
            kind="classifier",
            spec=SPEC,
            name=name,
            labels=classes,
            training={
                "experiment": name,
                "test_accuracy": results["test"]["accuracy"],
                "test_accuracy_not_denoised": results["test"]["accuracy_not_denoised"],
                "classes": classes,
                "epochs_run": summary.epochs_run,
                "config": dataclasses.asdict(config),
            },
        )
        results["exported"] = {"path": str(export_path), "sha256": info.sha256}
        results["test_signals"] = _test_signals(test_clips=test, classes=classes)
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    return results


def _test_signals(test_clips: list[Clip], classes: list[str]) -> dict[str, list[str]]:
    """Source files of the test clips, per class (the deployment scene is cut from these only)."""
    out: dict[str, list[str]] = {c: [] for c in classes}
    for clip in test_clips:
        out[clip.label].append(clip.source)
    return out
