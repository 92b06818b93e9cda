"""Video tracking: OpenFace's single-face `DetectLandmarksInVideo` (`Tracker`) and a multi-face
tracker with stable face IDs (`MultiTracker`).

Single face (spec 02 §6.3, spec 03 §5), exactly as FeatureExtraction tracks:

    tracker = fastclnf.Tracker(model)
    for index, timestamp, frame in fastclnf.io.video.open_frames("clip.mp4"):
        r = tracker.update(frame)           # a TrackResult; r.success is OpenFace's return value

Each frame continues the fit from the previous frame's parameters (one hypothesis; the coarsest
scale is skipped while tracking goes well). The face detector (MTCNN on the colour frame, widest
face) runs on the first frame, every 12th frame while no face has been found, and on the first
failed frame and every second consecutive failure while tracking; a detection re-initialises from
the box with 11 rotation hypotheses.

Trackers keep all their state to themselves and share only the model, whose caches are built
under a lock: separate trackers may be stepped from separate threads (one tracker must not be
stepped from two threads at once).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .detect import select_face
from .fit import FitState, detect_landmarks, fit_from_box
from .image import _as_u8, _gray_source_u8
from .model import Model, Result, _resolve_intrinsics, _result_fields
from .presets import FitSettings, resolve

__all__ = ["Tracker", "MultiTracker", "TrackResult"]

_f32 = np.float32


@dataclass
class TrackResult(Result):
    """A `Result` for one face in one frame, plus the tracker's state after the frame.

    success: what OpenFace's `DetectLandmarksInVideo` returned (FeatureExtraction's `success`
        column). It can differ from `detection_success`, the validator's verdict held by the
        model: the first detection of a video always returns True (spec 02 §6.3 quirk).
    certainty: the model's `detection_certainty` (FeatureExtraction's `confidence` column).
    frame_ms: wall-clock milliseconds of this update (this face's share for MultiTracker).
    face_id: 0 for `Tracker`; the stable ID for `MultiTracker`.
    detector_ran: the face detector ran for this face/frame; reinitialised: the fit restarted
        from a detected box (and kept the result).
    tracking_initialised, failures_in_a_row: OpenFace's state after the frame.
    bbox: the detected box on frames re-initialised from a detection, else the bounding box of
        the landmarks.
    """

    frame_ms: float = 0.0
    face_id: int = 0
    detection_success: bool = False
    tracking_initialised: bool = False
    failures_in_a_row: int = -1
    detector_ran: bool = False
    reinitialised: bool = False


def _check_frame(frame, who: str) -> np.ndarray:
    if frame is None:
        raise TypeError(f"{who}: frame is None (end of the video, or a failed read?)")
    return _as_u8(frame, f"{who}: frame")


def _landmark_box(flat: np.ndarray) -> np.ndarray:
    xy = flat.reshape(2, -1)
    lo, hi = xy.min(axis=1).astype(np.float64), xy.max(axis=1).astype(np.float64)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])


class _Frame:
    """One frame as the fitter wants it: BGR (for the detector) and 8-bit gray (the core samples
    it directly; for a colour frame only the pixels the fit and the validator read are
    converted)."""

    __slots__ = ("bgr", "gray")

    def __init__(self, frame: np.ndarray):  # frame: from _check_frame
        self.bgr = frame
        self.gray = _gray_source_u8(frame)


@dataclass
class _FaceModel:
    """What OpenFace's CLNF object holds between frames for one face (spec 02 §6.3, §6.5)."""

    g: np.ndarray
    q: np.ndarray
    landmarks: np.ndarray                 # (2n,) float32
    likelihood: float = -10.0
    landmark_likelihoods: Optional[np.ndarray] = None
    certainty: float = 0.0
    detection_success: bool = False
    tracking_initialised: bool = False
    failures_in_a_row: int = -1
    parts: Dict[str, dict] = field(default_factory=dict)
    # Diagnostics of the last fit (not part of OpenFace's state machine).
    fit_success: bool = False
    converged: bool = False
    iterations: int = 0
    view: int = 0
    message: str = ""

    @classmethod
    def fresh(cls, n: int, m: int) -> "_FaceModel":
        g = np.array([1, 0, 0, 0, 0, 0], _f32)
        return cls(g=g, q=np.zeros(m, _f32), landmarks=np.zeros(2 * n, _f32))

    # Fields a failed re-detection restores (spec 02 §6.3 step 3.1/3.4).
    _SAVED = ("g", "q", "likelihood", "landmarks", "landmark_likelihoods")

    def save(self) -> dict:
        return {k: getattr(self, k) for k in self._SAVED}

    def restore(self, saved: dict) -> None:
        for k, v in saved.items():
            setattr(self, k, v)

    def take_fit(self, st: FitState, certainty: float, success: bool) -> None:
        self.g, self.q, self.landmarks = st.g, st.q, st.landmarks
        self.likelihood = float(st.likelihood)
        self.landmark_likelihoods = st.landmark_likelihoods
        self.parts = st.parts
        self.certainty, self.detection_success = float(certainty), bool(success)
        self.fit_success, self.converged = bool(st.fit_success), bool(st.converged)
        self.iterations, self.view, self.message = int(st.iterations), int(st.view), st.message


class _Fitter:
    """The per-face fitting steps shared by Tracker and MultiTracker: tracking from the previous
    parameters and re-initialising from a box, each followed by validation."""

    def __init__(self, model: Model, settings: FitSettings):
        if not isinstance(model, Model):
            raise TypeError(f"model must be a fastclnf.Model (fastclnf.load_model()), "
                            f"got {type(model).__name__}")
        self.model = model
        self.core = model._core
        self.settings = settings
        # Re-detection always fits with the 11 rotation hypotheses and the init windows
        # (spec 02 §6.3 step 3.3); the user's multi_view only matters there, and OpenFace
        # forces it on and then clears it.
        self.detect_settings = dataclasses.replace(settings, multi_view=True)

    def _validate(self, frame: _Frame, st: FitState) -> Tuple[float, bool]:
        return self.model._validate(frame.gray, st, self.settings)

    def track(self, face: _FaceModel, frame: _Frame) -> bool:
        """One tracking fit from the face's (g, q) (spec 02 §6.3 step 2); returns its success."""
        s = self.settings
        windows = s.tracking_windows if face.detection_success else s.windows
        st = detect_landmarks(self.core, frame.gray, face.g, face.q, s, windows=windows)
        certainty, ok = self._validate(frame, st)
        face.take_fit(st, certainty, ok)
        return ok

    def fit_box(self, frame: _Frame, box) -> Tuple[FitState, float, bool]:
        """A fresh multi-hypothesis fit from a detected box (spec 02 §6.3 step 3.3)."""
        st = fit_from_box(self.core, frame.gray, np.asarray(box[:4], np.float64),
                          self.detect_settings)
        certainty, ok = self._validate(frame, st)
        return st, certainty, ok

    def result(self, face: _FaceModel, success: bool, intrinsics, bbox, **extra) -> TrackResult:
        # Before any eye fit OpenFace holds zeros for the eye landmarks of an eye-model face.
        return TrackResult(
            **_result_fields(face, certainty=face.certainty, success=success, bbox=bbox,
                             intrinsics=intrinsics, model=self.model, message=face.message,
                             no_eyes=np.zeros((self.model.n_eye_landmarks, 2))),
            detection_success=bool(face.detection_success),
            tracking_initialised=bool(face.tracking_initialised),
            failures_in_a_row=int(face.failures_in_a_row),
            **extra,
        )


def _c_mod(a: int, b: int) -> int:
    """C++'s `%` (sign of the dividend), which OpenFace's cadence tests use."""
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _check_tracker_args(settings: FitSettings, detector: str) -> None:
    if settings.reinit_video_every <= 0:
        # OpenFace divides by 6·reinit_video_every; 0 is not a supported setting there.
        raise ValueError("reinit_video_every must be >= 1")
    if detector not in ("mtcnn", "haar"):
        raise ValueError(f"detector must be 'mtcnn' or 'haar', got {detector!r}")


class Tracker:
    """One face through a video, exactly as OpenFace 2.2's `DetectLandmarksInVideo`
    (FeatureExtraction settings, spec 02 §6.3).

    model: a loaded `fastclnf.Model`. preset: 'video' (OpenFace's FeatureExtraction settings;
    'image' is identical), 'wild', or a FitSettings (its `windows`, `tracking_windows` and
    `reinit_video_every` drive tracking). detector: 'mtcnn' (OpenFace's default) or 'haar'.
    intrinsics: (fx, fy, cx, cy) for pose/gaze; by default OpenFace's, from the first frame's
    size and then kept (spec 03 §6.1).

    `update(frame)` returns a `TrackResult` for every frame, successful or not (its fields are
    whatever the model holds, as in FeatureExtraction's CSV rows).
    """

    def __init__(self, model: Model, preset: Union[str, FitSettings] = "video",
                 detector: str = "mtcnn", intrinsics: Optional[Sequence[float]] = None):
        self.settings = resolve(preset)
        _check_tracker_args(self.settings, detector)
        self._fitter = _Fitter(model, self.settings)
        self.model = model
        self.detector = detector
        self._user_intrinsics = intrinsics
        self.intrinsics: Optional[np.ndarray] = None
        self.frames = 0
        self.reset()

    # -- state ---------------------------------------------------------------------------------
    def reset(self, preference: Optional[Tuple[float, float]] = None) -> None:
        """Forget the face (OpenFace's `Reset`, spec 02 §6.5): the next frame starts with a
        detection. `preference` = (fx, fy) as fractions of the frame width/height: the next
        detection picks the face whose box centre is nearest that point instead of the widest.
        The intrinsics are recomputed from the next frame unless given to the constructor."""
        self._face = _FaceModel.fresh(self.model._core.n, self.model._core.m)
        self._preference = None if preference is None else tuple(float(v) for v in preference)
        self.intrinsics = None
        self.frames = 0

    @property
    def tracking(self) -> bool:
        """OpenFace's `tracking_initialised`."""
        return self._face.tracking_initialised

    @property
    def failures_in_a_row(self) -> int:
        return self._face.failures_in_a_row

    # -- one frame -----------------------------------------------------------------------------
    def update(self, frame: np.ndarray) -> TrackResult:
        """Track the face into `frame` ((H, W, 3) BGR or (H, W) gray, uint8)."""
        t0 = time.perf_counter()
        frame = _check_frame(frame, "Tracker.update")
        f = _Frame(frame)
        if self.intrinsics is None:
            self.intrinsics = _resolve_intrinsics(self._user_intrinsics, f.gray.shape)
        success, detector_ran, reinit, box = self._step(f)
        self.frames += 1
        face = self._face
        if box is None:
            box = _landmark_box(face.landmarks)
        r = self._fitter.result(face, success, self.intrinsics, box, detector_ran=detector_ran,
                                reinitialised=reinit)
        r.frame_ms = (time.perf_counter() - t0) * 1e3
        return r

    def _detect(self, f: _Frame):
        boxes = self.model.detect_faces(f.bgr, self.detector)
        pref = None
        if self._preference is not None:
            rows, cols = f.gray.shape
            pref = (self._preference[0] * cols, self._preference[1] * rows)
            self._preference = None          # consumed by this detection
        i = select_face(boxes, pref)
        return None if i is None else boxes[i]

    def _step(self, f: _Frame):
        """DetectLandmarksInVideo (spec 02 §6.3); returns (success, detector ran, re-initialised,
        the detected box that was kept, or None)."""
        s, face, fitter = self.settings, self._face, self._fitter
        initial = not face.tracking_initialised
        # 2. Tracking from the previous frame's parameters.
        if face.tracking_initialised:
            ok = fitter.track(face, f)
            face.failures_in_a_row = face.failures_in_a_row + 1 if not ok else -1
        # 3. Re-detection cadence.
        every = s.reinit_video_every
        if not face.tracking_initialised:
            run = _c_mod(face.failures_in_a_row + 1, 6 * every) == 0
        else:
            run = (not face.detection_success) and _c_mod(face.failures_in_a_row, every) == 0
        detector_ran, reinit, used_box = run, False, None
        if run:
            box = self._detect(f)
            if box is not None:
                used_box = box[:4]
                face.tracking_initialised = True
                saved = face.save()
                st, certainty, ok = fitter.fit_box(f, box)
                face.take_fit(st, certainty, ok)
                if not initial and not ok:
                    # Quirk: landmarks/params restored, but the failed attempt's certainty,
                    # success and part models (eye landmarks) are kept.
                    face.restore(saved)
                    return False, True, False, None
                face.failures_in_a_row = -1
                # Quirk: the initial detection returns true even if the validator rejected it.
                return True, True, True, used_box
        # 4./5.
        if not face.tracking_initialised:
            face.failures_in_a_row += 1
        if face.failures_in_a_row > 100:
            face.tracking_initialised = False
        return face.detection_success, detector_ran, reinit, used_box


# ------------------------------------------------------------------------------------------------
# Several faces


def _iou(a, b) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def _centre_distance(a, b) -> float:
    """Distance between box centres in units of the larger box side."""
    side = max(a[2], a[3], b[2], b[3], 1e-6)
    return float(np.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2) / side)


@dataclass
class _Track:
    face_id: int
    face: _FaceModel
    box: np.ndarray                 # landmark box of the current fit
    last_good_box: np.ndarray       # landmark box of the last successful frame
    last_good_frame: int
    first_frame: int
    ok_before: bool = False         # successful on the previous frame


class MultiTracker:
    """Several faces through a video, each tracked like `Tracker`, with stable integer IDs.

    Per frame:

    1. every live track continues its fit from its own previous parameters (windows chosen by
       its previous success, exactly as `Tracker` does);
    2. the face detector (MTCNN on the colour frame) runs on frame 0, then every
       `detect_every` frames (default 6: five times a second at 30 fps), and on frames where a
       track fails for the first time or for every `reinit_video_every`-th (2nd) consecutive
       time, during its first `redetect_failures` (10) failures — `Tracker`'s re-detection
       cadence for a lost face;
    3. detected boxes that lie on a successfully tracked face (IoU >= `iou_threshold` or centres
       closer than `centre_threshold` x the box side) are ignored. The others are matched to
       failing or lost tracks near their last successful box: centres closer than
       `reacquire_radius` box sides, a radius that grows by `reacquire_growth` sides per frame
       since that success (a face moves while it is not tracked) up to `reacquire_max`; pairs
       are taken nearest first, each box and track once. A matched track is re-initialised from
       the box with the 11 rotation hypotheses and keeps its ID if the fit passes the
       validator; an unmatched box whose fit passes starts a new track with the next unused ID;
    4. two successful tracks on one face (IoU >= `duplicate_iou` or centres closer than
       `centre_threshold` sides) are merged: the one that was already successful on the
       previous frame stays (so a failing track that drifts onto another face never takes its
       ID), then the older (smaller) ID;
    5. a track failing for more than `max_failures` (30) consecutive frames stops being fitted
       and is "lost"; a detection matched to it (3.) within `keep_lost` (90) frames of its last
       success gives its ID back. IDs are never reused for another face.

    `update(frame)` returns one `TrackResult` per live track, successful or not (`success`
    tells; a failing track's landmarks are its last attempt), sorted by face_id.
    `max_faces` caps the number of live tracks (None: no cap; wider boxes start first).
    Like `Tracker`, a MultiTracker keeps its state to itself and can run on a worker thread.
    """

    def __init__(self, model: Model, max_faces: Optional[int] = None,
                 preset: Union[str, FitSettings] = "video", detector: str = "mtcnn",
                 detect_every: int = 6, redetect_failures: int = 10, max_failures: int = 30,
                 keep_lost: int = 90, iou_threshold: float = 0.3, centre_threshold: float = 0.5,
                 duplicate_iou: float = 0.3, reacquire_radius: float = 1.5,
                 reacquire_growth: float = 0.15, reacquire_max: float = 4.0,
                 intrinsics: Optional[Sequence[float]] = None):
        self.settings = resolve(preset)
        if max_faces is not None and max_faces < 1:
            raise ValueError("max_faces must be None or >= 1")
        if detect_every < 1:
            raise ValueError("detect_every must be >= 1")
        _check_tracker_args(self.settings, detector)
        self._fitter = _Fitter(model, self.settings)
        self.model = model
        self.max_faces = max_faces
        self.detector = detector
        self.detect_every = int(detect_every)
        self.redetect_failures = int(redetect_failures)
        self.max_failures = int(max_failures)
        self.keep_lost = int(keep_lost)
        self.iou_threshold = float(iou_threshold)
        self.centre_threshold = float(centre_threshold)
        self.duplicate_iou = float(duplicate_iou)
        self.reacquire_radius = float(reacquire_radius)
        self.reacquire_growth = float(reacquire_growth)
        self.reacquire_max = float(reacquire_max)
        self._user_intrinsics = intrinsics
        self.reset()

    def reset(self) -> None:
        """Forget every face; IDs start again at 0."""
        self._live: List[_Track] = []
        self._lost: List[_Track] = []
        self._next_id = 0
        self.frames = 0
        self.intrinsics: Optional[np.ndarray] = None

    @property
    def live_ids(self) -> List[int]:
        """IDs of the tracks being fitted."""
        return [t.face_id for t in self._live]

    @property
    def lost_ids(self) -> List[int]:
        """IDs that a detection near their last place would bring back."""
        return [t.face_id for t in self._lost]

    # -- matching helpers ----------------------------------------------------------------------
    def _on_tracked_face(self, box) -> bool:
        return any(t.face.detection_success and (
            _iou(box, t.box) >= self.iou_threshold
            or _centre_distance(box, t.box) < self.centre_threshold) for t in self._live)

    def _reacquire_pairs(self, boxes, index: int):
        """(distance, box index, track) for boxes near failing/lost tracks, nearest first."""
        pairs = []
        candidates = [t for t in self._live if not t.face.detection_success] + self._lost
        for bi, box in enumerate(boxes):
            for t in candidates:
                gap = index - t.last_good_frame
                radius = min(self.reacquire_radius + self.reacquire_growth * max(gap - 1, 0),
                             self.reacquire_max)
                d = _centre_distance(box, t.last_good_box)
                if d < radius:
                    pairs.append((d, bi, t))
        pairs.sort(key=lambda p: (p[0], p[2].face_id))
        return pairs

    # -- one frame -----------------------------------------------------------------------------
    def update(self, frame: np.ndarray) -> List[TrackResult]:
        """Track every face into `frame` ((H, W, 3) BGR or (H, W) gray, uint8)."""
        t0 = time.perf_counter()
        frame = _check_frame(frame, "MultiTracker.update")
        f = _Frame(frame)
        if self.intrinsics is None:
            self.intrinsics = _resolve_intrinsics(self._user_intrinsics, f.gray.shape)
        index = self.frames
        self.frames += 1
        fitter, every = self._fitter, self.settings.reinit_video_every
        detector_ran: Dict[int, bool] = {}
        reinit: Dict[int, bool] = {}

        # 1. Track every live face from its previous parameters.
        want_detection = index % self.detect_every == 0
        for t in self._live:
            t.ok_before = t.face.detection_success
            ok = fitter.track(t.face, f)
            t.face.failures_in_a_row = -1 if ok else t.face.failures_in_a_row + 1
            t.box = _landmark_box(t.face.landmarks)
            if ok:
                t.last_good_box, t.last_good_frame = t.box, index
            elif (t.face.failures_in_a_row < self.redetect_failures
                  and _c_mod(t.face.failures_in_a_row, every) == 0):
                want_detection = True

        # 2.-3. Detect; re-acquire failing/lost tracks; start new ones.
        if want_detection:
            boxes = self.model.detect_faces(f.bgr, self.detector)
            boxes = boxes[np.argsort(-boxes[:, 2], kind="stable")] if len(boxes) else boxes
            boxes = [b[:4].astype(np.float64) for b in boxes if not self._on_tracked_face(b[:4])]
            used_boxes, used_tracks = set(), set()
            for _, bi, t in self._reacquire_pairs(boxes, index):
                if bi in used_boxes or t.face_id in used_tracks:
                    continue
                used_boxes.add(bi)
                used_tracks.add(t.face_id)
                detector_ran[t.face_id] = True
                st, certainty, ok = fitter.fit_box(f, boxes[bi])
                if not ok:
                    continue          # the track keeps failing; the box is not a new face
                t.face.take_fit(st, certainty, ok)
                t.face.tracking_initialised = True
                self._accept(t, index)
                reinit[t.face_id] = True
                if t in self._lost:
                    self._lost.remove(t)
                    t.ok_before = False
                    self._live.append(t)
            for bi, box in enumerate(boxes):
                if bi in used_boxes or self._on_tracked_face(box):
                    continue
                if self.max_faces is not None and len(self._live) >= self.max_faces:
                    break
                st, certainty, ok = fitter.fit_box(f, box)
                if not ok:
                    continue
                face = _FaceModel.fresh(self.model._core.n, self.model._core.m)
                face.take_fit(st, certainty, ok)
                face.tracking_initialised = True
                t = _Track(self._next_id, face, box, box, index, index)
                self._next_id += 1
                self._accept(t, index)
                self._live.append(t)
                detector_ran[t.face_id] = True
                reinit[t.face_id] = True

        # 4. Two successful tracks on one face: keep the one successful before, then the older.
        keep: List[_Track] = []
        for t in sorted(self._live, key=lambda t: (not t.ok_before, t.face_id)):
            if t.face.detection_success and any(
                    k.face.detection_success and (
                        _iou(t.box, k.box) >= self.duplicate_iou
                        or _centre_distance(t.box, k.box) < self.centre_threshold)
                    for k in keep):
                continue
            keep.append(t)

        # 5. Retire long-failing tracks; forget long-lost ones.
        self._live = []
        for t in sorted(keep, key=lambda t: t.face_id):
            (self._lost if t.face.failures_in_a_row > self.max_failures else self._live).append(t)
        self._lost = [t for t in self._lost if index - t.last_good_frame <= self.keep_lost]

        elapsed = (time.perf_counter() - t0) * 1e3
        out = []
        for t in self._live:
            r = fitter.result(t.face, t.face.detection_success, self.intrinsics, t.box,
                              face_id=t.face_id, detector_ran=detector_ran.get(t.face_id, False),
                              reinitialised=reinit.get(t.face_id, False))
            r.frame_ms = elapsed / len(self._live)
            out.append(r)
        return out

    def _accept(self, t: _Track, index: int) -> None:
        t.face.failures_in_a_row = -1
        t.box = _landmark_box(t.face.landmarks)
        t.last_good_box, t.last_good_frame = t.box, index
