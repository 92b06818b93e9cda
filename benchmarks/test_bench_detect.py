"""pytest-benchmark suite: MTCNN detection, the CNN nets (direct kernels vs im2col reference)
and the CNN validator.

    PYTHONPATH=python python3 -m pytest benchmarks/test_bench_detect.py --benchmark-only

OpenFace ratios and parity are in benchmarks/detect_parity.py and validator_parity.py.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fastclnf import _core
from fastclnf.detect import detect_faces_mtcnn, prepare_mtcnn
from fastclnf.models.cnn import core_layers
from fastclnf.models.mtcnn import read_mtcnn
from fastclnf.models.validator import read_validator
from fastclnf.validate import prepare_validator

from parity import SHARED  # benchmarks/ is on sys.path under pytest

MODEL_DIR = SHARED / "openface" / "model"

pytestmark = pytest.mark.skipif(not (SHARED / "reference" / "detections.jsonl").exists(),
                                reason=f"research data not found at {SHARED}")


@pytest.fixture(scope="module")
def mtcnn_model():
    return read_mtcnn(MODEL_DIR / "mtcnn_detector")


@pytest.fixture(scope="module")
def detection_images():
    """Three reference images around the 10th, 50th and 90th percentile of size."""
    with open(SHARED / "reference" / "detections.jsonl") as f:
        recs = sorted((json.loads(line) for line in f if line.strip()),
                      key=lambda r: r["width"] * r["height"])
    picks = [recs[int(q * (len(recs) - 1))] for q in (0.1, 0.5, 0.9)]
    return {f"{r['width']}x{r['height']}": cv2.imread(str(SHARED / "data" / r["image"])) for r in picks}


@pytest.mark.parametrize("size", ["p10", "p50", "p90"])
def test_detect(benchmark, mtcnn_model, detection_images, size):
    name, img = list(detection_images.items())[["p10", "p50", "p90"].index(size)]
    nets = prepare_mtcnn(mtcnn_model)
    benchmark.group = f"MTCNN detect {size} ({name})"
    benchmark(detect_faces_mtcnn, nets, img)


@pytest.mark.parametrize("impl", ["fast", "reference"])
@pytest.mark.parametrize("net", ["pnet", "rnet", "onet", "validator"])
def test_cnn_forward(benchmark, mtcnn_model, net, impl):
    if net == "validator":
        layers, shape = read_validator(MODEL_DIR / "detection_validation" / "validator_cnn.txt").views[0].layers, (1, 60, 60)
    else:
        layers, shape = getattr(mtcnn_model, net), {"pnet": (3, 60, 80), "rnet": (3, 24, 24), "onet": (3, 48, 48)}[net]
    cnn = _core.CNN(core_layers(layers))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    benchmark.group = f"CNN forward {net} {shape}"
    benchmark(cnn.forward, x, reference=impl == "reference")


def test_validate(benchmark):
    """The validator core call (warp, normalisation, CNN) on ten reference faces."""
    val = prepare_validator(read_validator(MODEL_DIR / "detection_validation" / "validator_cnn.txt"))
    with open(SHARED / "reference" / "faces.jsonl") as f:
        faces = [json.loads(line) for line in f if line.strip()][::34]
    items = []
    for face in faces:
        gray = cv2.cvtColor(cv2.imread(str(SHARED / "data" / face["image"])), cv2.COLOR_BGR2GRAY)
        items.append((gray, np.asarray(face["landmarks"], np.float32), face["params_global"][1:4]))
    benchmark.group = "validator (10 faces)"
    benchmark(lambda: [val.validate(g, lm, *rot) for g, lm, rot in items])
