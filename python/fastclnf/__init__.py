"""fastclnf: OpenFace's CLNF 68-point facial landmark detector, fast.

CLNF (Constrained Local Neural Fields) fits a PDM (Point Distribution Model: a 3-D mean face
plus linear shape modes, posed by scale, rotation and translation) to an image. Each landmark has
a CCNF patch expert (a small neural field) that scores where the landmark may lie in a window
around its current position; NU-RLMS (non-uniform regularised landmark mean-shift) moves the PDM
parameters towards the mean-shift of those scores, scale after scale.

    model = fastclnf.load_model()          # an OpenFace model directory
    r = model.fit(image_bgr, (x, y, w, h))
    r.landmarks                            # (68, 2)
"""
from __future__ import annotations

from .backends import backend
from .errors import FastCLNFError, ModelError, ModelNotFoundError
from .model import Model, Result, load_model
from .presets import IMAGE, VIDEO, WILD, FitSettings
from .track import MultiTracker, Tracker, TrackResult  # video tracking (track.py)

__version__ = "0.1.0"

__all__ = [
    "__version__", "backend", "load_model", "Model", "Result", "FitSettings", "IMAGE", "WILD", "VIDEO",
    "FastCLNFError", "ModelError", "ModelNotFoundError",
    "Tracker", "MultiTracker", "TrackResult",
]
