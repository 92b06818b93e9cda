"""PDM core (cpp/pdm.cpp) through the _core bindings: spec 01 §3 maths, pinned to the numbers of
spec 01 §8.1-8.6, cross-checked against finite differences and a slow float64 numpy reference.

The PDM file is research-licensed: it is read from ../shared at test time, never copied.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from fastclnf import _core as C
from fastclnf.models.pdm import read_pdm

PDM_FILE = "pdms/In-the-wild_aligned_PDM_68.txt"

# Spec 01 §8.2 parameters.
G82 = np.array([2.5, 0.1, -0.2, 0.05, 300.0, 250.0], np.float32)


def load_pdm_arrays(path):
    """(mean (3n,), components (3n, m), eigenvalues (m,)) as float32, from the package's reader."""
    pdm = read_pdm(path)
    return pdm.mean, pdm.components, pdm.eigenvalues


@pytest.fixture(scope="module")
def arrays(model_dir):
    return load_pdm_arrays(model_dir / PDM_FILE)


@pytest.fixture(scope="module")
def pdm(arrays):
    return C.Pdm(*arrays)


@pytest.fixture(scope="module")
def q82(pdm):
    q = np.zeros(pdm.m, np.float32)
    q[:3] = (5, -3, 2)
    return q


# ------------------------------------------------------------------------------------------------
# Slow, obvious float64 reference (written from the definitions, not from the Jacobian table).


def ref_rotation(rx, ry, rz):
    rx, ry, rz = float(rx), float(ry), float(rz)
    Rx = np.array([[1, 0, 0], [0, math.cos(rx), -math.sin(rx)], [0, math.sin(rx), math.cos(rx)]])
    Ry = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    Rz = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    return Rx @ Ry @ Rz


def ref_euler(R):
    """Euler angles with R = Rx Ry Rz (direct formula, |ry| < pi/2)."""
    return np.array([math.atan2(-R[1, 2], R[2, 2]), math.asin(R[0, 2]), math.atan2(-R[0, 1], R[0, 0])])


def ref_points3(arrays, q):
    mean, V, _ = (a.astype(np.float64) for a in arrays)
    S = mean + V @ np.asarray(q, np.float64)
    return S.reshape(3, -1)  # rows X, Y, Z


def ref_shape2d(arrays, g, q):
    g = np.asarray(g, np.float64)
    P = g[0] * (ref_rotation(*g[1:4]) @ ref_points3(arrays, q))[:2] + g[4:6, None]
    return P.ravel()  # x.., y..


def ref_jacobian(arrays, g, q):
    """d shape2d / d(s, w, t, q) with the rotation perturbed on the right: R (I + [w]x)."""
    g = np.asarray(g, np.float64)
    _, V, _ = (a.astype(np.float64) for a in arrays)
    S = ref_points3(arrays, q)
    n = S.shape[1]
    R = ref_rotation(*g[1:4])
    cols = [(R @ S)[:2].ravel()]
    for k in range(3):
        e = np.zeros(3)
        e[k] = 1
        cols.append(g[0] * (R @ np.cross(e, S.T).T)[:2].ravel())  # [e_k]x S = e_k x S
    cols.append(np.r_[np.ones(n), np.zeros(n)])
    cols.append(np.r_[np.zeros(n), np.ones(n)])
    for j in range(V.shape[1]):
        cols.append(g[0] * (R @ V[:, j].reshape(3, n))[:2].ravel())
    return np.stack(cols, axis=1)


def ref_update(g, q, delta):
    """Spec 01 §3.6 in float64 without the Rodrigues round trip (direct re-orthonormalisation)."""
    g = np.asarray(g, np.float64).copy()
    q = np.asarray(q, np.float64).copy()
    d = np.asarray(delta, np.float64)
    g[0] += d[0]
    g[4:6] += d[4:6]
    wx, wy, wz = d[1:4]
    U, _, Vt = np.linalg.svd(np.array([[1, -wz, wy], [wz, 1, -wx], [-wy, wx, 1]]))
    g[1:4] = ref_euler(ref_rotation(*g[1:4]) @ (U @ Vt))
    if len(d) > 6:
        q += d[6:]
    return g, q


def ref_params_from_landmarks(arrays, L, rot=(0.0, 0.0, 0.0)):
    """Spec 01 §3.8 in float64, written independently of the C++ (same quirks)."""
    mean, V, eig = (a.astype(np.float64) for a in arrays)
    L = np.asarray(L, np.float64)
    n = mean.size // 3
    keep = np.flatnonzero(L[:n] != 0)
    rows = np.r_[keep, keep + n, keep + 2 * n]
    sub = (mean[rows], V[rows], eig)
    Lk = np.r_[L[keep], L[keep + n]]
    k = keep.size
    w = np.ptp(Lk[:k]) / np.ptp(sub[0][:k])
    h = np.ptp(Lk[k:]) / np.ptp(sub[0][k:2 * k])
    g = np.array([(w + h) / 2, *np.float32(rot), (Lk[:k].min() + Lk[:k].max()) / 2,
                  (Lk[k:].min() + Lk[k:].max()) / 2])
    q = np.zeros(V.shape[1])
    reg = np.r_[np.zeros(6), 1 / eig]
    err = np.linalg.norm(ref_shape2d(sub, g, q) - Lk)
    bad = 0
    for it in range(1, 1001):
        S_old = ref_points3(sub, q)
        J = ref_jacobian(sub, g, q)
        b = J.T @ (Lk - ref_shape2d(sub, g, q)) - reg * np.r_[np.zeros(6), q]
        delta = 0.75 * np.linalg.solve(J.T @ J + np.diag(reg), b)
        g, q = ref_update(g, q, delta)
        shape = (g[0] * (ref_rotation(*g[1:4]) @ S_old)[:2] + g[4:6, None]).ravel()
        err_new = np.linalg.norm(shape - Lk)
        if 0.999 * err < err_new:
            bad += 1
            if bad == 3:
                break
        err = err_new
    return g, q, it


def random_params(rng, pdm, arrays):
    eig = arrays[2]
    g = np.array([rng.uniform(0.5, 3.0), *rng.uniform(-0.6, 0.6, 3), *rng.uniform(50, 500, 2)],
                 np.float32)
    q = (rng.uniform(-1.5, 1.5, pdm.m) * np.sqrt(eig)).astype(np.float32)
    return g, q


# ------------------------------------------------------------------------------------------------
# Model object


def test_pdm_object(pdm, arrays):
    assert (pdm.n, pdm.m) == (68, 34)
    np.testing.assert_array_equal(pdm.mean, arrays[0])
    np.testing.assert_array_equal(pdm.components, arrays[1])
    np.testing.assert_array_equal(pdm.eigenvalues, arrays[2])
    assert pdm.eigenvalues[0] == np.float32(826.213804)
    assert pdm.eigenvalues[-1] == np.float32(0.58266)
    assert pdm.mean[0] == np.float32(-73.393523)
    with pytest.raises(AttributeError):
        pdm.n = 3
    assert "n=68" in repr(pdm)


def test_pdm_accepts_float64(arrays):
    p = C.Pdm(*(a.astype(np.float64) for a in arrays))
    np.testing.assert_array_equal(p.components, arrays[1])


# ------------------------------------------------------------------------------------------------
# Spec 01 §8.1-8.5


def test_mean_shape_8_1(pdm):
    s = C.shape2d(pdm, [1, 0, 0, 0, 0, 0], np.zeros(pdm.m, np.float32))
    assert s.dtype == np.float32 and s.shape == (136,)
    expected = [(-73.393523, -29.801432), (-72.775014, -10.949766), (-70.533638, 7.929818),
                (-66.850058, 26.074280), (-59.790187, 42.564390)]
    got = np.c_[s[:5], s[68:73]]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # With the identity pose the projection is exact: the mean's X and Y blocks.
    np.testing.assert_array_equal(s, pdm.mean[:136])


def test_shape3d(pdm, arrays, q82):
    S = C.shape3d(pdm, q82)
    assert S.shape == (204,) and S.dtype == np.float32
    np.testing.assert_allclose(S, ref_points3(arrays, q82).ravel(), atol=2e-5)
    np.testing.assert_array_equal(C.shape3d(pdm, np.zeros(pdm.m, np.float32)), pdm.mean)


def test_shape2d_8_2(pdm, q82):
    s = C.shape2d(pdm, G82, q82)
    expected = {0: (100.878113, 159.810145), 1: (101.096109, 206.372434), 2: (104.766553, 252.960943),
                3: (112.186561, 298.104980), 4: (129.178886, 340.250193), 30: (322.238476, 238.450371),
                36: (187.800168, 152.482003), 45: (413.031230, 157.685735),
                48: (226.520395, 318.431911), 67: (288.893416, 330.295017)}
    for i, (x, y) in expected.items():
        assert s[i] == pytest.approx(x, abs=1e-4), i
        assert s[i + 68] == pytest.approx(y, abs=1e-4), i


def test_rotation_8_2():
    R = C.euler_to_rotation([0.1, -0.2, 0.05])
    assert R.shape == (3, 3) and R.dtype == np.float32
    expected = [[0.978842, -0.048983, -0.198669], [0.029920, 0.994752, -0.097843],
                [0.202419, 0.089829, 0.975170]]
    np.testing.assert_allclose(R, expected, atol=1e-6)
    np.testing.assert_allclose(R, ref_rotation(0.1, -0.2, 0.05), atol=1e-7)
    np.testing.assert_allclose(C.rotation_to_euler(R), [0.1, -0.2, 0.05], atol=1e-6)


def test_euler_round_trip_random():
    rng = np.random.default_rng(1)
    for _ in range(200):
        e = rng.uniform([-1.4, -1.4, -1.4], [1.4, 1.4, 1.4]).astype(np.float32)
        R = C.euler_to_rotation(e)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-6)
        assert np.linalg.det(R) == pytest.approx(1, abs=1e-6)
        np.testing.assert_allclose(R, ref_rotation(*e), atol=1e-6)
        np.testing.assert_allclose(C.rotation_to_euler(R), e, atol=2e-5)


def test_rotation_to_euler_nan_at_180():
    # 180 degrees about x: q0 = 0, so the quaternion route divides 0 by 0 (spec 01 §3.2).
    assert np.isnan(C.rotation_to_euler(np.diag([1.0, -1.0, -1.0]))).any()


def test_params_from_bbox_8_3(pdm):
    g = C.params_from_bbox(pdm, [100, 120, 200, 220])
    np.testing.assert_allclose(g, [1.477373, 0, 0, 0, 201.490448, 219.448918], atol=2e-5)
    g = C.params_from_bbox(pdm, [100, 120, 200, 220], rot=[0, 0.5236, 0])
    np.testing.assert_allclose(g, [1.548888, 0, 0.5236, 0, 169.347653, 218.938169], atol=2e-5)
    assert g[2] == np.float32(0.5236)  # the hint is stored as given


@pytest.mark.parametrize("rot", [(0, 0, 0), (0, 0.5236, 0), (0.2, -0.4, 0.3)])
def test_params_from_bbox_centres_shape(pdm, arrays, rot):
    """The rendered shape's extent is centred in the box, scale = mean of the two ratios (§3.7)."""
    rng = np.random.default_rng(7)
    q = (rng.uniform(-1, 1, pdm.m) * np.sqrt(arrays[2])).astype(np.float32)
    box = np.array([37.5, -12.0, 180.0, 150.0], np.float32)
    g = C.params_from_bbox(pdm, box, q, rot)
    np.testing.assert_array_equal(g[1:4], np.float32(rot))
    s = ref_shape2d(arrays, g, q)
    x, y = s[:68], s[68:]
    assert (x.min() + x.max()) / 2 == pytest.approx(box[0] + box[2] / 2, abs=1e-3)
    assert (y.min() + y.max()) / 2 == pytest.approx(box[1] + box[3] / 2, abs=1e-3)
    # s = (bw / w + bh / h) / 2 with w, h the unscaled extents = rendered extents / s
    assert (box[2] / np.ptp(x) + box[3] / np.ptp(y)) / 2 == pytest.approx(1.0, abs=1e-5)
    # q = None means q = 0
    np.testing.assert_array_equal(C.params_from_bbox(pdm, box, None, rot),
                                  C.params_from_bbox(pdm, box, np.zeros(pdm.m), rot))


def test_jacobian_8_4(pdm, q82):
    J = C.jacobian(pdm, G82, q82)
    assert J.shape == (136, 40) and J.dtype == np.float32
    x_row = [-79.648755, 20.463122, 81.475169, 80.733482, 1, 0, -0.119127, -0.318803]
    y_row = [-36.075942, -112.506090, -14.273896, -179.523784, 0, 1, -0.018134, -0.320898]
    np.testing.assert_allclose(J[0, :8], x_row, rtol=1e-6, atol=2e-5)
    np.testing.assert_allclose(J[68, :8], y_row, rtol=1e-6, atol=2e-5)
    Jr = C.rigid_jacobian(pdm, G82, q82)
    assert Jr.shape == (136, 6)
    np.testing.assert_array_equal(Jr, J[:, :6])


def test_update_8_5(q82):
    d = np.zeros(40, np.float32)
    d[:7] = (0.01, 0.02, -0.01, 0.03, 1, -2, 0.5)
    g, q = C.apply_update(G82, q82, d)
    np.testing.assert_allclose(g, [2.51, 0.121053, -0.208632, 0.084259, 301, 248], atol=2e-6)
    expected_q = q82.copy()
    expected_q[0] = 5.5
    np.testing.assert_array_equal(q, expected_q)
    # Inputs are not modified.
    assert G82[0] == np.float32(2.5) and q82[0] == np.float32(5)
    gr, qr = ref_update(G82, q82, d)
    np.testing.assert_allclose(g, gr, atol=1e-6)


def test_rigid_update_leaves_q(q82):
    d = np.array([0.1, 0.01, 0.02, 0.03, 4, 5], np.float32)
    g, q = C.apply_update(G82, q82, d)
    np.testing.assert_array_equal(q, q82)
    np.testing.assert_allclose(g, ref_update(G82, q82, d)[0], atol=1e-6)


# ------------------------------------------------------------------------------------------------
# §8.6 and the fit-to-landmarks procedure


def test_params_from_landmarks_8_6(pdm, arrays, q82):
    L = C.shape2d(pdm, G82, q82)
    g, q, iters = C.params_from_landmarks(pdm, L)
    np.testing.assert_allclose(g, [2.499575, 0.099860, -0.200194, 0.050007, 300.0, 250.0], atol=1e-3)
    np.testing.assert_allclose(q[:3], [4.8148, -2.9968, 1.9512], atol=5e-3)
    assert 10 <= iters <= 16  # 13 in double (spec); float may differ slightly
    assert np.abs(C.shape2d(pdm, g, q) - L).max() < 0.013 + 0.05
    # Against the float64 reference of the same procedure.
    gr, qr, itr = ref_params_from_landmarks(arrays, L)
    assert itr == 13
    np.testing.assert_allclose(g, gr, atol=1e-3)
    np.testing.assert_allclose(q, qr, atol=5e-3)


def test_params_from_landmarks_missing_points(pdm, arrays, q82):
    """x == 0 marks a missing landmark; its y is never looked at (spec 01 §3.8 step 1)."""
    rng = np.random.default_rng(3)
    L = C.shape2d(pdm, G82, q82) + rng.normal(0, 0.7, 136).astype(np.float32)
    missing = [0, 5, 17, 30, 48, 60]
    L[missing] = 0
    g, q, iters = C.params_from_landmarks(pdm, L)
    L2 = L.copy()
    L2[[i + 68 for i in missing]] = rng.uniform(-1e4, 1e4, len(missing)).astype(np.float32)
    g2, q2, iters2 = C.params_from_landmarks(pdm, L2)
    np.testing.assert_array_equal(g, g2)
    np.testing.assert_array_equal(q, q2)
    assert iters == iters2
    gr, qr, itr = ref_params_from_landmarks(arrays, L)
    np.testing.assert_allclose(g, gr, atol=1e-3)
    np.testing.assert_allclose(q, qr, atol=1e-2)
    assert abs(iters - itr) <= 2
    keep = np.setdiff1d(np.arange(68), missing)
    fit = C.shape2d(pdm, g, q)
    assert np.abs(fit[keep] - L[keep]).max() < 3.0  # noise level ~0.7 px


def test_params_from_landmarks_rotation_hint(pdm, arrays):
    g0 = np.array([1.3, 0.05, 0.6, -0.1, 220, 240], np.float32)
    L = C.shape2d(pdm, g0, np.zeros(pdm.m, np.float32))
    g, q, _ = C.params_from_landmarks(pdm, L, rot=[0, 0.5, 0])
    np.testing.assert_allclose(C.shape2d(pdm, g, q), L, atol=0.05)
    gr, qr, _ = ref_params_from_landmarks(arrays, L, rot=(0, 0.5, 0))
    np.testing.assert_allclose(g, gr, atol=1e-3)
    np.testing.assert_allclose(q, qr, atol=1e-2)


def test_params_from_landmarks_all_missing(pdm):
    with pytest.raises(ValueError, match="missing"):
        C.params_from_landmarks(pdm, np.zeros(136, np.float32))


# ------------------------------------------------------------------------------------------------
# Jacobians: finite differences through apply_update, numpy reference


def _fd_columns(pdm, g, q, n_cols):
    """Central differences of shape2d(apply_update(g, q, +-h e_k)) for k < n_cols (float)."""
    cols = []
    for k in range(n_cols):
        h = {0: 1e-2, 1: 1e-2, 2: 1e-2, 3: 1e-2, 4: 1.0, 5: 1.0}.get(k, 0.5)
        d = np.zeros(n_cols, np.float32)
        d[k] = h
        gp, qp = C.apply_update(g, q, d)
        gm, qm = C.apply_update(g, q, -d)
        sp = C.shape2d(pdm, gp, qp).astype(np.float64)
        sm = C.shape2d(pdm, gm, qm).astype(np.float64)
        cols.append((sp - sm) / (2 * h))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_jacobian_finite_differences(pdm, arrays, seed):
    g, q = random_params(np.random.default_rng(seed), pdm, arrays)
    J = C.jacobian(pdm, g, q).astype(np.float64)
    fd = _fd_columns(pdm, g, q, 6 + pdm.m)
    # float FD: ~1e-5 px rounding / 2h plus O(h^2) curvature of the rotation columns
    np.testing.assert_allclose(fd, J, atol=0.02, rtol=1e-3)
    Jr = C.rigid_jacobian(pdm, g, q).astype(np.float64)
    fdr = _fd_columns(pdm, g, q, 6)
    np.testing.assert_allclose(fdr, Jr, atol=0.02, rtol=1e-3)


@pytest.mark.parametrize("seed", range(10, 16))
def test_shape2d_and_jacobian_vs_numpy(pdm, arrays, seed):
    g, q = random_params(np.random.default_rng(seed), pdm, arrays)
    s = C.shape2d(pdm, g, q)
    np.testing.assert_allclose(s, ref_shape2d(arrays, g, q), atol=2e-4)
    J = C.jacobian(pdm, g, q)
    Jref = ref_jacobian(arrays, g, q)
    scale = np.abs(Jref).max(axis=0)
    np.testing.assert_allclose(J, Jref, atol=1e-5 * scale.max(), rtol=1e-5)
    np.testing.assert_array_equal(C.rigid_jacobian(pdm, g, q), J[:, :6])
    b = C.bbox_of_shape(s)
    np.testing.assert_array_equal(b, [s[:68].min(), s[68:].min(), s[:68].max() - s[:68].min(),
                                      s[68:].max() - s[68:].min()])


@pytest.mark.parametrize("seed", range(20, 26))
def test_apply_update_vs_numpy(pdm, arrays, seed):
    rng = np.random.default_rng(seed)
    g, q = random_params(rng, pdm, arrays)
    d = np.r_[rng.normal(0, 0.05, 1), rng.normal(0, 0.1, 3), rng.normal(0, 3, 2),
              rng.normal(0, 1, pdm.m)].astype(np.float32)
    g2, q2 = C.apply_update(g, q, d)
    gr, qr = ref_update(g, q, d)
    np.testing.assert_allclose(g2, gr, atol=2e-6, rtol=1e-6)
    np.testing.assert_array_equal(q2, q + d[6:])


# ------------------------------------------------------------------------------------------------
# Update quirks: 1e-5 rad snap, NaN fallback; clamp


def test_small_rotation_snaps_to_zero():
    q = np.zeros(3, np.float32)
    zero6 = np.zeros(6, np.float32)
    # A composite rotation below ~1e-5 rad becomes exactly zero (Rodrigues, spec 01 §3.6).
    g, _ = C.apply_update(np.array([1, 3e-6, -2e-6, 4e-6, 0, 0], np.float32), q, zero6)
    np.testing.assert_array_equal(g[1:4], [0, 0, 0])
    g, _ = C.apply_update(np.array([1, 0, 0, 0, 0, 0], np.float32), q,
                          np.array([0, 5e-6, 0, 0, 0, 0], np.float32))
    np.testing.assert_array_equal(g[1:4], [0, 0, 0])
    # Above the threshold the angle survives.
    g, _ = C.apply_update(np.array([1, 0, 0, 0, 0, 0], np.float32), q,
                          np.array([0, 2e-5, 0, 0, 0, 0], np.float32))
    assert g[1] == pytest.approx(2e-5, rel=1e-3) and g[2] == 0 and g[3] == 0
    g, _ = C.apply_update(np.array([1, 3e-5, 0, 0, 0, 0], np.float32), q, zero6)
    assert g[1] == pytest.approx(3e-5, rel=1e-3)


@pytest.mark.parametrize("axis", [1, 2, 3])
def test_nan_angles_fall_back_to_zero(axis):
    # A 180-degree rotation about a coordinate axis has 1 + trace = 0, so the quaternion route
    # gives NaN; the update then stores zero angles (spec 01 §3.6 step 8).
    g = np.array([1, 0, 0, 0, 10, 20], np.float32)
    g[axis] = np.float32(math.pi)
    g2, _ = C.apply_update(g, np.zeros(3, np.float32), np.zeros(6, np.float32))
    np.testing.assert_array_equal(g2, [1, 0, 0, 0, 10, 20])


def test_clamp_local(pdm, arrays):
    eig = arrays[2]
    lim = np.float32(3) * np.sqrt(eig)
    q = np.zeros(pdm.m, np.float32)
    q[0], q[1], q[2], q[3] = 1e4, -1e4, 0.5 * lim[2], -0.99 * lim[3]
    out = C.clamp_local(pdm, q)
    assert out[0] == lim[0] and out[1] == -lim[1]
    assert out[2] == q[2] and out[3] == q[3]
    np.testing.assert_array_equal(out[4:], 0)
    assert q[0] == np.float32(1e4)  # input untouched
    big = np.full(pdm.m, 1e6, np.float32)
    np.testing.assert_array_equal(C.clamp_local(pdm, big), lim)
    np.testing.assert_array_equal(C.clamp_local(pdm, -big), -lim)


# ------------------------------------------------------------------------------------------------
# Linear-algebra helpers (cpp/linalg.hpp)


def test_cholesky_solve():
    rng = np.random.default_rng(5)
    A = rng.normal(size=(60, 40))
    H = (A.T @ A + np.eye(40)).astype(np.float32)
    b = rng.normal(size=40).astype(np.float32)
    x, ok = C._cholesky_solve(H, b)
    assert ok and x.dtype == np.float32
    np.testing.assert_allclose(x, np.linalg.solve(H.astype(np.float64), b.astype(np.float64)),
                               rtol=1e-4, atol=1e-5)
    # Only the lower triangle is read.
    Hl = np.tril(H)
    Hl[np.triu_indices(40, 1)] = np.nan
    x2, ok2 = C._cholesky_solve(Hl, b)
    assert ok2
    np.testing.assert_array_equal(x2, x)


def test_cholesky_failure_gives_zero():
    b = np.ones(3, np.float32)
    x, ok = C._cholesky_solve(np.diag([1.0, -1.0, 1.0]).astype(np.float32), b)
    assert not ok
    np.testing.assert_array_equal(x, 0)
    # A pivot below FLT_EPSILON counts as failure.
    x, ok = C._cholesky_solve(np.diag([1.0, 1e-8, 1.0]).astype(np.float32), b)
    assert not ok
    np.testing.assert_array_equal(x, 0)
    x, ok = C._cholesky_solve(np.diag([1.0, 1e-6, 1.0]).astype(np.float32), b)
    assert ok and x[1] == pytest.approx(1e6, rel=1e-5)


@pytest.mark.parametrize("n", [2, 3])
def test_small_svd(n):
    rng = np.random.default_rng(n)
    for k in range(50):
        A = rng.normal(size=(n, n))
        if k % 5 == 0:
            A[:, -1] = A[:, 0] * 2.0  # rank-deficient
        if k % 7 == 0:
            A = np.zeros((n, n)) if k == 0 else np.outer(rng.normal(size=n), rng.normal(size=n))
        U, w, Vt = C._svd(A)
        np.testing.assert_allclose(U @ np.diag(w) @ Vt, A, atol=1e-12)
        np.testing.assert_allclose(U.T @ U, np.eye(n), atol=1e-12)
        np.testing.assert_allclose(Vt @ Vt.T, np.eye(n), atol=1e-12)
        assert np.all(np.diff(w) <= 0) and np.all(w >= 0)
        np.testing.assert_allclose(w, np.linalg.svd(A, compute_uv=False), atol=1e-12)


# ------------------------------------------------------------------------------------------------
# Argument validation


def test_bad_shapes_raise_value_error(pdm, arrays, q82):
    mean, V, eig = arrays
    bad_calls = [
        lambda: C.Pdm(mean[:-1], V, eig),
        lambda: C.Pdm(mean, V[:-3], eig),
        lambda: C.Pdm(mean, V, eig[:-1]),
        lambda: C.Pdm(mean.reshape(-1, 1), V, eig),
        lambda: C.shape3d(pdm, q82[:-1]),
        lambda: C.shape2d(pdm, G82[:5], q82),
        lambda: C.shape2d(pdm, G82, np.zeros(35, np.float32)),
        lambda: C.jacobian(pdm, G82, q82[:3]),
        lambda: C.rigid_jacobian(pdm, G82.reshape(2, 3), q82),
        lambda: C.apply_update(G82, q82, np.zeros(7, np.float32)),
        lambda: C.apply_update(G82, q82, np.zeros(41, np.float32)),
        lambda: C.apply_update(G82[:4], q82, np.zeros(6, np.float32)),
        lambda: C.clamp_local(pdm, q82[:-1]),
        lambda: C.params_from_bbox(pdm, [1, 2, 3]),
        lambda: C.params_from_bbox(pdm, [1, 2, 3, 4], q82[:2]),
        lambda: C.params_from_bbox(pdm, [1, 2, 3, 4], rot=[0, 0]),
        lambda: C.params_from_landmarks(pdm, np.ones(135, np.float32)),
        lambda: C.params_from_landmarks(pdm, np.ones(136, np.float32), rot=[0, 0, 0, 0]),
        lambda: C.euler_to_rotation([0.1, 0.2]),
        lambda: C.rotation_to_euler(np.eye(3)[:2]),
        lambda: C.bbox_of_shape(np.ones(5, np.float32)),
        lambda: C._cholesky_solve(np.eye(3, dtype=np.float32), np.ones(2, np.float32)),
        lambda: C._svd(np.eye(4)),
    ]
    for i, call in enumerate(bad_calls):
        with pytest.raises(ValueError):
            call()
            pytest.fail(f"bad call {i} did not raise")


def test_error_messages_name_the_argument(pdm, q82):
    with pytest.raises(ValueError, match=r"g must have shape \(6,\)"):
        C.shape2d(pdm, G82[:5], q82)
    with pytest.raises(ValueError, match=r"q must have shape \(34,\)"):
        C.jacobian(pdm, G82, q82[:3])
    with pytest.raises(ValueError, match=r"delta must have shape \(6,\) or \(6\+m,\)"):
        C.apply_update(G82, q82, np.zeros(7, np.float32))


def test_float64_inputs_are_cast(pdm, q82):
    np.testing.assert_array_equal(C.shape2d(pdm, G82.astype(np.float64), q82.astype(np.float64)),
                                  C.shape2d(pdm, G82, q82))
    assert C.shape2d(pdm, list(map(float, G82)), q82).dtype == np.float32
