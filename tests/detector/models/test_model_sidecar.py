"""The model sidecar JSON: round trip, and validation errors that name the file and the key."""

from __future__ import annotations

import json

import pytest

from detector.features import FeatureSpec
from detector.models import ModelError, ModelInfo, TensorInfo, load_sidecar, write_sidecar
from detector.models.sidecar import make_info

SHA = "ab" * 32
SPEC = FeatureSpec.profile(
    "lowband", n_fft=2048, win_length=2048, hop_length=1024, n_bands=47, patch_frames=16, patch_hop_frames=4
)


def _info(**changes) -> ModelInfo:
    fields = {
        "name": "m",
        "kind": "classifier",
        "spec": SPEC,
        "input": TensorInfo((-1, 16, 47), "int8", (0.05, -3)),
        "output": TensorInfo((-1, 3), "int8", (1 / 256, -128)),
        "sha256": SHA,
        "labels": ["x", "y", "z"],
        "training": {"epochs": 3, "history": {"loss": [1.0, 0.5]}},
    }
    fields.update(changes)
    return make_info(**fields)


def test_round_trip(tmp_path):
    info = _info()
    path = write_sidecar(info, tmp_path / "m.json")
    again = load_sidecar(path)
    assert again == info and again.training == info.training
    assert again.labels == ("x", "y", "z") and again.embedding_dim is None and again.output_dim == 3
    assert again.patch_shape == (16, 47) and again.created.endswith("+00:00")
    data = json.loads(path.read_text())
    assert data["format_version"] == 1 and data["input"]["quantization"] == [0.05, -3]
    assert list(data) == [
        "format_version",
        "name",
        "kind",
        "feature_spec",
        "input",
        "output",
        "embedding_dim",
        "labels",
        "sha256",
        "training",
        "created",
    ]
    emb = _info(
        kind="embedding",
        labels=None,
        output=TensorInfo((-1, 64), "float32"),
        input=TensorInfo((-1, 16, 47), "float32"),
    )
    assert emb.embedding_dim == 64


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        ({"kind": "regressor"}, "kind", "one of embedding, classifier, binary"),
        ({"format_version": 2}, "format_version", "1"),
        ({"sha256": "xyz"}, "sha256", "64 lower-case hex digits"),
        ({"labels": ["x", "x", "z"]}, "labels", "distinct"),
        ({"labels": None}, "labels", "a list of distinct non-empty strings"),
        ({"embedding_dim": 3}, "embedding_dim", "null for a classifier model"),
        ({"extra": 1}, "extra", "no such key"),
        ({"feature_spec": {"sample_rate": 16000}}, "feature_spec", "a valid FeatureSpec"),
        (
            {"input": {"shape": [-1, 16, 46], "dtype": "int8", "quantization": [0.05, -3]}},
            "input.shape",
            "[batch, 16, 47]",
        ),
        (
            {"input": {"shape": [-1, 16, 47], "dtype": "int8", "quantization": None}},
            "input.quantization",
            "[scale, zero_point]",
        ),
        (
            {"output": {"shape": [-1, 3], "dtype": "float64", "quantization": None}},
            "output.dtype",
            "one of float32",
        ),
        ({"training": [1, 2]}, "training", "an object"),
    ],
)
def test_validation_names_file_and_key(tmp_path, change, key, expected):
    data = _info().to_dict()
    data.update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError) as caught:
        load_sidecar(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: got "), message
    assert expected in message


def test_unreadable_files(tmp_path):
    with pytest.raises(ModelError, match="sidecar not found"):
        load_sidecar(tmp_path / "none.json")
    (tmp_path / "broken.json").write_text("{nope")
    with pytest.raises(ModelError, match="broken.json: not valid JSON"):
        load_sidecar(tmp_path / "broken.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ModelError, match="expected a JSON object"):
        load_sidecar(tmp_path / "list.json")


def test_constructing_an_invalid_info_fails_and_unserialisable_training_is_refused(tmp_path):
    with pytest.raises(ModelError, match="labels"):
        _info(labels=["x"])
    info = _info(training={"when": object()})
    with pytest.raises(ModelError, match="training: cannot write as JSON"):
        write_sidecar(info, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()
