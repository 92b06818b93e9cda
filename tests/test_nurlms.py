"""NU-RLMS stages on constructed response maps: the phases move the PDM where the maps say,
invisible landmarks are ignored, and the likelihoods follow spec 02 §2.8."""
from __future__ import annotations

import numpy as np
import pytest

from fastclnf import _core
from fastclnf.models.pdm import read_pdm

WS = 11
SIGMA = 1.5


@pytest.fixture(scope="module")
def pdm(model_dir):
    p = read_pdm(model_dir / "pdms" / "In-the-wild_aligned_PDM_68.txt")
    return _core.Pdm(p.mean, p.components, p.eigenvalues)


@pytest.fixture(scope="module")
def grid():
    return _core.kde_grid(WS, np.float32(-0.5 / SIGMA**2))


def peaked_maps(n, offsets, ws=WS, width=1.0):
    """Maps with a Gaussian bump at the window centre + offsets[i] (x, y)."""
    c = (ws - 1) / 2
    yy, xx = np.mgrid[0:ws, 0:ws]
    maps = np.empty((n, ws, ws), np.float32)
    for i, (ox, oy) in enumerate(offsets):
        maps[i] = np.exp(-((xx - c - ox) ** 2 + (yy - c - oy) ** 2) / (2 * width**2))
    return maps


def start(pdm):
    g = np.array([2.0, 0.0, 0.0, 0.0, 200.0, 220.0], np.float32)
    q = np.zeros(pdm.m, np.float32)
    return g, q, _core.shape2d(pdm, g, q)


def run_phase(pdm, grid, maps, visible, base, g, q, rigid, iterations=10, reg=25.0):
    n = pdm.n
    return _core.nurlms_phase(pdm, maps, visible, np.ones(n, np.float32), base,
                              np.eye(2, dtype=np.float32).ravel(), grid, WS, iterations, SIGMA,
                              reg, 0.0, rigid, g, q)


def test_rigid_phase_follows_a_translation(pdm, grid):
    g, q, base = start(pdm)
    n = pdm.n
    maps = peaked_maps(n, [(1.5, -1.0)] * n)
    out = run_phase(pdm, grid, maps, np.ones(n, np.int32), base, g, q, rigid=True)
    assert out["g"][4] - g[4] == pytest.approx(1.5, abs=0.05)
    assert out["g"][5] - g[5] == pytest.approx(-1.0, abs=0.05)
    assert out["g"][0] == pytest.approx(g[0], abs=1e-3)
    assert out["converged"] and out["updates"] >= 2
    np.testing.assert_array_equal(out["q"], q)  # rigid: shape untouched


def test_rigid_phase_follows_a_scaling(pdm, grid):
    g, q, base = start(pdm)
    n = pdm.n
    centre = np.array([base[:n].mean(), base[n:].mean()])
    # Every point pulled 2 % further from the centre: the scale should grow by ~2 %.
    offsets = [(0.02 * (base[i] - centre[0]), 0.02 * (base[i + n] - centre[1])) for i in range(n)]
    assert max(abs(o) for xy in offsets for o in xy) < 4  # stays inside the window
    out = run_phase(pdm, grid, peaked_maps(n, offsets), np.ones(n, np.int32), base, g, q, True)
    assert out["g"][0] / g[0] == pytest.approx(1.02, abs=0.004)


def test_invisible_landmarks_are_ignored(pdm, grid):
    g, q, base = start(pdm)
    n = pdm.n
    visible = np.ones(n, np.int32)
    visible[:17] = 0
    maps = peaked_maps(n, [(1.0, 0.5)] * n)
    ref = run_phase(pdm, grid, maps, visible, base, g, q, rigid=False)
    maps[:17] = np.nan  # never read
    out = run_phase(pdm, grid, maps, visible, base, g, q, rigid=False)
    np.testing.assert_array_equal(out["g"], ref["g"])
    np.testing.assert_array_equal(out["q"], ref["q"])
    assert np.all(np.isfinite(out["q"]))


def test_nonrigid_phase_regularisation_pulls_towards_mean(pdm, grid):
    g, q, base = start(pdm)
    n = pdm.n
    rng = np.random.default_rng(1)
    maps = peaked_maps(n, rng.uniform(-2, 2, size=(n, 2)))
    weak = run_phase(pdm, grid, maps, np.ones(n, np.int32), base, g, q, False, reg=1.0)
    strong = run_phase(pdm, grid, maps, np.ones(n, np.int32), base, g, q, False, reg=1e4)
    assert np.linalg.norm(strong["q"]) < 0.2 * np.linalg.norm(weak["q"])
    eig = np.asarray(pdm.eigenvalues)
    assert np.all(np.abs(weak["q"]) <= 3 * np.sqrt(eig) + 1e-4)  # clamped (spec 01 §3.5)


def test_likelihoods_match_formula():
    rng = np.random.default_rng(7)
    n, ws = 5, 9
    maps = rng.random((n, ws, ws), dtype=np.float32)
    visible = np.array([1, 1, 0, 1, 1], np.int32)
    dx = rng.uniform(-1, ws, n).astype(np.float32)
    dy = rng.uniform(-1, ws, n).astype(np.float32)
    total, per = _core.likelihoods(maps, visible, dx, dy, 1.75)
    yy, xx = np.mgrid[0:ws, 0:ws]
    expect = []
    for i in range(n):
        k = np.exp(-0.5 * ((dy[i] - yy) ** 2 + (dx[i] - xx) ** 2) / 1.75**2)
        expect.append(np.sum(maps[i] * k))
    expect = np.array(expect)
    np.testing.assert_allclose(per[visible == 1], expect[visible == 1], rtol=1e-5)
    assert per[2] == np.float32(-1e8)
    assert total == pytest.approx(np.mean(np.log(expect[visible == 1] + 1e-8)), rel=1e-5)


def test_bad_arguments(pdm, grid):
    g, q, base = start(pdm)
    with pytest.raises(ValueError, match="maps"):
        run_phase(pdm, grid, np.zeros((3, WS, WS), np.float32), np.ones(68, np.int32), base, g, q, True)
