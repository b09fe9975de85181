"""Event logic: a per-target stream of window scores -> `start` / `end` events with exact stream times.

Each scored window (one patch) arrives as ``update(window_start_s, window_end_s, score, level_dbfs)``,
times in seconds from the stream's first sample (derived from the sample counter, so exact). Per target:

- a *candidate* begins at the first window with ``score >= threshold`` and becomes an event once
  ``min_windows`` consecutive windows reach the threshold; the ``start`` event goes out at that moment,
  back-dated to the candidate's first window;
- the event stays open while windows score at least ``threshold - hysteresis``, and for ``hold_seconds``
  after the last such window (short dips do not split one sound into several events);
- then the ``end`` event goes out, with the duration, mean and peak score; no new event starts for
  ``refractory_seconds`` after it ended.

Event times are window *centres*: an event's start is the centre of its first window less half a patch
hop, its end the centre of its last window plus half a hop (a 1 s patch that fires while a short sound
sits anywhere inside it would otherwise be reported up to 1 s early). ``Event`` is the one JSON object
DESIGN.md specifies; the same object goes to every sink.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal


def utc_now_iso() -> str:
    """Wall-clock time now, ISO-8601 UTC with milliseconds (``2026-11-22T06:30:00.123Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Event:
    """One detection message: a target's sound started, or ended.

    Attributes:
        id: The same for an event's ``start`` and ``end`` messages.
        seq: Increases by one with every message of this daemon run (start and end alike).
        device: The box's device id.
        target: The signature's (or label's) name.
        state: ``"start"`` or ``"end"``.
        start: Seconds from the first sample of the stream to the sound's start.
        end: Seconds to its end (``None`` in a ``start`` message: not known yet).
        score: A ``start``: the score that decided it; an ``end``: the mean over the event's windows.
        peak_score: The highest window score so far.
        model: Name of the model that produced the scores.
        signature: The signature file's content hash (short), or the label for a classifier.
        level_dbfs: Input RMS level of the loudest window of the event so far, in dBFS.
        wallclock: When the message was made, ISO-8601 UTC.
    """

    id: str
    seq: int
    device: str
    target: str
    state: Literal["start", "end"]
    start: float
    end: float | None
    score: float
    peak_score: float
    model: str
    signature: str
    level_dbfs: float
    wallclock: str

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"event JSON lacks {', '.join(missing)}")
        return cls(**{n: data[n] for n in names})


@dataclass(frozen=True)
class EventRules:
    """How a target's window scores become events (config ``events``; a signature gives the threshold).

    Attributes:
        threshold: Score a window must reach; ``None``: the signature's own threshold.
        hysteresis: An open event continues while scores stay at or above ``threshold - hysteresis``.
        min_windows: Consecutive windows at or above the threshold before an event starts.
        hold_seconds: An open event survives dips below the lower threshold this long.
        refractory_seconds: After an event ends, no new one starts for this long.
    """

    threshold: float | None = None
    hysteresis: float = 0.05
    min_windows: int = 2
    hold_seconds: float = 0.3
    refractory_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold: got {self.threshold!r}; expected in [0, 1] or None")
        if not 0.0 <= self.hysteresis < 1.0:
            raise ValueError(f"hysteresis: got {self.hysteresis!r}; expected in [0, 1)")
        if self.min_windows < 1:
            raise ValueError(f"min_windows: got {self.min_windows!r}; expected >= 1")
        if self.hold_seconds < 0 or self.refractory_seconds < 0:
            raise ValueError("hold_seconds and refractory_seconds must be >= 0")


def sequence(start: int = 1) -> Iterator[int]:
    """The message counter shared by all of a run's trackers (``seq``)."""
    return itertools.count(start)


class EventTracker:
    """The event state machine of one target."""

    def __init__(
        self,
        target: str,
        rules: EventRules,
        *,
        threshold: float,
        patch_hop_seconds: float,
        device: str,
        model: str,
        signature: str,
        seq: Iterator[int],
        clock: Callable[[], str] = utc_now_iso,
    ) -> None:
        """Set up an idle tracker.

        Args:
            target: Name in the events.
            rules: Event rules; ``rules.threshold`` (when set) overrides ``threshold``.
            threshold: The signature's threshold, used when the rules do not set one.
            patch_hop_seconds: Time between successive windows (the patch hop).
            device, model, signature: Copied into the events.
            seq: The run's shared message counter (``sequence()``).
            clock: Wall-clock time for ``wallclock`` (injectable for tests).
        """
        self.target = target
        self.rules = rules
        self.threshold = float(rules.threshold if rules.threshold is not None else threshold)
        self.half_hop = patch_hop_seconds / 2.0
        self.device, self.model, self.signature = device, model, signature
        self._seq, self._clock = seq, clock
        self.events = 0  # events started
        self._reset_event()
        self._refractory_until = -math.inf

    def _reset_event(self) -> None:
        self._id: str | None = None  # set while an event is open
        self._run = 0  # consecutive windows at/over the threshold (candidate)
        self._first_centre = 0.0
        self._last_centre = 0.0  # centre of the last window at/over the lower threshold
        self._peak = -math.inf
        self._sum = 0.0
        self._n = 0
        self._loudest = -math.inf

    @property
    def active(self) -> bool:
        """True while an event is open (its ``start`` sent, its ``end`` not yet)."""
        return self._id is not None

    @property
    def busy(self) -> bool:
        """True while an event is open or a candidate is building: windows that are not ambient."""
        return self._id is not None or self._run > 0

    def update(
        self, start_s: float, end_s: float, score: float, level_dbfs: float, threshold: float | None = None
    ) -> list[Event]:
        """Feed one window's score; returns the events it completes (none, a start, an end, or both).

        Args:
            start_s, end_s: The window's span in stream seconds.
            score: Its score, 0..1 (NaN counts as 0).
            level_dbfs: Its input level.
            threshold: This window's effective threshold (e.g. raised by ambient adaptation);
                ``None``: the tracker's own.
        """
        on = self.threshold if threshold is None else max(self.threshold, float(threshold))
        off = on - self.rules.hysteresis
        score = 0.0 if math.isnan(score) else float(score)
        centre = 0.5 * (start_s + end_s)
        out: list[Event] = []
        if self.active:
            if score >= off:
                self._accumulate(centre, score, level_dbfs)
                return out
            if centre - self._last_centre <= self.rules.hold_seconds:
                return out
            out.append(self._end())
        if centre < self._refractory_until:
            return out
        if score >= on:
            if self._run == 0:
                self._first_centre = centre
            self._run += 1
            self._accumulate(centre, score, level_dbfs)
            if self._run >= self.rules.min_windows:
                out.append(self._start(score))
        elif self._run:
            self._reset_event()  # the candidate fell short of min_windows
        return out

    def flush(self) -> list[Event]:
        """End an open event (stream end or shutdown); drops an undecided candidate."""
        out = [self._end()] if self.active else []
        self._reset_event()
        return out

    def _accumulate(self, centre: float, score: float, level_dbfs: float) -> None:
        self._last_centre = centre
        self._peak = max(self._peak, score)
        self._sum += score
        self._n += 1
        self._loudest = max(self._loudest, level_dbfs)

    def _message(self, state: Literal["start", "end"], score: float) -> Event:
        assert self._id is not None
        return Event(
            id=self._id,
            seq=next(self._seq),
            device=self.device,
            target=self.target,
            state=state,
            start=round(max(0.0, self._first_centre - self.half_hop), 6),
            end=round(self._last_centre + self.half_hop, 6) if state == "end" else None,
            score=round(score, 6),
            peak_score=round(self._peak, 6),
            model=self.model,
            signature=self.signature,
            level_dbfs=round(self._loudest, 2),
            wallclock=self._clock(),
        )

    def _start(self, score: float) -> Event:
        self._id = uuid.uuid4().hex
        self.events += 1
        return self._message("start", score)

    def _end(self) -> Event:
        event = self._message("end", self._sum / max(self._n, 1))
        self._refractory_until = self._last_centre + self.half_hop + self.rules.refractory_seconds
        self._reset_event()
        return event
