"""Hand model data to the C++ core (fastclnf._core) without copying what need not be copied."""
from __future__ import annotations

import dataclasses

from .types import CCNFScale


def make_core_scale(scale: CCNFScale):
    """`_core.CcnfScale` for one parsed CCNF file (spec 01 §4.4 derived data).

    The core packs each expert's neurons into its float product matrix and drops neurons with
    alpha <= 1e-4 from the response (they still count in the alpha sum of Sigma).
    """
    from .. import _core

    fields = {f.name: getattr(scale, f.name) for f in dataclasses.fields(scale)}
    return _core.CcnfScale(**fields)
