"""Training loop: seeded, early stopping on validation loss, checkpoints, a JSON-serialisable summary."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import structlog
import tensorflow as tf

from trainer.errors import TrainerError
from trainer.models.losses import (
    ClassBalancedBatchSampler,
    ContrastiveLoss,
    PairSampler,
    TripletLoss,
    siamese_model,
)

log = structlog.get_logger("trainer.train")
PROGRESS = ("log", "keras", "none")


@dataclasses.dataclass
class TrainingSummary:
    """What a ``fit`` call did; ``to_dict()`` is plain JSON (it goes into the model sidecar).

    Attributes:
        model: Name of the trained model.
        params: Its parameter count.
        mode: ``supervised``, ``contrastive`` (siamese pairs) or ``triplet`` (class-balanced batches).
        loss: Loss class name and config.
        train_size: Training patches (``None`` if the data set does not say).
        val_size: Validation patches (``None`` without validation data).
        batch_size: Examples (or pairs) per batch.
        steps_per_epoch: Batches per epoch.
        epochs_requested: The ``epochs`` argument.
        epochs_run: Epochs actually run (fewer after early stopping).
        best_epoch: 1-based epoch whose weights the model holds at the end.
        best_value: The monitored value at ``best_epoch``.
        monitor: ``val_loss``, or ``loss`` without validation data.
        stopped_early: Whether early stopping ended the run.
        history: Per-epoch values of every loss and metric, by name.
        wall_seconds: Wall time of the whole run.
        seed: The random seed.
        learning_rate: The optimiser's learning rate.
        checkpoint: Path of the best checkpoint (``.keras``), if a checkpoint directory was given.
    """

    model: str
    params: int
    mode: str
    loss: dict[str, Any]
    train_size: int | None
    val_size: int | None
    batch_size: int
    steps_per_epoch: int | None
    epochs_requested: int
    epochs_run: int
    best_epoch: int
    best_value: float | None
    monitor: str
    stopped_early: bool
    history: dict[str, list[float]]
    wall_seconds: float
    seed: int
    learning_rate: float
    checkpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (non-finite floats become ``None``)."""
        return _jsonable(dataclasses.asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class ArrayBatches(keras.utils.PyDataset):
    """Seeded mini-batches ``(x, y)`` over arrays; shuffled anew each epoch when ``shuffle``.

    Args:
        x: Inputs, first axis = examples.
        y: Targets, one per example.
        batch_size: Examples per batch (the last batch of a pass may be smaller).
        seed: Random seed of the shuffles.
        shuffle: Shuffle (training) or keep the order (validation).
        steps_per_epoch: Batches per epoch (default: one pass); wraps around the data.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        batch_size: int = 32,
        seed: int = 0,
        shuffle: bool = True,
        steps_per_epoch: int | None = None,
    ) -> None:
        super().__init__()
        self.x, self.y = np.asarray(x), np.asarray(y)
        if len(self.x) != len(self.y) or len(self.x) == 0:
            raise TrainerError(
                f"data: {len(self.x)} inputs and {len(self.y)} targets; expected as many, >= 1"
            )
        self.batch_size, self.seed, self.shuffle = int(batch_size), int(seed), shuffle
        self.steps = steps_per_epoch or max(1, math.ceil(len(self.x) / self.batch_size))
        self._wrap = steps_per_epoch is not None  # a fixed step count wraps around; one pass ends short
        self.epoch = 0
        self._order = self._make_order()

    def _make_order(self) -> np.ndarray:
        n = len(self.x)
        reps = max(1, math.ceil(self.steps * self.batch_size / n)) if self._wrap else 1
        rng = np.random.default_rng([self.seed, self.epoch])
        return np.concatenate([rng.permutation(n) if self.shuffle else np.arange(n) for _ in range(reps)])

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[idx], self.y[idx]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        if self.shuffle:
            self._order = self._make_order()


class _Monitor(keras.callbacks.Callback):
    """Early stopping with best-weights restore, checkpoints of the exported model, one log line per epoch."""

    def __init__(
        self,
        *,
        monitor: str,
        patience: int | None,
        base_model: keras.Model,
        checkpoint_dir: Path | None,
        epochs: int,
        progress: str,
    ) -> None:
        super().__init__()
        self.monitor, self.patience, self.base_model = monitor, patience, base_model
        self.checkpoint_dir, self.epochs, self.progress = checkpoint_dir, epochs, progress
        self.best = math.inf
        self.best_epoch = 0
        self.best_weights: list[np.ndarray] | None = None
        self.wait = 0
        self.stopped_early = False
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        value = logs.get(self.monitor)
        value = float(value) if value is not None else math.nan
        improved = math.isfinite(value) and value < self.best
        if improved:
            self.best, self.best_epoch, self.wait = value, epoch + 1, 0
            self.best_weights = [v.numpy().copy() for v in self.model.weights]
            if self.checkpoint_dir is not None:
                self.base_model.save(self.checkpoint_dir / "best.keras")
        else:
            self.wait += 1
        if self.checkpoint_dir is not None:
            self.base_model.save(self.checkpoint_dir / "last.keras")
        if self.progress == "log":
            values = {k: round(float(v), 5) for k, v in logs.items() if np.ndim(v) == 0}
            log.info(
                "epoch",
                epoch=epoch + 1,
                of=self.epochs,
                **values,
                best=improved,
                seconds=round(time.perf_counter() - self._t0, 2),
            )
        if self.patience and self.wait >= self.patience:
            self.model.stop_training = True
            self.stopped_early = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.best_weights is not None:
            for variable, value in zip(self.model.weights, self.best_weights, strict=True):
                variable.assign(value)


def _default_metrics(loss: keras.losses.Loss) -> list[Any]:
    if isinstance(loss, keras.losses.BinaryCrossentropy):
        return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if isinstance(loss, keras.losses.CategoricalCrossentropy):
        return [keras.metrics.CategoricalAccuracy(name="accuracy")]
    return []


def _size(data: Any) -> int | None:
    if data is None:
        return None
    if isinstance(data, tuple | list) and len(data) == 2:
        return len(data[0])
    x = getattr(data, "x", None)
    return None if x is None else len(x)


def _prepare(
    data: Any,
    *,
    mode: str,
    batch_size: int,
    seed: int,
    training: bool,
    steps: int | None,
    classes_per_batch: int | None,
    samples_per_class: int,
) -> Any:
    """Arrays ``(x, y)`` -> the seeded batch source the mode needs; anything else is passed through."""
    if not (isinstance(data, tuple | list) and len(data) == 2 and isinstance(data[0], np.ndarray)):
        return data
    x, y = data
    if mode == "contrastive":
        return PairSampler(x, y, batch_size=batch_size, seed=seed, reshuffle=training, steps_per_epoch=steps)
    if mode == "triplet":
        p = classes_per_batch or max(2, batch_size // samples_per_class)
        return ClassBalancedBatchSampler(
            x,
            y,
            classes_per_batch=p,
            samples_per_class=samples_per_class,
            seed=seed,
            reshuffle=training,
            steps_per_epoch=steps,
        )
    return ArrayBatches(x, y, batch_size=batch_size, seed=seed, shuffle=training, steps_per_epoch=steps)


def fit(
    model: keras.Model,
    train_data: Any,
    val_data: Any = None,
    *,
    loss: keras.losses.Loss,
    epochs: int = 20,
    batch_size: int = 32,
    patience: int | None = 5,
    checkpoint_dir: str | Path | None = None,
    seed: int = 0,
    steps_per_epoch: int | None = None,
    learning_rate: float = 1e-3,
    metrics: Sequence[Any] | None = None,
    samples_per_class: int = 4,
    classes_per_batch: int | None = None,
    progress: str = "log",
    deterministic: bool = True,
) -> TrainingSummary:
    """Train ``model`` in place and return what happened.

    The mode follows the loss: ``ContrastiveLoss`` trains a siamese pair model around ``model`` (an
    embedding network) on ``PairSampler`` batches; ``TripletLoss`` trains ``model`` on
    ``ClassBalancedBatchSampler`` batches; any other loss is plain supervised training. Arrays
    ``(x, y)`` (integer labels for the pair / triplet modes) are wrapped in the right seeded sampler;
    a ``keras.utils.PyDataset`` (or ``tf.data.Dataset``) is used as given.

    Seed before building ``model`` too (``keras.utils.set_random_seed``): its initial weights are
    drawn when it is built. At the end ``model`` holds the weights of the best epoch (lowest
    ``val_loss``, or ``loss`` without validation data). With ``checkpoint_dir``: ``best.keras``,
    ``last.keras`` (of ``model``, not the siamese wrapper) and ``summary.json`` are written there.

    Args:
        model: The Keras model to train (the one to export).
        train_data: ``(x, y)`` arrays or a batch source.
        val_data: ``(x, y)`` arrays, a batch source, or ``None``.
        loss: A Keras loss (see ``trainer.models.losses``).
        epochs: Most epochs to run.
        batch_size: Examples (pairs for contrastive; P x K for triplet) per batch, for array data.
        patience: Epochs without improvement before stopping (``None`` or 0: never stop early).
        checkpoint_dir: Directory for checkpoints and the summary (created), or ``None``.
        seed: Seeds Python, NumPy and TF (``keras.utils.set_random_seed``) and the samplers.
        steps_per_epoch: Batches per epoch for array data (default: about one pass).
        learning_rate: Adam's learning rate.
        metrics: Keras metrics (default: accuracy, plus AUC for binary cross-entropy).
        samples_per_class: K of the triplet batches.
        classes_per_batch: P of the triplet batches (default ``batch_size // K``).
        progress: ``log`` (one structlog line per epoch), ``keras`` (Keras' progress bar) or ``none``.
        deterministic: Also ask TF for deterministic kernels (``enable_op_determinism``).

    Returns:
        The ``TrainingSummary``.

    Raises:
        TrainerError: Bad arguments or data.
    """
    if progress not in PROGRESS:
        raise TrainerError(f"progress: got {progress!r}; expected one of {', '.join(PROGRESS)}")
    if epochs < 1 or batch_size < 1:
        raise TrainerError(f"epochs and batch_size: got {epochs}, {batch_size}; expected >= 1")
    started = time.perf_counter()
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    mode = (
        "contrastive"
        if isinstance(loss, ContrastiveLoss)
        else "triplet"
        if isinstance(loss, TripletLoss)
        else "supervised"
    )
    common = {
        "mode": mode,
        "batch_size": batch_size,
        "classes_per_batch": classes_per_batch,
        "samples_per_class": samples_per_class,
    }
    try:
        train = _prepare(train_data, seed=seed, training=True, steps=steps_per_epoch, **common)
        val = _prepare(val_data, seed=seed + 1, training=False, steps=None, **common)
    except ValueError as exc:
        raise TrainerError(f"data: {exc}") from None
    fit_model = siamese_model(model) if mode == "contrastive" else model
    fit_model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=loss,
        metrics=list(metrics) if metrics is not None else _default_metrics(loss),
        jit_compile=False,
    )
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None:
        ckpt.mkdir(parents=True, exist_ok=True)
    monitor = "val_loss" if val is not None else "loss"
    watcher = _Monitor(
        monitor=monitor,
        patience=patience,
        base_model=model,
        checkpoint_dir=ckpt,
        epochs=epochs,
        progress=progress,
    )
    history = fit_model.fit(
        train,
        validation_data=val,
        epochs=epochs,
        callbacks=[watcher, keras.callbacks.TerminateOnNaN()],
        verbose=1 if progress == "keras" else 0,
    )
    hist = {k: [float(v) for v in values] for k, values in history.history.items()}
    summary = TrainingSummary(
        model=model.name,
        params=int(model.count_params()),
        mode=mode,
        loss={"name": type(loss).__name__, **_jsonable(loss.get_config())},
        train_size=_size(train_data),
        val_size=_size(val_data),
        batch_size=int(getattr(train, "batch_size", batch_size)),
        steps_per_epoch=len(train) if hasattr(train, "__len__") else steps_per_epoch,
        epochs_requested=epochs,
        epochs_run=len(next(iter(hist.values()), [])),
        best_epoch=watcher.best_epoch,
        best_value=watcher.best if math.isfinite(watcher.best) else None,
        monitor=monitor,
        stopped_early=watcher.stopped_early,
        history=hist,
        wall_seconds=round(time.perf_counter() - started, 3),
        seed=int(seed),
        learning_rate=float(learning_rate),
        checkpoint=str(ckpt / "best.keras")
        if ckpt is not None and watcher.best_weights is not None
        else None,
    )
    if ckpt is not None:
        (ckpt / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8")
    return summary
