"""SIMD kernels against the scalar reference code (cpp/kernels.hpp).

Every kernel repeats the reference's float operations in the same order, so the tolerance is
zero — fast and reference results must be bit-identical at every SIMD level this CPU runs, on
random AOIs and on the real faces — with one stated exception: on the FMA levels (avx2, avx512)
the CCNF response kernels use fused multiply-adds (one rounding per multiply-add instead of two)
in the neuron dot products, the sigmoid's exp polynomial and the Sigma product, a Newton-refined
reciprocal (~1 ulp) for the sigmoid's division, and a rearranged normalisation: the patch mean and
norm from exact box sums, applied once per neuron (z = b + inv (sum M x' - mean' sum M), x' the
AOI minus a per-column constant) instead of to every pixel. The generic level stays
bit-identical.

Tolerance for the FMA levels, and why:
* Response maps: |fast - reference| <= RESP_RTOL * max |reference| per map stage. A neuron input
  z = bias + sum of up to 121 products is a float sum whose every step the FMA rounds once
  instead of twice, i.e. z moves by a few float ulps of its partial sums; the reference also
  rounds its patch statistics and every normalised pixel, which the FMA levels do not (their
  statistics are exact on 8-bit AOIs). Through the sigmoid (slope <= alpha/2) and Sigma that is
  ~1e-6 of the map: against a double evaluation of the same maps the reference is 1.3e-6
  (median over 1224 expert maps of six reference faces) off, the FMA levels 1.0e-6; against each
  other 1.4e-6 median, 4.7e-6 worst (real faces, every model and scale), 2.4e-6 worst over
  random, constant, zero-norm and 1e4-scale AOIs at every window size. RESP_RTOL = 1e-5 still
  catches any real bug (a wrong pixel or neuron moves the map by 1e-2 or more).
* Whole fits: NU-RLMS stops on a fixed threshold and the mean-shift is sharp, so differences at
  the 1e-6 level of the maps come out as up to a few hundredths of a pixel in the landmarks
  (over all 343 reference faces: median of the per-face max ~0.04 px, on the 12 test faces
  0.03 px, worst 0.38 px; the 12-face median is a noisy statistic of that). That is the
  size of the float noise between OpenFace's own BLAS arithmetic and the spec's order: parity
  with OpenFace over the 343 reference faces is what counts (benchmarks/parity.py: median
  0.0044 px, p95 0.034 px on the FMA levels; 0.0039 / 0.031 with the per-pixel normalisation,
  0.0042 / 0.032 without FMA). The fit tolerance: per-face max
  landmark difference <= 0.5 px, median over faces <= 0.05 px (the parity gates).

Also: the C++ schedule against the Python one, 8-bit against float images, lazily built Sigma
sets on several threads, fit_batch.
"""
from __future__ import annotations

import math
import threading

import cv2
import numpy as np
import pytest

import fastclnf
from fastclnf import _core
from fastclnf import fit as F
from fastclnf.image import to_gray

from conftest import DATA_DIR

F32 = np.float32
LEVELS = _core.simd_levels()
FMA_LEVELS = {"avx2", "avx512"}  # response kernels with fused multiply-adds (see above)
RESP_RTOL = 1e-5
FIT_MAX_PX, FIT_MEDIAN_PX = 0.5, 0.05


def assert_response_close(got, ref, isa, msg=""):
    """Bit-identical on the generic level, within RESP_RTOL of the map maximum on FMA levels."""
    if isa not in FMA_LEVELS:
        np.testing.assert_array_equal(got, ref, err_msg=msg)
        return
    assert got.shape == ref.shape and np.isfinite(got).all(), msg
    scale = max(float(np.abs(ref).max()), 1e-30)
    err = float(np.abs(got.astype(np.float64) - ref).max())
    assert err <= RESP_RTOL * scale, f"{msg}: |fast - reference| {err:.3g} > {RESP_RTOL} * {scale:.3g}"


@pytest.fixture(scope="module")
def model(model_dir):
    return fastclnf.load_model(model_dir)


@pytest.fixture(scope="module")
def faces(reference_faces):
    # Frontal and profile views, small faces (parts not fitted) and large ones.
    return reference_faces[::29]


def gray_of(face):
    return to_gray(cv2.imread(str(DATA_DIR / face["image"]), cv2.IMREAD_COLOR))


def flat(points):
    p = np.asarray(points, F32)
    return np.concatenate([p[:, 0], p[:, 1]])


def all_models(core):
    """(name, CoreModel, windows by scale) of the main model and every part."""
    yield "main", core, (11, 9, 7)
    for name, part, _, ps in core.parts:
        yield name, part, ps.window_sizes


def test_levels():
    assert LEVELS[0] == "generic" and _core.simd_level() in LEVELS
    with pytest.raises(ValueError):
        _core._exp(np.zeros(3), isa="sse9")


# --------------------------------------------------------------------------------------------
# Response maps

def test_responses_bit_identical_on_real_faces(model, faces):
    """Every scale of every model, at the landmarks of the fit, on 8-bit and float images."""
    core = model._core
    checked = 0
    for face in faces[:6]:
        img = gray_of(face)
        imgf = img.astype(F32)
        r = model.fit(img, face["bbox"])
        for name, cm, windows in all_models(core):
            lm = flat(r.landmarks) if name == "main" else np.asarray(r.parts[name]["landmarks"], F32)
            for k, ws in enumerate(windows):
                if not ws or k >= len(cm.scales):
                    continue
                sig = cm.sigmas(k, ws)
                view = _core.view_index(cm.scales[k], *r.params_global[1:4].astype(F32))
                ref = _core.responses(imgf, cm.scales[k], sig, view, ws, lm, 0.93, 0.04,
                                      impl="reference")
                assert np.isfinite(ref).all() and ref.max() > 0
                for isa in LEVELS:
                    for im in (img, imgf):
                        got = _core.responses(im, cm.scales[k], sig, view, ws, lm, 0.93, 0.04,
                                              isa=isa)
                        assert_response_close(got, ref, isa, f"{name} ws {ws} {isa}")
                checked += 1
    assert checked >= 6 * 4


@pytest.mark.parametrize("ws", [3, 5, 7, 9, 11, 15])
def test_expert_response_bit_identical_on_random_aois(model, ws):
    core = model._core
    scale = core.scales[0]
    sig = _core.build_sigmas(scale, ws, view=0)
    rng = np.random.default_rng(ws)
    W = ws + 10
    for trial, i in enumerate((0, 17, 36, 48, 67)):
        aoi = (rng.random((W, W)) * 255).astype(F32)
        if trial == 1:
            aoi[:, :12] = 77  # constant patches: norm 0 -> 1
        if trial == 2:
            aoi[:] = 5  # every patch constant: z = bias
        if trial == 3:
            aoi = (rng.standard_normal((W, W)) * 1e4).astype(F32)  # large activations
        for stage in ("raw", "final"):
            for sigmas in (sig, None):
                ref = _core.expert_response(scale, 0, i, aoi, ws, sigmas, stage=stage,
                                            impl="reference")
                for isa in LEVELS:
                    got = _core.expert_response(scale, 0, i, aoi, ws, sigmas, stage=stage,
                                                isa=isa)
                    assert_response_close(got, ref, isa, f"{stage} {isa} i={i}")


def test_responses_with_shared_sigmas_same_bits_as_single_experts(model, faces):
    """Experts with equal alpha sums and betas share one stored Sigma and are computed in pairs
    (one pass over Sigma for two maps): the same bits as each expert on its own."""
    core = model._core
    face = faces[0]
    img = gray_of(face).astype(F32)
    r = model.fit(gray_of(face), face["bbox"])
    lm = flat(r.landmarks)
    a, b = 0.93, 0.04
    for k, ws in enumerate((11, 9, 7)):
        scale = core.scales[k]
        sig = _core.build_sigmas(scale, ws, view=0)
        mats = [sig.sigma(0, i) for i in range(scale.n)]
        shared = sum(any(np.array_equal(mats[i], mats[j]) for j in range(i)) for i in range(scale.n))
        assert shared >= 20  # mirrored landmarks: 29 of 68
        W = ws + scale.patch_width - 1
        for isa in LEVELS:
            maps = _core.responses(img, scale, sig, 0, ws, lm, a, b, isa=isa)
            for i in range(scale.n):
                aoi = _core.warp_aoi(img, lm[i], lm[i + scale.n], a, b, W)
                one = _core.expert_response(scale, 0, i, aoi, ws, sig, isa=isa)
                np.testing.assert_array_equal(maps[i], one, err_msg=f"ws {ws} {isa} landmark {i}")


def test_responses_at_the_image_border(model):
    """AOIs that leave the image take the reference sampler inside the kernel: same maps."""
    core = model._core
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (120, 160), dtype=np.uint8)
    g, q = F.initial_params(core, (-30.0, -20.0, 110.0, 100.0))  # face partly outside
    lm = _core.shape2d(core.pdm, g, q)
    sig = core.sigmas(0, 11)
    ref = _core.responses(img, core.scales[0], sig, 0, 11, lm, 1.2, -0.1, impl="reference")
    for isa in LEVELS:
        for im in (img, img.astype(F32)):
            got = _core.responses(im, core.scales[0], sig, 0, 11, lm, 1.2, -0.1, isa=isa)
            assert_response_close(got, ref, isa, isa)
    # Entirely outside: all-zero AOIs give the maps of constant patches.
    far = lm + 1e4
    ref = _core.responses(img, core.scales[0], sig, 0, 11, far, 1.0, 0.0, impl="reference")
    for isa in LEVELS:
        assert_response_close(
            _core.responses(img, core.scales[0], sig, 0, 11, far, 1.0, 0.0, isa=isa), ref, isa, isa)


# --------------------------------------------------------------------------------------------
# Whole fits

def test_fit_fast_equals_reference(model, faces):
    """Responses, mean-shift, normal equations, Cholesky, likelihoods: the whole schedule.
    Bit-identical on the generic level; within the fit tolerance (module docstring) on FMA
    levels."""
    core = model._core
    sched = core.schedule(fastclnf.presets.IMAGE)
    worst = {isa: [] for isa in LEVELS if isa in FMA_LEVELS}
    for face in faces:
        img = gray_of(face)
        g, q = F.initial_params(core, face["bbox"])
        ref = _core.detect_landmarks(img, sched, g, q, impl="reference")
        for isa in LEVELS:
            got = _core.detect_landmarks(img, sched, g, q, isa=isa)
            assert len(got["parts"]) == len(ref["parts"])
            if isa in FMA_LEVELS:
                d = [np.abs(np.asarray(got["landmarks"]) - ref["landmarks"]).max()]
                for pg, pr in zip(got["parts"], ref["parts"]):
                    assert (pg is None) == (pr is None), f"{isa}: a part deferred on one path only"
                    if pr is not None:
                        d.append(np.abs(np.asarray(pg["landmarks"]) - pr["landmarks"]).max())
                assert max(d) <= FIT_MAX_PX, f"{isa}: landmarks {max(d):.3f} px from the reference"
                worst[isa].append(max(d))
                continue
            for key in ("g", "q", "landmarks", "landmark_likelihoods"):
                np.testing.assert_array_equal(got[key], ref[key], err_msg=f"{key} {isa}")
            assert got["likelihood"] == ref["likelihood"]
            for pg, pr in zip(got["parts"], ref["parts"]):
                if pr is None:  # deferred (no part fitted): nothing computed on either path
                    assert pg is None
                    continue
                np.testing.assert_array_equal(pg["landmarks"], pr["landmarks"])
    for isa, d in worst.items():
        assert np.median(d) <= FIT_MEDIAN_PX, f"{isa}: median {np.median(d):.3f} px from the reference"


@pytest.mark.parametrize("preset", ["image", "wild"])
def test_cpp_schedule_equals_python_schedule(model, faces, preset):
    core = model._core
    settings = fastclnf.presets.resolve(preset)
    for face in faces[: (6 if preset == "image" else 2)]:
        img = gray_of(face)
        g, q = F.initial_params(core, face["bbox"], (0.0, 0.5236, 0.0))
        a = F.detect_landmarks(core, img, g, q, settings)
        b = F.detect_landmarks_python(core, img, g, q, settings)
        for key in ("g", "q", "landmarks", "landmark_likelihoods"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
        assert (a.likelihood, a.iterations, a.view, a.converged, a.fit_success, a.message) == \
               (b.likelihood, b.iterations, b.view, b.converged, b.fit_success, b.message)
        assert a.parts.keys() == b.parts.keys()
        for name in a.parts:
            assert a.parts[name]["fitted"] == b.parts[name]["fitted"]
            assert a.parts[name]["likelihood"] == b.parts[name]["likelihood"]
            for key in ("g", "q", "landmarks"):
                np.testing.assert_array_equal(a.parts[name][key], b.parts[name][key])


def test_unfitted_parts_are_deferred_but_identical(model, faces):
    """Below the parts' scale threshold the C++ schedule skips every part's PDM fit to the
    mapped points; the Result computes it on access, equal to the Python schedule's."""
    core = model._core
    small = [f for f in faces if f["params_global"][0] < 0.85][:3]
    assert small, "no small face in the test set"
    for face in small:
        img = gray_of(face)
        g, q = F.initial_params(core, face["bbox"])
        raw = _core.detect_landmarks(img, core.schedule(fastclnf.presets.IMAGE), g, q)
        names = [name for name, _, _, _ in core.parts]
        assert all(p is None for p in raw["parts"]) and set(F.EYE_PARTS) <= set(names)
        a = F.detect_landmarks(core, img, g, q, fastclnf.presets.IMAGE)
        b = F.detect_landmarks_python(core, img, g, q, fastclnf.presets.IMAGE)
        for name in names:
            assert dict(a.parts[name]).keys() == b.parts[name].keys()
            for key in ("g", "q", "landmarks"):
                np.testing.assert_array_equal(a.parts[name][key], b.parts[name][key])
            assert not a.parts[name]["fitted"] and a.parts[name]["likelihood"] is None
        # Result.eye_landmarks: not computed by the fit, the same values on first access.
        r = model.fit(img, face["bbox"])
        assert "eye_landmarks" not in r.__dict__
        want = np.concatenate([b.parts[n]["landmarks"].reshape(2, -1).T for n in F.EYE_PARTS])
        np.testing.assert_array_equal(r.eye_landmarks, want)
        assert r.eye_landmarks is r.eye_landmarks and r.eye_landmarks.shape == (56, 2)


@pytest.mark.parametrize("size", [12.0, 30.0])
def test_too_small_face_same_outcome(model, size):
    """The schedule stops where the PDM scale drops below 0.25; the likelihood kept is that
    scale's (the C++ schedule computes it only there or at the last scale)."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (200, 200), dtype=np.uint8)
    core = model._core
    g, q = F.initial_params(core, (90.0, 90.0, size, size))
    a = F.detect_landmarks(core, img, g, q, fastclnf.presets.IMAGE)
    b = F.detect_landmarks_python(core, img, g, q, fastclnf.presets.IMAGE)
    assert (a.fit_success, a.message, a.likelihood, a.iterations) == \
           (b.fit_success, b.message, b.likelihood, b.iterations)
    np.testing.assert_array_equal(a.landmark_likelihoods, b.landmark_likelihoods)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)


# --------------------------------------------------------------------------------------------
# Linear algebra and exponentials

@pytest.mark.parametrize("n", [1, 2, 6, 11, 12, 13, 16, 23, 24, 31, 38, 40, 64])
def test_cholesky_kernel_bit_identical(n):
    rng = np.random.default_rng(n)
    for trial in range(6):
        A = rng.standard_normal((n + 3, n)).astype(F32)
        H = (A.T @ A).astype(F32)
        if trial == 1:
            H += np.diag(rng.uniform(0, 1e3, n)).astype(F32)  # badly scaled
        if trial == 2 and n > 1:
            H[n - 1, n - 1] = -1.0  # not positive definite: zero solution
        if trial == 3:
            H[:] = np.tril(H) + np.triu(rng.standard_normal((n, n)).astype(F32), 1)  # upper ignored
        b = rng.standard_normal(n).astype(F32)
        x_ref, ok_ref = _core._cholesky_solve(H, b)
        for isa in LEVELS:
            x, ok = _core._cholesky_solve(H, b, impl="fast", isa=isa)
            assert ok == ok_ref
            np.testing.assert_array_equal(x, x_ref)
        if trial == 2 and n > 1:
            assert not ok_ref and not x_ref.any()


@pytest.mark.parametrize("ws", [3, 5, 7, 9, 11, 13, 15])
def test_mean_shift_kernel_bit_identical(ws):
    """The mean-shift kernel (AVX-512: kernel rows transposed in registers, 16 or 32 landmarks
    at a time, gathers for a remainder of up to 8) equals the scalar reference for every landmark
    count around the block sizes, invisible landmarks, clamping corner cases and NaN."""
    rng = np.random.default_rng(ws)
    grid = _core.kde_grid(ws, F32(-0.5 / 1.5 ** 2))
    for n in [1, 7, 8, 9, 16, 17, 24, 25, 28, 33, 51, 68, 70]:
        maps = (rng.random((n, ws, ws)).astype(F32) ** 3)
        dx = rng.uniform(-1, ws + 1, n).astype(F32)
        dy = rng.uniform(-1, ws + 1, n).astype(F32)
        special = [0.0, ws - 0.1, float(ws), 3.05, 0.05, np.nan, -1e9][: n]
        dx[: len(special)] = special
        dy[: len(special)] = special[::-1]
        visible = (rng.random(n) > 0.2).astype(np.int32)
        want = _core.mean_shift(maps, visible, dx, dy, ws, grid)
        for isa in LEVELS:
            got = _core.mean_shift(maps, visible, dx, dy, ws, grid, impl="fast", isa=isa)
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w, err_msg=f"n={n} isa={isa}")


def _normal_equations_reference(Jw, J, mu):
    """nurlms.cpp's scalar loops: float sums over rows in order, zero weights skipped."""
    rows, P = J.shape
    H = np.zeros((P, P), F32)
    b = np.zeros(P, F32)
    for r in range(rows):
        for a in range(P):
            v = Jw[r, a]
            if v == 0:
                continue
            b[a] = F32(b[a] + F32(v * mu[r]))
            H[a, : a + 1] = (H[a, : a + 1] + (v * J[r, : a + 1]).astype(F32)).astype(F32)
    return H, b


@pytest.mark.parametrize("P", [6, 10, 16, 17, 38, 40, 52])
def test_normal_equations_kernel_bit_identical(P):
    """Every level equals the scalar loops, with structural zeros (translation columns, invisible
    rows), and with non-finite J entries behind zero weights (the kernel then keeps the
    per-weight test: a zero weight must never let an inf/NaN through)."""
    rng = np.random.default_rng(P)
    rows = 2 * 23
    for trial in range(3):
        J = rng.standard_normal((rows, P)).astype(F32)
        J[: rows // 2, 5 % P] = 0
        J[rows // 2:, 4 % P] = 0
        J[[3, 3 + rows // 2]] = 0  # an invisible landmark
        Jw = J.copy() if trial == 0 else (J * rng.uniform(0, 2, (rows, 1))).astype(F32)
        if trial == 2:
            J[1, 5 % P] = np.inf      # behind a zero weight
            J[rows // 2 + 2, 4 % P] = np.nan
            Jw[1, 5 % P] = 0
            Jw[rows // 2 + 2, 4 % P] = 0
        mu = rng.standard_normal(rows).astype(F32)
        want_H, want_b = _normal_equations_reference(Jw, J, mu)
        for isa in LEVELS:
            H, b = _core._normal_equations(Jw, J, mu, isa=isa)
            np.testing.assert_array_equal(H, want_H, err_msg=f"P={P} trial={trial} {isa}")
            np.testing.assert_array_equal(b, want_b, err_msg=f"P={P} trial={trial} {isa}")


def test_pdm_jacobian_same_bits_at_every_level(tmp_path):
    """The Jacobian's mode columns (jacobian_modes kernel; AVX-512 does the last modes as one
    masked vector) are the same floats at every SIMD level, for all four PDMs (m = 34, 32, 10)."""
    import os
    import subprocess
    import sys
    code = (
        "import sys, numpy as np, fastclnf\n"
        "from fastclnf import _core as C\n"
        "m = fastclnf.load_model()\n"
        "rng = np.random.default_rng(0)\n"
        "out = []\n"
        "for pdm in [m._core.pdm] + [p[1].pdm for p in m._core.parts]:\n"
        "    for t in range(3):\n"
        "        g = np.array([rng.uniform(0.5, 3), *rng.uniform(-0.5, 0.5, 3), *rng.uniform(0, 300, 2)], np.float32)\n"
        "        q = (rng.standard_normal(pdm.m) * 3).astype(np.float32)\n"
        "        out.append(C.jacobian(pdm, g, q).ravel())\n"
        "np.save(sys.argv[1], np.concatenate(out))\n"
    )
    got = {}
    for isa in LEVELS:
        path = tmp_path / f"{isa}.npy"
        here = os.path.dirname(os.path.dirname(os.path.abspath(fastclnf.__file__)))
        env = dict(os.environ, FASTCLNF_SIMD=isa,
                   PYTHONPATH=os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
        subprocess.run([sys.executable, "-c", code, str(path)], env=env, check=True)
        got[isa] = np.load(path)
    for isa in LEVELS:
        np.testing.assert_array_equal(got[isa], got["generic"], err_msg=isa)


def test_float_exp_within_one_ulp_and_clamped():
    x = np.linspace(-87, 88, 200001).astype(F32)
    got = _core._expf(x).astype(np.float64)
    true = np.exp(x.astype(np.float64))
    assert (np.abs(got - true) / np.spacing(true.astype(F32)).astype(np.float64)).max() <= 1.0
    edge = _core._expf(np.array([-1e30, -100, 100, 1e30, np.nan], F32))
    assert edge[0] == edge[1] == _core._expf(np.array([-87], F32))[0]
    assert edge[2] == edge[3] == _core._expf(np.array([88], F32))[0]
    assert np.isnan(edge[4])


def test_double_exp_within_one_ulp_of_libm():
    x = np.linspace(-700, 700, 100001)
    want = np.array([math.exp(v) for v in x])
    for isa in LEVELS:
        got = _core._exp(x, isa=isa)
        assert (np.abs(got - want) / np.spacing(want)).max() <= 1.0
    assert _core._exp(np.array([710.0]))[0] == math.inf
    assert _core._exp(np.array([-750.0]))[0] == 0.0


# --------------------------------------------------------------------------------------------
# Lazy Sigma sets and threads

def test_lazy_sigma_set_built_once_per_view_across_threads(model):
    scale = model._core.scales[1]
    lazy = _core.build_sigmas(scale, 9, lazy=True)
    assert lazy.lazy and not any(lazy.view_built(v) for v in range(scale.n_views))
    assert lazy.sigma(2, 5) is None
    threads = [threading.Thread(target=lazy.ensure_view, args=(2,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lazy.view_built(2) and not lazy.view_built(0)
    want = _core.build_sigmas(scale, 9, view=2)
    for i in (0, 5, 67):
        np.testing.assert_array_equal(lazy.sigma(2, i), want.sigma(2, i))
    with pytest.raises(ValueError):
        want.ensure_view(0)  # not lazy, view 0 not built
    with pytest.raises(ValueError):
        lazy.ensure_view(99)


def test_fit_batch_matches_fit(model, faces):
    images = [gray_of(f) for f in faces[:6]]
    boxes = [f["bbox"] for f in faces[:6]]
    want = [model.fit(im, b) for im, b in zip(images, boxes)]
    for threads in (1, 2, 3, None):
        got = model.fit_batch(images, boxes, threads=threads)
        for w, g in zip(want, got):
            np.testing.assert_array_equal(w.landmarks, g.landmarks)
            np.testing.assert_array_equal(w.eye_landmarks, g.eye_landmarks)
            assert w.likelihood == g.likelihood
    with pytest.raises(ValueError):
        model.fit_batch(images, boxes[:2])
    with pytest.raises(ValueError):
        model.fit_batch(images, boxes, threads=0)
    assert model.fit_batch([], []) == []
