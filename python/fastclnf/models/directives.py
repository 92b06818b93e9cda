"""Main and module directive files: which PDM, CCNF scales and parts make a model.

A *main* file (e.g. ``main_clnf_general.txt``, spec 01 §1.2) names one module file
(``LandmarkDetector``), part models (``LandmarkDetector_part``, themselves main files) and the
failure checker (``DetectionValidator``). A *module* file (e.g. ``clnf_general.txt``,
spec 01 §1.3) names the PDM and one CCNF patch-expert file per scale. Paths are relative to
the directory of the file that names them.

`read_main_file` reads the whole tree and returns a `CLNFModelData`. A file named by a
directive that cannot be read raises ModelError naming the directive, its line and the file
holding it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, List, Optional, Tuple, TypeVar, Union

import numpy as np

from ..errors import ModelError
from .ccnf import read_ccnf
from .pdm import read_pdm
from .textmat import open_text
from .types import CCNFScale, CLNFModelData, Part, PartSettings, PDM

__all__ = ["read_main_file", "read_module_file", "part_settings", "PART_SETTINGS", "DEFAULT_PART_SETTINGS"]

# Fitting settings of part models by name (spec 01 §1.5, spec 02 §1.5). Only `inner`,
# `left_eye_28` and `right_eye_28` are named by shipped main files; the others are kept so a
# custom main file using them behaves as OpenFace would.
PART_SETTINGS = {
    "inner": PartSettings(window_sizes=(9,), sigma=1.75, reg_factor=2.5, weight_factor=2.5),
    "left_eye_28": PartSettings(window_sizes=(3, 5, 9), sigma=1.0, reg_factor=0.5, weight_factor=0.0),
    "right_eye_28": PartSettings(window_sizes=(3, 5, 9), sigma=1.0, reg_factor=0.5, weight_factor=0.0),
    "left_eye": PartSettings(window_sizes=(5, 3), sigma=2.0, reg_factor=0.1, weight_factor=0.0),
    "right_eye": PartSettings(window_sizes=(5, 3), sigma=2.0, reg_factor=0.1, weight_factor=0.0),
    "mouth": PartSettings(window_sizes=(7, 7), sigma=2.0, reg_factor=1.0, weight_factor=0.0),
    "brow": PartSettings(window_sizes=(11, 9), sigma=3.5, reg_factor=10.0, weight_factor=0.0),
}
# Any other name keeps the default parameter object, which OpenFace builds as for the CE-CLM
# model: sigma 1.5 * 1.5, reg_factor 25 * 0.9, init windows [11, 9, 7, 5] (spec 01 §1.5, 02 §1.1).
DEFAULT_PART_SETTINGS = PartSettings(window_sizes=(11, 9, 7, 5), sigma=2.25, reg_factor=22.5, weight_factor=0.0)

# Parts of parts are allowed (the format is recursive) but a cycle or a silly depth is an error.
_MAX_PART_DEPTH = 4

_T = TypeVar("_T")


def part_settings(name: str) -> PartSettings:
    """Fitting settings for a part model called `name` (spec 01 §1.5)."""
    return PART_SETTINGS.get(name, DEFAULT_PART_SETTINGS)


def _resolve(base_file: str, relative: str) -> str:
    """Resolve a path named in `base_file` against that file's directory (absolute stays)."""
    return os.path.normpath(os.path.join(os.path.dirname(base_file), relative))


def _read_named(reader: Callable[[str], _T], path: str, directive: str, referrer: str, line: int) -> _T:
    """Run `reader(path)`; if the file cannot be opened, say which directive named it, where.
    (Files opened deeper down are wrapped by their own directive, so only `path` matches.)"""
    try:
        return reader(path)
    except ModelError as e:
        if e.where != "open" or e.path != path:
            raise
        raise ModelError(path, f"named by '{directive}' on line {line} of {referrer}", e.problem) from e


def read_module_file(path: Union[str, Path], referrer: Optional[str] = None,
                     referrer_line: int = 0) -> Tuple[PDM, Tuple[CCNFScale, ...], dict]:
    """Read a module file: its PDM, its CCNF scales in file order, and extra information.

    Per line the first token is the directive and the path is the rest of the line with its
    first character removed, then a trailing CR removed (spec 01 §1.3 quirk: paths may contain
    spaces; a doubled separator would leave a leading space). Triangulations are recorded in
    ``extra['triangulations']`` but not read (fitting does not use them); SVR/CE-CLM directives
    are recorded in ``extra['ignored']``.
    """
    path = os.path.abspath(str(path))
    if referrer is None:
        cur = open_text(path)
    else:
        cur = _read_named(open_text, path, "LandmarkDetector", referrer, referrer_line)
    pdm: Optional[PDM] = None
    scales: List[CCNFScale] = []
    scale_lines: List[int] = []
    extra: dict = {"triangulations": None, "ignored": []}
    for lineno, line in enumerate(cur.text.split("\n"), 1):
        m = re.match(r"\s*(\S+)", line)
        if m is None:
            continue
        directive = m.group(1)
        named = line[m.end() + 1:]
        if named.endswith("\r"):
            named = named[:-1]
        if directive in ("PDM", "PatchesCCNF", "Triangulations") and not named:
            raise ModelError(path, f"line {lineno}", f"'{directive}' must be followed by a file path")
        if directive == "PDM":
            if pdm is not None:
                raise ModelError(path, f"line {lineno}", "a second 'PDM' directive (expected exactly one)")
            pdm = _read_named(read_pdm, _resolve(path, named), directive, path, lineno)
        elif directive == "PatchesCCNF":
            scales.append(_read_named(read_ccnf, _resolve(path, named), directive, path, lineno))
            scale_lines.append(lineno)
        elif directive == "Triangulations":
            extra["triangulations"] = _resolve(path, named)
        else:
            extra["ignored"].append(f"{os.path.basename(path)}:{lineno}: {directive}")
    end = f"line {cur.line(len(cur.text))} (end of file)"
    if pdm is None:
        raise ModelError(path, end, "no 'PDM' directive: expected a CLNF module file such as clnf_general.txt")
    if not scales:
        raise ModelError(path, end, "no 'PatchesCCNF' directive: fastclnf needs CCNF patch experts "
                                    "(CLM/CE-CLM module files are not supported; use main_clnf_*.txt)")
    for scale, lineno in zip(scales, scale_lines):
        if scale.n != pdm.n:
            raise ModelError(path, f"line {lineno}", f"PatchesCCNF file {scale.path} has {scale.n} "
                                                     f"landmarks, expected {pdm.n} like the PDM {pdm.path}")
    return pdm, tuple(scales), extra


def _parse_pairs(tokens: List[str], path: str, lineno: int) -> np.ndarray:
    """Integer (main, part) pairs after a part's name. Every complete pair is used (spec 01
    §1.2 quirk: the C++ could append a garbage pair on a trailing space; we do not)."""
    values = []
    for t in tokens:
        if not re.fullmatch(r"[+-]?\d+", t):
            raise ModelError(path, f"line {lineno}",
                             f"LandmarkDetector_part: expected integer index pairs, found {t[:40]!r}")
        values.append(int(t))
    values = values[: len(values) // 2 * 2]
    return np.array(values, dtype=np.int64).reshape(-1, 2)


def read_main_file(path: Union[str, Path], *, _stack: Tuple[str, ...] = ()) -> CLNFModelData:
    """Read a main file (spec 01 §1.2) and everything it names, parts included (recursively).

    Directives: ``LandmarkDetector <module file>`` (exactly one),
    ``LandmarkDetector_part <main file> <name> (<main_idx> <part_idx>)*``,
    ``DetectionValidator <file>`` (its resolved path is recorded, the file is not read here).
    ``FaceDetConversion`` and unknown directives are ignored, as in OpenFace.
    """
    path = os.path.abspath(str(path))
    cur = open_text(path)

    module: Optional[Tuple[PDM, Tuple[CCNFScale, ...], dict]] = None
    module_path: Optional[str] = None
    validator_path: Optional[str] = None
    raw_parts: List[Tuple[str, CLNFModelData, np.ndarray, int]] = []
    ignored: List[str] = []
    for lineno, line in enumerate(cur.text.split("\n"), 1):
        tokens = line.split()  # also drops a trailing CR
        if not tokens:
            continue
        directive = tokens[0]
        known = directive in ("LandmarkDetector", "LandmarkDetector_part", "DetectionValidator")
        if known and len(tokens) < 2:
            raise ModelError(path, f"line {lineno}", f"'{directive}' must be followed by a file path")
        if directive == "LandmarkDetector":
            if module is not None:
                raise ModelError(path, f"line {lineno}", "a second 'LandmarkDetector' directive (expected exactly one)")
            module_path = _resolve(path, tokens[1])
            module = read_module_file(module_path, path, lineno)
        elif directive == "LandmarkDetector_part":
            if len(tokens) < 3:
                raise ModelError(path, f"line {lineno}", "LandmarkDetector_part: expected '<file> <name> pairs...'")
            part_path = _resolve(path, tokens[1])
            pairs = _parse_pairs(tokens[3:], path, lineno)
            chain = _stack + (path,)
            if part_path in chain:
                raise ModelError(path, f"line {lineno}", "part models refer to each other in a cycle: "
                                 + " -> ".join(chain + (part_path,)))
            if len(chain) > _MAX_PART_DEPTH:
                raise ModelError(path, f"line {lineno}", f"parts nested deeper than {_MAX_PART_DEPTH} levels")
            part_model = _read_named(lambda p: read_main_file(p, _stack=chain), part_path, directive, path, lineno)
            raw_parts.append((tokens[2], part_model, pairs, lineno))
        elif directive == "DetectionValidator":
            validator_path = _resolve(path, tokens[1])
        else:
            # FaceDetConversion has no handler in OpenFace (spec 01 §1.2 quirk), nor do unknown lines.
            ignored.append(f"{os.path.basename(path)}:{lineno}: {directive}")

    if module is None:
        raise ModelError(path, f"line {cur.line(len(cur.text))} (end of file)",
                         "no 'LandmarkDetector' directive: expected a main file such as main_clnf_general.txt")
    pdm, scales, module_extra = module

    parts = []
    for name, part_model, pairs, lineno in raw_parts:
        bad = (pairs[:, 0] < 0) | (pairs[:, 0] >= pdm.n) | (pairs[:, 1] < 0) | (pairs[:, 1] >= part_model.pdm.n)
        if bad.any():
            a, b = pairs[int(np.flatnonzero(bad)[0])]
            raise ModelError(path, f"line {lineno}",
                             f"part '{name}': pair ({a}, {b}) out of range, expected main index < {pdm.n} "
                             f"and part index < {part_model.pdm.n}")
        parts.append(Part(name=name, model=part_model, mapping=np.ascontiguousarray(pairs, dtype=np.int32),
                          settings=part_settings(name)))

    extra = {
        "triangulations": module_extra["triangulations"],
        "ignored": module_extra["ignored"] + ignored,
        # Set by *_eye_28 parts in OpenFace; informational only (spec 01 §1.5).
        "eye_model": any(p.name.endswith("_eye_28") for p in parts),
    }
    return CLNFModelData(path=path, pdm=pdm, scales=scales, parts=tuple(parts),
                         validator_path=validator_path, module_path=module_path, extra=extra)
