"""Tiny real TFLite models (built with TensorFlow, exported by `trainer.export`) for the runtime tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector.features import FeatureSpec

# lowband-like, scaled down: 16 frames x 47 linear bins (0-1000 Hz)
SPEC = FeatureSpec.profile(
    "lowband", n_fft=2048, win_length=2048, hop_length=1024, n_bands=47, patch_frames=16, patch_hop_frames=4
)


def log_patches(n: int, seed: int = 0) -> np.ndarray:
    """Random float32 ``(n, 16, 47)`` patches in the range of log10 band powers."""
    return (
        np.random.default_rng(seed).normal(-3.0, 1.0, (n, SPEC.patch_frames, SPEC.n_bands)).astype(np.float32)
    )


def _keras_model(out_units: int, head: str):
    import keras

    from trainer.models.architectures import L2Normalize, Standardize

    keras.utils.set_random_seed(0)
    inp = keras.Input((SPEC.patch_frames, SPEC.n_bands))
    x = Standardize(-3.0, 1.0)(inp)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    if head == "embedding":
        out = L2Normalize()(keras.layers.Dense(out_units)(x))
    else:
        out = keras.layers.Dense(out_units, activation="softmax")(x)
    return keras.Model(inp, out, name=f"tiny_{head}")


@pytest.fixture(scope="session")
def spec() -> FeatureSpec:
    """The tiny models' feature spec."""
    return SPEC


@pytest.fixture(scope="session")
def patches():
    """The ``log_patches(n, seed)`` factory."""
    return log_patches


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, tuple[Path, object]]:
    """``{key: (tflite path, keras model)}`` for embedding (float32, int8, fixed batch 4) and classifier."""
    pytest.importorskip("tensorflow")
    from trainer.export import export_tflite

    root = tmp_path_factory.mktemp("models")
    made = {}
    embedder = _keras_model(8, "embedding")
    export_tflite(embedder, root / "emb.tflite", kind="embedding", spec=SPEC, training={"note": "test"})
    made["embedding"] = (root / "emb.tflite", embedder)
    export_tflite(embedder, root / "emb8.tflite", kind="embedding", spec=SPEC, quantize="int8",
                  representative=log_patches(64, seed=1))  # fmt: skip
    made["int8"] = (root / "emb8.tflite", embedder)
    classifier = _keras_model(3, "classifier")
    export_tflite(classifier, root / "cls.tflite", kind="classifier", spec=SPEC, labels=["a", "b", "c"])
    made["classifier"] = (root / "cls.tflite", classifier)
    export_tflite(embedder, root / "fixed.tflite", kind="embedding", spec=SPEC, batch_size=4)
    made["fixed"] = (root / "fixed.tflite", embedder)
    return made
