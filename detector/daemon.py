"""The streaming pipeline: source thread -> sample ring -> sliding STFT front end, with stats and shutdown."""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import structlog

from detector.audio.ring import SampleRing
from detector.audio.source import Source
from detector.audio.sources import open_source
from detector.config import Config
from detector.errors import AudioInputError
from detector.features import FeatureSpec, FrontEnd

log = structlog.get_logger("detector")

READ_TIMEOUT_SECONDS = 0.25  # longest wait for samples before re-checking for shutdown
SILENCE_DBFS = -120.0  # level reported for digital silence


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
    features: np.ndarray | None  # all frames, when kept

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio processed per wall-clock second."""
        return self.seconds_audio / self.seconds_wall if self.seconds_wall > 0 else math.inf


class Pipeline:
    """Runs one source through the ring and the front end until the source ends or ``stop()``."""

    def __init__(self, cfg: Config, source: Source | None = None, spec: FeatureSpec | None = None) -> None:
        self.cfg = cfg
        self.spec = spec or cfg.feature_spec()
        self.source = source or open_source(cfg.audio, self.spec.sample_rate)
        self.ring = SampleRing(max(self.spec.n_fft * 2, int(cfg.audio.ring_seconds * self.spec.sample_rate)))
        self.front = FrontEnd(self.spec)
        self.stats = StreamStats()
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the pipeline to finish: capture stops, what is in the ring is still processed."""
        self._stop.set()
        self.source.stop()

    def run(self, keep_features: bool = False) -> RunSummary:
        spec, ring, front, stats = self.spec, self.ring, self.front, self.stats
        kept: list[np.ndarray] = []
        log.info(
            "stream_start",
            source=self.source.describe(),
            sample_rate=spec.sample_rate,
            profile=self.cfg.features.profile,
            n_bands=spec.n_bands,
            hop_ms=1000 * spec.hop_length / spec.sample_rate,
        )
        started = time.monotonic()
        next_report = started + self.cfg.stats.interval_seconds
        expected_start = 0  # stream index of the next sample the front end expects
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
                        front.reset()
                    frames = front.push(block.samples)
                    stats.add(block.samples, len(frames))
                    ring.consume(len(block.samples))
                    expected_start = block.end
                    if keep_features and len(frames):
                        kept.append(frames)
                now = time.monotonic()
                if now >= next_report:
                    self._report(now - started)
                    next_report = now + self.cfg.stats.interval_seconds
        finally:
            self.source.stop()
            self.source.join(timeout=5.0)
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
            dropped_samples=summary.dropped_samples,
            gaps=summary.gaps,
            **self.source.stats(),
        )
        return summary

    def _report(self, wall: float) -> None:
        ring = self.ring.stats()
        audio_seconds = self.stats.samples / self.spec.sample_rate
        log.info(
            "stats",
            seconds_audio=round(audio_seconds, 3),
            realtime_factor=round(audio_seconds / wall, 2),
            frames=self.stats.frames,
            level_dbfs=round(self.stats.level_dbfs(), 1),
            dropped_samples=ring.dropped,
            overflows=ring.overflows,
            ring_fill=ring.fill,
            gaps=self.stats.gaps,
            **self.source.stats(),
        )


def install_signal_handlers(pipeline: Pipeline) -> None:
    """SIGTERM and SIGINT stop the pipeline gracefully (the ring is drained, then run() returns)."""

    def handler(signum: int, _frame: object) -> None:
        log.info("shutdown_requested", signal=signal.Signals(signum).name)
        pipeline.stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
