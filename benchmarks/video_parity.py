"""Video tracking parity with OpenFace 2.2 (FeatureExtraction's DetectLandmarksInVideo).

Runs `fastclnf.Tracker` over every video in shared/data/videos and compares each frame with
shared/reference/videos/*.jsonl:

* success: our returned success equals OpenFace's `returned_success`;
* distance: per-frame mean landmark distance (px) on frames where both succeeded;
* ms/frame: our `frame_ms` (detection included on the frames where it ran) vs OpenFace's `ms`.

    PYTHONPATH=python python3 benchmarks/video_parity.py [--frames N] [--only NAME ...]
        [--dump DIR]   # per-frame JSONL of our results (for diffing)
        [--decoded DIR]  # frames decoded elsewhere (see below) instead of the installed OpenCV

Decoding: OpenFace's reference was decoded by OpenCV 4.6 (FFmpeg 5.1). Where the installed OpenCV
decodes a video differently, pass --decoded DIR with raw frames written by another OpenCV build:
DIR/<reference name without .jsonl>.bgr (all frames, uint8 BGR, concatenated) and a .json sidecar
{"frames": n, "shape": [h, w, 3]}; videos without such a file are decoded as usual. The table marks
rows read that way with "*".
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

import fastclnf  # noqa: E402
from fastclnf.io.video import open_frames  # noqa: E402
from fastclnf.metrics import mean_distance  # noqa: E402

SHARED = Path(os.environ.get("FASTCLNF_SHARED", REPO.parent / "shared")).resolve()


def reference_videos():
    for ref in sorted((SHARED / "reference" / "videos").glob("*.jsonl")):
        rel = ref.name[: -len(".jsonl")].replace("__", "/")
        yield SHARED / "data" / rel, ref


def load_reference(path: Path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def raw_frames(bgr: Path):
    """(index, timestamp, frame) from a raw dump (see the module docstring)."""
    meta = json.loads(bgr.with_suffix(".json").read_text())
    data = np.memmap(bgr, np.uint8, "r").reshape((-1, *meta["shape"]))
    for i in range(len(data)):
        yield i, 0.0, np.array(data[i])


def compare(model, video: Path, ref_rows, frames=None, dump=None, source=None):
    """Track `video` and compare with the reference rows; returns a dict of per-frame arrays."""
    tracker = fastclnf.Tracker(model)
    n = len(ref_rows) if frames is None else min(frames, len(ref_rows))
    agree, dist, eye_dist, ms, ref_ms, decoded = [], [], [], [], [], 0
    first_bad = None
    out = open(dump, "w") if dump else None
    try:
        for index, _, frame in (open_frames(video) if source is None else source):
            if index >= n:
                break
            decoded += 1
            r = tracker.update(frame)
            ref = ref_rows[index]
            assert ref["frame"] == index
            same = r.success == ref["returned_success"]
            agree.append(same)
            if not same and first_bad is None:
                first_bad = index
            if r.success and ref["returned_success"]:
                dist.append(mean_distance(r.landmarks, ref["landmarks"]))
                if ref.get("eye_landmarks") and len(r.eye_landmarks) == len(ref["eye_landmarks"]):
                    eye_dist.append(mean_distance(r.eye_landmarks, ref["eye_landmarks"]))
            ms.append(r.frame_ms)
            ref_ms.append(ref["ms"])
            if out:
                out.write(json.dumps(dict(
                    frame=index, success=r.success, detection_success=r.detection_success,
                    certainty=r.certainty, failures_in_a_row=r.failures_in_a_row,
                    tracking_initialised=r.tracking_initialised, detector_ran=r.detector_ran,
                    likelihood=r.likelihood, d=dist[-1] if r.success and ref["returned_success"] else None,
                    landmarks=r.landmarks.round(4).tolist(), params_global=r.params_global.tolist(),
                    ms=r.frame_ms)) + "\n")
    finally:
        if out:
            out.close()
    return dict(frames=len(agree), reference_frames=len(ref_rows), decoded=decoded,
                agree=np.array(agree), dist=np.array(dist), eye_dist=np.array(eye_dist),
                ms=np.array(ms), ref_ms=np.array(ref_ms), first_disagreement=first_bad)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, help="only the first N frames of each video")
    ap.add_argument("--only", nargs="*", help="substrings of video names to run")
    ap.add_argument("--dump", metavar="DIR", help="write our per-frame results as JSONL here")
    ap.add_argument("--decoded", metavar="DIR", help="raw frames decoded by another OpenCV build")
    args = ap.parse_args(argv)
    model = fastclnf.load_model(SHARED / "openface" / "model")
    if args.dump:
        Path(args.dump).mkdir(parents=True, exist_ok=True)
    header = (f"{'video':34s} {'frames':>6s} {'success':>8s} {'both':>5s} {'median':>8s} "
              f"{'p95':>7s} {'max':>7s} {'eye med':>8s} {'ms ours':>8s} {'ms OF':>6s}")
    print(header)
    print("-" * len(header))
    all_agree, all_dist = [], []
    t_start = time.perf_counter()
    for video, ref in reference_videos():
        name = str(video.relative_to(SHARED / "data" / "videos"))
        if args.only and not any(s in name for s in args.only):
            continue
        rows = load_reference(ref)
        dump = Path(args.dump) / (ref.name) if args.dump else None
        source = None
        if args.decoded:
            bgr = Path(args.decoded) / (ref.name[: -len(".jsonl")] + ".bgr")
            if bgr.exists():
                source = raw_frames(bgr)
                name += " *"
        res = compare(model, video, rows, args.frames, dump, source)
        a, d = res["agree"], res["dist"]
        all_agree.append(a)
        all_dist.append(d)
        med = np.median(d) if len(d) else float("nan")
        p95 = np.percentile(d, 95) if len(d) else float("nan")
        mx = d.max() if len(d) else float("nan")
        eye = np.median(res["eye_dist"]) if len(res["eye_dist"]) else float("nan")
        note = ""
        if args.frames is None and res["decoded"] != res["reference_frames"]:
            note = f"  (decoded {res['decoded']} frames, reference {res['reference_frames']})"
        if res["first_disagreement"] is not None:
            note += f"  first disagreement at frame {res['first_disagreement']}"
        print(f"{name:34s} {res['frames']:6d} {100 * a.mean():7.2f}% {len(d):5d} {med:8.4f} "
              f"{p95:7.4f} {mx:7.3f} {eye:8.4f} {np.median(res['ms']):8.2f} "
              f"{np.median(res['ref_ms']):6.2f}{note}", flush=True)
    if all_agree:
        a = np.concatenate(all_agree)
        d = np.concatenate(all_dist)
        print("-" * len(header))
        print(f"{'all':34s} {len(a):6d} {100 * a.mean():7.2f}% {len(d):5d} {np.median(d):8.4f} "
              f"{np.percentile(d, 95):7.4f} {d.max():7.3f}")
        print(f"({time.perf_counter() - t_start:.0f} s; distances in px over frames where both "
              "succeeded; ms = median per frame, OpenFace's on the reference machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
