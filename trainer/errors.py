"""Trainer error types: user-facing, reported without a traceback like the detector's."""

from __future__ import annotations

from detector.errors import DetectorError


class TrainerError(DetectorError):
    """Bad input to a trainer command (data, clip, model): the message says what and what was expected."""


class DataError(TrainerError):
    """A data set, directory or clip cannot be used."""


class ExportError(TrainerError):
    """A model cannot be exported as asked (e.g. it needs ops outside TFLite's builtin set)."""
