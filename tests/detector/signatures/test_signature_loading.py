"""`load_signature(s)` against the shipped models: model/FeatureSpec checks by name, and bad files skipped."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from detector.signatures import Signature, SignatureError, load_signature, load_signatures, write_signature


def test_package_does_not_import_training_libraries():
    code = (
        "import sys, detector.signatures\n"
        "heavy = {'sklearn', 'tensorflow', 'keras', 'trainer'}\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & heavy)\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3])


def test_load_and_score_real_embeddings(tmp_path, general, make_data):
    rng = np.random.default_rng(0)
    patches = rng.normal(-3.0, 1.0, (6, general.spec.patch_frames, general.spec.n_bands)).astype(np.float32)
    embeddings = general.run(patches)
    data = make_data(params={"prototypes": embeddings[:2]})  # enrolled from patches 0 and 1
    sig = load_signature(write_signature(tmp_path / "dog.sig", data), general)
    assert isinstance(sig, Signature) and sig.name == "dog" and sig.scorer_kind == "prototype"
    assert (
        sig.threshold == 0.8
        and not sig.needs_patches
        and sig.head is None
        and sig.path == tmp_path / "dog.sig"
    )
    raw = sig.raw(embeddings)
    scores = sig.score(embeddings)
    assert scores.shape == (6,) and scores.dtype == np.float64 and ((scores >= 0) & (scores <= 1)).all()
    np.testing.assert_allclose(raw[:2], 1.0, atol=1e-5)  # its own prototypes: cosine 1
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-(8 * raw - 4))), atol=1e-12)
    with pytest.raises(SignatureError, match="scores the shared embedding, not patches"):
        sig.score_patches(patches)
    with pytest.raises(SignatureError, match=r"'dog': embeddings of shape \[6, 32\]; expected \(n, 64\)"):
        sig.score(embeddings[:, :32])


def test_made_with_another_model_is_refused_by_name(tmp_path, general, make_data):
    path = write_signature(tmp_path / "dog.sig", make_data(model_sha256="ab" * 32))
    with pytest.raises(SignatureError) as info:
        load_signature(path, general)
    message = str(info.value)
    assert str(path) in message and "signature 'dog'" in message
    assert "made with model 'general' (sha256 abababababab)" in message  # the name recorded at enrollment
    assert f"not with model 'general' (sha256 {general.sha256[:12]})" in message
    assert message.endswith("re-enroll 'dog' with this model")


def test_made_for_another_feature_spec_is_refused_by_name(tmp_path, general, make_data):
    spec = dataclasses.replace(general.spec, n_bands=32, patch_frames=48).to_dict()
    path = write_signature(tmp_path / "dog.sig", make_data(feature_spec=spec))
    with pytest.raises(SignatureError, match=r"signature 'dog' was made for another feature spec") as info:
        load_signature(path, general)
    assert "n_bands 32 vs 64" in str(info.value) and "patch_frames 48 vs 96" in str(info.value)
    assert "re-enroll 'dog'" in str(info.value)


def test_the_other_shipped_model_refuses_it(tmp_path, general, lowband, make_data):
    path = write_signature(tmp_path / "dog.sig", make_data())
    with pytest.raises(
        SignatureError, match="not with model 'lowband'.*; and was made for another feature spec"
    ):
        load_signature(path, lowband)


def test_wrong_embedding_size_is_refused(tmp_path, general, make_data, unit_rows):
    path = write_signature(tmp_path / "dog.sig", make_data(params={"prototypes": unit_rows(2, 32, 0)}))
    with pytest.raises(SignatureError, match="32-dimensional embeddings, but model 'general'.* outputs 64"):
        load_signature(path, general)


def test_a_classifier_model_cannot_score_embedding_signatures(tmp_path, general, make_data):
    path = write_signature(tmp_path / "dog.sig", make_data())
    classifier = SimpleNamespace(
        name="cls", kind="classifier", sha256=general.sha256, spec=general.spec, output_dim=64, path=None
    )
    with pytest.raises(SignatureError, match="scores embeddings, but model 'cls'.* is of kind classifier"):
        load_signature(path, classifier)


def test_load_signatures_keeps_the_good_and_reports_the_bad(tmp_path, general, make_data):
    for name in ("bark", "doorbell", "kettle"):
        write_signature(tmp_path / f"{name}.sig", make_data(name))
    truncated = write_signature(tmp_path / "truncated.sig", make_data("truncated"))
    truncated.write_bytes(truncated.read_bytes()[:300])
    tampered = write_signature(tmp_path / "tampered.sig", make_data("tampered"))
    tampered.write_text(tampered.read_text().replace('"threshold": 0.8', '"threshold": 0.1'))
    (tmp_path / "foreign.sig").write_text(json.dumps({"name": "general", "kind": "embedding"}))
    write_signature(tmp_path / "other_model.sig", make_data("other", model_sha256="cd" * 32))
    write_signature(tmp_path / "zz_duplicate.sig", make_data("bark"))
    (tmp_path / "notes.txt").write_text("not a signature")  # other files are not looked at
    (tmp_path / ".kettle.sig.123.tmp").write_text("{")  # an unfinished atomic write
    good, bad = load_signatures(tmp_path, general)
    assert sorted(good) == ["bark", "doorbell", "kettle"]
    assert all(isinstance(s, Signature) for s in good.values())
    assert good["bark"].path.name == "bark.sig"  # the first file in name order wins
    reasons = {Path(k).name: v for k, v in bad.items()}
    assert sorted(reasons) == [
        "foreign.sig",
        "other_model.sig",
        "tampered.sig",
        "truncated.sig",
        "zz_duplicate.sig",
    ]
    assert "not valid JSON" in reasons["truncated.sig"]
    assert "checksum mismatch" in reasons["tampered.sig"]
    assert "not a sigdetect signature" in reasons["foreign.sig"]
    assert "re-enroll 'other'" in reasons["other_model.sig"]
    assert "already loaded from bark.sig" in reasons["zz_duplicate.sig"]
    assert all(k.startswith(str(tmp_path)) for k in bad)


def test_load_signatures_of_a_missing_directory(tmp_path, general):
    with pytest.raises(SignatureError, match="signatures directory not found"):
        load_signatures(tmp_path / "nope", general)
    assert load_signatures(tmp_path, general) == ({}, {})
