"""Build the shipped `lowband` embedding model: Si-SpecCNN (ConvLSTM) on synthetic low-feature signatures.

The low-feature paper's protocol: signatures of 1-10 tones in 0-1000 Hz at 44.1 kHz in noise; the
siamese network is trained with contrastive loss on some signatures and measured on signatures it never
saw (3-shot prototype, window AUC of target vs noise alone, same- vs different-signature AUC).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from detector.features import FeatureSpec
from trainer.data.lowfeature import NOISE_LABEL, make_dataset
from trainer.data.patches import clip_patches
from trainer.embedding_eval import separation

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class LowbandRecipe:
    """Every choice of the recipe (recorded in the model's sidecar)."""

    seed: int = 0
    train_signatures: int = 60
    held_out_signatures: int = 20
    renditions: int = 12  # clips per signature
    seconds: float = 4.0  # per clip: a few ~3 s patches each
    snr_db: tuple[float, float] = (-20.0, 0.0)  # full-band SNR, as the data generator defines it
    epochs: int = 30
    batch_size: int = 32  # pairs per batch
    steps_per_epoch: int = 150
    patience: int = 6
    margin: float = 1.0
    learning_rate: float = 1e-3
    embedding_dim: int = 64


def _patches(
    clipset: Any, spec: FeatureSpec, names: list[str]
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    xs, ys, per_clip = [], [], []
    for clip in clipset:
        patches = clip_patches(clip.samples, spec, sample_rate=clip.sample_rate)
        per_clip.append(patches)
        xs.append(patches)
        ys.extend([names.index(clip.label)] * len(patches))
    return np.concatenate(xs), np.asarray(ys, np.int64), per_clip


def held_out_windows(
    recipe: LowbandRecipe, spec: FeatureSpec, held: list[str], renditions: int | None = None
) -> tuple[dict[str, list[np.ndarray]], np.ndarray]:
    """Windows of the held-out signatures' clips, and of noise alone rendered with a different seed.

    The data set is a function of the recipe's seed, so the same signatures come back here; with fewer
    ``renditions`` the first ones are the same clips.
    """
    n = renditions or recipe.renditions
    n_total = recipe.train_signatures + recipe.held_out_signatures
    data = make_dataset(n_total, n, recipe.seconds, recipe.snr_db, seed=recipe.seed)
    by_class: dict[str, list[np.ndarray]] = {}
    for clip in data:
        if clip.label in held:
            by_class.setdefault(clip.label, []).append(
                clip_patches(clip.samples, spec, sample_rate=clip.sample_rate)
            )
    noise = make_dataset(1, n, recipe.seconds, recipe.snr_db, seed=recipe.seed + 1000)
    noise_windows = np.concatenate(
        [clip_patches(c.samples, spec, sample_rate=c.sample_rate) for c in noise if c.label == NOISE_LABEL]
    )
    return by_class, noise_windows


def build(
    out_dir: str | Path, recipe: LowbandRecipe = LowbandRecipe(), cache_dir: str | Path | None = None
) -> dict:
    """Train, measure and export ``lowband.tflite`` + ``lowband.json`` into ``out_dir``; return a summary.

    ``cache_dir`` is unused (all data is synthesised); it is accepted like the other recipes'.
    """
    import keras

    from detector.models import load_model
    from trainer.export import export_tflite
    from trainer.models.architectures import band_stats, si_spec_cnn
    from trainer.models.losses import contrastive_loss
    from trainer.train import fit

    started = time.monotonic()
    spec = FeatureSpec.profile("lowband")
    n_total = recipe.train_signatures + recipe.held_out_signatures
    data = make_dataset(n_total, recipe.renditions, recipe.seconds, recipe.snr_db, seed=recipe.seed)
    names = sorted({clip.label for clip in data})
    signature_names = [n for n in names if n != NOISE_LABEL]
    held = set(signature_names[recipe.train_signatures :])
    train = data.subset(c for c in data if c.label not in held)
    # validation: the last two renditions of every training signature (and of noise)
    by_label: dict[str, list[Any]] = {}
    for clip in train:
        by_label.setdefault(clip.label, []).append(clip)
    val = data.subset(c for clips in by_label.values() for c in clips[-2:])
    fit_set = data.subset(c for clips in by_label.values() for c in clips[:-2])
    x_train, y_train, _ = _patches(fit_set, spec, names)
    x_val, y_val, _ = _patches(val, spec, names)

    keras.utils.set_random_seed(recipe.seed)
    mean, std = band_stats(x_train)
    model = si_spec_cnn(
        (spec.patch_frames, spec.n_bands),
        embedding_dim=recipe.embedding_dim,
        mean=mean,
        std=std,
        name="lowband",
    )
    out_dir = Path(out_dir)
    training = fit(
        model,
        (x_train, y_train),
        (x_val, y_val),
        loss=contrastive_loss(recipe.margin),
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        steps_per_epoch=recipe.steps_per_epoch,
        patience=recipe.patience,
        seed=recipe.seed,
        learning_rate=recipe.learning_rate,
        checkpoint_dir=out_dir / "checkpoints-lowband",
    )

    held_by_class, noise_windows = held_out_windows(recipe, spec, sorted(held))
    report = separation(lambda x: model.predict(x, batch_size=256, verbose=0), held_by_class, noise_windows)
    summary = {
        "recipe": asdict(recipe),
        "data": {
            "train_patches": len(x_train),
            "val_patches": len(x_val),
            "held_out_signatures": sorted(held),
            "signatures": data.meta["signatures"],
        },
        "training": training.to_dict(),
        "held_out": report.to_dict(),
        "build_seconds": round(time.monotonic() - started, 1),
    }
    tflite_path = out_dir / "lowband.tflite"
    export_tflite(
        model,
        tflite_path,
        kind="embedding",
        spec=spec,
        name="lowband",
        training={k: v for k, v in summary.items() if k != "data"}
        | {"data": {k: v for k, v in summary["data"].items() if k != "signatures"}},
    )
    summary["held_out_tflite"] = separation(
        load_model(tflite_path).run, held_by_class, noise_windows
    ).to_dict()
    (out_dir / "lowband-build.json").write_text(json.dumps(summary, indent=2))
    log.info("lowband_model_built", **report.to_dict())
    return summary
