"""Detector with the shipped general model and real signature files: samples in, events out."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from detector.config import load_config
from detector.detection import Detector
from detector.features import extract
from detector.models import Model, load_model
from detector.signatures import SignatureData, load_signature, write_signature

MODELS = Path(__file__).resolve().parents[2] / "models"
SR = 16000


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model(MODELS / "general.tflite")


def alarm(seconds: float, f0: float = 1000.0) -> np.ndarray:
    """A two-tone alarm (f0 / 1.5 f0, 0.25 s each)."""
    t = np.arange(int(seconds * SR)) / SR
    freq = np.where((t // 0.25) % 2 == 0, f0, 1.5 * f0)
    return 0.3 * np.sin(2 * np.pi * np.cumsum(freq) / SR)


def scene(seed: int = 0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """20 s of noise with alarms at 4-6 s and 12-13.5 s."""
    rng = np.random.default_rng(seed)
    x = 0.01 * rng.standard_normal(20 * SR)
    truth = [(4.0, 6.0), (12.0, 13.5)]
    for a, b in truth:
        x[int(a * SR) : int(b * SR)] += alarm(b - a)
    return x.astype(np.float32), truth


def make_signature(model: Model, directory: Path, name: str = "alarm", threshold: float = 0.8) -> Path:
    """A prototype signature from the model's own embeddings of a clean alarm, written as a real .sig."""
    f = extract(model.spec, alarm(2.0).astype(np.float32))
    P = model.spec.patch_frames
    patches = np.stack([f[i : i + P] for i in range(0, len(f) - P + 1, 8)])
    emb = model.run(patches)
    proto = emb.mean(axis=0, keepdims=True)
    data = SignatureData(
        name=name,
        scorer="prototype",
        model_sha256=model.sha256,
        feature_spec=model.spec.to_dict(),
        params={"prototypes": proto.astype(np.float32)},
        threshold=threshold,
        calibration={"kind": "logistic", "a": 20.0, "b": -14.0},  # cosine 0.7 -> 0.5
        enrollment={"model": model.name, "clips": 1},
    )
    path = directory / f"{name}.sig"
    write_signature(path, data)
    return path


def settings(**events):
    det = load_config(None).detection
    return dataclasses.replace(
        det,
        adaptive=dataclasses.replace(det.adaptive, enabled=False),
        events=dataclasses.replace(det.events, **events),
    )


def run(detector: Detector, x: np.ndarray, blocks: list[int]) -> list:
    events, i = [], 0
    for n in blocks:
        events += detector.push(x[i : i + n])
        i += n
    events += detector.push(x[i:])
    return events + detector.flush()


def test_events_cover_the_true_sounds(model: Model, tmp_path: Path) -> None:
    sig = load_signature(make_signature(model, tmp_path), model)
    x, truth = scene()
    det = Detector(model, settings(), device="box", signatures={"alarm": sig})
    events = run(det, x, [1280] * (len(x) // 1280))
    ends = [e for e in events if e.state == "end"]
    assert len(ends) == len(truth), events
    for e, (a, b) in zip(ends, truth, strict=True):
        assert abs(e.start - a) < 0.5 and abs(e.end - b) < 0.5, (e, a, b)
        assert e.target == "alarm" and e.model == model.name and e.signature == sig.file_sha256[:12]
        assert e.level_dbfs > -15  # the alarm's level, not the noise's (-40 dBFS)
    assert det.stats.events == {"alarm": 2}
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_block_sizes_do_not_change_the_events(model: Model, tmp_path: Path) -> None:
    sig = load_signature(make_signature(model, tmp_path), model)
    x, _ = scene(seed=1)

    def key(events):
        return [(e.state, e.start, e.end, e.score, e.peak_score, e.level_dbfs) for e in events]

    whole = run(Detector(model, settings(), device="b", signatures={"alarm": sig}), x, [])
    rng = np.random.default_rng(5)
    sizes = list(rng.integers(1, 5000, size=400))
    pieces = run(Detector(model, settings(), device="b", signatures={"alarm": sig}), x, sizes)
    assert key(whole) and key(whole) == key(pieces)


def test_restart_after_a_gap_keeps_stream_times_exact(model: Model, tmp_path: Path) -> None:
    sig = load_signature(make_signature(model, tmp_path), model)
    x, _ = scene()
    det = Detector(model, settings(), device="b", signatures={"alarm": sig})
    reference = run(Detector(model, settings(), device="b", signatures={"alarm": sig}), x, [])
    at = 88 * 1280  # 7.04 s, on the reference's window grid (patch hop 1280 samples)
    det.restart(at)  # the stream resumes there after lost samples: feed from there
    events = run(det, x[at:], [])
    late = [(e.state, round(e.start, 4)) for e in reference if e.start > 8]
    assert late and [(e.state, round(e.start, 4)) for e in events] == late


def test_level_gate_skips_inference_in_silence(model: Model, tmp_path: Path) -> None:
    sig = load_signature(make_signature(model, tmp_path), model)
    x = np.zeros(10 * SR, np.float32)
    x[5 * SR : 7 * SR] = alarm(2.0)
    det = Detector(model, settings(), device="b", signatures={"alarm": sig})
    det.settings = dataclasses.replace(det.settings, gate_dbfs=-60.0)
    events = run(det, x, [])
    assert det.stats.windows_gated > det.stats.windows // 2
    assert det.stats.windows_gated < det.stats.windows
    assert [e.state for e in events] == ["start", "end"]


def test_hot_reload_keeps_unchanged_targets_and_ends_removed_ones(model: Model, tmp_path: Path) -> None:
    a = load_signature(make_signature(model, tmp_path, "alarm"), model)
    b = load_signature(make_signature(model, tmp_path, "siren", threshold=0.7), model)
    det = Detector(model, settings(), device="b", signatures={"alarm": a, "siren": b})
    det.push(alarm(2.0).astype(np.float32))  # both events open now
    assert det.targets["alarm"].tracker.active and det.targets["siren"].tracker.active
    kept = det.targets["alarm"]
    ended = det.set_signatures({"alarm": load_signature(tmp_path / "alarm.sig", model)})
    assert [(e.target, e.state) for e in ended] == [("siren", "end")]
    assert det.targets["alarm"] is kept and kept.tracker.active
    make_signature(model, tmp_path, "alarm", threshold=0.9)  # the file changes: a new target state
    ended = det.set_signatures({"alarm": load_signature(tmp_path / "alarm.sig", model)})
    assert [(e.target, e.state) for e in ended] == [("alarm", "end")]
    assert det.targets["alarm"].tracker.threshold == 0.9


def test_config_thresholds_override_the_signature(model: Model, tmp_path: Path) -> None:
    sig = load_signature(make_signature(model, tmp_path), model)
    det = Detector(model, settings(thresholds={"alarm": 0.99}), device="b", signatures={"alarm": sig})
    assert det.targets["alarm"].tracker.threshold == 0.99
    det = Detector(model, settings(threshold=0.3), device="b", signatures={"alarm": sig})
    assert det.targets["alarm"].tracker.threshold == 0.3


def test_a_failing_target_does_not_stop_the_others(model: Model, tmp_path: Path) -> None:
    good = load_signature(make_signature(model, tmp_path), model)
    broken = load_signature(make_signature(model, tmp_path, "broken"), model)
    broken._scorer.prototypes = np.ones((1, 3))  # a corrupted scorer: raises on every batch
    x, truth = scene()
    det = Detector(model, settings(), device="b", signatures={"alarm": good, "broken": broken})
    events = run(det, x, [])
    assert det.targets["broken"].errors > 0
    assert len([e for e in events if e.target == "alarm" and e.state == "end"]) == len(truth)


def test_ambient_adaptation_raises_the_threshold_in_a_noisy_site(model: Model, tmp_path: Path) -> None:
    # a site whose ambience (noise with short tones now and then) scores around the enrolled threshold
    rng = np.random.default_rng(3)
    x = 0.02 * rng.standard_normal(120 * SR)
    for start in rng.uniform(0, 119, size=150):
        n = int(0.3 * SR)
        i = int(start * SR)
        x[i : i + n] += 0.1 * np.sin(2 * np.pi * rng.uniform(600, 1800) * np.arange(n) / SR)
    x = x.astype(np.float32)
    probe = load_signature(make_signature(model, tmp_path), model)
    f = extract(model.spec, x)
    patches = np.stack([f[i : i + 96] for i in range(0, len(f) - 96 + 1, 8)])
    threshold = float(np.quantile(probe.score(model.run(patches)), 0.9))  # 10 % of ambient windows pass
    sig = load_signature(make_signature(model, tmp_path, threshold=round(threshold, 4)), model)
    det = settings(min_windows=1, refractory_seconds=0.0, hold_seconds=0.0)
    plain = run(Detector(model, det, device="b", signatures={"alarm": sig}), x, [])
    adaptive = dataclasses.replace(det, adaptive=dataclasses.replace(det.adaptive, enabled=True))
    adapted = run(Detector(model, adaptive, device="b", signatures={"alarm": sig}), x, [])
    warm = 600 * 0.08 + 1  # the adaptation starts after 600 ambient windows
    n_plain = sum(e.state == "start" and e.start > warm for e in plain)
    n_adapted = sum(e.state == "start" and e.start > warm for e in adapted)
    n_early = sum(e.state == "start" and e.start < warm - 2 for e in adapted)
    assert n_plain >= 20, "the scene should keep firing the fixed threshold"
    assert n_adapted <= n_plain / 2  # the threshold followed the ambience
    assert n_early > 0  # while warming up, the signature's own threshold applies
