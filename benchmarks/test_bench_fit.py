"""pytest-benchmark suite: model load, whole fits, response maps per scale.

    PYTHONPATH=python python3 -m pytest benchmarks/test_bench_fit.py --benchmark-only
    (--benchmark-compare / --benchmark-autosave to track changes over time)

Fast kernels and the scalar reference path are benchmarked side by side (group names pair
them). For OpenFace ratios and parity figures alongside, use benchmarks/speed.py.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import fastclnf
from fastclnf import _core
from fastclnf import fit as F

from parity import SHARED  # benchmarks/ is on sys.path under pytest

MODEL_DIR = SHARED / "openface" / "model"

pytestmark = pytest.mark.skipif(not (SHARED / "reference" / "faces.jsonl").exists(),
                                reason=f"research data not found at {SHARED}")


@pytest.fixture(scope="module")
def model():
    m = fastclnf.load_model(MODEL_DIR)
    return m


@pytest.fixture(scope="module")
def faces():
    with open(SHARED / "reference" / "faces.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def sample(model, faces):
    """Ten reference faces (every 34th): images, boxes, fitted landmarks; caches warm."""
    out = []
    for face in faces[::34]:
        img = fastclnf.image.to_gray(cv2.imread(str(SHARED / "data" / face["image"])))
        r = model.fit(img, face["bbox"])
        lm = np.concatenate([r.landmarks[:, 0], r.landmarks[:, 1]]).astype(np.float32)
        out.append((img, face["bbox"], lm, r.view))
    return out


def test_load_model(benchmark):
    benchmark.group = "load"
    benchmark(fastclnf.load_model, MODEL_DIR)


def test_fit(benchmark, model, sample):
    benchmark.group = "fit (10 faces)"
    benchmark(lambda: [model.fit(img, box) for img, box, _, _ in sample])


@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_fit_core(benchmark, model, sample, impl):
    core = model._core
    sched = core.schedule(fastclnf.presets.IMAGE)
    args = [(img, *F.initial_params(core, box)) for img, box, _, _ in sample]
    benchmark.group = "core schedule (10 faces)"
    benchmark(lambda: [_core.detect_landmarks(img, sched, g, q, impl=impl) for img, g, q in args])


@pytest.mark.parametrize("threads", [1, 2])
def test_fit_batch(benchmark, model, sample, threads):
    images = [s[0] for s in sample] * 3
    boxes = [s[1] for s in sample] * 3
    benchmark.group = "fit_batch (30 faces)"
    benchmark(model.fit_batch, images, boxes, threads=threads)


@pytest.mark.parametrize("impl", ["fast", "reference"])
@pytest.mark.parametrize("k, ws", [(0, 11), (1, 9), (2, 7)])
def test_responses(benchmark, model, sample, k, ws, impl):
    core = model._core
    scale, sig = core.scales[k], core.sigmas(k, ws)
    for _, _, _, view in sample:
        sig.ensure_view(view)
    benchmark.group = f"responses main ws {ws} (10 faces x 68 landmarks)"
    benchmark(lambda: [_core.responses(img, scale, sig, view, ws, lm, 0.93, 0.04, impl=impl)
                       for img, _, lm, view in sample])


@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_responses_parts(benchmark, model, sample, impl):
    core = model._core
    calls = []
    for name, part, _, ps in core.parts:
        for k, ws in enumerate(ps.window_sizes):
            if ws and k < len(part.scales):
                sig = part.sigmas(k, ws)
                sig.ensure_view(0)
                lm = _core.shape2d(part.pdm, *F.initial_params(part, (100.0, 100.0, 80.0, 60.0)))
                calls.append((part.scales[k], sig, ws, lm))
    img = sample[0][0]
    benchmark.group = "responses parts (inner ws 9, eyes ws 3/5)"
    benchmark(lambda: [_core.responses(img, sc, sig, 0, ws, lm, 1.0, 0.0, impl=impl)
                       for sc, sig, ws, lm in calls])
