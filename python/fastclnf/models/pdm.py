"""Reader for the PDM (Point Distribution Model) text file (spec 01 §2.2)."""
from __future__ import annotations

from pathlib import Path
from typing import Tuple, Union

import numpy as np

from .textmat import at_end, open_text, read_text_matrix, skip_comments
from .types import PDM

__all__ = ["read_pdm"]


def read_pdm(path: Union[str, Path]) -> PDM:
    """Read a PDM file: mean shape (3n x 1), components (3n x m), eigenvalues (1 x m).

    Each matrix is preceded by comment lines (spec 01 §2.1). Values are parsed as float64 and
    stored as float32. The eigenvalues row is returned as a plain length-m vector. Only
    whitespace or comment lines may follow the eigenvalues.

    Raises ModelError (file + line + what was expected) on any malformed or inconsistent content.
    """
    cur = open_text(path)

    def read(name: str) -> Tuple[np.ndarray, int]:
        skip_comments(cur)
        pos = cur.pos
        mat = read_text_matrix(cur, name)
        if mat.dtype.kind != "f":
            raise cur.error(f"{name}: expected a floating-point matrix (type 5 or 6), got {mat.dtype.name}", pos)
        return mat, pos

    # Each matrix is checked as soon as it is read, so the error points at the first bad one.
    mean, pos = read("mean shape")
    rows, cols = mean.shape
    if cols != 1 or rows == 0 or rows % 3 != 0:
        raise cur.error(f"mean shape: expected a 3n x 1 column (n >= 1), got {rows}x{cols}", pos)
    components, pos = read("principal components")
    if components.shape[0] != rows or components.shape[1] == 0:
        raise cur.error(
            f"principal components: expected {rows} x m (m >= 1) to match the mean shape, "
            f"got {components.shape[0]}x{components.shape[1]}", pos)
    m = components.shape[1]
    eigenvalues, pos = read("eigenvalues")
    # Spec 01 §2.2: stored as a 1 x m row; accept an m x 1 column as well, both are a vector.
    if eigenvalues.size != m or min(eigenvalues.shape) != 1:
        raise cur.error(
            f"eigenvalues: expected 1x{m} to match the components, "
            f"got {eigenvalues.shape[0]}x{eigenvalues.shape[1]}", pos)
    skip_comments(cur)
    if not at_end(cur):
        raise cur.error("expected only comments or whitespace after the eigenvalues")

    def as_f32(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a.astype(np.float64).astype(np.float32))

    return PDM(
        path=cur.path,
        mean=as_f32(mean.reshape(-1)),
        components=as_f32(components),
        eigenvalues=as_f32(eigenvalues.reshape(-1)),
    )
