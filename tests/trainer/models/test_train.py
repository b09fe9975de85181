"""`trainer.train.fit`: repeatable, early stopping restores the best weights, checkpoints, summary."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from trainer.errors import TrainerError
from trainer.models import architectures as arch
from trainer.models import losses
from trainer.train import ArrayBatches, fit


def _binary(tones):
    x = tones["x"]
    mean, std = arch.band_stats(x)
    return x, (tones["y"] == 0).astype(np.float32), mean, std


def test_fit_is_repeatable_writes_checkpoints_and_a_json_summary(tones, tmp_path):
    x, y, mean, std = _binary(tones)
    val = (tones["x_val"], (tones["y_val"] == 0).astype(np.float32))
    runs = []
    for run in range(2):
        keras.utils.set_random_seed(5)  # the initial weights
        model = arch.spec_cnn_binary(x.shape[1:], mean=mean, std=std)
        summary = fit(
            model,
            (x, y),
            val,
            loss=losses.binary_crossentropy(),
            epochs=3,
            batch_size=8,
            steps_per_epoch=4,
            seed=5,
            checkpoint_dir=tmp_path / f"run{run}",
            progress="log" if run == 0 else "none",
        )
        runs.append((model, summary))
    (m0, s0), (m1, s1) = runs
    assert s0.history == s1.history  # same seed, same numbers
    assert s0.epochs_run == 3 and s0.steps_per_epoch == 4 and s0.train_size == 48 and s0.val_size == 24
    assert s0.params == m0.count_params() and s0.seed == 5 and s0.monitor == "val_loss"
    assert set(s0.history) >= {"loss", "val_loss", "accuracy", "val_accuracy", "auc"}
    for name in ("best.keras", "last.keras", "summary.json"):
        assert (tmp_path / "run0" / name).is_file()
    on_disk = json.loads((tmp_path / "run0" / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(s0.to_dict()))
    assert on_disk["best_epoch"] == s0.best_epoch and on_disk["checkpoint"].endswith("best.keras")
    best = keras.saving.load_model(tmp_path / "run0" / "best.keras", compile=False)
    np.testing.assert_allclose(best.predict(x[:5], verbose=0), m0.predict(x[:5], verbose=0), atol=1e-6)


def test_early_stopping_restores_the_best_weights(tones):
    x, y, mean, std = _binary(tones)
    model = arch.spec_cnn_binary(x.shape[1:], mean=mean, std=std)
    flipped = (tones["x_val"], (tones["y_val"] != 0).astype(np.float32))  # learning the task hurts val
    summary = fit(
        model,
        (x, y),
        flipped,
        loss=losses.binary_crossentropy(),
        epochs=10,
        batch_size=8,
        patience=2,
        learning_rate=3e-3,
        progress="none",
    )
    assert summary.stopped_early
    assert summary.epochs_run == summary.best_epoch + 2
    assert summary.best_value == pytest.approx(min(summary.history["val_loss"]))
    model.compile(loss=losses.binary_crossentropy())
    assert model.evaluate(*flipped, verbose=0, return_dict=True)["loss"] == pytest.approx(
        summary.best_value, rel=1e-4
    )


def test_fit_without_validation_monitors_training_loss(tones):
    x, y, mean, std = _binary(tones)
    model = arch.spec_cnn_binary(x.shape[1:], mean=mean, std=std)
    summary = fit(model, (x, y), loss=losses.binary_crossentropy(), epochs=1, progress="none")
    assert summary.monitor == "loss" and summary.val_size is None and summary.best_epoch == 1


def test_fit_rejects_bad_arguments(tones):
    x, y, mean, std = _binary(tones)
    model = arch.spec_cnn_binary(x.shape[1:])
    with pytest.raises(TrainerError, match="progress"):
        fit(model, (x, y), loss=losses.binary_crossentropy(), progress="bar")
    with pytest.raises(TrainerError, match="expected >= 2"):
        fit(model, (x, np.zeros(len(x), np.int64)), loss=losses.triplet_loss(), epochs=1, progress="none")


def test_array_batches_cover_the_data_each_epoch():
    batches = ArrayBatches(np.arange(10), np.arange(10), batch_size=4, seed=1)
    assert len(batches) == 3
    seen = np.concatenate([batches[i][0] for i in range(3)])
    assert sorted(seen) == list(range(10))
    first = seen.copy()
    batches.on_epoch_end()
    assert not np.array_equal(np.concatenate([batches[i][0] for i in range(3)]), first)
    wrapped = ArrayBatches(np.arange(5), np.arange(5), batch_size=4, steps_per_epoch=3)
    assert all(len(wrapped[i][0]) == 4 for i in range(3))
