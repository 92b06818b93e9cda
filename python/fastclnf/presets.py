"""Fitting settings: OpenFace's parameter sets as frozen dataclasses (spec 02 §1).

Copy and change one with :func:`dataclasses.replace`::

    settings = dataclasses.replace(fastclnf.presets.IMAGE, iterations=10)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Union

__all__ = ["FitSettings", "IMAGE", "WILD", "VIDEO", "PRESETS", "resolve"]

# Rotation hypotheses (pitch, yaw, roll) tried in this order when multi_view is on (spec 02 §3).
MULTI_VIEW_ROTATIONS: Tuple[Tuple[float, float, float], ...] = (
    (0.0, 0.0, 0.0), (0.0, -0.5236, 0.0), (0.0, 0.5236, 0.0), (0.0, -0.96, 0.0),
    (0.0, 0.96, 0.0), (0.0, 0.0, 0.5236), (0.0, 0.0, -0.5236), (0.0, -1.57, 0.0),
    (0.0, 1.57, 0.0), (0.0, -1.22, 0.698), (0.0, 1.22, -0.698),
)


@dataclass(frozen=True)
class FitSettings:
    """How one face is fitted.

    windows: response window size per patch-expert scale (0 skips the scale).
    sigma, reg_factor, weight_factor: KDE sigma, shape regularisation and NU-RLMS weight at the
        coarsest scale; with ``refine_parameters`` they are adjusted per scale (spec 02 §1.4).
    iterations: maximum NU-RLMS iterations per phase per scale.
    multi_view: try the 11 rotation hypotheses and keep the most likely fit (spec 02 §3).
    refine_hierarchical: run the inner-face and eye part models (spec 02 §4).
    validate: run the CNN detection validator (certainty/success) when it is available.
    tracking_windows: windows used in video while tracking goes well (spec 02 §6.3).
    """

    windows: Tuple[int, ...] = (11, 9, 7)
    sigma: float = 1.5
    reg_factor: float = 25.0
    weight_factor: float = 0.0
    iterations: int = 5
    multi_view: bool = False
    refine_hierarchical: bool = True
    refine_parameters: bool = True
    validate: bool = True
    validation_boundary: float = 0.725
    tracking_windows: Tuple[int, ...] = (0, 9, 7)
    reinit_video_every: int = 2

    def __post_init__(self) -> None:
        if not self.windows or any((not isinstance(w, int)) or w < 0 or (w and w % 2 == 0)
                                   for w in self.windows):
            raise ValueError(f"windows must be odd positive ints or 0, got {self.windows!r}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")


#: OpenFace FaceLandmarkImg defaults with the CLNF general model: the parity target.
IMAGE = FitSettings()
#: OpenFace's ``-wild`` settings: larger windows, NU-RLMS weights, 11 rotation hypotheses.
WILD = FitSettings(windows=(15, 13, 11, 11), sigma=1.25, reg_factor=35.0, weight_factor=2.5,
                   iterations=10, multi_view=True)
#: FeatureExtraction / FaceLandmarkVid: image settings, small windows while tracking.
VIDEO = FitSettings()

PRESETS = {"image": IMAGE, "wild": WILD, "video": VIDEO}


def resolve(preset: Union[str, FitSettings]) -> FitSettings:
    """A preset name ('image', 'wild', 'video') or a FitSettings, as FitSettings."""
    if isinstance(preset, FitSettings):
        return preset
    if isinstance(preset, str) and preset in PRESETS:
        return PRESETS[preset]
    raise ValueError(f"preset must be one of {sorted(PRESETS)} or a FitSettings, got {preset!r}")
