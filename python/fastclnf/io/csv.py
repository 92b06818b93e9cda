"""OpenFace-compatible CSV output (spec 03 §8.2-8.3) and a JSONL sibling, written atomically.

OpenFace writes one table per input: FeatureExtraction ("sequence" mode, one row per frame,
columns start `frame,face_id,timestamp,confidence,success`) and FaceLandmarkImg ("image" mode,
one row per detected face, columns start `face,confidence`). The remaining sections (gaze, eye
landmarks, pose, 2-D and 3-D landmarks, PDM parameters, AUs) are shared and can be switched off
as OpenFace's -gaze/-pose/-2Dfp/-3Dfp/-pdmparams/-aus flags do.

Rows are anything with the fields below, as mapping keys or attributes (a dict, a dataclass, a
result object):

==================  ===================================  ==============================
field               shape / type                         used by
==================  ===================================  ==============================
frame               int, 1-based                         sequence
face_id             int (image mode also accepts `face`)  both
timestamp           float seconds                        sequence
confidence          float                                both
success             bool                                 sequence
gaze                `fastclnf.gaze.Gaze`-like (gaze_0,   gaze section; None → the tool's
                    gaze_1, angle) or 8 numbers          defaults (§7 [exe])
eye_landmarks       (56, 2) px                           gaze section
eye_landmarks_3d    (56, 3) mm (§6.5)                    gaze section
pose                (6,) Tx,Ty,Tz,Rx,Ry,Rz (§6.3)        pose section
landmarks           (68, 2) px                           2-D section
landmarks_3d        (68, 3) mm (§6.5)                    3-D section
params_global       (6,) scale, rx, ry, rz, tx, ty       PDM section
params_local        (34,)                                PDM section
au_intensity /      mapping AU name → value, optional    AU section (missing → `0`)
au_presence
file                str                                  JSONL only
==================  ===================================  ==============================

Files appear only when complete: rows go to a hidden temporary file in the target directory,
which `close()` renames over the target (os.replace, atomic on one file system). On an
exception inside ``with``, the temporary file is deleted, unless `keep_partial` is set: then it
is cut back to its last complete line and renamed into place, so a Ctrl-C during a video still
leaves a valid CSV of the frames done so far. `keep_partial` defaults to True for sequences and
False for images (a failed image run leaves nothing).
"""
from __future__ import annotations

import json
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "AU_INTENSITY_NAMES",
    "AU_PRESENCE_NAMES",
    "Sections",
    "csv_header",
    "format_csv_row",
    "OpenFaceCsvWriter",
    "JsonlWriter",
]

PathLike = Union[str, "os.PathLike[str]"]
MODES = ("sequence", "image")

# §8.2 rows 8-9: AU columns sorted by name; presence has AU28 in addition.
AU_INTENSITY_NAMES: Tuple[str, ...] = tuple(
    f"AU{n:02d}" for n in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45)
)
AU_PRESENCE_NAMES: Tuple[str, ...] = tuple(
    f"AU{n:02d}" for n in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45)
)

# §7 [exe]: what each tool writes when it computed no gaze.
_DEFAULT_GAZE = {
    "image": (0.0, 0.0, -1.0, 0.0, 0.0, -1.0, 0.0, 0.0),     # FaceLandmarkImg
    "sequence": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),    # FeatureExtraction
}


@dataclass(frozen=True)
class Sections:
    """Which column groups to write (OpenFace's output flags, §8.1-8.2).

    OpenFace outputs everything when no flag is given, AUs included. fastclnf has no AU
    analyser, so `aus` is off by default; switched on, every AU cell without a value is `0`
    (§8.3), which reproduces OpenFace's full 711/714-column layout.
    """

    gaze: bool = True           # -gaze: gaze vectors, angle and eye landmarks (needs eye models)
    pose: bool = True           # -pose
    landmarks_2d: bool = True   # -2Dfp
    landmarks_3d: bool = True   # -3Dfp
    pdm_params: bool = True     # -pdmparams
    aus: bool = False           # -aus

    @classmethod
    def openface_default(cls) -> "Sections":
        """Every section, as OpenFace writes without output flags."""
        return cls(aus=True)


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def csv_header(
    mode: str = "sequence",
    sections: Sections = Sections(),
    n_landmarks: int = 68,
    n_modes: int = 34,
    n_eye_landmarks: int = 56,
    file_column: bool = False,
) -> List[str]:
    """Column names in OpenFace 2.2's order (§8.2).

    `n_eye_landmarks` = 0 means no eye model, which drops the gaze section as OpenFace does.
    `file_column` prepends a `file` column (fastclnf's image CLI: one table for many images).
    """
    _check_mode(mode)
    cols: List[str] = ["file"] if file_column else []
    cols += (
        ["frame", "face_id", "timestamp", "confidence", "success"]
        if mode == "sequence"
        else ["face", "confidence"]
    )
    if sections.gaze and n_eye_landmarks > 0:
        cols += [f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"]
        cols += ["gaze_angle_x", "gaze_angle_y"]
        for prefix in ("x", "y", "X", "Y", "Z"):
            cols += [f"eye_lmk_{prefix}_{i}" for i in range(n_eye_landmarks)]
    if sections.pose:
        cols += [f"pose_{c}" for c in ("Tx", "Ty", "Tz", "Rx", "Ry", "Rz")]
    if sections.landmarks_2d:
        for prefix in ("x", "y"):
            cols += [f"{prefix}_{i}" for i in range(n_landmarks)]
    if sections.landmarks_3d:
        for prefix in ("X", "Y", "Z"):
            cols += [f"{prefix}_{i}" for i in range(n_landmarks)]
    if sections.pdm_params:
        cols += ["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"]
        cols += [f"p_{i}" for i in range(n_modes)]
    if sections.aus:
        cols += [f"{au}_r" for au in AU_INTENSITY_NAMES]
        cols += [f"{au}_c" for au in AU_PRESENCE_NAMES]
    return cols


# ------------------------------------------------------------------------------------------------
# Row formatting

_MISSING = object()


def _field(row: Any, name: str, default: Any = _MISSING) -> Any:
    """`row[name]` for mappings, `row.name` otherwise; `default` (or an error) if absent/None."""
    value = row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)
    if value is None:
        if default is _MISSING:
            raise ValueError(f"CSV row has no {name!r} (needed by the enabled columns)")
        return default
    return value


def _array(row: Any, name: str, shape: Tuple[int, ...]) -> np.ndarray:
    value = np.asarray(_field(row, name), dtype=np.float64)
    if value.size != int(np.prod(shape)):
        raise ValueError(f"CSV row field {name!r} has shape {value.shape}, expected {shape}")
    return value.reshape(shape)


def _fixed(values: Iterable[float], digits: int) -> List[str]:
    """printf("%.Nf") of each value widened to double (§8.3): fixed point, '.', '-0.0' kept."""
    fmt = f"%.{digits}f"
    return [fmt % v for v in values]


def _by_column(points: np.ndarray) -> List[float]:
    """(k, d) points → all of coordinate 0, then all of coordinate 1, ... (OpenFace's layout)."""
    return points.T.reshape(-1).tolist()


def _gaze_values(row: Any, mode: str) -> List[float]:
    gaze = row.get("gaze") if isinstance(row, Mapping) else getattr(row, "gaze", None)
    if gaze is None:
        return list(_DEFAULT_GAZE[mode])
    if all(hasattr(gaze, a) for a in ("gaze_0", "gaze_1", "angle")):
        flat = np.concatenate(
            [np.ravel(gaze.gaze_0), np.ravel(gaze.gaze_1), np.ravel(gaze.angle)]
        )
    else:
        flat = np.ravel(np.asarray(gaze, dtype=np.float64))
    if flat.size != 8:
        raise ValueError(
            f"CSV row field 'gaze' has {flat.size} values, expected 8 "
            "(gaze_0 xyz, gaze_1 xyz, angle xy) or an object with gaze_0/gaze_1/angle"
        )
    return np.asarray(flat, dtype=np.float64).tolist()


def _au_values(row: Any, name: str, names: Sequence[str], digits: int) -> List[str]:
    values = row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)
    if values is None:
        return ["0"] * len(names)  # §8.3: a `0` per column when no AU output exists
    return [("%.*f" % (digits, float(values[au]))) if au in values else "0" for au in names]


def _quote(text: str) -> str:
    """RFC 4180 quoting for free text (file names may hold commas or quotes)."""
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def format_csv_row(
    row: Any,
    mode: str = "sequence",
    sections: Sections = Sections(),
    n_landmarks: int = 68,
    n_modes: int = 34,
    n_eye_landmarks: int = 56,
    file_column: bool = False,
) -> List[str]:
    """The cells of one row as strings, matching `csv_header` with the same arguments (§8.3)."""
    _check_mode(mode)
    cells: List[str] = [_quote(str(_field(row, "file")))] if file_column else []
    if mode == "sequence":
        cells += [
            "%d" % int(_field(row, "frame")),
            "%d" % int(_field(row, "face_id", 0)),
            "%.3f" % float(_field(row, "timestamp", 0.0)),
            "%.2f" % float(_field(row, "confidence")),
            "1" if bool(_field(row, "success")) else "0",
        ]
    else:
        face = _field(row, "face_id", None)
        if face is None:
            face = _field(row, "face")
        cells += ["%d" % int(face), "%.3f" % float(_field(row, "confidence"))]
    if sections.gaze and n_eye_landmarks > 0:
        gaze = _gaze_values(row, mode)
        cells += _fixed(gaze[:6], 6) + _fixed(gaze[6:], 3)
        cells += _fixed(_by_column(_array(row, "eye_landmarks", (n_eye_landmarks, 2))), 1)
        cells += _fixed(_by_column(_array(row, "eye_landmarks_3d", (n_eye_landmarks, 3))), 1)
    if sections.pose:
        pose = _array(row, "pose", (6,)).tolist()
        cells += _fixed(pose[:3], 1) + _fixed(pose[3:], 3)
    if sections.landmarks_2d:
        cells += _fixed(_by_column(_array(row, "landmarks", (n_landmarks, 2))), 1)
    if sections.landmarks_3d:
        cells += _fixed(_by_column(_array(row, "landmarks_3d", (n_landmarks, 3))), 1)
    if sections.pdm_params:
        cells += _fixed(_array(row, "params_global", (6,)).tolist(), 3)
        cells += _fixed(_array(row, "params_local", (n_modes,)).tolist(), 3)
    if sections.aus:
        cells += _au_values(row, "au_intensity", AU_INTENSITY_NAMES, 2)
        cells += _au_values(row, "au_presence", AU_PRESENCE_NAMES, 1)
    return cells


# ------------------------------------------------------------------------------------------------
# Atomic line files


class _AtomicLineFile:
    """A text file written line by line to a temporary sibling and renamed into place on close.

    Only whole lines are ever counted as written: `_committed` is the byte length of the
    complete lines, so a partial commit can cut off anything after it.
    """

    def __init__(self, path: PathLike, keep_partial: bool):
        self.path = Path(path)
        self.keep_partial = bool(keep_partial)
        directory = self.path.parent
        if not directory.is_dir():
            raise FileNotFoundError(f"output directory {str(directory)!r} does not exist")
        self._tmp = directory / f".{self.path.name}.{uuid.uuid4().hex[:12]}.part"
        # os.open with 0o666 lets the umask decide the final permissions (mkstemp would force 0600).
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        self._file = os.fdopen(fd, "wb")
        self._committed = 0
        self._open = True

    @property
    def temp_path(self) -> Path:
        """Where the rows go until `close()`."""
        return self._tmp

    @property
    def closed(self) -> bool:
        return not self._open

    def _write_line(self, line: str) -> None:
        if not self._open:
            raise ValueError(f"write to closed writer for {str(self.path)!r}")
        data = (line + "\n").encode("utf-8")
        self._file.write(data)  # one call per line: an interrupt lands between lines
        self._committed += len(data)

    def close(self) -> Path:
        """Flush, sync and rename the file into place; returns the final path. Idempotent."""
        if self._open:
            self._open = False
            try:
                self._file.flush()
                self._file.truncate(self._committed)
                os.fsync(self._file.fileno())
            finally:
                self._file.close()
            os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard everything written; no file appears at `path`. Idempotent."""
        if self._open:
            self._open = False
            try:
                self._file.close()
            finally:
                try:
                    os.unlink(self._tmp)
                except FileNotFoundError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None or self.keep_partial:
            self.close()
        else:
            self.abort()
        return False  # never swallow the exception

    def __del__(self):
        # A writer dropped without close() leaves no stray temporary file.
        try:
            self.abort()
        except Exception:
            pass


class OpenFaceCsvWriter(_AtomicLineFile):
    """OpenFace-compatible CSV, header first, one `write(row)` per face/frame (§8.2-8.3).

    >>> with OpenFaceCsvWriter("out/video.csv", mode="sequence") as w:   # doctest: +SKIP
    ...     for row in results:
    ...         w.write(row)

    `keep_partial` (default: True for "sequence", False for "image") decides what an exception
    inside ``with`` leaves: the CSV of the rows written so far, or nothing.
    """

    def __init__(
        self,
        path: PathLike,
        mode: str = "sequence",
        sections: Sections = Sections(),
        keep_partial: Optional[bool] = None,
        n_landmarks: int = 68,
        n_modes: int = 34,
        n_eye_landmarks: int = 56,
        file_column: bool = False,
    ):
        self.mode = _check_mode(mode)
        self.sections = sections
        self._dims = dict(n_landmarks=n_landmarks, n_modes=n_modes,
                          n_eye_landmarks=n_eye_landmarks, file_column=file_column)
        self.header = csv_header(mode, sections, **self._dims)
        self.rows_written = 0
        super().__init__(path, mode == "sequence" if keep_partial is None else keep_partial)
        self._write_line(",".join(self.header))

    def write(self, row: Any) -> None:
        """Format and append one row; a row that cannot be formatted raises and writes nothing."""
        cells = format_csv_row(row, self.mode, self.sections, **self._dims)
        self._write_line(",".join(cells))
        self.rows_written += 1

    def write_many(self, rows: Iterable[Any]) -> None:
        for row in rows:
            self.write(row)


# ------------------------------------------------------------------------------------------------
# JSONL

# Known fields in output order; a mapping's other keys follow in their own order.
_JSON_FIELDS = (
    "file", "frame", "face_id", "timestamp", "confidence", "success",
    "landmarks", "eye_landmarks", "landmarks_3d", "eye_landmarks_3d",
    "params_global", "params_local", "pose", "gaze",
)


def _jsonable(value: Any) -> Any:
    """numpy → plain JSON values. float32 is printed as its shortest round-trip decimal (0.1, not
    0.10000000149011612); NaN/inf become null (JSON has none)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if all(hasattr(value, a) for a in ("gaze_0", "gaze_1", "angle")):
        return {k: _jsonable(getattr(value, k)) for k in ("gaze_0", "gaze_1", "angle")}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (np.ndarray, np.floating, float, list, tuple)):
        arr = np.asarray(value)
        if arr.dtype == object or arr.dtype.kind in "US":
            return [_jsonable(v) for v in value]
        if arr.dtype.kind in "iub":
            return arr.tolist()
        if arr.dtype == np.float32:
            # str(np.float32) is the shortest string that reads back as the same float32.
            conv = lambda v: float(str(v)) if np.isfinite(v) else None  # noqa: E731
            flat = [conv(v) for v in arr.reshape(-1)]
        else:
            flat = [v if math.isfinite(v) else None
                    for v in arr.astype(np.float64).reshape(-1).tolist()]
        if arr.ndim == 0:
            return flat[0]
        return np.array(flat, dtype=object).reshape(arr.shape).tolist()
    return value


class JsonlWriter(_AtomicLineFile):
    """One JSON object per line, same fields as the CSV rows (arrays as nested lists).

    Same atomicity as `OpenFaceCsvWriter`; `keep_partial` defaults to True, since every complete
    line of a JSONL file is valid on its own.
    """

    def __init__(self, path: PathLike, keep_partial: bool = True):
        self.rows_written = 0
        super().__init__(path, keep_partial)

    def write(self, row: Any) -> None:
        out = {}
        for name in _JSON_FIELDS:
            value = row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)
            if value is not None:
                out[name] = _jsonable(value)
        if isinstance(row, Mapping):
            for name, value in row.items():
                if name not in _JSON_FIELDS:
                    out[str(name)] = _jsonable(value)
        self._write_line(json.dumps(out, allow_nan=False, separators=(",", ":")))
        self.rows_written += 1

    def write_many(self, rows: Iterable[Any]) -> None:
        for row in rows:
            self.write(row)
