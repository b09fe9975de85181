"""The few-shot detection benchmark: event matching (IoU / onset rule, one-to-one), metrics, a smoke run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "enrollment.py"


def test_iou_and_the_match_rule(bench: ModuleType) -> None:
    assert bench.iou((0.0, 1.0), (0.0, 1.0)) == 1.0
    assert bench.iou((0.0, 1.0), (1.0, 2.0)) == 0.0  # touching is not overlapping
    assert bench.iou((0.0, 1.0), (0.5, 1.5)) == pytest.approx(1 / 3)
    truth = (10.0, 11.0)
    assert bench.is_match((10.0, 11.0), truth)
    assert bench.is_match((10.4, 13.0), truth)  # IoU 0.2 but the start is 0.4 s after the onset
    assert bench.is_match((9.6, 10.3), truth)  # starts 0.4 s early
    assert bench.is_match((10.6, 11.2), truth)  # 0.6 s late, but IoU 0.4/1.2 = 0.33
    assert not bench.is_match((10.6, 14.0), truth)  # 0.6 s late and IoU 0.4/4.0
    assert not bench.is_match((8.0, 9.4), truth)  # before it, no overlap
    assert not bench.is_match((9.0, 10.2), truth)  # IoU 0.2/2.0, start 1 s early
    assert bench.is_match((0.0, 10.0), (2.0, 5.0))  # IoU 3/10 = 0.3 exactly, start 2 s early: a match
    assert not bench.is_match((0.0, 10.1), (2.0, 5.0))  # IoU just below 0.3


def test_matching_is_one_to_one_and_maximum(bench: ModuleType) -> None:
    truth = [(10.0, 11.0), (12.0, 13.0)]
    # two detections of one sound: one hit, one false alarm
    assert bench.match_events([(10.0, 11.0), (10.2, 11.1)], truth[:1]) == [(0, 0)]
    # one long detection over both sounds (IoU 1/3 with each) matches only one of them
    assert len(bench.match_events([(10.0, 13.0)], truth)) == 1
    # greedy matching (by detection, or by best IoU first) pairs detection 0 with the first sound and
    # leaves detection 1 without one; the maximum matching finds two hits
    truth = [(10.0, 11.0), (11.0, 12.0)]
    dets = [(10.0, 11.9), (10.3, 10.6)]
    assert bench.iou(dets[0], truth[0]) > max(bench.iou(dets[0], truth[1]), bench.iou(dets[1], truth[0]))
    assert bench.is_match(dets[0], truth[0]) and bench.is_match(dets[0], truth[1])
    assert bench.is_match(dets[1], truth[0]) and not bench.is_match(dets[1], truth[1])
    assert bench.match_events(dets, truth) == [(0, 1), (1, 0)]
    # among equally many matches, the larger total IoU wins
    assert bench.match_events([(10.0, 11.0), (10.1, 11.0)], [(10.05, 11.0)]) in ([(0, 0)], [(1, 0)])
    assert bench.match_events([], truth) == [] and bench.match_events(dets, []) == []


def test_evaluate_counts_hits_by_snr_false_alarms_by_source_and_skips_the_lead_in(bench: ModuleType) -> None:
    P = bench.Placed
    events = [
        P(70.0, 71.0, "dog", "target", 0.0),
        P(80.0, 81.0, "dog", "target", 20.0),
        P(90.0, 91.0, "dog", "target", 20.0),
        P(100.0, 100.5, "synthetic:whistle", "synthetic", 6.0),
        P(110.0, 110.5, "cat", "held-out", 6.0),
    ]
    detections = [
        (30.0, 31.0),  # in the lead-in: not scored
        (70.2, 71.5),  # hit (0 dB)
        (70.4, 71.2),  # second detection of the same event: a false alarm (duplicate)
        (90.1, 90.9),  # hit (20 dB)
        (100.1, 100.6),  # false alarm on the whistle
        (120.0, 121.0),  # false alarm on the bed alone
    ]
    counts = bench.evaluate(detections, events, "dog", 60.0, 360.0)
    assert (counts.tp, counts.fp, counts.fn) == (2, 3, 1)
    assert counts.recall_at(0.0) == 1.0 and counts.recall_at(20.0) == 0.5 and counts.recall_at(6.0) is None
    assert counts.fp_by_source == {"duplicate": 1, "synthetic": 1, "bed": 1}
    assert counts.fa_per_hour == pytest.approx(3 * 3600 / 300)
    assert counts.precision == pytest.approx(2 / 5) and counts.recall == pytest.approx(2 / 3)
    assert counts.f1 == pytest.approx(2 * 2 / (2 * 2 + 3 + 1))
    # the same stream for another target: every detection is a false alarm, every dog a distractor
    other = bench.evaluate(detections, events, "cat", 60.0, 360.0)
    assert other.tp == 0 and other.fn == 0 and other.fp == 5 and other.fp_by_source["target"] == 3
    # summing signatures: counts and hours add up, rates follow
    total = bench.Counts().add(counts).add(other)
    assert (total.tp, total.fp, total.fn) == (2, 8, 1) and total.seconds == 600.0
    assert total.fa_per_hour == pytest.approx(8 * 6.0)
    assert total.to_dict()["recall_by_snr_db"] == {"0": 1.0, "20": 0.5}


def test_empty_counts_and_fa_per_hour(bench: ModuleType) -> None:
    empty = bench.Counts()
    assert empty.precision == 1.0 and empty.recall == 1.0 and empty.f1 == 1.0 and empty.fa_per_hour == 0.0
    assert bench.fa_per_hour(1, 1800.0) == 2.0 and bench.fa_per_hour(5, 0.0) == 0.0
    none_found = bench.Counts(tp=0, fp=0, fn=4, seconds=300.0)
    assert none_found.f1 == 0.0 and math.isfinite(none_found.precision)


def test_events_land_in_their_slots_at_their_snr(bench: ModuleType) -> None:
    from trainer.data.augment import active_power

    sr = 16000
    rng = np.random.default_rng(0)
    bed = (0.01 * rng.standard_normal(60 * sr)).astype(np.float32)
    tone = np.sin(2 * np.pi * 1000 * np.arange(sr // 2) / sr).astype(np.float32)
    items = [("target", "tone", tone, 12.0), ("synthetic", "tone2", tone, 0.0), ("target", "tone", tone, 6.0)]
    mixed = bed.copy()
    placed = bench.place_events(mixed, items, 10.0, sr, np.random.default_rng(1))
    assert len(placed) == 3 and all(10.0 < e.start < e.end <= 60.0 for e in placed)
    assert all(b.start >= a.end + 1.0 for a, b in zip(placed, placed[1:], strict=False))  # no overlap
    for event in placed:
        a, b = round(event.start * sr), round(event.end * sr)
        added = mixed[a:b].astype(np.float64) - bed[a:b]
        snr = 10 * np.log10(active_power(added) / np.mean(bed[a:b].astype(np.float64) ** 2))
        assert snr == pytest.approx(event.snr_db, abs=0.5)


def _alarm(seconds: float, rng: np.random.Generator, sr: int = 16000) -> np.ndarray:
    """A two-tone alarm (1 kHz / 1.5 kHz alternating), a little different each time."""
    t = np.arange(int(seconds * sr)) / sr
    f = np.where((t // rng.uniform(0.22, 0.28)) % 2 == 0, 1000.0, 1500.0) * rng.uniform(0.98, 1.02)
    return (0.4 * np.sin(2 * np.pi * np.cumsum(f) / sr)).astype(np.float32)


def _whistle(seconds: float, rng: np.random.Generator, sr: int = 16000) -> np.ndarray:
    """A rising whistle through the alarm's band (the distractor of the issue's example)."""
    f = np.linspace(rng.uniform(800, 1100), rng.uniform(1500, 2200), int(seconds * sr))
    return (0.4 * np.sin(2 * np.pi * np.cumsum(f) / sr)).astype(np.float32)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_an_enrolled_alarm_fires_on_alarms_not_on_whistles(bench: ModuleType, tmp_path: Path) -> None:
    """Prototype enrollment with the built-in background: before the distractor events were part of it,
    the alarm's threshold (calibrated 1.0) still fired on 8 of these 9 whistles."""
    import soundfile as sf

    from detector.models import load_model
    from detector.signatures import load_signature
    from trainer.data.backgrounds import add_event, make_background
    from trainer.enroll import EnrollOptions, enroll, run_levels, window_embeddings

    sr, rng = 16000, np.random.default_rng(1)
    shots = []
    for i in range(3):
        sf.write(tmp_path / f"shot{i}.wav", _alarm(1.5, rng), sr)
        shots.append(tmp_path / f"shot{i}.wav")
    summary = enroll("alarm", shots, bench.MODEL_PATH, tmp_path, EnrollOptions(scorer="prototype"))
    assert summary["distractor_events"] > 1000 and summary["fa_per_hour_expected"] <= 1.0
    model = load_model(bench.MODEL_PATH)
    signature = load_signature(tmp_path / "alarm.sig", model)
    bed = make_background("traffic", 4.0, sr, np.random.default_rng(99))

    def fires(sound: np.ndarray, snr_db: float) -> bool:
        x = bed.copy()
        add_event(x, sound, sr, snr_db)
        scores = signature.score(window_embeddings(model, x))
        return bool(run_levels(scores, np.zeros(len(scores), int), 2).max() >= signature.threshold)

    alarms = [fires(_alarm(1.5, rng), snr) for snr in (6.0, 12.0, 20.0) for _ in range(3)]
    whistles = [fires(_whistle(1.2, rng), snr) for snr in (6.0, 12.0, 20.0) for _ in range(3)]
    assert sum(alarms) >= 8, alarms
    assert sum(whistles) <= 3, whistles


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_quick_run_smoke(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "enrollment.json"
    assert bench.main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert len(report["targets"]) == 2
    held_out = set(bench.held_out_classes(bench.MODEL_PATH))
    assert set(report["targets"]) <= held_out
    assert not held_out & set(report["distractor_pool"]["held_out_classes"]) & set(report["targets"])
    for mode in ("fixed", "adaptive"):
        for scorer in bench.SCORERS:
            scenes = report["results"][mode][scorer]["scenes"]
            background = report["results"][mode][scorer]["background"]
            assert scenes["tp"] + scenes["fn"] == 2 * bench.TARGETS_PER_SNR * len(bench.SNRS_DB)
            assert 0.0 <= scenes["f1"] <= 1.0 and background["tp"] == 0 and background["fn"] == 0
            assert background["hours"] == pytest.approx(2 * 300 / 3600, rel=1e-3)
    assert report["reference_f1"] and report["wall_seconds"] > 0
