"""`trainer train` and `trainer export`: train a seed architecture on patches, export it to TFLite."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from detector.features.spec import PROFILES, FeatureSpec
from detector.models.sidecar import KINDS
from trainer.errors import DataError, ExportError, TrainerError

ARCHS = ("spec_cnn", "oc_spec_cnn", "si_spec_cnn", "lenet", "basic_cnn", "embedding_cnn")
LOSS_NAMES = ("binary_crossentropy", "categorical_crossentropy", "contrastive", "triplet")
ROLE_OF_LOSS = {
    "binary_crossentropy": "binary",
    "categorical_crossentropy": "classifier",
    "contrastive": "embedding",
    "triplet": "embedding",
}
KIND_OF_ROLE = {"binary": "binary", "classifier": "classifier", "embedding": "embedding"}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` and ``export`` sub-commands to the ``trainer`` parser."""
    p = sub.add_parser(
        "train",
        help="train a seed architecture on a patches .npz",
        description=(
            "Train one of the seed architectures on feature patches. DATA is an .npz with x (n, frames, "
            "bands) float32 raw log features, y (n,) integer labels, optional groups (n,) (e.g. clip ids: "
            "the validation split never splits a group) and optional classes (names, index = label). "
            "Writes OUT/model.keras (best epoch), OUT/best.keras, OUT/last.keras and OUT/summary.json."
        ),
    )
    p.add_argument("--arch", required=True, choices=ARCHS)
    p.add_argument("--loss", required=True, choices=LOSS_NAMES)
    p.add_argument("--data", required=True, metavar="PATCHES.npz")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--profile", choices=sorted(PROFILES), help="check the patches fit this feature profile")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--patience", type=int, default=5, help="epochs without val-loss improvement (0: never stop)"
    )
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--embedding-dim", type=int, default=64)
    p.add_argument(
        "--margin", type=float, default=None, help="contrastive (default 1.0) / triplet (0.5) margin"
    )
    p.add_argument("--mining", choices=["batch_hard", "semi_hard"], default="batch_hard")
    p.add_argument("--samples-per-class", type=int, default=4, help="K of the triplet batches")
    p.add_argument(
        "--positive",
        help="binary loss on multi-class data: the positive class (label number or name); others negative",
    )
    p.add_argument("--progress", choices=["log", "keras", "none"], default="log")
    p.set_defaults(func=run_train)

    p = sub.add_parser(
        "export",
        help="convert a Keras model to <name>.tflite + <name>.json",
        description=(
            "Convert a trained Keras model (.keras) to TFLite with builtin ops only (float32, or "
            "full-integer int8 calibrated on representative patches) and write its sidecar JSON beside it."
        ),
    )
    p.add_argument("keras_model", metavar="KERAS_MODEL")
    p.add_argument("--out", required=True, metavar="PATH", help="the .tflite to write (.json goes beside it)")
    p.add_argument("--kind", required=True, choices=KINDS)
    spec_group = p.add_mutually_exclusive_group(required=True)
    spec_group.add_argument(
        "--profile", choices=sorted(PROFILES), help="the feature profile it was trained on"
    )
    spec_group.add_argument("--spec", metavar="JSON", help="a FeatureSpec JSON file instead of a profile")
    p.add_argument("--int8", action="store_true", help="full-integer quantisation (needs --representative)")
    p.add_argument("--representative", metavar="NPY", help=".npy (n, frames, bands) or .npz with x")
    p.add_argument("--labels", nargs="+", help="class names, one per output (or one comma-separated list)")
    p.add_argument("--name", help="model name in the sidecar (default: the file stem)")
    p.add_argument(
        "--feature-extractor",
        action="store_true",
        help="export the sub-model up to the 'features' layer (e.g. OC-SpecCNN for one-class scorers)",
    )
    p.add_argument(
        "--summary",
        metavar="JSON",
        help="training summary to embed in the sidecar (default: summary.json beside KERAS_MODEL, if any)",
    )
    p.set_defaults(func=run_export)


# ---------------------------------------------------------------------------------------------- helpers
def _load_npz(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read as .npz/.npy (no pickles): {exc}") from None


def _load_patches(path: str) -> np.ndarray:
    """Patches from ``.npy`` or from ``x`` of an ``.npz``."""
    if path.endswith(".npy"):
        try:
            x = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise DataError(f"{path}: not found") from None
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read as .npy: {exc}") from None
    else:
        data = _load_npz(path)
        if "x" not in data:
            raise DataError(f"{path}: no array 'x'; expected x (n, frames, bands)")
        x = data["x"]
    if x.ndim != 3 or not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{path}: patches of {x.dtype} {x.shape}; expected float (n, frames, bands)")
    return x.astype(np.float32, copy=False)


def _spec(args: argparse.Namespace) -> FeatureSpec:
    if getattr(args, "spec", None):
        try:
            return FeatureSpec.from_json(Path(args.spec).read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError) as exc:
            raise TrainerError(f"{args.spec}: not a FeatureSpec JSON: {exc}") from None
    return FeatureSpec.profile(args.profile)


def split_train_val(
    y: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays ``(train, val)``: whole groups go to one side; without groups, a per-class split.

    Args:
        y: ``(n,)`` integer labels.
        groups: ``(n,)`` group ids (e.g. the clip a patch came from), or ``None``.
        fraction: Share of groups (or of each class) for validation; 0 gives no validation set.
        seed: Random seed.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    if fraction <= 0:
        return np.arange(n), np.zeros(0, np.int64)
    val = np.zeros(n, bool)
    if groups is not None:
        ids = np.unique(groups)
        rng.shuffle(ids)
        n_val = max(1, round(len(ids) * fraction)) if len(ids) > 1 else 0
        val = np.isin(groups, ids[:n_val])
    else:
        for c in np.unique(y):
            members = np.flatnonzero(y == c)
            n_val = round(len(members) * fraction) if len(members) > 1 else 0
            val[rng.permutation(members)[:n_val]] = True
    return np.flatnonzero(~val), np.flatnonzero(val)


# ---------------------------------------------------------------------------------------------- train
def run_train(args: argparse.Namespace) -> int:
    """``trainer train``: load the patches, split, build, fit, save; print where the model went."""
    data = _load_npz(args.data)
    for key in ("x", "y"):
        if key not in data:
            raise DataError(f"{args.data}: no array {key!r}; expected x (n, frames, bands) and y (n,)")
    x, y = data["x"], data["y"]
    if x.ndim != 3 or not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{args.data}: x: got {x.dtype} {x.shape}; expected float32 (n, frames, bands)")
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{args.data}: y: got {y.dtype} {y.shape}; expected integers ({len(x)},)")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{args.data}: x: has NaN or infinite values")
    groups = data.get("groups")
    if groups is not None and groups.shape != (len(x),):
        raise DataError(f"{args.data}: groups: got shape {groups.shape}; expected ({len(x)},)")
    classes = [str(c) for c in data["classes"]] if "classes" in data else None
    if args.profile:
        spec = FeatureSpec.profile(args.profile)
        if x.shape[1:] != (spec.patch_frames, spec.n_bands):
            raise DataError(
                f"{args.data}: x: patches of {x.shape[1:]}; expected ({spec.patch_frames}, {spec.n_bands}) "
                f"for profile {args.profile!r}"
            )
    x = x.astype(np.float32, copy=False)
    y = y.astype(np.int64)
    role = ROLE_OF_LOSS[args.loss]
    positive_name = None
    if role == "binary":
        labels = np.unique(y)
        if args.positive is not None:
            positive = _class_index(args.positive, classes)
            if positive not in labels:
                raise DataError(f"--positive: got {args.positive!r}; no patch has that label")
            positive_name = classes[positive] if classes and positive < len(classes) else str(positive)
            y = (y == positive).astype(np.int64)
        elif not set(labels.tolist()) <= {0, 1}:
            raise DataError(
                f"{args.data}: y has labels {labels.tolist()}; binary cross-entropy needs 0/1 labels "
                "or --positive CLASS"
            )
    if not 0 <= args.val_fraction < 1:
        raise TrainerError(f"--val-fraction: got {args.val_fraction}; expected 0 <= f < 1")

    # heavy imports only now: argument errors above come back fast
    from trainer.models import architectures, losses
    from trainer.train import fit

    train_idx, val_idx = split_train_val(y, groups, args.val_fraction, args.seed)
    if len(train_idx) == 0:
        raise DataError(f"{args.data}: no training patches left after the validation split")
    x_train, y_train = x[train_idx], y[train_idx]
    val = (x[val_idx], y[val_idx]) if len(val_idx) else None
    if role == "binary":
        y_train = y_train.astype(np.float32)
        val = (val[0], val[1].astype(np.float32)) if val is not None else None
    n_classes = int(y.max()) + 1 if role == "classifier" else None
    mean, std = architectures.band_stats(x_train)
    try:
        model = architectures.build(
            args.arch,
            x.shape[1:],
            role=role,
            n_classes=n_classes,
            embedding_dim=args.embedding_dim,
            mean=mean,
            std=std,
        )
        loss = losses.get_loss(args.loss, margin=args.margin, mining=args.mining)
    except ValueError as exc:
        raise TrainerError(str(exc)) from None
    out = Path(args.out)
    summary = fit(
        model,
        (x_train, y_train),
        val,
        loss=loss,
        epochs=args.epochs,
        batch_size=args.batch_size,
        patience=args.patience or None,
        checkpoint_dir=out,
        seed=args.seed,
        steps_per_epoch=args.steps_per_epoch,
        learning_rate=args.learning_rate,
        samples_per_class=args.samples_per_class,
        progress=args.progress,
    )
    model.save(out / "model.keras")
    extra: dict[str, Any] = {
        "arch": args.arch,
        "role": role,
        "data": str(args.data),
        "classes": classes,
        "positive": positive_name,
        "profile": args.profile,
    }
    record = {**summary.to_dict(), **extra}
    (out / "summary.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    kind = KIND_OF_ROLE[role]
    print(
        f"trained {args.arch} ({role}) for {summary.epochs_run} epochs, best epoch {summary.best_epoch} "
        f"({summary.monitor} {summary.best_value:.4f}); wrote {out / 'model.keras'}\n"
        f"next: trainer export {out / 'model.keras'} --out MODEL.tflite --kind {kind} "
        f"--profile {args.profile or 'PROFILE'}"
    )
    return 0


def _class_index(value: str, classes: list[str] | None) -> int:
    if classes and value in classes:
        return classes.index(value)
    try:
        return int(value)
    except ValueError:
        known = f"; classes: {', '.join(classes)}" if classes else ""
        raise DataError(
            f"--positive: got {value!r}; expected a label number or a class name{known}"
        ) from None


# ---------------------------------------------------------------------------------------------- export
def run_export(args: argparse.Namespace) -> int:
    """``trainer export``: load the Keras model, convert, write ``.tflite`` + sidecar; print a summary."""
    spec = _spec(args)
    labels = None
    if args.labels:
        labels = [part for item in args.labels for part in item.split(",") if part]
    if args.int8 and not args.representative:
        raise ExportError("--int8 needs --representative PATCHES (.npy or .npz with x) for calibration")
    representative = _load_patches(args.representative) if args.representative else None
    summary_path = Path(args.summary) if args.summary else Path(args.keras_model).with_name("summary.json")
    training: dict[str, Any] = {}
    if args.summary or summary_path.is_file():
        try:
            training = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrainerError(f"{summary_path}: cannot read training summary: {exc}") from None
        if labels is None and args.kind == "classifier" and training.get("classes"):
            labels = list(training["classes"])
        if labels is None and args.kind == "binary" and training.get("positive"):
            labels = [training["positive"]]
    if not Path(args.keras_model).is_file():
        raise ExportError(f"{args.keras_model}: Keras model not found")

    import keras

    from trainer import export
    from trainer.models import architectures, losses  # noqa: F401  (register the custom layers)

    try:
        model = keras.saving.load_model(args.keras_model, compile=False)
    except Exception as exc:  # keras raises ValueError, TypeError, OSError, zipfile errors...
        raise ExportError(f"{args.keras_model}: cannot load Keras model: {exc}") from None
    if args.feature_extractor:
        try:
            model = architectures.feature_extractor(model)
        except ValueError as exc:
            raise ExportError(f"{args.keras_model}: --feature-extractor: {exc}") from None
    info = export.export_tflite(
        model,
        args.out,
        kind=args.kind,
        spec=spec,
        name=args.name,
        representative=representative,
        quantize="int8" if args.int8 else "float32",
        labels=labels,
        training=training,
    )
    out = Path(args.out)
    out = out if out.suffix == ".tflite" else out.with_name(out.name + ".tflite")
    what = (
        f"embedding_dim {info.embedding_dim}"
        if info.kind == "embedding"
        else f"labels {', '.join(info.labels)}"
    )
    print(
        f"wrote {out} ({out.stat().st_size / 1024:.1f} KiB, {info.input.dtype}, {info.kind}, {what}) and "
        f"{out.with_suffix('.json')}; sha256 {info.sha256}",
        file=sys.stdout,
    )
    return 0
