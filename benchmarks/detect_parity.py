#!/usr/bin/env python3
"""MTCNN detection parity against OpenFace 2.2 (reference/detections.jsonl), all images.

For every image: run `detect_faces_mtcnn`, match our boxes to OpenFace's one-to-one (greedy by
IoU, highest first), and report over all images:
  matched %  – OpenFace boxes with a match of IoU ≥ 0.9,
  extra %    – our boxes without such a match, relative to the number of OpenFace boxes,
  mean IoU   – over the matched pairs,
  ms/image   – our detection time (median of --repeat runs after a warm-up) vs OpenFace's
               `detect_ms` (median of repeats, 2-core reference machine, one thread).

Usage: PYTHONPATH=python python3 benchmarks/detect_parity.py [--shared ../shared] [--repeat 3]
       [--limit N] [--verbose]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))


def iou(a, b) -> float:
    """IoU of two [x, y, w, h] boxes (continuous coordinates)."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def match(ref, ours, thr: float = 0.9):
    """Greedy one-to-one matching; returns [(i_ref, j_ours, iou)] with iou ≥ thr."""
    pairs = sorted(((iou(r, o), i, j) for i, r in enumerate(ref) for j, o in enumerate(ours)),
                   reverse=True)
    used_r, used_o, out = set(), set(), []
    for v, i, j in pairs:
        if v < thr:
            break
        if i in used_r or j in used_o:
            continue
        used_r.add(i)
        used_o.add(j)
        out.append((i, j, v))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    import cv2

    from fastclnf.detect import detect_faces_mtcnn, prepare_mtcnn
    from fastclnf.models.mtcnn import read_mtcnn

    shared = Path(args.shared)
    nets = prepare_mtcnn(read_mtcnn(shared / "openface/model/mtcnn_detector"))
    records = [json.loads(l) for l in open(shared / "reference/detections.jsonl") if l.strip()]
    if args.limit:
        records = records[:args.limit]

    n_ref = n_ours = n_matched = 0
    ious, ms_ours, ms_ref, bad, diffs = [], [], [], [], []
    noface_false = 0
    for rec in records:
        img = cv2.imread(str(shared / "data" / rec["image"]), cv2.IMREAD_COLOR)
        ref = [d[:4] for d in rec["detections"]]
        ours = detect_faces_mtcnn(nets, img)  # warm-up and result
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            detect_faces_mtcnn(nets, img)
            times.append((time.perf_counter() - t0) * 1e3)
        ms_ours.append(float(np.median(times)) if times else float("nan"))
        ms_ref.append(rec["detect_ms"])
        m = match(ref, ours[:, :4].tolist())
        n_ref += len(ref)
        n_ours += len(ours)
        n_matched += len(m)
        ious += [v for _, _, v in m]
        for i, j, _ in m:
            diffs.append(np.abs(np.asarray(rec["detections"][i]) - ours[j]).max())
        if rec["image"].startswith("images/noface/") and not ref and len(ours):
            noface_false += 1
        if len(m) != len(ref) or len(ours) != len(ref):
            bad.append((rec["image"], len(ref), len(ours), len(m)))
        if args.verbose:
            print(f"{rec['image']}: ref {len(ref)} ours {len(ours)} matched {len(m)} "
                  f"ms {ms_ours[-1]:.1f} (ref {rec['detect_ms']:.1f})", flush=True)

    extra = n_ours - n_matched
    print(f"images: {len(records)}   OpenFace boxes: {n_ref}   ours: {n_ours}")
    print(f"matched (IoU >= 0.9): {n_matched}/{n_ref} = {100.0 * n_matched / max(n_ref, 1):.2f} %")
    print(f"extra boxes: {extra} = {100.0 * extra / max(n_ref, 1):.2f} % of OpenFace's")
    print(f"mean IoU of matched: {np.mean(ious) if ious else float('nan'):.5f}   "
          f"min {np.min(ious) if ious else float('nan'):.5f}")
    print(f"max |difference| of matched [x, y, w, h, score]: "
          f"{np.max(diffs) if diffs else float('nan'):.3g}   "
          f"exactly equal (float32 print precision 1e-4): {sum(d < 1e-4 for d in diffs)}/{len(diffs)}")
    print(f"noface images with false detections: {noface_false}")
    print(f"ms/image ours: median {np.median(ms_ours):.1f}  mean {np.mean(ms_ours):.1f}   "
          f"OpenFace: median {np.median(ms_ref):.1f}  mean {np.mean(ms_ref):.1f}")
    if bad:
        print("images with differences (image, ref, ours, matched):")
        for b in bad:
            print("  ", *b)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
