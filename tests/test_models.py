"""Model-file readers on the real OpenFace files (read from ../shared, never copied here).

Expected numbers come from spec 01 §1-2 and §4 (counts, shapes, values stated there).
"""
from __future__ import annotations

import dataclasses
import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from fastclnf import ModelNotFoundError
from fastclnf.models import cache as cache_mod
from fastclnf.models import loader
from fastclnf.models import (
    CCNFScale, CLNFModelData, PDM, find_model_file, load_model_data, read_ccnf, read_main_file, read_pdm,
)

GENERAL_SCALES = (0.25, 0.35, 0.5)
YAWS_7 = (0, -20, -45, -70, 70, 45, 20)


def _ranges(*spans):
    out = []
    for s in spans:
        out.extend(range(s[0], s[1] + 1) if isinstance(s, tuple) else [s])
    return out


# Spec 01 §4.3: invisible landmarks of the 68-point general/multi_pie files and of the inner model.
INVISIBLE_68 = {
    3: _ranges((9, 16), (21, 26), 32, 34, 35, 39, (42, 47), (52, 56), 60, 63, 64, 65),
    4: _ranges((0, 7), (17, 22), 31, 32, 34, (36, 42), 48, 49, 50, (58, 61), 64, 67),
}
INVISIBLE_INNER = {
    3: _ranges((4, 9), 15, 17, 18, 22, (25, 30), (35, 39), 43, 46, 47, 48),
    4: _ranges((0, 5), 14, 15, 17, (19, 25), 31, 32, 33, (41, 44), 47, 50),
}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never touch the user's cache (nor the repository) from tests."""
    monkeypatch.setenv(cache_mod.ENV_CACHE_DIR, str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def general(model_dir) -> CLNFModelData:
    return read_main_file(model_dir / "main_clnf_general.txt")


@pytest.fixture(scope="session")
def wild(model_dir) -> CLNFModelData:
    return read_main_file(model_dir / "main_clnf_wild.txt")


@pytest.fixture(scope="session")
def multi_pie(model_dir) -> CLNFModelData:
    return read_main_file(model_dir / "main_clnf_multi_pie.txt")


# -- helpers ---------------------------------------------------------------------------------

def assert_same(a, b, where="model"):
    """Deep equality of the model dataclasses: same types, same array dtypes/shapes/values."""
    assert type(a) is type(b), where
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.flags.c_contiguous and b.flags.c_contiguous, where
        assert np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def check_scale_contract(s: CCNFScale):
    """The dtype/shape contract of types.py, for one scale."""
    v, n = s.visibility.shape
    k = s.alpha.shape[2]
    b = s.betas.shape[2]
    h, w = s.patch_height, s.patch_width
    spec = {
        "view_centres": ((v, 3), np.float64), "visibility": ((v, n), np.int32),
        "n_neurons": ((v, n), np.int32), "neuron_type": ((v, n, k), np.int32),
        "norm_weights": ((v, n, k), np.float64), "bias": ((v, n, k), np.float64),
        "alpha": ((v, n, k), np.float64), "weights": ((v, n, k, h, w), np.float32),
        "betas": ((v, n, b), np.float64), "confidence": ((v, n), np.float64),
    }
    for name, (shape, dtype) in spec.items():
        a = getattr(s, name)
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous, name
    for ws, comps in s.sigma_components.items():
        assert isinstance(ws, int) and comps.dtype == np.float32 and comps.shape[1:] == (ws * ws, ws * ws)
    # Neurons beyond an expert's count are zero (types.py): alpha 0 contributes nothing.
    rank = np.arange(k)[None, None, :]
    beyond = rank >= s.n_neurons[:, :, None]
    assert not s.alpha[beyond].any() and not s.weights[beyond].any()
    assert isinstance(s.patch_scaling, float)


def expected_ccnf_bytes(s: CCNFScale) -> int:
    """File size from the parsed counts, by the byte-count formula of spec 01 §4.2."""
    v, n = s.visibility.shape
    b = s.betas.shape[2]
    size = 8 + 4 + v * 36 + v * (12 + 4 * n) + 4
    size += sum(8 + c.shape[0] * (12 + 4 * ws ** 4) for ws, c in s.sigma_components.items())
    k = s.n_neurons.astype(np.int64)
    hw = s.patch_height * s.patch_width
    nonempty = k > 0
    size += int(np.sum(16 + k[nonempty] * (4 + 4 + 24 + 12 + 4 * hw) + 8 * b + 8))
    size += 20 * int(np.sum(~nonempty))
    return size


def reference_read_ccnf(path):
    """Independent scalar parser (struct, one item at a time) of spec 01 §4, to check the
    vectorised reader against. Returns plain Python structures."""
    data = Path(path).read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    def matrix():
        rows, cols, code = take("iii")
        fmt = {4: "i", 5: "f", 6: "d"}[code]
        return np.array(take(f"{rows * cols}{fmt}")).reshape(rows, cols)

    (scaling,) = take("d")
    (nv,) = take("i")
    centres = [matrix()[:, 0] * math.pi / 180 for _ in range(nv)]
    vis = [matrix()[:, 0] for _ in range(nv)]
    n = len(vis[0])
    (nw,) = take("i")
    sigma = {}
    nb = None
    for _ in range(nw):
        ws, ns = take("ii")
        sigma[ws] = [matrix() for _ in range(ns)]
        nb = ns if nb is None else nb
    experts = {}
    for v in range(nv):
        for i in range(n):
            _tag, _w, _h, k = take("iiii")
            if k == 0:
                take("i")
                continue
            neurons = []
            for _ in range(k):
                _ntag, ntype, nw_, bias, alpha = take("iiddd")
                neurons.append((ntype, nw_, bias, alpha, matrix()))
            betas = take(f"{nb or 0}d")
            (conf,) = take("d")
            experts[v, i] = (neurons, betas, conf)
    assert pos == len(data)
    return scaling, centres, vis, sigma, experts


# -- PDM (spec 01 §2.2) ----------------------------------------------------------------------

PDM_TABLE = [
    # file, n, m, first eigenvalue, last eigenvalue
    ("pdms/In-the-wild_aligned_PDM_68.txt", 68, 34, 826.213804, 0.58266),
    ("pdms/Multi-PIE_aligned_PDM_68.txt", 68, 23, 795.358907, 0.909219),
    ("pdms/pdm_68_aligned_menpo.txt", 68, 30, 1260.970668, 8.423463),
    ("model_inner/pdms/pdm_51_inner.txt", 51, 32, 440.568563, 0.307398),
    ("model_eye/pdms/pdm_28_eye_3D_closed.txt", 28, 10, 111.570907, 0.4228),
    ("model_eye/pdms/pdm_28_l_eye_3D_closed.txt", 28, 10, 111.570907, 0.4228),
]


@pytest.mark.parametrize("rel,n,m,first,last", PDM_TABLE)
def test_pdm_shapes_and_eigenvalues(model_dir, rel, n, m, first, last):
    pdm = read_pdm(model_dir / rel)
    assert isinstance(pdm, PDM) and pdm.path == str(model_dir / rel)
    assert (pdm.n, pdm.m) == (n, m)
    assert pdm.mean.shape == (3 * n,) and pdm.components.shape == (3 * n, m) and pdm.eigenvalues.shape == (m,)
    for a in (pdm.mean, pdm.components, pdm.eigenvalues):
        assert a.dtype == np.float32 and a.flags.c_contiguous
    assert pdm.eigenvalues[0] == np.float32(first)
    assert pdm.eigenvalues[-1] == np.float32(last)
    v = pdm.components.astype(np.float64)
    assert np.abs(v.T @ v - np.eye(m)).max() < 1e-5  # orthonormal up to 6-decimal printing


def test_pdm_in_the_wild_values(general):
    pdm = general.pdm
    assert pdm.eigenvalues[1] == np.float32(695.783596)
    n = pdm.n
    x, y, z = pdm.mean[:n], pdm.mean[n:2 * n], pdm.mean[2 * n:]
    assert (x.min(), x.max()) == (np.float32(-73.393523), np.float32(71.375822))
    assert (y.min(), y.max()) == (np.float32(-62.777713), np.float32(77.061286))
    assert (z.min(), z.max()) == (np.float32(-36.94806), np.float32(47.667532))
    assert (x[0], y[0], z[0]) == (np.float32(-73.393523), np.float32(-29.801432), np.float32(47.667532))
    # spec 01 §8.1: landmarks 1-4 of the mean shape
    expected = [(-72.775014, -10.949766), (-70.533638, 7.929818), (-66.850058, 26.074280), (-59.790187, 42.564390)]
    assert np.allclose(np.stack([x[1:5], y[1:5]], 1), expected, atol=1e-5)


# -- CCNF (spec 01 §4) -----------------------------------------------------------------------

def test_general_scales(general):
    assert [s.patch_scaling for s in general.scales] == list(GENERAL_SCALES)
    for s in general.scales:
        check_scale_contract(s)
        assert (s.n_views, s.n) == (7, 68)
        assert np.allclose(np.degrees(s.view_centres[:, 1]), YAWS_7)
        assert not s.view_centres[:, [0, 2]].any()  # pitch = roll = 0 (some -0.0)
        assert s.visibility.sum(axis=1).tolist() == [68, 68, 68, 35, 35, 68, 68]
        assert np.array_equal(s.n_neurons == 0, s.visibility == 0)  # empty exactly where invisible
        assert int((s.n_neurons == 0).sum()) == 66
        assert set(np.unique(s.n_neurons).tolist()) == {0, 7}
        assert s.alpha.shape[2] == 7 and (s.patch_height, s.patch_width) == (11, 11)
        assert sorted(s.sigma_components) == [7, 9, 11, 15]
        for ws, comps in s.sigma_components.items():
            assert comps.shape == (3, ws * ws, ws * ws)
        assert s.betas.shape[2] == 3
        assert not s.neuron_type.any()  # all raw-intensity neurons


@pytest.mark.parametrize("which", ["general", "multi_pie"])
def test_invisible_landmarks_68(request, which):
    model = request.getfixturevalue(which)
    for s in model.scales:
        for view, expected in INVISIBLE_68.items():
            assert np.flatnonzero(s.visibility[view] == 0).tolist() == expected


def test_inner_model(general):
    inner = general.parts[0].model
    assert (inner.pdm.n, inner.pdm.m) == (51, 32)
    (s,) = inner.scales
    check_scale_contract(s)
    assert s.patch_scaling == 1.0 and (s.n_views, s.n) == (7, 51)
    assert s.visibility.sum(axis=1).tolist() == [51, 51, 51, 26, 26, 51, 51]
    assert int((s.n_neurons == 0).sum()) == 50
    for view, expected in INVISIBLE_INNER.items():
        assert np.flatnonzero(s.visibility[view] == 0).tolist() == expected


def test_byte_counts(model_dir, general, wild, multi_pie):
    """Spec 01 §4.2: the size formula over the parsed counts equals the file size, for every
    CCNF file of every model (so nothing was skipped or read twice)."""
    scales = [s for m in (general, wild, multi_pie) for s in m.scales]
    scales += [s for m in (general, wild) for p in m.parts for s in p.model.scales]
    for s in scales:
        assert expected_ccnf_bytes(s) == os.path.getsize(s.path), s.path
    first = general.scales[0]
    assert os.path.getsize(first.path) == 2_429_528
    v, n = first.visibility.shape
    header = 8 + 4 + v * 36 + v * (12 + 4 * n) + 4 + sum(8 + 3 * (12 + 4 * ws ** 4) for ws in (7, 9, 11, 15))
    assert header == 893_168


def test_facts_ccnf_0_25_general(general):
    """The facts listed at the end of spec 01 §4.3."""
    s = general.scales[0]
    assert s.path.endswith("ccnf_patches_0.25_general.txt")
    real = np.arange(7)[None, None, :] < s.n_neurons[:, :, None]
    assert int(s.n_neurons.sum()) == 2870 == int(real.sum())
    alpha = s.alpha[real]
    assert 7.2e-5 <= alpha.min() < 7.3e-5 and 16.03 < alpha.max() <= 16.04
    assert int((alpha <= 1e-4).sum()) == 4
    nw, bias = s.norm_weights[real], s.bias[real]
    assert 3.03 < nw.min() and nw.max() < 75.8
    assert -28.2 < bias.min() and bias.max() < -2.53
    live = s.n_neurons > 0
    betas = s.betas[live]
    for c, (lo, hi) in enumerate([(2.40, 4.90), (1.59, 3.05), (1.01, 2.21)]):
        assert lo - 0.01 <= betas[:, c].min() and betas[:, c].max() <= hi + 0.01
    conf = s.confidence[live]
    assert 0.164 < conf.min() and conf.max() < 0.723
    norms = np.linalg.norm(s.weights[real].reshape(-1, 121).astype(np.float64), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)
    # spec 01 §8.8: view 0, landmark 36
    assert s.alpha[0, 36].sum() == pytest.approx(76.465448, abs=5e-7)
    assert np.allclose(s.betas[0, 36], (3.731875, 2.290043, 1.507682), atol=5e-7)


def test_sigma_components_structure(general):
    for ws, comps in general.scales[0].sigma_components.items():
        assert np.array_equal(comps, np.transpose(comps, (0, 2, 1)))  # symmetric
        assert np.array_equal(comps, np.round(comps))  # integer-valued
        # invariant under transposing the ws x ws grid: index y*ws+x <-> x*ws+y
        perm = np.arange(ws * ws).reshape(ws, ws).T.reshape(-1)
        assert np.array_equal(comps, comps[:, perm][:, :, perm])


@pytest.mark.parametrize("rel", [
    "patch_experts/ccnf_patches_0.25_general.txt",
    "model_eye/patch_experts/left_ccnf_patches_1.00_synth_lid_.txt",
])
def test_vectorised_reader_matches_scalar_reference(model_dir, rel):
    s = read_ccnf(model_dir / rel)
    scaling, centres, vis, sigma, experts = reference_read_ccnf(model_dir / rel)
    assert s.patch_scaling == scaling
    assert np.array_equal(s.view_centres, np.array(centres))
    assert np.array_equal(s.visibility, np.array(vis))
    assert list(s.sigma_components) == list(sigma)
    for ws, mats in sigma.items():
        assert np.array_equal(s.sigma_components[ws], np.array(mats, dtype=np.float32).reshape(-1, ws * ws, ws * ws))
    assert int((s.n_neurons > 0).sum()) == len(experts)
    for (v, i), (neurons, betas, conf) in experts.items():
        k = len(neurons)
        assert s.n_neurons[v, i] == k
        assert s.neuron_type[v, i, :k].tolist() == [nr[0] for nr in neurons]
        assert s.norm_weights[v, i, :k].tolist() == [nr[1] for nr in neurons]
        assert s.bias[v, i, :k].tolist() == [nr[2] for nr in neurons]
        assert s.alpha[v, i, :k].tolist() == [nr[3] for nr in neurons]
        assert np.array_equal(s.weights[v, i, :k], np.array([nr[4] for nr in neurons], dtype=np.float32))
        assert s.betas[v, i].tolist() == list(betas) and s.confidence[v, i] == conf


# -- models and parts (spec 01 §1) -----------------------------------------------------------

def test_general_parts(model_dir, general):
    assert general.path == str(model_dir / "main_clnf_general.txt")
    assert general.module_path == str(model_dir / "clnf_general.txt")
    assert general.validator_path == str(model_dir / "detection_validation" / "validator_cnn.txt")
    assert general.extra["triangulations"] == str(model_dir / "tris_68.txt")
    assert general.extra["eye_model"] is True
    assert [p.name for p in general.parts] == ["inner", "left_eye_28", "right_eye_28"]

    inner, left, right = general.parts
    assert inner.mapping.dtype == np.int32 and inner.mapping.shape == (51, 2)
    assert inner.mapping[:, 0].tolist() == list(range(17, 68))
    assert inner.mapping[:, 1].tolist() == list(range(51))
    assert inner.settings.window_sizes == (9,)
    assert (inner.settings.sigma, inner.settings.reg_factor, inner.settings.weight_factor) == (1.75, 2.5, 2.5)
    assert inner.settings.iterations == 5
    eye_idx = [8, 10, 12, 14, 16, 18]
    assert left.mapping.tolist() == [[m, p] for m, p in zip(range(36, 42), eye_idx)]
    assert right.mapping.tolist() == [[m, p] for m, p in zip(range(42, 48), eye_idx)]
    for eye in (left, right):
        assert eye.settings.window_sizes == (3, 5, 9)
        assert (eye.settings.sigma, eye.settings.reg_factor, eye.settings.weight_factor) == (1.0, 0.5, 0.0)
    for part in general.parts:
        assert part.model.parts == () and part.model.validator_path is None


def test_part_settings_table():
    """Spec 01 §1.5 / spec 02 §1.5, including the names no shipped main file uses."""
    from fastclnf.models import part_settings
    table = {
        "inner": ((9,), 1.75, 2.5, 2.5),
        "left_eye_28": ((3, 5, 9), 1.0, 0.5, 0.0), "right_eye_28": ((3, 5, 9), 1.0, 0.5, 0.0),
        "left_eye": ((5, 3), 2.0, 0.1, 0.0), "right_eye": ((5, 3), 2.0, 0.1, 0.0),
        "mouth": ((7, 7), 2.0, 1.0, 0.0), "brow": ((11, 9), 3.5, 10.0, 0.0),
        # unknown name: default parameters with the CE-CLM adjustment (sigma 1.5*1.5, reg 25*0.9)
        "something_else": ((11, 9, 7, 5), 2.25, 22.5, 0.0),
    }
    for name, (windows, sigma, reg, weight) in table.items():
        st = part_settings(name)
        assert (st.window_sizes, st.sigma, st.reg_factor, st.weight_factor, st.iterations) == \
            (windows, sigma, reg, weight, 5), name


def test_eye_models(general):
    left, right = general.parts[1].model, general.parts[2].model
    assert left.pdm.path.endswith("pdm_28_l_eye_3D_closed.txt")
    assert right.pdm.path.endswith("pdm_28_eye_3D_closed.txt")
    assert np.array_equal(left.pdm.eigenvalues, right.pdm.eigenvalues)
    for eye, windows in ((left, [3, 5, 7, 9, 11, 15]), (right, [7, 9, 11, 15])):
        assert [s.patch_scaling for s in eye.scales] == [1.0, 1.5]
        for s in eye.scales:
            check_scale_contract(s)
            assert (s.n_views, s.n) == (1, 28) and s.visibility.all() and (s.n_neurons == 7).all()
            assert s.betas.shape == (1, 28, 0)  # N_s = 0: no betas stored (spec 01 §4.3)
            assert sorted(s.sigma_components) == windows
            assert all(c.shape[0] == 0 for c in s.sigma_components.values())


def test_wild_model(wild):
    assert [s.patch_scaling for s in wild.scales] == [0.25, 0.35, 0.5, 1.0]
    assert [p.name for p in wild.parts] == ["left_eye_28", "right_eye_28"]
    assert wild.pdm.m == 34
    for s in wild.scales:
        check_scale_contract(s)
        assert (s.n_views, s.n) == (3, 68)
        assert np.allclose(np.degrees(s.view_centres[:, 1]), (0, -20, 20))
        assert s.visibility.all() and (s.n_neurons == 7).all()


def test_multi_pie_model(multi_pie, general):
    assert (multi_pie.pdm.n, multi_pie.pdm.m) == (68, 23)
    assert [s.patch_scaling for s in multi_pie.scales] == list(GENERAL_SCALES)
    assert [p.name for p in multi_pie.parts] == ["left_eye_28", "right_eye_28"]
    for mp, gen in zip(multi_pie.scales, general.scales):
        check_scale_contract(mp)
        assert os.path.getsize(mp.path) == os.path.getsize(gen.path)
        assert mp.alpha.shape == gen.alpha.shape and not np.array_equal(mp.alpha, gen.alpha)


# -- finding the model -----------------------------------------------------------------------

def test_find_model_file_forms(model_dir, tmp_path, monkeypatch):
    monkeypatch.delenv(loader.ENV_MODEL_DIR, raising=False)
    main = model_dir / "main_clnf_general.txt"
    assert find_model_file(model_dir) == main
    assert find_model_file(str(model_dir / "main_clnf_wild.txt")) == model_dir / "main_clnf_wild.txt"
    monkeypatch.setenv(loader.ENV_MODEL_DIR, str(model_dir))
    assert find_model_file() == main
    # The repository-relative default finds ../shared from any working directory.
    monkeypatch.delenv(loader.ENV_MODEL_DIR)
    monkeypatch.chdir(tmp_path)
    if (loader._REPO_ROOT.parent / "shared" / "openface" / "model").resolve() == model_dir.resolve():
        assert find_model_file().resolve() == main.resolve()


def test_model_not_found_lists_places(tmp_path, monkeypatch):
    monkeypatch.delenv(loader.ENV_MODEL_DIR, raising=False)
    monkeypatch.chdir(tmp_path)
    nowhere = [tmp_path / "a" / "model", tmp_path / "b" / "model"]
    monkeypatch.setattr(loader, "default_model_dirs", lambda: nowhere)
    with pytest.raises(ModelNotFoundError) as e:
        find_model_file()
    msg = str(e.value)
    for d in nowhere:
        assert str(d / "main_clnf_general.txt") in msg
    assert loader.ENV_MODEL_DIR in msg and "lib/local/LandmarkDetector/model" in msg

    # An explicit path that does not exist is an error even if a default would be found.
    with pytest.raises(ModelNotFoundError) as e:
        load_model_data(tmp_path / "no_such_dir")
    assert str(tmp_path / "no_such_dir") in str(e.value)
    monkeypatch.setenv(loader.ENV_MODEL_DIR, str(tmp_path / "env_dir"))
    with pytest.raises(ModelNotFoundError) as e:
        find_model_file()
    assert "env_dir" in str(e.value) and loader.ENV_MODEL_DIR in str(e.value)


def test_default_dirs_documented_order(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    dirs = loader.default_model_dirs()
    assert dirs[0] == tmp_path / "xdg" / "fastclnf" / "model"
    assert dirs[1] == tmp_path / "model"
    assert dirs[2] == tmp_path.parent / "shared" / "openface" / "model"
    assert dirs[3] == loader._REPO_ROOT.parent / "shared" / "openface" / "model"


# -- the derived cache -----------------------------------------------------------------------

def _count_parses(monkeypatch):
    calls = []
    real = loader.read_main_file

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(loader, "read_main_file", counting)
    return calls


def test_cache_round_trip(model_dir, general, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    calls = _count_parses(monkeypatch)
    first = load_model_data(model_dir)
    assert len(calls) == 1
    files = list(cache_dir.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # exactly one file, no temporaries left
    assert_same(first, general)

    second = load_model_data(model_dir)
    assert len(calls) == 1  # served from the cache, not parsed
    assert_same(second, first)
    assert second.scales[0].weights is not first.scales[0].weights

    # Corrupt the cache file: it is ignored, the model re-parsed and the cache rewritten.
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 2])
    third = load_model_data(model_dir)
    assert len(calls) == 2
    assert_same(third, first)
    assert files[0].stat().st_size == len(data)
    files[0].write_bytes(b"not a zip file at all")
    assert_same(load_model_data(model_dir), first)
    assert len(calls) == 3
    assert list(cache_dir.iterdir()) == files


def test_cache_invalidated_when_a_source_changes(model_dir, tmp_path, monkeypatch):
    import shutil
    eye = tmp_path / "model_eye"
    shutil.copytree(model_dir / "model_eye", eye)
    main = eye / "main_clnf_synth_left.txt"
    calls = _count_parses(monkeypatch)
    before = load_model_data(main)
    load_model_data(main)
    assert len(calls) == 1
    pdm_file = eye / "pdms" / "pdm_28_l_eye_3D_closed.txt"
    text = pdm_file.read_text()
    pdm_file.chmod(0o644)  # the shared originals are read-only; copytree keeps the mode
    pdm_file.write_text(text.replace("111.570907", "211.570907", 1))
    after = load_model_data(main)
    assert len(calls) == 2
    assert after.pdm.eigenvalues[0] == np.float32(211.570907) != before.pdm.eigenvalues[0]
    assert len(list((tmp_path / "cache").iterdir())) == 1  # one file per model, overwritten


def test_cache_ignored_when_reader_code_changes(model_dir, monkeypatch):
    main = model_dir / "model_eye" / "main_clnf_synth_right.txt"
    calls = _count_parses(monkeypatch)
    load_model_data(main)
    monkeypatch.setattr(cache_mod, "_reader_hash", lambda: "other reader code")
    load_model_data(main)
    assert len(calls) == 2


def test_no_cache_when_disabled(model_dir, tmp_path):
    load_model_data(model_dir / "model_eye" / "main_clnf_synth_right.txt", use_cache=False)
    assert not (tmp_path / "cache").exists()


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv(cache_mod.ENV_CACHE_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_mod.cache_dir() == tmp_path / "xdg" / "fastclnf"
    monkeypatch.setenv(cache_mod.ENV_CACHE_DIR, str(tmp_path / "elsewhere"))
    assert cache_mod.cache_dir() == tmp_path / "elsewhere"
