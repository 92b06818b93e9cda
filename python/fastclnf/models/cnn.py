"""OpenFace's binary CNN layer records, shared by the MTCNN ``.dat`` files and the validator.

Both formats store a network as typed layer records (spec 03 §1.2, spec 02 §5.6); the convolution
and fully-connected payloads are identical, the other type codes differ:

==== ============================== ===============================
code MTCNN ``.dat``                 validator (type-3 file)
==== ============================== ===============================
0    convolution                    convolution
1    max-pool, 4 × int32 payload    max-pool 2×2/2, no payload
2    fully connected                fully connected
3    PReLU, slopes Matrix           ReLU, no payload
4    sigmoid                        sigmoid
==== ============================== ===============================

`Cursor` reads little-endian binary data and turns every problem (truncation, an impossible
count or size, an unknown type code) into a `ModelError` naming the file, the byte offset and
what was expected. Counts are checked against the bytes that remain *before* anything is
allocated, so a garbage count can neither hang the reader nor allocate gigabytes.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterable, Tuple

import numpy as np

from ..errors import ModelError

__all__ = [
    "Cursor", "Conv", "MaxPool", "FullyConnected", "PReLU", "ReLU", "Sigmoid",
    "read_layers", "parameter_count", "output_shape", "pooled_size", "core_layers",
]

# OpenCV type codes that an OpenFace binary Matrix record may carry, with their element dtype.
MAT_DTYPES = {0: np.dtype("<u1"), 4: np.dtype("<i4"), 5: np.dtype("<f4"), 6: np.dtype("<f8")}
FLOAT_TYPES = (0, 4, 5, 6)  # spec 03 §1.2: the reader accepts these; only 5 occurs in MTCNN


class Cursor:
    """Sequential reader over the bytes of one model file."""

    def __init__(self, path: str, data: bytes):
        self.path = str(path)
        self.data = memoryview(data)
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def error(self, problem: str, at: int | None = None) -> ModelError:
        where = f"byte {self.pos if at is None else at}"
        return ModelError(self.path, where, problem)

    def _take(self, n: int, what: str) -> memoryview:
        if n > self.remaining:
            raise self.error(f"{what}: expected {n} more bytes, file has {self.remaining} left "
                             f"(truncated?)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def i32(self, what: str) -> int:
        return struct.unpack("<i", self._take(4, what))[0]

    def f64(self, what: str) -> float:
        return struct.unpack("<d", self._take(8, what))[0]

    def count(self, what: str, lo: int, hi: int, bytes_each: int = 0) -> int:
        """An int32 count in [lo, hi] whose `bytes_each`-byte items still fit in the file."""
        at = self.pos
        n = self.i32(what)
        if not lo <= n <= hi:
            raise self.error(f"{what}: expected a count in [{lo}, {hi}], found {n}", at)
        if n * bytes_each > self.remaining:
            raise self.error(f"{what} = {n} needs at least {n * bytes_each} more bytes, file has "
                             f"{self.remaining} left (truncated or corrupt)", at)
        return n

    def expect_i32(self, what: str, allowed: Iterable[int]) -> int:
        at = self.pos
        v = self.i32(what)
        allowed = tuple(allowed)
        if v not in allowed:
            raise self.error(f"{what}: expected one of {list(allowed)}, found {v}", at)
        return v

    def array(self, n: int, dtype: np.dtype, what: str) -> np.ndarray:
        """n raw little-endian elements (a copy, so the file buffer can be released)."""
        dtype = np.dtype(dtype)
        raw = self._take(n * dtype.itemsize, what)
        return np.frombuffer(raw, dtype=dtype, count=n).copy()

    def mat(self, what: str, *, types: Tuple[int, ...] = FLOAT_TYPES, out: str = "<f4",
            rows: int | None = None, cols: int | None = None,
            max_dim: int = 1 << 24) -> np.ndarray:
        """One Matrix record: int32 rows, cols, OpenCV type, then rows·cols elements row-major.

        `rows`/`cols` given means the size is known and checked; the result is converted to
        `out` and has shape (rows, cols).
        """
        at = self.pos
        r = self.count(f"{what} rows", 0, max_dim)
        c = self.count(f"{what} cols", 0, max_dim)
        t_at = self.pos
        t = self.i32(f"{what} type")
        if t not in types:
            raise self.error(f"{what}: expected Matrix type in {list(types)}, found {t}", t_at)
        if (rows is not None and r != rows) or (cols is not None and c != cols):
            raise self.error(f"{what}: expected a {rows if rows is not None else '?'} x "
                             f"{cols if cols is not None else '?'} Matrix, found {r} x {c}", at)
        dt = MAT_DTYPES[t]
        if r * c * dt.itemsize > self.remaining:
            raise self.error(f"{what}: {r} x {c} Matrix of type {t} needs {r * c * dt.itemsize} "
                             f"bytes, file has {self.remaining} left", at)
        a = self.array(r * c, dt, what).reshape(r, c)
        return np.ascontiguousarray(a, dtype=np.dtype(out))

    def finish(self) -> None:
        """Every byte must be consumed (spec 03 §1.2 / 02 §5.6: the files end exactly)."""
        if self.remaining:
            raise self.error(f"expected end of file, {self.remaining} unread bytes remain")


@dataclass(frozen=True)
class Conv:
    """Valid cross-correlation, stride 1 (spec 03 §1.3).

    weights: (n_out, n_in, kh, kw) float32, i.e. transposed from the file's c-major record
    order so that one output map's kernels are contiguous (the GEMM row of the core).
    bias: (n_out,) float32.
    """

    weights: np.ndarray
    bias: np.ndarray

    @property
    def n_in(self) -> int:
        return self.weights.shape[1]

    @property
    def n_out(self) -> int:
        return self.weights.shape[0]


@dataclass(frozen=True)
class MaxPool:
    """Max-pool with windows truncated at the bottom/right edge (spec 03 §1.3)."""

    kx: int
    ky: int
    sx: int
    sy: int


@dataclass(frozen=True)
class FullyConnected:
    """y = weightsᵀ·v + bias; weights (n_in, n_out) float32 as stored, bias (n_out,)."""

    weights: np.ndarray
    bias: np.ndarray

    @property
    def n_in(self) -> int:
        return self.weights.shape[0]

    @property
    def n_out(self) -> int:
        return self.weights.shape[1]


@dataclass(frozen=True)
class PReLU:
    """y = x for x ≥ 0, else slope·x; slopes (C,) float32, one per channel or element."""

    slopes: np.ndarray


@dataclass(frozen=True)
class ReLU:
    """y = max(0, x)."""


@dataclass(frozen=True)
class Sigmoid:
    """y = 1 / (1 + exp(−x))."""


def parameter_count(layers) -> int:
    """Number of learned values (kernels, biases, FC weights, PReLU slopes)."""
    n = 0
    for layer in layers:
        if isinstance(layer, (Conv, FullyConnected)):
            n += layer.weights.size + layer.bias.size
        elif isinstance(layer, PReLU):
            n += layer.slopes.size
    return n


# Upper bounds that no sane network exceeds; they only reject garbage before any allocation.
_MAX_LAYERS = 1000
_MAX_MAPS = 1 << 16


def _read_conv(cur: Cursor, i: int) -> Conv:
    n_in = cur.count(f"layer {i} conv n_in", 1, _MAX_MAPS)
    n_out = cur.count(f"layer {i} conv n_out", 1, _MAX_MAPS, bytes_each=4)
    bias = cur.array(n_out, "<f4", f"layer {i} conv biases")
    # n_in·n_out kernel records of at least 12 header bytes each must still fit.
    if n_in * n_out * 12 > cur.remaining:
        raise cur.error(f"layer {i} conv: {n_in} x {n_out} kernels cannot fit in the "
                        f"{cur.remaining} bytes left")
    kernels = None
    for c in range(n_in):
        for k in range(n_out):
            at = cur.pos
            kern = cur.mat(f"layer {i} kernel [{c}->{k}]", max_dim=4096)
            if kernels is None:
                if kern.size == 0:
                    raise cur.error(f"layer {i} kernel: expected a non-empty kernel", at)
                # The other n_in·n_out − 1 records have the same size; check before allocating.
                record = cur.pos - at
                if (n_in * n_out - 1) * record > cur.remaining:
                    raise cur.error(f"layer {i} conv: {n_in} x {n_out} kernels of "
                                    f"{kern.shape[0]} x {kern.shape[1]} cannot fit in the "
                                    f"{cur.remaining + record} bytes left", at)
                kernels = np.empty((n_out, n_in) + kern.shape, np.float32)
            elif kern.shape != kernels.shape[2:]:
                raise cur.error(f"layer {i} kernel [{c}->{k}]: expected "
                                f"{kernels.shape[2]} x {kernels.shape[3]}, found "
                                f"{kern.shape[0]} x {kern.shape[1]}", at)
            kernels[k, c] = kern
    return Conv(weights=kernels, bias=bias)


def _read_fc(cur: Cursor, i: int) -> FullyConnected:
    bias = cur.mat(f"layer {i} FC bias", cols=1)
    weights = cur.mat(f"layer {i} FC weights", cols=bias.shape[0])
    if bias.shape[0] == 0 or weights.shape[0] == 0:
        raise cur.error(f"layer {i} FC: expected non-empty bias and weights")
    return FullyConnected(weights=weights, bias=bias[:, 0].copy())


def read_layers(cur: Cursor, flavour: str) -> tuple:
    """int32 layer count, then the layer records (`flavour` is "mtcnn" or "validator")."""
    if flavour not in ("mtcnn", "validator"):
        raise ValueError(f"unknown layer flavour {flavour!r}")
    n_layers = cur.count("layer count", 1, _MAX_LAYERS, bytes_each=4)
    layers = []
    for i in range(n_layers):
        t = cur.expect_i32(f"layer {i} type", (0, 1, 2, 3, 4))
        if t == 0:
            layers.append(_read_conv(cur, i))
        elif t == 1 and flavour == "mtcnn":
            kx = cur.count(f"layer {i} pool kernel_x", 1, 4096)
            ky = cur.count(f"layer {i} pool kernel_y", 1, 4096)
            sx = cur.count(f"layer {i} pool stride_x", 1, 4096)
            sy = cur.count(f"layer {i} pool stride_y", 1, 4096)
            layers.append(MaxPool(kx, ky, sx, sy))
        elif t == 1:
            layers.append(MaxPool(2, 2, 2, 2))  # spec 02 §5.4: fixed 2×2, stride 2
        elif t == 2:
            layers.append(_read_fc(cur, i))
        elif t == 3 and flavour == "mtcnn":
            slopes = cur.mat(f"layer {i} PReLU slopes", cols=1)
            layers.append(PReLU(slopes=slopes[:, 0].copy()))
        elif t == 3:
            layers.append(ReLU())
        else:
            layers.append(Sigmoid())
    return tuple(layers)


def output_shape(layers, shape: tuple) -> tuple:
    """Activation shape after `layers` for an input of `shape` = (C, H, W).

    Maps stay (C, H, W); a flattened vector is (n,). Raises ValueError("layer i: ...") when a
    layer cannot take its input, so readers can reject networks the core could not run.
    """
    cur = tuple(shape)
    for i, layer in enumerate(layers):
        if isinstance(layer, Conv):
            if len(cur) != 3 or cur[0] != layer.n_in:
                raise ValueError(f"layer {i}: convolution expects {layer.n_in} maps, gets {cur}")
            kh, kw = layer.weights.shape[2:]
            if cur[1] < kh or cur[2] < kw:
                raise ValueError(f"layer {i}: {kh}x{kw} kernel larger than {cur[1]}x{cur[2]} input")
            cur = (layer.n_out, cur[1] - kh + 1, cur[2] - kw + 1)
        elif isinstance(layer, MaxPool):
            if len(cur) != 3:
                raise ValueError(f"layer {i}: max-pool needs maps, gets a vector")
            cur = (cur[0], pooled_size(cur[1], layer.ky, layer.sy),
                   pooled_size(cur[2], layer.kx, layer.sx))
            if cur[1] < 1 or cur[2] < 1:
                raise ValueError(f"layer {i}: max-pool output is empty")
        elif isinstance(layer, FullyConnected):
            if len(cur) == 3 and cur[0] == layer.n_in:
                cur = (layer.n_out, cur[1], cur[2])  # 1×1 convolution (spec 03 §1.3 case 1)
            else:
                n = int(np.prod(cur))
                if n != layer.n_in:
                    raise ValueError(f"layer {i}: fully connected expects {layer.n_in} inputs, "
                                     f"gets {cur}")
                cur = (layer.n_out,)
        elif isinstance(layer, PReLU):
            c = cur[0]
            if layer.slopes.size != c:
                raise ValueError(f"layer {i}: PReLU has {layer.slopes.size} slopes for {c} "
                                 f"channels/elements")
    return cur


def pooled_size(n: int, k: int, s: int) -> int:
    """round((n − k)/s) + 1 computed in float32, as spec 03 §1.3 (C round: half away from 0)."""
    q = float(np.float32(n - k) / np.float32(s))
    r = np.floor(abs(q) + 0.5) * (1 if q >= 0 else -1)
    return int(r) + 1


def core_layers(layers) -> list:
    """The layer records as the plain tuples the C++ core's CNN/MTCNN/Validator constructors take.

    ("conv", weights (n_out, n_in, kh, kw), bias), ("pool", kx, ky, sx, sy),
    ("fc", weights (n_in, n_out), bias), ("prelu", slopes), ("relu",), ("sigmoid",).
    """
    out = []
    for layer in layers:
        if isinstance(layer, Conv):
            out.append(("conv", layer.weights, layer.bias))
        elif isinstance(layer, MaxPool):
            out.append(("pool", layer.kx, layer.ky, layer.sx, layer.sy))
        elif isinstance(layer, FullyConnected):
            out.append(("fc", layer.weights, layer.bias))
        elif isinstance(layer, PReLU):
            out.append(("prelu", layer.slopes))
        elif isinstance(layer, ReLU):
            out.append(("relu",))
        elif isinstance(layer, Sigmoid):
            out.append(("sigmoid",))
        else:
            raise TypeError(f"not a layer record: {layer!r}")
    return out
