#!/usr/bin/env python3
"""A/B timing of one CNN validator call between two builds, interleaved (like ab_builds.py).

    python3 benchmarks/validator_ab.py BEFORE AFTER [--video] [--rounds N] [--shared ../shared]

BEFORE and AFTER are directories holding a `fastclnf` package with its compiled `_core` (e.g. a
copy of another worktree's python/). One persistent worker per build runs `validate` on the 343
reference faces (OpenFace's landmarks and rotation; --video: the first 200 frames of video01.mp4
with OpenFace's tracked landmarks), 5 calls per face, the builds alternating round by round.
Prints µs per call (best round), the ratio of the best rounds and the median per-round ratio,
and whether both builds returned the same certainties. An A/A run shows the noise floor.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def load(shared: Path, video: bool):
    import cv2

    sys.path.insert(0, str(HERE))
    from validator_parity import gray_opencv4

    def item(gray, rec):
        return (np.ascontiguousarray(gray), np.ascontiguousarray(np.asarray(rec["landmarks"], np.float32)),
                [float(x) for x in rec["params_global"][1:4]])

    if video:
        recs = [json.loads(l) for l in open(shared / "reference/videos/videos__torchopenface__video01.mp4.jsonl")
                if l.strip()][:200]
        cap = cv2.VideoCapture(str(shared / "data/videos/torchopenface/video01.mp4"))
        items = []
        for rec in recs:
            ok, frame = cap.read()
            if not ok:
                break
            items.append(item(gray_opencv4(frame), rec))
        return items
    faces = [json.loads(l) for l in open(shared / "reference/faces.jsonl") if l.strip()]
    cache = {}
    for f in faces:
        if f["image"] not in cache:
            cache[f["image"]] = gray_opencv4(cv2.imread(str(shared / "data" / f["image"]), cv2.IMREAD_COLOR))
    return [item(cache[f["image"]], f) for f in faces]


def worker(build: str, shared: Path, video: bool) -> None:
    sys.path.insert(0, build)
    from fastclnf.models.validator import read_validator
    from fastclnf.validate import prepare_validator

    val = prepare_validator(read_validator(shared / "openface/model/detection_validation/validator_cnn.txt"))
    items = load(shared, video)
    for _ in sys.stdin:
        out = []
        t0 = time.perf_counter()
        for g, lm, r in items:
            for _ in range(5):
                c = val.validate(g, lm, r[0], r[1], r[2])
            out.append(c)
        us = (time.perf_counter() - t0) / (5 * len(items)) * 1e6
        print(json.dumps([us, out]), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--video", action="store_true")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--shared", default=str(HERE.parents[1] / "shared"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, Path(args.shared), args.video)
        return 0
    cmd = [sys.executable, __file__, "x", "x", "--shared", args.shared] + (["--video"] if args.video else [])
    procs = [subprocess.Popen(cmd + ["--worker", str(Path(d).resolve())], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for d in (args.before, args.after)]
    times = [[], []]
    outs = [None, None]
    for i in range(args.rounds):
        for k in ((0, 1) if i % 2 == 0 else (1, 0)):
            procs[k].stdin.write("go\n")
            procs[k].stdin.flush()
            us, outs[k] = json.loads(procs[k].stdout.readline())
            times[k].append(us)
    for p in procs:
        p.stdin.close()
        p.wait()
    a, b = min(times[0]), min(times[1])
    same = sum(x == y for x, y in zip(*outs))
    print(f"before {a:.1f} us/call  after {b:.1f} us/call  ratio {b / a:.3f}  "
          f"median per-round ratio {np.median(np.array(times[1]) / np.array(times[0])):.3f}  "
          f"same certainties {same}/{len(outs[0])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
