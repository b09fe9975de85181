"""`trainer enroll --scorer binary`: a per-target Spec-CNN head on lowband patches, loaded by the daemon."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("tensorflow")

from detector.models import load_model  # noqa: E402
from detector.signatures import SignatureError, load_signature, read_signature  # noqa: E402
from trainer.cli import build_parser  # noqa: E402
from trainer.data.augment import mix_at_snr  # noqa: E402
from trainer.data.backgrounds import make_background  # noqa: E402
from trainer.data.lowfeature import Signature, render  # noqa: E402
from trainer.data.patches import clip_patches  # noqa: E402
from trainer.enroll import EnrollOptions, enroll  # noqa: E402
from trainer.errors import TrainerError  # noqa: E402

MODEL = Path(__file__).resolve().parents[2] / "models" / "lowband.tflite"  # the sonar-like profile
SR = 44100  # the lowband profile's rate
TARGET = Signature("hum", (180.0, 410.0, 655.0), (0.0, -3.0, -6.0), drift_hz=1.0)
OTHER = Signature("whine", (240.0, 520.0, 830.0), (0.0, -2.0, -4.0), drift_hz=1.0)  # another tonal source
FA_PER_HOUR = 20.0


def write(path: Path, x: np.ndarray) -> Path:
    sf.write(path, x, SR, subtype="FLOAT")
    return path


def in_bed(
    signature: Signature, bed: np.ndarray, snr_db: float, seed: int, seconds: float = 5.0
) -> np.ndarray:
    """A new rendition of ``signature`` mixed into ``bed`` (its first ``seconds``) at ``snr_db``."""
    tones = render(signature, seconds, 10.0, np.random.default_rng(seed))
    return mix_at_snr(tones, bed[: len(tones)], snr_db, np.random.default_rng(seed + 1))


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory) -> dict:
    """Three shots of the target, one of another tonal source, 6 min of site background; one enrollment."""
    d = tmp_path_factory.mktemp("site")
    rng = np.random.default_rng(1)
    shots = [write(d / f"shot{i}.wav", render(TARGET, 3.0, 0.0, rng)) for i in range(3)]
    other = [write(d / "other.wav", render(OTHER, 3.0, 0.0, rng))]
    background = [
        write(d / f"bg{i}.wav", make_background(kind, 120.0, SR, np.random.default_rng(i)))
        for i, kind in enumerate(("machinery", "rain", "pink"))
    ]
    out = d / "signatures"
    options = EnrollOptions(scorer="binary", fa_per_hour=FA_PER_HOUR, binary_epochs=4)
    summary = enroll("hum", shots, MODEL, out, options, background, negative_files=other)
    return {"dir": d, "out": out, "summary": summary}


def test_binary_signature_finds_its_target_and_not_the_background(enrolled: dict) -> None:
    out, summary = enrolled["out"], enrolled["summary"]
    assert (out / "hum.binary.tflite").is_file() and (out / "hum.binary.json").is_file()
    data = read_signature(out / "hum.sig")
    head = load_model(out / "hum.binary.tflite")
    assert data.scorer == "binary" and head.kind == "binary"
    assert data.params == {"model_file": "hum.binary.tflite", "model_file_sha256": head.sha256}
    assert data.model_sha256 == head.sha256
    for key in ("clips", "patches_clean", "patches_in_noise", "self_similarity", "threshold", "background"):
        assert key in summary  # the same enrollment summary as the embedding scorers
    assert summary["clips"] == 3 and summary["negative_clips"] == 1
    assert summary["head"]["other_class_patches"] > 0
    assert summary["fa_per_hour_on_background"] <= FA_PER_HOUR
    assert summary["background_hours"] == pytest.approx(0.075, abs=1e-3)  # 75 % held out of 6 min

    model = load_model(MODEL)
    signature = load_signature(out / "hum.sig", model)
    assert signature.needs_patches and signature.threshold >= 0.5
    spec = model.spec
    test_bed = make_background("machinery", 40.0, SR, np.random.default_rng(99))  # never enrolled on
    target = np.concatenate(
        [clip_patches(in_bed(TARGET, test_bed[k * 6 * SR :], 6.0, 100 + k), spec) for k in range(5)]
    )
    bed_only = np.concatenate(
        [
            clip_patches(make_background(kind, 30.0, SR, np.random.default_rng(50 + i)), spec)
            for i, kind in enumerate(("machinery", "rain", "brown"))
        ]
    )
    other = np.concatenate(
        [clip_patches(in_bed(OTHER, test_bed[k * 6 * SR :], 6.0, 200 + k), spec) for k in range(3)]
    )
    hit = np.mean(signature.score_patches(target) >= signature.threshold)
    false_bed = np.mean(signature.score_patches(bed_only) >= signature.threshold)
    false_other = np.mean(signature.score_patches(other) >= signature.threshold)
    assert hit >= 0.8, hit
    assert false_bed <= 0.05, false_bed
    assert false_other <= 0.2, false_other
    assert hit > false_bed + 0.5 and hit > false_other + 0.5


def test_a_tampered_head_is_refused(enrolled: dict, tmp_path: Path) -> None:
    for name in ("hum.sig", "hum.binary.tflite", "hum.binary.json"):
        shutil.copy(enrolled["out"] / name, tmp_path / name)
    model = load_model(MODEL)
    assert load_signature(tmp_path / "hum.sig", model).head.kind == "binary"  # intact: loads
    head = tmp_path / "hum.binary.tflite"
    content = bytearray(head.read_bytes())
    content[len(content) // 2] ^= 0xFF  # one weight byte flipped
    head.write_bytes(bytes(content))
    with pytest.raises(SignatureError, match="cannot load its head model.*sha256"):
        load_signature(tmp_path / "hum.sig", model)
    # the sidecar rewritten to match the new bytes: the model loads, the signature still refuses it
    sidecar = tmp_path / "hum.binary.json"
    info = json.loads(sidecar.read_text())
    info["sha256"] = hashlib.sha256(bytes(content)).hexdigest()
    sidecar.write_text(json.dumps(info))
    assert load_model(head).sha256 == info["sha256"]
    with pytest.raises(SignatureError, match="the head was replaced; re-create the signature"):
        load_signature(tmp_path / "hum.sig", model)


def test_binary_options_are_checked_before_any_work(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["enroll", "hum", "a.wav", "--model", str(MODEL), "--out", str(tmp_path), "--scorer", "binary"]
    )
    assert args.scorer == "binary"
    with pytest.raises(TrainerError, match="binary only"):
        enroll("hum", ["a.wav"], MODEL, tmp_path, EnrollOptions(scorer="ocsvm"), negative_files=["b.wav"])
    with pytest.raises(TrainerError, match="expected one of .*binary"):
        enroll("hum", ["a.wav"], MODEL, tmp_path, EnrollOptions(scorer="svm"))
    assert not list(tmp_path.iterdir())
