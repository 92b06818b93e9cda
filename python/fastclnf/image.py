"""Input images: checks and OpenCV-4.x-exact grayscale conversion."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from . import _core

__all__ = ["to_gray", "gray_source", "check_box", "read_image"]


def _bgr_to_gray_formula(image: np.ndarray) -> np.ndarray:
    """The conversion in numpy: the oracle the core's ``bgr_to_gray`` is tested against."""
    b = image[:, :, 0].astype(np.uint32)
    g = image[:, :, 1].astype(np.uint32)
    r = image[:, :, 2].astype(np.uint32)
    return ((9798 * r + 19235 * g + 3735 * b + 16384) >> 15).astype(np.uint8)


def _as_u8(image: np.ndarray, name: str) -> np.ndarray:
    """`image` checked and normalised to 8-bit (H, W) gray or (H, W, 3|4) BGR(A) whose rows are
    contiguous; 16-bit input is divided by 256."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype == np.uint16:
        image = (image // 256).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise TypeError(f"{name} must be uint8 (or uint16), got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ValueError(f"{name} must be HxW, HxWx3 (BGR) or HxWx4 (BGRA), got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {image.shape})")
    if image.ndim == 3:
        st = image.strides
        if st[2] != 1 or st[1] != image.shape[2] or st[0] < 0:
            image = np.ascontiguousarray(image)
    return image


def to_gray(image: np.ndarray, name: str = "image") -> np.ndarray:
    """8-bit grayscale (H, W) from gray, BGR or BGRA input, as OpenFace converts it.

    OpenFace 2.2 (OpenCV 4.x) computes ``Y = (9798 R + 19235 G + 3735 B + 16384) >> 15`` on 8-bit
    BGR (spec 02 §6.1); the core computes exactly that, with no OpenCV call (whose thread pool
    would wake for every video frame). 16-bit input is divided by 256 first.
    """
    image = _as_u8(image, name)
    gray = _core.bgr_to_gray(image) if image.ndim == 3 else image
    return np.ascontiguousarray(gray)


def gray_source(image: np.ndarray, name: str = "image"):
    """What the fitting core reads: `to_gray(image)`'s pixels, but for colour input converted
    only where the fit and the validator look (a `_core.LazyGray`, which has `.shape` and
    `.array()`); gray input comes back as a contiguous array. The colour array must not change
    while the result is in use."""
    return _gray_source_u8(_as_u8(image, name))


def _gray_source_u8(image: np.ndarray):
    """gray_source of an image _as_u8 has already checked."""
    return _core.LazyGray(image) if image.ndim == 3 else np.ascontiguousarray(image)


def check_box(bbox, shape) -> np.ndarray:
    """A face box (x, y, w, h) as float64, rejecting NaN/inf, non-positive sizes, and boxes
    entirely outside an image of the given shape."""
    try:
        box = np.asarray(bbox, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"bbox must be four numbers (x, y, w, h), got {bbox!r}") from exc
    if box.size != 4:
        raise ValueError(f"bbox must be four numbers (x, y, w, h), got {box.size}")
    # Python floats: numpy's per-call overhead on four scalars was ~2 % of a fit.
    x, y, w, h = box.tolist()
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise ValueError(f"bbox must be finite, got {(x, y, w, h)}")
    if w <= 0 or h <= 0:
        raise ValueError(f"bbox width and height must be > 0, got w={w}, h={h}")
    rows, cols = shape[:2]
    if x >= cols or y >= rows or x + w <= 0 or y + h <= 0:
        raise ValueError(f"bbox {tuple(box)} lies entirely outside the {cols}x{rows} image")
    return box


def read_image(path) -> Optional[np.ndarray]:
    """An image file as 8-bit BGR or gray (16-bit scaled down, alpha dropped), or None when
    OpenCV cannot decode it as an 8/16-bit image."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        return None
    if img.dtype == np.uint16:
        img = (img // 256).astype(np.uint8)
    elif img.dtype != np.uint8:
        return None
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(img)
