"""The public model object: load an OpenFace model directory, fit faces."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from .fit import CoreModel, fit_from_box, initial_params as _initial_params
from .image import check_box, to_gray
from .models.loader import load_model_data
from .presets import FitSettings, resolve

__all__ = ["Model", "Result", "load_model"]


@dataclass
class Result:
    """One fitted face.

    landmarks: (68, 2) float64, OpenFace's pixel convention (0-based, origin at the centre of
        the top-left pixel).
    eye_landmarks: (56, 2) float64, the 28 left-eye points then the 28 right-eye points
        (empty (0, 2) for a model without eye parts).
    params_global: (6,) scale, rx, ry, rz (radians), tx, ty.  params_local: (m,) shape modes.
    likelihood: mean log-likelihood of the landmarks at the last scale (hypothesis selection).
    converged: the last non-rigid NU-RLMS phase stopped because the shape moved < 0.01 px.
    fit_success: the scale schedule ran to its end (False when the face is too small).
    iterations: NU-RLMS updates over all scales and phases of the main model.
    message: why a fit did not converge or succeed, or a warning; "" when all is well.
    """

    landmarks: np.ndarray
    eye_landmarks: np.ndarray
    params_global: np.ndarray
    params_local: np.ndarray
    likelihood: float
    converged: bool
    fit_success: bool
    iterations: int
    view: int
    bbox: np.ndarray
    message: str = ""
    landmark_likelihoods: Optional[np.ndarray] = None
    parts: dict = field(default_factory=dict)


def _as_points(flat: np.ndarray) -> np.ndarray:
    n = flat.shape[0] // 2
    return np.stack([flat[:n], flat[n:]], axis=1).astype(np.float64)


class Model:
    """An OpenFace CLNF model (PDM, CCNF patch experts, part models) ready to fit faces.

    Threading model: a Model is immutable after loading except for caches built on first use
    (Sigma matrices per scale, window and view; KDE tables; per-preset schedules), each filled
    once under a lock and only read afterwards. A fit releases the GIL for its whole C++ part
    (one call per rotation hypothesis), so one Model can serve fits on several threads at once:
    see :meth:`fit_batch`.
    """

    def __init__(self, data):
        self.data = data
        self._core = CoreModel(data)

    @property
    def path(self) -> str:
        return self.data.path

    def initial_params(self, bbox, rotation=(0.0, 0.0, 0.0)) -> Tuple[np.ndarray, np.ndarray]:
        """The parameters (params_global, params_local) a fit from `bbox` starts from."""
        box = np.asarray(bbox, dtype=np.float64).reshape(-1)
        if box.size != 4 or not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"bbox must be finite (x, y, w, h) with w, h > 0, got {bbox!r}")
        g, q = _initial_params(self._core, box, rotation)
        return g.astype(np.float64), q.astype(np.float64)

    def fit(self, image: np.ndarray, bbox, preset: Union[str, FitSettings] = "image") -> Result:
        """Fit the 68 landmarks to the face in `bbox` = (x, y, w, h).

        image: HxW gray or HxWx3 BGR (OpenCV convention) uint8 array (uint16 and BGRA accepted).
        preset: 'image' (OpenFace FaceLandmarkImg defaults), 'wild', or a FitSettings.
        """
        settings = resolve(preset)
        gray = to_gray(image)
        box = check_box(bbox, gray.shape)
        # The core samples the 8-bit image directly (exactly as its float copy would be).
        state = fit_from_box(self._core, gray, box, settings)
        message = state.message
        rows, cols = gray.shape
        if box[0] < 0 or box[1] < 0 or box[0] + box[2] > cols or box[1] + box[3] > rows:
            message = (message + "; " if message else "") + "box extends outside the image"
        if not state.converged and not message:
            message = f"shape still moving after {settings.iterations} iterations at the last scale"
        eyes = [state.parts[name]["landmarks"] for name in ("left_eye_28", "right_eye_28")
                if name in state.parts]
        eye_landmarks = (np.concatenate([_as_points(e) for e in eyes]) if eyes
                         else np.zeros((0, 2)))
        return Result(
            landmarks=_as_points(state.landmarks),
            eye_landmarks=eye_landmarks,
            params_global=np.asarray(state.g, np.float64),
            params_local=np.asarray(state.q, np.float64),
            likelihood=float(state.likelihood),
            converged=bool(state.converged and state.fit_success),
            fit_success=bool(state.fit_success),
            iterations=int(state.iterations),
            view=int(state.view),
            bbox=box,
            message=message,
            landmark_likelihoods=state.landmark_likelihoods,
            parts=state.parts,
        )

    def fit_batch(self, images: Sequence[np.ndarray], boxes: Sequence,
                  preset: Union[str, FitSettings] = "image",
                  threads: Optional[int] = None) -> List[Result]:
        """:meth:`fit` of each ``(images[k], boxes[k])`` pair, on up to `threads` threads.

        images: one image per box (the same array may repeat for several faces of one image).
        threads: None = one per available CPU; 1 = in the calling thread. Results come back in
        input order; the first exception raised by a fit is re-raised.
        """
        images, boxes = list(images), list(boxes)
        if len(images) != len(boxes):
            raise ValueError(f"fit_batch: {len(images)} images but {len(boxes)} boxes")
        if threads is None:
            threads = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                       else os.cpu_count() or 1)
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive int or None, got {threads!r}")
        threads = min(threads, len(images)) or 1
        if threads == 1:
            return [self.fit(img, box, preset) for img, box in zip(images, boxes)]
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fastclnf-fit") as pool:
            return list(pool.map(lambda ib: self.fit(ib[0], ib[1], preset), zip(images, boxes)))


def load_model(path: Union[str, os.PathLike, None] = None, *, use_cache: bool = True) -> Model:
    """Load an OpenFace model directory or ``main_*.txt`` file.

    Looks at `path`, then ``$FASTCLNF_MODEL_DIR``, then the default places (see
    :func:`fastclnf.models.loader.find_model_file`); raises :class:`ModelNotFoundError` naming
    every place it looked, or :class:`ModelError` for a corrupt file.
    """
    return Model(load_model_data(path, use_cache=use_cache))
