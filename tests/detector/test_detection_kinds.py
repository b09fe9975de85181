"""Detector with `classifier` and `binary` models: labels (or the model) become targets, same events."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from detector.config import load_config
from detector.detection import Detector
from detector.errors import ConfigError
from detector.features import FeatureSpec, extract
from detector.models import load_model

SPEC = FeatureSpec.profile("general", n_bands=16, patch_frames=20, patch_hop_frames=4)
SR = SPEC.sample_rate


def loudness_model(kind: str, path: Path) -> Path:
    """A real TFLite model whose output follows the patch's mean log power (a 'loud sound' detector).

    classifier: softmax over [quiet, loud, never]; binary: sigmoid(loud).
    """
    pytest.importorskip("tensorflow")
    import keras

    from trainer.export import export_tflite

    inp = keras.Input((SPEC.patch_frames, SPEC.n_bands))
    mean = keras.layers.GlobalAveragePooling1D()(inp)  # (bands,)
    units, activation = (3, "softmax") if kind == "classifier" else (1, "sigmoid")
    dense = keras.layers.Dense(units, activation=activation)
    out = dense(mean)
    model = keras.Model(inp, out)
    w = np.zeros((SPEC.n_bands, units), np.float32)
    b = np.zeros(units, np.float32)
    # mean log10 power over bands: about -5.8 for the quiet noise below, about -0.3 for the burst
    loud = 0 if kind == "binary" else 1
    w[:, loud] = 4.0 / SPEC.n_bands
    b[loud] = 4.0 * 3.0  # 4 * (mean + 3): positive when the mean log power is above -3
    if kind == "classifier":
        b[2] = -20.0
    dense.set_weights([w, b])
    labels = ["quiet", "loud", "never"] if kind == "classifier" else None
    export_tflite(model, path, kind=kind, spec=SPEC, labels=labels, name=f"loudness_{kind}")
    return path


def signal() -> tuple[np.ndarray, tuple[float, float]]:
    rng = np.random.default_rng(0)
    x = 0.0005 * rng.standard_normal(8 * SR)
    x[3 * SR : 5 * SR] += 0.3 * rng.standard_normal(2 * SR)  # a loud noise burst
    return x.astype(np.float32), (3.0, 5.0)


def settings(**changes):
    det = load_config(None).detection
    det = dataclasses.replace(det, adaptive=dataclasses.replace(det.adaptive, enabled=False))
    return dataclasses.replace(det, **changes)


def test_classifier_labels_become_targets_and_listen_selects_them(tmp_path: Path) -> None:
    model = load_model(loudness_model("classifier", tmp_path / "cls.tflite"))
    x, (a, b) = signal()
    f = extract(SPEC, x)
    assert f.mean(axis=1)[: 2 * 100].mean() < -3 < f.mean(axis=1)[350:450].mean()  # the model's premise
    det = Detector(model, settings(), device="d")
    assert set(det.targets) == {"quiet", "loud", "never"}
    events = det.push(x) + det.flush()
    loud = [e for e in events if e.target == "loud" and e.state == "end"]
    assert len(loud) == 1 and abs(loud[0].start - a) < 0.3 and abs(loud[0].end - b) < 0.3
    assert loud[0].model == "loudness_classifier" and loud[0].signature == model.sha256[:12]
    assert not [e for e in events if e.target == "never"]
    only = Detector(model, settings(listen=["loud"]), device="d")
    assert set(only.targets) == {"loud"}
    with pytest.raises(ConfigError, match="detection.listen.*quiet, loud, never"):
        Detector(model, settings(listen=["bark"]), device="d")


def test_binary_model_is_one_target_named_after_the_model(tmp_path: Path) -> None:
    model = load_model(loudness_model("binary", tmp_path / "bin.tflite"))
    x, (a, b) = signal()
    det = Detector(model, settings(), device="d")
    assert set(det.targets) == {"loudness_binary"}
    ends = [e for e in det.push(x) + det.flush() if e.state == "end"]
    assert len(ends) == 1 and abs(ends[0].start - a) < 0.3 and abs(ends[0].end - b) < 0.3
