"""Build the demo: a 30 s scene (demo/scene.wav), three enrollment shots of its target, and the signature.

The target is a two-tone alarm; the scene holds it three times (at decreasing level) among a noise bed,
a rising whistle, a mains hum and door knocks. The enrollment shots are *other* renditions of the alarm
(slightly different pitch, length and noise). The signature is made by this project's own enrollment:

    python demo/make_demo.py          # needs the train extra (scripts/setup.sh capture,train)

writes demo/scene.wav, demo/shots/alarm-{1,2,3}.wav, demo/signatures/alarm.sig, demo/truth.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE_HZ = 16000
SCENE_SECONDS = 30.0
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET = "alarm"
ALARMS = [(4.0, 2.0, 0.25), (14.5, 1.5, 0.12), (24.0, 2.5, 0.08)]  # (start s, length s, amplitude)


def alarm(seconds: float, f0: float = 1000.0, step_s: float = 0.25) -> np.ndarray:
    """A two-tone alarm: f0 and 1.5 f0 alternating every ``step_s``, unit amplitude."""
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    freq = np.where((t // step_s) % 2 == 0, f0, 1.5 * f0)
    return np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE_HZ)


def bed(n: int, rng: np.random.Generator) -> np.ndarray:
    """Ambience: low rumble (brown noise, high-passed) plus a faint hiss."""
    brown = np.cumsum(rng.standard_normal(n))
    brown = (brown - np.convolve(brown, np.ones(801) / 801, mode="same")) / 8.0
    return 0.02 * brown + 0.004 * rng.standard_normal(n)


def place(x: np.ndarray, sound: np.ndarray, at_s: float) -> None:
    i = int(at_s * SAMPLE_RATE_HZ)
    x[i : i + len(sound)] += sound[: len(x) - i]


def scene(seed: int = 2026) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(SCENE_SECONDS * SAMPLE_RATE_HZ)
    x = bed(n, rng)
    for start, length, amplitude in ALARMS:
        place(x, amplitude * alarm(length), start)
    t = np.arange(int(1.0 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    place(x, 0.2 * np.sin(2 * np.pi * (1200.0 * t + 900.0 * t**2)), 9.0)  # rising whistle 1.2 -> 3 kHz
    t = np.arange(int(1.5 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    place(x, sum(0.1 / k * np.sin(2 * np.pi * 100.0 * k * t) for k in range(1, 6)), 19.0)  # hum
    knock = rng.standard_normal(int(0.03 * SAMPLE_RATE_HZ)) * np.exp(-np.arange(480) / 60.0)
    for at in (11.5, 11.8, 12.1, 21.0, 21.3):  # door knocks
        place(x, 0.5 * np.convolve(knock, np.hanning(15), mode="same"), at)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def shots(seed: int = 7) -> list[np.ndarray]:
    """Three other renditions of the alarm, each with its own pitch, length and noise."""
    rng = np.random.default_rng(seed)
    out = []
    for f0, seconds, step in ((985.0, 1.8, 0.24), (1010.0, 2.2, 0.25), (1000.0, 2.0, 0.26)):
        x = 0.3 * alarm(seconds, f0, step) + bed(int(seconds * SAMPLE_RATE_HZ), rng)
        out.append(np.clip(x, -1.0, 1.0).astype(np.float32))
    return out


def main() -> None:
    sf.write(HERE / "scene.wav", scene(), SAMPLE_RATE_HZ, subtype="PCM_16")
    truth = [{"target": TARGET, "start": s, "end": s + length} for s, length, _ in ALARMS]
    (HERE / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    (HERE / "shots").mkdir(exist_ok=True)
    paths = []
    for i, x in enumerate(shots(), start=1):
        paths.append(HERE / "shots" / f"{TARGET}-{i}.wav")
        sf.write(paths[-1], x, SAMPLE_RATE_HZ, subtype="PCM_16")
    print(f"wrote {HERE / 'scene.wav'} ({SCENE_SECONDS:g} s) and {len(paths)} shots", flush=True)
    enroll = [sys.executable, "-m", "trainer", "enroll", TARGET, *map(str, paths)]
    enroll += ["--model", str(ROOT / "models" / "general.tflite"), "--out", str(HERE / "signatures")]
    subprocess.run(enroll, check=True)


if __name__ == "__main__":
    main()
