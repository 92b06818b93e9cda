"""Shared test fixtures: where the research-licensed data lives (never in the repository)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FASTCLNF_SHARED", REPO.parent / "shared")).resolve()
MODEL_DIR = SHARED / "openface" / "model"
DATA_DIR = SHARED / "data"
REFERENCE_DIR = SHARED / "reference"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"research data not found at {path} (set FASTCLNF_SHARED)")
    return path


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return _need(MODEL_DIR)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _need(DATA_DIR)


@pytest.fixture(scope="session")
def reference_faces() -> list:
    path = _need(REFERENCE_DIR / "faces.jsonl")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
