"""Build demo/scene.wav: a 12 s synthetic scene (noise bed, two-tone alarm, whistle, hum), deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE_HZ = 16000
SECONDS = 12.0


def scene(seed: int = 2026) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(SECONDS * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    bed = np.cumsum(rng.standard_normal(n))  # brown noise: a low rumble
    bed = 0.02 * (bed - np.convolve(bed, np.ones(801) / 801, mode="same")) / 8.0
    bed += 0.004 * rng.standard_normal(n)
    x = bed
    # two-tone alarm, 3.0-5.0 s: 0.25 s at 1000 Hz then 0.25 s at 1500 Hz
    alarm = (t >= 3.0) & (t < 5.0)
    freq = np.where(((t - 3.0) // 0.25) % 2 == 0, 1000.0, 1500.0)
    x = x + alarm * 0.25 * np.sin(2 * np.pi * freq * t)
    # whistle, 7.0-8.0 s: rising chirp 1.2 -> 3 kHz
    whistle = (t >= 7.0) & (t < 8.0)
    tau = np.clip(t - 7.0, 0.0, 1.0)
    x = x + whistle * 0.2 * np.sin(2 * np.pi * (1200.0 * tau + 900.0 * tau**2))
    # mains-like hum with harmonics, 9.5-11.0 s
    hum = (t >= 9.5) & (t < 11.0)
    x = x + hum * sum(0.1 / k * np.sin(2 * np.pi * 100.0 * k * t) for k in range(1, 6))
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def main() -> None:
    out = Path(__file__).with_name("scene.wav")
    sf.write(out, scene(), SAMPLE_RATE_HZ, subtype="PCM_16")
    print(f"wrote {out} ({SECONDS:g} s, {SAMPLE_RATE_HZ} Hz)")


if __name__ == "__main__":
    main()
