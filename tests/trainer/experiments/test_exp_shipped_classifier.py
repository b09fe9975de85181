"""The shipped 7-class pipeline classifier: sidecar in step with the .tflite, labels, spec, outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.features import extract
from detector.models import load_model
from detector.models.sidecar import load_sidecar, sha256_file
from trainer.experiments.common import TAGGING_SPEC
from trainer.experiments.pipeline import SEVEN_CLASSES

MODEL = Path(__file__).resolve().parents[3] / "models" / "pipeline7.tflite"
MAX_MODEL_BYTES = 2 * 1024 * 1024


def test_shipped_pipeline_classifier_matches_its_sidecar() -> None:
    info = load_sidecar(MODEL.with_suffix(".json"))
    assert info.sha256 == sha256_file(MODEL)
    assert MODEL.stat().st_size <= MAX_MODEL_BYTES
    model = load_model(MODEL)
    assert model.kind == "classifier"
    assert tuple(model.labels) == SEVEN_CLASSES
    assert model.spec == TAGGING_SPEC
    assert info.training["test_accuracy"] >= 0.9


def test_shipped_pipeline_classifier_outputs_probabilities() -> None:
    model = load_model(MODEL)
    rng = np.random.default_rng(0)
    x = (0.01 * rng.standard_normal(int(TAGGING_SPEC.patch_seconds * 16000) + 1)).astype(np.float32)
    patch = extract(TAGGING_SPEC, x)[: TAGGING_SPEC.patch_frames]
    out = model.run(np.stack([patch, patch - 1.0]))
    assert out.shape == (2, 7)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)
