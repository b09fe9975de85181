"""Binary signatures: a real Spec-CNN head exported to TFLite beside the `.sig`, scored on feature patches."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from detector.features import FeatureSpec
from detector.models import load_model
from detector.signatures import (
    SignatureData,
    SignatureError,
    load_signature,
    load_signatures,
    write_signature,
)

# lowband-like, scaled down: 16 frames x 47 linear bins, as the model runner tests use
SPEC = FeatureSpec.profile(
    "lowband", n_fft=2048, win_length=2048, hop_length=1024, n_bands=47, patch_frames=16, patch_hop_frames=4
)
IDENTITY = {"kind": "isotonic", "x": np.array([0.0, 1.0]), "y": np.array([0.0, 1.0])}


def patches(n: int, seed: int) -> np.ndarray:
    return (
        np.random.default_rng(seed).normal(-3.0, 1.0, (n, SPEC.patch_frames, SPEC.n_bands)).astype(np.float32)
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    """A binary head (two versions) and an embedding model with the same FeatureSpec, as real files."""
    pytest.importorskip("tensorflow")
    import keras

    from trainer.export import export_tflite
    from trainer.models.architectures import spec_cnn_binary

    root = tmp_path_factory.mktemp("binary")
    made = {"root": root}
    shape = (SPEC.patch_frames, SPEC.n_bands)
    for key, seed in (("head", 0), ("other_head", 1)):
        keras.utils.set_random_seed(seed)
        model = spec_cnn_binary(shape, mean=-3.0, std=1.0, filters=(4, 8), feature_dim=8, name=f"bark_{key}")
        path = root / key / "bark.head.tflite"
        path.parent.mkdir()
        export_tflite(model, path, kind="binary", spec=SPEC)
        made[key] = (path, model)
    keras.utils.set_random_seed(2)
    embedder = spec_cnn_binary(
        shape, role="embedding", embedding_dim=8, filters=(4,), feature_dim=8, name="emb"
    )
    export_tflite(embedder, root / "emb.tflite", kind="embedding", spec=SPEC)
    made["embedding"] = load_model(root / "emb.tflite")
    return made


def _binary_signature(directory: Path, head_path: Path, name: str = "bark") -> Path:
    shutil.copy(head_path, directory / f"{name}.head.tflite")
    shutil.copy(head_path.with_suffix(".json"), directory / f"{name}.head.json")
    sha = load_model(directory / f"{name}.head.tflite").sha256
    data = SignatureData(
        name=name,
        scorer="binary",
        model_sha256=sha,
        feature_spec=SPEC.to_dict(),
        params={"model_file": f"{name}.head.tflite", "model_file_sha256": sha},
        threshold=0.5,
        calibration=IDENTITY,
        enrollment={"positives": 40, "negatives": 200},
    )
    return write_signature(directory / f"{name}.sig", data)


def test_binary_signature_scores_patches_through_its_head(tmp_path, exported):
    path = _binary_signature(tmp_path, exported["head"][0])
    sig = load_signature(path, exported["embedding"])
    assert sig.needs_patches and sig.scorer_kind == "binary" and sig.head.kind == "binary"
    x = patches(20, seed=3)
    want = exported["head"][1].predict(x, verbose=0)[:, 0]
    got = sig.score_patches(x)
    assert got.shape == (20,) and got.dtype == np.float64
    assert np.abs(got - want).max() <= 1e-5
    assert np.abs(sig.raw_patches(x) - want).max() <= 1e-5
    with pytest.raises(SignatureError, match="binary: it scores feature patches.*score_patches"):
        sig.score(exported["embedding"].run(x))


def test_the_head_itself_can_be_the_daemons_model(tmp_path, exported):
    path = _binary_signature(tmp_path, exported["head"][0])
    head = load_model(tmp_path / "bark.head.tflite")
    sig = load_signature(path, head)
    assert sig.head is head  # no second interpreter


def test_a_model_with_another_feature_spec_is_refused(tmp_path, exported):
    path = _binary_signature(tmp_path, exported["head"][0])
    general = load_model(Path(__file__).resolve().parents[3] / "models" / "general.tflite")
    with pytest.raises(SignatureError, match="'bark' was made for another feature spec than model 'general'"):
        load_signature(path, general)


def test_a_replaced_head_is_refused(tmp_path, exported):
    path = _binary_signature(tmp_path, exported["head"][0])
    other = exported["other_head"][0]
    shutil.copy(other, tmp_path / "bark.head.tflite")
    shutil.copy(other.with_suffix(".json"), tmp_path / "bark.head.json")
    with pytest.raises(SignatureError, match="the head was replaced"):
        load_signature(path, exported["embedding"])


def test_an_embedding_model_is_not_a_head(tmp_path, exported):
    emb = exported["embedding"]
    shutil.copy(emb.path, tmp_path / "bark.head.tflite")
    shutil.copy(emb.path.with_suffix(".json"), tmp_path / "bark.head.json")
    data = SignatureData(
        name="bark",
        scorer="binary",
        model_sha256=emb.sha256,
        feature_spec=SPEC.to_dict(),
        params={"model_file": "bark.head.tflite", "model_file_sha256": emb.sha256},
        threshold=0.5,
        calibration=IDENTITY,
    )
    path = write_signature(tmp_path / "bark.sig", data)
    with pytest.raises(SignatureError, match="is of kind embedding; expected kind binary"):
        load_signature(path, emb)


def test_missing_head_is_reported_and_others_load(tmp_path, exported):
    _binary_signature(tmp_path, exported["head"][0], name="bark")
    _binary_signature(tmp_path, exported["head"][0], name="hum")
    (tmp_path / "hum.head.tflite").unlink()
    good, bad = load_signatures(tmp_path, exported["embedding"])
    assert list(good) == ["bark"]
    assert list(bad) == [str(tmp_path / "hum.sig")]
    assert "cannot load its head model" in bad[str(tmp_path / "hum.sig")]


@pytest.mark.parametrize(
    "model_file", ["../bark.head.tflite", "/tmp/bark.head.tflite", "sub/bark.tflite", "x.json"]
)
def test_head_file_must_be_a_tflite_beside_the_signature(tmp_path, model_file):
    data = SignatureData(
        name="bark",
        scorer="binary",
        model_sha256="a" * 64,
        feature_spec=SPEC.to_dict(),
        params={"model_file": model_file, "model_file_sha256": "a" * 64},
        threshold=0.5,
        calibration=IDENTITY,
    )
    with pytest.raises(SignatureError, match="params.model_file: .*beside the signature"):
        write_signature(tmp_path / "bark.sig", data)
