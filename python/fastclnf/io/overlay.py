"""Drawing results on images the way OpenFace's visualiser does (spec 03 §8.5)."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

__all__ = ["draw_result", "draw_results"]

_CUBE = np.array([[x, y, z] for x in (-100, 100) for y in (-100, 100) for z in (-100, 100)],
                 np.float64)
_CUBE_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8)
               if bin(a ^ b).count("1") == 1]  # vertices differing in one coordinate


def _pt(p) -> tuple:
    # 4 fractional bits, as OpenFace draws with shift=4 for sub-pixel anti-aliased primitives.
    return int(round(p[0] * 16)), int(round(p[1] * 16))


def _project(points: np.ndarray, intrinsics) -> np.ndarray:
    fx, fy, cx, cy = intrinsics
    z = points[:, 2]
    return np.stack([fx * points[:, 0] / z + cx, fy * points[:, 1] / z + cy], axis=1)


def draw_result(image: np.ndarray, r, draw_box: bool = True) -> np.ndarray:
    """Draw one fitted face on a BGR uint8 image in place (and return it): the box, the 68
    landmarks, the eye landmarks, the head-pose cube and the gaze lines."""
    import cv2

    from ..pose import euler_to_rotation

    h, w = image.shape[:2]
    aa = cv2.LINE_AA
    if draw_box and r.bbox is not None:
        x, y, bw, bh = r.bbox
        cv2.rectangle(image, _pt((x, y)), _pt((x + bw, y + bh)), (0, 255, 0), 1, aa, 4)
    conf = float(r.certainty)
    if conf > 0.4:
        # Pose cube: a 200 mm cube at the head pose, blue when confident, red when not.
        pose = np.asarray(r.pose, np.float64)
        R = euler_to_rotation(pose[3:6]).astype(np.float64)
        pts = _project(_CUBE @ R.T + pose[:3], r.intrinsics)
        c = (min(conf, 1.0) - 0.4) / 0.6
        colour = (255 * c, 0, 255 * (1 - c))
        thick = int(math.ceil(2 * w / 640))
        for a, b in _CUBE_EDGES:
            inside = [0 <= pts[k, 0] < w and 0 <= pts[k, 1] < h for k in (a, b)]
            if any(inside) and np.all(np.isfinite(pts[[a, b]])):
                cv2.line(image, _pt(pts[a]), _pt(pts[b]), colour, thick, aa, 4)
    for p in r.landmarks:
        cv2.circle(image, _pt(p), 16, (0, 0, 255), int(math.ceil(3 * w / 640)), aa, 4)
        cv2.circle(image, _pt(p), 16, (255, 0, 0), int(math.ceil(w / 640)), aa, 4)
    for eye in (r.eye_landmarks[:28], r.eye_landmarks[28:]):
        if len(eye) != 28:
            continue
        for lo, hi, colour in ((0, 8, (255, 0, 0)), (8, 20, (0, 0, 255)), (20, 28, (255, 0, 0))):
            loop = np.round(eye[lo:hi] * 16).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(image, [loop], True, colour, 1, aa, 4)
    return image


def draw_results(image: np.ndarray, results: Iterable) -> np.ndarray:
    """A copy of `image` (gray or BGR) with every result drawn."""
    import cv2

    out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[:, :, :3].copy()
    for r in results:
        draw_result(out, r)
    return out
