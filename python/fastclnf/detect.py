"""Face detection with OpenFace's MTCNN (spec 03 §1): image checks and channel order in Python,
the pyramid, the three nets and all box arithmetic in the C++ core (GIL released).
"""
from __future__ import annotations

import numpy as np

from .models.cnn import core_layers
from .models.mtcnn import MTCNNModel

__all__ = ["prepare_mtcnn", "detect_faces_mtcnn", "detect_faces_haar", "as_rgb_or_gray", "select_face"]


def prepare_mtcnn(model: MTCNNModel):
    """Build the core detector from the parsed nets once, for repeated `detect_faces_mtcnn` calls."""
    from . import _core

    return _core.MTCNN(core_layers(model.pnet), core_layers(model.rnet), core_layers(model.onet))


def as_rgb_or_gray(image) -> np.ndarray:
    """Check an 8-bit image and return it C-contiguous as (H, W) gray or (H, W, 3) R, G, B.

    Accepts (H, W) gray, (H, W, 3) BGR or (H, W, 4) BGRA (alpha ignored), i.e. what
    ``cv2.imread`` returns. The nets take channels in R, G, B order (spec 03 §1.3).
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must be uint8 (8-bit BGR or gray), got dtype {image.dtype}")
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[:, :, 2::-1])  # BGR(A) → RGB
    if image.ndim == 3 and image.shape[2] == 1:
        return np.ascontiguousarray(image[:, :, 0])
    raise ValueError(f"image must be (H, W) gray or (H, W, 3|4) BGR(A), got shape {image.shape}")


def detect_faces_mtcnn(nets, image_bgr_uint8) -> np.ndarray:
    """Detect faces as OpenFace 2.2's MTCNN does (spec 03 §1.6–1.9).

    nets: an `MTCNNModel` (from `fastclnf.models.mtcnn.read_mtcnn`) or the result of
    `prepare_mtcnn` (faster for repeated calls).
    image_bgr_uint8: (H, W) gray, (H, W, 3) BGR or (H, W, 4) BGRA uint8.

    Returns a float32 array (k, 5) of [x, y, w, h, score] in OpenFace's converted box convention
    (the box CLNF initialises from, spec 03 §1.6 step 8), in descending ONet score. Images whose
    smaller side is below 60 px give no pyramid scale and return an empty (0, 5) array.
    """
    img = _checked(image_bgr_uint8)
    if isinstance(nets, MTCNNModel):
        nets = prepare_mtcnn(nets)
    if min(img.shape[:2]) == 0:
        return np.zeros((0, 5), np.float32)
    # The core reads B, G, R (and skips alpha) through the array's strides: no RGB copy.
    return nets.detect(img, bgr=img.ndim == 3)


def _checked(image) -> np.ndarray:
    """as_rgb_or_gray's checks without its copy: (H, W) gray or (H, W, 3|4) BGR(A) as given."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must be uint8 (8-bit BGR or gray), got dtype {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4)):
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    raise ValueError(f"image must be (H, W) gray or (H, W, 3|4) BGR(A), got shape {image.shape}")


def select_face(boxes, preference=None):
    """Index of the box OpenFace's single-face paths fit (spec 03 §1.9), or None if there is none.

    Without a preference point: the widest box; a later box wins only if strictly wider, so ties
    keep the earlier (higher-scoring) one. With `preference` = (px, py) in pixels: the box whose
    centre (x + w/2, y + h/2) is nearest, the first of equally near boxes.
    """
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return None
    if b.ndim != 2 or b.shape[1] < 4:
        raise ValueError(f"boxes must be (k, 4 or 5) [x, y, w, h(, score)], got shape {b.shape}")
    if preference is None:
        return int(np.argmax(b[:, 2]))  # argmax returns the first maximum
    px, py = (float(v) for v in preference)
    d = np.hypot(b[:, 0] + b[:, 2] / 2 - px, b[:, 1] + b[:, 3] / 2 - py)
    return int(np.argmin(d))


def detect_faces_haar(gray_uint8: np.ndarray) -> np.ndarray:
    """Faces from OpenCV's stock `haarcascade_frontalface_alt.xml` (shipped inside opencv-python),
    run and converted as OpenFace's Haar path does (spec 03 §2): scale factor 1.2, 2 neighbours,
    min size 50x50, then w' = 0.8924 w, h' = 0.8676 h, x' = x + 0.0578 w, y' = y + 0.2166 h.

    Returns (k, 5) float32 [x, y, w, h, score] with score 1 (the cascade gives none), widest first.
    """

    if not isinstance(gray_uint8, np.ndarray) or gray_uint8.dtype != np.uint8 or gray_uint8.ndim != 2:
        raise TypeError("detect_faces_haar needs an (H, W) uint8 grayscale image")
    cascade = _haar_cascade()
    found = cascade.detectMultiScale(gray_uint8, scaleFactor=1.2, minNeighbors=2, flags=0,
                                     minSize=(50, 50))
    if len(found) == 0:
        return np.zeros((0, 5), np.float32)
    b = np.asarray(found, np.float32).reshape(-1, 4)
    f32 = np.float32
    out = np.stack([b[:, 0] + f32(0.0578) * b[:, 2], b[:, 1] + f32(0.2166) * b[:, 3],
                    f32(0.8924) * b[:, 2], f32(0.8676) * b[:, 3], np.ones(len(b), f32)], axis=1)
    return out[np.argsort(-out[:, 2], kind="stable")].astype(np.float32)


_HAAR = None


def _haar_cascade():
    global _HAAR
    if _HAAR is None:
        import os

        import cv2

        path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_alt.xml")
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise RuntimeError(f"cannot load OpenCV's Haar cascade from {path}")
        _HAAR = cascade
    return _HAAR
