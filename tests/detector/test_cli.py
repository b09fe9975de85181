"""The `detector` command end to end in subprocesses: run on files and stdin, check, errors, SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from detector.features import FeatureSpec, extract

DETECTOR = [sys.executable, "-m", "detector"]
DEMO_SIGS = Path(__file__).resolve().parents[2] / "demo" / "signatures"


def make_wav(path: Path, seconds: float = 3.0, sr: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 700 * t) + 0.05 * rng.standard_normal(len(t))
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)
    sf.write(path, pcm, sr, subtype="PCM_16")
    return pcm.astype(np.float32) / 32768.0


def events(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_run_on_a_wav_file_saves_the_offline_features(tmp_path: Path) -> None:
    samples = make_wav(tmp_path / "a.wav")
    out = tmp_path / "f.npy"
    proc = subprocess.run(
        [*DETECTOR, "run", "--no-mqtt", "--source", str(tmp_path / "a.wav"), "--features-out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(out), extract(FeatureSpec.profile("general"), samples))
    end = [e for e in events(proc.stderr) if e["event"] == "stream_end"]
    assert end and end[0]["dropped_samples"] == 0 and end[0]["seconds_audio"] == 3.0


def test_run_reads_raw_pcm_from_stdin(tmp_path: Path) -> None:
    samples = make_wav(tmp_path / "a.wav", seconds=2.0)
    raw = np.round(samples * 32768).astype("<i2").tobytes()
    out = tmp_path / "f.npy"
    proc = subprocess.run(
        [*DETECTOR, "run", "--no-mqtt", "--source", "-", "--features-out", str(out)],
        input=raw,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    np.testing.assert_array_equal(np.load(out), extract(FeatureSpec.profile("general"), samples))


def test_run_resamples_an_8khz_file(tmp_path: Path) -> None:
    make_wav(tmp_path / "low.wav", seconds=2.0, sr=8000)
    out = tmp_path / "f.npy"
    proc = subprocess.run(
        [*DETECTOR, "run", "--no-mqtt", "--source", str(tmp_path / "low.wav"), "--features-out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    feats = np.load(out)
    assert abs(len(feats) - FeatureSpec.profile("general").frames_in(32000)) <= 1
    # the 700 Hz tone stays in the mel band that holds 700 Hz
    from detector.features.filterbank import dense

    band_700 = int(np.argmax(dense(FeatureSpec.profile("general"))[:, round(700 / 31.25)]))
    assert abs(int(np.argmax(feats.mean(axis=0))) - band_700) <= 1


def test_user_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("audio:\n  ring_seconds: -1\n")
    cases = [
        (["check", "-c", str(bad)], "audio.ring_seconds"),
        (["run", "--source", str(tmp_path / "missing.wav")], "no such file"),
        (["run", "--source", str(bad)], "not a readable audio file"),
        (["run", "-c", str(tmp_path / "none.yaml")], "an existing YAML file"),
        (["run", "--source", str(tmp_path / "a.wav"), "--features-out", str(tmp_path / "x.txt")], ".npy"),
    ]
    make_wav(tmp_path / "a.wav", seconds=0.5)
    for argv, needle in cases:
        proc = subprocess.run([*DETECTOR, *argv], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert needle in proc.stderr, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr


def test_check_accepts_a_good_setup(tmp_path: Path) -> None:
    make_wav(tmp_path / "a.wav", seconds=0.5)
    proc = subprocess.run(
        [
            *DETECTOR,
            "check",
            "--no-mqtt",
            "--source",
            str(tmp_path / "a.wav"),
            "--signatures",
            str(DEMO_SIGS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "audio: file" in proc.stdout and "model: general (embedding" in proc.stdout
    assert "signature alarm: prototype" in proc.stdout


def test_check_reports_a_missing_signatures_directory_and_a_bad_signature(tmp_path: Path) -> None:
    make_wav(tmp_path / "a.wav", seconds=0.5)
    argv = [*DETECTOR, "check", "--no-mqtt", "--source", str(tmp_path / "a.wav")]
    proc = subprocess.run([*argv, "--signatures", str(tmp_path / "nope")], capture_output=True, text=True)
    assert proc.returncode == 1 and "no such directory" in proc.stderr, proc.stderr
    sigs = tmp_path / "sigs"
    sigs.mkdir()
    (sigs / "alarm.sig").write_bytes((DEMO_SIGS / "alarm.sig").read_bytes())
    (sigs / "broken.sig").write_text("{not json")
    proc = subprocess.run([*argv, "--signatures", str(sigs)], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout
    assert "signature alarm: prototype" in proc.stdout and "broken.sig" in proc.stderr


def test_sigterm_stops_a_realtime_run_cleanly(tmp_path: Path) -> None:
    make_wav(tmp_path / "long.wav", seconds=30.0)
    proc = subprocess.Popen(
        [*DETECTOR, "run", "--no-mqtt", "--realtime", "--source", str(tmp_path / "long.wav")],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:  # wait until streaming has started
        lines.append(proc.stderr.readline())
        if '"stream_start"' in lines[-1]:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, rest
    end = [e for e in events("".join(lines) + rest) if e["event"] == "stream_end"]
    assert end, rest
    assert 0.5 < end[0]["seconds_audio"] < 10.0  # stopped early, at real-time pace
