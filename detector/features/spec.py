"""FeatureSpec: every parameter that turns samples into the feature frames a model was trained on."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

WINDOWS = ("hann", "hamming", "blackman", "rect")
SCALES = ("mel", "linear")
LOGS = ("log10", "db")


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """Parameters of the front end. Frozen, hashable, and serialisable to JSON.

    Frame ``t`` covers samples ``[t * hop_length, t * hop_length + n_fft)`` of the stream (no
    centring/padding, as librosa's ``center=False``); a window shorter than ``n_fft`` is centred in it.
    """

    sample_rate: int  # Hz
    n_fft: int  # samples per FFT frame
    win_length: int  # samples of the analysis window, <= n_fft
    hop_length: int  # samples between frame starts
    window: Literal["hann", "hamming", "blackman", "rect"]  # periodic (FFT-style) windows
    scale: Literal["mel", "linear"]  # mel: Slaney-style triangular filters; linear: FFT bins fmin..fmax
    n_bands: int  # output bands per frame
    fmin: float  # Hz
    fmax: float  # Hz
    log: Literal["log10", "db"]  # log10(max(power, log_floor)) or 10 * log10(max(power, log_floor))
    log_floor: float  # power floor before the log
    patch_frames: int  # frames in one model input patch
    patch_hop_frames: int  # frames between consecutive patches

    def __post_init__(self) -> None:
        for error in self.problems():
            raise ValueError(error)

    # ------------------------------------------------------------------ validation
    def problems(self) -> list[str]:
        """Every inconsistency in this spec, as messages naming the field and what was expected."""
        out: list[str] = []

        def positive_int(name: str) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                out.append(f"FeatureSpec.{name}: got {value!r}; expected an integer >= 1")

        for name in (
            "sample_rate",
            "n_fft",
            "win_length",
            "hop_length",
            "n_bands",
            "patch_frames",
            "patch_hop_frames",
        ):
            positive_int(name)
        if out:
            return out
        if self.win_length > self.n_fft:
            out.append(f"FeatureSpec.win_length: got {self.win_length}; expected <= n_fft ({self.n_fft})")
        if self.n_fft < 2:
            out.append(f"FeatureSpec.n_fft: got {self.n_fft}; expected >= 2")
        if self.window not in WINDOWS:
            out.append(f"FeatureSpec.window: got {self.window!r}; expected one of {', '.join(WINDOWS)}")
        if self.scale not in SCALES:
            out.append(f"FeatureSpec.scale: got {self.scale!r}; expected one of {', '.join(SCALES)}")
        if self.log not in LOGS:
            out.append(f"FeatureSpec.log: got {self.log!r}; expected one of {', '.join(LOGS)}")
        if not (isinstance(self.log_floor, int | float) and 1e-30 <= self.log_floor <= 1.0):
            out.append(f"FeatureSpec.log_floor: got {self.log_floor!r}; expected a number in [1e-30, 1]")
        nyquist = self.sample_rate / 2
        if not (isinstance(self.fmin, int | float) and 0 <= self.fmin < nyquist):
            out.append(f"FeatureSpec.fmin: got {self.fmin!r}; expected 0 <= fmin < {nyquist:g} Hz (Nyquist)")
        elif not (isinstance(self.fmax, int | float) and self.fmin < self.fmax <= nyquist):
            out.append(
                f"FeatureSpec.fmax: got {self.fmax!r}; expected fmin ({self.fmin:g}) < fmax <= {nyquist:g} Hz"
            )
        elif self.scale == "linear" and self.n_bands != self.linear_bins()[1] - self.linear_bins()[0]:
            lo, hi = self.linear_bins()
            out.append(
                f"FeatureSpec.n_bands: got {self.n_bands}; expected {hi - lo} for scale 'linear' "
                f"(FFT bins of {self.sample_rate / self.n_fft:.3f} Hz from {self.fmin:g} to {self.fmax:g} Hz)"
            )
        elif self.scale == "mel" and self.n_bands > self.n_bins:
            out.append(
                f"FeatureSpec.n_bands: got {self.n_bands}; expected <= {self.n_bins} FFT bins for 'mel'"
            )
        return out

    # ------------------------------------------------------------------ derived values
    @property
    def n_bins(self) -> int:
        """FFT bins of a one-sided spectrum."""
        return self.n_fft // 2 + 1

    def linear_bins(self) -> tuple[int, int]:
        """Half-open range of FFT bins whose centre frequency lies in [fmin, fmax]."""
        import math

        bin_hz = self.sample_rate / self.n_fft
        lo = math.ceil(self.fmin / bin_hz - 1e-9)
        hi = min(math.floor(self.fmax / bin_hz + 1e-9), self.n_fft // 2) + 1
        return lo, hi

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sample_rate / self.hop_length

    @property
    def patch_seconds(self) -> float:
        """Seconds of audio one patch spans."""
        return ((self.patch_frames - 1) * self.hop_length + self.n_fft) / self.sample_rate

    def frames_in(self, n_samples: int) -> int:
        """Frames a signal of ``n_samples`` yields."""
        return 0 if n_samples < self.n_fft else 1 + (n_samples - self.n_fft) // self.hop_length

    # ------------------------------------------------------------------ construction / serialisation
    @classmethod
    def profile(cls, name: str, **overrides: Any) -> FeatureSpec:
        """A shipped profile (``general`` or ``lowband``), optionally with some fields changed."""
        if name not in PROFILES:
            raise ValueError(f"unknown feature profile {name!r}; expected one of {', '.join(PROFILES)}")
        return dataclasses.replace(PROFILES[name], **overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        missing = sorted(names - set(data))
        if unknown or missing:
            raise ValueError(
                "FeatureSpec: "
                + "; ".join(
                    part
                    for part in (
                        f"unknown field(s) {', '.join(unknown)}" if unknown else "",
                        f"missing field(s) {', '.join(missing)}" if missing else "",
                    )
                    if part
                )
                + f"; expected exactly: {', '.join(sorted(names))}"
            )
        return cls(**data)

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> FeatureSpec:
        return cls.from_dict(json.loads(text) if isinstance(text, str) else text)


PROFILES: dict[str, FeatureSpec] = {
    # general sound: 16 kHz, 32 ms frames every 10 ms, 64 mel bands, ~1 s patches every 80 ms
    "general": FeatureSpec(
        sample_rate=16000,
        n_fft=512,
        win_length=512,
        hop_length=160,
        window="hann",
        scale="mel",
        n_bands=64,
        fmin=50.0,
        fmax=7600.0,
        log="log10",
        log_floor=1e-10,
        patch_frames=96,
        patch_hop_frames=8,
    ),
    # low-feature tonal signals (sonar-like): 44.1 kHz, 8192-point FFT (5.38 Hz bins) every 46 ms,
    # the 186 linear bins from 0 to 1000 Hz, ~3 s patches every ~0.37 s
    "lowband": FeatureSpec(
        sample_rate=44100,
        n_fft=8192,
        win_length=8192,
        hop_length=2048,
        window="hann",
        scale="linear",
        n_bands=186,
        fmin=0.0,
        fmax=1000.0,
        log="log10",
        log_floor=1e-10,
        patch_frames=64,
        patch_hop_frames=8,
    ),
}
