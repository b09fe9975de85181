"""The daemon's pipeline: source thread -> sample ring -> Detector -> sinks, with reload, stats, shutdown."""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog

from detector.audio.ring import SampleRing
from detector.audio.source import Source
from detector.audio.sources import open_source
from detector.config import Config
from detector.detection import Detector
from detector.errors import AudioInputError
from detector.events import Event
from detector.features import FrontEnd
from detector.models import Model, load_model
from detector.signatures.directory import SignatureDirectory

if TYPE_CHECKING:
    from detector.sinks import Sink

log = structlog.get_logger("detector")

READ_TIMEOUT_SECONDS = 0.25  # longest wait for samples before re-checking for shutdown
SILENCE_DBFS = -120.0  # level reported for digital silence
SIGNATURE_SCAN_SECONDS = 2.0  # how often the signatures directory is checked for changes
PROJECT_ROOT = Path(__file__).resolve().parents[1]  # where models/ ships


@dataclass
class StreamStats:
    """Running totals of one stream, reported periodically and at the end."""

    samples: int = 0  # samples fed to the front end
    frames: int = 0  # feature frames produced
    gaps: int = 0  # discontinuities (dropped samples) the front end was re-synchronised over
    started_monotonic: float = field(default_factory=time.monotonic)
    _energy: float = 0.0  # sum of squares since the last report
    _energy_n: int = 0

    def add(self, samples: np.ndarray, n_frames: int) -> None:
        """Count a block of samples fed to the front end and the frames it produced."""
        self.samples += len(samples)
        self.frames += n_frames
        self._energy += float(np.dot(samples, samples))
        self._energy_n += len(samples)

    def level_dbfs(self) -> float:
        """RMS level since the last call, in dB relative to full scale (a full-scale sine is -3 dBFS)."""
        if self._energy_n == 0:
            return SILENCE_DBFS
        mean = self._energy / self._energy_n
        self._energy, self._energy_n = 0.0, 0
        return SILENCE_DBFS if mean <= 1e-12 else max(SILENCE_DBFS, 10.0 * math.log10(mean))


@dataclass(frozen=True)
class RunSummary:
    """What a finished run did."""

    seconds_audio: float
    seconds_wall: float
    frames: int
    dropped_samples: int
    gaps: int
    events: int  # event messages (start and end) sent to the sinks
    features: np.ndarray | None  # all frames, when kept

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio processed per wall-clock second."""
        return self.seconds_audio / self.seconds_wall if self.seconds_wall > 0 else math.inf


def resolve_path(path: str) -> Path:
    """A config path: as given if absolute or present in the working directory, else where it ships.

    Shipped files (``models/...``) sit in the source tree for a git checkout or editable install, and
    under ``<prefix>/share/sigdetect/`` for a wheel install.
    """
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    for root in (PROJECT_ROOT, Path(sys.prefix) / "share" / "sigdetect"):
        if (root / p).exists():
            return root / p
    return p


class Pipeline:
    """Runs one source through ring -> features -> model -> events -> sinks until it ends or ``stop()``.

    With ``detection.model: null`` it runs the front end only (features, stats; no events).
    """

    def __init__(
        self,
        cfg: Config,
        source: Source | None = None,
        *,
        sinks: list[Sink] | None = None,
        model: Model | None = None,
    ) -> None:
        self.cfg = cfg
        det = cfg.detection
        if model is None and det.model is not None:
            model = load_model(resolve_path(det.model), num_threads=det.threads, max_batch=det.max_batch)
        self.model = model
        self.spec = model.spec if model is not None else cfg.feature_spec()
        if model is not None and cfg.feature_spec() != self.spec:
            log.info("features_from_model", model=model.name, profile_ignored=cfg.features.profile)
        self.source = source or open_source(cfg.audio, self.spec.sample_rate)
        self.ring = SampleRing(max(self.spec.n_fft * 2, int(cfg.audio.ring_seconds * self.spec.sample_rate)))
        self.sinks: list[Sink] = list(sinks or [])
        self.signatures: SignatureDirectory | None = None
        self.detector: Detector | None = None
        self.front = FrontEnd(self.spec)  # features-only mode
        if model is not None:
            if model.kind == "embedding":
                self.signatures = SignatureDirectory(resolve_path(det.signatures), model)
            self.detector = Detector(model, det, device=cfg.device_name)
        self.stats = StreamStats()
        self.events_sent = 0
        self.sink_errors = 0
        self._stop = threading.Event()
        self._reload = threading.Event()

    # ------------------------------------------------------------------ control (any thread)
    def stop(self) -> None:
        """Ask the pipeline to finish: capture stops, what is in the ring is still processed."""
        self._stop.set()
        self.source.stop()

    def request_reload(self) -> None:
        """Re-read the signatures directory at the next block (SIGHUP, remote enrollment)."""
        self._reload.set()

    def install_signature(self, target: str, payload: bytes) -> tuple[bool, str]:
        """Remote enrollment: validate and write ``<target>.sig``, then hot-load it."""
        if self.signatures is None:
            return False, f"model {self.model.name if self.model else None!r} does not use signatures"
        ok, message = self.signatures.install(target, payload)
        if ok:
            self.request_reload()
        log.info("remote_enrollment", target=target, action="set", ok=ok, message=message)
        return ok, message

    def remove_signature(self, target: str) -> tuple[bool, str]:
        """Remote enrollment: delete ``<target>.sig`` and unload it."""
        if self.signatures is None:
            return False, "this model does not use signatures"
        ok, message = self.signatures.remove(target)
        if ok:
            self.request_reload()
        log.info("remote_enrollment", target=target, action="delete", ok=ok, message=message)
        return ok, message

    # ------------------------------------------------------------------ the processing thread
    def _load_signatures(self) -> None:
        assert self.signatures is not None and self.detector is not None
        self._reload.clear()
        loaded = self.signatures.load()
        before = set(self.detector.targets)
        self._dispatch(self.detector.set_signatures(loaded))
        after = set(self.detector.targets)
        if before != after or not before:
            log.info(
                "signatures_loaded",
                directory=str(self.signatures.path),
                targets=sorted(after),
                rejected=len(self.signatures.rejected),
            )
        self._announce_targets()

    def _announce_targets(self) -> None:
        names = sorted(self.detector.targets) if self.detector is not None else []
        for sink in self.sinks:
            set_targets = getattr(sink, "set_targets", None)
            if set_targets is not None:
                try:
                    set_targets(names)
                except Exception as exc:  # noqa: BLE001 - a sink problem must not stop detection
                    log.error("sink_error", sink=type(sink).__name__, error=f"{type(exc).__name__}: {exc}")

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            self.events_sent += 1
            for sink in self.sinks:
                try:
                    sink.publish(event)
                except Exception as exc:  # noqa: BLE001 - one sink failing must not lose the others' events
                    self.sink_errors += 1
                    log.error(
                        "sink_error",
                        sink=type(sink).__name__,
                        target=event.target,
                        seq=event.seq,
                        error=f"{type(exc).__name__}: {exc}",
                    )

    def run(self, keep_features: bool = False) -> RunSummary:
        spec, ring, stats = self.spec, self.ring, self.stats
        kept: list[np.ndarray] = []
        log.info(
            "stream_start",
            source=self.source.describe(),
            sample_rate=spec.sample_rate,
            model=self.model.name if self.model is not None else None,
            n_bands=spec.n_bands,
            hop_ms=1000 * spec.hop_length / spec.sample_rate,
        )
        if self.signatures is not None:
            self._load_signatures()
        else:
            self._announce_targets()
        started = time.monotonic()
        cpu_started = time.process_time()
        next_report = started + self.cfg.stats.interval_seconds
        next_scan = started + SIGNATURE_SCAN_SECONDS
        expected_start = 0  # stream index of the next sample the front end expects
        detector = self.detector
        if keep_features and detector is not None:
            detector.keep_frames = kept
        self.source.start(ring)
        try:
            while True:
                block = ring.peek(timeout=READ_TIMEOUT_SECONDS)
                if block is None:
                    if ring.closed and ring.available() == 0:
                        break
                else:
                    if block.start != expected_start:
                        # samples were dropped: frames cannot span the gap, restart them after it
                        stats.gaps += 1
                        log.warning(
                            "stream_gap",
                            lost_samples=block.start - expected_start,
                            at_seconds=expected_start / spec.sample_rate,
                        )
                        if detector is not None:
                            detector.restart(block.start)
                        else:
                            self.front.reset()
                    if detector is not None:
                        n_before = detector.front.frames_emitted
                        self._dispatch(detector.push(block.samples))
                        n_frames = detector.front.frames_emitted - n_before
                    else:
                        frames = self.front.push(block.samples)
                        n_frames = len(frames)
                        if keep_features and n_frames:
                            kept.append(frames)
                    stats.add(block.samples, n_frames)
                    ring.consume(len(block.samples))
                    expected_start = block.end
                now = time.monotonic()
                if self.signatures is not None and (
                    self._reload.is_set() or (now >= next_scan and self.signatures.changed())
                ):
                    self._load_signatures()
                if now >= next_scan:
                    next_scan = now + SIGNATURE_SCAN_SECONDS
                if now >= next_report:
                    self._report(now - started, time.process_time() - cpu_started)
                    next_report = now + self.cfg.stats.interval_seconds
        finally:
            self.source.stop()
            self.source.join(timeout=5.0)
            if detector is not None:
                self._dispatch(detector.flush())
        if self.source.error is not None:
            err = self.source.error
            raise (
                err
                if isinstance(err, AudioInputError)
                else AudioInputError(f"{self.source.describe()}: {type(err).__name__}: {err}")
            ) from err
        wall = time.monotonic() - started
        summary = RunSummary(
            seconds_audio=expected_start / spec.sample_rate,
            seconds_wall=wall,
            frames=stats.frames,
            dropped_samples=ring.stats().dropped,
            gaps=stats.gaps,
            events=self.events_sent,
            features=np.concatenate(kept)
            if kept
            else (np.zeros((0, spec.n_bands), np.float32) if keep_features else None),
        )
        log.info(
            "stream_end",
            seconds_audio=round(summary.seconds_audio, 3),
            seconds_wall=round(wall, 3),
            realtime_factor=round(summary.realtime_factor, 1),
            frames=summary.frames,
            events=summary.events,
            dropped_samples=summary.dropped_samples,
            gaps=summary.gaps,
            **self.source.stats(),
        )
        return summary

    def stats_message(self, wall: float, cpu: float) -> dict[str, Any]:
        """The periodic stats (logged, and published on MQTT)."""
        ring = self.ring.stats()
        audio_seconds = self.stats.samples / self.spec.sample_rate
        out: dict[str, Any] = {
            "device": self.cfg.device_name,
            "seconds_audio": round(audio_seconds, 3),
            "realtime_factor": round(audio_seconds / wall, 2) if wall > 0 else None,
            "cpu_percent": round(100.0 * cpu / wall, 1) if wall > 0 else None,
            "frames": self.stats.frames,
            "level_dbfs": round(self.stats.level_dbfs(), 1),
            "dropped_samples": ring.dropped,
            "overflows": ring.overflows,
            "ring_fill": ring.fill,
            "gaps": self.stats.gaps,
            "events": self.events_sent,
            "sink_errors": self.sink_errors,
            "audio": self.source.stats(),
        }
        if self.detector is not None:
            d = self.detector.stats
            out |= {
                "targets": sorted(self.detector.targets),
                "windows": d.windows,
                "windows_gated": d.windows_gated,
                "model_errors": d.model_errors,
                "inference_ms_per_call": round(1000 * d.inference_seconds / d.model_calls, 3)
                if d.model_calls
                else None,
            }
        for sink in self.sinks:
            sink_stats = getattr(sink, "stats", None)
            if sink_stats is not None:
                with contextlib.suppress(Exception):  # stats are best effort
                    out |= {k: v for k, v in sink_stats().items() if k.startswith(("spool_", "connected"))}
        return out

    def _report(self, wall: float, cpu: float) -> None:
        message = self.stats_message(wall, cpu)
        log.info("stats", **message)
        for sink in self.sinks:
            publish_stats = getattr(sink, "publish_stats", None)
            if publish_stats is not None:
                try:
                    publish_stats(message)
                except Exception as exc:  # noqa: BLE001 - stats are best effort
                    log.warning("stats_publish_failed", sink=type(sink).__name__, error=str(exc))


def install_signal_handlers(pipeline: Pipeline) -> None:
    """SIGTERM and SIGINT stop the pipeline gracefully (the ring is drained, then run() returns);
    SIGHUP re-reads the signatures directory."""

    def handler(signum: int, _frame: object) -> None:
        log.info("shutdown_requested", signal=signal.Signals(signum).name)
        pipeline.stop()

    def reload(_signum: int, _frame: object) -> None:
        log.info("reload_requested", signal="SIGHUP")
        pipeline.request_reload()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGHUP, reload)
