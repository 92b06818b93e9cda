"""Bad input to Model.fit gets a clear TypeError/ValueError; awkward but valid input returns a
result that says what happened."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import fastclnf

from conftest import DATA_DIR


@pytest.fixture(scope="module")
def model(model_dir):
    return fastclnf.load_model(model_dir)


@pytest.fixture(scope="module")
def face(reference_faces):
    f = reference_faces[1]
    return cv2.imread(str(DATA_DIR / f["image"]), cv2.IMREAD_COLOR), f["bbox"]


@pytest.mark.parametrize("bad, exc, words", [
    (np.zeros((50, 50), np.float32), TypeError, "uint8"),
    (np.zeros((50, 50), np.int64), TypeError, "uint8"),
    (np.zeros((2, 50, 50, 3), np.uint8), ValueError, "shape"),
    (np.zeros((50, 50, 2), np.uint8), ValueError, "shape"),
    (np.zeros((0, 50), np.uint8), ValueError, "empty"),
    ([[1, 2], [3, 4]], TypeError, "numpy"),
])
def test_bad_images(model, bad, exc, words):
    with pytest.raises(exc, match=words):
        model.fit(bad, (0, 0, 10, 10))


@pytest.mark.parametrize("box, exc, words", [
    ((np.nan, 0, 100, 100), ValueError, "finite"),
    ((0, 0, np.inf, 100), ValueError, "finite"),
    ((0, 0, -5, 100), ValueError, "> 0"),
    ((0, 0, 100, 0), ValueError, "> 0"),
    ((0, 0, 100), ValueError, "four"),
    ((5000, 5000, 100, 100), ValueError, "outside"),
    ((-300, 10, 100, 100), ValueError, "outside"),
    ("abcd", TypeError, "four numbers"),
])
def test_bad_boxes(model, face, box, exc, words):
    img, _ = face
    with pytest.raises(exc, match=words):
        model.fit(img, box)


def test_box_partly_outside_returns_result(model, face):
    img, _ = face
    h, w = img.shape[:2]
    r = model.fit(img, (w - 60, h - 60, 200, 200))
    assert r.landmarks.shape == (68, 2) and np.all(np.isfinite(r.landmarks))
    assert "outside the image" in r.message


def test_face_too_small_returns_unconverged(model, face):
    img, _ = face
    r = model.fit(img, (10, 10, 20, 20))
    assert not r.converged and not r.fit_success
    assert "too small" in r.message


def test_gray_bgr_bgra_uint16_agree(model, face):
    img, box = face
    gray = fastclnf.image.to_gray(img)
    r_bgr = model.fit(img, box)
    r_gray = model.fit(gray, box)
    r_bgra = model.fit(cv2.cvtColor(img, cv2.COLOR_BGR2BGRA), box)
    r_16 = model.fit(img.astype(np.uint16) * 256, box)
    for r in (r_gray, r_bgra, r_16):
        np.testing.assert_array_equal(r.landmarks, r_bgr.landmarks)


def test_unknown_preset(model, face):
    img, box = face
    with pytest.raises(ValueError, match="preset"):
        model.fit(img, box, preset="fast")


def test_gray_conversion_is_openface_formula():
    from fastclnf.image import _bgr_to_gray_formula, to_gray

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    b, g, r = (img[:, :, k].astype(np.int64) for k in range(3))
    expect = (9798 * r + 19235 * g + 3735 * b + 16384) >> 15  # spec 02 §6.1
    np.testing.assert_array_equal(to_gray(img), expect)
    np.testing.assert_array_equal(_bgr_to_gray_formula(img), expect)


def test_gray_conversion_every_colour_and_layout():
    """The core's SIMD conversion against the formula: all 2^24 colours, BGRA, row tails of every
    length around the 16-pixel step, and strided views (copied first)."""
    import cv2

    from fastclnf import _core
    from fastclnf.image import _bgr_to_gray_formula, to_gray

    c = np.arange(1 << 24, dtype=np.uint32)
    img = np.stack([c >> 16, (c >> 8) & 255, c & 255], -1).astype(np.uint8).reshape(4096, 4096, 3)
    expect = _bgr_to_gray_formula(img)
    np.testing.assert_array_equal(_core.bgr_to_gray(img), expect)
    np.testing.assert_array_equal(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), expect)  # OpenCV 4.x
    bgra = np.concatenate([img[:512], np.full((512, 4096, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(_core.bgr_to_gray(bgra), expect[:512])
    rng = np.random.default_rng(4)
    for w in range(1, 50):
        small = rng.integers(0, 256, (3, w, 3), dtype=np.uint8)
        np.testing.assert_array_equal(to_gray(small), _bgr_to_gray_formula(small))
    big = rng.integers(0, 256, (40, 90, 3), dtype=np.uint8)
    for view in (big[::2, ::3], big[:, :, ::-1], big[::-1], big[5:30, 7:70]):
        np.testing.assert_array_equal(to_gray(view), _bgr_to_gray_formula(view))
    with pytest.raises(ValueError, match="contiguous"):
        _core.bgr_to_gray(big[:, ::2])
