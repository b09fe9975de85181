"""Ambient adaptation (CFAR): normalise a target's score by its recent scores on audio without detections.

A constant-false-alarm-rate detector, as in sonar: the threshold follows the background. For each target
the daemon keeps one ``AmbientNormaliser``; per window it calls ``adapt(score)`` (the calibrated 0..1
score) and, once the event logic has decided, ``update(score, detected)``. The adapted score is
``1 - p``, where ``p`` is the estimated probability that *ambient* audio at this box scores at least
``score`` in one window. A fixed threshold on it, e.g. 0.995, then means about the same per-window
false-alarm probability (0.5 %) at a quiet site and at a noisy one, whatever level the raw scores sit at.

How ``p`` is estimated, from the last ``window`` ambient scores (windows not flagged as detections):

- below the ``tail_fraction`` (10 %) upper quantile ``u``: the empirical exceedance fraction, linearly
  interpolated between order statistics;
- above ``u``: a generalised Pareto tail ``p = a (1 + xi (s - u) / sigma) ^ (-1 / xi)`` through the
  quantiles at 10 %, 5 % and 2.5 % (Pickands' estimator; the shape ``xi``, clipped to [-0.5, 0.5], is
  averaged over about one ring of windows because a single estimate is noisy). So ``p`` keeps its
  resolution far beyond the ``1 / window`` of a plain fraction, for bounded (``xi < 0``, as a 0..1
  score usually is) and heavy tails alike. A score above a bounded tail's end point adapts to 1.

Windows flagged as detections stay out of the ambient sample (a target must not raise its own
threshold), but they are counted as exceedances (censored observations) up to ``max_censored`` (1 %) of
the recent windows. Without that, dropping the false alarms would thin the sample's upper tail, lower
the threshold, cause more false alarms, and so on (a runaway); with it, and because the tail is fitted
to quantiles well below the operating point, the rate stays near its design value for adapted
thresholds of ``1 - max_censored`` (0.99) and above, even when every exceedance is flagged. A real
event lasting longer than ``max_censored`` of the window (2.4 s in 4 min) is partly counted as ambient
tail: its adapted score sinks slowly (measured: 0.93 in Beta(5, 5) ambience adapts to 1.0 at first,
0.9999 after 48 s, 0.999 after 96 s).

Until ``warmup`` ambient scores have been seen, ``adapt`` passes scores through unchanged (the daemon
should keep using the signature's own threshold until ``warm`` is true). The fitted tail is refreshed
every ``refresh`` windows (one sort of the ring, O(window log window) spread over ``refresh`` windows);
a look-up is a bisection, O(log window). Measured: about 5 us per window and target. Numpy only,
deterministic: the same scores give the same results.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, overload

import numpy as np

DEFAULT_WINDOW = 3000  # ambient windows kept: 4 min at the general profile's 80 ms patch hop
DEFAULT_WARMUP = 600  # ambient windows before adapting: 48 s at 80 ms
DEFAULT_REFRESH = 50  # windows between tail re-fits: 4 s at 80 ms
_XI_RANGE = (-0.5, 0.5)  # GPD shape clipped to a sane range (the Pickands estimate is noisy)


class AmbientNormaliser:
    """Per-target CFAR normaliser over a ring of recent ambient (no-detection) scores.

    Attributes:
        window: Ambient scores kept (the ring's size).
        warmup: Ambient scores needed before ``adapt`` adapts.
        tail_fraction: Upper fraction of the ambient sample modelled by the fitted tail.
        max_censored: Largest fraction of recent windows counted as censored exceedances.
        refresh: Windows between re-fits of the distribution.
        min_scale: Smallest tail scale, in score units: stops a constant ambient (all scores equal)
            from making any tiny rise an alarm.
    """

    def __init__(
        self,
        window: int = DEFAULT_WINDOW,
        *,
        warmup: int = DEFAULT_WARMUP,
        tail_fraction: float = 0.1,
        max_censored: float = 0.01,
        refresh: int = DEFAULT_REFRESH,
        min_scale: float = 0.01,
    ) -> None:
        """Set up an empty (warming-up) normaliser.

        Args:
            window: Ambient scores kept, >= 100.
            warmup: Ambient scores before adapting, in [40, window].
            tail_fraction: In (0, 0.5]; the tail fit uses the quantiles at 1, 1/2 and 1/4 of it, so each
                needs ``tail_fraction / 4 * warmup`` >= 10 scores above it.
            max_censored: In [0, tail_fraction / 4).
            refresh: Windows between re-fits, >= 1.
            min_scale: Smallest tail scale (score units), > 0.

        Raises:
            ValueError: A parameter outside its range.
        """
        if isinstance(window, bool) or not isinstance(window, int) or window < 100:
            raise ValueError(f"window: got {window!r}; expected an integer >= 100")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or not 40 <= warmup <= window:
            raise ValueError(f"warmup: got {warmup!r}; expected an integer in [40, window={window}]")
        if not 0.0 < tail_fraction <= 0.5 or tail_fraction / 4 * warmup < 10:
            raise ValueError(
                f"tail_fraction: got {tail_fraction!r}; "
                "expected in (0, 0.5] with tail_fraction / 4 * warmup >= 10"
            )
        if not 0.0 <= max_censored < tail_fraction / 4:
            raise ValueError(f"max_censored: got {max_censored!r}; expected in [0, tail_fraction / 4)")
        if isinstance(refresh, bool) or not isinstance(refresh, int) or refresh < 1:
            raise ValueError(f"refresh: got {refresh!r}; expected an integer >= 1")
        if not min_scale > 0 or not math.isfinite(min_scale):
            raise ValueError(f"min_scale: got {min_scale!r}; expected > 0")
        self.window = window
        self.warmup = warmup
        self.tail_fraction = float(tail_fraction)
        self.max_censored = float(max_censored)
        self.refresh = refresh
        self.min_scale = float(min_scale)
        self._ambient = np.empty(window, dtype=np.float64)
        self._detected = np.zeros(window, dtype=bool)  # over the last `window` windows, all of them
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything (back to warm-up)."""
        self._n = 0  # ambient scores in the ring
        self._pos = 0
        self._hist_n = 0  # windows in the detection history
        self._hist_pos = 0
        self._n_detected = 0  # detections in the history
        self._since_fit = 0
        self._updates = 0
        self._ignored = 0
        self._sorted: np.ndarray | None = None
        self._xi_smooth: float | None = None
        self._windows_since_fit = 0
        self._c = 0.0
        self._u = self._a_u = self._sigma = self._xi = self._median = math.nan

    @property
    def warm(self) -> bool:
        """True once ``adapt`` adapts (``warmup`` ambient scores seen)."""
        return self._sorted is not None

    def state(self) -> dict[str, Any]:
        """Statistics for logs and the stats topic (plain JSON values; NaN before warm-up as null).

        Keys: ``warm``, ``ambient`` (scores in the ring), ``window``, ``updates``, ``ignored``
        (non-finite scores), ``detected_recent`` (detections in the last ``window`` windows),
        ``censored_fraction``, ``median``, ``tail_start`` (score at ``tail_fraction`` exceedance),
        ``tail_scale``, ``tail_shape``, ``score_at_1e-2`` and ``score_at_1e-3`` (the raw scores that
        currently adapt to 0.99 and 0.999).
        """

        def num(x: float) -> float | None:
            return None if not math.isfinite(x) else float(x)

        warm = self.warm
        return {
            "warm": warm,
            "ambient": self._n,
            "window": self.window,
            "updates": self._updates,
            "ignored": self._ignored,
            "detected_recent": self._n_detected,
            "censored_fraction": self._c,
            "median": num(self._median),
            "tail_start": num(self._u),
            "tail_scale": num(self._sigma),
            "tail_shape": num(self._xi),
            "score_at_1e-2": num(self.score_at(1e-2)) if warm else None,
            "score_at_1e-3": num(self.score_at(1e-3)) if warm else None,
        }

    # ------------------------------------------------------------------ updates
    def update(self, score: float, detected: bool = False) -> None:
        """Record one window's calibrated score after the event logic has decided.

        Args:
            score: The window's calibrated score (what was passed to ``adapt``).
            detected: The window is part of a detection (event on); its score stays out of the ambient
                sample.
        """
        s = float(score)
        if not math.isfinite(s):
            self._ignored += 1
            return
        self._updates += 1
        detected = bool(detected)
        if self._hist_n == self.window:
            self._n_detected -= int(self._detected[self._hist_pos])
        else:
            self._hist_n += 1
        self._detected[self._hist_pos] = detected
        self._n_detected += int(detected)
        self._hist_pos = (self._hist_pos + 1) % self.window
        if not detected:
            self._ambient[self._pos] = s
            self._pos = (self._pos + 1) % self.window
            self._n = min(self._n + 1, self.window)
        self._since_fit += 1
        if self._n >= self.warmup and (self._sorted is None or self._since_fit >= self.refresh):
            self._fit()

    def _fit(self) -> None:
        v = np.sort(self._ambient[: self._n])
        self._sorted = v
        self._windows_since_fit = self._since_fit
        self._since_fit = 0
        n = v.size
        self._positions = np.arange(n, dtype=np.float64)
        self._c = c = min(self._n_detected / max(self._hist_n, 1), self.max_censored)
        a = self.tail_fraction
        q_a, q_2, q_4 = (self._valid_quantile((level - c) / (1.0 - c)) for level in (a, a / 2, a / 4))
        d1, d2 = q_2 - q_a, q_4 - q_2
        xi = math.log2(d2 / d1) if d1 > 0 and d2 > 0 else 0.0
        xi = min(max(xi, _XI_RANGE[0]), _XI_RANGE[1])
        if self._xi_smooth is None or self._n < self.window:  # until the ring is full: this estimate
            self._xi_smooth = xi
        else:  # the shape changes slowly: average its (noisy) estimate over about one ring of windows
            self._xi_smooth += (xi - self._xi_smooth) * min(1.0, self._windows_since_fit / self.window)
        xi = self._xi_smooth
        growth = (4.0**xi - 1.0) / xi if abs(xi) > 1e-9 else math.log(4.0)  # (x_{a/4} - u) / sigma
        self._xi = xi
        self._u = q_a
        self._sigma = max((q_4 - q_a) / growth, self.min_scale)
        self._a_u = float(self._body(np.array([q_a]))[0])
        self._median = float(self._valid_quantile(0.5))
        self._sorted_list = v.tolist()  # for bisect: the scalar path avoids numpy call overhead

    def _scalar_probability(self, s: float) -> float:
        """``tail_probability`` of one finite score, in plain Python (the per-window path)."""
        if s > self._u:
            y = (s - self._u) / self._sigma
            if abs(self._xi) <= 1e-9:
                return self._a_u * math.exp(-y)
            t = 1.0 + self._xi * y
            return self._a_u * t ** (-1.0 / self._xi) if t > 0 else 0.0
        v = self._sorted_list
        n = len(v)
        i = bisect.bisect_left(v, s)
        if i == 0:
            p_valid = 1.0
        elif i >= n:
            p_valid = 0.0
        else:
            lo, hi = v[i - 1], v[i]
            frac = (s - lo) / (hi - lo) if hi > lo else 0.0
            p_valid = (n - i + 1 - frac) / n
        return (1.0 - self._c) * p_valid + self._c

    def _valid_quantile(self, p: float) -> float:
        """The ambient score with exceedance fraction ``p`` (interpolated between order statistics)."""
        v = self._sorted
        assert v is not None
        return float(np.interp(v.size * (1.0 - p), self._positions, v))

    def _body(self, s: np.ndarray) -> np.ndarray:
        """Exceedance probability from the sorted sample, censored detections counted as exceedances."""
        v = self._sorted
        assert v is not None
        n = v.size
        i = np.searchsorted(v, s, side="left")  # scores strictly below s
        lo = v[np.clip(i - 1, 0, n - 1)]
        hi = v[np.clip(i, 0, n - 1)]
        gap = hi - lo
        frac = np.where(gap > 0, (s - lo) / np.where(gap > 0, gap, 1.0), 0.0)
        p_valid = np.where(i == 0, 1.0, np.where(i >= n, 0.0, (n - i + 1 - frac) / n))
        return (1.0 - self._c) * p_valid + self._c

    def _tail(self, s: np.ndarray) -> np.ndarray:
        y = (s - self._u) / self._sigma
        if abs(self._xi) <= 1e-9:
            return self._a_u * np.exp(-y)
        t = 1.0 + self._xi * y
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = self._a_u * np.power(np.maximum(t, 0.0), -1.0 / self._xi)
        return np.where(t > 0, out, 0.0)

    # ------------------------------------------------------------------ queries
    @overload
    def tail_probability(self, score: float) -> float: ...
    @overload
    def tail_probability(self, score: np.ndarray) -> np.ndarray: ...
    def tail_probability(self, score: float | np.ndarray) -> float | np.ndarray:
        """Estimated probability that an ambient window scores >= ``score`` (NaN while warming up)."""
        if self.warm and (isinstance(score, float | int) or np.ndim(score) == 0):
            x = float(score)
            return 1.0 if math.isnan(x) else self._scalar_probability(x)
        s = np.asarray(score, dtype=np.float64)
        if not self.warm:
            out = np.full(s.shape, np.nan)
        else:
            out = np.where(s <= self._u, self._body(s), self._tail(s))
            out = np.where(np.isnan(s), 1.0, out)
        return float(out) if np.ndim(score) == 0 else out

    @overload
    def adapt(self, score: float) -> float: ...
    @overload
    def adapt(self, score: np.ndarray) -> np.ndarray: ...
    def adapt(self, score: float | np.ndarray) -> float | np.ndarray:
        """The adapted score ``1 - tail_probability(score)`` in [0, 1]; ``score`` itself while warming up.

        Args:
            score: A calibrated score, or an array of them (judged against the same ambient state).

        Returns:
            Float (or float64 array): higher = rarer on this box's ambient audio. NaN scores give 0.
        """
        if isinstance(score, float | int) or np.ndim(score) == 0:
            x = float(score)
            if math.isnan(x):
                return 0.0
            return x if not self.warm else min(max(1.0 - self._scalar_probability(x), 0.0), 1.0)
        s = np.asarray(score, dtype=np.float64)
        if not self.warm:
            out = np.where(np.isnan(s), 0.0, s)
        else:
            out = np.clip(1.0 - np.asarray(self.tail_probability(s)), 0.0, 1.0)
        return float(out) if np.ndim(score) == 0 else out

    def score_at(self, tail_probability: float) -> float:
        """The score an ambient window currently exceeds with ``tail_probability`` (NaN while warming up).

        The inverse of ``tail_probability``: the effective raw threshold of adapted threshold ``1 - p``.
        """
        p = float(tail_probability)
        if not self.warm or not 0.0 < p <= 1.0:
            return math.nan
        if p >= self._a_u:
            level = (p - self._c) / (1.0 - self._c)
            return self._valid_quantile(min(max(level, 0.0), 1.0))
        ratio = self._a_u / p
        if abs(self._xi) <= 1e-9:
            level = self._u + self._sigma * math.log(ratio)
        else:
            level = self._u + self._sigma / self._xi * (ratio**self._xi - 1.0)
        return min(
            level, 1.0
        )  # calibrated scores end at 1: a tail fitted past it must not make a target deaf
