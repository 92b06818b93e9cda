"""In-memory form of the OpenFace model files, as the readers produce them.

Arrays are numpy, C-contiguous, in the dtype the C++ core consumes, so they can be handed over
without copies. Every array is documented with its shape; n = landmarks, m = PDM modes,
V = views, K = neurons per expert, B = betas per expert.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class PDM:
    """Point Distribution Model: 3-D shape = mean + components @ q (spec 01 §2-3)."""

    path: str
    mean: np.ndarray          # (3n,) float32: X_0..X_{n-1}, Y_0.., Z_0..
    components: np.ndarray    # (3n, m) float32, same row layout as mean
    eigenvalues: np.ndarray   # (m,) float32: variance of each mode

    @property
    def n(self) -> int:
        return self.mean.shape[0] // 3

    @property
    def m(self) -> int:
        return self.components.shape[1]


@dataclass(frozen=True)
class CCNFScale:
    """One CCNF patch-expert file = one scale of a model (spec 01 §4).

    Experts are packed view-major into dense arrays; an empty expert (landmark invisible in a
    view) has n_neurons == 0 and zero-filled neuron data. Neurons beyond an expert's count are
    zero (alpha 0), so they contribute neither to responses nor to the alpha sum.
    """

    path: str
    patch_scaling: float
    view_centres: np.ndarray       # (V, 3) float64, radians, (pitch, yaw, roll)
    visibility: np.ndarray         # (V, n) int32, 1 = has an expert
    sigma_components: dict         # window size -> (N_s, ws*ws, ws*ws) float32
    patch_width: int               # w (11 in every shipped file)
    patch_height: int              # h (11)
    n_neurons: np.ndarray          # (V, n) int32
    neuron_type: np.ndarray        # (V, n, K) int32
    norm_weights: np.ndarray       # (V, n, K) float64
    bias: np.ndarray               # (V, n, K) float64
    alpha: np.ndarray              # (V, n, K) float64
    weights: np.ndarray            # (V, n, K, h, w) float32, rows = patch y (as stored)
    betas: np.ndarray              # (V, n, B) float64
    confidence: np.ndarray         # (V, n) float64: patch_confidence

    @property
    def n_views(self) -> int:
        return self.view_centres.shape[0]

    @property
    def n(self) -> int:
        return self.visibility.shape[1]


@dataclass(frozen=True)
class PartSettings:
    """Fitting settings of a hierarchical part model (spec 01 §1.5, spec 02 §1.5)."""

    window_sizes: tuple
    sigma: float
    reg_factor: float
    weight_factor: float
    iterations: int = 5


@dataclass(frozen=True)
class Part:
    """A `LandmarkDetector_part` line: a sub-model refining some main landmarks."""

    name: str
    model: "CLNFModelData"
    mapping: np.ndarray            # (k, 2) int32: (main index, part index) pairs
    settings: PartSettings


@dataclass(frozen=True)
class CLNFModelData:
    """Everything a main file (e.g. main_clnf_general.txt) names, parsed."""

    path: str
    pdm: PDM
    scales: tuple                  # tuple[CCNFScale, ...] in scale order
    parts: tuple = ()              # tuple[Part, ...] in file order
    validator_path: Optional[str] = None
    module_path: Optional[str] = None
    extra: dict = field(default_factory=dict)
