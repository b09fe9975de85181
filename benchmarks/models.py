"""Shipped models on one thread: file size and latency per patch, beside the front end's cost for that patch.

Usage: python benchmarks/models.py [--rounds 15] [--patches 200] [--json]

For each ``models/<name>.tflite``: the time of ``Model.run`` on one patch at a time (the daemon's case,
one call per patch hop) and on batches of 8, best and median over interleaved rounds; and the time the
streaming front end takes to produce one patch hop of frames (``patch_hop_frames``) for comparison.
Goal (issue 3): each model <= 2 MB and <= 1 ms per patch on one thread.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from detector.features import FrontEnd  # noqa: E402
from detector.models import load_model  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / "models"
MAX_BYTES = 2 * 1024 * 1024
MAX_MS_PER_PATCH = 1.0


def bench(path: Path, rounds: int, n_patches: int) -> dict:
    model = load_model(path, num_threads=1)
    spec = model.spec
    rng = np.random.default_rng(0)
    patches = rng.normal(-4.0, 1.5, (n_patches, spec.patch_frames, spec.n_bands)).astype(np.float32)
    hop_samples = spec.patch_hop_frames * spec.hop_length
    audio = (0.1 * rng.standard_normal(hop_samples * n_patches)).astype(np.float32)
    front = FrontEnd(spec)

    def single() -> None:
        for i in range(n_patches):
            model.run(patches[i : i + 1])

    def batched() -> None:
        for i in range(0, n_patches, 8):
            model.run(patches[i : i + 8])

    def frontend() -> None:
        front.reset()
        for i in range(0, len(audio), hop_samples):
            front.push(audio[i : i + hop_samples])

    fns = {"model_batch1": single, "model_batch8": batched, "frontend_per_hop": frontend}
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for label, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[label].append((time.perf_counter() - t0) / n_patches * 1000.0)
    size = path.stat().st_size
    best = {k: round(min(v), 4) for k, v in times.items()}
    return {
        "model": path.stem,
        "bytes": size,
        "input": [spec.patch_frames, spec.n_bands],
        "embedding_dim": model.output_dim,
        "ms_per_patch_best": best,
        "ms_per_patch_median": {k: round(statistics.median(v), 4) for k, v in times.items()},
        "goals_met": {
            "size_le_2MB": size <= MAX_BYTES,
            "le_1ms_per_patch": best["model_batch1"] <= MAX_MS_PER_PATCH,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--patches", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [bench(p, args.rounds, args.patches) for p in sorted(MODELS.glob("*.tflite"))]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        b, m = r["ms_per_patch_best"], r["ms_per_patch_median"]
        frames, bands = r["input"]
        print(f"{r['model']}: {r['bytes'] / 1024:.0f} KiB, input {frames}x{bands}, dim {r['embedding_dim']}")
        for k in b:
            print(f"  {k:<18} {b[k]:8.4f} ms/patch best  {m[k]:8.4f} median")
        print(f"  goals: {r['goals_met']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
