"""OpenFace text files: comment skipping and text matrices (spec 01 §2.1).

A text file is read through a `TextCursor`: the decoded text plus a character position. The
functions here advance the cursor the way OpenFace's stream reads do, so files that rely on
its quirks (e.g. a line starting with a space being a comment) read the same.

Every error is a `ModelError` naming the file and the 1-based line where reading stopped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Union

import numpy as np

from ..errors import ModelError
from .binreader import read_bytes

__all__ = [
    "TextCursor",
    "open_text",
    "skip_comments",
    "read_int",
    "read_text_matrix",
    "at_end",
    "TEXT_TYPE_CODES",
]

# OpenCV type codes a text matrix may declare (spec 01, type table). Code 0 (uint8) is read as
# single characters by the C++, which no shipped file relies on, so it is refused.
TEXT_TYPE_CODES = {
    1: np.dtype(np.int8),
    2: np.dtype(np.uint16),
    3: np.dtype(np.int16),
    4: np.dtype(np.int32),
    5: np.dtype(np.float32),
    6: np.dtype(np.float64),
}

_TOKEN = re.compile(r"\S+")
_INT = re.compile(r"[+-]?\d+\Z")
# Characters that make `skip_comments` discard the rest of a line (spec 01 §2.1).
_COMMENT_STARTS = "#\n \r"


@dataclass
class TextCursor:
    """A decoded text file and the position of the next unread character."""

    path: str
    text: str
    pos: int = 0

    def line(self, pos: Union[int, None] = None) -> int:
        """1-based line number of `pos` (default: the cursor position), for messages."""
        p = self.pos if pos is None else pos
        return self.text.count("\n", 0, min(p, len(self.text))) + 1

    def where(self, pos: Union[int, None] = None) -> str:
        return f"line {self.line(pos)}"

    def error(self, problem: str, pos: Union[int, None] = None) -> ModelError:
        return ModelError(self.path, self.where(pos), problem)


def open_text(path: Union[str, Path]) -> TextCursor:
    """Read a whole text model file into a cursor.

    Raises ModelError when the file cannot be read or looks binary (NUL bytes), so that a
    binary file handed to a text reader fails with a clear message instead of odd parse errors.
    """
    path = str(path)
    data = read_bytes(path)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ModelError(path, f"byte {nul}", "expected a text file, found a NUL byte (binary file?)")
    # latin-1 maps every byte to one character, so decoding cannot fail and positions match bytes.
    return TextCursor(path, data.decode("latin-1"))


def skip_comments(cur: TextCursor) -> None:
    """Skip comment lines: while the next character is '#', newline, space or CR, drop the rest
    of that line including its newline (spec 01 §2.1).

    Quirk kept for parity: a line that *starts with a space* is skipped entirely, and after a
    value that ends a line the remaining newline counts as an (empty) comment line.
    """
    text, pos, end = cur.text, cur.pos, len(cur.text)
    while pos < end and text[pos] in _COMMENT_STARTS:
        nl = text.find("\n", pos)
        pos = end if nl < 0 else nl + 1
    cur.pos = pos


def at_end(cur: TextCursor) -> bool:
    """True when only whitespace is left after the cursor."""
    return cur.text[cur.pos:].strip() == ""


def _next_token(cur: TextCursor, what: str) -> str:
    m = _TOKEN.search(cur.text, cur.pos)
    if m is None:
        raise cur.error(f"file ended, expected {what}", len(cur.text))
    cur.pos = m.end()
    return m.group()


def read_int(cur: TextCursor, what: str) -> int:
    """Read one whitespace-delimited decimal integer, describing it as `what` in errors."""
    start = _TOKEN.search(cur.text, cur.pos)
    tok = _next_token(cur, what)
    if not _INT.match(tok):
        raise cur.error(f"expected {what} (an integer), found {tok[:40]!r}", start.start())
    return int(tok)


def read_text_matrix(cur: TextCursor, what: str = "matrix") -> np.ndarray:
    """Read `rows cols type` then rows*cols whitespace-separated values, row-major (spec 01 §2.1).

    Returns a (rows, cols) array in the dtype of the declared OpenCV type code. Counts are
    checked against what is left of the file *before* anything is allocated, so a garbage
    header cannot cause a huge allocation.
    """
    header_pos = _TOKEN.search(cur.text, cur.pos)
    header_pos = header_pos.start() if header_pos else len(cur.text)
    rows = read_int(cur, f"the row count of the {what}")
    cols = read_int(cur, f"the column count of the {what}")
    code = read_int(cur, f"the OpenCV type code of the {what}")
    if rows < 0 or cols < 0:
        raise cur.error(f"{what}: negative size {rows}x{cols}", header_pos)
    if code not in TEXT_TYPE_CODES:
        raise cur.error(
            f"{what}: unsupported type code {code}, expected one of "
            f"{sorted(TEXT_TYPE_CODES)} (4 = int32, 5 = float32, 6 = float64)",
            header_pos,
        )
    count = rows * cols
    # Each value needs at least one character plus a separator: a cheap upper bound that
    # rejects absurd counts without scanning the file.
    left = len(cur.text) - cur.pos
    if count > (left + 1) // 2:
        raise cur.error(
            f"{what}: header says {rows}x{cols} = {count} values but only {left} characters "
            "are left in the file",
            header_pos,
        )
    dtype = TEXT_TYPE_CODES[code]
    matches = list(islice(_TOKEN.finditer(cur.text, cur.pos), count))
    if len(matches) < count:
        raise cur.error(
            f"{what}: file ended after {len(matches)} of {rows}x{cols} = {count} values",
            len(cur.text),
        )
    tokens = [m.group() for m in matches]
    integer = dtype.kind in "iu"
    try:
        if integer:
            if not all(_INT.match(t) for t in tokens):
                raise ValueError
            values = np.array([int(t) for t in tokens], dtype=np.int64)
        else:
            # Parse as double (exact decimal rounding), then narrow: the C++ reads doubles for
            # every PDM matrix (spec 01 §2.2); float32 matrices are converted after parsing.
            values = np.array(tokens, dtype=np.float64)
    except ValueError:
        for m in matches:
            t = m.group()
            bad = not _INT.match(t) if integer else not _is_float(t)
            if bad:
                kind = "an integer" if integer else "a number"
                raise cur.error(f"{what}: expected {kind}, found {t[:40]!r}", m.start()) from None
        raise  # pragma: no cover - numpy refused something float() accepts
    if integer:
        info = np.iinfo(dtype)
        if values.size and (values.min() < info.min or values.max() > info.max):
            raise cur.error(f"{what}: value out of range for {dtype.name}", header_pos)
    elif not np.all(np.isfinite(values)):
        bad_index = int(np.flatnonzero(~np.isfinite(values))[0])
        raise cur.error(f"{what}: non-finite value {tokens[bad_index]!r}", matches[bad_index].start())
    if count:
        cur.pos = matches[-1].end()
    return values.astype(dtype).reshape(rows, cols)


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
