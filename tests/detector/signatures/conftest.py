"""Fixtures for the signature tests: the shipped models (real TFLite files) and signature builders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from detector.models import Model, load_model
from detector.signatures import SignatureData

MODELS = Path(__file__).resolve().parents[3] / "models"


@pytest.fixture(scope="session")
def general() -> Model:
    """The shipped ``general`` embedding model (64-d, general FeatureSpec)."""
    return load_model(MODELS / "general.tflite")


@pytest.fixture(scope="session")
def lowband() -> Model:
    """The shipped ``lowband`` embedding model: another model with another FeatureSpec."""
    return load_model(MODELS / "lowband.tflite")


def unit_rows(n: int, d: int, seed: int) -> np.ndarray:
    """``n`` random unit vectors of dimension ``d``, float32."""
    x = np.random.default_rng(seed).normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(name="unit_rows")
def unit_rows_fixture() -> Callable[[int, int, int], np.ndarray]:
    """The ``unit_rows(n, d, seed)`` factory."""
    return unit_rows


@pytest.fixture
def make_data(general) -> Callable[..., SignatureData]:
    """``make_data(name="dog", **changes)``: a valid prototype signature for the general model."""

    def make(name: str = "dog", **changes: Any) -> SignatureData:
        fields: dict[str, Any] = {
            "name": name,
            "scorer": "prototype",
            "model_sha256": general.sha256,
            "feature_spec": general.spec.to_dict(),
            "params": {"prototypes": unit_rows(3, general.output_dim, seed=len(name))},
            "threshold": 0.8,
            "calibration": {"kind": "logistic", "a": 8.0, "b": -4.0},
            "enrollment": {"model": general.name, "clips": 3, "durations_s": [1.0, 1.5, 2.0]},
            "created": "2025-01-02T03:04:05+00:00",
        }
        fields.update(changes)
        return SignatureData(**fields)

    return make


def rechecksum(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its ``sha256`` recomputed as the format defines it (canonical JSON of the rest)."""
    body = {k: doc[k] for k in ("format", "format_version", "signature")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return {**doc, "sha256": hashlib.sha256(canonical.encode()).hexdigest()}


@pytest.fixture
def edit_file() -> Callable[..., Path]:
    """``edit_file(path, edit)``: apply ``edit(doc)`` to a signature file's JSON and re-checksum it.

    Makes files that pass the checksum but carry a bad field, as a buggy writer would.
    """

    def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(rechecksum(doc), indent=1))
        return path

    return edit
