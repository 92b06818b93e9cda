"""The public model object: load an OpenFace model directory, fit faces."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import ModelNotFoundError
from .fit import EYE_PARTS as _EYE_PARTS, CoreModel, _DeferredPart, fit_from_box, initial_params as _initial_params
from .image import check_box, gray_source, to_gray
from .models.loader import load_model_data
from .presets import FitSettings, resolve

__all__ = ["Model", "Result", "load_model"]



@dataclass
class Result:
    """One fitted face.

    landmarks: (68, 2) float64, OpenFace's pixel convention (0-based, origin at the centre of
        the top-left pixel).
    eye_landmarks: (56, 2) float64, the 28 left-eye points then the 28 right-eye points
        (empty (0, 2) for a model without eye parts). When the face was too small for the eye
        models to be fitted, they are computed on first access (the eye PDMs fitted to the six
        eyelid points, 60–100 µs per frame), so that code which never reads them does not pay for them.
    params_global: (6,) scale, rx, ry, rz (radians), tx, ty.  params_local: (m,) shape modes.
    likelihood: mean log-likelihood of the landmarks at the last scale (hypothesis selection).
    converged: the last non-rigid NU-RLMS phase stopped because the shape moved < 0.01 px
        (OpenFace's test). With 5 iterations per phase this is rarely met — it is met on none of
        the 343 reference faces, and OpenFace's own outputs there are only reproduced by running
        every iteration — so judge a fit by `success`/`certainty`, not by this flag.
    fit_success: the scale schedule ran to its end (False when the face is too small).
    iterations: NU-RLMS updates over all scales and phases of the main model.
    message: why a fit did not converge or succeed, or a warning; "" when all is well.
    certainty: the CNN validator's confidence in (0, 1) that this is a well-fitted face (spec
        02 §5); 1.0/0.0 (fit succeeded or not) when validation is off or unavailable.
    success: certainty > 0.725 with validation, else fit_success (OpenFace's detection_success).
    score: the face detector's score for `bbox` (results of Model.detect), else None.
    intrinsics: (fx, fy, cx, cy) used for `pose` and `gaze`; OpenFace's defaults from the
        image size unless given to fit().
    pose (computed on first access): (Tx, Ty, Tz, rx, ry, rz) head pose in mm and radians
        (spec 03 §6.3). gaze (on first access): `fastclnf.gaze.Gaze` (spec 03 §7), or None
        without eye models.
    parts: part model name -> mapping with g, q, landmarks (2k,), fitted, likelihood (None
        when the part was not fitted). When no part was fitted (a small face), each part's
        entry is computed on first access.
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
    certainty: float = 0.0
    success: bool = False
    score: Optional[float] = None
    intrinsics: Optional[np.ndarray] = None
    landmark_likelihoods: Optional[np.ndarray] = None
    parts: Dict[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)
    _model: Any = field(default=None, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        # eye_landmarks=None: the eye parts were not fitted and their PDM fits to the six mapped
        # eyelid points are deferred (fit.EYE_PARTS): computed by __getattr__ on first access.
        if self.eye_landmarks is None:
            del self.eye_landmarks

    def __getattr__(self, name: str):
        # Only reached for attributes that are not set: the deferred eye_landmarks.
        if name != "eye_landmarks" or "parts" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        value = np.concatenate([_as_points(self.parts[p]["landmarks"])
                                for p in _EYE_PARTS if p in self.parts])
        self.eye_landmarks = value
        return value

    @property
    def pose(self) -> np.ndarray:
        if "pose" not in self._cache:
            from .pose import head_pose

            self._cache["pose"] = head_pose(self.params_global, self.params_local,
                                            self.landmarks, self._model.data.pdm,
                                            self.intrinsics)
        return self._cache["pose"]

    @property
    def confidence(self) -> float:
        """Alias of `certainty` (OpenFace's CSV column name)."""
        return self.certainty

    @property
    def landmarks_3d(self) -> np.ndarray:
        """(68, 3) camera-frame landmarks in mm, as OpenFace's CSV X/Y/Z (spec 03 §6.5)."""
        if "landmarks_3d" not in self._cache:
            from .pose import shape_3d_camera

            self._cache["landmarks_3d"] = shape_3d_camera(
                self.params_global, self.params_local, self.landmarks, self._model.data.pdm,
                self.intrinsics)
        return self._cache["landmarks_3d"]

    @property
    def eye_landmarks_3d(self) -> np.ndarray:
        """(56, 3) camera-frame eye landmarks in mm (each eye from its own sub-model, §6.5)."""
        if "eye_landmarks_3d" not in self._cache:
            from .pose import shape_3d_camera

            eyes = []
            for name in _EYE_PARTS:
                part = self.parts.get(name)
                if part is None:
                    return np.zeros((0, 3), np.float32)
                eyes.append(shape_3d_camera(part["g"], part["q"], _as_points(part["landmarks"]),
                                            self._model._parts_data[name].pdm, self.intrinsics))
            self._cache["eye_landmarks_3d"] = np.concatenate(eyes)
        return self._cache["eye_landmarks_3d"]

    @property
    def gaze(self):
        if "gaze" not in self._cache:
            self._cache["gaze"] = self._model._gaze(self)
        return self._cache["gaze"]


def _as_points(flat: np.ndarray) -> np.ndarray:
    """(n, 2) float64 points from the core's (x_1..x_n, y_1..y_n) layout, in one copy."""
    return np.ascontiguousarray(flat.reshape(2, -1).T, dtype=np.float64)


def _resolve_intrinsics(intrinsics, shape) -> np.ndarray:
    """(fx, fy, cx, cy) as float64: the given ones checked, or OpenFace's defaults for an image
    of `shape` (spec 03 §6.1)."""
    if intrinsics is None:
        from .pose import default_intrinsics

        return np.array(default_intrinsics(shape[1], shape[0]))  # finite, fx = fy > 0
    k = np.asarray(intrinsics, dtype=np.float64).reshape(-1)
    if k.size != 4 or not np.all(np.isfinite(k)) or np.any(k[:2] <= 0):
        raise ValueError(f"intrinsics must be (fx, fy, cx, cy) with fx, fy > 0, got {intrinsics}")
    return k


def _result_fields(state, *, certainty: float, success: bool, bbox, intrinsics, model,
                   message: str, no_eyes=np.zeros((0, 2))) -> dict:
    """Keyword arguments of a Result from a fit state (FitState or a tracker's face state, which
    carry the same fields). `no_eyes` is what eye_landmarks hold when no eye part has run."""
    eyes = [state.parts[name] for name in _EYE_PARTS if name in state.parts]
    if not eyes:
        eye_landmarks = no_eyes
    elif any(isinstance(e, _DeferredPart) and not e.loaded for e in eyes):
        eye_landmarks = None  # computed on first access (Result.__getattr__)
    else:
        eye_landmarks = np.concatenate([_as_points(e["landmarks"]) for e in eyes])
    return dict(
        landmarks=_as_points(state.landmarks),
        eye_landmarks=eye_landmarks,
        params_global=np.asarray(state.g, np.float64),
        params_local=np.asarray(state.q, np.float64),
        likelihood=float(state.likelihood),
        converged=bool(state.converged and state.fit_success),
        fit_success=bool(state.fit_success),
        iterations=int(state.iterations),
        view=int(state.view),
        bbox=np.asarray(bbox, np.float64),
        message=message,
        certainty=float(certainty),
        success=bool(success),
        intrinsics=intrinsics,
        landmark_likelihoods=state.landmark_likelihoods,
        parts=state.parts,
        _model=model,
    )


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
        self._lock = threading.Lock()
        self._validator = None
        self._mtcnn = None
        self._parts_data = {p.name: p.model for p in data.parts}
        #: Rows of eye_landmarks when the model has the two 28-point eye parts (56), else 0.
        self.n_eye_landmarks = 56 if any(name in _EYE_PARTS for name in self._parts_data) else 0

    # -- lazily loaded companions -------------------------------------------------------------
    def _get_validator(self):
        """The CNN validator named by the main file (None if it names none)."""
        if self._validator is None and self.data.validator_path:
            with self._lock:
                if self._validator is None:
                    from .models.validator import read_validator
                    from .validate import prepare_validator

                    self._validator = prepare_validator(read_validator(self.data.validator_path))
        return self._validator

    def _get_mtcnn(self):
        if self._mtcnn is None:
            with self._lock:
                if self._mtcnn is None:
                    from .detect import prepare_mtcnn
                    from .models.mtcnn import read_mtcnn

                    path = Path(self.data.path).parent / "mtcnn_detector" / "MTCNN_detector.txt"
                    if not path.exists():
                        raise ModelNotFoundError(
                            f"MTCNN face detector not found at {path}; the OpenFace model directory "
                            "should contain mtcnn_detector/ (or use detector='haar')")
                    self._mtcnn = prepare_mtcnn(read_mtcnn(path))
        return self._mtcnn

    def _validate(self, gray: np.ndarray, state, settings: FitSettings) -> Tuple[float, bool]:
        """(certainty, success) of a fit (spec 02 §2.1 step 5): the CNN validator when it is on
        and the fit succeeded, else 1/0 from the fit's own success."""
        validator = self._get_validator() if settings.validate else None
        if validator is not None and state.fit_success:
            # Our own fit's arrays: the core call directly, without validate()'s argument checks.
            lm = np.ascontiguousarray(state.landmarks.reshape(2, -1).T, dtype=np.float32)
            g = state.g
            c = float(validator.validate(gray, lm, float(g[1]), float(g[2]), float(g[3])))
            return c, bool(c > settings.validation_boundary)
        return (1.0 if state.fit_success else 0.0), bool(state.fit_success)

    def _gaze(self, r: "Result"):
        from .gaze import EyeFit, estimate_gaze

        eyes = []
        for name in _EYE_PARTS:
            part = r.parts.get(name)
            if part is None:
                return None
            eyes.append(EyeFit(self._parts_data[name].pdm, part["g"], part["q"],
                               _as_points(part["landmarks"])))
        return estimate_gaze(r.params_global, r.params_local, r.landmarks, self.data.pdm,
                             eyes[0], eyes[1], r.intrinsics, pose=r.pose)

    # -- detection ----------------------------------------------------------------------------
    def detect_faces(self, image: np.ndarray, detector: str = "mtcnn") -> np.ndarray:
        """Face boxes (k, 5) float32 [x, y, w, h, score] in the convention fit() expects.

        detector: 'mtcnn' (OpenFace's default, from the model directory's mtcnn_detector/) or
        'haar' (OpenCV's stock frontal cascade with OpenFace's box conversion; score 1).
        Images too small for the detector give an empty (0, 5) array.
        """
        if detector == "mtcnn":
            from .detect import detect_faces_mtcnn

            return detect_faces_mtcnn(self._get_mtcnn(), image)
        if detector == "haar":
            from .detect import detect_faces_haar

            return detect_faces_haar(to_gray(image))
        raise ValueError(f"detector must be 'mtcnn' or 'haar', got {detector!r}")

    def detect(self, image: np.ndarray, preset: Union[str, FitSettings] = "image",
               detector: str = "mtcnn", intrinsics: Optional[Sequence[float]] = None
               ) -> List["Result"]:
        """Detect every face and fit each one (OpenFace FaceLandmarkImg behaviour)."""
        boxes = self.detect_faces(image, detector)
        out = []
        for box in boxes:
            r = self.fit(image, box[:4], preset=preset, intrinsics=intrinsics)
            r.score = float(box[4])
            out.append(r)
        return out

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

    def fit(self, image: np.ndarray, bbox, preset: Union[str, FitSettings] = "image",
            intrinsics: Optional[Sequence[float]] = None) -> Result:
        """Fit the 68 landmarks to the face in `bbox` = (x, y, w, h).

        image: HxW gray or HxWx3 BGR (OpenCV convention) uint8 array (uint16 and BGRA accepted).
        preset: 'image' (OpenFace FaceLandmarkImg defaults), 'wild', or a FitSettings.
        intrinsics: (fx, fy, cx, cy) for pose and gaze; OpenFace's defaults if None.
        """
        settings = resolve(preset)
        gray = gray_source(image)  # colour: converted only where the fit reads
        box = check_box(bbox, gray.shape)
        intrinsics = _resolve_intrinsics(intrinsics, gray.shape)
        # The core samples the 8-bit image directly (exactly as its float copy would be).
        state = fit_from_box(self._core, gray, box, settings)
        message = state.message
        rows, cols = gray.shape
        if box[0] < 0 or box[1] < 0 or box[0] + box[2] > cols or box[1] + box[3] > rows:
            message = (message + "; " if message else "") + "box extends outside the image"
        # Hypotheses are chosen by likelihood alone, so validating only the kept one gives
        # OpenFace's outputs.
        certainty, success = self._validate(gray, state, settings)
        return Result(**_result_fields(state, certainty=certainty, success=success, bbox=box,
                                       intrinsics=intrinsics, model=self, message=message))

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
