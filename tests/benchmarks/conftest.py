"""Fixtures for the benchmark tests: the benchmark script under test, imported as a module."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def bench(request: pytest.FixtureRequest) -> ModuleType:
    """The script named by the test module's ``SCRIPT`` (a path under benchmarks/), imported once."""
    script = request.module.SCRIPT
    spec = importlib.util.spec_from_file_location(f"sigdetect_bench_{script.stem}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module by name
    spec.loader.exec_module(module)
    return module
