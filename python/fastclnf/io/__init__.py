"""Result output: OpenFace-compatible CSV and JSONL writers (spec 03 §8)."""
from __future__ import annotations

from .csv import (
    AU_INTENSITY_NAMES,
    AU_PRESENCE_NAMES,
    JsonlWriter,
    OpenFaceCsvWriter,
    Sections,
    csv_header,
    format_csv_row,
)

__all__ = [
    "AU_INTENSITY_NAMES",
    "AU_PRESENCE_NAMES",
    "JsonlWriter",
    "OpenFaceCsvWriter",
    "Sections",
    "csv_header",
    "format_csv_row",
]
