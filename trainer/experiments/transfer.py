"""The shipped `general` embedding model rebuilt in Keras from its .tflite weights, for fine-tuning.

The Keras source of ``models/general.tflite`` is not shipped, but the flatbuffer holds every weight:
the ``embedding_cnn`` architecture (``trainer.models.architectures``) with each batch norm folded into
its conv's kernel and bias. :func:`general_backbone` rebuilds that network (conv with bias in place of
conv + batch norm: the same function) and loads the weights, so it can be fine-tuned like the paper's
VGG19 (retrain the last block + a new head) — the time axis is free, since the network ends in global
pooling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from detector.models.sidecar import load_sidecar, sidecar_path
from trainer.errors import TrainerError


def _tensors(path: Path) -> dict[str, np.ndarray]:
    from detector.models.runner import make_interpreter

    interpreter = make_interpreter(path.read_bytes(), num_threads=1, source=str(path))
    out: dict[str, np.ndarray] = {}
    for detail in interpreter.get_tensor_details():
        try:
            out[detail["name"]] = np.array(interpreter.get_tensor(detail["index"]))
        except ValueError:  # activations without data
            continue
    return out


def _find(tensors: dict[str, np.ndarray], startswith: str, ndim: int, path: Path) -> np.ndarray:
    hits = [v for k, v in tensors.items() if k.split(";")[0].startswith(startswith) and v.ndim == ndim]
    if len(hits) != 1:
        raise TrainerError(f"{path}: expected one {ndim}-d tensor named {startswith}*, found {len(hits)}")
    return hits[0]


def general_weights(path: str | Path) -> dict[str, Any]:
    """Weights of the shipped ``general`` embedding model, in Keras layout.

    Returns:
        ``{"mean", "std", "conv": [(kernel (3, 3, in, out), bias)], "features": (w, b),
        "embedding": (w, b), "n_bands", "patch_frames"}``.

    Raises:
        TrainerError: the file is not an ``embedding_cnn`` export (a tensor is missing).
    """
    path = Path(path)
    info = load_sidecar(sidecar_path(path))
    tensors = _tensors(path)
    name = info.name
    conv = []
    for i in range(1, 10):
        key = f"{name}_1/conv{i}_1/convolution"
        if key not in tensors:
            break
        kernel = np.transpose(tensors[key], (1, 2, 3, 0))  # OHWI -> HWIO
        bias = _find(tensors, f"{name}_1/relu{i}_1/Relu", 1, path)
        conv.append((kernel, bias))
    if not conv:
        raise TrainerError(f"{path}: no conv layers named {name}_1/conv<i>_1; not an embedding_cnn export")
    consts = sorted(
        (k for k, v in tensors.items() if k.startswith("Const") and v.shape == (info.spec.n_bands,)),
        key=lambda k: (len(k), k),
    )
    if len(consts) != 2:
        raise TrainerError(f"{path}: expected the standardisation's two per-band constants")
    a, b = tensors[consts[0]], tensors[consts[1]]
    mean, inv_std = (a, b) if np.mean(a) < np.mean(b) else (b, a)  # log10 means < 0 < inverse stds
    features = (
        tensors[f"{name}_1/features_1/MatMul"].T,
        _find(tensors, f"{name}_1/features_1/Relu", 1, path),
    )
    embedding = (
        tensors[f"{name}_1/embedding_1/MatMul"].T,
        _find(tensors, f"{name}_1/embedding_1/BiasAdd", 1, path),
    )
    return {
        "mean": mean.astype(np.float32),
        "std": (1.0 / inv_std).astype(np.float32),
        "conv": conv,
        "features": features,
        "embedding": embedding,
        "n_bands": info.spec.n_bands,
        "patch_frames": info.spec.patch_frames,
    }


def general_backbone(
    path: str | Path, frames: int, *, with_embedding: bool = False, name: str = "general_backbone"
) -> Any:
    """The ``general`` network as a Keras model on ``(frames, n_bands)`` patches, weights loaded.

    Args:
        path: ``models/general.tflite`` (its sidecar beside it).
        frames: input frames (the network pools globally, so any length works; 96 is the shipped one).
        with_embedding: end in the L2-normalised embedding (to check against the .tflite); default: the
            128-d ``features`` layer, for a new head.
        name: model name.

    Returns:
        A ``keras.Model``; layers ``conv1``..``conv4``, ``pool1``..``pool3``, ``features`` (+ ``embedding``).
    """
    import keras
    from keras import layers

    from trainer.models.architectures import L2Normalize, Standardize

    w = general_weights(path)
    bands = int(w["n_bands"])
    inp = keras.Input((frames, bands), name="patches")
    x = Standardize(w["mean"], w["std"], name="standardize")(inp)
    x = layers.Reshape((frames, bands, 1), name="add_channel")(x)
    n = len(w["conv"])
    convs = []
    for i, (kernel, _) in enumerate(w["conv"]):
        conv = layers.Conv2D(kernel.shape[-1], (3, 3), padding="same", activation="relu", name=f"conv{i + 1}")
        x = conv(x)
        convs.append(conv)
        if i < n - 1:
            x = layers.MaxPooling2D((2, 2), padding="same", name=f"pool{i + 1}")(x)
    x = layers.Concatenate(name="global_pool")(
        [layers.GlobalAveragePooling2D(name="avg_pool")(x), layers.GlobalMaxPooling2D(name="max_pool")(x)]
    )
    dense = layers.Dense(w["features"][0].shape[1], activation="relu", name="features")
    x = dense(x)
    if with_embedding:
        embed = layers.Dense(w["embedding"][0].shape[1], name="embedding")
        x = L2Normalize(name="l2_normalize")(embed(x))
    model = keras.Model(inp, x, name=name)
    for conv, (kernel, bias) in zip(convs, w["conv"], strict=True):
        conv.set_weights([kernel, bias])
    dense.set_weights(list(w["features"]))
    if with_embedding:
        embed.set_weights(list(w["embedding"]))
    return model
