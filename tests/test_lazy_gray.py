"""Lazy gray conversion (`_core.LazyGray`, cpp/color.hpp): a colour frame's gray is converted
only where the fit and the validator read it.

The fits must be bit-identical to fits on the fully converted image. The buffer is "poisoned"
(filled with a marker pattern) in these tests, so a read of a pixel that was never converted
changes a result instead of reading whatever the allocator left there.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastclnf
import fastclnf.model as model_mod
import fastclnf.track as track_mod
from fastclnf import _core
from fastclnf.image import gray_source, to_gray

from conftest import DATA_DIR


@pytest.fixture(scope="module")
def model(model_dir):
    return fastclnf.load_model(model_dir)


@pytest.mark.parametrize("shape", [(37, 53, 3), (64, 129, 4), (5, 17, 3), (1, 1, 3)])
def test_array_equals_to_gray(shape):
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, size=shape, dtype=np.uint8)
    lazy = _core.LazyGray(img, poison=True)
    assert lazy.shape == shape[:2] and lazy.converted == 0
    np.testing.assert_array_equal(lazy.array(), to_gray(img))
    assert lazy.converted == shape[0] * shape[1]


def test_regions_convert_each_pixel_once():
    rng = np.random.default_rng(8)
    img = rng.integers(0, 256, size=(40, 70, 3), dtype=np.uint8)
    want = to_gray(img)
    lazy = _core.LazyGray(img, poison=True)
    lazy.ensure(10, 5, 20, 15)                 # 10 x 10
    assert lazy.converted == 100
    lazy.ensure(12, 7, 18, 12)                 # inside: nothing new
    assert lazy.converted == 100
    lazy.ensure(30, 5, 35, 6)                  # right of it on one row: fills the gap 20..35
    assert lazy.converted == 115
    lazy.ensure(-5, -5, 3, 2)                  # clamped to the image: 3 x 2
    assert lazy.converted == 121
    lazy.ensure(50, 50, 60, 60)                # entirely outside
    assert lazy.converted == 121
    full = lazy.array()
    np.testing.assert_array_equal(full, want)
    assert not full.flags.writeable


def test_rejects_bad_input(model):
    with pytest.raises(ValueError):
        _core.LazyGray(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        _core.LazyGray(np.zeros((0, 4, 3), np.uint8))
    # The core's image arguments take arrays or a LazyGray, nothing else.
    lm = np.zeros((68, 2), np.float32)
    with pytest.raises(TypeError, match="expected a 2-D numpy array"):
        model._get_validator().validate("not an image", lm, 0.0, 0.0, 0.0)


def test_gray_source():
    img = np.zeros((20, 30, 3), np.uint8)
    assert isinstance(gray_source(img), _core.LazyGray)
    g = gray_source(img[:, :, 0])
    assert isinstance(g, np.ndarray) and g.shape == (20, 30)
    with pytest.raises(TypeError):
        gray_source(img.astype(np.float32))


def _poisoned(image, name="image"):
    src = gray_source(image, name)
    return _core.LazyGray(np.ascontiguousarray(image), poison=True) if isinstance(
        src, _core.LazyGray) else src


def _eager(image, name="image"):
    return to_gray(image, name)


def _fit_fields(r):
    return (r.landmarks, r.params_global, r.params_local, r.certainty, r.success,
            {k: v["landmarks"] for k, v in r.parts.items() if v is not None})


def test_image_fits_identical(model, reference_faces, monkeypatch):
    import cv2

    # A large face (parts fitted), a small one, and a box reaching past the image edge.
    picks = sorted(reference_faces, key=lambda f: f["bbox"][2])
    faces = [picks[-1], picks[len(picks) // 2], picks[0]]
    faces += [f for f in reference_faces
              if f["bbox"][0] < 0 or f["bbox"][1] < 0
              or f["bbox"][0] + f["bbox"][2] > f["width"]][:2]
    for face in faces:
        img = cv2.imread(str(DATA_DIR / face["image"]), cv2.IMREAD_COLOR)
        monkeypatch.setattr(model_mod, "gray_source", _eager)
        want = model.fit(img, face["bbox"])
        monkeypatch.setattr(model_mod, "gray_source", _poisoned)
        got = model.fit(img, face["bbox"])
        for a, b in zip(_fit_fields(want), _fit_fields(got)):
            if isinstance(a, dict):
                assert a.keys() == b.keys()
                for k in a:
                    np.testing.assert_array_equal(a[k], b[k])
            else:
                np.testing.assert_array_equal(a, b)


def test_tracking_identical_and_partial(model, monkeypatch):
    from fastclnf.io.video import open_frames

    path = DATA_DIR / "videos" / "torchopenface" / "video01.mp4"
    if not path.exists():
        pytest.skip(f"{path} not found")
    frames = [f for _, _, f in itertools.islice(open_frames(path), 60)]
    # Frame 30 with the face region blacked out: a failed frame and a re-detection.
    frames[30] = frames[30].copy()
    frames[30][:, :] = 0

    def run(source):
        monkeypatch.setattr(track_mod, "_gray_source_u8", source)
        t = fastclnf.Tracker(model)
        return [t.update(f) for f in frames]

    want = run(_eager)
    converted = []

    def counting(image, name="image"):
        g = _poisoned(image, name)
        converted.append(g)
        return g

    got = run(counting)
    for a, b in zip(want, got):
        assert a.success == b.success
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
        np.testing.assert_array_equal(a.params_global, b.params_global)
        assert a.certainty == b.certainty
    # The point of it: a tracked frame converts a fraction of the frame.
    h, w = frames[0].shape[:2]
    tracked = [g.converted for g, r in zip(converted, got) if r.success and not r.detector_ran]
    assert tracked and max(tracked) < 0.6 * h * w


def test_validator_alone_identical(model, reference_faces):
    """The validator's own region (the fits above convert it anyway via the AOIs)."""
    import cv2

    validator = model._get_validator()
    for face in reference_faces[:12]:
        img = cv2.imread(str(DATA_DIR / face["image"]), cv2.IMREAD_COLOR)
        lm = np.asarray(face["landmarks"], np.float32)
        g = face["params_global"]
        want = validator.validate(to_gray(img), lm, g[1], g[2], g[3])
        lazy = _core.LazyGray(img, poison=True)
        assert validator.validate(lazy, lm, g[1], g[2], g[3]) == want
        assert 0 < lazy.converted < img.shape[0] * img.shape[1]
