"""Analysis windows and band filterbanks (Slaney mel, linear bin selection) in dense and sparse form."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.features.spec import FeatureSpec


def window(spec: FeatureSpec) -> np.ndarray:
    """The periodic analysis window, ``win_length`` long, centred in ``n_fft`` samples (float32)."""
    n = spec.win_length
    phase = 2.0 * np.pi * np.arange(n) / n
    if spec.window == "hann":
        w = 0.5 - 0.5 * np.cos(phase)
    elif spec.window == "hamming":
        w = 0.54 - 0.46 * np.cos(phase)
    elif spec.window == "blackman":
        w = 0.42 - 0.5 * np.cos(phase) + 0.08 * np.cos(2.0 * phase)
    else:  # rect
        w = np.ones(n)
    out = np.zeros(spec.n_fft)
    left = (spec.n_fft - n) // 2
    out[left : left + n] = w
    return out.astype(np.float32)


# Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above
MEL_LINEAR_HZ_PER_MEL = 200.0 / 3.0  # Hz per mel below the break
MEL_BREAK_HZ = 1000.0
MEL_BREAK_MEL = MEL_BREAK_HZ / MEL_LINEAR_HZ_PER_MEL
MEL_LOG_STEP = np.log(6.4) / 27.0  # natural-log step per mel above the break


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Hz to Slaney mels."""
    hz = np.asarray(hz, dtype=np.float64)
    log_mel = MEL_BREAK_MEL + np.log(np.maximum(hz, MEL_BREAK_HZ) / MEL_BREAK_HZ) / MEL_LOG_STEP
    return np.where(hz >= MEL_BREAK_HZ, log_mel, hz / MEL_LINEAR_HZ_PER_MEL)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Slaney mels to Hz (inverse of :func:`hz_to_mel`)."""
    mel = np.asarray(mel, dtype=np.float64)
    log_hz = MEL_BREAK_HZ * np.exp(MEL_LOG_STEP * (mel - MEL_BREAK_MEL))
    return np.where(mel >= MEL_BREAK_MEL, log_hz, MEL_LINEAR_HZ_PER_MEL * mel)


def dense(spec: FeatureSpec) -> np.ndarray:
    """The filterbank as a dense ``(n_bands, n_bins)`` float32 matrix: bands = matrix @ power."""
    n_bins = spec.n_bins
    if spec.scale == "linear":
        lo, hi = spec.linear_bins()
        fb = np.zeros((spec.n_bands, n_bins))
        fb[np.arange(hi - lo), np.arange(lo, hi)] = 1.0
        return fb.astype(np.float32)
    # Slaney-normalised triangular mel filters (area-normalised), as librosa.filters.mel(htk=False)
    fft_hz = np.linspace(0.0, spec.sample_rate / 2.0, n_bins)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(spec.fmin), hz_to_mel(spec.fmax), spec.n_bands + 2))
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    fb = np.maximum(0.0, np.minimum(lower, upper))
    fb *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return fb.astype(np.float32)


@dataclass(frozen=True)
class SparseBank:
    """A filterbank stored band by band, non-zero weights only.

    Band b = sum(weights[offset[b] : offset[b] + length[b]] * power[first[b] : first[b] + length[b]]).
    """

    index: np.ndarray  # int64 (3, n_bands): rows first bin, length, offset into weights
    weights: np.ndarray  # float32, all bands' non-zero weights back to back


def sparse(spec: FeatureSpec) -> SparseBank:
    """The filterbank in the per-band form the numba kernel uses (bins outside a band cost nothing)."""
    fb = dense(spec)
    index = np.zeros((3, fb.shape[0]), dtype=np.int64)
    chunks = []
    offset = 0
    for b, row in enumerate(fb):
        nz = np.flatnonzero(row)
        first, last = (int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, 0)
        index[:, b] = (first, last - first, offset)
        chunks.append(row[first:last])
        offset += last - first
    weights = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return SparseBank(index=index, weights=weights)
