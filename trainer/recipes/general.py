"""Build the shipped `general` embedding model: noisy renditions of many sound classes, triplet loss, export.

Classes come from the allowed Debian packages (recorded sounds, soundfont notes) and espeak-ng/flite
spoken digits. A share of the recorded classes is held out of training; the model is then measured on
those unseen classes in background beds it never heard (different seeds and recordings): window AUC of
target vs background, same- vs different-class AUC, and 3-shot nearest-prototype accuracy.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from detector.features import FeatureSpec
from trainer.data import debian, digits
from trainer.data.backgrounds import make_background, real_backgrounds
from trainer.data.clips import Clip
from trainer.embedding_eval import separation
from trainer.recipes.scenes import Rendering, background_patch, render_patch

log = structlog.get_logger(__name__)

SYNTHETIC_BEDS = ("rain", "wind", "traffic", "crowd", "machinery", "music", "pink", "brown")
BED_SECONDS = 30.0  # length of each synthetic bed
# packages whose folder families are topics, not sounds (one speaker's different phrases): each clip is
# its own class, its noisy renditions the positives; never used as held-out classes
INSTANCE_CLASS_PACKAGES = ("asterisk-core-sounds-en-wav",)


@dataclass(frozen=True)
class GeneralRecipe:
    """Every choice of the recipe (recorded in the model's sidecar)."""

    seed: int = 0
    renditions: int = 6  # noisy patches per training clip
    background_patches: int = 150  # per background kind, for training
    held_out_fraction: float = 0.15  # of the recorded classes with enough clips
    min_eval_clips: int = 4  # a held-out class needs 3 shots + at least one query
    eval_renditions: int = 3  # noisy windows per held-out clip
    eval_background_patches: int = 60  # per background kind, for measuring
    digit_renditions: int = 2
    epochs: int = 40
    steps_per_epoch: int = 120
    classes_per_batch: int = 24
    samples_per_class: int = 4
    patience: int = 6
    margin: float = 0.4
    learning_rate: float = 1e-3
    embedding_dim: int = 64
    filters: tuple[int, ...] = (16, 32, 64, 128)
    rendering: Rendering = field(default_factory=Rendering)


@dataclass
class Data:
    """Patches for training and measuring."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    held_out: dict[str, list[np.ndarray]]  # unseen class -> per clip, its noisy windows
    eval_background: np.ndarray
    summary: dict[str, Any]


def _class_of(clip: Clip) -> str:
    """Class of a recorded clip; prompts of one speaker are classes of their own (one phrase each)."""
    if clip.group.startswith(INSTANCE_CLASS_PACKAGES):
        return f"{clip.group}:{Path(clip.source).stem}"
    return f"{clip.group}:{clip.label}"


def _beds(rng: np.random.Generator, sample_rate: int, recorded: list[Clip]) -> dict[str, list[np.ndarray]]:
    beds: dict[str, list[np.ndarray]] = {}
    for kind in SYNTHETIC_BEDS:
        beds.setdefault(kind, []).append(make_background(kind, BED_SECONDS, sample_rate, rng))
    for clip in recorded:
        beds.setdefault(f"rec-{clip.label}", []).append(clip.samples)
    return beds


def recorded_classes(spec: FeatureSpec, cache_dir: str | Path | None = None) -> dict[str, list[Clip]]:
    """The recorded sound classes (fetched if needed), as the recipe names them."""
    debian_cache = None if cache_dir is None else Path(cache_dir) / "debian"
    debian.fetch(debian_cache)
    by_class: dict[str, list[Clip]] = {}
    for clip in debian.collect_clips(debian_cache, spec.sample_rate):
        by_class.setdefault(_class_of(clip), []).append(clip)
    return by_class


def background_beds(
    recipe: GeneralRecipe, spec: FeatureSpec, cache_dir: str | Path | None = None
) -> tuple[dict[str, list[np.ndarray]], dict[str, list[np.ndarray]]]:
    """Training and measuring beds: recorded ones alternate between the two; synthetic ones differ by seed."""
    recorded = real_backgrounds(None if cache_dir is None else Path(cache_dir) / "debian", spec.sample_rate)
    train = _beds(np.random.default_rng(recipe.seed + 1), spec.sample_rate, recorded[0::2])
    measure = _beds(np.random.default_rng(recipe.seed + 2), spec.sample_rate, recorded[1::2])
    return train, measure


def held_out_windows(
    recipe: GeneralRecipe,
    spec: FeatureSpec,
    clips_by_class: dict[str, list[Clip]],
    eval_beds: dict[str, list[np.ndarray]],
    *,
    renditions: int | None = None,
    background_per_kind: int | None = None,
) -> tuple[dict[str, list[np.ndarray]], np.ndarray]:
    """Noisy windows of unseen classes' clips in the measuring beds, and windows of those beds alone."""
    rng = np.random.default_rng(recipe.seed + 3)
    beds = [bed for kind_beds in eval_beds.values() for bed in kind_beds]
    how = Rendering(snr_db=recipe.rendering.snr_db, clean_fraction=0.0, pitch_probability=0.0)
    n = renditions or recipe.eval_renditions
    windows = {
        name: [
            np.stack([render_patch(clip.samples, beds, spec, rng, how) for _ in range(n)]) for clip in clips
        ]
        for name, clips in clips_by_class.items()
    }
    per_kind = background_per_kind or recipe.eval_background_patches
    background = np.stack(
        [
            background_patch(kind_beds[i % len(kind_beds)], spec, rng)
            for kind_beds in eval_beds.values()
            for i in range(per_kind)
        ]
    )
    return windows, background


def prepare_data(recipe: GeneralRecipe, spec: FeatureSpec, cache_dir: str | Path | None = None) -> Data:
    """Fetch (if needed) and render every patch the recipe trains and measures on."""
    rng = np.random.default_rng(recipe.seed)
    started = time.monotonic()
    by_class = recorded_classes(spec, cache_dir)
    n_recorded = sum(len(clips) for clips in by_class.values())
    eligible = sorted(
        name
        for name, clips in by_class.items()
        if len(clips) >= recipe.min_eval_clips and not name.startswith(INSTANCE_CLASS_PACKAGES)
    )
    n_held = max(2, round(recipe.held_out_fraction * len(eligible)))
    held_names = sorted(rng.choice(eligible, size=n_held, replace=False).tolist())
    spoken = digits.make_digits(cache_dir, renditions=recipe.digit_renditions, seed=recipe.seed)
    for clip in spoken:
        by_class.setdefault(f"digit:{clip.label}", []).append(clip)
    train_names = sorted(set(by_class) - set(held_names))
    train_beds, eval_beds = background_beds(recipe, spec, cache_dir)
    train_bed_list = [bed for beds in train_beds.values() for bed in beds]

    xs, ys, xv, yv = [], [], [], []
    for index, name in enumerate(train_names):
        clips = by_class[name]
        val_clip = int(rng.integers(len(clips))) if len(clips) >= 3 else -1  # one clip per class validates
        for i, clip in enumerate(clips):
            patches = [
                render_patch(clip.samples, train_bed_list, spec, rng, recipe.rendering)
                for _ in range(recipe.renditions)
            ]
            (xv if i == val_clip else xs).extend(patches)
            (yv if i == val_clip else ys).extend([index] * len(patches))
    for offset, beds in enumerate(train_beds.values()):
        index = len(train_names) + offset
        for j in range(recipe.background_patches):
            patch = background_patch(beds[j % len(beds)], spec, rng)
            (xv if j % 10 == 0 else xs).append(patch)
            (yv if j % 10 == 0 else ys).append(index)

    held_out, eval_background = held_out_windows(
        recipe, spec, {n: by_class[n] for n in held_names}, eval_beds
    )
    summary = {
        "recorded_clips": n_recorded,
        "spoken_digit_clips": len(spoken),
        "train_classes": len(train_names),
        "background_classes": len(train_beds),
        "held_out_classes": held_names,
        "train_patches": len(xs),
        "val_patches": len(xv),
        "eval_background_kinds": sorted(eval_beds),
        "prepare_seconds": round(time.monotonic() - started, 1),
    }
    log.info(
        "general_data_ready",
        **{k: v for k, v in summary.items() if k != "held_out_classes"},
        held_out=len(held_names),
    )
    return Data(
        x_train=np.stack(xs),
        y_train=np.asarray(ys, np.int64),
        x_val=np.stack(xv),
        y_val=np.asarray(yv, np.int64),
        held_out=held_out,
        eval_background=eval_background,
        summary=summary,
    )


def build(
    out_dir: str | Path, recipe: GeneralRecipe = GeneralRecipe(), cache_dir: str | Path | None = None
) -> dict[str, Any]:
    """Train, measure and export ``general.tflite`` + ``general.json`` into ``out_dir``; return a summary."""
    import keras

    from detector.models import load_model
    from trainer.export import export_tflite
    from trainer.models.architectures import band_stats, embedding_cnn
    from trainer.models.losses import triplet_loss
    from trainer.train import fit

    started = time.monotonic()
    spec = FeatureSpec.profile("general")
    data = prepare_data(recipe, spec, cache_dir)
    keras.utils.set_random_seed(recipe.seed)
    mean, std = band_stats(data.x_train)
    model = embedding_cnn(
        (spec.patch_frames, spec.n_bands),
        embedding_dim=recipe.embedding_dim,
        mean=mean,
        std=std,
        filters=recipe.filters,
        name="general",
    )
    out_dir = Path(out_dir)
    training = fit(
        model,
        (data.x_train, data.y_train),
        (data.x_val, data.y_val),
        loss=triplet_loss(recipe.margin, mining="semi_hard"),
        epochs=recipe.epochs,
        steps_per_epoch=recipe.steps_per_epoch,
        classes_per_batch=recipe.classes_per_batch,
        samples_per_class=recipe.samples_per_class,
        patience=recipe.patience,
        seed=recipe.seed,
        learning_rate=recipe.learning_rate,
        checkpoint_dir=out_dir / "checkpoints-general",
    )
    report = separation(
        lambda x: model.predict(x, batch_size=256, verbose=0), data.held_out, data.eval_background
    )
    tflite_path = out_dir / "general.tflite"
    summary = {
        "recipe": _jsonable(recipe),
        "data": data.summary,
        "training": training.to_dict(),
        "held_out": report.to_dict(),
        "build_seconds": round(time.monotonic() - started, 1),
    }
    export_tflite(model, tflite_path, kind="embedding", spec=spec, name="general", training=summary)
    exported = load_model(tflite_path)
    summary["held_out_tflite"] = separation(exported.run, data.held_out, data.eval_background).to_dict()
    (out_dir / "general-build.json").write_text(json.dumps(summary, indent=2))
    log.info("general_model_built", **report.to_dict())
    return summary


def _jsonable(value: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(value):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value
