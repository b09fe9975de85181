"""Losses (cross-entropy, contrastive, triplet with online mining) and the pair / class-balanced samplers.

Triplet mining is implemented here in TF ops (``tensorflow_addons`` is no longer maintained):

- ``batch_hard``: for each anchor, its farthest positive and nearest negative in the batch;
- ``semi_hard``: for each anchor-positive pair, the nearest negative farther than the positive (the
  FaceNet rule), falling back to the farthest negative when there is none.

Both need batches with several examples of each class: ``ClassBalancedBatchSampler`` (P classes x K
examples). Contrastive loss trains a siamese pair model (``siamese_model``) on ``PairSampler`` batches.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

MINING = ("batch_hard", "semi_hard")
LOSSES = ("binary_crossentropy", "categorical_crossentropy", "contrastive", "triplet")


# ---------------------------------------------------------------------------------------------- distances
def pairwise_distances(embeddings: tf.Tensor, *, squared: bool = False) -> tf.Tensor:
    """Euclidean distance matrix ``(n, n)`` of ``(n, d)`` embeddings, with a gradient-safe square root.

    Args:
        embeddings: ``(n, d)`` float tensor.
        squared: Return squared distances.
    """
    dot = tf.matmul(embeddings, embeddings, transpose_b=True)
    norms = tf.linalg.diag_part(dot)
    d2 = tf.maximum(norms[:, None] - 2.0 * dot + norms[None, :], 0.0)
    if squared:
        return d2
    zero = tf.cast(tf.equal(d2, 0.0), d2.dtype)
    return tf.sqrt(d2 + zero * 1e-16) * (1.0 - zero)  # sqrt'(0) is infinite: keep exact zeros out of it


@keras.saving.register_keras_serializable(package="sigdetect")
class EuclideanDistance(keras.layers.Layer):
    """``||a - b||`` per row of two ``(n, d)`` tensors, as ``(n, 1)`` (the siamese distance layer)."""

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        a, b = inputs
        return tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(a - b), axis=-1, keepdims=True), 1e-12))

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return (input_shape[0][0], 1)


def siamese_model(embedder: keras.Model) -> keras.Model:
    """A two-input model ``[a, b] -> ||embedder(a) - embedder(b)||`` sharing ``embedder``'s weights.

    Train it with ``contrastive_loss`` on ``PairSampler`` batches; export ``embedder``.
    """
    shape = tuple(embedder.inputs[0].shape[1:])
    a = keras.Input(shape, name="a")
    b = keras.Input(shape, name="b")
    distance = EuclideanDistance(name="distance")([embedder(a), embedder(b)])
    return keras.Model([a, b], distance, name=f"{embedder.name}_siamese")


# ---------------------------------------------------------------------------------------------- losses
def binary_crossentropy(**kwargs: Any) -> keras.losses.Loss:
    """Keras' binary cross-entropy (sigmoid outputs, 0/1 labels)."""
    return keras.losses.BinaryCrossentropy(**kwargs)


def categorical_crossentropy(*, sparse: bool = True, **kwargs: Any) -> keras.losses.Loss:
    """Keras' categorical cross-entropy (softmax outputs); ``sparse``: integer labels rather than one-hot."""
    if sparse:
        return keras.losses.SparseCategoricalCrossentropy(**kwargs)
    return keras.losses.CategoricalCrossentropy(**kwargs)


@keras.saving.register_keras_serializable(package="sigdetect")
class ContrastiveLoss(keras.losses.Loss):
    """Contrastive loss on pair distances: ``y d^2 + (1 - y) max(margin - d, 0)^2``.

    ``y_true`` is 1 for a same-class pair, 0 otherwise; ``y_pred`` the pair's Euclidean distance.
    """

    def __init__(self, margin: float = 1.0, name: str = "contrastive_loss", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        if not margin > 0:
            raise ValueError(f"margin: got {margin}; expected > 0")
        self.margin = float(margin)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        same = tf.reshape(tf.cast(y_true, y_pred.dtype), [-1])
        d = tf.reshape(y_pred, [-1])
        return same * tf.square(d) + (1.0 - same) * tf.square(tf.maximum(self.margin - d, 0.0))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="sigdetect")
class TripletLoss(keras.losses.Loss):
    """Triplet loss with online mining over a batch of ``(n, d)`` embeddings and ``(n,)`` integer labels.

    The loss is ``max(d(a, p) - d(a, n) + margin, 0)`` with Euclidean distances, averaged over the
    anchors (batch-hard) or anchor-positive pairs (semi-hard) that have a positive and a negative.
    """

    def __init__(
        self, margin: float = 0.5, mining: str = "batch_hard", name: str = "triplet_loss", **kwargs: Any
    ):
        super().__init__(name=name, **kwargs)
        if not margin > 0:
            raise ValueError(f"margin: got {margin}; expected > 0")
        if mining not in MINING:
            raise ValueError(f"mining: got {mining!r}; expected one of {', '.join(MINING)}")
        self.margin = float(margin)
        self.mining = mining

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        labels = tf.reshape(tf.cast(tf.round(tf.cast(y_true, tf.float32)), tf.int32), [-1])
        embeddings = tf.cast(y_pred, tf.float32)
        if self.mining == "batch_hard":
            return batch_hard_triplet_loss(labels, embeddings, self.margin)
        return semi_hard_triplet_loss(labels, embeddings, self.margin)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "margin": self.margin, "mining": self.mining}


def _masks(labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``(positive, negative)`` boolean ``(n, n)`` masks: same label and not itself; other label."""
    same = tf.equal(labels[:, None], labels[None, :])
    eye = tf.eye(tf.shape(labels)[0], dtype=tf.bool)
    return tf.logical_and(same, tf.logical_not(eye)), tf.logical_not(same)


def batch_hard_triplet_loss(labels: tf.Tensor, embeddings: tf.Tensor, margin: float) -> tf.Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017): per anchor, hardest positive vs hardest negative.

    Args:
        labels: ``(n,)`` integer class labels.
        embeddings: ``(n, d)`` float embeddings.
        margin: Required gap between negative and positive distances.

    Returns:
        Scalar mean over anchors that have both a positive and a negative (0 if none has).
    """
    d = pairwise_distances(embeddings)
    positive, negative = _masks(labels)
    hardest_positive = tf.reduce_max(tf.where(positive, d, 0.0), axis=1)
    big = tf.stop_gradient(tf.reduce_max(d)) + 1.0
    hardest_negative = tf.reduce_min(tf.where(negative, d, big), axis=1)
    valid = tf.cast(tf.logical_and(tf.reduce_any(positive, 1), tf.reduce_any(negative, 1)), d.dtype)
    losses = tf.maximum(hardest_positive - hardest_negative + margin, 0.0) * valid
    return tf.reduce_sum(losses) / tf.maximum(tf.reduce_sum(valid), 1.0)


def semi_hard_triplet_loss(labels: tf.Tensor, embeddings: tf.Tensor, margin: float) -> tf.Tensor:
    """Semi-hard triplet loss (Schroff et al. 2015, FaceNet), as ``tfa.losses.TripletSemiHardLoss`` did.

    For every anchor-positive pair, the negative is the nearest one farther than the positive; if no
    negative is farther, the farthest negative.

    Args:
        labels: ``(n,)`` integer class labels.
        embeddings: ``(n, d)`` float embeddings.
        margin: Required gap between negative and positive distances.

    Returns:
        Scalar mean over anchor-positive pairs whose anchor has a negative (0 if there is none).
    """
    d = pairwise_distances(embeddings)
    positive, negative = _masks(labels)
    d_ap = d[:, :, None]  # (anchor, positive, 1)
    d_an = d[:, None, :]  # (anchor, 1, negative)
    neg = negative[:, None, :]
    outside = tf.logical_and(neg, d_an > d_ap)  # negatives farther than this positive
    big = tf.stop_gradient(tf.reduce_max(d)) + 1.0
    nearest_outside = tf.reduce_min(tf.where(outside, d_an, big), axis=2)
    farthest_negative = tf.reduce_max(tf.where(negative, d, 0.0), axis=1)[:, None]
    chosen = tf.where(tf.reduce_any(outside, axis=2), nearest_outside, farthest_negative)
    pairs = tf.cast(tf.logical_and(positive, tf.reduce_any(negative, axis=1, keepdims=True)), d.dtype)
    losses = tf.maximum(d - chosen + margin, 0.0) * pairs
    return tf.reduce_sum(losses) / tf.maximum(tf.reduce_sum(pairs), 1.0)


def contrastive_loss(margin: float = 1.0) -> ContrastiveLoss:
    """Contrastive loss for pair distances (1 = same class), Euclidean, with ``margin``."""
    return ContrastiveLoss(margin)


def triplet_loss(margin: float = 0.5, mining: str = "batch_hard") -> TripletLoss:
    """Triplet loss with online ``batch_hard`` or ``semi_hard`` mining, Euclidean distances."""
    return TripletLoss(margin, mining)


def get_loss(name: str, *, margin: float | None = None, mining: str = "batch_hard") -> keras.losses.Loss:
    """A loss by name (for the command line): one of ``LOSSES``."""
    if name == "binary_crossentropy":
        return binary_crossentropy()
    if name == "categorical_crossentropy":
        return categorical_crossentropy()
    if name == "contrastive":
        return contrastive_loss(1.0 if margin is None else margin)
    if name == "triplet":
        return triplet_loss(0.5 if margin is None else margin, mining)
    raise ValueError(f"loss: got {name!r}; expected one of {', '.join(LOSSES)}")


# ---------------------------------------------------------------------------------------------- samplers
def _check_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels: got {y.dtype} {y.shape}; expected integers, one per patch ({len(x)})")
    return x, y.astype(np.int64)


class _Sampler(keras.utils.PyDataset):
    """Seeded batches: batch ``i`` of epoch ``e`` depends on ``(seed, e, i)`` only (reproducible)."""

    def __init__(self, seed: int, steps: int, reshuffle: bool) -> None:
        super().__init__()
        self.seed = int(seed)
        self.steps = int(steps)
        self.reshuffle = reshuffle
        self.epoch = 0

    def __len__(self) -> int:
        return self.steps

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch if self.reshuffle else 0, int(index)])

    def on_epoch_end(self) -> None:
        self.epoch += 1


class PairSampler(_Sampler):
    """Batches of patch pairs ``([a, b], same)`` for contrastive training of a siamese model.

    Each batch holds ``positive_fraction`` same-class pairs (two different patches of one class) and
    different-class pairs for the rest, classes drawn uniformly.

    Args:
        x: ``(n, patch_frames, n_bands)`` patches.
        y: ``(n,)`` integer labels (>= 2 classes; a class needs >= 2 patches to give positive pairs).
        batch_size: Pairs per batch.
        steps_per_epoch: Batches per epoch (default: enough for each patch once as ``a``).
        positive_fraction: Share of same-class pairs.
        seed: Random seed.
        reshuffle: New pairs each epoch (training); ``False`` repeats the same ones (validation).
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        batch_size: int = 32,
        steps_per_epoch: int | None = None,
        positive_fraction: float = 0.5,
        seed: int = 0,
        reshuffle: bool = True,
    ) -> None:
        self.x, self.y = _check_xy(x, y)
        self.batch_size = int(batch_size)
        self.positive_fraction = float(positive_fraction)
        classes = np.unique(self.y)
        self._members = {int(c): np.flatnonzero(self.y == c) for c in classes}
        self._paired = [c for c, idx in self._members.items() if len(idx) >= 2]
        if len(classes) < 2:
            raise ValueError(
                f"PairSampler: got {len(classes)} class; expected >= 2 (negative pairs need two)"
            )
        if not self._paired and self.positive_fraction > 0:
            raise ValueError("PairSampler: no class has 2 patches; positive pairs need two of one class")
        steps = steps_per_epoch or max(1, math.ceil(len(self.x) / self.batch_size))
        super().__init__(seed, steps, reshuffle)

    def pairs(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` random pairs as index arrays ``(i, j, same)``."""
        n_pos = round(n * self.positive_fraction)
        classes = np.array(sorted(self._members))
        i = np.empty(n, np.int64)
        j = np.empty(n, np.int64)
        for k in range(n):
            if k < n_pos:
                c = self._paired[rng.integers(len(self._paired))]
                i[k], j[k] = rng.choice(self._members[c], 2, replace=False)
            else:
                c1, c2 = rng.choice(classes, 2, replace=False)
                i[k] = rng.choice(self._members[int(c1)])
                j[k] = rng.choice(self._members[int(c2)])
        same = (np.arange(n) < n_pos).astype(np.float32)
        order = rng.permutation(n)
        return i[order], j[order], same[order]

    def sample(self, n: int, seed: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
        """``n`` pairs as arrays ``([a, b], same)`` (e.g. a fixed validation set)."""
        i, j, same = self.pairs(np.random.default_rng(self.seed if seed is None else seed), n)
        return [self.x[i], self.x[j]], same

    def __getitem__(self, index: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        i, j, same = self.pairs(self._rng(index), self.batch_size)
        return (self.x[i], self.x[j]), same


class ClassBalancedBatchSampler(_Sampler):
    """Batches of P classes x K patches ``(x, labels)`` for triplet loss with online mining.

    Args:
        x: ``(n, patch_frames, n_bands)`` patches.
        y: ``(n,)`` integer labels (>= 2 classes).
        classes_per_batch: P (capped at the number of classes).
        samples_per_class: K (>= 2; a class with fewer patches is drawn with replacement).
        steps_per_epoch: Batches per epoch (default: about one pass over the data).
        seed: Random seed.
        reshuffle: New batches each epoch (training); ``False`` repeats the same ones (validation).
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        classes_per_batch: int = 8,
        samples_per_class: int = 4,
        steps_per_epoch: int | None = None,
        seed: int = 0,
        reshuffle: bool = True,
    ) -> None:
        self.x, self.y = _check_xy(x, y)
        classes = np.unique(self.y)
        if len(classes) < 2:
            raise ValueError(f"ClassBalancedBatchSampler: got {len(classes)} class; expected >= 2")
        if samples_per_class < 2:
            raise ValueError(f"samples_per_class: got {samples_per_class}; expected >= 2 (anchor + positive)")
        self.classes = classes
        self._members = {int(c): np.flatnonzero(self.y == c) for c in classes}
        self.p = min(int(classes_per_batch), len(classes))
        self.k = int(samples_per_class)
        steps = steps_per_epoch or max(1, math.ceil(len(self.x) / (self.p * self.k)))
        super().__init__(seed, steps, reshuffle)

    @property
    def batch_size(self) -> int:
        """Patches per batch (P x K)."""
        return self.p * self.k

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rng = self._rng(index)
        picked = []
        for c in rng.choice(self.classes, self.p, replace=False):
            members = self._members[int(c)]
            picked.append(rng.choice(members, self.k, replace=len(members) < self.k))
        idx = np.concatenate(picked)
        return self.x[idx], self.y[idx].astype(np.int32)
