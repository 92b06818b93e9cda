"""Eye gaze from the fitted face and eye sub-models, as OpenFace 2.2's GazeAnalyser (spec 03 §7).

Per eye: a ray from the camera centre through the 3-D pupil is intersected with a 12 mm eyeball
sphere hung behind the eye corners in the head frame; the gaze is the unit vector from the
eyeball centre to the hit point. Vectors are in camera coordinates (x right, y down, z forward),
so a subject looking into the lens has gaze ≈ (0, 0, −1).

Naming follows OpenFace: "left eye" is the sub-model `left_eye_28` (face landmarks 36-41, the
eye on the image's left, i.e. the subject's right eye) and gives gaze_0; `right_eye_28`
(landmarks 42-47) gives gaze_1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from .pose import euler_to_rotation, head_pose, shape_3d_camera

__all__ = [
    "EYEBALL_RADIUS",
    "EYEBALL_OFFSET",
    "Gaze",
    "EyeFit",
    "pupil_centre",
    "eyeball_centre",
    "ray_sphere_hit",
    "eye_gaze",
    "gaze_angle",
    "estimate_gaze",
]

_F32 = np.float32
EYEBALL_RADIUS = 12.0  # mm (§7 step 5)
# Eyeball centre relative to the mid-point of the eye corners, in the head frame (mm): 3.5 up
# (−y is up), 7 deeper (§7 step 4).
EYEBALL_OFFSET = np.array([0.0, -3.5, 7.0], dtype=np.float32)
# What OpenFace's ray-sphere routine returns on a miss (§7 steps 5-6 quirk).
_MISS_POINT = np.array([0.0, 0.0, -1.0], dtype=np.float32)


@dataclass(frozen=True)
class Gaze:
    """Both gaze vectors and the combined angle, in the CSV's order (§8.2 section 2)."""

    gaze_0: np.ndarray  # (3,) float32, left_eye_28 (image-left eye)
    gaze_1: np.ndarray  # (3,) float32, right_eye_28
    angle: np.ndarray   # (2,) float32, (angle_x, angle_y) radians

    def as_row(self) -> np.ndarray:
        """The 8 CSV values gaze_0_x..z, gaze_1_x..z, gaze_angle_x, gaze_angle_y."""
        return np.concatenate([self.gaze_0, self.gaze_1, self.angle]).astype(np.float32)


@dataclass(frozen=True)
class EyeFit:
    """A fitted 28-point eye sub-model: its PDM, parameters and 2-D points."""

    pdm: Any                      # object with .mean/.components/.eigenvalues
    params_global: Sequence[float]
    params_local: Sequence[float]
    landmarks: np.ndarray         # (28, 2) px


def pupil_centre(eye_3d: np.ndarray) -> np.ndarray:
    """Mean of eye points 0-7, the ring OpenFace calls "iris" and uses as the pupil (§7 step 2)."""
    return np.asarray(eye_3d, dtype=np.float32).reshape(-1, 3)[0:8].mean(axis=0, dtype=np.float32)


def eyeball_centre(face_3d: np.ndarray, rotation: np.ndarray, eye: int) -> np.ndarray:
    """Eyeball centre E for eye 0 (left_eye_28) or 1 (right_eye_28), camera mm (§7 step 4).

    E = mid-point of the eye corners (face points 36+6k and 39+6k, from §6.5) + R·(0, −3.5, 7).
    """
    if eye not in (0, 1):
        raise ValueError(f"eye must be 0 (left_eye_28) or 1 (right_eye_28), got {eye!r}")
    pts = np.asarray(face_3d, dtype=np.float32).reshape(-1, 3)
    corners = (pts[36 + 6 * eye] + pts[39 + 6 * eye]) / _F32(2)
    return corners + np.asarray(rotation, dtype=np.float32) @ EYEBALL_OFFSET


def ray_sphere_hit(
    direction: np.ndarray, centre: np.ndarray, radius: float = EYEBALL_RADIUS
) -> Optional[np.ndarray]:
    """Nearer intersection of the ray O + t·d (O = camera origin) with a sphere, or None on a miss.

    Quirk kept (§7 step 5): t = ((−b − √(b² − 4ac)) / 2) · a — multiplied by a where the textbook
    divides by 2a. d is a unit vector, so a ≈ 1 and the difference is rounding only.
    """
    d = np.asarray(direction, dtype=np.float32).reshape(3)
    e = np.asarray(centre, dtype=np.float32).reshape(3)
    a = d @ d
    b = _F32(2) * (d @ (-e))  # O = 0, so O − E = −E
    c = e @ e - _F32(radius) * _F32(radius)  # |E|² + |O|² − 2E·O − r²
    disc = b * b - _F32(4) * a * c
    if disc < 0:
        return None
    t = ((-b - np.sqrt(disc)) / _F32(2)) * a
    return (t * d).astype(np.float32)


def _normalised(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return (v / np.sqrt(v @ v)).astype(np.float32)


def eye_gaze(eye_3d: np.ndarray, face_3d: np.ndarray, rotation: np.ndarray, eye: int) -> np.ndarray:
    """Gaze unit vector of one eye (§7 steps 2-6), float32 (3,).

    `eye_3d`: that eye's 28 points from `shape_3d_camera` with the eye PDM; `face_3d`: the 68 face
    points likewise; `rotation`: Euler→matrix of the head pose (§7 step 1).
    Quirk kept (§7 step 6): if the pupil ray misses the eyeball, OpenFace uses (0, 0, −1) as the
    "hit" point, so the gaze is ((0,0,−1) − E) normalised — roughly pointing back at the camera
    from wherever the eye is.
    """
    centre = eyeball_centre(face_3d, rotation, eye)
    hit = ray_sphere_hit(_normalised(pupil_centre(eye_3d)), centre)
    if hit is None:
        hit = _MISS_POINT
    return _normalised(hit - centre)


def gaze_angle(gaze_0: np.ndarray, gaze_1: np.ndarray) -> np.ndarray:
    """Combined gaze angle (angle_x, angle_y) in radians (§7 step 7), float32 (2,).

    g = (gaze_0 + gaze_1)/2, deliberately not renormalised; angle_x = atan2(g.x, −g.z),
    angle_y = atan2(g.y, −g.z). Positive x: looking towards the image's right; positive y:
    looking down. Looking into the lens gives (0, 0).
    """
    g = (np.asarray(gaze_0, dtype=np.float32) + np.asarray(gaze_1, dtype=np.float32)) / _F32(2)
    return np.array([np.arctan2(g[0], -g[2]), np.arctan2(g[1], -g[2])], dtype=np.float32)


def estimate_gaze(
    params_global: Sequence[float],
    params_local: Sequence[float],
    landmarks: np.ndarray,
    pdm: Any,
    left_eye: Optional[EyeFit],
    right_eye: Optional[EyeFit],
    intrinsics: Sequence[float],
    pose: Optional[np.ndarray] = None,
) -> Gaze:
    """Gaze of one face from the main fit and its two eye sub-model fits (§7).

    `pose` may pass an already computed `head_pose` (§6.3) to avoid solving PnP twice. A missing
    eye model gives a (0, 0, 0) vector for that eye (§7 step 8); the angle is still computed from
    whatever the two vectors are. The [exe] gating (when a tool computes gaze at all, and its
    defaults otherwise) belongs to the caller.
    """
    if pose is None:
        pose = head_pose(params_global, params_local, landmarks, pdm, intrinsics)
    rotation = euler_to_rotation(np.asarray(pose, dtype=np.float32)[3:6])
    face_3d = shape_3d_camera(params_global, params_local, landmarks, pdm, intrinsics)
    vectors = []
    for k, fit in enumerate((left_eye, right_eye)):
        if fit is None:
            vectors.append(np.zeros(3, dtype=np.float32))
            continue
        eye_3d = shape_3d_camera(
            fit.params_global, fit.params_local, fit.landmarks, fit.pdm, intrinsics
        )
        vectors.append(eye_gaze(eye_3d, face_3d, rotation, k))
    return Gaze(vectors[0], vectors[1], gaze_angle(vectors[0], vectors[1]))
