"""Speed of a fit, stage by stage, against the scalar reference path and against OpenFace.

    PYTHONPATH=python python3 benchmarks/speed.py [--limit N] [--repeats R] [--stages-only]
        [--detect-images N]

After the fit rows come tracking (video01.mp4, ms/frame against OpenFace's per-frame `ms`, with
success agreement and landmark distance) and MTCNN detection (the first N reference images, per
image against OpenFace's `detect_ms`, with boxes matched), so that one table covers issue 6.

Prints one table: per-stage milliseconds (fast SIMD kernels vs the scalar reference code of the
same build, same inputs), the whole fit (median over faces; ratio to OpenFace's own `ms` for
each face, median of the per-face ratios), faces/s on 1 and 2 threads, first-fit latency, and
the parity figures of the same fits. Timings are minima over repeats, fast and reference
interleaved, so that a noisy machine slows both alike; absolute milliseconds still follow the
machine's load (the probe line shows how fast a fixed scalar loop ran), ratios much less.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

import fastclnf
from fastclnf import _core
from fastclnf import fit as F
from fastclnf.metrics import inter_ocular_nme, mean_distance

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parity import SHARED, load_faces  # noqa: E402


def best_of(fn, repeats, inner=1):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best * 1e3


def probe_ms():
    """A fixed scalar workload (reference responses of one expert): how fast the CPU runs now."""
    rng = np.random.default_rng(0)
    aoi = (rng.random((21, 21)) * 255).astype(np.float32)
    scale = _probe_model._core.scales[0]
    return best_of(lambda: _core.expert_response(scale, 0, 36, aoi, 11, None, impl="reference"), 20, 20)


def stage_rows(model, faces, images, repeats):
    """(name, fast ms, reference ms) per core stage, on the landmarks of real fits."""
    core = model._core
    cases = []
    for face in faces[: min(8, len(faces))]:
        img = images[face["image"]]
        r = model.fit(img, face["bbox"])
        cases.append((img, r))
    rows = []
    specs = [("main", core, (11, 9, 7))] + [(n, p, ps.window_sizes) for n, p, _, ps in core.parts]
    for name, cm, windows in specs:
        for k, ws in enumerate(windows):
            if not ws or k >= len(cm.scales):
                continue
            sig = cm.sigmas(k, ws)
            args = []
            for img, r in cases:
                lm = (np.concatenate([r.landmarks[:, 0], r.landmarks[:, 1]]).astype(np.float32)
                      if name == "main" else np.asarray(r.parts[name]["landmarks"], np.float32))
                sig.ensure_view(0)
                args.append((img, cm.scales[k], sig, 0, ws, lm, 0.93, 0.04))
            fast = best_of(lambda: [_core.responses(*a) for a in args], repeats) / len(args)
            ref = best_of(lambda: [_core.responses(*a, impl="reference") for a in args],
                          max(2, repeats // 3)) / len(args)
            rows.append((f"responses {name} ws {ws} ({cm.n} landmarks)", fast, ref))
    # Refit of the main PDM to landmarks (spec 01 §3.8): the part-merge refit.
    lms = [np.concatenate([r.landmarks[:, 0], r.landmarks[:, 1]]).astype(np.float32) for _, r in cases]
    t = best_of(lambda: [_core.params_from_landmarks(core.pdm, lm) for lm in lms], repeats) / len(lms)
    rows.append(("params_from_landmarks main (68 points)", t, float("nan")))
    return rows


def fit_rows(model, faces, images, repeats):
    """Per face: Model.fit (fast), the schedule on the reference path, and the part split."""
    core = model._core
    sched = core.schedule(fastclnf.presets.IMAGE)
    fast = np.full(len(faces), np.inf)
    ref = np.full(len(faces), np.inf)
    results = [None] * len(faces)
    for rep in range(repeats):
        for i, face in enumerate(faces):
            img = images[face["image"]]
            t0 = time.perf_counter()
            res = model.fit(img, face["bbox"])
            fast[i] = min(fast[i], time.perf_counter() - t0)
            results[i] = res
            if rep == 0 or rep == repeats - 1:
                g, q = F.initial_params(core, face["bbox"])
                t0 = time.perf_counter()
                _core.detect_landmarks(img, sched, g, q, impl="reference")
                ref[i] = min(ref[i], time.perf_counter() - t0)
    return fast * 1e3, ref * 1e3, results


def threads_row(model, faces, images, repeats):
    ims = [images[f["image"]] for f in faces]
    boxes = [f["bbox"] for f in faces]
    best = {}
    for _ in range(repeats):
        for t in (1, 2):
            t0 = time.perf_counter()
            model.fit_batch(ims, boxes, threads=t)
            best[t] = min(best.get(t, np.inf), time.perf_counter() - t0)
    return len(faces) / best[1], len(faces) / best[2]


FIRST_FIT = r"""
import time, json, sys, cv2
t0 = time.perf_counter()
import fastclnf
m = fastclnf.load_model()
t1 = time.perf_counter()
face = json.loads(sys.argv[1])
img = fastclnf.image.to_gray(cv2.imread(sys.argv[2]))
t2 = time.perf_counter(); m.fit(img, face["bbox"]); t3 = time.perf_counter()
m.fit(img, face["bbox"]); t4 = time.perf_counter()
print(json.dumps({"import_load": (t1 - t0) * 1e3, "first": (t3 - t2) * 1e3, "second": (t4 - t3) * 1e3}))
"""


def first_fit(face):
    """Fresh process: import + model load (derived cache warm), first fit, second fit."""
    import json
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(fastclnf.__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", FIRST_FIT, json.dumps({"bbox": face["bbox"]}),
                          str(SHARED / "data" / face["image"])], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout)


def track_row(model, repeats):
    """video01: (our median ms/frame, OpenFace's, success agreement, median px) — per frame the
    minimum over `repeats` fresh trackers."""
    from video_parity import compare, load_reference, reference_videos

    for video, ref in reference_videos():
        if video.name == "video01.mp4":
            break
    else:
        return None
    rows = load_reference(ref)
    best, res = None, None
    for _ in range(repeats):
        res = compare(model, video, rows)
        best = res["ms"] if best is None else np.minimum(best, res["ms"])
    return (float(np.median(best)), float(np.median(res["ref_ms"])), float(res["agree"].mean()),
            float(np.median(res["dist"])))


def detect_rows(model, n_images, repeats):
    """MTCNN on the first `n_images` reference images: per-image ms (min over repeats) and
    OpenFace's `detect_ms`, and how many of OpenFace's boxes we match at IoU >= 0.9."""
    import json

    from detect_parity import match

    with open(SHARED / "reference" / "detections.jsonl") as f:
        records = [json.loads(line) for line in f if line.strip()][:n_images]
    ours, ref, n_ref, n_matched = [], [], 0, 0
    for rec in records:
        img = cv2.imread(str(SHARED / "data" / rec["image"]), cv2.IMREAD_COLOR)
        boxes = model.detect_faces(img)  # warm
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            model.detect_faces(img)
            best = min(best, time.perf_counter() - t0)
        ours.append(best * 1e3)
        ref.append(rec["detect_ms"])
        want = [d[:4] for d in rec["detections"]]
        n_ref += len(want)
        n_matched += len(match(want, [b[:4] for b in boxes]))
    return np.array(ours), np.array(ref), n_matched, n_ref


_probe_model = None


def main(argv=None):
    global _probe_model
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, help="first N reference faces only")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats (minimum taken)")
    ap.add_argument("--stages-only", action="store_true")
    ap.add_argument("--detect-images", type=int, default=30,
                    help="MTCNN rows over the first N reference images (0: skip)")
    args = ap.parse_args(argv)

    faces = load_faces(args.limit)
    model = _probe_model = fastclnf.load_model()
    images = {}
    for f in faces:
        if f["image"] not in images:
            images[f["image"]] = fastclnf.image.to_gray(cv2.imread(str(SHARED / "data" / f["image"])))
    for f in faces:  # warm: Sigma views, grids, schedules
        model.fit(images[f["image"]], f["bbox"])

    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"fastclnf speed: SIMD {_core.simd_level()}, {len(faces)} faces, {ncpu} CPUs, "
          f"probe {probe_ms():.3f} ms (scalar reference expert, lower = faster machine now)")
    print(f"{'stage':52s} {'fast ms':>9s} {'ref ms':>9s} {'speed-up':>9s}")
    for name, fast, ref in stage_rows(model, faces, images, args.repeats * 4):
        su = f"{ref / fast:8.1f}x" if np.isfinite(ref) else f"{'':9s}"
        rs = f"{ref:9.3f}" if np.isfinite(ref) else f"{'':9s}"
        print(f"{name:52s} {fast:9.3f} {rs} {su}")
    if args.stages_only:
        return

    fast, ref, results = fit_rows(model, faces, images, args.repeats)
    of = np.array([f["ms"] for f in faces])
    print(f"{'whole fit (Model.fit), median over faces':52s} {np.median(fast):9.3f} "
          f"{np.median(ref):9.3f} {np.median(ref / fast):8.1f}x")
    print(f"{'  OpenFace 2.2 on this machine kind (reference ms)':52s} {np.median(of):9.3f}")
    print(f"{'  ratio to OpenFace: median of per-face ratios':52s} {np.median(fast / of):9.3f} "
          f"{np.median(ref / of):9.3f}   (p10 {np.percentile(fast / of, 10):.3f}, "
          f"p90 {np.percentile(fast / of, 90):.3f})")
    one, two = threads_row(model, faces, images, max(1, args.repeats - 1))
    print(f"{'faces/s, fit_batch 1 thread / 2 threads':52s} {one:9.1f} {two:9.1f} {two / one:8.2f}x")
    ff = first_fit(faces[0])
    print(f"{'first fit in a fresh process (import+load / first / second)':52s} "
          f"{ff['import_load']:9.1f} {ff['first']:9.1f} {ff['second']:9.1f}")
    print(f"{'  OpenFace first fit (reference ms_first, this face)':52s} {faces[0]['ms_first']:9.1f}")

    tr = track_row(model, max(1, args.repeats - 1))
    if tr is not None:
        print(f"{'tracking video01 (ms/frame, median; OpenFace)':52s} {tr[0]:9.3f} {tr[1]:9.3f} "
              f"{tr[1] / tr[0]:8.1f}x   (success agreement {tr[2]:.4f}, median {tr[3]:.4f} px)")
    if args.detect_images:
        ours, ref, matched, n_ref = detect_rows(model, args.detect_images, args.repeats)
        print(f"{f'MTCNN, {len(ours)} images (ms/image, median; OpenFace)':52s} {np.median(ours):9.3f} "
              f"{np.median(ref):9.3f} {np.median(ref / ours):8.1f}x   (median per-image ratio; "
              f"{matched}/{n_ref} boxes matched)")

    d = np.array([mean_distance(r.landmarks, f["landmarks"]) for r, f in zip(results, faces)])
    eyes = np.array([mean_distance(r.eye_landmarks, np.asarray(f["eye_landmarks"]))
                     for r, f in zip(results, faces)
                     if f["params_global"][0] > 0.9 and r.eye_landmarks.shape[0] == 56])
    nme = np.mean([inter_ocular_nme(r.landmarks, f["ground_truth"]) for r, f in zip(results, faces)])
    nme_of = np.mean([inter_ocular_nme(np.asarray(f["landmarks"]), f["ground_truth"]) for f in faces])
    print(f"parity vs OpenFace: landmarks median {np.median(d):.4f} px, p95 {np.percentile(d, 95):.4f}, "
          f"max {d.max():.4f}; eyes median {np.median(eyes):.4f}, p95 {np.percentile(eyes, 95):.4f}; "
          f"NME {nme:.4f} (OpenFace {nme_of:.4f})")


if __name__ == "__main__":
    main()
