"""Fixtures shared by the trainer data tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Start each test with structlog's defaults and restore the previous configuration afterwards.

    ``trainer.cli.main`` (and ``detector.logs.configure``) bind structlog to the ``sys.stderr`` of the
    moment, which under pytest is a per-test capture stream that is closed once the test ends.
    """
    saved = structlog.get_config()
    structlog.reset_defaults()
    yield
    structlog.configure(**saved)
