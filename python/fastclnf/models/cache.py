"""A derived, per-user cache of parsed models: one uncompressed ``.npz`` per main file.

The cache holds every array of a `CLNFModelData` plus a JSON header (stored in the same
``.npz`` as a uint8 array, so no pickling is ever needed) describing the structure and the
*sources*: the path, size and SHA-256 of every model file that was read. A cache entry is used
only if all sources still have that size and hash, so editing or replacing any model file
invalidates it. Anything wrong with a cache file (missing, corrupt, stale, other version) makes
`load_cached` return None and the caller re-parses; caching problems are never errors.

Location: ``$FASTCLNF_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/fastclnf``, else
``~/.cache/fastclnf``. The cache never holds anything that is not derived from the user's own
model files, and is never written into the source tree.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np

from .directives import part_settings
from .types import CCNFScale, CLNFModelData, Part, PDM

__all__ = ["ENV_CACHE_DIR", "user_cache_root", "cache_dir", "cache_path", "source_files",
           "fingerprint", "save_cached", "load_cached"]

ENV_CACHE_DIR = "FASTCLNF_CACHE_DIR"
# Bump when the layout of the cache file changes. Changes to the readers or types invalidate
# caches by themselves: the header also records a hash of their source (`_reader_hash`).
FORMAT_VERSION = 1
# The modules whose code decides what a parsed model contains.
_READER_MODULES = ("binreader.py", "textmat.py", "pdm.py", "ccnf.py", "directives.py", "types.py", "cache.py")
_HEADER_KEY = "__header__"
_HASH_CHUNK = 1 << 20

_log = logging.getLogger(__name__)

_PDM_ARRAYS = ("mean", "components", "eigenvalues")
_SCALE_ARRAYS = ("view_centres", "visibility", "n_neurons", "neuron_type", "norm_weights", "bias",
                 "alpha", "weights", "betas", "confidence")
_DTYPES = {
    "mean": np.float32, "components": np.float32, "eigenvalues": np.float32,
    "view_centres": np.float64, "visibility": np.int32, "n_neurons": np.int32,
    "neuron_type": np.int32, "norm_weights": np.float64, "bias": np.float64, "alpha": np.float64,
    "weights": np.float32, "betas": np.float64, "confidence": np.float64,
    "sigma": np.float32, "mapping": np.int32,
}


def user_cache_root() -> Path:
    """``$XDG_CACHE_HOME/fastclnf`` or ``~/.cache/fastclnf`` (not affected by FASTCLNF_CACHE_DIR)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastclnf"


def cache_dir() -> Path:
    """Directory of the derived model cache: ``$FASTCLNF_CACHE_DIR`` or `user_cache_root()`."""
    override = os.environ.get(ENV_CACHE_DIR)
    return Path(override) if override else user_cache_root()


def cache_path(main_path: Union[str, Path], directory: Optional[Path] = None) -> Path:
    """The cache file for one main file: named by a hash of its absolute path, so each model has
    exactly one file that is overwritten when its sources change."""
    key = hashlib.sha256(os.path.abspath(str(main_path)).encode("utf-8")).hexdigest()[:20]
    return (directory or cache_dir()) / f"model-{key}.npz"


def source_files(model: CLNFModelData) -> List[str]:
    """Every file read to build `model`, parts included, in a fixed order without repeats.
    (Triangulations and the validator are named but not read, so they are not sources.)"""
    out: List[str] = []

    def walk(m: CLNFModelData) -> None:
        for p in (m.path, m.module_path, m.pdm.path, *(s.path for s in m.scales)):
            if p is not None and p not in out:
                out.append(p)
        for part in m.parts:
            walk(part.model)

    walk(model)
    return out


def fingerprint(paths: List[str]) -> List[dict]:
    """[{path, size, sha256}] of each file (raises OSError if one cannot be read)."""
    result = []
    for p in paths:
        h = hashlib.sha256()
        size = 0
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
                h.update(chunk)
                size += len(chunk)
        result.append({"path": p, "size": size, "sha256": h.hexdigest()})
    return result


def _sources_unchanged(sources: List[dict]) -> bool:
    # Sizes first: a cheap way to notice most changes before hashing anything.
    for s in sources:
        try:
            if os.path.getsize(s["path"]) != s["size"]:
                return False
        except OSError:
            return False
    try:
        return fingerprint([s["path"] for s in sources]) == sources
    except OSError:
        return False


@functools.lru_cache(maxsize=1)
def _reader_hash() -> str:
    """SHA-256 over the reader modules' source, so a cache written by other reader code is not
    used; falls back to the package version where the sources cannot be read."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    try:
        for name in _READER_MODULES:
            h.update((here / name).read_bytes())
    except OSError:
        from .. import __version__
        return f"version {__version__}"
    return h.hexdigest()


# -- encoding: dataclasses <-> (JSON structure, flat dict of arrays) -------------------------

def _encode(model: CLNFModelData, prefix: str, arrays: Dict[str, np.ndarray]) -> dict:
    for name in _PDM_ARRAYS:
        arrays[f"{prefix}pdm.{name}"] = getattr(model.pdm, name)
    scales = []
    for i, s in enumerate(model.scales):
        sp = f"{prefix}scale{i}."
        for name in _SCALE_ARRAYS:
            arrays[sp + name] = getattr(s, name)
        for ws, comps in s.sigma_components.items():
            arrays[f"{sp}sigma{int(ws)}"] = comps
        scales.append({"path": s.path, "patch_scaling": s.patch_scaling, "patch_width": s.patch_width,
                       "patch_height": s.patch_height, "sigma_windows": [int(w) for w in s.sigma_components]})
    parts = []
    for j, part in enumerate(model.parts):
        pp = f"{prefix}part{j}."
        arrays[pp + "mapping"] = part.mapping
        # Settings are not stored: they follow from the name (part_settings), as when parsing.
        parts.append({"name": part.name, "model": _encode(part.model, pp, arrays)})
    return {"path": model.path, "module_path": model.module_path, "validator_path": model.validator_path,
            "extra": model.extra, "pdm_path": model.pdm.path, "scales": scales, "parts": parts}


def _array(z, key: str, kind: str) -> np.ndarray:
    a = z[key]
    if a.dtype != np.dtype(_DTYPES[kind]):
        raise ValueError(f"{key}: dtype {a.dtype}")
    return np.ascontiguousarray(a)


def _decode(node: dict, prefix: str, z) -> CLNFModelData:
    pdm = PDM(path=node["pdm_path"], **{n: _array(z, f"{prefix}pdm.{n}", n) for n in _PDM_ARRAYS})
    scales = []
    for i, s in enumerate(node["scales"]):
        sp = f"{prefix}scale{i}."
        sigma = {int(ws): _array(z, f"{sp}sigma{int(ws)}", "sigma") for ws in s["sigma_windows"]}
        scales.append(CCNFScale(path=s["path"], patch_scaling=float(s["patch_scaling"]),
                                sigma_components=sigma, patch_width=int(s["patch_width"]),
                                patch_height=int(s["patch_height"]),
                                **{n: _array(z, sp + n, n) for n in _SCALE_ARRAYS}))
        _check_scale(scales[-1])
    parts = []
    for j, p in enumerate(node["parts"]):
        pp = f"{prefix}part{j}."
        parts.append(Part(name=p["name"], model=_decode(p["model"], pp, z),
                          mapping=_array(z, pp + "mapping", "mapping"), settings=part_settings(p["name"])))
    return CLNFModelData(path=node["path"], pdm=pdm, scales=tuple(scales), parts=tuple(parts),
                         validator_path=node["validator_path"], module_path=node["module_path"],
                         extra=node["extra"])


def _check_scale(s: CCNFScale) -> None:
    """Shapes must agree with each other, as the reader guarantees for parsed files."""
    v, n = s.visibility.shape
    k = s.alpha.shape[2]
    expect = {"view_centres": (v, 3), "n_neurons": (v, n), "neuron_type": (v, n, k), "norm_weights": (v, n, k),
              "bias": (v, n, k), "weights": (v, n, k, s.patch_height, s.patch_width), "confidence": (v, n)}
    for name, shape in expect.items():
        if getattr(s, name).shape != shape:
            raise ValueError(f"{name}: shape {getattr(s, name).shape}, expected {shape}")
    if s.betas.shape[:2] != (v, n):
        raise ValueError("betas shape")


# -- public ----------------------------------------------------------------------------------

def save_cached(model: CLNFModelData, directory: Optional[Path] = None) -> Optional[Path]:
    """Write the cache file for `model` atomically (temporary file + os.replace).

    Returns its path, or None if it could not be written (never raises for I/O problems:
    a cache is an optimisation).
    """
    directory = Path(directory) if directory is not None else cache_dir()
    target = cache_path(model.path, directory)
    tmp = None
    try:
        arrays: Dict[str, np.ndarray] = {}
        structure = _encode(model, "", arrays)
        header = {"format": FORMAT_VERSION, "readers": _reader_hash(), "main": os.path.abspath(model.path),
                  "sources": fingerprint(source_files(model)), "model": structure}
        arrays[_HEADER_KEY] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".model-", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, target)
        tmp = None
        return target
    except (OSError, ValueError, TypeError) as e:
        _log.warning("fastclnf: could not write the model cache %s: %s", target, e)
        return None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def load_cached(main_path: Union[str, Path], directory: Optional[Path] = None) -> Optional[CLNFModelData]:
    """The cached model for `main_path`, or None if there is no valid, up-to-date cache file."""
    path = cache_path(main_path, directory)
    if not path.is_file():
        return None
    try:
        # Open the file ourselves: np.load leaks its handle when the zip is corrupt.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            header = json.loads(bytes(z[_HEADER_KEY]).decode("utf-8"))
            if (header.get("format") != FORMAT_VERSION or header.get("readers") != _reader_hash()
                    or header.get("main") != os.path.abspath(str(main_path))):
                return None
            if not _sources_unchanged(header["sources"]):
                return None
            return _decode(header["model"], "", z)
    except Exception as e:  # noqa: BLE001 - any damage to the cache means "re-parse"
        _log.info("fastclnf: ignoring unusable model cache %s: %s", path, e)
        return None
