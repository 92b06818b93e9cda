"""The `fastclnf image` command end to end, and the image pipeline on awkward inputs."""
from __future__ import annotations

import csv
import shutil

import cv2
import numpy as np
import pytest

import fastclnf
from fastclnf.cli import main
from fastclnf.io.csv import csv_header

from conftest import DATA_DIR


@pytest.fixture(scope="module")
def model(model_dir):
    return fastclnf.load_model(model_dir)


def test_image_command_writes_openface_csv(tmp_path, model_dir, capsys):
    src = DATA_DIR / "images" / "openface_samples"
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("sample1.jpg", "sample3.jpg", "sample3_16bit_gray.png"):
        shutil.copy(src / name, folder / name)
    (folder / "notes.png").write_text("this is not an image")
    out = tmp_path / "r.csv"
    code = main(["image", str(folder), "--models", str(model_dir), "--out", str(out),
                 "--overlay", str(tmp_path / "ov")])
    err = capsys.readouterr().err
    assert code == 1 and "notes.png" in err and "skipped" in err  # reported, run continues
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    header = csv_header("image", file_column=True)
    assert rows[0] == header and len(header) == 3 + 8 + 280 + 6 + 136 + 204 + 40
    assert len(rows) == 1 + 3  # one face per image
    data = [dict(zip(header, r)) for r in rows[1:]]
    assert {Path_name(d["file"]) for d in data} == {"sample1.jpg", "sample3.jpg", "sample3_16bit_gray.png"}
    for d in data:
        assert float(d["confidence"]) > 0.725
        xs = np.array([float(d[f"x_{i}"]) for i in range(68)])
        assert np.all(np.isfinite(xs)) and xs.min() > 0
    assert sorted(p.name for p in (tmp_path / "ov").iterdir()) == [
        "sample1.png", "sample3.png", "sample3_16bit_gray.png"]
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary left behind


def Path_name(p: str) -> str:
    from pathlib import Path

    return Path(p).name


def test_image_command_leaves_nothing_on_failure(tmp_path, model_dir, monkeypatch):
    out = tmp_path / "r.csv"

    def boom(*a, **k):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(fastclnf.Model, "detect", boom)
    with pytest.raises(RuntimeError):
        main(["image", str(DATA_DIR / "images" / "openface_samples" / "sample1.jpg"),
              "--models", str(model_dir), "--out", str(out)])
    assert list(tmp_path.iterdir()) == []


def test_image_command_no_files(tmp_path, capsys):
    assert main(["image", str(tmp_path)]) == 2
    assert "no image files" in capsys.readouterr().err


def test_grayscale_16bit_and_colour_give_the_same_faces(model):
    src = DATA_DIR / "images" / "openface_samples"
    colour = cv2.imread(str(src / "sample3.jpg"))
    rgb16 = cv2.imread(str(src / "sample3_16bit_rgb.png"), cv2.IMREAD_UNCHANGED)
    assert rgb16.dtype == np.uint16
    a = model.detect(colour)
    b = model.detect((rgb16 // 256).astype(np.uint8))
    assert len(a) == len(b) == 1
    assert np.abs(a[0].landmarks - b[0].landmarks).max() < 2.0


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (40, 30, 3), (12, 2000, 3)])
def test_tiny_images_have_no_faces(model, shape):
    assert model.detect(np.zeros(shape, np.uint8)) == []


def test_huge_blank_image(model):
    img = np.full((3000, 4000, 3), 128, np.uint8)
    assert model.detect(img) == []


def test_bad_detector_input(model):
    with pytest.raises(TypeError):
        model.detect(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match="detector"):
        model.detect_faces(np.zeros((100, 100), np.uint8), detector="hog")


def _iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_haar_detector_agrees_with_mtcnn(model):
    img = cv2.imread(str(DATA_DIR / "images" / "openface_samples" / "sample2.jpg"))
    haar = model.detect_faces(img, detector="haar")
    mtcnn = model.detect_faces(img)
    assert haar.shape == (1, 5) and haar[0, 4] == 1.0
    # OpenFace's conversion constants put the Haar box in the convention the fit expects.
    assert max(_iou(haar[0], m) for m in mtcnn) > 0.6
    assert model.fit(img, haar[0, :4]).success
