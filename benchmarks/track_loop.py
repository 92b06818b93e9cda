"""Tracking time per frame on pre-decoded frames of one video, for the build on PYTHONPATH.

    PYTHONPATH=python python3 benchmarks/track_loop.py [--video PATH] [--passes N]
        [--eyes no|yes|both]
    PYTHONPATH=/other/build/python taskset -c 1 python3 benchmarks/track_loop.py   # another build

Decodes the video once, then runs N fresh `Tracker`s over all its frames and prints each pass's
median `Tracker.update` time and the median over frames of the per-frame best of the N passes
(frame 0, the first detection, excluded). --eyes yes also reads `r.eye_landmarks` inside the
timed region (computed on first access when the eye models were not fitted); --eyes both
alternates passes without and with it (N of each) and prints both.

Unlike video_parity.py this does not put the repository's python/ first on sys.path, so two
builds can be compared by alternating PYTHONPATH; pin with taskset so that both runs get the
same vCPU on a shared host.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

import fastclnf

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", default=str(SHARED / "data" / "videos" / "torchopenface" / "video01.mp4"))
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--eyes", choices=("no", "yes", "both"), default="no")
    args = ap.parse_args(argv)
    model = fastclnf.load_model(SHARED / "openface" / "model")
    cap = cv2.VideoCapture(args.video)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    if len(frames) < 2:
        raise SystemExit(f"could not read frames from {args.video}")
    modes = {"no": [False], "yes": [True], "both": [False, True]}[args.eyes]
    best = {}
    for p in range(args.passes):
        for read_eyes in modes if p % 2 == 0 else modes[::-1]:
            tracker = fastclnf.Tracker(model)
            ms = np.empty(len(frames))
            for i, frame in enumerate(frames):
                t0 = time.perf_counter()
                r = tracker.update(frame)
                if read_eyes:
                    r.eye_landmarks
                ms[i] = (time.perf_counter() - t0) * 1e3
            print(f"pass {p}{' (eyes read)' if read_eyes else ''}: median {np.median(ms[1:]):.3f} ms/frame")
            best[read_eyes] = np.minimum(best[read_eyes], ms) if read_eyes in best else ms
    for read_eyes in modes:
        print(f"{fastclnf.__file__}{' (eyes read)' if read_eyes else ''}: per-frame best of "
              f"{args.passes} passes, median {np.median(best[read_eyes][1:]):.3f} ms/frame over "
              f"{len(frames) - 1} frames")

if __name__ == "__main__":
    main()
