"""Contrastive and triplet losses against NumPy references; the samplers; tiny models learn with each loss."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from trainer.models import architectures as arch
from trainer.models import losses
from trainer.train import fit


def _distances(e: np.ndarray) -> np.ndarray:
    return np.sqrt(((e[:, None, :] - e[None, :, :]) ** 2).sum(-1))


def _batch_hard_reference(labels: np.ndarray, e: np.ndarray, margin: float) -> float:
    d = _distances(e)
    values = []
    for a in range(len(e)):
        pos = [p for p in range(len(e)) if p != a and labels[p] == labels[a]]
        neg = [n for n in range(len(e)) if labels[n] != labels[a]]
        if pos and neg:
            values.append(max(max(d[a, pos]) - min(d[a, neg]) + margin, 0.0))
    return float(np.mean(values)) if values else 0.0


def _semi_hard_reference(labels: np.ndarray, e: np.ndarray, margin: float) -> float:
    d = _distances(e)
    values = []
    for a, p in itertools.permutations(range(len(e)), 2):
        if labels[a] != labels[p]:
            continue
        neg = [n for n in range(len(e)) if labels[n] != labels[a]]
        if not neg:
            continue
        farther = [d[a, n] for n in neg if d[a, n] > d[a, p]]
        chosen = min(farther) if farther else max(d[a, n] for n in neg)
        values.append(max(d[a, p] - chosen + margin, 0.0))
    return float(np.mean(values)) if values else 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplet_losses_match_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, 12)
    e = rng.standard_normal((12, 5)).astype(np.float32)
    for mining, reference in (("batch_hard", _batch_hard_reference), ("semi_hard", _semi_hard_reference)):
        loss = losses.triplet_loss(margin=0.7, mining=mining)
        got = float(loss(labels.astype(np.float32), e))
        assert got == pytest.approx(reference(labels, e, 0.7), rel=1e-4, abs=1e-5), mining


def test_triplet_loss_gradients_are_finite_with_identical_embeddings():
    e = tf.Variable(np.ones((6, 4), np.float32))
    labels = tf.constant([0, 0, 1, 1, 2, 2])
    for mining in losses.MINING:
        with tf.GradientTape() as tape:
            value = losses.triplet_loss(0.5, mining)(labels, e)
        grad = tape.gradient(value, e)
        assert float(value) == pytest.approx(0.5)
        assert np.all(np.isfinite(grad.numpy()))


def test_triplet_loss_is_zero_without_valid_triplets():
    e = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    assert float(losses.triplet_loss()(np.zeros(4, np.float32), e)) == 0.0  # no negatives
    assert float(losses.triplet_loss()(np.arange(4, dtype=np.float32), e)) == 0.0  # no positives


def test_contrastive_loss_matches_formula():
    d = np.array([[0.2], [1.5], [0.4], [0.9]], np.float32)
    same = np.array([1, 1, 0, 0], np.float32)
    want = np.mean([0.2**2, 1.5**2, (1.0 - 0.4) ** 2, (1.0 - 0.9) ** 2])
    assert float(losses.contrastive_loss(1.0)(same, d)) == pytest.approx(want, rel=1e-6)


def test_loss_configs_round_trip():
    loss = losses.TripletLoss(0.3, "semi_hard")
    again = losses.TripletLoss.from_config(loss.get_config())
    assert (again.margin, again.mining) == (0.3, "semi_hard")
    with pytest.raises(ValueError, match="mining"):
        losses.triplet_loss(0.3, "hardest")
    with pytest.raises(ValueError, match="loss"):
        losses.get_loss("hinge")


def test_class_balanced_sampler_gives_p_classes_by_k_and_is_seeded(tones):
    sampler = losses.ClassBalancedBatchSampler(
        tones["x"], tones["y"], classes_per_batch=2, samples_per_class=4, seed=7
    )
    xb, yb = sampler[0]
    assert xb.shape == (8, *tones["x"].shape[1:]) and yb.dtype == np.int32
    counts = np.unique(yb, return_counts=True)[1]
    assert list(counts) == [4, 4]
    again = losses.ClassBalancedBatchSampler(
        tones["x"], tones["y"], classes_per_batch=2, samples_per_class=4, seed=7
    )
    np.testing.assert_array_equal(again[0][1], yb)
    np.testing.assert_array_equal(again[0][0], xb)
    first = [sampler[i][1].tolist() for i in range(len(sampler))]
    sampler.on_epoch_end()
    assert [sampler[i][1].tolist() for i in range(len(sampler))] != first  # new batches each epoch
    fixed = losses.ClassBalancedBatchSampler(tones["x"], tones["y"], seed=7, reshuffle=False)
    before = fixed[0][1].tolist()
    fixed.on_epoch_end()
    assert fixed[0][1].tolist() == before
    assert fixed.p == 3  # capped at the number of classes
    with pytest.raises(ValueError, match="class"):
        losses.ClassBalancedBatchSampler(tones["x"], np.zeros(len(tones["x"]), int))


def test_pair_sampler_balances_same_and_different_pairs(tones):
    sampler = losses.PairSampler(tones["x"], tones["y"], batch_size=10, seed=3)
    (a, b), same = sampler[0]
    assert a.shape == b.shape == (10, *tones["x"].shape[1:])
    assert same.sum() == 5
    i, j, same = sampler.pairs(np.random.default_rng(0), 200)
    y = tones["y"]
    np.testing.assert_array_equal(y[i] == y[j], same.astype(bool))
    assert np.all(i[same == 1] != j[same == 1])
    (va, vb), vs = sampler.sample(20, seed=1)
    (wa, wb), ws = sampler.sample(20, seed=1)
    np.testing.assert_array_equal(va, wa)
    np.testing.assert_array_equal(vs, ws)


def assert_learns(summary, factor: float = 0.7) -> None:
    loss = summary.history["loss"]
    assert loss[-1] < factor * loss[0], loss
    assert summary.history["val_loss"][-1] < summary.history["val_loss"][0]


def test_binary_cross_entropy_training_lowers_loss(tones):
    x, y = tones["x"], (tones["y"] == 0).astype(np.float32)
    model = arch.spec_cnn_binary(x.shape[1:], mean=arch.band_stats(x)[0], std=arch.band_stats(x)[1])
    summary = fit(
        model,
        (x, y),
        (tones["x_val"], (tones["y_val"] == 0).astype(np.float32)),
        loss=losses.binary_crossentropy(),
        epochs=4,
        batch_size=8,
        progress="none",
    )
    assert_learns(summary)
    assert summary.history["val_accuracy"][-1] >= 0.8


def test_categorical_cross_entropy_training_lowers_loss(tones):
    x = tones["x"]
    mean, std = arch.band_stats(x)
    model = arch.oc_spec_cnn(x.shape[1:], 3, mean=mean, std=std)
    summary = fit(
        model,
        (x, tones["y"]),
        (tones["x_val"], tones["y_val"]),
        loss=losses.categorical_crossentropy(),
        epochs=4,
        batch_size=8,
        progress="none",
    )
    assert_learns(summary)


def test_contrastive_training_lowers_loss(tones):
    x = tones["x"]
    mean, std = arch.band_stats(x)
    model = arch.si_spec_cnn(x.shape[1:], embedding_dim=16, mean=mean, std=std)
    summary = fit(
        model,
        (x, tones["y"]),
        (tones["x_val"], tones["y_val"]),
        loss=losses.contrastive_loss(1.0),
        epochs=4,
        batch_size=12,
        progress="none",
    )
    assert summary.mode == "contrastive"
    assert_learns(summary)
    e = model.predict(tones["x_val"], verbose=0)  # the embedder itself learned: same class closer
    d = _distances(e)
    same = tones["y_val"][:, None] == tones["y_val"][None, :]
    assert d[same].mean() < d[~same].mean()


@pytest.mark.parametrize("mining", losses.MINING)
def test_triplet_training_lowers_loss(mining, tones):
    x = tones["x"]
    mean, std = arch.band_stats(x)
    model = arch.si_spec_cnn(x.shape[1:], embedding_dim=16, mean=mean, std=std)
    summary = fit(
        model,
        (x, tones["y"]),
        (tones["x_val"], tones["y_val"]),
        loss=losses.triplet_loss(0.5, mining),
        epochs=3,
        batch_size=12,
        samples_per_class=4,
        progress="none",
    )
    assert summary.mode == "triplet" and summary.batch_size == 12
    assert_learns(summary, 0.9)
