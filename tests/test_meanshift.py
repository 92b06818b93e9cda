"""KDE grid and mean-shift (spec 02 §2.5) against a float32 numpy reimplementation."""
from __future__ import annotations

import numpy as np
import pytest

from fastclnf import _core

F32 = np.float32
STEP = F32(0.1)


def grid_reference(ws, a):
    """Spec 02 §2.5 table in float32 arithmetic (exp in double, rounded)."""
    G = int(F32(ws) / STEP)
    idx = np.arange(G, dtype=F32) * STEP                     # gx, gy (float products)
    r = np.arange(ws, dtype=F32)
    d2 = (idx[:, None] - r[None, :]) ** 2                    # (G, ws): (g - r)^2, float32
    # e[ix, iy, r, c] = (gy - r)^2 + (gx - c)^2; row ix*G + iy, column r*ws + c.
    e = d2[None, :, :, None] + d2[:, None, None, :]
    arg = (F32(a) * e).astype(F32)
    return np.exp(arg.astype(np.float64)).astype(F32).reshape(G * G, ws * ws)


def mean_shift_reference(maps, visible, dx, dy, ws, grid):
    """Scalar float32 loop in the core's order: clamp, round to the grid, row-major sums."""
    G = int(F32(ws) / STEP)
    n = maps.shape[0]
    mx, my = np.zeros(n, F32), np.zeros(n, F32)
    hi = F32(ws) - STEP
    for i in range(n):
        if not visible[i]:
            continue
        x = min(max(F32(dx[i]), F32(0)), hi)
        y = min(max(F32(dy[i]), F32(0)), hi)
        ix = int(float(F32(x / STEP)) + 0.5)
        iy = int(float(F32(y / STEP)) + 0.5)
        T = grid[ix * G + iy]
        S = Mx = My = F32(0)
        for r in range(ws):
            for c in range(ws):
                v = F32(maps[i, r, c] * T[r * ws + c])
                S = F32(S + v)
                Mx = F32(Mx + F32(v * F32(c)))
                My = F32(My + F32(v * F32(r)))
        mx[i] = F32(Mx / S) - x
        my[i] = F32(My / S) - y
    return mx, my


@pytest.mark.parametrize("ws", [3, 7, 9, 11, 15])
def test_kde_grid_values(ws):
    sigma = 1.5
    a = F32(-0.5 / sigma ** 2)
    T = _core.kde_grid(ws, a)
    G = 10 * ws
    assert T.shape == (G * G, ws * ws) and T.dtype == F32
    np.testing.assert_allclose(T, grid_reference(ws, a), rtol=2e-7, atol=0)
    # Closed form at a few points, in double.
    for ix, iy, r, c in [(0, 0, 0, 0), (G - 1, 0, 0, ws - 1), (5, 17 % G, ws // 2, 1),
                         (G // 2, G // 3, ws - 1, 0)]:
        gx, gy = ix * 0.1, iy * 0.1
        want = np.exp(a * ((gy - r) ** 2 + (gx - c) ** 2))
        assert T[ix * G + iy, r * ws + c] == pytest.approx(want, rel=2e-6)
    assert T[0, 0] == 1.0
    # Row layout: ix (x offset) is the major index.
    assert T[1 * G + 0, 0 * ws + 1] > T[0 * G + 1, 0 * ws + 1]


def random_maps(rng, n, ws):
    maps = rng.random((n, ws, ws)).astype(F32) ** 3
    return maps


@pytest.mark.parametrize("ws", [7, 11])
def test_mean_shift_matches_reference(ws):
    rng = np.random.default_rng(ws)
    n = 40
    grid = _core.kde_grid(ws, F32(-0.5 / 1.25 ** 2))
    maps = random_maps(rng, n, ws)
    dx = rng.uniform(-2, ws + 2, n).astype(F32)
    dy = rng.uniform(-2, ws + 2, n).astype(F32)
    # Clamping and rounding corner cases.
    special = [0.0, -0.0, -1e-7, ws - 0.1, ws - 0.05, float(ws), 3.05, 3.15, 0.05, 4.25, 1e9, -1e9]
    dx[:len(special)] = special
    dy[:len(special)] = special[::-1]
    visible = np.ones(n, np.int32)
    visible[[3, 17, 30]] = 0
    mx, my = _core.mean_shift(maps, visible, dx, dy, ws, grid)
    assert mx.dtype == F32 and mx.shape == (n,)
    wx, wy = mean_shift_reference(maps, visible, dx, dy, ws, grid)
    np.testing.assert_array_equal(mx, wx)
    np.testing.assert_array_equal(my, wy)
    assert np.all(mx[visible == 0] == 0) and np.all(my[visible == 0] == 0)


def test_mean_shift_delta_map_and_unrounded_subtraction():
    """A single-peak map pulls exactly onto the peak; the subtraction uses the clamped but
    unrounded position (spec 02 §2.5 quirk), the clamp bounds are [0, ws - 0.1]."""
    ws = 11
    grid = _core.kde_grid(ws, F32(-0.5))
    maps = np.zeros((4, ws, ws), F32)
    maps[:, 2, 7] = 1.0  # row 2, column 7
    dx = np.array([5.03, -3.0, 20.0, 6.96], F32)
    dy = np.array([4.99, 1.0, -1.0, 11.0], F32)
    mx, my = _core.mean_shift(maps, np.ones(4, bool), dx, dy, ws, grid)
    cx = np.clip(dx, 0, F32(ws) - F32(0.1))
    cy = np.clip(dy, 0, F32(ws) - F32(0.1))
    # (7 v) / v in float is 7 up to an ulp.
    np.testing.assert_allclose(mx, F32(7) - cx, rtol=0, atol=1e-6)
    np.testing.assert_allclose(my, F32(2) - cy, rtol=0, atol=1e-6)


def test_mean_shift_kernel_on_rounded_grid_point():
    """Two positions rounding to the same 0.1 grid point share the weighted mean."""
    ws = 9
    grid = _core.kde_grid(ws, F32(-0.3))
    rng = np.random.default_rng(0)
    m = random_maps(rng, 1, ws)
    maps = np.repeat(m, 2, axis=0)
    dx = np.array([4.21, 4.24], F32)
    dy = np.array([3.56, 3.64], F32)
    mx, my = _core.mean_shift(maps, np.array([1, 1]), dx, dy, ws, grid)
    np.testing.assert_allclose(mx + dx, (mx + dx)[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(my + dy, (my + dy)[0], rtol=0, atol=1e-6)


def test_mean_shift_validation():
    ws = 7
    grid = _core.kde_grid(ws, F32(-0.5))
    maps = np.zeros((3, ws, ws), F32)
    z = np.zeros(3, F32)
    with pytest.raises(ValueError, match="maps"):
        _core.mean_shift(maps[:, :6], np.ones(3), z, z, ws, grid)
    with pytest.raises(ValueError, match="visible"):
        _core.mean_shift(maps, np.ones(2), z, z, ws, grid)
    with pytest.raises(ValueError, match="dx"):
        _core.mean_shift(maps, np.ones(3), z[:2], z, ws, grid)
    with pytest.raises(ValueError, match="grid"):
        _core.mean_shift(maps, np.ones(3), z, z, ws, _core.kde_grid(9, F32(-0.5)))
