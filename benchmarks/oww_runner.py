"""openWakeWord throughput on a WAV in 1280-sample frames: run by benchmarks/realtime.py in its own venv."""

from __future__ import annotations

import time

STARTED = time.monotonic()  # before the heavy imports: start-up is measured from the process's start

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import wave  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

FRAME_SAMPLES = 1280  # 80 ms at 16 kHz: openWakeWord's hop, and the daemon's patch hop
SAMPLE_RATE = 16000  # Hz, what openWakeWord's models take


def read_wav_int16(path: Path) -> np.ndarray:
    """Mono 16-bit PCM samples of a 16 kHz WAV file."""
    with wave.open(str(path), "rb") as f:
        if f.getnchannels() != 1 or f.getsampwidth() != 2 or f.getframerate() != SAMPLE_RATE:
            raise SystemExit(
                f"{path}: {f.getnchannels()} ch, {8 * f.getsampwidth()}-bit, {f.getframerate()} Hz; "
                f"expected mono 16-bit PCM at {SAMPLE_RATE} Hz"
            )
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.int16)


def vmhwm_kb() -> int | None:
    """This process's peak resident set size (VmHWM) in kB, from /proc/self/status."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--audio", type=Path, required=True, help="mono 16-bit 16 kHz WAV")
    parser.add_argument("--models", type=Path, required=True, help="directory of openWakeWord .tflite models")
    parser.add_argument("--wakeword", default="hey_jarvis_v0.1", help="wake-word model name in --models")
    parser.add_argument("--count", type=int, default=1, help="load the wake-word model this many times")
    parser.add_argument("--json", type=Path, required=True, help="write the result here")
    args = parser.parse_args()

    from openwakeword.model import Model

    imported = time.monotonic()
    audio = read_wav_int16(args.audio)
    n_frames = len(audio) // FRAME_SAMPLES
    model_file = args.models / f"{args.wakeword}.tflite"
    with tempfile.TemporaryDirectory(prefix="oww-models-") as tmp:
        if args.count == 1:
            paths = [str(model_file)]
        else:  # the same model under different names: openWakeWord keys its models by file name
            paths = []
            for i in range(args.count):
                link = Path(tmp) / f"{args.wakeword}_{i:03d}.tflite"
                os.symlink(model_file, link)
                paths.append(str(link))
        load_started = time.monotonic()
        model = Model(
            wakeword_models=paths,
            inference_framework="tflite",
            melspec_model_path=str(args.models / "melspectrogram.tflite"),
            embedding_model_path=str(args.models / "embedding_model.tflite"),
        )
        loaded = time.monotonic()
        first_name = next(iter(model.models))
        peak = 0.0
        first_prediction = None
        loop_started = time.monotonic()
        for i in range(n_frames):
            scores = model.predict(audio[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES])
            if first_prediction is None:
                first_prediction = time.monotonic()
            peak = max(peak, float(scores[first_name]))
        loop_seconds = time.monotonic() - loop_started
    seconds_audio = n_frames * FRAME_SAMPLES / SAMPLE_RATE
    result = {
        "n_models": len(model.models),
        "wakeword": args.wakeword,
        "frames": n_frames,
        "seconds_audio": seconds_audio,
        "loop_seconds": loop_seconds,
        "realtime_factor": seconds_audio / loop_seconds if loop_seconds > 0 else None,
        "ms_per_frame": 1000.0 * loop_seconds / max(n_frames, 1),
        "load_seconds": loaded - load_started,
        "process_started": STARTED,
        "imported": imported,
        "first_prediction": first_prediction,
        "vmhwm_kb": vmhwm_kb(),
        "peak_score": peak,
        "versions": {p: version(p) for p in ("openwakeword", "tflite-runtime", "numpy")},
    }
    args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
