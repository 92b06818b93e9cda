"""The CLNF fitting schedule, readable top to bottom (spec 02 §2-4).

One fit from a face box:

1. for each rotation hypothesis (1, or 11 with ``multi_view``): start from the PDM placed in the
   box (:func:`initial_params`) and run :func:`detect_landmarks`; keep the most likely;
2. :func:`detect_landmarks` runs the scale schedule — per patch-expert scale one call into the C++
   core (responses, rigid NU-RLMS phase, non-rigid phase) — then the hierarchical part models
   (inner face, both eyes), whose points are merged back and the main PDM refitted to them.

:func:`detect_landmarks` hands that schedule to the C++ core as data (:meth:`CoreModel.schedule`:
per scale the window, iterations and adjusted sigma/reg/weight) and runs it in one call;
:func:`run_schedule` / :func:`detect_landmarks_python` are the same loop in Python, one core call
per scale and part, kept as the readable reference (tests check both agree bit for bit).
"""
from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import _core
from .models.core_adapter import make_core_scale
from .models.types import CLNFModelData, PartSettings
from .presets import MULTI_VIEW_ROTATIONS, FitSettings

__all__ = ["CoreModel", "FitState", "fit_from_box", "detect_landmarks", "detect_landmarks_python",
           "scale_parameters"]

_f32 = np.float32


#: The part models whose landmarks a Result reports as eye_landmarks. When no part is fitted (a
#: small face) every part's PDM fit to the mapped main points (spec 02 §4 step 2) is deferred to
#: first access: nothing in the fit or the next frame depends on it.
EYE_PARTS = ("left_eye_28", "right_eye_28")


class CoreModel:
    """The C++ objects of one CLNF model (main or part) and the tables built on first use.

    Sigma matrices (per scale and window size) and KDE grids (per window size and sigma) are
    derived from the model alone, built once under a lock and then only read, so one model can
    be used from several threads.
    """

    def __init__(self, data: CLNFModelData):
        self.data = data
        self.pdm = _core.Pdm(data.pdm.mean, data.pdm.components, data.pdm.eigenvalues)
        self.scales = [make_core_scale(s) for s in data.scales]
        self.patch_scaling = [float(s.patch_scaling) for s in data.scales]
        self.parts: List[Tuple[str, "CoreModel", np.ndarray, PartSettings]] = [
            (p.name, CoreModel(p.model), np.asarray(p.mapping, dtype=np.int64), p.settings)
            for p in data.parts
        ]
        self._sigmas: Dict[Tuple[int, int], object] = {}
        self._grids: Dict[Tuple[int, float], np.ndarray] = {}
        self._schedules: Dict[tuple, object] = {}
        self._lock = threading.RLock()

    @property
    def n(self) -> int:
        return self.pdm.n

    @property
    def m(self) -> int:
        return self.pdm.m

    def _cached(self, store: dict, key, build):
        """store[key], built once under the lock (double-checked: reads need no lock)."""
        value = store.get(key)
        if value is None:
            with self._lock:
                value = store.get(key)
                if value is None:
                    value = build()
                    store[key] = value
        return value

    def sigmas(self, k: int, ws: int):
        # Views are built when a fit first selects them (thread-safe, in C++).
        return self._cached(self._sigmas, (k, ws),
                            lambda: _core.build_sigmas(self.scales[k], ws, lazy=True))

    def grid(self, ws: int, a: float) -> np.ndarray:
        # OpenFace caches the grid by ws only, keeping the sigma of first use (spec 02 §2.5);
        # keyed by (ws, a) here, which is identical for every standard schedule and correct
        # when one model object is used with several presets.
        return self._cached(self._grids, (ws, float(a)), lambda: _core.kde_grid(ws, a))

    def scale_steps(self, windows, sigma: float, reg: float, weight: float, iterations: int,
                    refine_parameters: bool) -> list:
        """The scales :func:`run_schedule` visits, as data for the C++ schedule: per visited scale
        (index, patch experts, Sigma set, KDE grid, ws, iterations, sigma, reg, weight)."""
        steps = []
        for k in range(len(self.scales)):
            ws = windows[k] if k < len(windows) else 0
            if ws == 0:
                continue
            sigma_k, reg_k, weight_k = scale_parameters(sigma, reg, weight, self.patch_scaling, k,
                                                        refine_parameters)
            a = float(_f32(-0.5 / (sigma_k * sigma_k)))
            steps.append((k, self.scales[k], self.sigmas(k, ws), self.grid(ws, a), ws, iterations,
                          sigma_k, reg_k, weight_k))
        return steps

    def schedule(self, settings: FitSettings, windows=None):
        """The per-fit schedule of `settings` (main scales, then the parts) as a `_core.Schedule`,
        built once per (settings, windows) and then shared read-only."""
        windows = tuple(settings.windows if windows is None else windows)

        def build():
            main = (self.pdm, self.scale_steps(windows, settings.sigma, settings.reg_factor,
                                               settings.weight_factor, settings.iterations,
                                               settings.refine_parameters))
            parts = []
            if settings.refine_hierarchical:
                for name, part, mapping, ps in self.parts:
                    steps = part.scale_steps(ps.window_sizes, ps.sigma, ps.reg_factor,
                                             ps.weight_factor, ps.iterations, False)
                    parts.append((part.pdm, steps, mapping, 0.9 * part.patch_scaling[0]))
            return _core.Schedule(main, parts)

        # The lock is re-entrant: building a schedule fills the Sigma and grid caches too.
        return self._cached(self._schedules, (settings, windows), build)


def scale_parameters(settings_sigma: float, settings_reg: float, settings_weight: float,
                     patch_scaling: List[float], k: int, refine: bool) -> Tuple[float, float, float]:
    """Per-scale sigma, reg and weight (spec 02 §1.4): computed in double from the float base
    values and stored as float."""
    sigma, reg, weight = (float(_f32(v)) for v in (settings_sigma, settings_reg, settings_weight))
    if not refine:
        return sigma, reg, weight
    q = min(k, 2)
    L = math.log(patch_scaling[q] / 0.25) / math.log(2.0)
    reg_k = reg - 15.0 * L
    if reg_k <= 0:
        reg_k = 0.001
    return float(_f32(sigma + 0.25 * L)), float(_f32(reg_k)), float(_f32(weight + 2.0 * weight * L))


@dataclass
class FitState:
    """Everything one fit produces (main model plus parts)."""

    g: np.ndarray                       # (6,) float32
    q: np.ndarray                       # (m,) float32
    landmarks: np.ndarray               # (2n,) float32, x's then y's
    likelihood: float = -10.0
    landmark_likelihoods: Optional[np.ndarray] = None
    fit_success: bool = True
    converged: bool = False
    iterations: int = 0
    view: int = 0
    message: str = ""
    parts: Dict[str, dict] = field(default_factory=dict)  # name -> g, q, landmarks, fitted


def run_schedule(core: CoreModel, image: np.ndarray, g: np.ndarray, q: np.ndarray,
                 windows, sigma: float, reg: float, weight: float, iterations: int,
                 refine_parameters: bool) -> FitState:
    """Scale loop of one model (spec 02 §2.2), from (g, q)."""
    state = FitState(g=g.astype(_f32), q=q.astype(_f32), landmarks=np.empty(0, _f32))
    n_scales = len(core.scales)
    for k in range(n_scales):
        ws = windows[k] if k < len(windows) else 0
        if ws == 0:
            continue
        sigma_k, reg_k, weight_k = scale_parameters(sigma, reg, weight, core.patch_scaling, k,
                                                    refine_parameters)
        a = float(_f32(-0.5 / (sigma_k * sigma_k)))
        r = _core.fit_scale(image, core.pdm, core.scales[k], core.sigmas(k, ws), core.grid(ws, a),
                            ws, iterations, sigma_k, reg_k, weight_k, True, state.g, state.q)
        state.g, state.q = r["g"], r["q"]
        state.view = r["view"]
        state.iterations += r["rigid_iterations"] + r["nonrigid_iterations"]
        state.converged = bool(r["converged"])
        # The likelihood kept is the one of the last visited scale (spec 02 §2.2 quirk note).
        state.likelihood = float(r["model_likelihood"])
        state.landmark_likelihoods = r["landmark_likelihoods"]
        if state.g[0] < 0.25:
            state.fit_success = False
            state.message = f"face too small: PDM scale {state.g[0]:.3f} < 0.25 after scale {k}"
            break
    state.landmarks = _core.shape2d(core.pdm, state.g, state.q)
    return state


def _fit_part(core: CoreModel, part: CoreModel, mapping: np.ndarray, settings: PartSettings,
              image: np.ndarray, main_landmarks: np.ndarray, main_scale: float) -> dict:
    n_main, n_part = core.n, part.n
    target = np.zeros(2 * n_part, _f32)
    target[mapping[:, 1]] = main_landmarks[mapping[:, 0]]
    target[mapping[:, 1] + n_part] = main_landmarks[mapping[:, 0] + n_main]
    # Unmapped entries stay 0 and count as missing (x == 0), spec 02 §4 step 2.
    g, q, _ = _core.params_from_landmarks(part.pdm, target)
    fitted = main_scale > 0.9 * part.patch_scaling[0]
    if fitted:
        st = run_schedule(part, image, g, q, settings.window_sizes, settings.sigma,
                          settings.reg_factor, settings.weight_factor, settings.iterations,
                          refine_parameters=False)
        g, q, lm = st.g, st.q, st.landmarks
        likelihood = st.likelihood
    else:
        lm = _core.shape2d(part.pdm, g, q)
        likelihood = None
    return {"g": g, "q": q, "landmarks": lm, "fitted": fitted, "likelihood": likelihood}


def detect_landmarks(core: CoreModel, image: np.ndarray, g: np.ndarray, q: np.ndarray,
                     settings: FitSettings, windows=None) -> FitState:
    """Fit from (g, q): scale schedule, then the hierarchical parts (spec 02 §2.1, §4), in one
    call into the C++ core (the schedule of :func:`detect_landmarks_python`, as data)."""
    schedule = core.schedule(settings, windows)
    r = _core.detect_landmarks(image, schedule, np.asarray(g, _f32), np.asarray(q, _f32))
    state = FitState(g=r["g"], q=r["q"], landmarks=r["landmarks"], fit_success=r["fit_success"],
                     converged=bool(r["converged"]), iterations=r["iterations"], view=r["view"])
    if r["likelihood"] is not None:
        state.likelihood = float(r["likelihood"])
        state.landmark_likelihoods = r["landmark_likelihoods"]
    if not state.fit_success:
        state.message = (f"face too small: PDM scale {state.g[0]:.3f} < 0.25 after scale "
                         f"{r['failed_scale']}")
    if settings.refine_hierarchical:
        for k, ((name, _, _, _), p) in enumerate(zip(core.parts, r["parts"])):
            if p is None:  # deferred: no part was fitted, so the main landmarks are final
                state.parts[name] = _DeferredPart(schedule, k, state.landmarks)
            else:
                state.parts[name] = {"g": p["g"], "q": p["q"], "landmarks": p["landmarks"],
                                     "fitted": p["fitted"], "likelihood": p["likelihood"]}
    return state


class _DeferredPart(Mapping):
    """An unfitted part's entry of ``state.parts`` (g, q, landmarks, fitted, likelihood),
    computed on first access by the schedule's own code (`Schedule.unfitted_part`: the part PDM
    fitted to the mapped main landmarks, spec 02 §4 step 2)."""

    def __init__(self, schedule, k: int, main_landmarks: np.ndarray):
        self._args = (schedule, k, main_landmarks)
        self._value: Optional[dict] = None

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def _load(self) -> dict:
        if self._value is None:
            schedule, k, lm = self._args
            r = schedule.unfitted_part(k, lm)
            self._value = {key: r[key] for key in ("g", "q", "landmarks", "fitted", "likelihood")}
        return self._value

    def __getitem__(self, key):
        return self._load()[key]

    def __iter__(self):
        return iter(("g", "q", "landmarks", "fitted", "likelihood"))

    def __len__(self) -> int:
        return 5

    def __repr__(self) -> str:
        return repr(self._load())


def detect_landmarks_python(core: CoreModel, image: np.ndarray, g: np.ndarray, q: np.ndarray,
                            settings: FitSettings, windows=None) -> FitState:
    """:func:`detect_landmarks` with the loop in Python (one core call per scale and part)."""
    state = run_schedule(core, image, g, q, settings.windows if windows is None else windows,
                         settings.sigma, settings.reg_factor, settings.weight_factor,
                         settings.iterations, settings.refine_parameters)
    if settings.refine_hierarchical and core.parts:
        main_scale = float(state.g[0])
        any_fitted = False
        for name, part, mapping, psettings in core.parts:
            res = _fit_part(core, part, mapping, psettings, image, state.landmarks, main_scale)
            state.parts[name] = res
            any_fitted |= res["fitted"]
        if any_fitted:
            merged = state.landmarks.copy()
            n = core.n
            for name, part, mapping, _ in core.parts:  # file order: eyes overwrite inner
                lm = state.parts[name]["landmarks"]
                merged[mapping[:, 0]] = lm[mapping[:, 1]]
                merged[mapping[:, 0] + n] = lm[mapping[:, 1] + part.n]
            g2, q2, _ = _core.params_from_landmarks(core.pdm, merged)
            state.g, state.q = g2, q2
            state.landmarks = _core.shape2d(core.pdm, g2, q2)
    return state


def initial_params(core: CoreModel, box, rotation=(0.0, 0.0, 0.0)) -> Tuple[np.ndarray, np.ndarray]:
    """PDM parameters whose mean shape, rotated by `rotation`, fills `box` (spec 01 §3.7)."""
    q = np.zeros(core.m, _f32)
    g = _core.params_from_bbox(core.pdm, np.asarray(box, _f32), q, np.asarray(rotation, _f32))
    return np.asarray(g, _f32), q


def fit_from_box(core: CoreModel, image: np.ndarray, box, settings: FitSettings) -> FitState:
    """Multi-hypothesis fit from a face box (spec 02 §3): the most likely hypothesis wins."""
    rotations = MULTI_VIEW_ROTATIONS if settings.multi_view else MULTI_VIEW_ROTATIONS[:1]
    best: Optional[FitState] = None
    for rot in rotations:
        g, q = initial_params(core, box, rot)
        state = detect_landmarks(core, image, g, q, settings)
        if best is None or state.likelihood > best.likelihood:
            best = state
    assert best is not None
    return best
