"""numba compilation with the on-disk cache where possible (one place for the daemon's JIT policy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import njit


def jit(**options: Any) -> Callable[[Callable], Callable]:
    """``njit(cache=True, **options)``, without the cache where numba finds nowhere writable to keep it.

    (A read-only install with an unwritable HOME, e.g. a hardened service: numba raises "no locator
    available" at decoration time; compiling at each start is slower, but works. NUMBA_CACHE_DIR fixes it.)
    """

    def decorate(fn: Callable) -> Callable:
        try:
            return njit(cache=True, **options)(fn)
        except RuntimeError as exc:
            if "no locator available" not in str(exc):
                raise
            return njit(cache=False, **options)(fn)

    return decorate
