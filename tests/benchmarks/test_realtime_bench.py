"""The realtime benchmark: its helpers (percentiles, ring-entry times, latencies, RSS) and a --quick run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "realtime.py"
RATE = 16000


def test_percentiles_interpolate_between_ranks_like_numpy(bench: ModuleType) -> None:
    p = bench.percentiles(list(range(100, 0, -1)))  # 100..1, unsorted on purpose
    assert p["n"] == 100 and p["max"] == 100
    assert p["p50"] == pytest.approx(50.5)
    assert p["p95"] == pytest.approx(95.05)
    assert p["p99"] == pytest.approx(99.01)
    assert bench.percentiles([7.0]) == {"n": 1, "p50": 7.0, "p95": 7.0, "p99": 7.0, "max": 7.0}
    assert bench.percentiles([]) == {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    assert bench.quantile([0.0, 10.0], 0.25) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        bench.quantile([1.0], 1.5)


def test_window_last_sample_inverts_the_detectors_end_time(bench: ModuleType) -> None:
    span = 95 * 160 + 512  # general profile: (patch_frames - 1) * hop + n_fft samples
    for start in (0, 1280, 1280 * 777, 1280 * 10**5):
        end_s = (start + span) / RATE
        assert bench.window_last_sample(end_s, RATE) == start + span - 1


def test_entry_times_take_the_first_write_that_passed_the_sample(bench: ModuleType) -> None:
    log = [(10.0, 1600), (10.1, 3200), (10.25, 4800)]
    got = bench.entry_times(log, [0, 1599, 1600, 3199, 3200, 4799, 4800])
    assert got == [10.0, 10.0, 10.1, 10.1, 10.25, 10.25, None]
    # a write that stored nothing new (offered unchanged) does not count as the sample's entry
    assert bench.entry_times([(1.0, 100), (2.0, 100), (3.0, 200)], [99, 100]) == [1.0, 3.0]
    with pytest.raises(ValueError):
        bench.entry_times([(1.0, 200), (2.0, 100)], [0])


def test_schedule_of_the_realtime_file_source(bench: ModuleType) -> None:
    t0, block, total = 100.0, 1600, 4000  # the last block is short (800 frames)
    assert bench.schedule_entry_time(t0, 0, block, RATE, total) == pytest.approx(100.1)
    assert bench.schedule_entry_time(t0, 1599, block, RATE, total) == pytest.approx(100.1)
    assert bench.schedule_entry_time(t0, 1600, block, RATE, total) == pytest.approx(100.2)
    assert bench.schedule_entry_time(t0, 3999, block, RATE, total) == pytest.approx(100.25)
    with pytest.raises(ValueError):
        bench.schedule_entry_time(t0, 4000, block, RATE, total)


def test_pacing_jitter_is_relative_to_the_most_punctual_write(bench: ModuleType) -> None:
    log = [(5.1 + 0.003, 1600), (5.2 + 0.001, 3200), (5.3 + 0.011, 4800)]
    jitter = bench.pacing_jitter(log, RATE)
    assert jitter == pytest.approx([0.002, 0.0, 0.010])
    assert bench.pacing_jitter([], RATE) == []


def test_message_latencies_from_a_record(bench: ModuleType) -> None:
    span = 95 * 160 + 512
    # window A ends in the first block (last sample 15711 < 16000), window B in the second
    end_a, end_b = span / RATE, (1280 * 2 + span) / RATE
    record = {
        "ring_writes": [[50.0, 16000], [50.1, 19200], [50.2, 20800]],
        "decided": [[1, end_a], [2, end_b], [3, end_b]],
        "handed": [[1, 50.004], [2, 50.112], [3, 50.112], [4, 50.3]],  # seq 4: ended by the stream's end
        "spooled": [[1, 50.006], [2, 50.115]],
    }
    arrivals = {1: 50.010, 3: 50.130}
    lat = bench.message_latencies(record, arrivals, RATE)
    assert lat["inside"] == pytest.approx([4.0, 12.0, 12.0])
    assert lat["spooled"] == pytest.approx([6.0, 15.0])
    assert lat["e2e"] == pytest.approx([10.0, 30.0])
    assert lat["not_arrived"] == [2]
    assert lat["flushed"] == 1 and lat["not_in_ring"] == 0


def test_message_latencies_count_windows_never_seen_in_the_ring(bench: ModuleType) -> None:
    record = {"ring_writes": [[1.0, 1600]], "decided": [[1, 5.0]], "handed": [[1, 6.0]], "spooled": []}
    lat = bench.message_latencies(record, {}, RATE)
    assert lat["not_in_ring"] == 1 and lat["inside"] == []


def test_parse_status_kb(bench: ModuleType) -> None:
    status = "Name:\tpython\nVmPeak:\t  300000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t   99999 kB\nThreads:\t4\n"
    assert bench.parse_status_kb(status) == 123456
    assert bench.parse_status_kb(status, "VmRSS") == 99999
    assert bench.parse_status_kb("Name:\tx\n") is None
    with pytest.raises(ValueError):
        bench.parse_status_kb("VmHWM:\t12 MB\n")


def test_goals_pass_fail_and_not_measured(bench: ModuleType) -> None:
    goals = bench.evaluate_goals(100.0, 30.0, 20.0, 10.0, 25.0, 110.0)
    assert [g.met for g in goals] == [True, True, False, True]
    assert goals[0].value == pytest.approx(5.0) and goals[1].value == pytest.approx(3.0)
    assert "PASS" in goals[0].line() and "FAIL" in goals[2].line()
    missing = bench.evaluate_goals(100.0, 30.0, None, 0.0, None, 130.0)
    assert [g.met for g in missing] == [None, None, None, False]
    assert "not measured" in missing[0].line()


def test_summarise_keeps_every_round_and_ignores_failed_ones(bench: ModuleType) -> None:
    s = bench.summarise([3.0, None, 1.0, 2.0], max)
    assert s == {"best": 3.0, "median": 2.0, "all": [3.0, None, 1.0, 2.0]}
    assert bench.summarise([3.0, 1.0], min, "max")["max"] == 1.0
    assert bench.summarise([], max)["best"] is None


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_quick_run_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "realtime.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "goals:" in proc.stdout
    results = json.loads(out.read_text())
    for n in ("1", "10", "100"):
        fast = results["sigdetect"]["fast"][n]
        assert not fast["errors"]
        assert fast["realtime_factor"]["best"] > 1.0
        assert 20.0 < fast["rss_mb"]["max"] < 4000.0
        assert 0.0 < fast["startup_s"]["best"] < 120.0
    assert results["sigdetect"]["fast"]["100"]["last_round"]["signatures"] == 100
    latency = results["sigdetect"]["latency"]["100"]["latency_ms"]
    assert latency["messages"] > 0 and latency["not_arrived"] == 0
    inside, e2e = latency["inside_pipeline"], latency["at_subscriber"]
    assert inside["n"] > 0 and 0.0 < inside["p50"] <= inside["p95"] <= inside["p99"] <= inside["max"]
    assert e2e["p50"] >= inside["p50"]
    oww = results["openwakeword"]
    if oww["available"]:
        assert oww["runs"]["100"]["last_round"]["n_models"] == 100
        assert oww["runs"]["1"]["realtime_factor"]["best"] > 0.0
    else:
        assert oww["error"]  # said clearly why it could not be measured
    assert len(results["goals"]) == 4 and all(g["met"] in (True, False, None) for g in results["goals"])
