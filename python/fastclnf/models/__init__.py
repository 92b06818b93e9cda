"""Readers for OpenFace model files, one per format, and the model loader.

`load_model_data()` is the entry point; the per-format readers are public for tools and tests.
"""
from __future__ import annotations

from .ccnf import read_ccnf
from .directives import part_settings, read_main_file, read_module_file
from .loader import find_model_file, load_model_data
from .pdm import read_pdm
from .types import CCNFScale, CLNFModelData, Part, PartSettings, PDM

__all__ = [
    "load_model_data", "find_model_file",
    "read_main_file", "read_module_file", "read_pdm", "read_ccnf", "part_settings",
    "PDM", "CCNFScale", "PartSettings", "Part", "CLNFModelData",
]
