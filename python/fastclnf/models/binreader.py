"""Bounds-checked little-endian reading of OpenFace binary model files.

OpenFace binary files are a flat sequence of i32/f64 scalars and "binary matrices"
(`i32 rows, i32 cols, i32 type` + row-major data, spec 01 §4). `BinaryCursor` reads them from
an in-memory `bytes` object and checks, before every read, that the bytes exist; errors name the
file, the byte offset and what was expected. Counts read from the file are checked against the
remaining bytes before anything is allocated, so a corrupt count can never cause a huge
allocation.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple, Union

import numpy as np

from ..errors import ModelError

__all__ = ["BinaryCursor", "open_binary", "read_bytes", "BINARY_TYPE_CODES"]

# OpenCV single-channel type codes (spec 01, type table) -> little-endian numpy dtypes.
BINARY_TYPE_CODES = {
    0: np.dtype("u1"),
    1: np.dtype("i1"),
    2: np.dtype("<u2"),
    3: np.dtype("<i2"),
    4: np.dtype("<i4"),
    5: np.dtype("<f4"),
    6: np.dtype("<f8"),
}

_I32 = struct.Struct("<i")
_F64 = struct.Struct("<d")
_MAT_HEADER = struct.Struct("<iii")


@dataclass
class BinaryCursor:
    """The bytes of one file and the offset of the next unread byte."""

    path: str
    data: bytes
    pos: int = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def error(self, problem: str, pos: Union[int, None] = None) -> ModelError:
        return ModelError(self.path, f"byte {self.pos if pos is None else pos}", problem)

    def need(self, nbytes: int, what: str) -> None:
        """Raise unless `nbytes` bytes are left; `what` describes the item being read."""
        if nbytes < 0 or nbytes > self.remaining:
            raise self.error(
                f"file ends too early: expected {what} ({nbytes} bytes), "
                f"only {self.remaining} bytes left of {len(self.data)}"
            )

    def i32(self, what: str) -> int:
        self.need(4, what)
        (v,) = _I32.unpack_from(self.data, self.pos)
        self.pos += 4
        return v

    def f64(self, what: str) -> float:
        self.need(8, what)
        (v,) = _F64.unpack_from(self.data, self.pos)
        self.pos += 8
        return v

    def count(self, what: str, min_item_bytes: int, minimum: int = 0) -> int:
        """Read an i32 count and check it is >= minimum and that `count` items of at least
        `min_item_bytes` each can still fit in the file."""
        start = self.pos
        n = self.i32(what)
        if n < minimum:
            raise self.error(f"{what}: expected a count >= {minimum}, got {n}", start)
        if min_item_bytes > 0 and n * min_item_bytes > self.remaining:
            raise self.error(
                f"{what} = {n} needs at least {n * min_item_bytes} bytes but only {self.remaining} "
                "are left (the file ends too early, or the count is corrupt)",
                start,
            )
        return n

    def matrix_header(self, what: str) -> Tuple[int, int, int]:
        """Read `rows, cols, type` of a binary matrix and check the data fits in the file."""
        start = self.pos
        self.need(12, f"the header (rows, cols, type) of {what}")
        rows, cols, code = _MAT_HEADER.unpack_from(self.data, self.pos)
        if rows < 0 or cols < 0:
            raise self.error(f"{what}: negative matrix size {rows}x{cols}", start)
        if code not in BINARY_TYPE_CODES:
            raise self.error(f"{what}: unknown OpenCV type code {code}, expected 0..6", start)
        self.pos += 12
        self.need(rows * cols * BINARY_TYPE_CODES[code].itemsize, f"the {rows}x{cols} data of {what}")
        return rows, cols, code

    def matrix(self, what: str, rows: Union[int, None] = None, cols: Union[int, None] = None,
               code: Union[int, None] = None) -> np.ndarray:
        """Read a binary matrix, checking its size/type against any expected values given.

        Returns a (rows, cols) array (a copy, in native byte order).
        """
        start = self.pos
        r, c, t = self.matrix_header(what)
        expected = (rows if rows is not None else r, cols if cols is not None else c,
                    code if code is not None else t)
        if (r, c, t) != expected:
            raise self.error(
                f"{what}: expected a {expected[0]}x{expected[1]} matrix of type {expected[2]}, "
                f"found {r}x{c} of type {t}",
                start,
            )
        dtype = BINARY_TYPE_CODES[t]
        if r * c == 0:
            return np.zeros((r, c), dtype=dtype.newbyteorder("="))
        a = np.frombuffer(self.data, dtype=dtype, count=r * c, offset=self.pos)
        self.pos += r * c * dtype.itemsize
        return a.astype(dtype.newbyteorder("="), copy=True).reshape(r, c)


def read_bytes(path: Union[str, Path]) -> bytes:
    """The whole content of a model file; OS errors become ModelError(path, "open", ...), which
    the directive reader recognises to say which directive named the file."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ModelError(str(path), "open", f"cannot read the file: {e.strerror or e}") from e


def open_binary(path: Union[str, Path]) -> BinaryCursor:
    """Read a whole binary model file into a cursor."""
    return BinaryCursor(str(path), read_bytes(path))
