"""Detection validation with OpenFace's CNN validator (spec 02 §5): argument checks in Python,
the warp, normalisation and CNN in the C++ core (GIL released).
"""
from __future__ import annotations

import numpy as np

from .models.cnn import core_layers
from .models.validator import Validator

__all__ = ["prepare_validator", "validate", "SUCCESS_THRESHOLD"]

# detection_success = certainty > 0.725 (spec 02 §5.4).
SUCCESS_THRESHOLD = 0.725


def prepare_validator(validator: Validator):
    """Build the core validator from the parsed file once, for repeated `validate` calls."""
    from . import _core

    views = [dict(orientation=v.orientation, mean_img=v.mean_img, std_img=v.std_img,
                  layers=core_layers(v.layers), min_x=v.min_x, min_y=v.min_y,
                  triangles=v.triangles, triangle_id=v.triangle_id, pixel_mask=v.pixel_mask,
                  alpha=v.alpha, beta=v.beta) for v in validator.views]
    return _core.Validator(views, 68)


def validate(validator, gray_uint8, landmarks, rotation) -> float:
    """Certainty in (0, 1) that `landmarks` fit a face in `gray_uint8` (spec 02 §5.1).

    validator: a `Validator` (from `fastclnf.models.validator.read_validator`) or the result of
    `prepare_validator`. gray_uint8: (H, W) uint8. landmarks: (68, 2) pixel coordinates.
    rotation: (rx, ry, rz) = PDM global params[1:4], radians; picks the nearest view.
    The result is quantised to 1 − (idx + 0.5)/B; success is certainty > 0.725. A landmark box
    that collapses to ≤ 1 pixel inside the image gives 0.
    """
    # Called on every tracked frame: only cheap checks here; finiteness is checked by the core
    # (ValueError), which also makes a non-contiguous image contiguous.
    if not isinstance(gray_uint8, np.ndarray):
        raise TypeError(f"gray image must be a numpy array, got {type(gray_uint8).__name__}")
    if gray_uint8.dtype != np.uint8:
        raise TypeError(f"gray image must be uint8, got dtype {gray_uint8.dtype}")
    if gray_uint8.ndim != 2:
        raise ValueError(f"gray image must be 2-D (H, W), got shape {gray_uint8.shape}")
    lm = np.asarray(landmarks, dtype=np.float32)
    if lm.shape != (68, 2):
        raise ValueError(f"landmarks must be (68, 2), got shape {lm.shape}")
    rot = np.asarray(rotation, dtype=np.float64).reshape(-1)
    if rot.shape != (3,):
        raise ValueError("rotation must be 3 finite values (rx, ry, rz)")
    if isinstance(validator, Validator):
        validator = prepare_validator(validator)
    rx, ry, rz = rot.tolist()
    return float(validator.validate(gray_uint8, lm, rx, ry, rz))
