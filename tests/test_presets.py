"""Presets: the frozen settings, and the 'wild' preset doing what it is for."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

import fastclnf
from fastclnf.metrics import inter_ocular_nme
from fastclnf.presets import IMAGE, WILD, FitSettings, resolve

from conftest import DATA_DIR


def test_presets_are_frozen_and_copyable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        IMAGE.sigma = 2.0
    s = dataclasses.replace(IMAGE, iterations=10)
    assert s.iterations == 10 and IMAGE.iterations == 5
    assert resolve("wild") is WILD and resolve(s) is s
    assert WILD.windows[:3] == (15, 13, 11) and WILD.multi_view and WILD.weight_factor == 2.5


@pytest.mark.parametrize("kwargs", [dict(windows=()), dict(windows=(10, 9)), dict(iterations=0),
                                    dict(sigma=0.0), dict(windows=(11, -9))])
def test_bad_settings_rejected(kwargs):
    with pytest.raises(ValueError):
        FitSettings(**kwargs)


def test_wild_preset_recovers_faces_the_image_preset_misses(model_dir, reference_faces):
    model = fastclnf.load_model(model_dir)
    # Faces OpenFace's image settings fit badly (NME > 0.15): larger windows and 11 rotation
    # hypotheses should do clearly better on them.
    hard = [f for f in reference_faces
            if inter_ocular_nme(f["landmarks"], f["ground_truth"]) > 0.15][:4]
    assert len(hard) == 4
    ours, theirs = [], []
    for f in hard:
        img = cv2.imread(str(DATA_DIR / f["image"]))
        r = model.fit(img, f["bbox"], preset="wild")
        ours.append(inter_ocular_nme(r.landmarks, f["ground_truth"]))
        theirs.append(inter_ocular_nme(f["landmarks"], f["ground_truth"]))
    assert np.mean(ours) < 0.7 * np.mean(theirs), (ours, theirs)
