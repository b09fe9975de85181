"""The seed architectures (Spec-CNN, OC-SpecCNN, Si-SpecCNN, LeNet, basic CNN, embedding CNN) in Keras 3.

Every builder takes ``input_shape=(patch_frames, n_bands)`` (raw log features, as the front end makes
them), starts with a fixed per-band standardisation (mean/std given at build time, see ``band_stats``)
and uses only layers that convert to TFLite builtin ops: recurrent layers are unrolled, the L2
normalisation is ``tf.math.l2_normalize`` (one ``L2_NORMALIZATION`` op, int8-capable).

Roles (the head on top of the shared ``features`` layer):

- ``binary``: sigmoid scores (one unit unless ``n_classes`` says more), binary cross-entropy;
- ``classifier``: softmax over ``n_classes``, categorical cross-entropy; ``feature_extractor(model)``
  gives the penultimate ``features`` for one-class scorers;
- ``embedding``: a linear projection to ``embedding_dim``, L2-normalised; contrastive or triplet loss.

Patches are time x frequency; strides and pooling reduce time first (the low-feature paper: few conv
layers, stride along time prioritised, so the tonal lines keep their frequency resolution).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

ROLES = ("binary", "classifier", "embedding")
FEATURES_LAYER = "features"  # the penultimate layer every builder names so


# ---------------------------------------------------------------------------------------------- layers
@keras.saving.register_keras_serializable(package="sigdetect")
class Standardize(layers.Layer):
    """Fixed per-band standardisation ``(x - mean) / std`` over the last axis (converts to SUB + MUL).

    Args:
        mean: One value, or one per band (last axis).
        std: One value, or one per band; values below 1e-6 are raised to it.
    """

    def __init__(
        self, mean: float | Sequence[float] = 0.0, std: float | Sequence[float] = 1.0, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.mean = [float(v) for v in np.atleast_1d(np.asarray(mean, dtype=np.float64))]
        self.std = [float(v) for v in np.atleast_1d(np.asarray(std, dtype=np.float64))]
        if not np.all(np.isfinite(self.mean)) or not np.all(np.isfinite(self.std)):
            raise ValueError("Standardize: mean and std must be finite")

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        bands = input_shape[-1]
        for key in ("mean", "std"):
            values = getattr(self, key)
            if len(values) not in (1, bands):
                raise ValueError(
                    f"Standardize.{key}: got {len(values)} values; expected 1 or {bands} (bands)"
                )
        self._mean = tf.constant(np.asarray(self.mean, dtype=np.float32))
        self._inv_std = tf.constant(1.0 / np.maximum(np.asarray(self.std, dtype=np.float32), 1e-6))

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return (inputs - self._mean) * self._inv_std

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "std": self.std}


@keras.saving.register_keras_serializable(package="sigdetect")
class L2Normalize(layers.Layer):
    """``tf.math.l2_normalize`` over the last axis: TFLite's builtin ``L2_NORMALIZATION``, int8 too.

    (Keras' ``UnitNormalization`` lowers to several float ops that stay float in an int8 model.)
    """

    def __init__(self, epsilon: float = 1e-12, **kwargs: Any):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return tf.math.l2_normalize(inputs, axis=-1, epsilon=self.epsilon)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon}


# ---------------------------------------------------------------------------------------------- helpers
def band_stats(x: np.ndarray, *, min_std: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and std of training patches, for the builders' ``mean``/``std``.

    Args:
        x: ``(n, patch_frames, n_bands)`` (or ``(frames, n_bands)``) raw log features.
        min_std: Floor for the std (a constant band would otherwise blow up).

    Returns:
        float32 ``(n_bands,)`` mean and std.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1, np.shape(x)[-1])
    return x.mean(axis=0).astype(np.float32), np.maximum(x.std(axis=0), min_std).astype(np.float32)


def _check_input_shape(input_shape: Sequence[int]) -> tuple[int, int]:
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"input_shape: got {tuple(input_shape)}; expected (patch_frames, n_bands)")
    return shape  # type: ignore[return-value]


def _stem(input_shape: Sequence[int], mean: Any, std: Any) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Input ``(frames, bands)`` -> standardised ``(frames, bands, 1)`` image."""
    frames, bands = _check_input_shape(input_shape)
    inp = keras.Input((frames, bands), name="patches")
    x = Standardize(mean, std, name="standardize")(inp)
    x = layers.Reshape((frames, bands, 1), name="add_channel")(x)
    return inp, x


def _head(
    x: keras.KerasTensor,
    *,
    role: str,
    n_classes: int | None,
    embedding_dim: int,
    feature_dim: int,
    dropout: float,
) -> keras.KerasTensor:
    """The ``features`` layer and the role's output layer."""
    if role not in ROLES:
        raise ValueError(f"role: got {role!r}; expected one of {', '.join(ROLES)}")
    x = layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)
    if role == "embedding":
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim: got {embedding_dim}; expected >= 1")
        x = layers.Dense(embedding_dim, name="embedding")(x)
        return L2Normalize(name="l2_normalize")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    if role == "binary":
        units = 1 if n_classes is None else int(n_classes)
        return layers.Dense(units, activation="sigmoid", name="scores")(x)
    if n_classes is None or n_classes < 2:
        raise ValueError(f"n_classes: got {n_classes}; expected >= 2 for a classifier")
    return layers.Dense(int(n_classes), activation="softmax", name="probabilities")(x)


def feature_extractor(model: keras.Model, layer: str = FEATURES_LAYER) -> keras.Model:
    """The sub-model from ``model``'s input to its ``features`` layer (shares the weights).

    For OC-SpecCNN and the baselines trained as classifiers: the penultimate features one-class scorers
    (OC-SVM, isolation forest, GMM) are fitted on. Export it with ``kind="embedding"``.
    """
    return keras.Model(model.inputs, model.get_layer(layer).output, name=f"{model.name}_features")


# ---------------------------------------------------------------------------------------------- builders
def spec_cnn_binary(
    input_shape: Sequence[int],
    *,
    mean: Any = 0.0,
    std: Any = 1.0,
    filters: Sequence[int] = (16, 32),
    feature_dim: int = 32,
    dropout: float = 0.3,
    role: str = "binary",
    n_classes: int | None = None,
    embedding_dim: int = 64,
    name: str = "spec_cnn",
) -> keras.Model:
    """Spec-CNN: a shallow conv stack striding along time, then a small dense head (sigmoid by default).

    Each block is a 3x3 conv with stride (2, 1) (time, frequency) + ReLU, then 2x2 max pooling; the
    map is flattened so the tones' frequency positions reach the dense layer.

    Args:
        input_shape: ``(patch_frames, n_bands)``.
        mean: Per-band (or one) input mean, e.g. from ``band_stats``.
        std: Per-band (or one) input std.
        filters: Channels of each conv block (few: the paper's shallow stack).
        feature_dim: Units of the ``features`` dense layer.
        dropout: Dropout before the output layer.
        role: ``binary`` (default), ``classifier`` or ``embedding``.
        n_classes: Sigmoid units (binary, default 1) or softmax classes (classifier).
        embedding_dim: Output size for the embedding role.
        name: Model name.
    """
    inp, x = _stem(input_shape, mean, std)
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, (3, 3), strides=(2, 1), padding="same", activation="relu", name=f"conv{i + 1}")(
            x
        )
        x = layers.MaxPooling2D((2, 2), padding="same", name=f"pool{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    out = _head(
        x,
        role=role,
        n_classes=n_classes,
        embedding_dim=embedding_dim,
        feature_dim=feature_dim,
        dropout=dropout,
    )
    return keras.Model(inp, out, name=name)


def oc_spec_cnn(
    input_shape: Sequence[int],
    n_classes: int | None = 2,
    *,
    mean: Any = 0.0,
    std: Any = 1.0,
    filters: Sequence[int] = (16, 32),
    step_dim: int = 64,
    lstm_units: int = 64,
    feature_dim: int = 64,
    dropout: float = 0.3,
    role: str = "classifier",
    embedding_dim: int = 64,
    name: str = "oc_spec_cnn",
) -> keras.Model:
    """OC-SpecCNN: conv layers, then an LSTM over time (unrolled), then the ``features`` layer.

    Trained as a K-class classifier (categorical cross-entropy); ``feature_extractor(model)`` then
    gives the penultimate features for the one-class scorers. Conv blocks stride time by 2 and pool
    frequency by 2; each remaining time step's (frequency x channel) vector is projected to ``step_dim``
    before the LSTM reads the sequence.

    Args:
        input_shape: ``(patch_frames, n_bands)``.
        n_classes: Classes of the training task (>= 2 for the classifier role).
        mean: Per-band (or one) input mean.
        std: Per-band (or one) input std.
        filters: Channels of each conv block.
        step_dim: Size each time step is projected to before the LSTM.
        lstm_units: LSTM state size.
        feature_dim: Units of the ``features`` layer.
        dropout: Dropout before the output layer.
        role: ``classifier`` (default), ``binary`` or ``embedding``.
        embedding_dim: Output size for the embedding role.
        name: Model name.
    """
    inp, x = _stem(input_shape, mean, std)
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, (3, 3), strides=(2, 1), padding="same", activation="relu", name=f"conv{i + 1}")(
            x
        )
        x = layers.MaxPooling2D((1, 2), padding="same", name=f"pool{i + 1}")(x)
    steps, bands, channels = x.shape[1], x.shape[2], x.shape[3]
    x = layers.Reshape((steps, bands * channels), name="to_sequence")(x)
    x = layers.Dense(step_dim, activation="relu", name="step_projection")(x)
    x = layers.LSTM(lstm_units, unroll=True, name="lstm")(x)
    out = _head(
        x,
        role=role,
        n_classes=n_classes,
        embedding_dim=embedding_dim,
        feature_dim=feature_dim,
        dropout=dropout,
    )
    return keras.Model(inp, out, name=name)


def si_spec_cnn(
    input_shape: Sequence[int],
    *,
    embedding_dim: int = 64,
    mean: Any = 0.0,
    std: Any = 1.0,
    conv_filters: int = 8,
    lstm_filters: int = 16,
    time_pool: int = 4,
    feature_dim: int = 64,
    dropout: float = 0.0,
    role: str = "embedding",
    n_classes: int | None = None,
    name: str = "si_spec_cnn",
) -> keras.Model:
    """Si-SpecCNN: a ConvLSTM2D (unrolled) embedding network, L2-normalised output.

    One conv block (stride 2 in time, then ``time_pool`` x 2 pooling) makes a short sequence of
    frequency columns (8 steps of ~0.37 s for the lowband patch); a ConvLSTM2D reads it over time with
    convolutions (kernel 3 along frequency) inside its gates, so it follows how each tonal line
    evolves. Its last state is flattened into the head. Few steps keep it fast and int8-friendly.

    Args:
        input_shape: ``(patch_frames, n_bands)``.
        embedding_dim: Output size (unit vectors).
        mean: Per-band (or one) input mean.
        std: Per-band (or one) input std.
        conv_filters: Channels of the conv block.
        lstm_filters: ConvLSTM2D filters.
        time_pool: Pooling along time after the conv (with its stride: time / (2 * time_pool) steps).
        feature_dim: Units of the ``features`` layer.
        dropout: Dropout before the output layer (binary / classifier roles).
        role: ``embedding`` (default), ``binary`` or ``classifier``.
        n_classes: For the binary / classifier roles.
        name: Model name.
    """
    inp, x = _stem(input_shape, mean, std)
    x = layers.Conv2D(conv_filters, (3, 3), strides=(2, 1), padding="same", activation="relu", name="conv1")(
        x
    )
    x = layers.MaxPooling2D((time_pool, 2), padding="same", name="pool1")(x)
    steps, bands, channels = x.shape[1], x.shape[2], x.shape[3]
    x = layers.Reshape((steps, bands, 1, channels), name="to_sequence")(x)  # (time, rows=freq, cols=1, ch)
    x = layers.ConvLSTM2D(lstm_filters, (3, 1), padding="same", unroll=True, name="conv_lstm")(x)
    x = layers.Flatten(name="flatten")(x)
    out = _head(
        x,
        role=role,
        n_classes=n_classes,
        embedding_dim=embedding_dim,
        feature_dim=feature_dim,
        dropout=dropout,
    )
    return keras.Model(inp, out, name=name)


def lenet(
    input_shape: Sequence[int],
    *,
    role: str = "binary",
    n_classes: int | None = None,
    embedding_dim: int = 64,
    mean: Any = 0.0,
    std: Any = 1.0,
    dropout: float = 0.0,
    name: str = "lenet",
) -> keras.Model:
    """LeNet-5 baseline: conv 6@5x5, avg-pool, conv 16@5x5, avg-pool, dense 120, dense 84 (``features``).

    Large for big patches (the flattened map feeds a 120-unit dense layer: ~1 M weights on the
    lowband 64 x 186 patch); it is a baseline, as in the paper's tables.

    Args:
        input_shape: ``(patch_frames, n_bands)``.
        role: ``binary`` (default), ``classifier`` or ``embedding``.
        n_classes: Sigmoid units (binary) or softmax classes (classifier).
        embedding_dim: Output size for the embedding role.
        mean: Per-band (or one) input mean.
        std: Per-band (or one) input std.
        dropout: Dropout before the output layer.
        name: Model name.
    """
    inp, x = _stem(input_shape, mean, std)
    x = layers.Conv2D(6, (5, 5), padding="same", activation="relu", name="conv1")(x)
    x = layers.AveragePooling2D((2, 2), padding="same", name="pool1")(x)
    x = layers.Conv2D(16, (5, 5), padding="same", activation="relu", name="conv2")(x)
    x = layers.AveragePooling2D((2, 2), padding="same", name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation="relu", name="fc1")(x)
    out = _head(
        x, role=role, n_classes=n_classes, embedding_dim=embedding_dim, feature_dim=84, dropout=dropout
    )
    return keras.Model(inp, out, name=name)


def basic_cnn(
    input_shape: Sequence[int],
    *,
    role: str = "binary",
    n_classes: int | None = None,
    embedding_dim: int = 64,
    mean: Any = 0.0,
    std: Any = 1.0,
    filters: Sequence[int] = (16, 32, 64),
    feature_dim: int = 64,
    dropout: float = 0.3,
    name: str = "basic_cnn",
) -> keras.Model:
    """Basic CNN baseline: 3x3 conv + ReLU + 2x2 max-pool blocks, global average pooling, dense head.

    Args:
        input_shape: ``(patch_frames, n_bands)``.
        role: ``binary`` (default), ``classifier`` or ``embedding``.
        n_classes: Sigmoid units (binary) or softmax classes (classifier).
        embedding_dim: Output size for the embedding role.
        mean: Per-band (or one) input mean.
        std: Per-band (or one) input std.
        filters: Channels of each conv block.
        feature_dim: Units of the ``features`` layer.
        dropout: Dropout before the output layer.
        name: Model name.
    """
    inp, x = _stem(input_shape, mean, std)
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, (3, 3), padding="same", activation="relu", name=f"conv{i + 1}")(x)
        x = layers.MaxPooling2D((2, 2), padding="same", name=f"pool{i + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    out = _head(
        x,
        role=role,
        n_classes=n_classes,
        embedding_dim=embedding_dim,
        feature_dim=feature_dim,
        dropout=dropout,
    )
    return keras.Model(inp, out, name=name)


def embedding_cnn(
    input_shape: Sequence[int] = (96, 64),
    *,
    embedding_dim: int = 64,
    mean: Any = 0.0,
    std: Any = 1.0,
    filters: Sequence[int] = (16, 32, 64, 128),
    feature_dim: int = 128,
    dropout: float = 0.0,
    role: str = "embedding",
    n_classes: int | None = None,
    name: str = "embedding_cnn",
) -> keras.Model:
    """A small, fast general-purpose embedding CNN (the shipped ``general`` model: 96 x 64 log-mel).

    Blocks of 3x3 conv (no bias) + batch norm (folded into the conv on export) + ReLU + 2x2 max
    pooling, then global average and max pooling concatenated, a dense ``features`` layer and an
    L2-normalised linear projection.

    Args:
        input_shape: ``(patch_frames, n_bands)``, ``(96, 64)`` for the ``general`` profile.
        embedding_dim: Output size (unit vectors).
        mean: Per-band (or one) input mean.
        std: Per-band (or one) input std.
        filters: Channels of each conv block.
        feature_dim: Units of the ``features`` layer.
        dropout: Dropout before the output layer (binary / classifier roles).
        role: ``embedding`` (default), ``binary`` or ``classifier``.
        n_classes: For the binary / classifier roles.
        name: Model name.
    """
    inp, x = _stem(input_shape, mean, std)
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, (3, 3), padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = layers.ReLU(name=f"relu{i + 1}")(x)
        if i < len(filters) - 1:
            x = layers.MaxPooling2D((2, 2), padding="same", name=f"pool{i + 1}")(x)
    x = layers.Concatenate(name="global_pool")(
        [layers.GlobalAveragePooling2D(name="avg_pool")(x), layers.GlobalMaxPooling2D(name="max_pool")(x)]
    )
    out = _head(
        x,
        role=role,
        n_classes=n_classes,
        embedding_dim=embedding_dim,
        feature_dim=feature_dim,
        dropout=dropout,
    )
    return keras.Model(inp, out, name=name)


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {
    "spec_cnn": spec_cnn_binary,
    "oc_spec_cnn": oc_spec_cnn,
    "si_spec_cnn": si_spec_cnn,
    "lenet": lenet,
    "basic_cnn": basic_cnn,
    "embedding_cnn": embedding_cnn,
}
DEFAULT_ROLES = {
    "spec_cnn": "binary",
    "oc_spec_cnn": "classifier",
    "si_spec_cnn": "embedding",
    "lenet": "binary",
    "basic_cnn": "binary",
    "embedding_cnn": "embedding",
}


def build(
    arch: str,
    input_shape: Sequence[int],
    *,
    role: str | None = None,
    n_classes: int | None = None,
    embedding_dim: int = 64,
    mean: Any = 0.0,
    std: Any = 1.0,
    **kwargs: Any,
) -> keras.Model:
    """Build any architecture by name in any role (the ``trainer train --arch`` entry point).

    Args:
        arch: A key of ``ARCHITECTURES``.
        input_shape: ``(patch_frames, n_bands)``.
        role: ``binary``, ``classifier`` or ``embedding``; default: the architecture's own.
        n_classes: Output units for the binary / classifier roles.
        embedding_dim: Output size for the embedding role.
        mean: Per-band (or one) input mean.
        std: Per-band (or one) input std.
        **kwargs: Passed to the builder.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch: got {arch!r}; expected one of {', '.join(ARCHITECTURES)}")
    role = role or DEFAULT_ROLES[arch]
    kwargs = {
        "role": role,
        "n_classes": n_classes,
        "embedding_dim": embedding_dim,
        "mean": mean,
        "std": std,
        **kwargs,
    }
    if arch == "oc_spec_cnn":
        return oc_spec_cnn(input_shape, kwargs.pop("n_classes"), **kwargs)
    return ARCHITECTURES[arch](input_shape, **kwargs)
