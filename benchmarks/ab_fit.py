"""A/B of two builds of the project on the noisy shared host: one worker process per build (each
imports its own python/fastclnf), both pinned to the same CPU, requests alternated A/B, B/A.

    python benchmarks/ab_fit.py image ROOT_A ROOT_B [ROUNDS [CPU]]
        every reference face, fitted twice per request (best kept) in each worker, faces
        interleaved; best of ROUNDS per face; prints the median of the per-face ratios B/A
    python benchmarks/ab_fit.py video ROOT_A ROOT_B [ROUNDS [CPU]]
        Tracker over video01's 300 frames, chunks of 10 frames interleaved between the workers
        (both trackers see the same frames in the same order); best of ROUNDS passes per chunk

ROOT_A / ROOT_B: checkouts with a built extension (e.g. `git worktree add --detach /tmp/base main`
and a cmake build there). An A/A run (same root twice) shows the noise floor (~0.5 %).
"""
import subprocess, sys, json, time
import numpy as np
WORKER = r'''
import sys, json, time, os
sys.path.insert(0, sys.argv[1] + "/python")
import cv2, numpy as np, fastclnf
mode = sys.argv[2]
SHARED = os.environ["FASTCLNF_SHARED"]
model = fastclnf.load_model()
if mode == "image":
    faces = [json.loads(l) for l in open(SHARED + "/reference/faces.jsonl") if l.strip()]
    imgs = {}
    for f in faces:
        if f["image"] not in imgs:
            imgs[f["image"]] = fastclnf.image.to_gray(cv2.imread(SHARED + "/data/" + f["image"]))
    for f in faces: model.fit(imgs[f["image"]], f["bbox"], preset="image")
else:
    cap = cv2.VideoCapture(SHARED + "/data/videos/torchopenface/video01.mp4")
    frames = []
    while True:
        ok, fr = cap.read()
        if not ok: break
        frames.append(fr)
    tr = fastclnf.Tracker(model)
    for fr in frames: tr.update(fr)
print("ready", flush=True)
for line in sys.stdin:
    out = []
    if mode == "image":
        k = int(line)
        f = faces[k]
        best = 1e9
        for _ in range(2):
            t0 = time.perf_counter(); model.fit(imgs[f["image"]], f["bbox"], preset="image"); best = min(best, time.perf_counter() - t0)
        out.append(best)
    else:
        k = int(line)  # chunk k of 10 frames; chunk 0 starts a new pass
        if k == 0:
            tr.reset()
        t0 = time.perf_counter()
        for fr in frames[10 * k: 10 * k + 10]: tr.update(fr)
        out.append(time.perf_counter() - t0)
    print(json.dumps(out), flush=True)
'''
mode, A, B = sys.argv[1], sys.argv[2], sys.argv[3]
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
cpu = sys.argv[5] if len(sys.argv) > 5 else "0"
import os
from pathlib import Path
env = dict(os.environ)
env.setdefault("FASTCLNF_SHARED", str(Path(__file__).resolve().parents[2] / "shared"))
ps = [subprocess.Popen(["taskset", "-c", cpu, sys.executable, "-c", WORKER, root, mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) for root in (A, B)]
for p in ps: assert p.stdout.readline().startswith("ready")
best = [None, None]
def ask(k, msg):
    ps[k].stdin.write(msg + "\n"); ps[k].stdin.flush()
    return np.array(json.loads(ps[k].stdout.readline()))
nitems = 343 if mode == "image" else 30  # faces, or chunks of 10 frames (video01: 300)
for r in range(rounds):
    ts = [[], []]
    for i in range(nitems):
        for k in ((0, 1) if (r + i) % 2 == 0 else (1, 0)):
            ts[k].append(ask(k, str(i))[0])
    for k in range(2):
        t = np.array(ts[k])
        best[k] = t if best[k] is None else np.minimum(best[k], t)
for p in ps: p.stdin.close(); p.wait()
a, b = best
if mode == "image":
    print(f"A {np.median(a)*1e3:.3f} ms  B {np.median(b)*1e3:.3f} ms (median of per-face best-of-{rounds}); per-face ratio B/A median {np.median(b/a):.4f}; sum ratio {b.sum()/a.sum():.4f}")
else:
    print(f"A {a.sum() / 300 * 1e3:.3f} ms/frame  B {b.sum() / 300 * 1e3:.3f} ms/frame (sum over 10-frame chunks of the best of {rounds} passes); "
          f"ratio B/A {b.sum()/a.sum():.4f}, median chunk ratio {np.median(b/a):.4f}")
