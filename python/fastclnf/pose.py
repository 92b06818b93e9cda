"""Head pose and 3-D landmarks from a fitted PDM, as OpenFace 2.2 computes them (spec 03 §6).

Two different 3-D readings of one fit exist, and OpenFace uses both:

* `head_pose` (OpenFace's `GetPose`, §6.3) solves a perspective-n-point problem: the un-posed PDM
  shape is the object, the fitted 2-D landmarks are the image, and Levenberg-Marquardt refines a
  guess made from the weak-perspective parameters. This is what the CSV's pose_* columns hold.
* `shape_3d_camera` (OpenFace's `GetShape`, §6.5) ignores PnP: it back-projects each 2-D landmark at
  the depth the weak-perspective model implies. This is what the X/Y/Z columns hold.

Everything is plain numpy. The PnP refinement mirrors OpenCV 4.x's `solvePnP(..., ITERATIVE,
useExtrinsicGuess=true)` (cvFindExtrinsicCameraParams2 driving CvLevMarq) step for step, so that
it stops where OpenCV 4.6 stopped; it deliberately does not call cv2 (the installed OpenCV is a
different major version).

Conventions: Euler triples are (pitch, yaw, roll) = (rx, ry, rz) in radians with
R = Rx·Ry·Rz (§6.2); camera frame x right, y down, z forward; translations in PDM units (mm).
A PDM is anything with `.mean` (3n,), `.components` (3n, m) and `.eigenvalues` (m,), rows laid
out X_0..X_{n-1}, Y_0.., Z_0.. (e.g. `fastclnf.models.types.PDM`).
"""
from __future__ import annotations

import functools

from typing import Any, Sequence, Tuple

import numpy as np

__all__ = [
    "default_intrinsics",
    "euler_to_rotation",
    "rotation_to_euler",
    "rodrigues",
    "pdm_shape_3d",
    "refine_pnp",
    "head_pose",
    "pose_wrt_camera",
    "shape_3d_camera",
]

Intrinsics = Tuple[float, float, float, float]

_F32 = np.float32
# CvLevMarq settings OpenCV's iterative PnP uses (§6.3; spec §9.2 notes they are recalled values).
PNP_MAX_ITER = 20
PNP_EPSILON = float(np.finfo(np.float32).eps)


# ------------------------------------------------------------------------------------------------
# Camera and rotations


@functools.lru_cache(maxsize=64)  # float32 scalar arithmetic costs ~20 µs; frames repeat sizes
def default_intrinsics(width: int, height: int) -> Intrinsics:
    """OpenFace's default camera for a `width` x `height` image (§6.1).

    fx = fy = (500·(W/640) + 500·(H/480))/2 and (cx, cy) = (W/2, H/2), returned as Python
    floats holding float32 values.

    Quirk (§6.1 "in float32"): every operation is float32, in this order — W/640 first, then ×500.
    Rounding once from double differs by an ulp on 119 of the 343 reference images (e.g.
    2468 x 1739 gives 1869.79175, not 1869.79163) and moves the pose by ~1e-5.
    """
    w, h = _F32(width), _F32(height)
    f = (_F32(500) * (w / _F32(640)) + _F32(500) * (h / _F32(480))) / _F32(2)
    return float(f), float(f), float(w / _F32(2)), float(h / _F32(2))


def euler_to_rotation(euler: Sequence[float]) -> np.ndarray:
    """(pitch, yaw, roll) in radians → 3x3 float32 matrix R = Rx(pitch)·Ry(yaw)·Rz(roll) (§6.2)."""
    rx, ry, rz = (_F32(v) for v in np.asarray(euler, dtype=np.float64).reshape(3))
    s1, c1 = np.sin(rx), np.cos(rx)
    s2, c2 = np.sin(ry), np.cos(ry)
    s3, c3 = np.sin(rz), np.cos(rz)
    # The product written out, as OpenFace does, so every entry is one float32 expression.
    return np.array(
        [
            [c2 * c3, -c2 * s3, s2],
            [c1 * s3 + c3 * s1 * s2, c1 * c3 - s1 * s2 * s3, -c2 * s1],
            [s1 * s3 - c1 * c3 * s2, c3 * s1 + c1 * s2 * s3, c1 * c2],
        ],
        dtype=np.float32,
    )


def rotation_to_euler(rotation: np.ndarray) -> np.ndarray:
    """3x3 rotation → (pitch, yaw, roll) float32, through a quaternion (§6.2).

    Quirk kept (§6.2): undefined at 180° rotations, where q0 = 0 (the result is then inf/nan).
    """
    r = np.asarray(rotation, dtype=np.float32).reshape(3, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        q0 = np.sqrt(_F32(1) + r[0, 0] + r[1, 1] + r[2, 2]) / _F32(2)
        q1 = (r[2, 1] - r[1, 2]) / (_F32(4) * q0)
        q2 = (r[0, 2] - r[2, 0]) / (_F32(4) * q0)
        q3 = (r[1, 0] - r[0, 1]) / (_F32(4) * q0)
        yaw = np.arcsin(np.clip(_F32(2) * (q0 * q2 + q1 * q3), _F32(-1), _F32(1)))
        pitch = np.arctan2(_F32(2) * (q0 * q1 - q2 * q3), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3)
        roll = np.arctan2(_F32(2) * (q0 * q3 - q1 * q2), q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3)
    return np.array([pitch, yaw, roll], dtype=np.float32)


def rodrigues(rvec: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
    """Axis-angle vector → (R (3,3), dR/dr (3,3,3) with [i] = ∂R/∂r_i), float64.

    Standard Rodrigues formula with its analytic derivative; like OpenCV, a rotation angle below
    DBL_EPSILON is treated as exactly zero (R = I, dR/dr_i = [e_i]_x).
    """
    r = np.asarray(rvec, dtype=np.float64).reshape(3)
    theta = float(np.sqrt(r @ r))
    eye = np.eye(3)
    gens = np.array(  # [e_i]_x: the derivative of R at r = 0
        [
            [[0, 0, 0], [0, 0, -1], [0, 1, 0]],
            [[0, 0, 1], [0, 0, 0], [-1, 0, 0]],
            [[0, -1, 0], [1, 0, 0], [0, 0, 0]],
        ],
        dtype=np.float64,
    )
    if theta < np.finfo(np.float64).eps:
        return eye.copy(), gens.copy()
    c, s = np.cos(theta), np.sin(theta)
    c1, itheta = 1.0 - c, 1.0 / theta
    k = r * itheta
    kkt = np.outer(k, k)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rot = c * eye + c1 * kkt + s * kx
    jac = np.empty((3, 3, 3))
    for i in range(3):
        # d(k k^T)/dr_i without the -k_i·kkt/θ part, which is folded into a1 below.
        dkkt = np.zeros((3, 3))
        dkkt[i, :] += k
        dkkt[:, i] += k
        ki = k[i]
        jac[i] = (
            -s * ki * eye
            + (s - 2.0 * c1 * itheta) * ki * kkt
            + c1 * itheta * dkkt
            + (c - s * itheta) * ki * kx
            + s * itheta * gens[i]
        )
    return rot, jac


# ------------------------------------------------------------------------------------------------
# PDM shape


def pdm_shape_3d(pdm: Any, params_local: Sequence[float]) -> np.ndarray:
    """PDM 3-D shape mean + components·p in model coordinates (no rotation, no scale), (n, 3) float32."""
    mean = np.asarray(pdm.mean, dtype=np.float32).reshape(-1)
    comps = np.asarray(pdm.components, dtype=np.float32).reshape(mean.shape[0], -1)
    p = np.asarray(params_local, dtype=np.float32).reshape(-1)
    if p.shape[0] != comps.shape[1]:
        raise ValueError(
            f"params_local has {p.shape[0]} values but the PDM has {comps.shape[1]} modes"
        )
    flat = mean + comps @ p
    return np.ascontiguousarray(flat.reshape(3, -1).T)


# ------------------------------------------------------------------------------------------------
# PnP refinement (OpenCV 4.x ITERATIVE with extrinsic guess)


def _project(
    obj: np.ndarray, rvec: np.ndarray, tvec: np.ndarray, cam: np.ndarray, with_jac: bool
) -> Tuple[np.ndarray, np.ndarray | None]:
    """Pinhole projection of (n,3) points, no distortion, in float64 as cvProjectPoints2.

    Returns the (2n,) projections interleaved u0, v0, u1, v1, ... and, if asked, the (2n, 6)
    Jacobian with respect to (rvec, tvec).
    """
    fx, fy, cx, cy = cam
    rot, drot = rodrigues(rvec)
    pc = obj @ rot.T + tvec
    iz = 1.0 / pc[:, 2]
    x, y = pc[:, 0] * iz, pc[:, 1] * iz
    proj = np.empty(2 * obj.shape[0])
    proj[0::2] = fx * x + cx
    proj[1::2] = fy * y + cy
    if not with_jac:
        return proj, None
    # d(pc)/d(r_i) = (dR/dr_i) · M; d(pc)/dt = I.
    dpc_dr = np.einsum("iab,nb->nai", drot, obj)  # (n, 3 coords, 3 params)
    jac = np.empty((2 * obj.shape[0], 6))
    dx = (dpc_dr[:, 0, :] - x[:, None] * dpc_dr[:, 2, :]) * iz[:, None]
    dy = (dpc_dr[:, 1, :] - y[:, None] * dpc_dr[:, 2, :]) * iz[:, None]
    jac[0::2, 0:3] = fx * dx
    jac[1::2, 0:3] = fy * dy
    jac[0::2, 3] = fx * iz
    jac[0::2, 4] = 0.0
    jac[0::2, 5] = -fx * x * iz
    jac[1::2, 3] = 0.0
    jac[1::2, 4] = fy * iz
    jac[1::2, 5] = -fy * y * iz
    return proj, jac


def refine_pnp(
    object_points: np.ndarray,
    image_points: np.ndarray,
    intrinsics: Sequence[float],
    rvec: Sequence[float],
    tvec: Sequence[float],
    max_iter: int = PNP_MAX_ITER,
    epsilon: float = PNP_EPSILON,
) -> Tuple[np.ndarray, np.ndarray]:
    """Refine a pose guess by Levenberg-Marquardt on the pixel reprojection error (§6.3 step 5).

    Mirrors OpenCV 4.x's iterative solvePnP with useExtrinsicGuess (cvFindExtrinsicCameraParams2
    + CvLevMarq) so that the *stopping point* matches, not just the optimum: with OpenFace's rough
    guess (Euler angles used as a Rodrigues vector) the 20-iteration cap can bind.

    * Parameters (r, t) in float64; residual = projection − image point; J from the analytic
      Rodrigues derivative.
    * Step: solve (JᵀJ with its diagonal scaled by 1+λ) δ = Jᵀe, candidate = previous − δ.
      λ = 10^k, k starts at −3. A candidate whose error norm exceeds the previous one is retried
      with k+1 (up to 16, then accepted anyway); an accepted step lowers k by one (not below −16).
    * Stop after `max_iter` accepted steps or when |Δparam| / |param| < epsilon.

    Returns (rvec, tvec) as float64 (3,) arrays.
    """
    obj = np.asarray(object_points, dtype=np.float64).reshape(-1, 3)
    img = np.asarray(image_points, dtype=np.float64).reshape(-1)
    cam = np.asarray(intrinsics, dtype=np.float64).reshape(4)
    if obj.shape[0] * 2 != img.shape[0]:
        raise ValueError(
            f"{obj.shape[0]} object points but {img.shape[0] // 2} image points"
        )
    param = np.concatenate(
        [np.asarray(rvec, dtype=np.float64).reshape(3), np.asarray(tvec, dtype=np.float64).reshape(3)]
    )
    max_iter = int(min(max(max_iter, 1), 1000))
    lambda_lg10 = -3

    proj, jac = _project(obj, param[:3], param[3:], cam, True)
    err = proj - img
    prev_err_norm = float(np.linalg.norm(err))
    iters = 0
    while True:
        jtj = jac.T @ jac
        jte = jac.T @ err
        prev_param = param
        while True:
            a = jtj.copy()
            a[np.diag_indices(6)] *= 1.0 + 10.0 ** lambda_lg10
            # OpenCV solves with DECOMP_SVD; lstsq is the same SVD-based solution.
            delta = np.linalg.lstsq(a, jte, rcond=None)[0]
            param = prev_param - delta
            proj, _ = _project(obj, param[:3], param[3:], cam, False)
            err_norm = float(np.linalg.norm(proj - img))
            if err_norm > prev_err_norm:
                lambda_lg10 += 1
                if lambda_lg10 <= 16:
                    continue  # retry from prev_param with a larger damping
            break
        lambda_lg10 = max(lambda_lg10 - 1, -16)
        iters += 1
        change = np.linalg.norm(param - prev_param) / max(np.linalg.norm(prev_param), 1e-300)
        if iters >= max_iter or change < epsilon:
            return param[:3].copy(), param[3:].copy()
        prev_err_norm = err_norm
        proj, jac = _project(obj, param[:3], param[3:], cam, True)
        err = proj - img


# ------------------------------------------------------------------------------------------------
# OpenFace's GetPose / GetPoseWRTCamera / GetShape


def _pnp_from_fit(
    params_global: Sequence[float],
    params_local: Sequence[float],
    landmarks: np.ndarray,
    pdm: Any,
    intrinsics: Sequence[float],
) -> Tuple[np.ndarray, np.ndarray] | None:
    """§6.3 steps 1-5: the refined (rvec, tvec), or None where OpenFace returns zeros."""
    g = np.asarray(params_global, dtype=np.float32).reshape(6)
    lm = np.asarray(landmarks, dtype=np.float32).reshape(-1, 2)
    fx, fy, cx, cy = (_F32(v) for v in np.asarray(intrinsics, dtype=np.float64).reshape(4))
    scale = g[0]
    if lm.shape[0] == 0 or scale == 0:
        return None
    # Initial guess, §6.3 steps 2-3: the weak-perspective depth, and (quirk) the Euler triple
    # used as if it were a Rodrigues vector.
    z0 = fx / scale
    x0 = (g[4] - cx) * z0 / fx
    y0 = (g[5] - cy) * z0 / fy
    tvec0 = np.array([x0, y0, z0], dtype=np.float64)
    rvec0 = g[1:4].astype(np.float64)
    obj = pdm_shape_3d(pdm, params_local)
    if obj.shape[0] != lm.shape[0]:
        raise ValueError(f"PDM has {obj.shape[0]} points but {lm.shape[0]} landmarks were given")
    return refine_pnp(obj, lm, (fx, fy, cx, cy), rvec0, tvec0)


def head_pose(
    params_global: Sequence[float],
    params_local: Sequence[float],
    landmarks: np.ndarray,
    pdm: Any,
    intrinsics: Sequence[float],
) -> np.ndarray:
    """OpenFace's `GetPose` (§6.3): (Tx, Ty, Tz, pitch, yaw, roll) float32, mm and radians.

    `params_global` = (scale, rx, ry, rz, tx, ty), `params_local` the PDM's non-rigid parameters,
    `landmarks` the fitted (n, 2) pixels, `intrinsics` = (fx, fy, cx, cy). No landmarks or a zero
    scale give six zeros, as in OpenFace.
    """
    sol = _pnp_from_fit(params_global, params_local, landmarks, pdm, intrinsics)
    if sol is None:
        return np.zeros(6, dtype=np.float32)
    rvec, tvec = sol
    rot = rodrigues(rvec)[0].astype(np.float32)
    return np.concatenate([tvec.astype(np.float32), rotation_to_euler(rot)])


def pose_wrt_camera(
    params_global: Sequence[float],
    params_local: Sequence[float],
    landmarks: np.ndarray,
    pdm: Any,
    intrinsics: Sequence[float],
) -> np.ndarray:
    """OpenFace's `GetPoseWRTCamera` (§6.4): the rotation relative to the ray to the head.

    Same PnP as `head_pose`; the rotation is premultiplied by Euler→matrix(a, b, 0) with
    a = atan2(Ty, √(Tx²+Tz²)) and b = −atan2(Tx, √(Ty²+Tz²)), so a head turned to face the camera
    reads (near) zero wherever it sits in the image. No CSV column uses this.
    """
    sol = _pnp_from_fit(params_global, params_local, landmarks, pdm, intrinsics)
    if sol is None:
        return np.zeros(6, dtype=np.float32)
    rvec, tvec = sol
    t = tvec.astype(np.float32)
    a = np.arctan2(t[1], np.sqrt(t[0] * t[0] + t[2] * t[2]))
    b = -np.arctan2(t[0], np.sqrt(t[1] * t[1] + t[2] * t[2]))
    rot = euler_to_rotation((a, b, 0.0)) @ rodrigues(rvec)[0].astype(np.float32)
    return np.concatenate([t, rotation_to_euler(rot)])


def shape_3d_camera(
    params_global: Sequence[float],
    params_local: Sequence[float],
    landmarks: np.ndarray,
    pdm: Any,
    intrinsics: Sequence[float],
) -> np.ndarray:
    """OpenFace's `GetShape` (§6.5): 3-D landmarks in camera coordinates (mm), (n, 3) float32.

    Not the PnP pose: the PDM shape is rotated by the *weak-perspective* rotation, placed at depth
    fx/scale, and each fitted 2-D landmark is back-projected to its own point's depth. The CSV
    writes column 0 (X), then 1 (Y), then 2 (Z).
    """
    g = np.asarray(params_global, dtype=np.float32).reshape(6)
    lm = np.asarray(landmarks, dtype=np.float32).reshape(-1, 2)
    fx, fy, cx, cy = (_F32(v) for v in np.asarray(intrinsics, dtype=np.float64).reshape(4))
    shape = pdm_shape_3d(pdm, params_local)
    if shape.shape[0] != lm.shape[0]:
        raise ValueError(f"PDM has {shape.shape[0]} points but {lm.shape[0]} landmarks were given")
    rotated = shape @ euler_to_rotation(g[1:4]).T
    with np.errstate(divide="ignore", invalid="ignore"):
        z = fx / g[0] + rotated[:, 2]
        x = z * ((lm[:, 0] - cx) / fx)
        y = z * ((lm[:, 1] - cy) / fy)
    return np.stack([x, y, z], axis=1).astype(np.float32)
