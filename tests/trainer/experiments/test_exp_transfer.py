"""The shipped general model rebuilt in Keras from its .tflite weights gives the same embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from detector.models import load_model  # noqa: E402
from trainer.experiments.transfer import general_backbone, general_weights  # noqa: E402

GENERAL = Path(__file__).resolve().parents[3] / "models" / "general.tflite"


def test_rebuilt_general_model_matches_tflite() -> None:
    x = np.random.default_rng(0).normal(-4, 1.5, (4, 96, 64)).astype(np.float32)
    rebuilt = general_backbone(GENERAL, 96, with_embedding=True)
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), load_model(GENERAL).run(x), atol=1e-5)


def test_backbone_takes_longer_patches_and_exposes_features() -> None:
    weights = general_weights(GENERAL)
    assert [k.shape for k, _ in weights["conv"]] == [
        (3, 3, 1, 16),
        (3, 3, 16, 32),
        (3, 3, 32, 64),
        (3, 3, 64, 128),
    ]
    assert np.all(weights["std"] > 0)
    model = general_backbone(GENERAL, 200)
    out = model.predict(np.full((2, 200, 64), -5.0, np.float32), verbose=0)
    assert out.shape == (2, 128) and np.all(out >= 0)  # ReLU features
