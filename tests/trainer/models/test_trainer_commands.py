"""`trainer train` and `trainer export` end to end on tiny data: files, sidecar, and user-error messages."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from detector.models import load_model
from trainer import commands
from trainer.errors import DataError, ExportError


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="trainer")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.add_parsers(sub)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def patches_npz(tones, tmp_path):
    path = tmp_path / "patches.npz"
    groups = np.arange(len(tones["x"])) // 4  # four patches per "clip"
    np.savez(path, x=tones["x"], y=tones["y"], groups=groups, classes=np.array(["low", "mid", "high"]))
    return path


def test_train_then_export_float_and_int8(patches_npz, tiny_spec, tmp_path, capsys):
    out = tmp_path / "run"
    spec_json = tmp_path / "spec.json"
    spec_json.write_text(tiny_spec.to_json())
    code = _run(
        [
            "train",
            "--arch",
            "oc_spec_cnn",
            "--loss",
            "categorical_crossentropy",
            "--data",
            str(patches_npz),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--progress",
            "none",
        ]
    )
    assert code == 0
    assert "next: trainer export" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["arch"] == "oc_spec_cnn" and summary["classes"] == ["low", "mid", "high"]
    assert summary["train_size"] + summary["val_size"] == 48 and summary["val_size"] % 4 == 0

    code = _run(
        [
            "export",
            str(out / "model.keras"),
            "--out",
            str(tmp_path / "oc.tflite"),
            "--kind",
            "classifier",
            "--spec",
            str(spec_json),
        ]
    )
    assert code == 0
    model = load_model(tmp_path / "oc.tflite")
    assert model.labels == ("low", "mid", "high")  # from the training summary
    assert model.info.training["arch"] == "oc_spec_cnn" and model.info.training["quantize"] == "float32"
    probs = model.run(np.load(patches_npz)["x"][:3])
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)

    rep = tmp_path / "rep.npy"
    np.save(rep, np.load(patches_npz)["x"])
    code = _run(
        [
            "export",
            str(out / "model.keras"),
            "--out",
            str(tmp_path / "oc_features"),
            "--kind",
            "embedding",
            "--spec",
            str(spec_json),
            "--feature-extractor",
            "--int8",
            "--representative",
            str(rep),
        ]
    )
    assert code == 0
    features = load_model(tmp_path / "oc_features.tflite")
    assert features.kind == "embedding" and features.info.input.dtype == "int8"
    assert features.run(np.load(rep)[:2]).shape == (2, 64)


def test_train_binary_one_vs_all_with_positive_class_name(patches_npz, tmp_path):
    out = tmp_path / "bin"
    code = _run(
        [
            "train",
            "--arch",
            "spec_cnn",
            "--loss",
            "binary_crossentropy",
            "--data",
            str(patches_npz),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--positive",
            "mid",
            "--progress",
            "none",
        ]
    )
    assert code == 0
    assert json.loads((out / "summary.json").read_text())["positive"] == "mid"


def test_user_mistakes_are_clear_errors(patches_npz, tmp_path):
    with pytest.raises(DataError, match="0/1 labels or --positive"):
        _run(
            [
                "train",
                "--arch",
                "spec_cnn",
                "--loss",
                "binary_crossentropy",
                "--data",
                str(patches_npz),
                "--out",
                str(tmp_path / "x"),
            ]
        )
    with pytest.raises(DataError, match="expected \\(64, 186\\) for profile 'lowband'"):
        _run(
            [
                "train",
                "--arch",
                "spec_cnn",
                "--loss",
                "triplet",
                "--data",
                str(patches_npz),
                "--out",
                str(tmp_path / "x"),
                "--profile",
                "lowband",
            ]
        )
    with pytest.raises(DataError, match="not found"):
        _run(
            [
                "train",
                "--arch",
                "spec_cnn",
                "--loss",
                "triplet",
                "--data",
                str(tmp_path / "nope.npz"),
                "--out",
                str(tmp_path / "x"),
            ]
        )
    with pytest.raises(ExportError, match="--int8 needs --representative"):
        _run(
            [
                "export",
                "m.keras",
                "--out",
                str(tmp_path / "m.tflite"),
                "--kind",
                "embedding",
                "--profile",
                "general",
                "--int8",
            ]
        )
    with pytest.raises(ExportError, match="Keras model not found"):
        _run(
            [
                "export",
                str(tmp_path / "m.keras"),
                "--out",
                str(tmp_path / "m.tflite"),
                "--kind",
                "embedding",
                "--profile",
                "general",
            ]
        )
