"""Accuracy measures used by the tests and benchmarks."""
from __future__ import annotations

import numpy as np

__all__ = ["mean_distance", "inter_ocular_nme"]


def mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Euclidean distance between corresponding points of two (n, 2) arrays."""
    a = np.asarray(a, np.float64).reshape(-1, 2)
    b = np.asarray(b, np.float64).reshape(-1, 2)
    if a.shape != b.shape:
        raise ValueError(f"point sets differ in shape: {a.shape} vs {b.shape}")
    return float(np.mean(np.linalg.norm(a - b, axis=1)))


def inter_ocular_nme(pred: np.ndarray, truth: np.ndarray) -> float:
    """300-W normalised mean error: mean point error over the distance between the outer eye
    corners (landmarks 36 and 45) of the ground truth."""
    truth = np.asarray(truth, np.float64).reshape(-1, 2)
    return mean_distance(pred, truth) / float(np.linalg.norm(truth[36] - truth[45]))
