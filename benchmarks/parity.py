"""Fit every reference face from OpenFace's own box and compare with OpenFace's numbers.

    python benchmarks/parity.py [--limit N] [--preset image] [--threads 1]

Prints per-face landmark distance to OpenFace (median, p95, max), eye-landmark distance on
faces where the part models ran, initial-parameter agreement, inter-ocular NME against the
300-W ground truth (ours vs OpenFace's), timing ratios, and the 10 worst faces.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

import fastclnf
from fastclnf.metrics import inter_ocular_nme, mean_distance

SHARED = Path(os.environ.get("FASTCLNF_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def load_faces(limit=None):
    with open(SHARED / "reference" / "faces.jsonl") as f:
        faces = [json.loads(line) for line in f if line.strip()]
    return faces[:limit] if limit else faces


def run(faces, model, preset="image", timing_repeats=1):
    rows = []
    cache = {}
    for face in faces:
        path = SHARED / "data" / face["image"]
        if path not in cache:
            cache.clear()
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            cache[path] = (img, fastclnf.image.to_gray(img))
        img, gray = cache[path]
        g0, _ = model.initial_params(face["bbox"])
        best = None
        for _ in range(timing_repeats):
            t0 = time.perf_counter()
            r = model.fit(gray, face["bbox"], preset=preset)
            dt = (time.perf_counter() - t0) * 1e3
            best = dt if best is None else min(best, dt)
        ref = np.asarray(face["landmarks"])
        row = {
            "image": face["image"], "ms": best, "ref_ms": face["ms"],
            "init_err": float(np.max(np.abs(g0 - np.asarray(face["init"]["params_global"])))),
            "dist": mean_distance(r.landmarks, ref),
            "scale": float(face["params_global"][0]),
            "nme": inter_ocular_nme(r.landmarks, face["ground_truth"]),
            "ref_nme": inter_ocular_nme(ref, face["ground_truth"]),
            "converged": r.converged, "view": r.view, "ref_view": face["view_used"],
            "cert_ok": abs(r.certainty - face["detection_certainty"]) <= 0.01,
            "success_ok": r.success == face["detection_success"],
        }
        dp = np.abs(np.asarray(r.pose, np.float64) - face["pose"])
        row["pose_ok"] = bool(dp[:3].max() <= 0.5 and dp[3:].max() <= 1e-3)
        if face["params_global"][0] > 0.9 and r.eye_landmarks.shape[0] == 56:
            row["eye_dist"] = mean_distance(r.eye_landmarks, np.asarray(face["eye_landmarks"]))
        rows.append(row)
    return rows


def summarise(rows, out=sys.stdout):
    d = np.array([r["dist"] for r in rows])
    eyes = np.array([r["eye_dist"] for r in rows if "eye_dist" in r])
    init = np.array([r["init_err"] for r in rows])
    afw = [r for r in rows if "300w_afw" in r["image"]]
    ratio = np.array([r["ms"] / r["ref_ms"] for r in rows])
    p = lambda a, q: float(np.percentile(a, q)) if len(a) else float("nan")
    print(f"faces {len(rows)}", file=out)
    print(f"init params max |diff|      : {init.max():.2e}", file=out)
    print(f"landmarks vs OpenFace (px)  : median {p(d, 50):.4f}  p95 {p(d, 95):.4f}  max {d.max():.4f}", file=out)
    if len(eyes):
        print(f"eye landmarks (parts ran)   : median {p(eyes, 50):.4f}  p95 {p(eyes, 95):.4f}  max {eyes.max():.4f}  ({len(eyes)} faces)", file=out)
    print(f"view agreement              : {np.mean([r['view'] == r['ref_view'] for r in rows]):.3f}", file=out)
    print(f"validator |certainty diff| <= 0.01: {np.mean([r['cert_ok'] for r in rows]):.3f}   same success flag: {np.mean([r['success_ok'] for r in rows]):.3f}", file=out)
    print(f"pose within 1e-3 rad and 0.5 mm   : {np.mean([r['pose_ok'] for r in rows]):.3f}", file=out)
    nme_all = np.mean([r["nme"] for r in rows]); ref_all = np.mean([r["ref_nme"] for r in rows])
    print(f"NME all faces  ours {nme_all:.4f}  OpenFace {ref_all:.4f}", file=out)
    if afw:
        print(f"NME AFW faces  ours {np.mean([r['nme'] for r in afw]):.4f}  OpenFace {np.mean([r['ref_nme'] for r in afw]):.4f}", file=out)
    print(f"fit ms median ours {p(np.array([r['ms'] for r in rows]), 50):.2f}  OpenFace {p(np.array([r['ref_ms'] for r in rows]), 50):.2f}  median ratio {p(ratio, 50):.3f}", file=out)
    print("worst 10 faces:", file=out)
    for r in sorted(rows, key=lambda r: -r["dist"])[:10]:
        print(f"  {r['dist']:9.4f} px  scale {r['scale']:.3f} view {r['view']}/{r['ref_view']}  {r['image']}", file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--preset", default="image")
    ap.add_argument("--repeats", type=int, default=1, help="timing repeats per face (min taken)")
    ap.add_argument("--json", help="write per-face rows here")
    args = ap.parse_args(argv)
    model = fastclnf.load_model()
    rows = run(load_faces(args.limit), model, args.preset, args.repeats)
    summarise(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f)


if __name__ == "__main__":
    main()
