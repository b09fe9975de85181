"""Tests of PyAudioSource with real PortAudio capture, fed from a raw file by ALSA's `file` plugin.

ALSA reads ``$HOME/.asoundrc`` when PortAudio initialises, so each capture runs in a subprocess whose HOME
holds an ``.asoundrc`` making the default PCM read our file. The plugin is not paced and repeats stale data
after the file ends, so the helper reads exactly the file's length from the ring.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyaudio")

REPO_ROOT = Path(__file__).resolve().parents[3]
RATE_HZ = 16000

HELPER = r"""
import json, sys, time
import numpy as np
from detector.audio import PyAudioSource, SampleRing, list_input_devices
from detector.errors import DeviceNotFoundError

args = json.loads(sys.argv[1])
if args["mode"] == "missing_device":
    try:
        PyAudioSource(RATE, device="no such microphone")
    except DeviceNotFoundError as exc:
        print(json.dumps({"message": str(exc), "devices": list_input_devices()}))
    sys.exit(0)

n = args["n"]
source = PyAudioSource(RATE, **args["source"])
ring = SampleRing(2 * n)  # holds the whole file: none of its samples can be dropped
source.start(ring)
out = np.empty(n, np.float32)
got = 0
while got < n:
    block = ring.read(n - got, timeout=10.0)
    if block is None:
        sys.exit(f"no audio: {source.error!r}")
    if block.start != got:
        sys.exit(f"gap: block at {block.start}, expected {got}")
    out[got : got + len(block.samples)] = block.samples
    got += len(block.samples)
if args["mode"] == "reopen":
    deadline = time.monotonic() + 10
    while source.stats()["reopens"] < 1 and time.monotonic() < deadline:
        stream = source._stream  # None while the supervisor is between streams
        if stream is not None:
            try:
                stream.stop_stream()  # the device stops delivering, as when unplugged
            except Exception:
                pass  # closed by the supervisor meanwhile: it is re-opening already
        ring.read(timeout=0.1)
    offered = ring.stats().offered
    while ring.stats().offered == offered and time.monotonic() < deadline:
        ring.read(timeout=0.1)  # the re-opened stream writes again
source.stop()
source.join(5.0)
np.save(args["out"], out)
print(json.dumps({"stats": source.stats(), "running": source.running, "error": repr(source.error),
                  "offered": ring.stats().offered, "skipped": ring.stats().skipped}))
""".replace("RATE", str(RATE_HZ))


def run_helper(home: Path, args: dict) -> dict:
    """Run HELPER with HOME=home (so ALSA reads home/.asoundrc); return its JSON output."""
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", HELPER, json.dumps(args)], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, f"helper failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def alsa_home(tmp_path: Path, raw: np.ndarray) -> Path:
    """A HOME whose .asoundrc makes ALSA's default PCM capture ``raw``'s bytes."""
    infile = tmp_path / "in.raw"
    raw.tofile(infile)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(
        f'pcm.!default {{ type file slave.pcm null file "/dev/null" infile "{infile}" format "raw" }}\n'
    )
    return home


def chirp_and_noise(seconds: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    """int16 test signal, shape (n,) or (n, channels): a 100 Hz -> 6 kHz chirp plus noise, per channel."""
    t = np.arange(round(seconds * RATE_HZ)) / RATE_HZ
    rng = np.random.default_rng(seed)
    columns = []
    for c in range(channels):
        chirp = 0.5 * np.sin(2 * np.pi * (100 * t + (6000 - 100) / (2 * seconds) * t**2) + c)
        columns.append(chirp + 0.1 * rng.standard_normal(len(t)))
    signal = np.clip(np.stack(columns, axis=1), -1, 32767 / 32768)
    out = np.round(signal * 32768).astype("<i2")
    return out[:, 0] if channels == 1 else out


def test_capture_equals_the_file_bit_exactly(tmp_path: Path) -> None:
    samples = chirp_and_noise(2.0)
    home = alsa_home(tmp_path, samples)
    out = tmp_path / "captured.npy"
    result = run_helper(home, {"mode": "capture", "n": len(samples), "out": str(out), "source": {}})
    np.testing.assert_array_equal(np.load(out), samples.astype(np.float32) / 32768)
    assert result["stats"]["device_rate"] == RATE_HZ  # the device took 16 kHz: nothing resampled
    assert not result["running"] and result["error"] == "None"


def test_int32_capture(tmp_path: Path) -> None:
    samples = np.random.default_rng(1).integers(-(2**31), 2**31, RATE_HZ).astype("<i4")
    home = alsa_home(tmp_path, samples)
    out = tmp_path / "captured.npy"
    run_helper(
        home, {"mode": "capture", "n": len(samples), "out": str(out), "source": {"sample_format": "int32"}}
    )
    np.testing.assert_array_equal(np.load(out), (samples.astype(np.float64) / 2**31).astype(np.float32))


def test_stereo_capture_selects_a_channel(tmp_path: Path) -> None:
    frames = chirp_and_noise(1.0, channels=2, seed=2)
    home = alsa_home(tmp_path, frames)
    out = tmp_path / "captured.npy"
    args = {"mode": "capture", "n": len(frames), "out": str(out), "source": {"channels": 2, "channel": 1}}
    run_helper(home, args)
    np.testing.assert_array_equal(np.load(out), frames[:, 1].astype(np.float32) / 32768)


def test_device_that_stops_is_reopened(tmp_path: Path) -> None:
    samples = chirp_and_noise(0.5, seed=3)
    home = alsa_home(tmp_path, samples)
    out = tmp_path / "captured.npy"
    backoff_s = 0.3
    args = {
        "mode": "reopen",
        "n": len(samples),
        "out": str(out),
        "source": {"reopen_backoff": [backoff_s, 0.5]},
    }
    result = run_helper(home, args)
    np.testing.assert_array_equal(np.load(out), samples.astype(np.float32) / 32768)
    assert result["stats"]["reopens"] >= 1
    # the outage (at least the back-off) is skipped on the stream clock, less the first block's own length
    assert result["skipped"] >= backoff_s * RATE_HZ - 1024
    assert not result["running"] and result["error"] == "None"


def test_missing_device_lists_the_available_ones(tmp_path: Path) -> None:
    home = alsa_home(tmp_path, np.zeros(RATE_HZ, "<i2"))
    result = run_helper(home, {"mode": "missing_device"})
    message, devices = result["message"], result["devices"]
    assert "no such microphone" in message
    assert any(d["name"] == "default" for d in devices)
    for d in devices:
        assert f"{d['index']}: {d['name']} ({d['max_input_channels']} ch" in message
