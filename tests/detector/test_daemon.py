"""The daemon end to end (`detector run` in a subprocess) with the shipped model and a real signature.

The "truth" for a run is the offline Detector on the same samples: the daemon must report exactly those
events, whichever source delivered the audio (file, PyAudio through ALSA's file plugin), and they must
cover the alarms placed in the scene.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from detector.config import load_config
from detector.detection import Detector
from detector.models import load_model
from detector.signatures import load_signatures

ROOT = Path(__file__).resolve().parents[2]
DEMO_SIGS = ROOT / "demo" / "signatures"
DETECTOR = [sys.executable, "-m", "detector"]
SR = 16000
ALARMS = [(2.0, 4.0), (7.0, 8.5)]  # seconds


def alarm(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    freq = np.where((t // 0.25) % 2 == 0, 1000.0, 1500.0)
    return 0.25 * np.sin(2 * np.pi * np.cumsum(freq) / SR)


def scene(seconds: float = 10.0, seed: int = 4) -> np.ndarray:
    """Noise with the two-tone alarm at ALARMS, as int16-exact float32."""
    rng = np.random.default_rng(seed)
    x = 0.01 * rng.standard_normal(int(seconds * SR))
    for a, b in ALARMS:
        x[int(a * SR) : int(a * SR) + int((b - a) * SR)] += alarm(b - a)
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)
    return pcm


def offline_events(samples: np.ndarray, signatures: Path) -> list[tuple]:
    """What the detector says about these samples, offline: (target, state, start, end) tuples."""
    cfg = load_config(None)
    model = load_model(ROOT / "models" / "general.tflite")
    sigs, bad = load_signatures(signatures, model)
    assert not bad
    det = Detector(model, cfg.detection, device="x", signatures=sigs)
    events = det.push(samples.astype(np.float32) / 32768) + det.flush()
    return [(e.target, e.state, e.start, e.end) for e in events]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def key(events: list[dict]) -> list[tuple]:
    return [(e["target"], e["state"], e["start"], e["end"]) for e in events]


def copy_signatures(tmp_path: Path) -> Path:
    sigs = tmp_path / "sigs"
    shutil.copytree(DEMO_SIGS, sigs)
    return sigs


def test_file_source_events_equal_the_offline_detector_and_cover_the_alarms(tmp_path: Path) -> None:
    pcm = scene()
    sf.write(tmp_path / "scene.wav", pcm, SR, subtype="PCM_16")
    sigs = copy_signatures(tmp_path)
    out = tmp_path / "events.jsonl"
    proc = subprocess.run(
        [*DETECTOR, "run", "--no-mqtt", "--source", str(tmp_path / "scene.wav"), "--signatures", str(sigs)]
        + ["--events-out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    events = read_jsonl(out)
    assert key(events) == offline_events(pcm, sigs)
    ends = [e for e in events if e["state"] == "end"]
    assert len(ends) == len(ALARMS)
    for e, (a, b) in zip(ends, ALARMS, strict=True):
        assert max(e["start"], a) < min(e["end"], b)  # overlaps the true alarm
        assert abs(e["start"] - a) < 0.6 and abs(e["end"] - b) < 0.6
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["device"] and e["wallclock"].endswith("Z") for e in events)


@pytest.mark.skipif(shutil.which("aplay") is None and not Path("/usr/share/alsa").exists(), reason="no ALSA")
def test_pyaudio_capture_gives_the_same_events(tmp_path: Path) -> None:
    pytest.importorskip("pyaudio")
    pcm = scene()
    raw = np.concatenate([pcm, np.zeros(4 * SR, np.int16)])  # then silence (the plugin repeats stale data)
    raw.astype("<i2").tofile(tmp_path / "in.raw")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(
        f'pcm.!default {{ type file slave.pcm null file "/dev/null" infile "{tmp_path / "in.raw"}" '
        'format "raw" }\n'
    )
    sigs = copy_signatures(tmp_path)
    out = tmp_path / "events.jsonl"
    config = tmp_path / "c.yaml"
    config.write_text("audio:\n  ring_seconds: 120\n  capture:\n    rate: 16000\n")
    env = {**os.environ, "HOME": str(home)}
    proc = subprocess.Popen(
        [*DETECTOR, "run", "-c", str(config), "--no-mqtt", "--source", "capture", "--signatures", str(sigs)]
        + ["--events-out", str(out)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    expected = offline_events(pcm, sigs)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(read_jsonl(out)) < len(expected):
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    stderr = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, stderr
    got = [e for e in key(read_jsonl(out)) if e[2] < len(pcm) / SR]
    assert got == expected, stderr[-2000:]


def test_sigterm_mid_event_ends_it_and_exits_0(tmp_path: Path) -> None:
    pcm = scene(seconds=10.0)
    sf.write(tmp_path / "scene.wav", pcm, SR, subtype="PCM_16")
    out = tmp_path / "events.jsonl"
    proc = subprocess.Popen(
        [*DETECTOR, "run", "--no-mqtt", "--realtime", "--source", str(tmp_path / "scene.wav")]
        + ["--signatures", str(copy_signatures(tmp_path)), "--events-out", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not read_jsonl(out):  # the first alarm has started
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stderr = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, stderr
    events = read_jsonl(out)
    assert [e["state"] for e in events] == ["start", "end"], events  # the open event was closed
    assert events[1]["end"] < ALARMS[0][1] + 0.6
    assert '"stream_end"' in stderr


def test_a_corrupt_signature_dropped_in_is_logged_and_the_others_keep_detecting(tmp_path: Path) -> None:
    pcm = scene(seconds=10.0)
    sf.write(tmp_path / "scene.wav", pcm, SR, subtype="PCM_16")
    sigs = copy_signatures(tmp_path)
    out = tmp_path / "events.jsonl"
    proc = subprocess.Popen(
        [*DETECTOR, "run", "--no-mqtt", "--realtime", "--source", str(tmp_path / "scene.wav")]
        + ["--signatures", str(sigs), "--events-out", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and '"stream_start"' not in (lines[-1] if lines else ""):
        lines.append(proc.stderr.readline())
    time.sleep(0.5)
    (sigs / "bad.sig").write_bytes((sigs / "alarm.sig").read_bytes()[:300])  # truncated
    (sigs / "foreign.sig").write_text('{"format": "something-else"}')
    os.kill(proc.pid, signal.SIGHUP)  # also re-read at once (the directory is polled every 2 s anyway)
    stderr = "".join(lines) + proc.communicate(timeout=60)[1]
    assert proc.returncode == 0, stderr
    rejected = [json.loads(line) for line in stderr.splitlines() if '"signature_rejected"' in line]
    assert {Path(r["file"]).name for r in rejected} == {"bad.sig", "foreign.sig"}, stderr[-3000:]
    assert all(len([r for r in rejected if r["file"] == f]) == 1 for f in {r["file"] for r in rejected})
    ends = [e for e in read_jsonl(out) if e["state"] == "end"]
    assert len(ends) == len(ALARMS)  # both alarms, before and after the bad files arrived
