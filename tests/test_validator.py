"""CNN detection validator: type-3 file reader (spec 02 §5.5–5.6), view choice, the validate API
and certainty parity with OpenFace on a subset of the reference faces (spec 02 §5.1–5.4).

Model files and images are read from ../shared (research licence); corrupt variants are written
to pytest's tmp_path only.
"""
from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from conftest import DATA_DIR, MODEL_DIR, _need
from fastclnf.errors import ModelError
from fastclnf.models.cnn import Conv, FullyConnected, MaxPool, ReLU
from fastclnf.models.validator import read_validator

_core = pytest.importorskip("fastclnf._core")

VALIDATOR = MODEL_DIR / "detection_validation" / "validator_cnn.txt"
VALIDATOR_68 = MODEL_DIR / "detection_validation" / "validator_cnn_68.txt"

PIXELS = [2642, 2469, 1665, 1491, 2494, 1690, 1536]   # spec 02 §5.5
TRIANGLES = [97, 97, 36, 31, 97, 36, 31]
YAWS = [0, -20, -45, -70, 20, 45, 70]                  # the validator's own view order


@pytest.fixture(scope="module")
def model():
    return read_validator(_need(VALIDATOR))


@pytest.fixture(scope="module")
def core(model):
    from fastclnf.validate import prepare_validator

    return prepare_validator(model)


def _gray(bgr: np.ndarray) -> np.ndarray:
    """OpenCV 4.x fixed-point BGR→gray (spec 02 §6.1 step 1); the installed OpenCV is 5.x."""
    b, g, r = (bgr[..., i].astype(np.int64) for i in range(3))
    return ((9798 * r + 19235 * g + 3735 * b + 16384) >> 15).astype(np.uint8)


# ---------------------------------------------------------------------------------- reader


def test_file_layout(model):
    assert VALIDATOR.stat().st_size == 2074228  # consumed exactly (the reader checks the end)
    assert len(model.views) == 7
    np.testing.assert_allclose(np.degrees(model.orientations),
                               [[0, y, 0] for y in YAWS], atol=1e-9)
    assert [v.n_pixels for v in model.views] == PIXELS
    assert [int(np.count_nonzero(v.pixel_mask)) for v in model.views] == PIXELS
    assert [v.triangles.shape[0] for v in model.views] == TRIANGLES
    for v in model.views:
        assert v.n_bins == 30
        assert v.triangle_id.shape == v.pixel_mask.shape == (60, 60)
        assert v.ref_shape.shape == (136,)
        assert v.alpha.shape == v.beta.shape == v.triangles.shape
        kinds = [type(l) for l in v.layers]
        assert kinds == [Conv, ReLU, MaxPool, Conv, ReLU, MaxPool, FullyConnected, ReLU,
                         FullyConnected]
        assert v.layers[0].weights.shape == (10, 1, 9, 9)
        assert v.layers[3].weights.shape == (10, 10, 7, 7)
        assert v.layers[6].weights.shape == (1000, 50)
        assert v.layers[8].weights.shape == (50, 30)
    # The reference frame: frontal view spans x ∈ [−29.76, 29.45], y ∈ [−25.13, 31.01].
    ref = model.views[0].ref_shape
    assert ref[:68].min() == pytest.approx(-29.76, abs=0.01)
    assert ref[:68].max() == pytest.approx(29.45, abs=0.01)
    assert ref[68:].min() == pytest.approx(-25.13, abs=0.01)
    assert ref[68:].max() == pytest.approx(31.01, abs=0.01)


def test_ce_clm_validator_parses():
    v = read_validator(_need(VALIDATOR_68))
    assert VALIDATOR_68.stat().st_size == 2328608
    assert [x.n_pixels for x in v.views] == PIXELS
    assert all(x.n_bins == 20 for x in v.views)


@pytest.fixture(scope="module")
def raw():
    return _need(VALIDATOR).read_bytes()


def _write(tmp_path, data: bytes):
    p = tmp_path / "bad_validator.txt"
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("cut", [0, 3, 8, 40, 260, 300, 21000, 150000, 296000, 1000000, 2074227])
def test_truncated(tmp_path, raw, cut):
    p = _write(tmp_path, raw[:cut])
    with pytest.raises(ModelError) as e:
        read_validator(p)
    assert str(p) in str(e.value) and e.value.where.startswith("byte ")


def test_trailing_bytes(tmp_path, raw):
    with pytest.raises(ModelError, match="expected end of file"):
        read_validator(_write(tmp_path, raw + b"\0\0\0\0"))


@pytest.mark.parametrize("offset,value", [
    (0, 2),              # validator type other than 3
    (4, 0x7FFFFFFF),     # number of views
    (4, -7),             # negative number of views
    (8, 0x10000000),     # orientation rows
    (16, 5),             # orientation Matrix type (float32 claimed: size then mismatches)
    (264, 0x7FFFFFF0),   # mean_img cols
    (264, -1),           # negative cols
])
def test_garbage_counts(tmp_path, raw, offset, value):
    data = bytearray(raw)
    data[offset:offset + 4] = struct.pack("<i", value)
    with pytest.raises(ModelError) as e:
        read_validator(_write(tmp_path, bytes(data)))
    assert e.value.where.startswith("byte ")


def test_text_and_wrong_files():
    with pytest.raises(ModelError):
        read_validator(_need(MODEL_DIR / "mtcnn_detector" / "MTCNN_detector.txt"))
    with pytest.raises(ModelError):
        read_validator(_need(MODEL_DIR / "mtcnn_detector" / "PNet.dat"))
    with pytest.raises(ModelError, match="cannot read"):
        read_validator(MODEL_DIR / "detection_validation" / "does_not_exist.txt")


# ------------------------------------------------------------------------- view choice


def test_view_choice(core):
    r = math.radians
    assert core.n_views == 7
    assert core.choose_view(0, 0, 0) == 0
    assert core.choose_view(0.1, r(-25), 0.2) == 1
    assert core.choose_view(0, r(-50), 0) == 2
    assert core.choose_view(0, r(-90), 0) == 3
    assert core.choose_view(0, r(19), 0) == 4
    assert core.choose_view(0, r(44), 0) == 5
    assert core.choose_view(0, r(80), 0) == 6
    assert core.choose_view(0, r(10), 0) == 0   # tie between 0° and +20°: the first wins
    assert core.choose_view(0, r(-10), 0) == 0


# ------------------------------------------------------------------------- API checks


def test_argument_checks(core, model):
    from fastclnf.validate import validate

    gray = np.zeros((100, 100), np.uint8)
    lm = np.tile([[50.0, 50.0]], (68, 1))
    with pytest.raises(TypeError):
        validate(core, gray.astype(np.float32), lm, (0, 0, 0))
    with pytest.raises(ValueError):
        validate(core, np.zeros((100, 100, 3), np.uint8), lm, (0, 0, 0))
    with pytest.raises(ValueError):
        validate(core, gray, lm[:67], (0, 0, 0))
    with pytest.raises(ValueError):
        validate(core, gray, np.full((68, 2), np.nan), (0, 0, 0))
    with pytest.raises(ValueError):
        validate(core, gray, lm, (0, 0))
    # All landmarks on one point: ROI of 6 px, valid; certainty is one of the 30 bin values.
    c = validate(model, gray, lm, (0, 0, 0))
    assert any(abs(c - (1 - (i + 0.5) / 30)) < 1e-6 for i in range(30))
    # ROI collapsed by the image border → 0 (spec 02 §5.1 step 2).
    assert validate(core, gray, np.tile([[101.0, 50.0]], (68, 1)), (0, 0, 0)) == 0.0
    assert validate(core, gray, np.tile([[-50.0, -50.0]], (68, 1)), (0, 0, 0)) == 0.0


def test_network_input_normalisation(core, model):
    rng = np.random.default_rng(3)
    gray = rng.integers(0, 256, (200, 200), dtype=np.uint8)
    ref = model.views[0].ref_shape
    lm = np.stack([ref[:68], ref[68:]], 1) * 2.0 + 100.0
    x = core.network_input(0, gray, lm)
    view = model.views[0]
    mask = view.pixel_mask != 0
    assert np.all(x[~mask] == 0)
    # Undo the global normalisation (column-major pixel order): local mean 0, std 1.
    f = x.T[mask.T] * view.std_img + view.mean_img
    assert abs(f.mean()) < 1e-4 and abs(f.std() - 1) < 1e-4


# ------------------------------------------------------------------------- parity


def test_certainty_parity_subset(core, reference_faces):
    cv2 = pytest.importorskip("cv2")
    from fastclnf.validate import validate

    faces = reference_faces[::8] + [f for f in reference_faces if not f["detection_success"]][:8]
    assert len(faces) >= 40
    images = {}
    close = same_flag = 0
    for f in faces:
        if f["image"] not in images:
            images[f["image"]] = _gray(cv2.imread(str(_need(DATA_DIR / f["image"])), cv2.IMREAD_COLOR))
        c = validate(core, images[f["image"]], np.asarray(f["landmarks"]), f["params_global"][1:4])
        close += abs(c - f["detection_certainty"]) <= 0.01
        same_flag += (c > 0.725) == bool(f["detection_success"])
    assert close >= 0.95 * len(faces)
    assert same_flag >= 0.98 * len(faces)


def test_threads_agree_with_serial(core, reference_faces):
    """validate() keeps its scratch per thread: two threads at once give the serial results."""
    cv2 = pytest.importorskip("cv2")
    from concurrent.futures import ThreadPoolExecutor

    from fastclnf.validate import validate

    faces = reference_faces[::20]
    images = {f["image"]: _gray(cv2.imread(str(_need(DATA_DIR / f["image"])), cv2.IMREAD_COLOR))
              for f in faces}
    args = [(images[f["image"]], np.asarray(f["landmarks"]), f["params_global"][1:4]) for f in faces]
    serial = [validate(core, *a) for a in args]
    with ThreadPoolExecutor(2) as ex:
        for _ in range(3):
            assert list(ex.map(lambda a: validate(core, *a), args)) == serial
