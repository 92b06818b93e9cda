#!/usr/bin/env python3
"""CNN validator parity against OpenFace 2.2: certainty on OpenFace's own final landmarks.

For every face of reference/faces.jsonl (and, with --videos, every tracked frame of
reference/videos/*.jsonl) feed OpenFace's final `landmarks` and `params_global[1:4]` to
`validate` on the OpenCV-4.x grayscale image and compare with `detection_certainty` /
`detection_success` (certainty > 0.725). Prints |Δ| ≤ 0.01 %, same-flag %, and ms per call.

Usage: PYTHONPATH=python python3 benchmarks/validator_parity.py [--shared ../shared] [--videos]
"""
from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))


def gray_opencv4(bgr: np.ndarray) -> np.ndarray:
    """OpenCV 4.x fixed-point BGR→gray: (9798·R + 19235·G + 3735·B + 16384) >> 15."""
    b, g, r = (bgr[..., i].astype(np.int64) for i in range(3))
    return ((9798 * r + 19235 * g + 3735 * b + 16384) >> 15).astype(np.uint8)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--videos", action="store_true", help="also every tracked video frame")
    args = ap.parse_args()

    import cv2

    from fastclnf.models.validator import read_validator
    from fastclnf.validate import prepare_validator, validate

    shared = Path(args.shared)
    val = prepare_validator(read_validator(shared / "openface/model/detection_validation/validator_cnn.txt"))

    def score(items):
        close = flag = 0
        ms = []
        for gray, rec in items:
            t0 = time.perf_counter()
            c = validate(val, gray, np.asarray(rec["landmarks"]), rec["params_global"][1:4])
            ms.append((time.perf_counter() - t0) * 1e3)
            close += abs(c - rec["detection_certainty"]) <= 0.01
            flag += (c > 0.725) == bool(rec["detection_success"])
        return len(ms), close, flag, ms

    faces = [json.loads(l) for l in open(shared / "reference/faces.jsonl") if l.strip()]
    cache = {}

    def face_items():
        for f in faces:
            if f["image"] not in cache:
                cache[f["image"]] = gray_opencv4(cv2.imread(str(shared / "data" / f["image"]), cv2.IMREAD_COLOR))
            yield cache[f["image"]], f

    n, close, flag, ms = score(face_items())
    print(f"faces: {n}   |Δcertainty| <= 0.01: {close}/{n} = {100.0 * close / n:.2f} %   "
          f"same success flag: {flag}/{n} = {100.0 * flag / n:.2f} %   "
          f"ms/call median {np.median(ms):.3f}")

    if args.videos:
        for path in sorted(glob.glob(str(shared / "reference/videos/*.jsonl"))):
            name = Path(path).name[:-len(".jsonl")].replace("__", "/")
            cap = cv2.VideoCapture(str(shared / "data" / name))
            recs = [json.loads(l) for l in open(path) if l.strip()]

            def frames():
                for r in recs:
                    ok, frame = cap.read()
                    if not ok:
                        return
                    if r.get("landmarks") and r.get("tracking_initialised_after", True):
                        yield gray_opencv4(frame), r

            n, close, flag, ms = score(frames())
            print(f"{name}: frames {n}   |Δ| <= 0.01: {100.0 * close / max(n, 1):.2f} %   "
                  f"same flag: {100.0 * flag / max(n, 1):.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
