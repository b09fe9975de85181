"""Score calibration: map a scorer's raw value to a 0..1 confidence (isotonic table or logistic curve)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

CALIBRATION_KINDS = ("isotonic", "logistic")
_KEYS = {"isotonic": ("kind", "x", "y"), "logistic": ("kind", "a", "b")}


def _finite_number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{key}: got {value!r}; expected a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{key}: got {number!r}; expected a finite number")
    return number


def check_calibration(calibration: object) -> dict[str, Any]:
    """Validate a calibration mapping and return it normalised (float64 arrays, float coefficients).

    Args:
        calibration: ``{"kind": "isotonic", "x": increasing (n,), "y": non-decreasing (n,) in [0, 1]}``
            or ``{"kind": "logistic", "a": float > 0, "b": float}``.

    Returns:
        A new dict: ``x``/``y`` as read-only float64 arrays, or ``a``/``b`` as floats.

    Raises:
        ValueError: The mapping is malformed; the message names the key and what was expected.
    """
    if not isinstance(calibration, Mapping):
        raise ValueError(f"got {type(calibration).__name__}; expected an object with a 'kind' key")
    kind = calibration.get("kind")
    if kind not in CALIBRATION_KINDS:
        raise ValueError(f"kind: got {kind!r}; expected one of {', '.join(CALIBRATION_KINDS)}")
    expected = _KEYS[kind]
    if set(calibration) != set(expected):
        raise ValueError(
            f"keys: got {', '.join(sorted(map(str, calibration)))}; expected exactly {', '.join(expected)} "
            f"for {kind} calibration"
        )
    if kind == "logistic":
        a = _finite_number(calibration["a"], "a")
        b = _finite_number(calibration["b"], "b")
        if a <= 0:
            raise ValueError(
                f"a: got {a!r}; expected > 0 (a higher raw score must mean more like the target)"
            )
        return {"kind": kind, "a": a, "b": b}
    arrays = {}
    for key in ("x", "y"):
        value = calibration[key]
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{key}: got {type(value).__name__}; expected a 1-D array of numbers") from None
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{key}: shape {list(arr.shape)}; expected a non-empty 1-D array")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{key}: has NaN or infinite values; expected finite numbers")
        arr.setflags(write=False)
        arrays[key] = arr
    x, y = arrays["x"], arrays["y"]
    if x.shape != y.shape:
        raise ValueError(f"x and y: lengths {x.size} and {y.size}; expected the same length")
    if np.any(np.diff(x) <= 0):
        raise ValueError("x: not strictly increasing; expected the isotonic thresholds in increasing order")
    if np.any(np.diff(y) < 0):
        raise ValueError("y: decreasing somewhere; expected non-decreasing confidences")
    if y[0] < 0 or y[-1] > 1:
        raise ValueError(f"y: spans [{y[0]!r}, {y[-1]!r}]; expected values in [0, 1]")
    return {"kind": kind, "x": x, "y": y}


class Calibration:
    """A validated calibration, callable on raw scores.

    ``isotonic``: piecewise-linear interpolation through ``(x, y)``, clipped to ``y[0]``/``y[-1]`` outside
    ``[x[0], x[-1]]`` (as scikit-learn's ``IsotonicRegression(out_of_bounds="clip").predict``).
    ``logistic``: ``1 / (1 + exp(-(a * raw + b)))``.
    """

    def __init__(self, calibration: Mapping[str, Any]) -> None:
        """Validate ``calibration`` (see ``check_calibration``).

        Raises:
            ValueError: The mapping is malformed.
        """
        self.params = check_calibration(calibration)
        self.kind: str = self.params["kind"]

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """Confidences in [0, 1], float64, the shape of ``raw`` (NaN stays NaN)."""
        r = np.asarray(raw, dtype=np.float64)
        if self.kind == "isotonic":
            x, y = self.params["x"], self.params["y"]
            return np.interp(np.clip(r, x[0], x[-1]), x, y)
        z = self.params["a"] * r + self.params["b"]
        # 0.5 * (1 + tanh(z / 2)) is the logistic function without overflow for large |z|
        return np.clip(0.5 * (1.0 + np.tanh(0.5 * z)), 0.0, 1.0)


def calibrate(calibration: Mapping[str, Any], raw: np.ndarray) -> np.ndarray:
    """Map raw scores to 0..1 confidences with a calibration mapping (see ``Calibration``)."""
    return Calibration(calibration)(raw)
