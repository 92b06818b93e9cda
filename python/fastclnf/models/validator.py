"""Reader for OpenFace's CNN detection validator (type-3 file, e.g. ``validator_cnn.txt``).

Despite the extension the file is binary, little-endian (spec 02 §5.6): the validator type, the
view orientations, then per view the normalisation vectors, the CNN layers and the piece-wise
affine warp (PAW) that maps a face onto the 60×60 reference frame.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .binreader import read_bytes
from .cnn import Cursor, output_shape, read_layers

__all__ = ["ValidatorView", "Validator", "read_validator", "GRID"]

GRID = 60            # the reference frame is GRID × GRID pixels (spec 02 §5.2)
N_LANDMARKS = 68     # the reference shape is 136×1: x's then y's


@dataclass(frozen=True)
class ValidatorView:
    """One orientation's normalisation, CNN and warp (spec 02 §5.2–5.6)."""

    orientation: np.ndarray      # (3,) float64, radians (pitch, yaw, roll)
    mean_img: np.ndarray         # (N,) float32, masked pixels in column-major order
    std_img: np.ndarray          # (N,) float32
    layers: tuple                # CNN layer records (fastclnf.models.cnn)
    min_x: float                 # reference-frame offset of grid pixel (0, 0)
    min_y: float
    ref_shape: np.ndarray        # (136,) float64, unused at run time
    triangles: np.ndarray        # (T, 3) int32 landmark indices
    triangle_id: np.ndarray      # (60, 60) int32, −1 outside the face
    pixel_mask: np.ndarray       # (60, 60) int32, nonzero = warped pixel
    alpha: np.ndarray            # (T, 3) float32 (float64 in the file, used as float)
    beta: np.ndarray             # (T, 3) float32

    @property
    def n_pixels(self) -> int:
        return int(self.mean_img.shape[0])

    @property
    def n_bins(self) -> int:
        return int(self.layers[-1].n_out)


@dataclass(frozen=True)
class Validator:
    """All views of a type-3 CNN validator, in the file's (= the validator's own) view order."""

    path: str
    views: tuple

    @property
    def orientations(self) -> np.ndarray:
        """(V, 3) float64 radians."""
        return np.stack([v.orientation for v in self.views])


def _read_view(cur: Cursor, v: int, orientation: np.ndarray) -> ValidatorView:
    at = cur.pos
    mean_img = cur.mat(f"view {v} mean_img", rows=1, types=(5, 6), out="<f8")[0]
    n = mean_img.shape[0]
    if n == 0 or n > GRID * GRID:
        raise cur.error(f"view {v} mean_img: expected 1..{GRID * GRID} pixels, found {n}", at)
    std_img = cur.mat(f"view {v} std_img", rows=1, cols=n, types=(5, 6), out="<f8")[0]
    layers = read_layers(cur, "validator")

    at = cur.pos
    n_pixels = cur.count(f"view {v} number_of_pixels", 1, GRID * GRID)
    if n_pixels != n:
        raise cur.error(f"view {v}: number_of_pixels {n_pixels} differs from the {n} "
                        f"normalisation values", at)
    min_x = cur.f64(f"view {v} min_x")
    min_y = cur.f64(f"view {v} min_y")
    ref = cur.mat(f"view {v} reference shape", rows=2 * N_LANDMARKS, cols=1, types=(5, 6),
                  out="<f8")[:, 0]
    at = cur.pos
    tri = cur.mat(f"view {v} triangulation", cols=3, types=(4,), out="<i4")
    if tri.shape[0] == 0 or tri.min() < 0 or tri.max() >= N_LANDMARKS:
        raise cur.error(f"view {v} triangulation: expected landmark indices in "
                        f"[0, {N_LANDMARKS})", at)
    n_tri = tri.shape[0]
    at = cur.pos
    tri_id = cur.mat(f"view {v} triangle_id", rows=GRID, cols=GRID, types=(4,), out="<i4")
    if tri_id.min() < -1 or tri_id.max() >= n_tri:
        raise cur.error(f"view {v} triangle_id: expected values in [-1, {n_tri})", at)
    at = cur.pos
    mask = cur.mat(f"view {v} pixel_mask", rows=GRID, cols=GRID, types=(0, 4), out="<i4")
    if int(np.count_nonzero(mask)) != n:
        raise cur.error(f"view {v} pixel_mask: {np.count_nonzero(mask)} masked pixels, "
                        f"expected {n}", at)
    if np.any(tri_id[mask != 0] < 0):
        raise cur.error(f"view {v} pixel_mask: a masked pixel has no triangle", at)
    alpha = cur.mat(f"view {v} alpha", rows=n_tri, cols=3, types=(5, 6), out="<f8")
    beta = cur.mat(f"view {v} beta", rows=n_tri, cols=3, types=(5, 6), out="<f8")

    try:
        got = output_shape(layers, (1, GRID, GRID))
    except ValueError as e:
        raise ModelError(cur.path, f"view {v} network", f"not a valid validator CNN: {e}") from None
    if len(got) != 1 or got[0] < 1:
        raise ModelError(cur.path, f"view {v} network",
                         f"expected a vector of bins from a 1x{GRID}x{GRID} input, got {got}")
    return ValidatorView(
        orientation=orientation, mean_img=mean_img.astype(np.float32),
        std_img=std_img.astype(np.float32), layers=layers, min_x=min_x, min_y=min_y,
        ref_shape=ref, triangles=tri, triangle_id=tri_id, pixel_mask=mask,
        alpha=alpha.astype(np.float32), beta=beta.astype(np.float32))


def read_validator(path) -> Validator:
    """Parse a type-3 CNN validator file (spec 02 §5.6); every byte must be consumed."""
    path = os.fspath(path)
    cur = Cursor(path, read_bytes(path))
    cur.expect_i32("validator_type", (3,))  # OpenFace supports only the CNN type here
    n_views = cur.count("number of views", 1, 1000, bytes_each=36)
    orientations = [cur.mat(f"view {v} orientation", rows=3, cols=1, types=(5, 6), out="<f8")[:, 0]
                    * (math.pi / 180.0) for v in range(n_views)]
    views = tuple(_read_view(cur, v, o) for v, o in enumerate(orientations))
    cur.finish()
    return Validator(path=path, views=views)
