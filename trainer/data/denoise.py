"""Noise reduction by spectral gating: bins below a per-frequency noise threshold are attenuated."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

N_FFT = 512  # 32 ms at 16 kHz
HOP = 128  # 8 ms at 16 kHz
N_STD = 1.5  # threshold: noise mean + N_STD noise standard deviations (dB), per frequency bin
NOISE_QUANTILE = 0.2  # without a noise sample: the quietest 20 % of frames are taken as noise
SMOOTH_FREQ_BINS = 3  # mask smoothing, bins (odd)
SMOOTH_FRAMES = 5  # mask smoothing, frames (odd)
DB_FLOOR = 1e-10  # magnitude floor before taking dB


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    return sps.stft(x, nperseg=n_fft, noverlap=n_fft - hop, window="hann", boundary="zeros", padded=True)[2]


def _db(spectrum: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.abs(spectrum), DB_FLOOR))


def noise_threshold_db(
    noise_db: np.ndarray, n_std: float = N_STD, quantile: float | None = None
) -> np.ndarray:
    """Per-bin gate threshold from dB magnitudes ``(bins, frames)``: mean + ``n_std`` std over frames.

    With ``quantile``, only the frames whose total energy lies in that lowest share are used (the
    signal's own quiet parts stand in for a noise sample).
    """
    frames = noise_db
    if quantile is not None and noise_db.shape[1] > 1:
        energy = np.mean(10 ** (noise_db / 10), axis=0)
        keep = energy <= np.quantile(energy, quantile)
        frames = noise_db[:, keep] if keep.any() else noise_db
    return frames.mean(axis=1) + n_std * frames.std(axis=1)


def spectral_gate(
    x: np.ndarray,
    sample_rate: int,
    noise: np.ndarray | None = None,
    *,
    n_std: float = N_STD,
    prop_decrease: float = 1.0,
    noise_quantile: float = NOISE_QUANTILE,
    n_fft: int = N_FFT,
    hop: int = HOP,
) -> np.ndarray:
    """Stationary spectral gating (as in the general-purpose pipeline paper's noise-reduction step).

    The noise's per-bin dB mean and standard deviation give a threshold; every STFT bin of ``x`` below
    it is attenuated by ``prop_decrease`` (1 = removed), through a mask smoothed over 3 bins x 5
    frames so the gate does not chirp; the result is resynthesised by inverse STFT (same length).

    Args:
        x: float mono samples.
        sample_rate: Hz (used to scale the default STFT sizes, which are for 16 kHz).
        noise: a noise-only recording; default: the quietest ``noise_quantile`` of ``x``'s frames.
        n_std: threshold above the noise mean, in noise standard deviations.
        prop_decrease: how much of a gated bin is removed, 0..1.
        noise_quantile: share of quietest frames used as the noise estimate without ``noise``.
        n_fft: FFT size at 16 kHz (scaled with the rate, power of two).
        hop: hop at 16 kHz (scaled likewise).

    Returns:
        float32 samples, ``len(x)``.
    """
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0:
        return x.copy()
    if not 0.0 <= prop_decrease <= 1.0:
        raise ValueError(f"prop_decrease: got {prop_decrease}; expected 0..1")
    scale = sample_rate / 16000
    n_fft = int(2 ** round(np.log2(max(16, n_fft * scale))))
    hop = max(1, int(round(hop * n_fft / N_FFT)))
    spectrum = _stft(x, n_fft, hop)
    if noise is not None and len(noise) >= n_fft:
        threshold = noise_threshold_db(_db(_stft(np.asarray(noise, np.float32), n_fft, hop)), n_std)
    else:
        threshold = noise_threshold_db(_db(spectrum), n_std, noise_quantile)
    mask = (_db(spectrum) > threshold[:, None]).astype(np.float64)
    kernel = np.outer(np.hanning(SMOOTH_FREQ_BINS + 2)[1:-1], np.hanning(SMOOTH_FRAMES + 2)[1:-1])
    mask = sps.fftconvolve(mask, kernel / kernel.sum(), mode="same").clip(0.0, 1.0)
    gain = 1.0 - prop_decrease * (1.0 - mask)
    _, y = sps.istft(spectrum * gain, nperseg=n_fft, noverlap=n_fft - hop, window="hann", boundary=True)
    out = np.zeros(len(x), dtype=np.float32)
    n = min(len(x), len(y))
    out[:n] = y[:n]
    return out
