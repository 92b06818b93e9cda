"""Face-by-face parity with OpenFace 2.2 on a fixed subset of the reference faces.

The subset (every 7th of the 343 faces, 49 faces) covers frontal and profile views, small faces
(no part models) and large ones (inner + eye parts fitted). Thresholds are the issue's:
median per-face mean landmark distance <= 0.05 px, 95th percentile <= 0.5 px, eye landmarks
likewise where the parts ran, and NME against the ground truth no worse than OpenFace's.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import fastclnf
from fastclnf.metrics import inter_ocular_nme, mean_distance

from conftest import DATA_DIR

SUBSET_STEP = 7


@pytest.fixture(scope="module")
def model(model_dir):
    return fastclnf.load_model(model_dir)


@pytest.fixture(scope="module")
def subset(reference_faces):
    return reference_faces[::SUBSET_STEP]


@pytest.fixture(scope="module")
def fits(model, subset):
    out = []
    for face in subset:
        img = cv2.imread(str(DATA_DIR / face["image"]), cv2.IMREAD_COLOR)
        out.append((face, model.fit(img, face["bbox"])))
    return out


def test_subset_is_representative(subset):
    assert len(subset) >= 40
    views = {f["view_used"] for f in subset}
    assert {0, 1, 6} <= views
    assert sum(f["params_global"][0] > 0.9 for f in subset) >= 10   # parts fitted
    assert sum(f["params_global"][0] <= 0.9 for f in subset) >= 5   # parts rendered only


def test_initial_params_match_openface(model, reference_faces):
    for face in reference_faces:
        g, q = model.initial_params(face["bbox"])
        # 1e-4 absolute is below float resolution for tx ~ 1400 px; allow 1 ulp relative as well.
        np.testing.assert_allclose(g, face["init"]["params_global"], atol=1e-4, rtol=1.2e-7,
                                   err_msg=face["image"])
        assert not np.any(q)


def test_landmarks_match_openface(fits):
    d = np.array([mean_distance(r.landmarks, face["landmarks"]) for face, r in fits])
    assert np.median(d) <= 0.05, f"median {np.median(d):.4f} px"
    assert np.percentile(d, 95) <= 0.5, f"p95 {np.percentile(d, 95):.4f} px"


def test_eye_landmarks_match_openface(fits):
    d = np.array([mean_distance(r.eye_landmarks, face["eye_landmarks"])
                  for face, r in fits if face["params_global"][0] > 0.9])
    assert len(d) >= 10
    assert np.median(d) <= 0.05, f"median {np.median(d):.4f} px"
    assert np.percentile(d, 95) <= 0.5, f"p95 {np.percentile(d, 95):.4f} px"


def test_accuracy_no_worse_than_openface(fits):
    ours = np.mean([inter_ocular_nme(r.landmarks, face["ground_truth"]) for face, r in fits])
    theirs = np.mean([inter_ocular_nme(face["landmarks"], face["ground_truth"]) for face, _ in fits])
    assert ours <= theirs + 1e-3, f"NME ours {ours:.4f} vs OpenFace {theirs:.4f}"


def test_result_fields(fits):
    face, r = fits[0]
    assert r.landmarks.shape == (68, 2) and r.landmarks.dtype == np.float64
    assert r.eye_landmarks.shape == (56, 2)
    assert r.params_global.shape == (6,) and r.params_local.shape == (34,)
    assert np.isfinite(r.likelihood) and r.iterations > 0


def test_certainty_matches_openface(fits):
    close = [abs(r.certainty - face["detection_certainty"]) <= 0.01 for face, r in fits]
    same = [r.success == face["detection_success"] for face, r in fits]
    assert np.mean(close) >= 0.95 and np.mean(same) >= 0.98, (np.mean(close), np.mean(same))


def test_pose_matches_openface(fits):
    # Pose from our own landmarks: Tz reacts to ~0.05 px landmark differences by ~0.8 mm, so a
    # few faces miss 0.5 mm. All 343 faces: 97.1 % within 1e-3 rad and 0.5 mm (issue: >= 95 %,
    # benchmarks/parity.py); this 49-face subset has 46, so its floor is 90 %.
    ok = []
    for face, r in fits:
        np.testing.assert_allclose(r.intrinsics, face["intrinsics"], rtol=1e-6)
        d = np.abs(np.asarray(r.pose, np.float64) - face["pose"])
        ok.append(d[:3].max() <= 0.5 and d[3:].max() <= 1e-3)
    assert np.mean(ok) >= 0.90, np.mean(ok)
