"""Which compute backend is active, and why.

Only the CPU backend exists so far (see cuda/README.md and metal/README.md). The environment
variable ``FASTCLNF_BACKEND`` (cpu|cuda|metal) picks one explicitly; asking for a backend that is
not available raises instead of silently running somewhere else.
"""
from __future__ import annotations

import os

__all__ = ["backend", "available_backends"]

_KNOWN = ("cpu", "cuda", "metal")


def available_backends() -> tuple:
    """Backends usable in this process."""
    return ("cpu",)


def backend() -> str:
    """The active backend: ``$FASTCLNF_BACKEND`` if set, else the best available."""
    wanted = os.environ.get("FASTCLNF_BACKEND", "").strip().lower()
    if not wanted:
        return available_backends()[0]
    if wanted not in _KNOWN:
        raise ValueError(f"FASTCLNF_BACKEND={wanted!r}: expected one of {', '.join(_KNOWN)}")
    if wanted not in available_backends():
        raise RuntimeError(f"FASTCLNF_BACKEND={wanted!r} but that backend is not available in this "
                           f"build (available: {', '.join(available_backends())})")
    return wanted
