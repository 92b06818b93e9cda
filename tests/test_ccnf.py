"""CCNF core: AOI warp, expert responses, Sigma, view selection, similarity (spec 01 §4-6, §8)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fastclnf import _core
from fastclnf.models.core_adapter import make_core_scale
from fastclnf.models.types import CCNFScale

from fastclnf.models.ccnf import read_ccnf as read_ccnf_for_tests
from fastclnf.models.pdm import read_pdm as _read_pdm

F32 = np.float32


# --------------------------------------------------------------------------------------------
# Fixtures and helpers

@pytest.fixture(scope="module")
def general025(model_dir):
    return read_ccnf_for_tests(model_dir / "patch_experts" / "ccnf_patches_0.25_general.txt")


@pytest.fixture(scope="module")
def core025(general025):
    return make_core_scale(general025)


@pytest.fixture(scope="module")
def wild025(model_dir):
    return make_core_scale(
        read_ccnf_for_tests(model_dir / "patch_experts" / "ccnf_patches_0.25_wild.txt"))


def synthetic_scale(seed=0, V=2, n=3, K=3, p=3, windows=(3, 5), visibility=None, alpha=None):
    """A small random CCNFScale (p x p patches) with a Laplacian-like sigma component per window."""
    rng = np.random.default_rng(seed)
    if visibility is None:
        visibility = np.ones((V, n), np.int32)
        visibility[1, 0] = 0
    comps = {}
    for ws in windows:
        N = ws * ws
        lap = np.zeros((N, N), np.float32)
        for r in range(ws):
            for c in range(ws):
                k = r * ws + c
                for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                    if 0 <= rr < ws and 0 <= cc < ws:
                        lap[k, k] += 1
                        lap[k, rr * ws + cc] = -1
        comps[ws] = np.stack([lap, np.abs(lap)]).astype(np.float32)
    n_neurons = np.where(visibility > 0, K, 0).astype(np.int32)
    W = rng.standard_normal((V, n, K, p, p)).astype(np.float32)
    W /= np.linalg.norm(W.reshape(V, n, K, -1), axis=-1)[..., None, None]
    al = rng.uniform(0.5, 5.0, (V, n, K)) if alpha is None else alpha
    mask = (visibility > 0)[..., None]
    return CCNFScale(
        path="synthetic", patch_scaling=0.3,
        view_centres=np.array([[0, 0, 0], [0, -0.35, 0]], float)[:V],
        visibility=visibility.astype(np.int32), sigma_components=comps,
        patch_width=p, patch_height=p, n_neurons=n_neurons,
        neuron_type=np.zeros((V, n, K), np.int32),
        norm_weights=rng.uniform(3, 30, (V, n, K)) * mask,
        bias=rng.uniform(-20, -3, (V, n, K)) * mask,
        alpha=al * mask, weights=W * mask[..., None, None],
        betas=rng.uniform(0.5, 3.0, (V, n, 2)) * mask,
        confidence=rng.uniform(0.2, 0.7, (V, n)) * mask[..., 0])


def alpha_sum_f32(alphas):
    """Float accumulator, double addend, neuron order (spec 01 §5.8)."""
    s = F32(0)
    for a in alphas:
        s = F32(float(s) + float(a))
    return s


def expert_reference(scale: CCNFScale, v, i, aoi, ws, with_sigma=True):
    """Spec 01 §5.3-5.6 in float64 numpy (M entries as the float32 values of §4.4)."""
    h, w = scale.patch_height, scale.patch_width
    K = scale.n_neurons[v, i]
    keep = [k for k in range(K) if scale.alpha[v, i, k] > 1e-4]
    aoi = aoi.astype(np.float64)
    # Patches flattened x-major, one row per response position (row-major positions).
    P = np.stack([aoi[r:r + h, c:c + w].T.ravel() for r in range(ws) for c in range(ws)])
    P = P - P.mean(axis=1, keepdims=True)
    norm = np.sqrt((P ** 2).sum(axis=1, keepdims=True))
    norm[norm == 0] = 1
    P = P / norm
    r = np.zeros(ws * ws)
    for k in keep:
        m = (F32(scale.norm_weights[v, i, k]) * scale.weights[v, i, k].T.ravel()).astype(F32)
        z = float(F32(scale.bias[v, i, k])) + P @ m.astype(np.float64)
        r += 2 * scale.alpha[v, i, k] / (1 + np.exp(-z))
    if not with_sigma:
        return r.reshape(ws, ws)
    asum = float(alpha_sum_f32(scale.alpha[v, i, :K]))
    Q = asum * np.eye(ws * ws)
    comps = scale.sigma_components.get(ws)
    if comps is not None and len(comps):
        for b in range(comps.shape[0]):
            Q += float(F32(scale.betas[v, i, b])) * comps[b].astype(np.float64)
    out = np.linalg.inv(2 * Q) @ r
    out = out - min(out.min(), 0)
    return out.reshape(ws, ws)


def warp_reference(img, x, y, a, b, W):
    """OpenCV <= 4.10 warpAffine (inverse map, bilinear, constant 0) as spec 01 §5.2 words it."""
    c = (F32(W) - F32(1)) / F32(2)
    a, b, x, y = F32(a), F32(b), F32(x), F32(y)
    m = np.array([a, -b, x - a * c + b * c, b, a, y - a * c - b * c], F32).astype(np.float64)
    u = np.arange(W, dtype=np.float64)[None, :]
    v = np.arange(W, dtype=np.float64)[:, None]
    X0 = np.rint((m[1] * v + m[2]) * 1024).astype(np.int64) + 16
    Y0 = np.rint((m[4] * v + m[5]) * 1024).astype(np.int64) + 16
    X = (X0 + np.rint(m[0] * u * 1024).astype(np.int64)) >> 5
    Y = (Y0 + np.rint(m[3] * u * 1024).astype(np.int64)) >> 5
    ix, iy = X >> 5, Y >> 5
    fx, fy = (X & 31).astype(F32) / F32(32), (Y & 31).astype(F32) / F32(32)
    rows, cols = img.shape

    def px(xx, yy):
        ok = (xx >= 0) & (yy >= 0) & (xx < cols) & (yy < rows)
        return np.where(ok, img[np.clip(yy, 0, rows - 1), np.clip(xx, 0, cols - 1)], F32(0))

    one = F32(1)
    out = (px(ix, iy) * ((one - fy) * (one - fx)) + px(ix + 1, iy) * ((one - fy) * fx)
           + px(ix, iy + 1) * (fy * (one - fx)) + px(ix + 1, iy + 1) * (fy * fx))
    out = out.astype(F32)
    outside = (ix >= cols) | (ix + 1 < 0) | (iy >= rows) | (iy + 1 < 0)
    out[outside] = 0
    return out


def read_pdm(path):
    """PDM arrays (mean (3n), components (3n x m), eigenvalues (m)) as float64."""
    p = _read_pdm(path)
    return (p.mean.astype(np.float64), p.components.astype(np.float64),
            p.eigenvalues.astype(np.float64))


def rotation(rx, ry, rz):
    s1, c1, s2, c2, s3, c3 = np.sin(rx), np.cos(rx), np.sin(ry), np.cos(ry), np.sin(rz), np.cos(rz)
    return np.array([[c2 * c3, -c2 * s3, s2],
                     [c1 * s3 + c3 * s1 * s2, c1 * c3 - s1 * s2 * s3, -c2 * s1],
                     [s1 * s3 - c1 * c3 * s2, c3 * s1 + c1 * s2 * s3, c1 * c2]])


def render(mean, comps, g, q):
    S = (mean + comps @ q).reshape(3, -1)
    xy = g[0] * (rotation(*g[1:4]) @ S)[:2]
    return np.concatenate([xy[0] + g[4], xy[1] + g[5]])


# --------------------------------------------------------------------------------------------
# Spec 01 §8.8: responses on synthetic AOIs. The spec's numbers are checked on the scalar
# reference path (the spec's float arithmetic); the SIMD kernels are checked against that path
# in tests/test_kernels.py.

def test_spec_8_8_first_case(core025, general025):
    y, x = np.mgrid[0:21, 0:21]
    aoi = ((3 * x * x + 5 * y + x * y) % 255).astype(F32)
    sig = _core.build_sigmas(core025, 11, view=0)
    raw = _core.expert_response(core025, 0, 36, aoi, 11, sig, stage="raw", impl="reference")
    assert raw[0, 0] == pytest.approx(1.221132, abs=2e-6)
    assert raw[5, 5] == pytest.approx(0.000232, abs=1e-6)
    assert raw[0, 10] == pytest.approx(0.003390, abs=1e-6)
    assert raw[10, 0] == pytest.approx(0.012796, abs=1e-6)
    pre = _core.expert_response(core025, 0, 36, aoi, 11, sig, stage="sigma", impl="reference")
    assert pre.min() == pytest.approx(-0.002021, abs=1e-6)
    out = _core.expert_response(core025, 0, 36, aoi, 11, sig, impl="reference")
    assert out.dtype == F32 and out.shape == (11, 11)
    assert out.min() == 0
    assert np.unravel_index(out.argmax(), out.shape) == (2, 0)
    assert out.max() == pytest.approx(0.140132, abs=1e-6)
    assert out.sum() == pytest.approx(0.752555, abs=2e-6)
    for (r, c), want in {(0, 0): 0.012818, (5, 5): 0.001830, (0, 10): 0.001678,
                         (10, 0): 0.002062, (3, 7): 0.001915}.items():
        assert out[r, c] == pytest.approx(want, abs=1e-6)
    assert core025.alpha_sum[0, 36] == pytest.approx(76.465448, abs=1e-5)
    np.testing.assert_allclose(general025.betas[0, 36], (3.731875, 2.290043, 1.507682), atol=1e-6)


def test_spec_8_8_second_case(core025):
    y, x = np.mgrid[0:17, 0:17]
    aoi = (128 + 100 * np.sin(0.5 * x) * np.cos(0.3 * y)).astype(F32)
    sig = _core.build_sigmas(core025, 7, view=1)
    out = _core.expert_response(core025, 1, 0, aoi, 7, sig, impl="reference")
    assert np.unravel_index(out.argmax(), out.shape) == (6, 0)
    assert out.max() == pytest.approx(0.032646, abs=1e-6)
    assert out.sum() == pytest.approx(0.160432, abs=2e-6)
    assert out[3, 3] == pytest.approx(0.001652, abs=1e-6)
    assert out[0, 6] == pytest.approx(0.000750, abs=1e-6)


# --------------------------------------------------------------------------------------------
# Expert response against a numpy reference

@pytest.mark.parametrize("ws", [7, 11])
def test_expert_response_matches_numpy_on_random_aois(core025, general025, ws):
    rng = np.random.default_rng(ws)
    sig = _core.build_sigmas(core025, ws, view=0)
    W = ws + 10
    for trial, i in enumerate((0, 17, 36, 48, 67)):
        aoi = (rng.random((W, W)) * 255).astype(F32)
        if trial == 1:
            aoi[:, :12] = 77  # zero-norm patches (norm 0 -> 1) in the left columns
        if trial == 2:
            aoi[:] = 5  # every patch constant: z = bias
        got_raw = _core.expert_response(core025, 0, i, aoi, ws, sig, stage="raw")
        want_raw = expert_reference(general025, 0, i, aoi, ws, with_sigma=False)
        np.testing.assert_allclose(got_raw, want_raw, rtol=2e-5, atol=1e-7)
        got = _core.expert_response(core025, 0, i, aoi, ws, sig)
        want = expert_reference(general025, 0, i, aoi, ws)
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * max(want.max(), 1e-3))
        assert got.min() == 0 or want.min() > 0


def test_small_alpha_neurons_skipped_but_summed():
    """alpha <= 1e-4: no response term, but counted in Q's alpha sum (spec 01 §5.4, §5.5)."""
    base = synthetic_scale(seed=3)
    alpha = base.alpha.copy()
    alpha[0, 1, 2] = 5e-5
    with_small = dataclasses.replace(base, alpha=alpha)
    # Same expert with the small neuron's weights blown up: the response must not notice.
    weights = with_small.weights.copy()
    weights[0, 1, 2] *= 1000
    bias = with_small.bias.copy()
    bias[0, 1, 2] = 50
    loud = dataclasses.replace(with_small, weights=weights, bias=bias)
    a, b = make_core_scale(with_small), make_core_scale(loud)
    assert a.alpha_sum[0, 1] == alpha_sum_f32(alpha[0, 1])
    aoi = np.random.default_rng(1).random((5, 5)).astype(F32) * 200
    for stage in ("raw", "final"):
        ra = _core.expert_response(a, 0, 1, aoi, 3, _core.build_sigmas(a, 3), stage=stage)
        rb = _core.expert_response(b, 0, 1, aoi, 3, _core.build_sigmas(b, 3), stage=stage)
        np.testing.assert_array_equal(ra, rb)
    np.testing.assert_allclose(
        _core.expert_response(a, 0, 1, aoi, 3, _core.build_sigmas(a, 3)),
        expert_reference(with_small, 0, 1, aoi, 3), atol=1e-6)


def test_synthetic_small_patches_match_reference():
    s = synthetic_scale(seed=5, p=3)
    cs = make_core_scale(s)
    rng = np.random.default_rng(2)
    for ws in (3, 5):
        sig = _core.build_sigmas(cs, ws)
        for v, i in ((0, 0), (0, 2), (1, 1)):
            aoi = (rng.random((ws + 2, ws + 2)) * 255).astype(F32)
            want = expert_reference(s, v, i, aoi, ws)
            got = _core.expert_response(cs, v, i, aoi, ws, sig)
            np.testing.assert_allclose(got, want, atol=2e-5 * want.max())


def test_general_file_facts(core025, general025):
    """Spec 01 §4.3: 4 neurons with alpha <= 1e-4, visibility counts, patch size."""
    assert core025.n == 68 and core025.n_views == 7
    assert core025.patch_scaling == 0.25
    assert core025.patch_width == core025.patch_height == 11
    assert core025.window_sizes == [7, 9, 11, 15]
    assert list(core025.visibility.sum(axis=1)) == [68, 68, 68, 35, 35, 68, 68]
    live = general025.alpha[general025.visibility > 0]
    assert int(((live <= 1e-4) & (live > 0)).sum()) == 4
    conf = core025.confidence
    assert conf.dtype == F32 and conf.shape == (7, 68)
    vis = core025.visibility > 0
    assert conf[vis].min() == pytest.approx(0.165, abs=1e-3)
    assert conf[vis].max() == pytest.approx(0.722, abs=1e-3)
    np.testing.assert_array_equal(conf[~vis], 0)
    np.testing.assert_allclose(core025.view_centres[:, 1],
                               np.radians([0, -20, -45, -70, 70, 45, 20]), atol=1e-7)


# --------------------------------------------------------------------------------------------
# Sigma

@pytest.mark.parametrize("ws", [7, 9, 11])
def test_sigma_inverts_2q(core025, general025, ws):
    sig = _core.build_sigmas(core025, ws, view=0)
    comps = general025.sigma_components[ws].astype(np.float64)
    for i in (0, 30, 36, 67):
        S = sig.sigma(0, i)
        assert S.dtype == F32 and S.shape == (ws * ws, ws * ws)
        Q = float(core025.alpha_sum[0, i]) * np.eye(ws * ws)
        for b in range(comps.shape[0]):
            Q += float(F32(general025.betas[0, i, b])) * comps[b]
        err = np.abs(2 * Q @ S.astype(np.float64) - np.eye(ws * ws)).max()
        assert err < 1e-5
        # Float Cholesky with double accumulators: nearly symmetric, close to the double inverse.
        np.testing.assert_allclose(S, np.linalg.inv(2 * Q), atol=1e-8, rtol=1e-5)


def test_sigma_views_and_visibility(core025):
    sig_all = _core.build_sigmas(core025, 7)
    assert sig_all.ws == 7 and sig_all.n_views == 7 and sig_all.n == 68
    # Invisible experts get no Sigma (view 3: landmark 9 has no expert, §4.3).
    assert sig_all.sigma(3, 9) is None and sig_all.sigma(3, 0) is not None
    one = _core.build_sigmas(core025, 7, view=2)
    assert one.sigma(0, 0) is None
    np.testing.assert_array_equal(one.sigma(2, 5), sig_all.sigma(2, 5))
    with pytest.raises(ValueError):
        sig_all.sigma(7, 0)
    with pytest.raises(ValueError):
        _core.build_sigmas(core025, 7, view=7)


def test_sigma_fallback_without_components(core025, general025):
    """ws = 13 has no components: Sigma = I / (2 alpha_sum), betas ignored (§5.5 quirk)."""
    sig = _core.build_sigmas(core025, 13, view=0)
    S = sig.sigma(0, 36)
    d = S.diagonal()
    assert np.all(d == d[0])
    np.testing.assert_array_equal(S - np.diag(d), 0)
    assert d[0] == pytest.approx(1 / (2 * float(core025.alpha_sum[0, 36])), rel=1e-6)
    aoi = (np.random.default_rng(0).random((23, 23)) * 255).astype(F32)
    # sigmas=None is the same rescaling, bit for bit.
    for stage in ("sigma", "final"):
        a = _core.expert_response(core025, 0, 36, aoi, 13, sig, stage=stage)
        b = _core.expert_response(core025, 0, 36, aoi, 13, None, stage=stage)
        np.testing.assert_array_equal(a, b)
    want = expert_reference(general025, 0, 36, aoi, 13)
    np.testing.assert_allclose(a, want, atol=2e-5 * want.max())


def test_sigma_eye_model_has_no_components(model_dir):
    s = read_ccnf_for_tests(model_dir / "model_eye" / "patch_experts" /
                            "left_ccnf_patches_1.00_synth_lid_.txt")
    assert s.betas.shape[2] == 0
    cs = make_core_scale(s)
    assert cs.window_sizes == [3, 5, 7, 9, 11, 15]
    for ws in (3, 9):
        S = _core.build_sigmas(cs, ws).sigma(0, 4)
        np.testing.assert_array_equal(S, np.diag(S.diagonal()))
        assert S[0, 0] == pytest.approx(1 / (2 * float(cs.alpha_sum[0, 4])), rel=1e-6)


# --------------------------------------------------------------------------------------------
# View selection (spec 01 §6)

@pytest.mark.parametrize("yaw_deg, view", [
    (0, 0), (9.9, 0), (-9.9, 0), (10.1, 6), (-10.1, 1), (32.4, 6), (32.6, 5), (-32.4, 1),
    (-32.6, 2), (57.4, 5), (57.6, 4), (-57.4, 2), (-57.6, 3), (90, 4), (-90, 3)])
def test_view_index_boundaries(core025, yaw_deg, view):
    assert _core.view_index(core025, 0.0, np.radians(yaw_deg), 0.0) == view


def test_view_index_wild_and_ties(wild025):
    assert [_core.view_index(wild025, 0, np.radians(d), 0) for d in (-10.1, -9.9, 9.9, 10.1)] \
        == [1, 0, 0, 2]
    # Exact tie: centres at yaw +-0.25 (exact floats) and yaw 0 are equidistant.
    s = dataclasses.replace(synthetic_scale(), view_centres=np.array([[0, 0.25, 0], [0, -0.25, 0]]))
    cs = make_core_scale(s)
    assert _core.view_index(cs, 0.0, 0.0, 0.0) == 0  # tie -> lowest index
    assert _core.view_index(cs, 0.0, -1e-3, 0.0) == 1
    assert _core.view_index(cs, 0.5, 0.0, 0.2) == 0  # pitch/roll count too


# --------------------------------------------------------------------------------------------
# Similarity transforms (spec 01 §5.1, §8.7)

@pytest.fixture(scope="module")
def pdm_wild(model_dir):
    return read_pdm(model_dir / "pdms" / "In-the-wild_aligned_PDM_68.txt")


def test_spec_8_7_similarity(pdm_wild):
    mean, comps, _ = pdm_wild
    q = np.zeros(comps.shape[1])
    q[:3] = (5, -3, 2)
    img = render(mean, comps, (2.5, 0.1, -0.2, 0.05, 300, 250), q)
    np.testing.assert_allclose(img[[0, 68]], (100.878113, 159.810145), atol=1e-5)  # §8.2
    ref = render(mean, comps, (0.25, 0, 0, 0, 0, 0), q)
    A = _core.align_with_scale(img.astype(F32), ref.astype(F32))
    assert A.dtype == F32
    np.testing.assert_allclose(A, [[0.100441, 0.004219], [-0.004219, 0.100441]], atol=1e-6)
    Ainv = _core.invert2x2(A)
    np.testing.assert_allclose(Ainv, [[9.938567, -0.417438], [0.417438, 9.938567]], atol=2e-5)
    np.testing.assert_allclose(Ainv @ A, np.eye(2), atol=1e-6)


def kabsch_reference(src, dst):
    n = src.size // 2
    s = np.stack([src[:n], src[n:]], 1).astype(np.float64)
    d = np.stack([dst[:n], dst[n:]], 1).astype(np.float64)
    s -= s.mean(0)
    d -= d.mean(0)
    ss, sd = np.sqrt((s ** 2).sum() / n), np.sqrt((d ** 2).sum() / n)
    s /= ss
    d /= sd
    U, _, Vt = np.linalg.svd(s.T @ d)
    det = np.linalg.det(Vt.T @ U.T)
    R = Vt.T @ np.diag([1, 1 if det > 0 else -1]) @ U.T
    return sd / ss * R


@pytest.mark.parametrize("seed", range(5))
def test_align_with_scale_matches_svd_kabsch(seed):
    rng = np.random.default_rng(seed)
    src = rng.normal(0, 50, 2 * 20).astype(F32)
    th, k = rng.uniform(-np.pi, np.pi), rng.uniform(0.05, 5)
    R = k * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    n = 20
    pts = R @ np.stack([src[:n], src[n:]]) + rng.normal(0, 5, (2, n))
    if seed == 4:
        pts[0] = -pts[0]  # a reflection: det(H) < 0, the sign fix keeps a proper rotation
    dst = np.concatenate([pts[0], pts[1]]).astype(F32) + 17
    A = _core.align_with_scale(src, dst)
    np.testing.assert_allclose(A, kabsch_reference(src, dst), rtol=0, atol=2e-6 * k)
    assert np.linalg.det(A) > 0


def test_align_and_invert_validation():
    with pytest.raises(ValueError):
        _core.align_with_scale(np.zeros(5, F32), np.zeros(5, F32))
    with pytest.raises(ValueError):
        _core.align_with_scale(np.zeros(6, F32), np.zeros(8, F32))
    np.testing.assert_array_equal(_core.invert2x2(np.zeros((2, 2), F32)), 0)


# --------------------------------------------------------------------------------------------
# AOI warp (spec 01 §5.2, spec 02 §2.3)

def random_image(seed=0, shape=(60, 80)):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) * 255).astype(F32)


def test_warp_matches_fixed_point_emulation():
    img = random_image()
    rng = np.random.default_rng(1)
    cases = [(30.3, 20.7, 1.0, 0.0, 21), (40.0, 30.0, 0.7, 0.3, 21), (2.1, 1.9, 1.3, -0.4, 21),
             (78.4, 58.9, 0.9, 0.2, 19),  # bottom-right border, partial neighbours
             (-3.0, -2.5, 1.1, 0.1, 17),  # top-left, mostly outside
             (200.0, 300.0, 1.0, 0.5, 13),  # entirely outside
             (-0.5, 30.2, 1.0, 0.0, 15), (79.5, 59.5, 0.25, 0.0, 11)]
    for _ in range(40):
        cases.append((rng.uniform(-10, 90), rng.uniform(-10, 70), rng.uniform(-2, 2),
                      rng.uniform(-2, 2), int(rng.choice([13, 15, 17, 19, 21]))))
    for x, y, a, b, W in cases:
        got = _core.warp_aoi(img, x, y, a, b, W)
        want = warp_reference(img, x, y, a, b, W)
        np.testing.assert_array_equal(got, want, err_msg=str((x, y, a, b, W)))
    assert not _core.warp_aoi(img, 200.0, 300.0, 1.0, 0.5, 13).any()


def test_warp_rounds_half_to_even():
    """Positions at an exact half of 1/1024 px on a 1/32-px bucket edge (spec 01 §5.2: cvRound)."""
    img = random_image(2, (12, 12))
    W = 21  # c = 10
    # a = 1, b = 0: M02 = x - 10. 1024 M02 = -16.5 rounds (half-even) to -16 -> X32 = 0, sample at
    # column 0 exactly; half away from zero would give -17 -> X32 = -1 (partly outside).
    out = _core.warp_aoi(img, F32(10 - 33 / 2048), F32(10.0), 1.0, 0.0, W)
    np.testing.assert_array_equal(out, warp_reference(img, 10 - 33 / 2048, 10.0, 1.0, 0.0, W))
    assert out[10, 0] == img[10, 0] and out[10, 3] == img[10, 3]
    # 1024 M02 = 15.5 -> 16 -> X32 = 1: a 1/32 step to the right (half-down would give 0).
    out = _core.warp_aoi(img, F32(10 + 31 / 2048), F32(10.0), 1.0, 0.0, W)
    np.testing.assert_array_equal(out, warp_reference(img, 10 + 31 / 2048, 10.0, 1.0, 0.0, W))
    assert out[10, 0] == F32(img[10, 0] * F32(31 / 32) + img[10, 1] * F32(1 / 32))


def test_warp_identity_and_translation():
    img = random_image(3)
    out = _core.warp_aoi(img, 40.0, 30.0, 1.0, 0.0, 21)
    np.testing.assert_array_equal(out, img[20:41, 30:51])
    # a = 1, b = 0, half-pixel offset: averages of neighbours (weights 1/2).
    out = _core.warp_aoi(img, 40.5, 30.0, 1.0, 0.0, 11)
    want = (img[25:36, 35:46] * F32(0.5) + img[25:36, 36:47] * F32(0.5)).astype(F32)
    np.testing.assert_array_equal(out, want)


def test_exact_bilinear_differs_slightly():
    img = random_image(4)
    diffs = []
    for x, y, a, b in [(30.37, 20.71, 0.93, 0.27), (41.11, 33.33, 1.21, -0.17)]:
        q = _core.warp_aoi(img, x, y, a, b, 21)
        e = _core.warp_aoi(img, x, y, a, b, 21, exact=True)
        diffs.append(np.abs(q - e).max())
    # Positions differ by at most 1/64 px per axis: at most 2 * 255 / 64 grey levels.
    assert 0 < max(diffs) <= 2 * 255 / 64


def test_warp_against_installed_opencv():
    cv2 = pytest.importorskip("cv2")
    major, minor = (int(t) for t in cv2.__version__.split(".")[:2])
    img = random_image(5)
    for x, y, a, b, W in [(30.3, 20.7, 1.1, 0.2, 21), (2.0, 3.3, 0.9, -0.3, 21),
                          (77.6, 58.9, 1.3, 0.4, 21), (-3.0, -4.0, 0.7, 0.1, 17)]:
        c = (F32(W) - F32(1)) / F32(2)
        a32, b32, x32, y32 = F32(a), F32(b), F32(x), F32(y)
        M = np.array([[a32, -b32, x32 - a32 * c + b32 * c], [b32, a32, y32 - a32 * c - b32 * c]], F32)
        cv = cv2.warpAffine(img, M, (W, W), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if major < 5:
            # Every OpenCV 4.x (checked: 4.14) samples on the 1/32-px fixed-point grid; the
            # bilinear weights may be formed in another float order (differences ~1e-5).
            np.testing.assert_allclose(_core.warp_aoi(img, x, y, a, b, W), cv, rtol=0, atol=1e-4)
        else:
            # New kernels sample at float positions; our exact variant agrees up to how the
            # position is rounded (~1e-5 px on steep random pixels -> a few 1e-3 grey levels).
            np.testing.assert_allclose(_core.warp_aoi(img, x, y, a, b, W, exact=True), cv,
                                       atol=1e-2)


# --------------------------------------------------------------------------------------------
# responses(): whole scale

def test_responses_match_per_landmark_pipeline(core025, pdm_wild):
    mean, comps, _ = pdm_wild
    q = np.zeros(comps.shape[1])
    q[:3] = (5, -3, 2)
    g = (0.6, 0.05, -0.9, 0.05, 160, 130)  # yaw -52 deg -> view 2
    lm = render(mean, comps, g, q).astype(F32)
    ref = render(mean, comps, (0.25, 0, 0, 0, 0, 0), q).astype(F32)
    A = _core.align_with_scale(lm, ref)
    Ainv = _core.invert2x2(A)
    a, b = Ainv[0, 0], -Ainv[0, 1]
    yy, xx = np.mgrid[0:260, 0:320]
    img = (128 + 60 * np.sin(xx / 7.0) * np.cos(yy / 11.0)
           + np.random.default_rng(0).normal(0, 10, xx.shape)).astype(F32)
    view = _core.view_index(core025, *g[1:4])
    assert view == 2
    ws = 9
    sig = _core.build_sigmas(core025, ws, view=view)
    maps = _core.responses(img, core025, sig, view, ws, lm, a, b)
    assert maps.shape == (68, ws, ws) and maps.dtype == F32
    for i in range(68):
        aoi = _core.warp_aoi(img, lm[i], lm[i + 68], a, b, ws + 10)
        np.testing.assert_array_equal(maps[i], _core.expert_response(core025, view, i, aoi, ws, sig))
        assert maps[i].min() >= 0

    # View 3 (yaw -70): invisible landmarks' maps are left untouched.
    sig3 = _core.build_sigmas(core025, ws, view=3)
    out = np.full((68, ws, ws), -7.0, F32)
    res = _core.responses(img, core025, sig3, 3, ws, lm, a, b, out=out)
    assert res is out or np.shares_memory(res, out)
    vis = core025.visibility[3] > 0
    assert np.all(out[~vis] == -7.0)
    assert np.all(out[vis] >= 0)
    assert not _core.responses(img, core025, sig3, 3, ws, lm, a, b)[~vis].any()


def test_responses_validation(core025):
    img = np.zeros((50, 50), F32)
    lm = np.full(136, 25, F32)
    sig0 = _core.build_sigmas(core025, 7, view=0)
    with pytest.raises(ValueError, match="another view"):
        _core.responses(img, core025, sig0, 1, 7, lm, 1.0, 0.0)
    with pytest.raises(ValueError, match="window"):
        _core.responses(img, core025, sig0, 0, 9, lm, 1.0, 0.0)
    with pytest.raises(ValueError, match="landmarks2n"):
        _core.responses(img, core025, sig0, 0, 7, lm[:100], 1.0, 0.0)
    with pytest.raises(ValueError, match="img"):
        _core.responses(np.zeros(50, F32), core025, sig0, 0, 7, lm, 1.0, 0.0)
    with pytest.raises(ValueError, match="out"):
        _core.responses(img, core025, sig0, 0, 7, lm, 1.0, 0.0, out=np.zeros((68, 7, 7)))
    with pytest.raises(ValueError, match="aoi"):
        _core.expert_response(core025, 0, 0, np.zeros((16, 16), F32), 7, sig0)
    with pytest.raises(ValueError, match="no expert"):
        _core.expert_response(core025, 3, 9, np.zeros((17, 17), F32), 7)


def test_scale_construction_validation(general025):
    fields = {f.name: getattr(general025, f.name) for f in dataclasses.fields(general025)}
    bad = dict(fields, weights=fields["weights"][..., :10])
    with pytest.raises(ValueError, match="weights"):
        _core.CcnfScale(**bad)
    nt = fields["neuron_type"].copy()
    nt[0, 0, 0] = 3
    with pytest.raises(ValueError, match="neuron type 3"):
        _core.CcnfScale(**dict(fields, neuron_type=nt))
    nn = fields["n_neurons"].copy()
    nn[0, 5] = 0
    with pytest.raises(ValueError, match="visible but has 0 neurons"):
        _core.CcnfScale(**dict(fields, n_neurons=nn))
    with pytest.raises(ValueError, match="non-square"):
        _core.CcnfScale(**dict(fields, patch_height=10))
