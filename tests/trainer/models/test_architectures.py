"""Every seed architecture builds in every role, runs, and exports to builtin-op TFLite with keras parity."""

from __future__ import annotations

import numpy as np
import pytest

from detector.features import FeatureSpec
from detector.models import load_model
from trainer.errors import ExportError
from trainer.export import builtin_op_names, export_tflite
from trainer.models import architectures as arch

ROLE_KIND = {"binary": "binary", "classifier": "classifier", "embedding": "embedding"}


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("name", sorted(arch.ARCHITECTURES))
@pytest.mark.parametrize("role", arch.ROLES)
def test_every_architecture_builds_in_every_role(name, role, tones):
    x = tones["x"][:4]
    mean, std = arch.band_stats(tones["x"])
    model = arch.build(
        name,
        x.shape[1:],
        role=role,
        n_classes=3 if role == "classifier" else None,
        mean=mean,
        std=std,
        embedding_dim=12,
    )
    y = model.predict(x, verbose=0)
    expected = {"binary": 1, "classifier": 3, "embedding": 12}[role]
    assert y.shape == (4, expected)
    assert np.all(np.isfinite(y))
    if role == "embedding":
        np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0, rtol=1e-5)
    if role == "classifier":
        np.testing.assert_allclose(y.sum(1), 1.0, rtol=1e-5)
    features = arch.feature_extractor(model)
    assert features.predict(x, verbose=0).shape[0] == 4


@pytest.mark.parametrize("name", sorted(arch.ARCHITECTURES))
def test_every_architecture_exports_float32_builtin_with_parity(name, tones, tiny_spec, tmp_path):
    x = np.concatenate([tones["x"], tones["x_val"]])
    mean, std = arch.band_stats(tones["x"])
    role = arch.DEFAULT_ROLES[name]
    labels = ["a", "b", "c"] if role == "classifier" else None
    model = arch.build(name, x.shape[1:], mean=mean, std=std, n_classes=3 if role == "classifier" else None)
    info = export_tflite(
        model, tmp_path / f"{name}.tflite", kind=ROLE_KIND[role], spec=tiny_spec, labels=labels
    )
    content = (tmp_path / f"{name}.tflite").read_bytes()
    ops = builtin_op_names(content)
    assert not [op for op in ops if op.startswith("CUSTOM")], ops
    assert info.input.dtype == "float32" and info.input.shape == (-1, *x.shape[1:])
    loaded = load_model(tmp_path / f"{name}.tflite")
    got = loaded.run(x)
    want = model.predict(x, verbose=0)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4


@pytest.mark.parametrize(
    ("name", "kind"),
    [("si_spec_cnn", "embedding"), ("oc_spec_cnn", "classifier"), ("embedding_cnn", "embedding")],
)
def test_int8_export_parity(name, kind, tones, tiny_spec, tmp_path):
    x = np.concatenate([tones["x"], tones["x_val"]])
    mean, std = arch.band_stats(tones["x"])
    model = arch.build(name, x.shape[1:], mean=mean, std=std, n_classes=3 if kind == "classifier" else None)
    labels = ["a", "b", "c"] if kind == "classifier" else None
    info = export_tflite(
        model,
        tmp_path / "m.tflite",
        kind=kind,
        spec=tiny_spec,
        quantize="int8",
        representative=tones["x"],
        labels=labels,
    )
    assert info.input.dtype == "int8" and info.input.quantization is not None
    assert info.output.dtype == "int8"
    loaded = load_model(tmp_path / "m.tflite")
    cos = _cosine(loaded.run(x), model.predict(x, verbose=0))
    assert cos.mean() >= 0.999, cos
    assert cos.min() >= 0.99, cos


def test_oc_spec_cnn_feature_extractor_exports_as_embedding(tones, tiny_spec, tmp_path):
    model = arch.oc_spec_cnn(tones["x"].shape[1:], 3, feature_dim=24)
    features = arch.feature_extractor(model)
    info = export_tflite(features, tmp_path / "f.tflite", kind="embedding", spec=tiny_spec)
    assert info.embedding_dim == 24
    got = load_model(tmp_path / "f.json").run(tones["x"])
    assert np.abs(got - features.predict(tones["x"], verbose=0)).max() <= 1e-4


def test_model_needing_flex_ops_is_refused_with_op_names(tiny_spec, tmp_path):
    import keras

    inp = keras.Input((tiny_spec.patch_frames, tiny_spec.n_bands))
    x = keras.layers.LSTM(8)(inp)  # not unrolled: a TensorList while loop, Flex-only
    model = keras.Model(inp, keras.layers.Dense(4)(x), name="rolled_lstm")
    with pytest.raises(ExportError) as caught:
        export_tflite(model, tmp_path / "flex.tflite", kind="embedding", spec=tiny_spec)
    message = str(caught.value)
    assert "TensorListReserve" in message and "rolled_lstm" in message and "unroll=True" in message
    assert not (tmp_path / "flex.tflite").exists() and not (tmp_path / "flex.json").exists()


def test_export_rejects_shape_and_label_mistakes(tones, tiny_spec, tmp_path):
    model = arch.spec_cnn_binary(tones["x"].shape[1:])
    with pytest.raises(ExportError, match="expected \\(None, 64, 186\\)"):
        export_tflite(model, tmp_path / "m.tflite", kind="binary", spec=FeatureSpec.profile("lowband"))
    with pytest.raises(ExportError, match="labels: got 2"):
        export_tflite(model, tmp_path / "m.tflite", kind="binary", spec=tiny_spec, labels=["a", "b"])
    with pytest.raises(ExportError, match="representative"):
        export_tflite(model, tmp_path / "m.tflite", kind="binary", spec=tiny_spec, quantize="int8")
    with pytest.raises(ExportError, match="kind"):
        export_tflite(model, tmp_path / "m.tflite", kind="detector", spec=tiny_spec)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "profile", "max_bytes"),
    [("embedding_cnn", "general", 2_000_000), ("si_spec_cnn", "lowband", 2_000_000)],
)
def test_full_size_models_export_small(name, profile, max_bytes, make_tones, tmp_path):
    spec = FeatureSpec.profile(profile)
    tones_hz = (300.0, 650.0) if profile == "lowband" else (1000.0, 3000.0)
    x, _ = make_tones(spec, 16, seed=3, tones_hz=tones_hz)
    mean, std = arch.band_stats(x)
    model = arch.build(name, (spec.patch_frames, spec.n_bands), mean=mean, std=std)
    for quantize in ("float32", "int8"):
        path = tmp_path / f"{name}-{quantize}.tflite"
        export_tflite(model, path, kind="embedding", spec=spec, quantize=quantize, representative=x)
        assert path.stat().st_size <= max_bytes
        got = load_model(path).run(x)
        want = model.predict(x, verbose=0)
        if quantize == "float32":
            assert np.abs(got - want).max() <= 1e-4
        else:
            assert _cosine(got, want).mean() >= 0.999


@pytest.mark.parametrize("name", ["si_spec_cnn", "embedding_cnn"])
def test_keras_file_round_trip_keeps_custom_layers(name, tones, tmp_path):
    import keras

    mean, std = arch.band_stats(tones["x"])
    model = arch.build(name, tones["x"].shape[1:], mean=mean, std=std)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    assert isinstance(again.get_layer("standardize"), arch.Standardize)
    assert isinstance(again.get_layer("l2_normalize"), arch.L2Normalize)
    np.testing.assert_allclose(
        again.predict(tones["x"], verbose=0), model.predict(tones["x"], verbose=0), atol=1e-6
    )
