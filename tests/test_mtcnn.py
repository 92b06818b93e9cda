"""MTCNN: .dat reader (spec 03 §1.2, §1.5), forward self-checks (§1.5), NMS/pyramid helpers
(§1.6–1.7, §1.10), the detect API and detection parity with OpenFace on a reference subset.

Model files and images are read from ../shared (research licence); corrupt variants are written
to pytest's tmp_path only.
"""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from conftest import DATA_DIR, MODEL_DIR, REFERENCE_DIR, _need
from fastclnf.errors import ModelError
from fastclnf.models.cnn import Conv, FullyConnected, MaxPool, PReLU, core_layers, parameter_count
from fastclnf.models.mtcnn import read_mtcnn, read_mtcnn_net

_core = pytest.importorskip("fastclnf._core")

MTCNN_DIR = MODEL_DIR / "mtcnn_detector"

# spec 03 §1.5: layer records, parameters, file bytes, Σ|params|, first biases, K[0→0] row 0,
# last FC stored weight shape.
NETS = {
    "PNet": (8, 6632, 35088, 988.1674, [-0.082837, 0.919780, 1.188670],
             [-0.081647, 0.835915, 1.246496], (32, 6), 12, (3, 10)),
    "RNet": (11, 100178, 454912, 2540.0628, [-0.353076, 0.056813, -0.370002],
             [-0.503155, 0.018870, 0.380679], (128, 6), 24, (3, 28)),
    "ONet": (14, 389040, 1729592, 5233.0786, [0.091005, -0.180599, 0.124300],
             [0.481470, 0.453283, 0.212088], (256, 16), 48, (3, 32)),
}

# spec 03 §1.5 forward-pass self-check vectors (first 6 outputs): zeros input, ramp input.
SELF_CHECK = {
    "PNet": ([3.98442, -4.99002, -0.02140, -0.15378, 0.03943, 0.14396],
             [3.16312, -1.44042, 0.19955, 0.15342, -0.17904, -0.01879]),
    "RNet": ([2.81805, -2.81752, -0.07801, -0.17595, 0.04689, 0.23844],
             [3.78638, -3.78381, 0.06201, 0.01191, -0.04306, 0.12835]),
    "ONet": ([3.92418, -3.92151, -0.03165, -0.21372, 0.05766, 0.10185],
             [3.72461, -3.72211, 0.01052, -0.12017, 0.03410, 0.17581]),
}


@pytest.fixture(scope="module")
def model():
    return read_mtcnn(_need(MTCNN_DIR))


@pytest.fixture(scope="module")
def detector(model):
    from fastclnf.detect import prepare_mtcnn

    return prepare_mtcnn(model)


def _abs_sum(layers) -> float:
    s = 0.0
    for layer in layers:
        for name in ("weights", "bias", "slopes"):
            a = getattr(layer, name, None)
            if a is not None:
                s += float(np.abs(a.astype(np.float64)).sum())
    return s


# ---------------------------------------------------------------------------------- reader


@pytest.mark.parametrize("name", list(NETS))
def test_net_file_numbers(model, name):
    n_layers, n_params, n_bytes, abs_sum, bias0, k00, last_w, _, first = NETS[name]
    layers = getattr(model, name.lower())
    assert (MTCNN_DIR / f"{name}.dat").stat().st_size == n_bytes
    assert len(layers) == n_layers
    assert parameter_count(layers) == n_params
    assert _abs_sum(layers) == pytest.approx(abs_sum, abs=1e-3)
    conv = layers[0]
    assert isinstance(conv, Conv) and (conv.n_in, conv.n_out) == first
    assert conv.weights.shape[2:] == (3, 3) and conv.weights.dtype == np.float32
    np.testing.assert_allclose(conv.bias[:3], bias0, atol=1e-6)
    np.testing.assert_allclose(conv.weights[0, 0, 0], k00, atol=1e-6)
    assert isinstance(layers[-1], FullyConnected)
    assert layers[-1].weights.shape == last_w and layers[-1].bias.shape == (last_w[1],)


def test_architectures(model):
    kinds = lambda layers: "".join({Conv: "C", PReLU: "P", MaxPool: "M", FullyConnected: "F"}[type(l)]
                                   for l in layers)
    assert kinds(model.pnet) == "CPMCPCPF"
    assert kinds(model.rnet) == "CPMCPMCPFPF"
    assert kinds(model.onet) == "CPMCPMCPMCPFPF"
    assert [(l.kx, l.ky, l.sx, l.sy) for l in model.rnet if isinstance(l, MaxPool)] == [(3, 3, 2, 2)] * 2
    assert [(l.kx, l.sx) for l in model.onet if isinstance(l, MaxPool)] == [(3, 2), (3, 2), (2, 2)]


def test_directory_or_text_path(model):
    same = read_mtcnn(MTCNN_DIR / "MTCNN_detector.txt")
    assert len(same.onet) == len(model.onet)
    np.testing.assert_array_equal(same.onet[-1].weights, model.onet[-1].weights)


def test_text_file_crlf_and_extra_lines(tmp_path):
    for name in ("PNet", "RNet", "ONet"):
        (tmp_path / f"{name}.dat").symlink_to(_need(MTCNN_DIR / f"{name}.dat"))
    (tmp_path / "det.txt").write_bytes(b"# comment\r\nPNet PNet.dat\r\nRNet RNet.dat\r\n"
                                       b"Other x\r\nONet ONet.dat\r\n")
    m = read_mtcnn(tmp_path / "det.txt")
    assert (len(m.pnet), len(m.rnet), len(m.onet)) == (8, 11, 14)


# ------------------------------------------------------------------------- corrupt files


def _corrupt(tmp_path, data: bytes, name="bad.dat"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.fixture(scope="module")
def pnet_bytes():
    return (_need(MTCNN_DIR) / "PNet.dat").read_bytes()


@pytest.mark.parametrize("cut", [0, 2, 4, 10, 16, 57, 68, 1000, 20000, 35087])
def test_truncated_net(tmp_path, pnet_bytes, cut):
    p = _corrupt(tmp_path, pnet_bytes[:cut])
    with pytest.raises(ModelError) as e:
        read_mtcnn_net(p, "PNet")
    assert str(p) in str(e.value) and "byte" in e.value.where


def test_trailing_bytes(tmp_path, pnet_bytes):
    p = _corrupt(tmp_path, pnet_bytes + b"\0")
    with pytest.raises(ModelError, match="expected end of file"):
        read_mtcnn_net(p)


@pytest.mark.parametrize("offset,value", [
    (0, 0x7FFFFFFF),    # layer count
    (0, -5),            # negative layer count
    (4, 9),             # unknown layer type
    (8, -1),            # conv n_in
    (12, 0x7FFFFFF0),   # conv n_out
    (56, 0x40000000),   # kernel rows
    (60, -3),           # kernel cols
    (64, 7),            # kernel Matrix type
])
def test_garbage_counts(tmp_path, pnet_bytes, offset, value):
    data = bytearray(pnet_bytes)
    data[offset:offset + 4] = struct.pack("<i", value)
    p = _corrupt(tmp_path, bytes(data))
    with pytest.raises(ModelError) as e:
        read_mtcnn_net(p, "PNet")
    assert e.value.where.startswith("byte ")


def test_inconsistent_kernel_size(tmp_path, pnet_bytes):
    # Second kernel record of PNet's first conv claims 3 × 2: caught, not misread.
    data = bytearray(pnet_bytes)
    second = 56 + 12 + 9 * 4
    data[second + 4:second + 8] = struct.pack("<i", 2)
    with pytest.raises(ModelError):
        read_mtcnn_net(_corrupt(tmp_path, bytes(data)), "PNet")


def test_text_file_fed_to_binary_reader():
    with pytest.raises(ModelError):
        read_mtcnn_net(_need(MTCNN_DIR / "MTCNN_detector.txt"))


def test_wrong_net_in_place(tmp_path):
    with pytest.raises(ModelError, match="not a valid PNet|should map"):
        read_mtcnn_net(_need(MTCNN_DIR / "RNet.dat"), "PNet")


def test_binary_fed_to_text_reader_and_missing_lines(tmp_path):
    with pytest.raises(ModelError):
        read_mtcnn(_need(MTCNN_DIR / "ONet.dat"))
    p = tmp_path / "det.txt"
    p.write_text("PNet PNet.dat\nRNet RNet.dat\n")
    with pytest.raises(ModelError, match="ONet"):
        read_mtcnn(p)
    with pytest.raises(ModelError, match="cannot read"):
        read_mtcnn(tmp_path / "nope.txt")


# ------------------------------------------------------------------------- forward pass


def _ramp(n: int) -> np.ndarray:
    c, y, x = np.meshgrid(np.arange(3), np.arange(n), np.arange(n), indexing="ij")
    return (((7 * c + 3 * y + 5 * x) % 17) / 8.0 - 1.0).astype(np.float32)


@pytest.mark.parametrize("name", list(SELF_CHECK))
def test_forward_self_check(model, name):
    side = NETS[name][7]
    net = _core.CNN(core_layers(getattr(model, name.lower())))
    zeros, ramp = SELF_CHECK[name]
    np.testing.assert_allclose(net.forward(np.zeros((3, side, side), np.float32)).ravel()[:6], zeros,
                               atol=1e-4)
    np.testing.assert_allclose(net.forward(_ramp(side)).ravel()[:6], ramp, atol=1e-4)


def test_pnet_output_size(model):
    # spec 03 §1.4: a 14 × 16 input gives a 2 × 3 map of 6 channels.
    out = _core.CNN(core_layers(model.pnet)).forward(np.zeros((3, 14, 16), np.float32))
    assert out.shape == (6, 2, 3)


def test_forward_rejects_bad_input(model):
    net = _core.CNN(core_layers(model.rnet))
    with pytest.raises(ValueError):
        net.forward(np.zeros((3, 20, 24), np.float32))  # FC size mismatch
    with pytest.raises(ValueError):
        net.forward(np.zeros((1, 24, 24), np.float32))


def test_conv_matches_numpy_reference():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((7, 5, 3, 2)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    x = rng.standard_normal((5, 13, 11)).astype(np.float32)
    fc_w = rng.standard_normal((7 * 11 * 10, 3)).astype(np.float32)
    fc_b = rng.standard_normal(3).astype(np.float32)
    net = _core.CNN([("conv", w, b), ("fc", fc_w, fc_b)])
    conv = np.zeros((7, 11, 10))
    for r in range(3):
        for s in range(2):
            conv += np.einsum("kc,cyx->kyx", w[:, :, r, s], x[:, r:r + 11, s:s + 10])
    conv += b[:, None, None]
    # spec 03 §1.3 FC case 2: channel-major, column-major inside a map.
    v = conv.transpose(0, 2, 1).reshape(-1)
    np.testing.assert_allclose(net.forward(x), fc_w.T @ v + fc_b, rtol=1e-4, atol=1e-3)


def test_max_pool_truncated_windows():
    x = np.arange(2 * 5 * 7, dtype=np.float32).reshape(2, 5, 7)
    out = _core.CNN([("pool", 3, 3, 2, 2)]).forward(x)
    assert out.shape == (2, 2, 3)  # round((5−3)/2)+1 = 2, round((7−3)/2)+1 = 3
    x2 = np.arange(6 * 6, dtype=np.float32).reshape(1, 6, 6)[:, :5, :5].copy()
    out2 = _core.CNN([("pool", 2, 2, 2, 2)]).forward(x2)  # 5 → round(1.5)+1 = 3, last window 1 wide
    assert out2.shape == (1, 3, 3)
    assert out2[0, 2, 2] == x2[0, 4, 4]


# ------------------------------------------------------------------------- helpers


def test_pyramid_levels():
    assert _core.mtcnn_pyramid_levels(290) == 5  # spec 03 §1.11
    assert _core.mtcnn_pyramid_levels(60) == 1
    assert _core.mtcnn_pyramid_levels(59) == 0  # 42.54 ≤ m < 60: zero scales
    assert _core.mtcnn_pyramid_levels(30) == 0  # negative count: no faces, no crash
    assert _core.mtcnn_pyramid_levels(0) == 0


def test_nms_order_ties_and_modes():
    boxes = np.array([[0, 0, 10, 10, 0.9],
                      [1, 1, 10, 10, 0.95],
                      [50, 50, 10, 10, 0.9],
                      [50.4, 50, 10, 10, 0.9],   # same rounded rect and score as row 2: later wins
                      [2, 2, 4, 4, 0.5]], np.float32)
    assert _core.mtcnn_nms(boxes, 0.5, "union") == [1, 3, 4]
    # "min": the small box lies inside box 1, overlap 1 > 0.5 → removed.
    assert _core.mtcnn_nms(boxes, 0.5, "min") == [1, 3]
    assert _core.mtcnn_nms(np.zeros((0, 5), np.float32), 0.5, "union") == []


def _resize_spec(src: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """spec 03 §0 in numpy: s = (d + 0.5)·(in/out) − 0.5, edge clamp with f = 0, float32 weights."""
    def taps(n_in, n_out):
        s = ((np.arange(n_out) + 0.5) * (1.0 / (n_out / n_in)) - 0.5).astype(np.float32)
        i = np.floor(s).astype(int)
        f = (s - i).astype(np.float32)
        f[i < 0] = 0
        i[i < 0] = 0
        hi = i >= n_in - 1
        f[hi] = 0
        i[hi] = n_in - 1
        return i, np.minimum(i + 1, n_in - 1), f

    x0, x1, fx = taps(src.shape[2], ow)
    y0, y1, fy = taps(src.shape[1], oh)
    one = np.float32(1)
    h = src[:, :, x0] * (one - fx) + src[:, :, x1] * fx
    return h[:, y0, :] * (one - fy)[:, None] + h[:, y1, :] * fy[:, None]


def test_resize_bilinear():
    rng = np.random.default_rng(1)
    src = (rng.random((3, 37, 53)) * 255).astype(np.float32)
    for oh, ow in [(12, 12), (24, 24), (26, 37), (80, 61), (37, 53), (5, 200)]:
        ours = _core.resize_bilinear(src, oh, ow)
        np.testing.assert_allclose(ours, _resize_spec(src, oh, ow), rtol=0, atol=1e-4)
        if (oh, ow) == (37, 53):
            np.testing.assert_array_equal(ours, src)
    # OpenCV 5's resize uses higher-precision weights than 4.x (the reference), hence the loose
    # tolerance against cv2 here.
    cv2 = pytest.importorskip("cv2")
    ref = np.stack([cv2.resize(c, (61, 80), interpolation=cv2.INTER_LINEAR) for c in src])
    np.testing.assert_allclose(_core.resize_bilinear(src, 80, 61), ref, rtol=0, atol=2e-3)


# ------------------------------------------------------------------------- detect API


def test_input_checks(detector):
    from fastclnf.detect import detect_faces_mtcnn

    img = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(TypeError):
        detect_faces_mtcnn(detector, img.astype(np.float32))
    with pytest.raises(TypeError):
        detect_faces_mtcnn(detector, img.tolist())
    with pytest.raises(ValueError):
        detect_faces_mtcnn(detector, np.zeros((100, 100, 2), np.uint8))
    with pytest.raises(ValueError):
        detect_faces_mtcnn(detector, np.zeros((4, 100, 100, 3), np.uint8))
    for small in [np.zeros((59, 400, 3), np.uint8), np.zeros((30, 30), np.uint8),
                  np.zeros((0, 0, 3), np.uint8)]:
        out = detect_faces_mtcnn(detector, small)
        assert out.shape == (0, 5)


@pytest.fixture(scope="module")
def sample_image():
    cv2 = pytest.importorskip("cv2")
    return cv2.imread(str(_need(DATA_DIR / "images/300w_afw/1139324862.jpg")), cv2.IMREAD_COLOR)


def test_channel_layouts(detector, model, sample_image):
    from fastclnf.detect import detect_faces_mtcnn

    bgr = detect_faces_mtcnn(detector, sample_image)
    assert bgr.shape == (1, 5) and bgr.dtype == np.float32
    # Unprepared model works too.
    np.testing.assert_array_equal(detect_faces_mtcnn(model, sample_image), bgr)
    # BGRA: alpha ignored.
    bgra = np.concatenate([sample_image, np.full(sample_image.shape[:2] + (1,), 7, np.uint8)], 2)
    np.testing.assert_array_equal(detect_faces_mtcnn(detector, bgra), bgr)
    # Non-contiguous views are accepted.
    wide = np.zeros((sample_image.shape[0], sample_image.shape[1] * 2, 3), np.uint8)
    wide[:, ::2] = sample_image
    np.testing.assert_array_equal(detect_faces_mtcnn(detector, wide[:, ::2]), bgr)
    # Gray is replicated to three channels.
    gray = sample_image[:, :, 1].copy()
    np.testing.assert_array_equal(detect_faces_mtcnn(detector, gray),
                                  detect_faces_mtcnn(detector, np.repeat(gray[:, :, None], 3, 2)))
    # The nets take R, G, B: feeding RGB as if BGR changes the score (spec 03 §1.11).
    swapped = detect_faces_mtcnn(detector, np.ascontiguousarray(sample_image[:, :, ::-1]))
    assert len(swapped) == 0 or swapped[0, 4] != bgr[0, 4]


# ------------------------------------------------------------------------- parity


def _iou(a, b) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _matches(ref, ours, thr=0.9) -> int:
    pairs = sorted(((_iou(r, o), i, j) for i, r in enumerate(ref) for j, o in enumerate(ours)),
                   reverse=True)
    used_r, used_o = set(), set()
    for v, i, j in pairs:
        if v >= thr and i not in used_r and j not in used_o:
            used_r.add(i)
            used_o.add(j)
    return len(used_r)


def _parity_subset():
    path = _need(REFERENCE_DIR / "detections.jsonl")
    recs = sorted((json.loads(l) for l in open(path) if l.strip()), key=lambda r: r["image"])
    noface = [r for r in recs if r["image"].startswith("images/noface/")]
    rest = [r for r in recs if not r["image"].startswith("images/noface/")
            and r["width"] * r["height"] <= 2.2e6]
    multi = [r for r in recs if r["image"] == "images/300w_afw/18489332.jpg"]  # 12 faces
    return noface + rest[::7] + multi


def test_detection_parity_subset(detector):
    cv2 = pytest.importorskip("cv2")
    from fastclnf.detect import detect_faces_mtcnn

    n_ref = n_ours = n_matched = 0
    for rec in _parity_subset():
        img = cv2.imread(str(_need(DATA_DIR / rec["image"])), cv2.IMREAD_COLOR)
        assert img.shape[:2] == (rec["height"], rec["width"])
        ours = detect_faces_mtcnn(detector, img)
        ref = [d[:4] for d in rec["detections"]]
        if rec["image"].startswith("images/noface/") and not ref:
            assert len(ours) == 0, rec["image"]
        n_ref += len(ref)
        n_ours += len(ours)
        n_matched += _matches(ref, ours[:, :4].tolist())
        # Descending ONet score (spec 03 §1.6 step 9).
        assert np.all(np.diff(ours[:, 4]) <= 0)
    assert n_ref >= 40
    assert n_matched >= 0.98 * n_ref
    assert n_ours - n_matched <= 0.02 * n_ref


def test_select_face():
    from fastclnf.detect import select_face

    assert select_face(np.zeros((0, 5), np.float32)) is None
    boxes = np.array([[0, 0, 50, 40, 0.99], [100, 100, 60, 10, 0.9], [300, 0, 60, 90, 0.8]],
                     np.float32)
    assert select_face(boxes) == 1  # widest; the equally wide later box does not replace it
    assert select_face(boxes, preference=(330, 40)) == 2
    assert select_face(boxes, preference=(0, 0)) == 0


# ------------------------------------------------------------------- direct CNN kernels


@pytest.mark.parametrize("isa", _core.simd_levels())
def test_direct_kernels_match_reference(model, isa):
    """cnn::forward (direct kernels) against the im2col reference at every SIMD level.

    The generic level performs the reference's operations in the same order (no FMA): exact.
    AVX2/AVX-512 fuse each multiply-add (one rounding instead of two), so outputs differ by
    float rounding: the tolerance is a few ulps of the accumulated sums (|outputs| < 10 here).
    """
    rng = np.random.default_rng(7)
    for layers, shape in [(model.pnet, (3, 37, 53)), (model.rnet, (3, 24, 24)), (model.onet, (3, 48, 48))]:
        net = _core.CNN(core_layers(layers))
        x = rng.standard_normal(shape).astype(np.float32)
        fast, ref = net.forward(x, isa=isa), net.forward(x, reference=True)
        assert fast.shape == ref.shape
        if isa == "generic":
            np.testing.assert_array_equal(fast, ref)
        else:
            np.testing.assert_allclose(fast, ref, rtol=0, atol=5e-5)


@pytest.mark.parametrize("isa", _core.simd_levels())
def test_direct_conv_row_tails_match_reference(isa):
    """Convolutions whose rows leave a remainder of a vector (the CNN validator's 9x9 and 7x7
    layers; other widths, kernels, fused activations, more than one block of output maps): the
    row-wise schedule of the direct kernels computes those columns through a separate panel, so
    every column must still match the reference (exactly at the generic level)."""
    rng = np.random.default_rng(11)
    cases = [((1, 60, 60), 10, (9, 9), ("relu",)), ((10, 26, 26), 10, (7, 7), ("relu",)),
             ((12, 17, 45), 7, (3, 5), ()), ((16, 11, 11), 48, (3, 3), ("prelu",)),
             ((64, 10, 10), 16, (3, 3), ("relu",)), ((9, 30, 21), 25, (4, 4), ())]
    for shape, n_out, (kh, kw), act in cases:
        w = (rng.standard_normal((n_out, shape[0], kh, kw)) * 0.1).astype(np.float32)
        b = rng.standard_normal(n_out).astype(np.float32)
        layers = [("conv", w, b)]
        if act == ("prelu",):
            layers.append(("prelu", rng.standard_normal(n_out).astype(np.float32)))
        elif act:
            layers.append(act)
        net = _core.CNN(layers)
        x = rng.standard_normal(shape).astype(np.float32)
        fast, ref = net.forward(x, isa=isa), net.forward(x, reference=True)
        assert fast.shape == ref.shape == (n_out, shape[1] - kh + 1, shape[2] - kw + 1)
        if isa == "generic":
            np.testing.assert_array_equal(fast, ref, err_msg=str(shape))
        else:
            np.testing.assert_allclose(fast, ref, rtol=0, atol=2e-4, err_msg=str(shape))


@pytest.mark.parametrize("k,s", [(2, 2), (3, 2), (3, 3), (2, 1)])
def test_direct_max_pool_exact(k, s):
    rng = np.random.default_rng(5)
    net = _core.CNN([("pool", k, k, s, s)])
    # The last four: unclipped 2x2 windows on even sizes (the validator's pools among them),
    # widths that fill, half fill and overrun a vector.
    for shape in [(3, 7, 9), (2, 12, 13), (1, 5, 5), (4, 23, 46), (10, 52, 52), (10, 20, 20), (3, 8, 34),
                  (2, 6, 64)]:
        x = rng.standard_normal(shape).astype(np.float32)
        for isa in _core.simd_levels():
            np.testing.assert_array_equal(net.forward(x, isa=isa), net.forward(x, reference=True))


def test_detect_threads_agree_with_serial(detector, sample_image):
    """detect() keeps no shared mutable state: concurrent calls give the serial result."""
    from concurrent.futures import ThreadPoolExecutor

    from fastclnf.detect import detect_faces_mtcnn

    small = sample_image[::2, ::2]
    imgs = [sample_image, small, sample_image[:, ::-1], small[::-1]]
    serial = [detect_faces_mtcnn(detector, im) for im in imgs]
    with ThreadPoolExecutor(2) as ex:
        got = list(ex.map(lambda im: detect_faces_mtcnn(detector, im), imgs * 2))
    for a, b in zip(got, serial * 2):
        np.testing.assert_array_equal(a, b)
