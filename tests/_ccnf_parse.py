"""Minimal CCNF patch-expert reader for the core tests (binary format of spec 01 §4).

A stand-in so the CCNF core can be tested before `fastclnf.models.ccnf.read_ccnf` lands; it
produces the same `CCNFScale` dataclass. No error reporting beyond asserts.
"""
from __future__ import annotations

import struct

import numpy as np

from fastclnf.models.types import CCNFScale

_DTYPES = {0: np.uint8, 1: np.int8, 2: np.uint16, 3: np.int16, 4: np.int32, 5: np.float32,
           6: np.float64}


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def i32(self) -> int:
        (v,) = struct.unpack_from("<i", self.data, self.pos)
        self.pos += 4
        return v

    def f64(self) -> float:
        (v,) = struct.unpack_from("<d", self.data, self.pos)
        self.pos += 8
        return v

    def matrix(self) -> np.ndarray:
        rows, cols, typ = self.i32(), self.i32(), self.i32()
        dt = np.dtype(_DTYPES[typ]).newbyteorder("<")
        a = np.frombuffer(self.data, dtype=dt, count=rows * cols, offset=self.pos)
        self.pos += rows * cols * dt.itemsize
        return a.reshape(rows, cols).astype(dt.newbyteorder("="))


def read_ccnf_for_tests(path) -> CCNFScale:
    with open(path, "rb") as f:
        r = _Reader(f.read())
    patch_scaling = r.f64()
    V = r.i32()
    centres = np.stack([r.matrix()[:, 0] for _ in range(V)]) * (np.pi / 180.0)
    vis = np.stack([r.matrix()[:, 0] for _ in range(V)]).astype(np.int32)
    n = vis.shape[1]
    sigma_components = {}
    B = None
    for _ in range(r.i32()):
        ws, ns = r.i32(), r.i32()
        comps = [r.matrix() for _ in range(ns)]
        sigma_components[ws] = (np.stack(comps).astype(np.float32) if comps
                                else np.zeros((0, ws * ws, ws * ws), np.float32))
        if B is None:
            B = ns
    B = B or 0
    experts = []
    w = h = None
    for _ in range(V * n):
        tag, ew, eh, K = r.i32(), r.i32(), r.i32(), r.i32()
        assert tag == 5
        if K == 0:
            r.i32()
            experts.append(None)
            continue
        w, h = ew, eh
        neurons = []
        for _ in range(K):
            assert r.i32() == 2
            ntype = r.i32()
            nw, bias, alpha = r.f64(), r.f64(), r.f64()
            W = r.matrix()
            assert W.shape == (eh, ew)
            neurons.append((ntype, nw, bias, alpha, W.astype(np.float32)))
        betas = [r.f64() for _ in range(B)]
        conf = r.f64()
        experts.append((neurons, betas, conf))
    assert r.pos == len(r.data), "trailing bytes"
    Kmax = max(len(e[0]) for e in experts if e is not None)
    n_neurons = np.zeros((V, n), np.int32)
    ntype = np.zeros((V, n, Kmax), np.int32)
    nwt = np.zeros((V, n, Kmax))
    bias = np.zeros((V, n, Kmax))
    alpha = np.zeros((V, n, Kmax))
    weights = np.zeros((V, n, Kmax, h, w), np.float32)
    betas = np.zeros((V, n, B))
    conf = np.zeros((V, n))
    for idx, e in enumerate(experts):
        if e is None:
            continue
        v, i = divmod(idx, n)
        neurons, bs, c = e
        n_neurons[v, i] = len(neurons)
        for k, (t, a_nw, a_b, a_al, W) in enumerate(neurons):
            ntype[v, i, k] = t
            nwt[v, i, k] = a_nw
            bias[v, i, k] = a_b
            alpha[v, i, k] = a_al
            weights[v, i, k] = W
        betas[v, i] = bs
        conf[v, i] = c
    return CCNFScale(path=str(path), patch_scaling=patch_scaling, view_centres=centres,
                     visibility=vis, sigma_components=sigma_components, patch_width=w,
                     patch_height=h, n_neurons=n_neurons, neuron_type=ntype, norm_weights=nwt,
                     bias=bias, alpha=alpha, weights=weights, betas=betas, confidence=conf)
