"""Spoken digits, CNN vs RNN on spectrograms (the cnn-rnn paper), with splits disjoint by voice."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from detector.features import FeatureSpec
from trainer.data.clips import ClipSet, Split
from trainer.errors import DataError
from trainer.experiments import common, metrics

log = structlog.get_logger(__name__)

SPEC = FeatureSpec.profile("general")  # 96 frames x 64 log-mel bands (~1 s): a spoken digit fits
PAPER = {"cnn_test": 0.884, "cnn_train": 0.986, "rnn_test": 0.69, "text_lstm_test": 0.146}
MODELS = ("cnn", "rnn")


@dataclasses.dataclass(frozen=True)
class DigitsConfig:
    """Every choice of the experiment (it goes into the results)."""

    seed: int = 0
    renditions: int = 3  # clips per voice and digit (espeak-ng rate/pitch jitter)
    max_voices: int | None = None  # None: every usable espeak-ng voice/variant and flite voice
    val_fraction: float = 0.15  # of the clips, whole voices
    test_fraction: float = 0.2  # of the clips, whole voices (the paper: 20 %)
    augment: int = 1  # augmented copies of each training clip (noise, EQ, gain, shift, pitch/tempo)
    epochs: int = 25
    patience: int = 6
    batch_size: int = 32
    learning_rate: float = 1e-3
    rnn_units: int = 64
    rnn_time_pool: int = 4  # frames averaged per LSTM step (40 ms): a 24-step sequence
    rnn_learning_rate: float = 3e-3
    models: tuple[str, ...] = MODELS

    @classmethod
    def quick(cls) -> DigitsConfig:
        """A few-minute version: 24 voices, 2 renditions, 8 epochs."""
        return cls(renditions=2, max_voices=24, epochs=8, patience=0)


def voice_split(clipset: ClipSet, val_fraction: float, test_fraction: float, seed: int) -> Split:
    """Train / validation / test with no voice in two splits.

    Raises:
        DataError: fewer than 3 voices, or a digit missing from the test split.
    """
    if len(clipset.groups) < 3:
        raise DataError(f"digits: {len(clipset.groups)} voice(s); a voice-disjoint split needs at least 3")
    split = clipset.split(val_fraction, test_fraction, seed=seed, by="group")
    voices = [set(part.groups) for part in split]
    if voices[0] & voices[1] or voices[0] & voices[2] or voices[1] & voices[2]:  # pragma: no cover
        raise DataError("digits: a voice landed in two splits")
    common.require_test_clips(clipset.classes, [c.label for c in split.test], "digits")
    return split


def rnn_model(
    input_shape: tuple[int, int],
    n_classes: int,
    units: int,
    mean: Any,
    std: Any,
    unroll: bool,
    time_pool: int = 4,
) -> Any:
    """RNN on the spectrogram: per-band standardisation, frames averaged in groups of ``time_pool``, one
    LSTM over the resulting sequence, a dense layer, softmax."""
    import keras
    from keras import layers

    from trainer.models.architectures import Standardize

    inp = keras.Input(input_shape, name="patches")
    x = Standardize(mean, std, name="standardize")(inp)
    if time_pool > 1:
        x = layers.AveragePooling1D(time_pool, name="time_pool")(x)
    x = layers.LSTM(units, unroll=unroll, name="lstm")(x)
    x = layers.Dense(units, activation="relu", name="features")(x)
    x = layers.Dropout(0.3, name="head_dropout")(x)
    out = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inp, out, name="digits_rnn")


def cnn_model(input_shape: tuple[int, int], n_classes: int, mean: Any, std: Any) -> Any:
    """CNN on the spectrogram: ``trainer.models.architectures.lenet`` (conv, pool, conv, pool, dense) as a
    10-way classifier; flattening keeps where in time each pattern sits, which a digit needs."""
    from trainer.models.architectures import lenet

    return lenet(
        input_shape,
        role="classifier",
        n_classes=n_classes,
        mean=mean,
        std=std,
        dropout=0.3,
        name="digits_cnn",
    )


def _data(config: DigitsConfig, cache_dir: str | Path | None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from trainer.data import digits as digit_data
    from trainer.data.backgrounds import make_background

    voices = None
    if config.max_voices is not None:
        every = digit_data.available_voices()
        step = max(1, len(every) // config.max_voices)
        voices = list(every[::step][: config.max_voices])
    clipset = digit_data.make_digits(cache_dir, voices=voices, renditions=config.renditions, seed=config.seed)
    split = voice_split(clipset, config.val_fraction, config.test_fraction, config.seed)
    classes = list(digit_data.LABELS)
    index = {label: i for i, label in enumerate(classes)}
    fields = ("seed", "renditions", "max_voices", "val_fraction", "test_fraction", "augment")
    key = common.data_key(config, fields, exp="digits", n=len(clipset))
    path = common.experiments_cache(cache_dir) / "digits" / f"features-{key}.npz"

    def build() -> dict[str, np.ndarray]:
        rng = np.random.default_rng(config.seed)
        beds = [make_background(kind, 10.0, SPEC.sample_rate, rng) for kind in ("pink", "brown", "white")]
        aug, owners = common.augmented_signals(split.train.clips, config.augment, config.seed, beds)
        train_signals = [c.samples for c in split.train] + aug
        y_train = [index[c.label] for c in split.train] + [index[split.train[i].label] for i in owners]
        return {
            "x_train": common.clip_features(train_signals, SPEC),
            "y_train": np.asarray(y_train, np.int64),
            "x_train_clean": common.clip_features([c.samples for c in split.train], SPEC),
            "y_train_clean": np.asarray([index[c.label] for c in split.train], np.int64),
            "x_val": common.clip_features([c.samples for c in split.val], SPEC),
            "y_val": np.asarray([index[c.label] for c in split.val], np.int64),
            "x_test": common.clip_features([c.samples for c in split.test], SPEC),
            "y_test": np.asarray([index[c.label] for c in split.test], np.int64),
        }

    arrays = common.cached_arrays(path, build)
    info = {
        "clips": len(clipset),
        "voices": len(clipset.groups),
        "skipped": len(clipset.skipped),
        "split_clips": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        "split_voices": {
            "train": len(split.train.groups),
            "val": len(split.val.groups),
            "test": len(split.test.groups),
        },
        "test_voices": split.test.groups,
        "voice_disjoint": True,
        "train_patches_with_augmentation": int(len(arrays["x_train"])),
        "classes": classes,
    }
    return arrays, info


def run(
    config: DigitsConfig = DigitsConfig(),
    cache_dir: str | Path | None = None,
    export_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Synthesize (cached), split by voice, train the CNN and the RNN, measure, plot.

    Args:
        config: the experiment's parameters.
        cache_dir: cache root (data sets and features).
        export_dir: also export the CNN there as ``digits_cnn.tflite`` + ``.json`` (kind classifier).

    Returns:
        The results (JSON-serialisable): data summary, per model test/train accuracy, confusion matrix,
        per-class figures, curves, wall times, and the paper's figures beside them.
    """
    import keras

    from trainer.models.architectures import band_stats

    for name in config.models:
        if name not in MODELS:
            raise DataError(f"digits: unknown model {name!r}; expected some of {', '.join(MODELS)}")
    started = time.monotonic()
    arrays, info = _data(config, cache_dir)
    classes = info["classes"]
    mean, std = band_stats(arrays["x_train"])
    shape = (SPEC.patch_frames, SPEC.n_bands)
    measure = {
        "train": (arrays["x_train_clean"], arrays["y_train_clean"]),
        "test": (arrays["x_test"], arrays["y_test"]),
    }
    results: dict[str, Any] = {"experiment": "digits", "config": dataclasses.asdict(config), "data": info}
    results["data"]["prepare_seconds"] = round(time.monotonic() - started, 1)
    results["models"] = {}
    trained: dict[str, Any] = {}
    for name in config.models:
        t0 = time.monotonic()
        keras.utils.set_random_seed(config.seed)
        if name == "cnn":
            model = cnn_model(shape, len(classes), mean, std)
        else:
            model = rnn_model(
                shape, len(classes), config.rnn_units, mean, std, unroll=False, time_pool=config.rnn_time_pool
            )
        summary, curve = common.train_with_curves(
            model,
            (arrays["x_train"], arrays["y_train"]),
            (arrays["x_val"], arrays["y_val"]),
            measure,
            loss=keras.losses.SparseCategoricalCrossentropy(),
            epochs=config.epochs,
            patience=config.patience,
            batch_size=config.batch_size,
            learning_rate=config.rnn_learning_rate if name == "rnn" else config.learning_rate,
            seed=config.seed,
        )
        scores = model.predict(arrays["x_test"], batch_size=256, verbose=0)
        predicted = np.argmax(scores, axis=1)
        summary_test = metrics.classification_summary(arrays["y_test"], scores, classes)
        matrix = metrics.confusion(arrays["y_test"], predicted, len(classes))
        train_scores = model.predict(arrays["x_train_clean"], batch_size=256, verbose=0)
        results["models"][name] = {
            "params": int(model.count_params()),
            "test_accuracy": float(np.mean(predicted == arrays["y_test"])),
            "train_accuracy": float(np.mean(np.argmax(train_scores, 1) == arrays["y_train_clean"])),
            "val_accuracy_best": float(max(summary.history.get("val_accuracy", [float("nan")]))),
            "macro_f1": summary_test["macro_f1"],
            "per_class": summary_test["per_class"],
            "confusion": matrix.tolist(),
            "curves": curve,
            "epochs_run": summary.epochs_run,
            "best_epoch": summary.best_epoch,
            "train_seconds": round(time.monotonic() - t0, 1),
        }
        trained[name] = model
        log.info("digits model done", model=name, test_accuracy=results["models"][name]["test_accuracy"])
    if export_dir is not None and "cnn" in trained:
        from trainer.export import export_tflite

        info_model = export_tflite(
            trained["cnn"],
            Path(export_dir) / "digits_cnn.tflite",
            kind="classifier",
            spec=SPEC,
            labels=classes,
            training={"experiment": "digits", "test_accuracy": results["models"]["cnn"]["test_accuracy"]},
        )
        results["exported"] = str(Path(export_dir) / "digits_cnn.tflite")
        results["exported_sha256"] = info_model.sha256
    results["paper"] = PAPER
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    return results


def save(results: dict[str, Any], path: str | Path) -> Path:
    """Write the results as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=float) + "\n")
    return path
