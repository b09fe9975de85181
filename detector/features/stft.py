"""numba kernel of the sliding STFT: new samples in, finished log-band frames out, one frame per hop.

The kernel keeps the unfinished tail of the stream (< n_fft samples) in a caller-owned buffer, so each
frame is computed exactly once however the stream is cut into blocks. ``np.fft.rfft`` inside ``@njit``
comes from the rocket-fft package (pocketfft, as in scipy.fft), imported here so numba registers it.
"""

from __future__ import annotations

import numpy as np
import rocket_fft  # noqa: F401  - registers np.fft for numba

from detector.jit import jit

LOG10 = 0  # log10(max(power, floor))
DB = 1  # 10 * log10(max(power, floor))

# frames transformed per batched FFT call: bounds scratch memory for long signals
FFT_BATCH_FRAMES = 64

# Compile options. The numpy error model drops the divide-by-zero checks that stop loops vectorising.
# fastmath is limited to flags under which a vectorised lane and a scalar remainder iteration compute
# bit-identical results (no approximate reciprocal, no reassociation), so a frame's value never depends on
# where a block boundary put it in a batch.
JIT = {"nogil": True, "error_model": "numpy", "fastmath": {"nnan", "ninf", "nsz", "contract"}}


@jit(**JIT)
def log10_inplace(values, floor, scale):
    """``values[i] = scale * log10(max(values[i], floor))`` for float32 ``values``, vectorisable.

    Splits each float into exponent and mantissa and evaluates log of the mantissa by the atanh series
    around 1 (|error| < 2e-6 absolute in log10 units, far below float32 feature noise). ``floor`` must be
    a normal float32 (>= 1.2e-38), which FeatureSpec guarantees.
    """
    bits = values.view(np.int32)
    for i in range(values.shape[0]):
        values[i] = max(values[i], floor)
    for i in range(values.shape[0]):
        b = bits[i]
        exponent = ((b >> 23) & 0xFF) - 127
        bits[i] = (b & 0x7FFFFF) | 0x3F800000  # values[i] is now the mantissa, in [1, 2)
        m = values[i]
        high = m > np.float32(1.4142135)  # fold to [sqrt(1/2), sqrt(2)) so the series converges fast
        m = np.float32(0.5) * m if high else m
        e = np.float32(exponent + 1) if high else np.float32(exponent)
        s = (m - np.float32(1.0)) / (m + np.float32(1.0))
        s2 = s * s
        ln_m = (
            np.float32(2.0)
            * s
            * (
                np.float32(1.0)
                + s2
                * (
                    np.float32(1 / 3)
                    + s2 * (np.float32(1 / 5) + s2 * (np.float32(1 / 7) + s2 * np.float32(1 / 9)))
                )
            )
        )
        values[i] = scale * (e * np.float32(0.30103) + ln_m * np.float32(0.4342945))


@jit(**JIT)
def push_frames(
    block, out, n_held, skip, pending, window, hop, bank_index, bank_weights, log_mode, log_floor, scratch
):
    """Fill ``out`` with the frames that ``block`` completes, and keep the stream's new tail in ``pending``.

    The virtual stream is ``x = pending[:n_held] ++ block[skip:]``; frame ``f`` is
    ``x[f * hop : f * hop + n_fft]``;
    and ``out.shape[0]`` frames are due (the caller counts them, see ``FrontEnd.push``). Afterwards
    ``pending`` starts with ``x[len(out) * hop :]`` (fewer than n_fft samples; none if the hop jumps past x).

    Args:
        block: float32 new samples (any length, including 0), finite.
        out: float32 (n_frames, n_bands) to fill.
        n_held: samples of the stream held in ``pending``.
        skip: samples at the start of ``block`` that fall before the next frame (only when hop > n_fft).
        pending: float32[n_fft] held tail, updated in place.
        window: float32[n_fft] analysis window.
        hop: samples between frame starts.
        bank_index: int64[3, n_bands] rows first bin, bin count, offset into ``bank_weights``.
        bank_weights: float32 filter weights.
        log_mode: LOG10 or DB.
        log_floor: power floor before the log.
        scratch: float32 work space of ``scratch_size(n_fft, n_bands)`` samples, reused between calls.

    Frames are processed in batches laid out band-major, so the band sums vectorise across frames; each
    frame's arithmetic is the same whatever batch it falls in, so any block split gives identical frames.
    Inner loops index row views with the bare loop variable: numba then knows the index is non-negative
    and drops the wrap-around check that would otherwise stop LLVM vectorising them.
    """
    n_fft = window.shape[0]
    n_bins = n_fft // 2 + 1
    n_bands = bank_index.shape[1]
    n_frames = out.shape[0]
    scale = np.float32(10.0) if log_mode == DB else np.float32(1.0)
    floor = np.float32(log_floor)
    frames_all = scratch[: FFT_BATCH_FRAMES * n_fft].reshape(FFT_BATCH_FRAMES, n_fft)
    power_all = scratch[FFT_BATCH_FRAMES * n_fft : FFT_BATCH_FRAMES * (n_fft + n_bins)]
    bands_all = scratch[FFT_BATCH_FRAMES * (n_fft + n_bins) : FFT_BATCH_FRAMES * (n_fft + n_bins + n_bands)]

    for first in range(0, n_frames, FFT_BATCH_FRAMES):
        count = min(FFT_BATCH_FRAMES, n_frames - first)
        frames = frames_all[:count]
        for f in range(count):
            row = frames[f]
            s = (first + f) * hop
            if s >= n_held:  # the common case: the frame lies wholly in the new block
                seg = block[skip + s - n_held : skip + s - n_held + n_fft]
                for j in range(n_fft):
                    row[j] = seg[j] * window[j]
            else:  # the frame starts in the held tail and ends in the new block
                held = min(n_fft, n_held - s)
                tail = pending[s : s + held]
                for j in range(held):
                    row[j] = tail[j] * window[j]
                seg = block[skip : skip + n_fft - held]
                win = window[held:]
                out_row = row[held:]
                for j in range(n_fft - held):
                    out_row[j] = seg[j] * win[j]
        spectrum = np.fft.rfft(frames)
        power = power_all[: n_bins * count].reshape(n_bins, count)  # bin-major: frames contiguous
        for f in range(count):
            for k in range(n_bins):
                z = spectrum[f, k]
                power[k, f] = z.real * z.real + z.imag * z.imag
        bands = bands_all[: n_bands * count].reshape(n_bands, count)
        bands[:] = 0.0
        for b in range(n_bands):
            band = bands[b]
            lo = bank_index[0, b]
            off = bank_index[2, b]
            for k in range(bank_index[1, b]):
                weight = bank_weights[off + k]
                bin_power = power[lo + k]
                for f in range(count):
                    band[f] += weight * bin_power[f]
        log10_inplace(bands_all[: n_bands * count], floor, scale)
        for f in range(count):
            out_row = out[first + f]
            for b in range(n_bands):
                out_row[b] = bands[b, f]

    # keep the samples from the next frame's start on
    total = n_held + block.shape[0] - skip
    next_start = n_frames * hop
    for i in range(max(0, total - next_start)):
        src = next_start + i
        pending[i] = pending[src] if src < n_held else block[skip + src - n_held]


def scratch_size(n_fft: int, n_bands: int) -> int:
    """float32 samples of work space ``push_frames`` needs."""
    return FFT_BATCH_FRAMES * (n_fft + n_fft // 2 + 1 + n_bands)
