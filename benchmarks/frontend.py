"""Front-end throughput: our streaming numba STFT vs librosa, scipy.fft and numpy, one thread, in one run.

Usage: python benchmarks/frontend.py [--seconds 60] [--repeats 15] [--json]

For each profile (general at 16 kHz, lowband at 44.1 kHz) it times, on the same signal, interleaving the
methods round by round so machine noise hits them alike:
  stream    detector.features.FrontEnd fed 80 ms blocks, log bands out (what the daemon runs)
  librosa   librosa.feature.melspectrogram (or stft + bin selection) on the whole signal, then log10
  scipy     scipy.fft batched rfft of all windowed frames + filterbank matmul + log10, whole signal
  numpy     numpy.fft.rfft one frame per hop as samples arrive + filterbank + log10 (naive streaming)
  fft-only  scipy.fft batched rfft of the pre-windowed frames alone: the practical FFT limit here
and reports frames per second and the ratios the goals are stated in. Ratios use each method's fastest
round (the machine's noise only ever adds time, and it hits each method in different rounds); medians are
reported beside them.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread everywhere, before numpy/numba load

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import scipy.fft  # noqa: E402

from detector.features import FeatureSpec, FrontEnd, extract  # noqa: E402
from detector.features.filterbank import dense, window  # noqa: E402

BLOCK_SECONDS = 0.08  # streaming block: 80 ms, the daemon's patch hop

GOAL_PROFILES = ("general",)  # the goals are stated for streaming log-mel; lowband is measured and reported
GOALS = {  # ratio name -> (threshold, direction)
    "stream_vs_librosa_speedup": (2.0, ">="),
    "stream_vs_numpy_per_hop_speedup": (5.0, ">="),
    "stream_cost_vs_scipy_fft_only": (1.5, "<="),
}


def make_signal(spec: FeatureSpec, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * spec.sample_rate)) / spec.sample_rate
    x = 0.05 * rng.standard_normal(len(t)) + 0.3 * np.sin(2 * np.pi * 440 * t)
    return x.astype(np.float32)


def methods(spec: FeatureSpec, x: np.ndarray) -> dict[str, Callable[[], np.ndarray]]:
    win = window(spec)
    fb = dense(spec)
    fb64 = fb.astype(np.float64)
    lo, hi = spec.linear_bins()
    block = round(BLOCK_SECONDS * spec.sample_rate)
    front = FrontEnd(spec)
    floor = spec.log_floor

    def stream() -> np.ndarray:
        front.reset()
        out = [front.push(x[i : i + block]) for i in range(0, len(x), block)]
        return np.concatenate(out)

    def librosa_batch() -> np.ndarray:
        if spec.scale == "mel":
            bands = librosa.feature.melspectrogram(
                y=x,
                sr=spec.sample_rate,
                n_fft=spec.n_fft,
                hop_length=spec.hop_length,
                win_length=spec.win_length,
                window=spec.window,
                center=False,
                power=2.0,
                n_mels=spec.n_bands,
                fmin=spec.fmin,
                fmax=spec.fmax,
            )
        else:
            stft = librosa.stft(
                x,
                n_fft=spec.n_fft,
                hop_length=spec.hop_length,
                win_length=spec.win_length,
                window=spec.window,
                center=False,
            )
            bands = np.abs(stft[lo:hi]) ** 2
        return np.log10(np.maximum(bands, floor)).T

    frames_view = np.lib.stride_tricks.sliding_window_view(x, spec.n_fft)[:: spec.hop_length]
    prewindowed = np.ascontiguousarray(frames_view * win)

    def scipy_batch() -> np.ndarray:
        spectrum = scipy.fft.rfft(frames_view * win, axis=-1, workers=1)
        power = spectrum.real**2 + spectrum.imag**2
        return np.log10(np.maximum(power @ fb.T, floor))

    def fft_only() -> np.ndarray:
        return scipy.fft.rfft(prewindowed, axis=-1, workers=1)

    def numpy_per_hop() -> np.ndarray:
        out = []
        buf = np.zeros(0, np.float32)
        for i in range(0, len(x), block):
            buf = np.concatenate([buf, x[i : i + block]])
            start = 0
            while start + spec.n_fft <= len(buf):
                spectrum = np.fft.rfft(buf[start : start + spec.n_fft] * win)
                power = spectrum.real**2 + spectrum.imag**2
                out.append(np.log10(np.maximum(fb64 @ power, floor)))
                start += spec.hop_length
            buf = buf[start:]
        return np.array(out, dtype=np.float32)

    return {
        "stream": stream,
        "librosa": librosa_batch,
        "scipy": scipy_batch,
        "numpy": numpy_per_hop,
        "fft-only": fft_only,
    }


def ratios(seconds: dict[str, float]) -> dict[str, float]:
    return {
        "stream_vs_librosa_speedup": round(seconds["librosa"] / seconds["stream"], 2),
        "stream_vs_numpy_per_hop_speedup": round(seconds["numpy"] / seconds["stream"], 2),
        "stream_vs_scipy_batch_speedup": round(seconds["scipy"] / seconds["stream"], 2),
        "stream_cost_vs_scipy_fft_only": round(seconds["stream"] / seconds["fft-only"], 2),
    }


def bench_profile(name: str, seconds: float, repeats: int) -> dict:
    spec = FeatureSpec.profile(name)
    x = make_signal(spec, seconds)
    fns = methods(spec, x)
    n_frames = spec.frames_in(len(x))
    reference = extract(spec, x)
    for label, fn in fns.items():  # warm up (numba compile, FFT plans) and check every method agrees
        out = fn()
        if label != "fft-only":
            assert out.shape == reference.shape, (label, out.shape, reference.shape)
            err = float(np.max(np.abs(out - reference)))
            assert err < 1e-3, f"{label} disagrees with the front end by {err} (log10 units)"
    times: dict[str, list[float]] = {label: [] for label in fns}
    for _ in range(repeats):
        for label, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - t0)
    med = {label: statistics.median(ts) for label, ts in times.items()}
    best = {label: min(ts) for label, ts in times.items()}
    result = {
        "profile": name,
        "sample_rate": spec.sample_rate,
        "audio_seconds": seconds,
        "frames": n_frames,
        "block_ms": BLOCK_SECONDS * 1000,
        "seconds_median": {k: round(v, 6) for k, v in med.items()},
        "seconds_min": {k: round(min(v), 6) for k, v in times.items()},
        "frames_per_second": {k: round(n_frames / v) for k, v in best.items()},
        "realtime_factor_stream": round(seconds / best["stream"], 1),
        "ratios": ratios(best),
        "ratios_of_medians": ratios(med),
    }
    if name in GOAL_PROFILES:
        result["goals_met"] = {
            goal: (result["ratios"][goal] >= limit if op == ">=" else result["ratios"][goal] <= limit)
            for goal, (limit, op) in GOALS.items()
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length per profile (default 60)")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds per method (default 15)")
    parser.add_argument(
        "--profiles", nargs="+", default=["general", "lowband"], choices=["general", "lowband"]
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    args = parser.parse_args()
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "threads_used": 1,
        },
        "goals": {k: f"{op} {v}" for k, (v, op) in GOALS.items()},
        "goal_profiles": list(GOAL_PROFILES),
        "profiles": [bench_profile(p, args.seconds, args.repeats) for p in args.profiles],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for r in report["profiles"]:
        print(
            f"\n{r['profile']} profile: {r['audio_seconds']:g} s at {r['sample_rate']} Hz, "
            f"{r['frames']} frames, streaming in {r['block_ms']:g} ms blocks, {args.repeats} rounds"
        )
        print(f"  {'method':<10} {'best ms':>9} {'median ms':>10} {'frames/s':>12}")
        for label, sec in r["seconds_min"].items():
            median_ms = r["seconds_median"][label] * 1000
            print(f"  {label:<10} {sec * 1000:>9.2f} {median_ms:>10.2f} {r['frames_per_second'][label]:>12,}")
        print(f"  stream real-time factor: {r['realtime_factor_stream']:,}x")
        for k, v in r["ratios"].items():
            goal = GOALS.get(k) if r["profile"] in GOAL_PROFILES else None
            verdict = (
                f"  goal {goal[1]} {goal[0]}: {'met' if r['goals_met'][k] else 'MISSED'}" if goal else ""
            )
            print(f"  {k:<34} {v:>6}  (of medians {r['ratios_of_medians'][k]:>5}){verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
