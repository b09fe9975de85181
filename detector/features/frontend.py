"""FrontEnd (streaming, block by block) and extract (whole signal): one code path, the same frames."""

from __future__ import annotations

import numpy as np

from detector.features import filterbank, stft
from detector.features.spec import FeatureSpec


class FrontEnd:
    """Streaming log-band spectrogram: push samples in any block sizes, get each frame exactly once.

    Frame ``t`` (counted from the first sample pushed after construction or ``reset``) covers samples
    ``[t * hop_length, t * hop_length + n_fft)``; ``frames_emitted`` says how many came out so far.
    """

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self._window = filterbank.window(spec)
        bank = filterbank.sparse(spec)
        self._bank_index, self._bank_weights = bank.index, bank.weights
        self._log_mode = stft.DB if spec.log == "db" else stft.LOG10
        self._log_floor = float(spec.log_floor)
        self._hop = int(spec.hop_length)
        self._pending = np.zeros(spec.n_fft, dtype=np.float32)
        self._scratch = np.zeros(stft.scratch_size(spec.n_fft, spec.n_bands), dtype=np.float32)
        self._n_fft = spec.n_fft
        self._n_bands = spec.n_bands
        # the kernel's arguments after (block, out, held, skip), bound once: push is on the hot path
        self._kernel_args = (
            self._pending,
            self._window,
            self._hop,
            self._bank_index,
            self._bank_weights,
            self._log_mode,
            self._log_floor,
            self._scratch,
        )
        self._held = 0  # samples in _pending: the start of the next frame
        self._skip = 0  # samples still to discard before the next frame starts (hop > n_fft only)
        self.frames_emitted = 0

    def reset(self) -> None:
        """Forget the stream so far: the next sample pushed starts frame 0 again."""
        self._held = self._skip = 0
        self.frames_emitted = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add finite mono samples; return the float32 ``(n_new_frames, n_bands)`` frames they complete."""
        if samples.dtype != np.float32 or samples.ndim != 1 or not samples.flags.c_contiguous:
            samples = _as_mono_float32(samples)
        held, skip, hop = self._held, self._skip, self._hop
        if skip:  # only when hop > n_fft: samples between frames are never looked at
            skip = min(skip, len(samples))
            self._skip -= skip
        total = held + len(samples) - skip  # samples from the next frame's start on
        n_frames = 0 if total < self._n_fft else 1 + (total - self._n_fft) // hop
        out = np.empty((n_frames, self._n_bands), dtype=np.float32)
        stft.push_frames(samples, out, held, skip, *self._kernel_args)
        next_start = n_frames * hop
        if next_start > total:
            self._skip += next_start - total
        self._held = max(0, total - next_start)
        self.frames_emitted += n_frames
        return out


def extract(spec: FeatureSpec, signal: np.ndarray) -> np.ndarray:
    """Offline features of a whole mono signal: exactly the frames ``FrontEnd`` streams out of it."""
    return FrontEnd(spec).push(signal)


def _as_mono_float32(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"expected mono samples as a 1-D array, got shape {samples.shape}")
    if not np.issubdtype(samples.dtype, np.floating):
        raise ValueError(f"expected float samples in [-1, 1], got dtype {samples.dtype}; convert PCM first")
    return np.ascontiguousarray(samples, dtype=np.float32)
