"""The low-feature paper's synthetic signals: a few drifting tones (0-1000 Hz) in noise at 44.1 kHz."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from trainer.data.clips import Clip, ClipSet
from trainer.errors import DataError

SAMPLE_RATE = 44100  # Hz, as in the paper
FREQ_MIN_HZ = 20.0  # no tones below this (sub-audio; under a few FFT bins of the lowband profile)
FREQ_MAX_HZ = 990.0  # top of the tone band (the lowband profile ends at 1000 Hz)
MAX_TONES = 10
MIN_TONE_SPACING_HZ = 12.0  # tones inside one signature are at least this far apart (> 2 lowband bins)
DISTINCT_HZ = 10.0  # two signatures differ if each has a tone farther than this from all the other's tones
MAX_DRIFT_HZ = 3.0  # random_signature's largest drift
AMPLITUDE_JITTER_DB = 1.5  # std of per-rendition, per-tone level jitter
RELATIVE_LEVEL_RANGE_DB = (-10.0, 0.0)  # per-tone level within a signature
ON_OFF_PROBABILITY = 0.3  # share of random signatures that pulse
ON_OFF_PERIOD_RANGE_SECONDS = (0.4, 2.0)
ON_OFF_DUTY_RANGE = (0.3, 0.8)
RAMP_SECONDS = 0.005  # raised-cosine edges of an on/off pattern, no clicks
DRIFT_KNOTS_PER_SECOND = 0.5  # how quickly the frequency offset wanders
TARGET_RMS_DBFS = -20.0  # level of every rendition before gain jitter
LEVEL_JITTER_DB = 3.0  # +/- uniform gain jitter of a whole rendition
PEAK_LIMIT = 0.98  # renditions are scaled down if they would peak above this
NOISE_KINDS = ("white", "pink", "brown")
NOISE_LABEL = "noise"


@dataclasses.dataclass(frozen=True)
class Signature:
    """A target's tonal signature.

    Attributes:
        id: class label, e.g. ``sig003``.
        freqs_hz: 1-10 tone frequencies in [20, 990] Hz, ascending.
        levels_db: relative level of each tone (0 dB = loudest).
        period_seconds: on/off pattern period, or ``None`` for a steady signal.
        duty: fraction of each period the tones are on (with ``period_seconds``).
        drift_hz: the tones wander within +/- this many Hz, slowly, in every rendition.
    """

    id: str
    freqs_hz: tuple[float, ...]
    levels_db: tuple[float, ...]
    period_seconds: float | None = None
    duty: float = 1.0
    drift_hz: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= len(self.freqs_hz) <= MAX_TONES:
            raise DataError(f"signature {self.id}: {len(self.freqs_hz)} tones; expected 1..{MAX_TONES}")
        if len(self.levels_db) != len(self.freqs_hz):
            raise DataError(
                f"signature {self.id}: {len(self.levels_db)} levels for {len(self.freqs_hz)} tones"
            )
        for f in self.freqs_hz:
            if not FREQ_MIN_HZ <= f <= FREQ_MAX_HZ:
                raise DataError(f"signature {self.id}: tone {f} Hz; expected {FREQ_MIN_HZ}..{FREQ_MAX_HZ} Hz")
        if self.period_seconds is not None and not (self.period_seconds > 0 and 0 < self.duty <= 1):
            raise DataError(
                f"signature {self.id}: on/off period {self.period_seconds} s, duty {self.duty}; "
                "expected period > 0 and 0 < duty <= 1"
            )
        if self.drift_hz < 0:
            raise DataError(f"signature {self.id}: drift {self.drift_hz} Hz; expected >= 0")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=data["id"],
            freqs_hz=tuple(float(f) for f in data["freqs_hz"]),
            levels_db=tuple(float(v) for v in data["levels_db"]),
            period_seconds=data.get("period_seconds"),
            duty=float(data.get("duty", 1.0)),
            drift_hz=float(data.get("drift_hz", 0.0)),
        )

    def distinct_from(self, other: Signature, tolerance_hz: float = DISTINCT_HZ) -> bool:
        """True when each signature has a tone more than ``tolerance_hz`` from every tone of the other."""
        a, b = np.asarray(self.freqs_hz), np.asarray(other.freqs_hz)
        distance = np.abs(a[:, None] - b[None, :])
        return bool(
            (distance.min(axis=1) > tolerance_hz).any() and (distance.min(axis=0) > tolerance_hz).any()
        )


def random_signature(
    rng: np.random.Generator,
    n_tones: int | None = None,
    id: str = "sig",
    on_off_probability: float = ON_OFF_PROBABILITY,
    max_drift_hz: float = MAX_DRIFT_HZ,
) -> Signature:
    """Draw a random signature: 1-10 tones at least 12 Hz apart in [20, 990] Hz.

    Args:
        rng: random source.
        n_tones: number of tones (1-10), random when ``None``.
        id: the signature's label.
        on_off_probability: chance the signature pulses on and off.
        max_drift_hz: drift is drawn uniformly in [0, max_drift_hz].
    """
    if n_tones is None:
        n_tones = int(rng.integers(1, MAX_TONES + 1))
    if not 1 <= n_tones <= MAX_TONES:
        raise DataError(f"n_tones: got {n_tones}; expected 1..{MAX_TONES}")
    freqs: list[float] = []
    while len(freqs) < n_tones:
        f = float(rng.uniform(FREQ_MIN_HZ, FREQ_MAX_HZ))
        if all(abs(f - g) >= MIN_TONE_SPACING_HZ for g in freqs):
            freqs.append(round(f, 2))
    levels = rng.uniform(*RELATIVE_LEVEL_RANGE_DB, size=n_tones)
    levels = np.round(levels - levels.max(), 2)
    order = np.argsort(freqs)
    period, duty = None, 1.0
    if rng.random() < on_off_probability:
        period = round(float(rng.uniform(*ON_OFF_PERIOD_RANGE_SECONDS)), 3)
        duty = round(float(rng.uniform(*ON_OFF_DUTY_RANGE)), 3)
    return Signature(
        id=id,
        freqs_hz=tuple(freqs[i] for i in order),
        levels_db=tuple(float(levels[i]) for i in order),
        period_seconds=period,
        duty=duty,
        drift_hz=round(float(rng.uniform(0.0, max_drift_hz)), 3),
    )


def noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power noise: ``white``, ``pink`` (1/f power) or ``brown`` (1/f^2), float64."""
    if kind not in NOISE_KINDS:
        raise DataError(f"noise kind: got {kind!r}; expected one of {', '.join(NOISE_KINDS)}")
    white = rng.standard_normal(n)
    if kind != "white" and n > 1:
        spectrum = np.fft.rfft(white)
        k = np.arange(len(spectrum), dtype=np.float64)
        k[0] = 1.0
        spectrum *= k ** (-0.5 if kind == "pink" else -1.0)
        spectrum[0] = 0.0
        white = np.fft.irfft(spectrum, n)
    power = float(np.mean(white**2)) if n else 0.0
    return white / np.sqrt(power) if power > 0 else white


def on_off_gate(
    signature: Signature, n: int, sample_rate: int, rng: np.random.Generator | None = None
) -> np.ndarray:
    """The signature's on/off envelope (1.0 when steady), with raised-cosine edges and a random phase."""
    if signature.period_seconds is None or signature.duty >= 1.0:
        return np.ones(n)
    period = signature.period_seconds * sample_rate
    phase = float(rng.uniform(0, period)) if rng is not None else 0.0
    position = (np.arange(n) + phase) % period
    on = signature.duty * period
    ramp = max(1.0, min(RAMP_SECONDS * sample_rate, on / 2, (period - on) / 2))
    # distance inside the "on" part from its nearer edge, clipped to the ramp length
    inside = np.minimum(position, on - position)
    gate = np.where(position < on, np.clip(inside / ramp, 0.0, 1.0), 0.0)
    return 0.5 - 0.5 * np.cos(np.pi * gate)


def render_parts(
    signature: Signature,
    seconds: float,
    snr_db: float,
    rng: np.random.Generator,
    noise_kind: str = "white",
    sample_rate: int = SAMPLE_RATE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One rendition, before level normalisation: ``(tones, noise, gate)`` as float64 arrays.

    Every call draws a new random phase per tone, a per-tone level jitter, a slow random frequency
    wander within +/- ``drift_hz`` and the on/off phase. The noise is scaled so that the tones'
    power measured where the gate is on, over the noise power, is ``snr_db``.
    """
    n = round(seconds * sample_rate)
    if n < 1:
        raise DataError(f"seconds: got {seconds}; expected a duration of at least one sample")
    t_knots = max(2, int(np.ceil(seconds * DRIFT_KNOTS_PER_SECOND)) + 2)
    knot_times = np.linspace(0, n, t_knots)
    samples = np.arange(n)
    tones = np.zeros(n)
    for freq, level in zip(signature.freqs_hz, signature.levels_db, strict=True):
        amplitude = 10 ** ((level + rng.normal(0.0, AMPLITUDE_JITTER_DB)) / 20)
        offsets = rng.uniform(-signature.drift_hz, signature.drift_hz, size=t_knots)
        inst_freq = freq + np.interp(samples, knot_times, offsets)
        phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.cumsum(inst_freq) / sample_rate
        tones += amplitude * np.sin(phase)
    gate = on_off_gate(signature, n, sample_rate, rng)
    tones *= gate
    active = gate > 0.5
    signal_power = float(np.mean(tones[active] ** 2)) if active.any() else float(np.mean(tones**2))
    bed = noise(noise_kind, n, rng) * np.sqrt(signal_power / 10 ** (snr_db / 10))
    return tones, bed, gate


def _normalise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x**2))) if len(x) else 0.0
    if rms == 0:
        return x.astype(np.float32)
    target = 10 ** ((TARGET_RMS_DBFS + rng.uniform(-LEVEL_JITTER_DB, LEVEL_JITTER_DB)) / 20)
    x = x * (target / rms)
    peak = float(np.max(np.abs(x)))
    if peak > PEAK_LIMIT:
        x *= PEAK_LIMIT / peak
    return x.astype(np.float32)


def render(
    signature: Signature,
    seconds: float,
    snr_db: float,
    rng: np.random.Generator,
    noise_kind: str = "white",
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """A new rendition of ``signature`` mixed with noise at ``snr_db`` (see :func:`render_parts`).

    Args:
        signature: what to play.
        seconds: duration.
        snr_db: tone power (over the on part) / noise power, dB.
        rng: random source.
        noise_kind: ``white``, ``pink`` or ``brown``.
        sample_rate: Hz (44.1 kHz by default, as in the paper).

    Returns:
        float32 samples at about -20 dBFS RMS (+/- 3 dB), peak <= 0.98.
    """
    tones, bed, _ = render_parts(signature, seconds, snr_db, rng, noise_kind, sample_rate)
    return _normalise(tones + bed, rng)


def render_noise(
    seconds: float, rng: np.random.Generator, noise_kind: str = "white", sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """A noise-only clip at the same level as :func:`render`'s."""
    return _normalise(noise(noise_kind, round(seconds * sample_rate), rng), rng)


def make_signatures(n_signatures: int, rng: np.random.Generator, max_attempts: int = 1000) -> list[Signature]:
    """``n_signatures`` random signatures ``sig000``..., each distinct from all the others."""
    out: list[Signature] = []
    attempts = 0
    while len(out) < n_signatures:
        candidate = random_signature(rng, id=f"sig{len(out):03d}")
        attempts += 1
        if all(candidate.distinct_from(other) for other in out):
            out.append(candidate)
        elif attempts > max_attempts:
            raise DataError(f"could not draw {n_signatures} distinct signatures in {max_attempts} attempts")
    return out


def make_dataset(
    n_signatures: int = 10,
    renditions_per_signature: int = 20,
    seconds: float = 4.0,
    snr_db_range: tuple[float, float] = (-20.0, 0.0),
    seed: int = 0,
    include_noise_only: bool = True,
    noise_kinds: Sequence[str] = ("white", "pink"),
    signatures: Sequence[Signature] | None = None,
) -> ClipSet:
    """Renditions of random signatures in noise: the low-feature paper's data set.

    Args:
        n_signatures: how many signatures (classes ``sig000``...), ignored when ``signatures`` is given.
        renditions_per_signature: clips per signature (and noise-only clips).
        seconds: clip duration.
        snr_db_range: each clip's SNR is drawn uniformly in ``[lo, hi]`` dB.
        seed: everything (signatures, renditions) is a function of the seed.
        include_noise_only: add a ``noise`` class of noise-only clips.
        noise_kinds: noise colours drawn from for each clip.
        signatures: use these signatures instead of drawing new ones.

    Returns:
        A ClipSet at 44.1 kHz; label and group are the signature id (``noise`` for noise-only clips);
        ``meta["signatures"]`` lists the signatures.
    """
    lo, hi = snr_db_range
    if lo > hi:
        raise DataError(f"snr_db_range: got ({lo}, {hi}); expected low <= high")
    if renditions_per_signature < 1 or (signatures is None and n_signatures < 1):
        raise DataError("expected at least one signature and one rendition per signature")
    for kind in noise_kinds:
        noise(kind, 0, np.random.default_rng(0))  # validates the name
    if signatures is None:
        signatures = make_signatures(n_signatures, np.random.default_rng([seed, 0]))
    clips: list[Clip] = []
    for index, signature in enumerate(signatures):
        for rendition in range(renditions_per_signature):
            rng = np.random.default_rng([seed, 1, index, rendition])
            snr = float(rng.uniform(lo, hi))
            kind = str(noise_kinds[int(rng.integers(len(noise_kinds)))])
            samples = render(signature, seconds, snr, rng, kind)
            source = (
                f"lowfeature {signature.id} rendition {rendition} snr {snr:.2f} dB {kind} noise seed {seed}"
            )
            clips.append(Clip(samples, SAMPLE_RATE, signature.id, signature.id, source))
    if include_noise_only:
        for rendition in range(renditions_per_signature):
            rng = np.random.default_rng([seed, 2, rendition])
            kind = str(noise_kinds[int(rng.integers(len(noise_kinds)))])
            samples = render_noise(seconds, rng, kind)
            source = f"lowfeature noise rendition {rendition} {kind} noise seed {seed}"
            clips.append(Clip(samples, SAMPLE_RATE, NOISE_LABEL, NOISE_LABEL, source))
    meta = {
        "generator": "lowfeature",
        "sample_rate": SAMPLE_RATE,
        "seed": seed,
        "seconds": seconds,
        "snr_db_range": [lo, hi],
        "noise_kinds": list(noise_kinds),
        "signatures": [signature.to_dict() for signature in signatures],
    }
    return ClipSet(clips=clips, meta=meta)
