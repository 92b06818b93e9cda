"""A/B timing of two builds of fastclnf on a noisy shared machine.

    PYTHONPATH=python python3 benchmarks/ab_builds.py BEFORE AFTER
        [--what responses|fits|both|track] [--repeats R] [--rounds N] [--limit N] [--cpu K]

BEFORE and AFTER are directories that hold a `fastclnf` package with its compiled `_core` (e.g.
a copy of python/ from another worktree, or /tmp/x/ with fastclnf/ copied in and the other
build's _core*.so dropped into it). One persistent worker process per build; every timed item is
run by both workers back to back (order flipped from item to item), best of R, so that both
builds see the same machine load:

* responses: `_core.responses` of every model scale (main ws 11/9/7, inner ws 9, eye ws 3/5) at
  the landmarks of 8 fitted reference faces, mean ms per call over the faces;
* fits: `Model.fit` with the image preset on all 343 reference faces (or --limit), the median of
  the per-face ratio AFTER/BEFORE and each build's median ratio to OpenFace's `ms` (as
  benchmarks/parity.py prints it);
* track: a Tracker over video01.mp4's 300 frames in chunks of 10, chunks interleaved between the
  workers (both trackers see the same frames in the same order), best of --rounds passes per
  chunk; ms per frame and the ratio.

--cpu K pins both workers to CPU K (same core, so neither gets a quieter one). An A/A run (the
same directory twice) shows the noise floor.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def worker():
    import cv2

    sys.path.insert(0, str(HERE))
    import fastclnf
    from fastclnf import _core
    from parity import SHARED, load_faces

    faces = load_faces()
    model = fastclnf.load_model()
    core = model._core
    cache = {}

    def gray(name):
        if name not in cache:
            cache.clear()
            cache[name] = fastclnf.image.to_gray(cv2.imread(str(SHARED / "data" / name), cv2.IMREAD_COLOR))
        return cache[name]

    # Response stages at the landmarks of 8 fits (left eye only: the right one is the same).
    picked = faces[::7][:8]
    fitted = [(fastclnf.image.to_gray(cv2.imread(str(SHARED / "data" / f["image"]), cv2.IMREAD_COLOR)), f)
              for f in picked]
    fitted = [(img, model.fit(img, f["bbox"])) for img, f in fitted]
    stages = []
    specs = [("main", core, (11, 9, 7))] + [(n, p, ps.window_sizes) for n, p, _, ps in core.parts]
    for name, cm, windows in specs:
        if name.startswith("right"):
            continue
        for k, ws in enumerate(windows):
            if not ws or k >= len(cm.scales):
                continue
            sig = cm.sigmas(k, ws)
            sig.ensure_view(0)
            args = []
            for img, r in fitted:
                lm = (np.concatenate([r.landmarks[:, 0], r.landmarks[:, 1]]).astype(np.float32)
                      if name == "main" else np.asarray(r.parts[name]["landmarks"], np.float32))
                args.append((img, cm.scales[k], sig, 0, ws, lm, 0.93, 0.04))
            stages.append((f"{name} ws {ws} ({cm.n} landmarks)", args))
    print(len(stages), len(faces), flush=True)
    frames, tracker = [], None
    for line in sys.stdin:
        kind, a, b, reps = line.split()
        a, b, reps = int(a), int(b), int(reps)
        if kind == "t":  # chunk a of 10 frames; chunk 0 starts a new pass
            if tracker is None:
                cap = cv2.VideoCapture(str(SHARED / "data" / "videos" / "torchopenface" / "video01.mp4"))
                while True:
                    ok, frame = cap.read()
                    if not ok:
                        break
                    frames.append(frame)
                tracker = fastclnf.Tracker(model)
                for frame in frames:  # warm the Sigma views and KDE grids
                    tracker.update(frame)
            if a == 0:
                tracker.reset()
            t0 = time.perf_counter()
            for frame in frames[10 * a: 10 * a + 10]:
                tracker.update(frame)
            print(f"chunk {a}\t{(time.perf_counter() - t0) * 1e3}", flush=True)
            continue
        if kind == "r":
            label, args = stages[a]
            fn = lambda: _core.responses(*args[b])  # noqa: E731
        else:
            f = faces[a]
            label, img = f["image"], gray(f["image"])
            fn = lambda: model.fit(img, f["bbox"])  # noqa: E731
        fn()
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        print(f"{label}\t{best * 1e3}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--what", choices=("responses", "fits", "both", "track"), default="both")
    ap.add_argument("--repeats", type=int, default=5, help="best of R per item (fits: 3)")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the response items")
    ap.add_argument("--limit", type=int, help="first N faces for the fits")
    ap.add_argument("--cpu", type=int, help="pin both workers to this CPU")
    args = ap.parse_args()
    # Workers are keyed by position, so an A/A run (the same directory twice) gets two workers.
    dirs = (args.before, args.after)
    builds = (0, 1)
    procs = {}
    pin = ["taskset", "-c", str(args.cpu)] if args.cpu is not None else []
    for d in builds:
        env = dict(os.environ, PYTHONPATH=str(Path(dirs[d]).resolve()))
        procs[d] = subprocess.Popen(pin + [sys.executable, __file__, "--worker"], env=env,
                                    text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    counts = [procs[d].stdout.readline().split() for d in builds][0]
    n_stages, n_faces = int(counts[0]), int(counts[1])

    def ask(d, cmd):
        procs[d].stdin.write(cmd + "\n")
        procs[d].stdin.flush()
        label, ms = procs[d].stdout.readline().rstrip("\n").split("\t")
        return label, float(ms)

    def both(cmd, flip):
        out = {}
        for d in (builds[::-1] if flip else builds):
            out[d] = ask(d, cmd)
        return out

    if args.what in ("responses", "both"):
        best, labels = {}, {}
        for rd in range(args.rounds):
            for s in range(n_stages):
                for c in range(8):
                    for d, (label, ms) in both(f"r {s} {c} {args.repeats}", (c + rd) % 2).items():
                        best[d, s, c] = min(best.get((d, s, c), float("inf")), ms)
                        labels[s] = label
        print(f"{'responses (ms per call, 8 faces)':34s} {'before':>8s} {'after':>8s}  after/before")
        tot = [0.0, 0.0]
        for s in range(n_stages):
            a, b = (sum(best[d, s, c] for c in range(8)) / 8 for d in builds)
            tot[0] += a
            tot[1] += b
            print(f"{labels[s]:34s} {a:8.3f} {b:8.3f}  {b / a:.3f}")
        print(f"{'sum':34s} {tot[0]:8.3f} {tot[1]:8.3f}  {tot[1] / tot[0]:.3f}")
    if args.what in ("fits", "both"):
        sys.path.insert(0, str(HERE))
        from parity import load_faces

        faces = load_faces(args.limit)
        ms = {d: [] for d in builds}
        for i in range(min(len(faces), n_faces)):
            for d, (_, t) in both(f"f {i} 0 {min(args.repeats, 3)}", i % 2).items():
                ms[d].append(t)
        of = np.array([f["ms"] for f in faces])
        for tag, d in zip(("before", "after"), builds):
            m = np.array(ms[d])
            print(f"fits {tag:6s}: median {np.median(m):.3f} ms, median ratio to OpenFace {np.median(m / of):.4f}")
        r = np.array(ms[builds[1]]) / np.array(ms[builds[0]])
        print(f"fits after/before per face: median {np.median(r):.3f} "
              f"(p25 {np.percentile(r, 25):.3f}, p75 {np.percentile(r, 75):.3f})")
    if args.what == "track":
        best = {}
        for rd in range(args.rounds):
            for c in range(30):
                for d, (_, t) in both(f"t {c} 0 1", (c + rd) % 2).items():
                    best[d, c] = min(best.get((d, c), float("inf")), t)
        a, b = (np.array([best[d, c] for c in range(30)]) for d in builds)
        print(f"track video01: before {a.sum() / 300:.3f} ms/frame, after {b.sum() / 300:.3f} "
              f"ms/frame (best of {args.rounds} per 10-frame chunk); after/before {b.sum() / a.sum():.3f}, "
              f"median chunk ratio {np.median(b / a):.3f}")
    for p in procs.values():
        p.stdin.close()
        p.wait()


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker()
    else:
        main()
