"""`detector.models.load_model`: real TFLite files, parity with Keras, batching, and every refusal."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detector.models import Model, ModelError, load_model


def _copy(model_path: Path, dest: Path) -> Path:
    shutil.copy(model_path, dest / model_path.name)
    shutil.copy(model_path.with_suffix(".json"), dest / model_path.with_suffix(".json").name)
    return dest / model_path.name


def _edit_sidecar(path: Path, **changes) -> None:
    sidecar = path.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    data.update(changes)
    sidecar.write_text(json.dumps(data))


def test_runtime_package_does_not_import_tensorflow():
    code = (
        "import detector.models, sys; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3])


@pytest.mark.parametrize("suffix", [".tflite", ".json", ""])
def test_load_by_either_file_or_stem(tiny_models, suffix, spec):
    path, _ = tiny_models["embedding"]
    model = load_model(path.with_suffix(suffix) if suffix else path.with_suffix(""))
    assert isinstance(model, Model)
    assert model.kind == "embedding" and model.name == "emb" and model.spec == spec
    assert model.output_dim == 8 and model.labels is None
    assert model.info.training["note"] == "test" and model.info.training["quantize"] == "float32"


@pytest.mark.parametrize("key", ["embedding", "classifier", "fixed"])
def test_float_model_matches_keras_for_any_batch(tiny_models, key, patches):
    path, keras_model = tiny_models[key]
    model = load_model(path, max_batch=16)
    x = patches(40, seed=2)  # more than max_batch: chunks of 16, 16, 8
    want = keras_model.predict(x, verbose=0)
    got = model.run(x)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4
    for n in (1, 3, 16, 1):  # changing batch sizes (resizes) give the same rows
        np.testing.assert_allclose(model.run(x[:n]), got[:n], atol=1e-6)
    np.testing.assert_allclose(model.run(x[0]), got[:1], atol=1e-6)  # one (frames, bands) patch
    assert model.run(x[:0]).shape == (0, want.shape[1])


def test_int8_model_quantises_input_and_dequantises_output(tiny_models, patches):
    path, keras_model = tiny_models["int8"]
    model = load_model(path)
    assert model.info.input.dtype == "int8" and model.info.output.dtype == "int8"
    x = patches(32, seed=3)
    got = model.run(x)
    want = keras_model.predict(x, verbose=0)
    assert got.dtype == np.float32
    cosine = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cosine.mean() >= 0.999 and cosine.min() >= 0.99


def test_classifier_labels(tiny_models, patches):
    model = load_model(tiny_models["classifier"][0])
    assert model.kind == "classifier" and model.labels == ("a", "b", "c")
    np.testing.assert_allclose(model.run(patches(4)).sum(1), 1.0, rtol=1e-5)


def test_wrong_input_shape_is_a_clear_error(tiny_models):
    model = load_model(tiny_models["embedding"][0])
    with pytest.raises(ModelError, match=r"shape \(2, 16, 46\); expected \(n, 16, 47\)"):
        model.run(np.zeros((2, 16, 46), np.float32))
    with pytest.raises(ModelError, match="expected \\(n, 16, 47\\)"):
        model.run(np.zeros(16 * 47, np.float32))


def test_sha256_mismatch_names_both_hashes(tiny_models, tmp_path):
    path = _copy(tiny_models["embedding"][0], tmp_path)
    declared = json.loads(path.with_suffix(".json").read_text())["sha256"]
    content = bytearray(path.read_bytes())
    content[-1] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(ModelError) as caught:
        load_model(path)
    message = str(caught.value)
    import hashlib

    assert declared in message and hashlib.sha256(bytes(content)).hexdigest() in message
    assert str(path) in message


def test_missing_sidecar_or_model_file(tiny_models, tmp_path):
    path = _copy(tiny_models["embedding"][0], tmp_path)
    path.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="emb.json: model sidecar not found"):
        load_model(path)
    path = _copy(tiny_models["embedding"][0], tmp_path)
    path.unlink()
    with pytest.raises(ModelError, match="emb.tflite: model file not found"):
        load_model(path.with_suffix(".json"))


def test_labels_must_match_the_output_size(tiny_models, tmp_path):
    path = _copy(tiny_models["classifier"][0], tmp_path)
    _edit_sidecar(path, labels=["a", "b"])
    with pytest.raises(ModelError, match=r"cls.json: labels: got \['a', 'b'\]; expected 3 labels"):
        load_model(path)
    # a sidecar that is consistent in itself but not with the model's real output
    sidecar = json.loads(path.with_suffix(".json").read_text())
    sidecar["output"]["shape"] = [-1, 2]
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(ModelError, match="2 labels, but cls.tflite outputs 3 values"):
        load_model(path)


def test_sidecar_that_does_not_describe_the_model(tiny_models, tmp_path):
    path = _copy(tiny_models["embedding"][0], tmp_path)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    sidecar["input"]["dtype"] = "int8"
    sidecar["input"]["quantization"] = [0.1, 0]
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(ModelError, match="input: says shape .* int8, but emb.tflite has .* float32"):
        load_model(path)


def test_fixed_batch_model_is_looped(tiny_models, patches):
    model = load_model(tiny_models["fixed"][0])
    assert model.info.input.shape == (4, 16, 47)
    x = patches(5)
    got = model.run(x)  # a batch of 4, then 1 padded to 4
    assert got.shape == (5, 8)
    np.testing.assert_allclose(got, load_model(tiny_models["embedding"][0]).run(x), atol=1e-6)


def test_repr_and_threads(tiny_models):
    model = load_model(tiny_models["embedding"][0], num_threads=2)
    assert "emb" in repr(model) and "embedding" in repr(model)
    with pytest.raises(ValueError, match="max_batch"):
        load_model(tiny_models["embedding"][0], max_batch=0)
