"""Reader for CCNF patch-expert files (binary, little-endian, spec 01 §4).

One file is one scale of a model. Layout (spec 01 §4.1):

    f64 patch_scaling
    i32 V;  V x matrix(3x1, f64) view centres in degrees (pitch, yaw, roll)
            V x matrix(n x 1, i32) visibility
    i32 N_w; N_w x { i32 ws, i32 N_s, N_s x matrix(ws^2 x ws^2, f32) }   sigma components
    V x n patch experts, view-major (spec 01 §4.2):
        i32 tag=5, i32 width, i32 height, i32 K
        K == 0: i32 (unused)                      -> empty expert, nothing else
        K  > 0: K x neuron, B x f64 betas, f64 patch_confidence
    neuron: i32 tag=2, i32 type, f64 norm_weights, f64 bias, f64 alpha, matrix(h x w, f32)

A neuron's byte size depends only on its expert's patch size, so a Python loop only walks the
expert headers; all neuron blocks are then decoded with one structured `np.frombuffer` and
validated vectorised. The file must be consumed exactly.
"""
from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import List, NamedTuple, Union

import numpy as np

from ..errors import ModelError
from .binreader import BinaryCursor, open_binary
from .types import CCNFScale

__all__ = ["read_ccnf"]

EXPERT_TAG = 5
NEURON_TAG = 2
# Neuron types: 0 = raw intensity (every shipped file), 3 = depth (spec 01 §4.2).
NEURON_TYPES = (0, 3)
_F32 = 5
_F64 = 6
_I32 = 4

# i32 tag, i32 type, 3 x f64, matrix header (3 x i32); the h*w float32 weights follow.
_NEURON_FIXED_BYTES = 4 + 4 + 3 * 8 + 12
_EXPERT_HEADER_BYTES = 16
# Refuse to pack experts densely if that needs far more memory than the file holds (possible
# only with a corrupt file, e.g. one expert with a huge neuron count and many empty ones).
_DENSE_SLACK_BYTES = 1 << 24


def _neuron_dtype(h: int, w: int) -> np.dtype:
    return np.dtype([
        ("tag", "<i4"), ("type", "<i4"),
        ("norm_weights", "<f8"), ("bias", "<f8"), ("alpha", "<f8"),
        ("rows", "<i4"), ("cols", "<i4"), ("mtype", "<i4"),
        ("weights", "<f4", (h, w)),
    ])


class _Experts(NamedTuple):
    """Every non-empty expert of a file, decoded; arrays are in file (view-major) order."""

    view: np.ndarray         # (E,) int: view index of each non-empty expert
    landmark: np.ndarray     # (E,) int: landmark index
    count: np.ndarray        # (E,) int: neuron count K
    neurons: np.ndarray      # (sum K,) structured `_neuron_dtype`, expert after expert
    betas: np.ndarray        # (E, B) float64
    confidence: np.ndarray   # (E,) float64
    patch_size: tuple        # (h, w)


def read_ccnf(path: Union[str, Path]) -> CCNFScale:
    """Read one CCNF patch-expert file (one scale) into a `CCNFScale`.

    View centres are converted from degrees to radians in float64. The number of betas per
    expert, B, is N_s of the first window-size block (0 when there is none, as in the eye
    files, spec 01 §4.1). Empty experts (K = 0) get n_neurons 0 and zero neuron data.

    Raises ModelError naming the file, the byte offset and what was expected if the file is
    truncated, corrupt, has trailing bytes, or is not a CCNF file.
    """
    cur = open_binary(path)

    patch_scaling = cur.f64("the patch scaling (f64)")
    if not (math.isfinite(patch_scaling) and 0.0 < patch_scaling < 1e6):
        raise cur.error(
            f"expected a positive patch scaling (e.g. 0.25) at the start of a CCNF file, got "
            f"{patch_scaling!r}: not a CCNF patch-expert file?", 0)

    # Each view needs at least a 3x1 f64 matrix (36 bytes) and a visibility matrix header.
    n_views = cur.count("the number of views V", 36 + 12, minimum=1)
    centres = np.empty((n_views, 3), dtype=np.float64)
    for v in range(n_views):
        centres[v] = cur.matrix(f"the centre of view {v}", 3, 1, _F64)[:, 0]
    # Degrees -> radians in double, multiplying by pi first, then dividing by 180.
    view_centres = centres * np.pi / 180.0

    vis_rows = []
    n = None
    for v in range(n_views):
        vis_pos = cur.pos
        vis = cur.matrix(f"the visibility of view {v}", n, 1, _I32)
        if n is None:
            n = vis.shape[0]
            if n == 0:
                raise cur.error("visibility of view 0: expected at least one landmark, got 0 rows", vis_pos)
        if not np.all((vis == 0) | (vis == 1)):
            raise cur.error(f"visibility of view {v}: expected only 0/1 values", vis_pos)
        vis_rows.append(vis[:, 0])
    visibility = np.ascontiguousarray(np.stack(vis_rows).astype(np.int32))

    sigma_components, n_betas = _read_sigma_components(cur)

    experts = _read_experts(cur, n_views, n, n_betas)

    if cur.remaining:
        raise cur.error(
            f"expected the end of the file after the last patch expert, but {cur.remaining} "
            "trailing bytes follow")

    return _pack(cur, patch_scaling, view_centres, visibility, sigma_components, n_betas, experts, n)


def _read_sigma_components(cur: BinaryCursor):
    """Read the N_w window-size blocks (spec 01 §4.1 item 6).

    Returns ({ws: (N_s, ws^2, ws^2) float32}, B) where B = N_s of the first block.
    A window size listed twice keeps its first block, which is the one a search over the
    blocks in file order finds (spec 01 §5.5).
    """
    n_windows = cur.count("the number of sigma window sizes N_w", 8)
    components: dict = {}
    n_betas = 0
    for i in range(n_windows):
        ws_pos = cur.pos
        ws = cur.i32(f"the window size of sigma block {i}")
        if ws <= 0:
            raise cur.error(f"sigma block {i}: expected a positive window size, got {ws}", ws_pos)
        side = ws * ws
        n_s = cur.count(f"the number of sigma components for window size {ws}", 12 + 4 * side * side)
        mats = np.empty((n_s, side, side), dtype=np.float32)
        for s in range(n_s):
            mats[s] = cur.matrix(f"sigma component {s} of window size {ws}", side, side, _F32)
        if i == 0:
            n_betas = n_s
        components.setdefault(ws, mats)
    return components, n_betas


def _read_experts(cur: BinaryCursor, n_views: int, n: int, n_betas: int) -> _Experts:
    """Read the V x n patch experts (view-major, spec 01 §4.2).

    First a walk over the expert headers: a neuron's byte size depends only on the expert's
    patch size, so every expert's extent is known from its header and the walk never looks
    inside a neuron. Then all neuron blocks are decoded with one structured `np.frombuffer` and
    validated at once. If the walk fails, the neurons seen so far are validated first, because a
    corrupt neuron (e.g. a wrong matrix size) is what would have derailed the walk.
    """
    starts: List[int] = []   # byte offset of each non-empty expert's first neuron
    counts: List[int] = []
    index: List[tuple] = []
    patch_size = None        # (h, w) shared by every non-empty expert
    neuron_bytes = 0
    tail_bytes = 8 * n_betas + 8  # betas + patch confidence
    try:
        for v in range(n_views):
            for i in range(n):
                what = f"patch expert (view {v}, landmark {i})"
                start = cur.pos
                cur.need(_EXPERT_HEADER_BYTES, f"the header (tag, width, height, K) of {what}")
                tag, w, h, k = struct.unpack_from("<iiii", cur.data, start)
                if tag != EXPERT_TAG:
                    raise cur.error(f"{what}: expected expert tag {EXPERT_TAG}, found {tag}", start)
                if k < 0:
                    raise cur.error(f"{what}: negative neuron count K = {k}", start + 12)
                cur.pos += _EXPERT_HEADER_BYTES
                if k == 0:
                    cur.i32(f"the unused integer of empty {what}")
                    continue
                if w <= 0 or h <= 0:
                    raise cur.error(f"{what}: expected a positive patch size, got width {w}, height {h}", start)
                if patch_size is None:
                    patch_size = (h, w)
                    neuron_bytes = _NEURON_FIXED_BYTES + 4 * h * w
                elif patch_size != (h, w):
                    raise cur.error(
                        f"{what}: patch size {w}x{h} differs from the earlier experts' "
                        f"{patch_size[1]}x{patch_size[0]} (mixed sizes are not supported)", start)
                cur.need(k * neuron_bytes + tail_bytes,
                         f"{k} neurons of {neuron_bytes} bytes, {n_betas} betas and the confidence of {what}")
                starts.append(cur.pos)
                counts.append(k)
                index.append((v, i))
                cur.pos += k * neuron_bytes + tail_bytes
    except ModelError:
        if starts:
            _decode_neurons(cur, starts, counts, index, patch_size)
        raise
    h, w = patch_size if patch_size is not None else (0, 0)
    neurons = _decode_neurons(cur, starts, counts, index, patch_size) if starts else np.zeros(0, _neuron_dtype(h, w))
    tails = np.frombuffer(
        b"".join(cur.data[s + k * neuron_bytes: s + k * neuron_bytes + tail_bytes] for s, k in zip(starts, counts)),
        dtype="<f8").reshape(len(starts), n_betas + 1).astype(np.float64)
    bad = ~np.isfinite(tails).all(axis=1)
    if bad.any():
        e = int(np.flatnonzero(bad)[0])
        v, i = index[e]
        raise cur.error(f"patch expert (view {v}, landmark {i}): non-finite betas or patch confidence",
                        starts[e] + counts[e] * neuron_bytes)
    views = np.array([vi[0] for vi in index], dtype=np.intp)
    landmarks = np.array([vi[1] for vi in index], dtype=np.intp)
    return _Experts(views, landmarks, np.array(counts, dtype=np.intp), neurons,
                    tails[:, :n_betas], tails[:, n_betas], (h, w))


def _decode_neurons(cur: BinaryCursor, starts: List[int], counts: List[int], index: List[tuple],
                    patch_size: tuple) -> np.ndarray:
    """Decode the neuron blocks at `starts` and validate every neuron; raise on the first bad one
    (in file order) with its byte offset."""
    h, w = patch_size
    dtype = _neuron_dtype(h, w)
    size = dtype.itemsize
    neurons = np.frombuffer(
        b"".join(cur.data[s: s + k * size] for s, k in zip(starts, counts)), dtype=dtype)
    counts_a = np.array(counts, dtype=np.int64)
    # File offset of every neuron: its expert's start + its rank within the expert * size.
    first = np.repeat(np.array(starts, dtype=np.int64), counts_a)
    rank = np.arange(len(neurons), dtype=np.int64) - np.repeat(np.cumsum(counts_a) - counts_a, counts_a)
    offsets = first + rank * size
    finite = (np.isfinite(neurons["norm_weights"]) & np.isfinite(neurons["bias"]) & np.isfinite(neurons["alpha"])
              & np.isfinite(neurons["weights"]).reshape(len(neurons), h * w).all(axis=1))
    checks = (
        (neurons["tag"] != NEURON_TAG, f"expected neuron tag {NEURON_TAG}", "tag"),
        (~np.isin(neurons["type"], NEURON_TYPES), f"expected a neuron type in {NEURON_TYPES}", "type"),
        ((neurons["rows"] != h) | (neurons["cols"] != w) | (neurons["mtype"] != _F32),
         f"expected a {h}x{w} float32 (type {_F32}) weight matrix", "matrix"),
        (~finite, "expected finite values", "value"),
    )
    bad_any = np.zeros(len(neurons), dtype=bool)
    for bad, _, _ in checks:
        bad_any |= bad
    if bad_any.any():
        j = int(np.flatnonzero(bad_any)[0])  # first bad neuron in file order
        nj = neurons[j]
        for bad, expected, field in checks:
            if bad[j]:
                if field == "matrix":
                    found = f"found {int(nj['rows'])}x{int(nj['cols'])} of type {int(nj['mtype'])}"
                elif field == "value":
                    found = "found NaN or infinity"
                else:
                    found = f"found {int(nj[field])}"
                v, i = index[int(np.searchsorted(np.cumsum(counts_a), j, side="right"))]
                raise cur.error(f"neuron {int(rank[j])} of patch expert (view {v}, landmark {i}): "
                                f"{expected}, {found}", int(offsets[j]))
    return neurons


def _pack(cur: BinaryCursor, patch_scaling: float, view_centres: np.ndarray, visibility: np.ndarray,
          sigma_components: dict, n_betas: int, experts: _Experts, n: int) -> CCNFScale:
    """Pack the experts densely as (V, n, K, ...) arrays, K = the largest neuron count."""
    n_views = view_centres.shape[0]
    h, w = experts.patch_size
    k_max = int(experts.count.max()) if len(experts.count) else 0
    dense_bytes = n_views * n * k_max * (4 * h * w + 28)
    if dense_bytes > 8 * len(cur.data) + _DENSE_SLACK_BYTES:
        raise cur.error(
            f"neuron counts are implausible: packing {n_views}x{n}x{k_max} neurons would need "
            f"{dense_bytes} bytes for a {len(cur.data)}-byte file", 0)

    n_neurons = np.zeros((n_views, n), dtype=np.int32)
    neuron_type = np.zeros((n_views, n, k_max), dtype=np.int32)
    norm_weights = np.zeros((n_views, n, k_max), dtype=np.float64)
    bias = np.zeros((n_views, n, k_max), dtype=np.float64)
    alpha = np.zeros((n_views, n, k_max), dtype=np.float64)
    weights = np.zeros((n_views, n, k_max, h, w), dtype=np.float32)
    betas = np.zeros((n_views, n, n_betas), dtype=np.float64)
    confidence = np.zeros((n_views, n), dtype=np.float64)

    # (view, landmark, rank) of every neuron, to scatter the flat neuron list in one go.
    vv = np.repeat(experts.view, experts.count)
    ii = np.repeat(experts.landmark, experts.count)
    kk = np.arange(len(experts.neurons)) - np.repeat(np.cumsum(experts.count) - experts.count, experts.count)
    nrn = experts.neurons
    neuron_type[vv, ii, kk] = nrn["type"]
    norm_weights[vv, ii, kk] = nrn["norm_weights"]
    bias[vv, ii, kk] = nrn["bias"]
    alpha[vv, ii, kk] = nrn["alpha"]
    weights[vv, ii, kk] = nrn["weights"]
    n_neurons[experts.view, experts.landmark] = experts.count
    betas[experts.view, experts.landmark] = experts.betas
    confidence[experts.view, experts.landmark] = experts.confidence

    return CCNFScale(
        path=cur.path,
        patch_scaling=float(patch_scaling),
        view_centres=np.ascontiguousarray(view_centres),
        visibility=visibility,
        sigma_components=sigma_components,
        patch_width=int(w),
        patch_height=int(h),
        n_neurons=n_neurons,
        neuron_type=neuron_type,
        norm_weights=norm_weights,
        bias=bias,
        alpha=alpha,
        weights=weights,
        betas=betas,
        confidence=confidence,
    )
