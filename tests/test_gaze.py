"""Gaze (fastclnf.gaze), spec 03 §7.

The OpenFace reference outputs in ../shared/reference contain no gaze (faces.jsonl and the video
files have no gaze fields), so the geometry is pinned on constructed cases: looking into the lens,
sign conventions, the ray-sphere quirk, the miss quirk. On the real reference fits we only check
that the pipeline runs end to end and gives sane, consistent vectors.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from fastclnf.gaze import (
    EYEBALL_RADIUS,
    EyeFit,
    Gaze,
    estimate_gaze,
    eye_gaze,
    eyeball_centre,
    gaze_angle,
    pupil_centre,
    ray_sphere_hit,
)
from fastclnf.pose import euler_to_rotation

FACE_PDM = "pdms/In-the-wild_aligned_PDM_68.txt"
LEFT_EYE_PDM = "model_eye/pdms/pdm_28_l_eye_3D_closed.txt"    # left_eye_28 (main_clnf_synth_left)
RIGHT_EYE_PDM = "model_eye/pdms/pdm_28_eye_3D_closed.txt"     # right_eye_28


def read_pdm_arrays(path):
    """The PDM through the package's reader (float32 mean/components/eigenvalues)."""
    from fastclnf.models.pdm import read_pdm

    return read_pdm(path)


def _face_with_eyeballs(centres, rotation=np.eye(3)):
    """A 68-point face whose eye corners put the eyeball centres exactly at `centres` (§7 step 4)."""
    face = np.zeros((68, 3), np.float32)
    offset = np.asarray(rotation, np.float32) @ np.array([0, -3.5, 7.0], np.float32)
    for k, e in enumerate(centres):
        mid = np.asarray(e, np.float32) - offset
        face[36 + 6 * k] = mid + [-15, 0, 0]
        face[39 + 6 * k] = mid + [15, 0, 0]
    return face


def _eye_with_pupil(pupil):
    """A 28-point eye whose iris ring (points 0-7) averages to `pupil`; other points are far off,
    so using them by mistake would show."""
    ring = np.array([[math.cos(a), math.sin(a), 0.0] for a in np.arange(8) * math.pi / 4])
    eye = np.full((28, 3), 1e3, np.float32)
    eye[:8] = np.asarray(pupil) + 5.0 * ring
    return eye


def _pupil_towards(centre, direction):
    """The point where an eye centred at `centre`, looking along `direction`, shows its pupil."""
    d = np.asarray(direction, np.float64)
    return np.asarray(centre, np.float64) + EYEBALL_RADIUS * d / np.linalg.norm(d)


def test_pupil_is_mean_of_points_0_to_7():
    eye = _eye_with_pupil([1.0, 2.0, 300.0])
    assert np.allclose(pupil_centre(eye), [1, 2, 300], atol=1e-4)


def test_eyeball_centre_offset_in_head_frame():
    face = np.zeros((68, 3), np.float32)
    face[42], face[45] = [10, 0, 500], [40, 2, 504]
    assert np.allclose(eyeball_centre(face, np.eye(3), 1), [25, 1 - 3.5, 502 + 7])
    # Rotated head: the (0, −3.5, 7) offset turns with it; yaw 90° maps head +z to camera +x.
    rot = euler_to_rotation([0, math.pi / 2, 0])
    assert np.allclose(eyeball_centre(face, rot, 1), [25 + 7, 1 - 3.5, 502], atol=1e-5)
    with pytest.raises(ValueError):
        eyeball_centre(face, np.eye(3), 2)


def test_looking_into_the_lens_gives_zero_angle():
    # Eyeballs symmetric about the optical axis, both looking at the camera centre.
    centres = [[-30.0, 0.0, 600.0], [30.0, 0.0, 600.0]]
    face = _face_with_eyeballs(centres)
    g = []
    for k, e in enumerate(centres):
        eye = _eye_with_pupil(_pupil_towards(e, -np.asarray(e)))
        g.append(eye_gaze(eye, face, np.eye(3), k))
        assert np.allclose(g[-1], -np.asarray(e) / np.linalg.norm(e), atol=1e-5)
    assert np.allclose(gaze_angle(*g), [0, 0], atol=1e-6)
    # A single eye on the axis looking back at the lens: exactly (0, 0, −1).
    face = _face_with_eyeballs([[0, 0, 500], [0, 0, 500]])
    eye = _eye_with_pupil([0, 0, 488])
    assert np.allclose(eye_gaze(eye, face, np.eye(3), 0), [0, 0, -1], atol=1e-6)


@pytest.mark.parametrize(
    "direction, sign_x, sign_y",
    [
        ((0.3, 0, -1), +1, 0),   # towards the image's right (camera +x)
        ((-0.3, 0, -1), -1, 0),
        ((0, 0.3, -1), 0, +1),   # downwards (camera +y)
        ((0, -0.3, -1), 0, -1),
    ],
)
def test_sign_conventions(direction, sign_x, sign_y):
    centres = [[-30.0, 0.0, 600.0], [30.0, 0.0, 600.0]]
    face = _face_with_eyeballs(centres)
    g = [eye_gaze(_eye_with_pupil(_pupil_towards(e, direction)), face, np.eye(3), k)
         for k, e in enumerate(centres)]
    want = np.asarray(direction) / np.linalg.norm(direction)
    for v in g:
        assert np.allclose(v, want, atol=2e-3)  # pupil ray through the eyeball is not radial
        assert v.dtype == np.float32 and np.linalg.norm(v) == pytest.approx(1, abs=1e-6)
    angle = gaze_angle(*g)
    assert np.sign(round(float(angle[0]), 3)) == sign_x
    assert np.sign(round(float(angle[1]), 3)) == sign_y
    assert angle[0] == pytest.approx(math.atan2(want[0], -want[2]), abs=3e-3)
    assert angle[1] == pytest.approx(math.atan2(want[1], -want[2]), abs=3e-3)


def test_gaze_angle_averages_without_renormalising():
    g0, g1 = np.array([1.0, 0, 0], np.float32), np.array([0, 0, -1.0], np.float32)
    # g = (0.5, 0, −0.5): atan2(0.5, 0.5) = π/4 either way; y uses the same un-normalised g.z.
    assert np.allclose(gaze_angle(g0, g1), [math.pi / 4, 0])
    assert gaze_angle(g0, g1).dtype == np.float32


def test_ray_sphere_hit_and_multiply_by_a_quirk():
    assert np.allclose(ray_sphere_hit([0, 0, 1], [0, 0, 100]), [0, 0, 88])
    # §7 step 5 quirk: t = ((−b − √disc)/2)·a rather than /(2a). With d = (0,0,2): a = 4,
    # b = −400, c = 9856, disc = 2304, t = (400 − 48)/2·4 = 704 → point (0, 0, 1408), not 88.
    assert np.allclose(ray_sphere_hit([0, 0, 2], [0, 0, 100]), [0, 0, 1408])
    assert ray_sphere_hit([1, 0, 0], [0, 0, 100]) is None


def test_miss_quirk_uses_point_0_0_minus_1():
    centre = np.array([40.0, -10.0, 500.0])
    face = _face_with_eyeballs([centre, centre])
    eye = _eye_with_pupil([400.0, 0.0, 500.0])  # ray far outside the eyeball
    want = (np.array([0, 0, -1.0]) - centre) / np.linalg.norm([0, 0, -1.0] - centre)
    assert np.allclose(eye_gaze(eye, face, np.eye(3), 0), want, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# On the reference fits (no gaze in the reference to compare with)


@pytest.fixture(scope="module")
def pdms(model_dir):
    return tuple(read_pdm_arrays(model_dir / p) for p in (FACE_PDM, LEFT_EYE_PDM, RIGHT_EYE_PDM))


def _eye_fit(face, name, pdm):
    part = face["parts"][name]
    return EyeFit(pdm, part["params_global"], part["params_local"], np.asarray(part["landmarks"]))


def test_reference_has_no_gaze_fields(reference_faces):
    # If a future reference adds gaze, this test should become a parity test.
    assert not any("gaze" in k for face in reference_faces for k in face)


def test_eye_parts_match_eye_landmarks(reference_faces, pdms):
    _, left, right = pdms
    assert left.mean.shape == right.mean.shape == (84,)
    for face in reference_faces[:20]:
        eyes = np.asarray(face["eye_landmarks"])
        assert np.array_equal(eyes[:28], face["parts"]["left_eye_28"]["landmarks"])
        assert np.array_equal(eyes[28:], face["parts"]["right_eye_28"]["landmarks"])


def test_gaze_on_reference_fits_is_sane(reference_faces, pdms):
    face_pdm, left, right = pdms
    dots, angles = [], []
    for face in reference_faces:
        gaze = estimate_gaze(
            face["params_global"], face["params_local"], np.asarray(face["landmarks"]), face_pdm,
            _eye_fit(face, "left_eye_28", left), _eye_fit(face, "right_eye_28", right),
            face["intrinsics"], pose=np.asarray(face["pose"], np.float32),
        )
        assert isinstance(gaze, Gaze) and gaze.as_row().shape == (8,)
        for v in (gaze.gaze_0, gaze.gaze_1):
            assert np.linalg.norm(v) == pytest.approx(1, abs=1e-5)
            assert v[2] < 0  # towards the camera
        dots.append(float(gaze.gaze_0 @ gaze.gaze_1))
        angles.append(gaze.angle)
    angles = np.abs(np.array(angles))
    assert angles.max() < 1.2                      # no degenerate vectors
    assert np.median(dots) > 0.95                  # the two eyes mostly agree


def test_estimate_gaze_computes_pose_and_handles_missing_eye(reference_faces, pdms):
    face_pdm, left, _ = pdms
    face = reference_faces[0]
    args = (face["params_global"], face["params_local"], np.asarray(face["landmarks"]), face_pdm)
    lfit = _eye_fit(face, "left_eye_28", left)
    given = estimate_gaze(*args, lfit, None, face["intrinsics"], pose=np.float32(face["pose"]))
    solved = estimate_gaze(*args, lfit, None, face["intrinsics"])
    assert np.allclose(given.gaze_0, solved.gaze_0, atol=1e-5)
    assert np.array_equal(given.gaze_1, np.zeros(3))   # §7 step 8: missing model → (0,0,0)
