"""`trainer enroll` with the shipped general model: the signature finds its target in noise; bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from detector.models import load_model
from detector.signatures import load_signature, read_signature
from trainer.data.backgrounds import make_background
from trainer.enroll import EnrollOptions, enroll, window_embeddings
from trainer.errors import DataError

MODEL = Path(__file__).resolve().parents[2] / "models" / "general.tflite"
SR = 16000


def two_tone_alarm(seconds: float, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """A beeping alarm (1 kHz / 1.5 kHz alternating) with a little variation per rendition."""
    t = np.arange(int(seconds * sr)) / sr
    step = rng.uniform(0.22, 0.28)
    f = np.where((t // step) % 2 == 0, 1000.0, 1500.0) * rng.uniform(0.98, 1.02)
    return (0.4 * np.sin(2 * np.pi * np.cumsum(f) / sr)).astype(np.float32)


def write(path: Path, x: np.ndarray, sr: int = SR) -> Path:
    sf.write(path, x, sr, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    """Three shots of the target, 6 minutes of site background, and held-back test audio."""
    d = tmp_path_factory.mktemp("site")
    rng = np.random.default_rng(1)
    shots = [write(d / f"shot{i}.wav", two_tone_alarm(1.5, rng)) for i in range(3)]
    beds = [
        make_background(k, 120.0, SR, np.random.default_rng(i))
        for i, k in enumerate(("traffic", "rain", "crowd"))
    ]
    background = [write(d / f"bg{i}.wav", b) for i, b in enumerate(beds)]
    test_bed = make_background("traffic", 60.0, SR, np.random.default_rng(99))
    targets = []
    for _ in range(8):  # new renditions of the target, 6 dB over a bed the enrollment never saw
        x = test_bed[: 2 * SR].copy()
        alarm = two_tone_alarm(1.5, rng)
        gain = np.sqrt(np.mean(x**2) * 10 ** (6 / 10) / np.mean(alarm**2))
        x[8000 : 8000 + len(alarm)] += gain * alarm
        targets.append(x)
    return {"dir": d, "shots": shots, "background": background, "test_bed": test_bed, "targets": targets}


@pytest.mark.parametrize("scorer", ["prototype", "ocsvm", "gmm", "iforest"])
def test_enrolled_signature_detects_its_target_in_noise(site: dict, tmp_path: Path, scorer: str) -> None:
    summary = enroll(
        "alarm",
        site["shots"],
        MODEL,
        tmp_path,
        EnrollOptions(scorer=scorer, fa_per_hour=20.0),
        site["background"],
    )
    assert summary["clips"] == 3 and summary["patches_in_noise"] > 0
    assert summary["fa_per_hour_on_background"] <= 20.0
    data = read_signature(tmp_path / "alarm.sig")
    assert data.scorer == scorer and data.name == "alarm"
    model = load_model(MODEL)
    signature = load_signature(tmp_path / "alarm.sig", model)
    target_scores = [signature.score(window_embeddings(model, x)).max() for x in site["targets"]]
    background_scores = signature.score(window_embeddings(model, site["test_bed"]))
    hits = np.mean(np.asarray(target_scores) >= signature.threshold)
    false_windows = np.mean(background_scores >= signature.threshold)
    assert hits >= 0.75, (scorer, target_scores, signature.threshold)
    assert false_windows <= 0.02, (scorer, false_windows)


def test_bad_shots_are_refused_clearly(site: dict, tmp_path: Path) -> None:
    silent = write(tmp_path / "silent.wav", np.zeros(SR, np.float32))
    tiny = write(tmp_path / "tiny.wav", two_tone_alarm(0.02, np.random.default_rng(0)))
    with pytest.raises(DataError, match="silent"):
        enroll(
            "x",
            [silent],
            MODEL,
            tmp_path,
            background_files=site["background"],
            options=EnrollOptions(fa_per_hour=20),
        )
    with pytest.raises(DataError, match="too short"):
        enroll(
            "x",
            [tiny],
            MODEL,
            tmp_path,
            background_files=site["background"],
            options=EnrollOptions(fa_per_hour=20),
        )
    with pytest.raises(DataError, match="needs at least 10.00 h of background"):
        enroll("x", site["shots"], MODEL, tmp_path, EnrollOptions(fa_per_hour=0.1), site["background"])
    assert not list(tmp_path.glob("*.sig"))


def test_other_rates_are_resampled(site: dict, tmp_path: Path) -> None:
    shot = write(tmp_path / "44k.wav", two_tone_alarm(1.5, np.random.default_rng(5), sr=44100), sr=44100)
    summary = enroll("alarm44", [shot], MODEL, tmp_path, EnrollOptions(fa_per_hour=20.0), site["background"])
    assert summary["clip_seconds"] == [1.5]


def test_cli_refuses_bad_names_without_traceback(site: dict, tmp_path: Path) -> None:
    for bad in ("../x", "a/b", "a\nb", ""):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "trainer",
                "enroll",
                bad,
                str(site["shots"][0]),
                "--model",
                str(MODEL),
                "--out",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, (bad, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.sig"))


@pytest.mark.slow
def test_builtin_background_supports_one_false_alarm_per_hour(site: dict, tmp_path: Path) -> None:
    summary = enroll("alarm", site["shots"], MODEL, tmp_path, EnrollOptions(fa_per_hour=1.0))
    assert summary["background_hours"] >= 1.0
    assert summary["fa_per_hour_on_background"] <= 1.0
