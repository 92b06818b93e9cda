"""Finding the OpenFace model directory and loading a model (with the derived cache).

Where the model is looked for, first match wins:

1. the ``path`` argument: a directory (its ``main_clnf_general.txt`` is used) or a main file
   such as ``main_clnf_wild.txt``; if given, nothing else is tried;
2. the environment variable ``FASTCLNF_MODEL_DIR`` (same forms); if set, nothing else is tried;
3. the defaults, in order (`default_model_dirs`):
   - the per-user cache model directory, ``$XDG_CACHE_HOME/fastclnf/model`` or
     ``~/.cache/fastclnf/model``;
   - ``./model`` (relative to the current directory);
   - ``../shared/openface/model`` (relative to the current directory);
   - ``<repository checkout>/../shared/openface/model``, found from this file's location, so
     tests and the README example work from a source checkout.

The model files are OpenFace's (research licence); fastclnf never ships them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Tuple, Union

from ..errors import ModelNotFoundError
from .cache import load_cached, save_cached, user_cache_root
from .directives import read_main_file
from .types import CLNFModelData

__all__ = ["ENV_MODEL_DIR", "DEFAULT_MAIN_FILE", "default_model_dirs", "find_model_file", "load_model_data"]

ENV_MODEL_DIR = "FASTCLNF_MODEL_DIR"
DEFAULT_MAIN_FILE = "main_clnf_general.txt"

# python/fastclnf/models/loader.py -> parents[3] is the repository root in a source checkout.
# python/fastclnf/models/loader.py -> the checkout root; an installed or frozen package may sit
# too near the filesystem root for that, then there is no checkout to look beside.
_PARENTS = Path(__file__).resolve().parents
_REPO_ROOT = _PARENTS[3] if len(_PARENTS) > 3 else None


def default_model_dirs() -> List[Path]:
    """The default model directories, in search order (evaluated now: cwd and env matter)."""
    cwd = Path.cwd()
    return [
        user_cache_root() / "model",
        cwd / "model",
        cwd.parent / "shared" / "openface" / "model",
        *([_REPO_ROOT.parent / "shared" / "openface" / "model"] if _REPO_ROOT else []),
    ]


def _main_file(candidate: Path) -> Path:
    """A directory stands for its main_clnf_general.txt; anything else is taken as the file."""
    return candidate / DEFAULT_MAIN_FILE if candidate.is_dir() else candidate


def _not_found(looked: List[Tuple[str, Path]]) -> ModelNotFoundError:
    places = "\n".join(f"  - {p}  ({why})" for why, p in looked)
    return ModelNotFoundError(
        "No OpenFace CLNF model found. Looked for a main file at:\n"
        f"{places}\n"
        "Fix: pass the model directory (or a main_*.txt file) as `path`, or set "
        f"{ENV_MODEL_DIR} to an OpenFace `lib/local/LandmarkDetector/model` directory "
        f"(the one containing {DEFAULT_MAIN_FILE})."
    )


def find_model_file(path: Union[str, Path, None] = None) -> Path:
    """Locate the main model file (see the module docstring for the search order).

    Returns an absolute path. Raises ModelNotFoundError listing every place looked at.
    """
    if path is not None:
        looked = [("the path argument", _main_file(Path(path).expanduser()))]
    elif os.environ.get(ENV_MODEL_DIR):
        looked = [(f"${ENV_MODEL_DIR}", _main_file(Path(os.environ[ENV_MODEL_DIR]).expanduser()))]
    else:
        looked = [("default", d / DEFAULT_MAIN_FILE) for d in default_model_dirs()]
    for _, candidate in looked:
        if candidate.is_file():
            return Path(os.path.abspath(candidate))
    raise _not_found(looked)


def load_model_data(path: Union[str, Path, None] = None, *, use_cache: bool = True) -> CLNFModelData:
    """Find (`find_model_file`) and load a CLNF model with its parts.

    With `use_cache`, a valid entry of the derived cache (`fastclnf.models.cache`) is returned
    instead of parsing, and after parsing the cache entry is (re)written. Raises ModelError for a
    broken model file, ModelNotFoundError if no model is found.
    """
    main = find_model_file(path)
    if use_cache:
        cached = load_cached(main)
        if cached is not None:
            return cached
    model = read_main_file(main)
    if use_cache:
        save_cached(model)
    return model
