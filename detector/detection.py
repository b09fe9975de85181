"""Detection: samples -> features -> patches -> one model call per patch -> per-target scores -> events.

``Detector`` is the part of the data flow between the sample ring and the sinks, and the one code path
both the daemon and the offline benchmarks run. Samples are pushed in any block sizes; every
``patch_hop_frames`` frames a patch of the last ``patch_frames`` frames is cut, and one model call per
batch of patches serves every target:

- model kind ``embedding``: each enrolled signature scores the shared embedding (a ``binary`` signature
  runs its own small head on the same patches);
- model kind ``binary``: one target, the model's name, scored by its sigmoid output;
- model kind ``classifier``: one target per label, scored by that label's probability.

Each target's score stream then goes through ambient adaptation (``AmbientNormaliser``: the effective
threshold is the larger of the target's own and the score this box's recent ambience exceeds with
probability ``1 - adaptive.threshold``) and the event logic (``EventTracker``). Window times come from
the sample counter: ``restart(at_sample)`` after a gap keeps them exact.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import structlog

from detector.config import DetectionConfig
from detector.errors import ConfigError
from detector.events import Event, EventRules, EventTracker, sequence, utc_now_iso
from detector.features import FrontEnd
from detector.signatures.adaptive import AmbientNormaliser
from detector.signatures.signature import Signature

log = structlog.get_logger("detector")

SILENCE_DBFS = -120.0  # level reported for digital silence
ERROR_LOG_EVERY = 100  # log a repeating scoring error once per this many occurrences


def level_dbfs(energy: float, n: int) -> float:
    """RMS level of ``n`` samples with sum of squares ``energy``, in dB re full scale."""
    if n <= 0 or energy <= 1e-12 * n:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 10.0 * math.log10(energy / n))


@dataclass
class Target:
    """One thing the detector listens for, with its event state."""

    name: str
    signature_id: str  # short hash of the .sig file, or of the model for binary/classifier models
    needs_patches: bool  # scored on feature patches (binary head) instead of the model's outputs
    score: Callable[[np.ndarray], np.ndarray]  # model outputs (or patches) -> 0..1 per window
    tracker: EventTracker
    normaliser: AmbientNormaliser | None
    signature: Signature | None = None
    source_sha256: str = ""  # full hash of the .sig file: a changed file replaces the target
    errors: int = 0


@dataclass
class DetectorStats:
    """Running totals (reported in the daemon's stats)."""

    windows: int = 0  # patches cut
    windows_gated: int = 0  # skipped by the input-level gate
    model_calls: int = 0
    model_errors: int = 0
    inference_seconds: float = 0.0
    events: dict[str, int] = field(default_factory=dict)  # started, per target


class Detector:
    """Samples in, events out, for one model and its targets."""

    def __init__(
        self,
        model: object,
        settings: DetectionConfig,
        *,
        device: str,
        signatures: dict[str, Signature] | None = None,
        clock: Callable[[], str] = utc_now_iso,
    ) -> None:
        """Set up an idle detector.

        Args:
            model: A loaded model (``detector.models.load_model``).
            settings: The config's ``detection`` section (events, adaptive, gate).
            device: Device id for the events.
            signatures: ``{target: Signature}`` for an ``embedding`` model (ignored otherwise).
            clock: Wall-clock time for the events' ``wallclock``.
        """
        self.model = model
        self.settings = settings
        self.device = device
        self.spec = model.spec
        self.front = FrontEnd(self.spec)
        self.stats = DetectorStats()
        self._clock = clock
        self._seq = sequence()
        self._patch = int(self.spec.patch_frames)
        self._patch_hop = int(self.spec.patch_hop_frames)
        self._hop = int(self.spec.hop_length)
        self._rate = float(self.spec.sample_rate)
        self._patch_hop_seconds = self._patch_hop * self._hop / self._rate
        self._rules = EventRules(
            threshold=None,
            hysteresis=settings.events.hysteresis,
            min_windows=settings.events.min_windows,
            hold_seconds=settings.events.hold_seconds,
            refractory_seconds=settings.events.refractory_seconds,
        )
        self.targets: dict[str, Target] = {}
        self.keep_frames: list[np.ndarray] | None = None  # when a list: every frame is appended to it
        self.restart(0)
        if model.kind == "embedding":
            self.set_signatures(signatures or {})
        elif model.kind == "binary":
            self._add(self._model_target(model.name, 0))
        elif model.kind == "classifier":
            labels = list(model.labels or ())
            unknown = [name for name in settings.listen if name not in labels]
            if unknown:
                raise ConfigError(
                    None,
                    "detection.listen",
                    unknown,
                    f"labels of model {model.name!r}: {', '.join(labels)}",
                )
            for i, label in enumerate(labels):
                if not settings.listen or label in settings.listen:
                    self._add(self._model_target(label, i))
        else:
            raise ValueError(f"model {model.name!r}: unknown kind {model.kind!r}")

    # ------------------------------------------------------------------ targets
    def _threshold(self, name: str, own: float) -> float:
        ev = self.settings.events
        if name in ev.thresholds:
            return float(ev.thresholds[name])
        return float(ev.threshold) if ev.threshold is not None else float(own)

    def _tracker(self, name: str, threshold: float, signature_id: str) -> EventTracker:
        return EventTracker(
            name,
            self._rules,
            threshold=self._threshold(name, threshold),
            patch_hop_seconds=self._patch_hop_seconds,
            device=self.device,
            model=self.model.name,
            signature=signature_id,
            seq=self._seq,
            clock=self._clock,
        )

    def _normaliser(self) -> AmbientNormaliser | None:
        ad = self.settings.adaptive
        return AmbientNormaliser(ad.window, warmup=ad.warmup) if ad.enabled else None

    def _model_target(self, name: str, column: int) -> Target:
        sid = self.model.sha256[:12]
        return Target(
            name=name,
            signature_id=sid,
            needs_patches=False,
            score=lambda outputs, c=column: np.asarray(outputs[:, c], dtype=np.float64),
            tracker=self._tracker(name, 0.5, sid),
            normaliser=self._normaliser(),
        )

    def _signature_target(self, sig: Signature) -> Target:
        sid = (sig.file_sha256 or "")[:12]
        return Target(
            name=sig.name,
            signature_id=sid,
            needs_patches=sig.needs_patches,
            score=sig.score_patches if sig.needs_patches else sig.score,
            tracker=self._tracker(sig.name, sig.threshold, sid),
            normaliser=self._normaliser(),
            signature=sig,
            source_sha256=sig.file_sha256,
        )

    def _add(self, target: Target) -> None:
        self.targets[target.name] = target
        self.stats.events.setdefault(target.name, 0)

    def set_signatures(self, signatures: dict[str, Signature]) -> list[Event]:
        """Replace the enrolled targets (hot reload); unchanged signatures keep their state.

        Returns:
            The ``end`` events of open events of targets removed or replaced.
        """
        if self.model.kind != "embedding":
            return []
        ended: list[Event] = []
        for name in list(self.targets):
            old = self.targets[name]
            new = signatures.get(name)
            if new is None or not new.file_sha256 or new.file_sha256 != old.source_sha256:
                ended += old.tracker.flush()
                del self.targets[name]
        for name, sig in signatures.items():
            if name not in self.targets:
                self._add(self._signature_target(sig))
        return ended

    # ------------------------------------------------------------------ stream
    def restart(self, at_sample: int) -> None:
        """Start a new segment at stream sample ``at_sample`` (after a gap: frames cannot span it)."""
        self.front.reset()
        self._segment_start = int(at_sample)
        self._frames = np.zeros((0, self.spec.n_bands), dtype=np.float32)
        self._frame0 = 0  # segment frame index of _frames[0]
        self._hop_energy = np.zeros(0, dtype=np.float64)  # per hop of samples, from hop _frame0 on
        self._sq_tail = np.zeros(0, dtype=np.float64)  # squares of the samples of an unfinished hop
        self._next_patch = 0  # segment frame index where the next patch starts

    def push(self, samples: np.ndarray) -> list[Event]:
        """Feed consecutive float32 mono samples; returns the events they complete, in order."""
        frames = self.front.push(samples)
        sq = np.concatenate([self._sq_tail, np.square(samples, dtype=np.float64)])
        n_hops = len(sq) // self._hop
        if n_hops:
            energies = sq[: n_hops * self._hop].reshape(n_hops, self._hop).sum(axis=1)
            self._hop_energy = np.concatenate([self._hop_energy, energies])
        self._sq_tail = sq[n_hops * self._hop :]
        if len(frames) and self.keep_frames is not None:
            self.keep_frames.append(frames)
        if len(frames):
            self._frames = np.concatenate([self._frames, frames]) if len(self._frames) else frames
        return self._score_ready()

    def flush(self) -> list[Event]:
        """End every open event (stream end, shutdown)."""
        out: list[Event] = []
        for target in self.targets.values():
            out += target.tracker.flush()
        return out

    def _score_ready(self) -> list[Event]:
        P, H = self._patch, self._patch_hop
        have = self._frame0 + len(self._frames)  # segment frames so far
        if self._next_patch + P > have:
            return []
        starts = np.arange(self._next_patch, have - P + 1, H)
        local = starts - self._frame0
        view = np.lib.stride_tricks.sliding_window_view(self._frames, P, axis=0)  # (n, bands, P)
        patches = np.ascontiguousarray(view[local].transpose(0, 2, 1))
        hops = np.cumsum(np.concatenate([[0.0], self._hop_energy]))
        energy = hops[np.minimum(local + P, len(hops) - 1)] - hops[np.minimum(local, len(hops) - 1)]
        levels = [level_dbfs(e, P * self._hop) for e in energy]
        self._next_patch = int(starts[-1]) + H
        drop = self._next_patch - self._frame0  # frames no later patch needs
        self._frames = self._frames[drop:]
        self._hop_energy = self._hop_energy[drop:]
        self._frame0 = self._next_patch
        return self._score(starts, patches, np.asarray(levels))

    def _score(self, starts: np.ndarray, patches: np.ndarray, levels: np.ndarray) -> list[Event]:
        n = len(starts)
        self.stats.windows += n
        gate = self.settings.gate_dbfs
        live = np.ones(n, dtype=bool) if gate is None else levels >= gate
        self.stats.windows_gated += int(n - live.sum())
        scores = {name: np.zeros(n) for name in self.targets}
        if live.any() and self.targets:
            live_patches = patches[live] if not live.all() else patches
            outputs = None
            if any(not t.needs_patches for t in self.targets.values()):
                t0 = time.perf_counter()
                try:
                    outputs = self.model.run(live_patches)
                    self.stats.model_calls += 1
                except Exception as exc:  # noqa: BLE001 - one bad batch must not stop the daemon
                    self.stats.model_errors += 1
                    log.error("model_error", model=self.model.name, error=f"{type(exc).__name__}: {exc}")
                self.stats.inference_seconds += time.perf_counter() - t0
            for name, target in self.targets.items():
                if outputs is None and not target.needs_patches:
                    continue
                try:
                    s = target.score(live_patches if target.needs_patches else outputs)
                    s = np.asarray(s, dtype=np.float64)
                    scores[name][live] = np.where(s == s, s, 0.0)  # NaN -> 0
                except Exception as exc:  # noqa: BLE001 - a broken target must not stop the others
                    target.errors += 1
                    if target.errors % ERROR_LOG_EVERY == 1:
                        log.error("scoring_error", target=name, error=f"{type(exc).__name__}: {exc}")
        events: list[Event] = []
        seg, rate = self._segment_start, self._rate
        span = (self._patch - 1) * self._hop + self.spec.n_fft
        tail = 1.0 - self.settings.adaptive.threshold
        columns = [(name, target, scores[name].tolist()) for name, target in self.targets.items()]
        for i in range(n):  # window by window, so events (and their seq) come out in time order
            start_sample = seg + int(starts[i]) * self._hop
            t0, t1 = start_sample / rate, (start_sample + span) / rate
            level, is_live = float(levels[i]), bool(live[i])
            for name, target, column in columns:
                s = column[i]
                norm = target.normaliser
                threshold = None
                if norm is not None and norm.warm:
                    threshold = norm.score_at(tail)
                    if threshold != threshold:  # NaN
                        threshold = None
                new = target.tracker.update(t0, t1, s, level, threshold)
                if norm is not None and is_live:
                    norm.update(s, detected=target.tracker.busy)
                if new:
                    for event in new:
                        if event.state == "start":
                            self.stats.events[name] = self.stats.events.get(name, 0) + 1
                    events += new
        return events
