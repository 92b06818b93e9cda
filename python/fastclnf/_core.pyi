"""
fastclnf C++ core (PDM, CCNF responses, KDE mean-shift, NU-RLMS)
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['CNN', 'CcnfScale', 'MTCNN', 'Pdm', 'Schedule', 'SigmaSet', 'Validator', 'align_with_scale', 'apply_update', 'bbox_of_shape', 'bgr_to_gray', 'build_sigmas', 'clamp_local', 'detect_landmarks', 'euler_to_rotation', 'expert_response', 'fit_scale', 'invert2x2', 'jacobian', 'kde_grid', 'likelihoods', 'mean_shift', 'mtcnn_nms', 'mtcnn_pyramid_levels', 'nurlms_phase', 'params_from_bbox', 'params_from_landmarks', 'resize_bilinear', 'responses', 'rigid_jacobian', 'rotation_to_euler', 'shape2d', 'shape3d', 'simd_level', 'simd_levels', 'view_index', 'warp_aoi']
class Pdm:
    """
    Point Distribution Model (spec 01 §2-3): 3-D shape = mean + components @ q.
    
    Pdm(mean: float32[3n], components: float32[3n, m], eigenvalues: float32[m]). The arrays are
    copied once into the C++ object (converted to float32 if needed); coordinate-major layout
    [X_0..X_{n-1}, Y_0.., Z_0..].
    """
    def __init__(self, mean: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], components: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], eigenvalues: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> None:
        ...
    def __repr__(self) -> str:
        ...
    @property
    def components(self) -> numpy.typing.NDArray[numpy.float32]:
        """
        copy of the components, (3n, m) float32
        """
    @property
    def eigenvalues(self) -> numpy.typing.NDArray[numpy.float32]:
        """
        copy of the eigenvalues, (m,) float32
        """
    @property
    def m(self) -> int:
        """
        number of shape modes
        """
    @property
    def mean(self) -> numpy.typing.NDArray[numpy.float32]:
        """
        copy of the mean shape, (3n,) float32
        """
    @property
    def n(self) -> int:
        """
        number of landmarks
        """
class CcnfScale:
    """
    One scale of CCNF patch experts in the core's form (spec 01 §4.4): per (view, landmark) the packed neuron matrix M, kept alphas, alpha sum, betas and confidence, plus the sigma components. Build it with fastclnf.models.core_adapter.make_core_scale(CCNFScale).
    """
    def __init__(self, *, patch_scaling: typing.SupportsFloat | typing.SupportsIndex, view_centres: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], visibility: typing.Annotated[numpy.typing.ArrayLike, numpy.int32], sigma_components: dict, patch_width: typing.SupportsInt | typing.SupportsIndex, patch_height: typing.SupportsInt | typing.SupportsIndex, n_neurons: typing.Annotated[numpy.typing.ArrayLike, numpy.int32], norm_weights: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], bias: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], alpha: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], weights: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], betas: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], confidence: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], neuron_type: typing.Any = None, path: typing.Any = None) -> None:
        """
        Keyword arguments are the fields of models.types.CCNFScale (path and neuron_type optional; only type-0 neurons are supported).
        """
    @property
    def alpha_sum(self) -> numpy.typing.NDArray[numpy.float32]:
        """
        (V, n) float32 sum of all alphas of each expert (the Q diagonal term, spec 01 §5.5).
        """
    @property
    def confidence(self) -> numpy.typing.NDArray[numpy.float32]:
        """
        (V, n) float32 patch_confidence (0 where invisible), for the NU-RLMS weights.
        """
    @property
    def n(self) -> int:
        ...
    @property
    def n_views(self) -> int:
        ...
    @property
    def patch_height(self) -> int:
        ...
    @property
    def patch_scaling(self) -> float:
        ...
    @property
    def patch_width(self) -> int:
        ...
    @property
    def view_centres(self) -> numpy.typing.NDArray[numpy.float32]:
        """
        (V, 3) float32 view centres in radians (pitch, yaw, roll).
        """
    @property
    def visibility(self) -> numpy.typing.NDArray[numpy.int32]:
        """
        (V, n) int32, 1 = landmark has an expert in that view.
        """
    @property
    def window_sizes(self) -> list[int]:
        """
        Window sizes with a sigma-component block (possibly with 0 components).
        """
class SigmaSet:
    """
    Sigma = (2Q)^-1 of every visible expert of a scale for one window size (spec 01 §5.5). Build with build_sigmas().
    """
    def ensure_view(self, view: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
        """
        Build the Sigmas of `view` now if this lazy set has not (threads=0: all cores).
        """
    def sigma(self, view: typing.SupportsInt | typing.SupportsIndex, i: typing.SupportsInt | typing.SupportsIndex) -> typing.Any:
        """
        Sigma of expert (view, i) as (ws^2, ws^2) float32, or None where not built (invisible landmark, or another view with build_sigmas(..., view=v)).
        """
    def view_built(self, view: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    @property
    def lazy(self) -> bool:
        ...
    @property
    def n(self) -> int:
        ...
    @property
    def n_views(self) -> int:
        ...
    @property
    def ws(self) -> int:
        ...
class CNN:
    """
    A feed-forward net of OpenFace layer records.
    """
    def __init__(self, layers: collections.abc.Sequence) -> None:
        ...
    def forward(self, x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], reference: bool = False, isa: typing.Any = None) -> numpy.typing.NDArray[numpy.float32]:
        """
        Run the net on C maps of H x W; returns maps (C', H', W') or a vector. reference=True: the scalar im2col path (unfused float arithmetic at every SIMD level); isa: the SIMD level of the direct kernels ('generic', 'avx2', 'avx512'; default the active one).
        """
class MTCNN:
    """
    MTCNN detector (spec 03 §1).
    """
    def __init__(self, pnet: collections.abc.Sequence, rnet: collections.abc.Sequence, onet: collections.abc.Sequence) -> None:
        ...
    def detect(self, image: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], bgr: bool = False) -> numpy.typing.NDArray[numpy.float32]:
        """
        Detect faces in a uint8 (H, W) gray or (H, W, 3|4) image, channels R, G, B (bgr=False) or B, G, R (bgr=True; a 4th channel is ignored), any strides; returns (k, 5) float32 [x, y, w, h, score] CLNF boxes in descending score.
        """
class Validator:
    """
    CNN detection validator (spec 02 §5).
    """
    def __init__(self, views: collections.abc.Sequence, n_landmarks: typing.SupportsInt | typing.SupportsIndex = 68) -> None:
        ...
    def choose_view(self, rx: typing.SupportsFloat | typing.SupportsIndex, ry: typing.SupportsFloat | typing.SupportsIndex, rz: typing.SupportsFloat | typing.SupportsIndex) -> int:
        ...
    def network_input(self, view: typing.SupportsInt | typing.SupportsIndex, gray: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], landmarks: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> typing.Any:
        """
        The normalised 60x60 CNN input of a view, or None in the degenerate-ROI case.
        """
    def validate(self, gray: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], landmarks: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], rx: typing.SupportsFloat | typing.SupportsIndex, ry: typing.SupportsFloat | typing.SupportsIndex, rz: typing.SupportsFloat | typing.SupportsIndex) -> float:
        """
        Certainty in (0, 1) for landmarks (n, 2) on a C-contiguous uint8 gray image.
        """
    @property
    def n_views(self) -> int:
        ...
class Schedule:
    """
    The per-fit schedule as data (cpp/schedule.hpp): the main model's scale steps and the hierarchical parts. Built by fastclnf.fit from a preset.
    """
    def __init__(self, main: tuple, parts: list) -> None:
        """
        main = (pdm, steps), steps = [(scale_index, scale, sigmas, grid, ws, iterations, sigma, reg, weight)]; parts = [(pdm, steps, mapping (k, 2) [main, part], fit_above_scale)]; when no part is fitted, every part comes back as None (deferred: its PDM fit to the mapped points is left to the caller).
        """
    def unfitted_part(self, k: typing.SupportsInt | typing.SupportsIndex, main_landmarks: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> typing.Any:
        """
        Part k as detect_landmarks computes an unfitted part (its PDM fitted to the mapped main landmarks, rendered): what a deferred part would have been.
        """
    @property
    def n_parts(self) -> int:
        ...
    @property
    def n_steps(self) -> int:
        ...
def _cholesky_solve(H: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], b: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], impl: str = 'reference', isa: typing.Any = None, repeat: typing.SupportsInt | typing.SupportsIndex = 1) -> tuple[numpy.typing.NDArray[numpy.float32], bool]:
    """
    (x, ok): float Cholesky solve of H x = b with double accumulators; ok False and x = 0 when H is not positive definite (cpp/linalg.hpp; impl='fast': the SIMD kernel, same results). repeat > 1 reruns the solve (timing).
    """
def _exp(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], isa: typing.Any = None) -> numpy.typing.NDArray[numpy.float64]:
    """
    Test hook: the kernels' vectorised double exp (likelihoods), elementwise.
    """
def _expf(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    """
    Test hook: the neuron sigmoid's float exp (cpp/fastexp.hpp), elementwise.
    """
def _normal_equations(Jw: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], J: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], mu: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], isa: typing.Any = None) -> tuple[numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.float32]]:
    """
    (H, b): the normal-equations kernel, H = Jw^T J (lower triangle, upper zeroed) and b = Jw^T mu, float sums in row order with zero weights skipped (test hook).
    """
def _svd(A: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    """
    (U, w, Vt) of a 2x2 or 3x3 matrix (double Jacobi SVD, cpp/linalg.hpp).
    """
def align_with_scale(src2n: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], dst2n: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    """
    2x2 float32 similarity A mapping centred src offsets to dst offsets (AlignWithScale, spec 01 §5.1: RMS-radius scale ratio times the Kabsch rotation). With src = image landmarks and dst = reference shape this is sim_img_to_ref.
    """
def apply_update(g: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], q: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], delta: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> tuple[numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.float32]]:
    """
    Return (g', q') after applying delta (6 rigid or 6+m entries): additive scale, translation and q; rotation composed on the right, re-orthonormalised, Rodrigues round trip with the 1e-5 rad snap, NaN angles -> 0 (spec 01 §3.6). No clamping.
    """
def bbox_of_shape(shape: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    """
    (min_x, min_y, width, height) of a (2n,) shape (spec 01 §3.3).
    """
def bgr_to_gray(image: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8]) -> numpy.typing.NDArray[numpy.uint8]:
    """
    8-bit gray from 8-bit BGR or BGRA, exactly as OpenCV 4.x converts it (spec 02 §6.1).
    """
def build_sigmas(scale: CcnfScale, ws: typing.SupportsInt | typing.SupportsIndex, view: typing.Any = None, lazy: bool = False) -> SigmaSet:
    """
    Sigma matrices (2Q)^-1 for window ws of every visible expert, or only those of one view, or (lazy=True) none yet: fit_scale then builds each view the first time it selects it (thread-safe). Windows without sigma components give I/(2 alpha_sum) (spec 01 §5.5).
    """
def clamp_local(pdm: Pdm, q: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    """
    q clamped to +-3 sqrt(eigenvalue) per mode, as a new array (spec 01 §3.5).
    """
def detect_landmarks(image: numpy.ndarray, schedule: Schedule, g: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], q: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], impl: str = 'fast', isa: typing.Any = None) -> dict:
    """
    One fit from (g, q): the scale loop, the parts and the refit (spec 02 §2, §4), with the GIL released throughout. Returns the main model's g, q, landmarks, fit_success, failed_scale, converged, iterations, view, likelihood, landmark_likelihoods, plus 'parts' (one dict per part: g, q, landmarks, fitted, likelihood, ...) and 'refitted'.
    """
def euler_to_rotation(euler: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    """
    R = Rx(rx) Ry(ry) Rz(rz) as a (3, 3) float32 array, from euler = (rx, ry, rz) (spec 01 §3.1).
    """
def expert_response(scale: CcnfScale, view: typing.SupportsInt | typing.SupportsIndex, i: typing.SupportsInt | typing.SupportsIndex, aoi: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], ws: typing.SupportsInt | typing.SupportsIndex, sigmas: SigmaSet = None, stage: str = 'final', impl: str = 'fast', isa: typing.Any = None) -> numpy.typing.NDArray[numpy.float32]:
    """
    Response map (ws, ws) of expert (view, i) on an AOI of (ws+pw-1)^2 float32 samples (spec 01 §5.3-5.6). sigmas=None uses Sigma = I/(2 alpha_sum). stage: 'final', 'raw' (sigmoid sum only) or 'sigma' (Sigma r before negative removal). impl: 'fast' (SIMD kernels at level `isa`, default the active one) or 'reference' (the scalar code).
    """
def fit_scale(image: numpy.ndarray, pdm: Pdm, scale: CcnfScale, sigmas: SigmaSet, grid: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], ws: typing.SupportsInt | typing.SupportsIndex, iterations: typing.SupportsInt | typing.SupportsIndex, sigma: typing.SupportsFloat | typing.SupportsIndex, reg: typing.SupportsFloat | typing.SupportsIndex, weight: typing.SupportsFloat | typing.SupportsIndex, likelihood: bool, g: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], q: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], impl: str = 'fast', isa: typing.Any = None) -> dict:
    """
    One scale of the CLNF fit (responses, rigid and non-rigid NU-RLMS phases) from (g, q).
    image: 2-D uint8 (sampled directly) or float32. impl='reference' runs the scalar
    reference code throughout; isa picks the SIMD level of the fast kernels.
    Returns a dict with the updated g, q, the view used, iteration counts and, if asked,
    the likelihoods. Releases the GIL.
    """
def invert2x2(A: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    """
    Inverse of a 2x2 float32 matrix (double determinant; zeros if singular).
    """
def jacobian(pdm: Pdm, g: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], q: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    """
    Full Jacobian (2n, 6+m) float32 of the 2-D shape w.r.t. (s, wx, wy, wz, tx, ty, q) with rotation on the right (spec 01 §3.4). Unweighted.
    """
def kde_grid(ws: typing.SupportsInt | typing.SupportsIndex, a: typing.SupportsFloat | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float32]:
    """
    KDE table ((10 ws)^2, ws^2) float32: row ix*(10 ws)+iy, column r*ws+c = exp(a((0.1f iy - r)^2 + (0.1f ix - c)^2)), a = -0.5/sigma^2 (spec 02 §2.5).
    """
def likelihoods(maps: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], visible: typing.Annotated[numpy.typing.ArrayLike, numpy.int32], dx: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], dy: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], sigma: typing.SupportsFloat | typing.SupportsIndex) -> tuple[float, numpy.typing.NDArray[numpy.float32]]:
    """
    (model_likelihood, landmark_likelihoods) from the exact Gaussian (spec 02 §2.8).
    """
def mean_shift(maps: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], visible: numpy.ndarray, dx: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], dy: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], ws: typing.SupportsInt | typing.SupportsIndex, grid: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], impl: str = 'reference', isa: typing.Any = None) -> tuple[numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.float32]]:
    """
    Mean-shift (mx, my), each (n,) float32, in the reference frame: dx, dy are the current positions in map coordinates; clamped to [0, ws-0.1], kernel at the nearest 0.1-px grid point, shift = weighted mean - clamped position (spec 02 §2.5). Invisible -> (0, 0). impl='fast': the SIMD kernel of level isa (same results).
    """
def mtcnn_nms(boxes: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], threshold: typing.SupportsFloat | typing.SupportsIndex, mode: str) -> list[int]:
    """
    MTCNN NMS (spec 03 §1.7) on [x, y, w, h, score] rows; returns kept indices in order.
    """
def mtcnn_pyramid_levels(min_side: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    Number of MTCNN pyramid scales for an image whose smaller side is min_side.
    """
def nurlms_phase(pdm: Pdm, maps: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], visible: typing.Annotated[numpy.typing.ArrayLike, numpy.int32], confidence: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], base: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], A: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], grid: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], ws: typing.SupportsInt | typing.SupportsIndex, iterations: typing.SupportsInt | typing.SupportsIndex, sigma: typing.SupportsFloat | typing.SupportsIndex, reg: typing.SupportsFloat | typing.SupportsIndex, weight: typing.SupportsFloat | typing.SupportsIndex, rigid: bool, g: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], q: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> dict:
    """
    One rigid or non-rigid NU-RLMS phase on given response maps (for tests and research).
    """
def params_from_bbox(pdm: Pdm, box: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], q: typing.Any = None, rot: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] = [0.0, 0.0, 0.0]) -> numpy.typing.NDArray[numpy.float32]:
    """
    Global parameters g (6,) whose rendered shape (q, default 0, rotated by rot) is centred in box = (x, y, w, h), scale = mean of the width and height ratios (spec 01 §3.7).
    """
def params_from_landmarks(pdm: Pdm, landmarks: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], rot: typing.Annotated[numpy.typing.ArrayLike, numpy.float32] = [0.0, 0.0, 0.0]) -> tuple[numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.float32], int]:
    """
    Fit (g, q) to (2n,) landmarks by damped, regularised Gauss-Newton (spec 01 §3.8); landmarks with x == 0 are missing. Returns (g, q, iterations). Raises ValueError if all are missing.
    """
def resize_bilinear(src: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], height: typing.SupportsInt | typing.SupportsIndex, width: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float32]:
    """
    OpenCV-style INTER_LINEAR resize of float32 maps (spec 03 §0).
    """
def responses(img: numpy.ndarray, scale: CcnfScale, sigmas: SigmaSet, view: typing.SupportsInt | typing.SupportsIndex, ws: typing.SupportsInt | typing.SupportsIndex, landmarks2n: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], a: typing.SupportsFloat | typing.SupportsIndex, b: typing.SupportsFloat | typing.SupportsIndex, out: typing.Any = None, impl: str = 'fast', isa: typing.Any = None) -> numpy.typing.NDArray[numpy.float32]:
    """
    (n, ws, ws) float32 response maps of the visible landmarks of `view` around the current 2-D shape landmarks2n = [x..., y...]; a, b from sim_ref_to_img (a = [0][0], b = -[0][1], spec 01 §5.1). img: 2-D uint8 (sampled directly) or float32. Invisible landmarks' maps are zero, or untouched when `out` is given. impl/isa as for expert_response.
    """
def rigid_jacobian(pdm: Pdm, g: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], q: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    """
    Rigid Jacobian (2n, 6) float32: the first 6 columns of jacobian() (spec 01 §3.4).
    """
def rotation_to_euler(R: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    """
    Euler angles (rx, ry, rz) of a (3, 3) rotation via quaternions (spec 01 §3.2); may be NaN near a 180-degree rotation.
    """
def shape2d(pdm: Pdm, g: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], q: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    """
    Projected 2-D shape, (2n,) float32 [x.., y..], for g = (s, rx, ry, rz, tx, ty) and q (spec 01 §3.3).
    """
def shape3d(pdm: Pdm, q: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    """
    3-D shape mean + V q, (3n,) float32 [X.., Y.., Z..] (spec 01 §3.3).
    """
def simd_level() -> str:
    """
    SIMD level of the fast kernels in this process: 'generic', 'avx2' or 'avx512' (the best the CPU supports, capped by $FASTCLNF_SIMD).
    """
def simd_levels() -> list[str]:
    """
    SIMD levels this CPU and build can run, lowest first.
    """
def view_index(scale: CcnfScale, rx: typing.SupportsFloat | typing.SupportsIndex, ry: typing.SupportsFloat | typing.SupportsIndex, rz: typing.SupportsFloat | typing.SupportsIndex) -> int:
    """
    Index of the view whose (pitch, yaw, roll) centre is nearest (float, ties to the lowest index; spec 01 §6).
    """
def warp_aoi(img: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], x: typing.SupportsFloat | typing.SupportsIndex, y: typing.SupportsFloat | typing.SupportsIndex, a: typing.SupportsFloat | typing.SupportsIndex, b: typing.SupportsFloat | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex, exact: bool = False) -> numpy.typing.NDArray[numpy.float32]:
    """
    W x W area of interest centred on (x, y): out[v, u] = img(x + a(u-c) - b(v-c), y + b(u-c) + a(v-c)), c = (W-1)/2, bilinear with constant-0 border. Default: OpenCV-4.x 1/32-px fixed-point sampling (the reference, spec 01 §5.2); exact=True: float positions (OpenCV 5 kernels).
    """
