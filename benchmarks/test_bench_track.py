"""pytest-benchmark suite: video tracking (one Tracker, and two Trackers on two threads).

    PYTHONPATH=python python3 -m pytest benchmarks/test_bench_track.py --benchmark-only

One round tracks the first 100 frames of video01.mp4 from a reset tracker (the first frame runs
MTCNN, the rest are tracking fits + validator, as in OpenFace's FeatureExtraction). The two-thread
case gives each thread its own Tracker and its own copy of the clip; compare its mean with twice
the one-thread mean for the throughput ratio. For per-frame medians against OpenFace's own times
and parity alongside, use benchmarks/video_parity.py.
"""
from __future__ import annotations

import threading

import cv2
import pytest

import fastclnf

from parity import SHARED  # benchmarks/ is on sys.path under pytest

VIDEO = SHARED / "data" / "videos" / "torchopenface" / "video01.mp4"

pytestmark = pytest.mark.skipif(not VIDEO.exists(), reason=f"research data not found at {SHARED}")


@pytest.fixture(scope="module")
def model():
    return fastclnf.load_model(SHARED / "openface" / "model")


@pytest.fixture(scope="module")
def clip():
    cap = cv2.VideoCapture(str(VIDEO))
    frames = []
    while len(frames) < 100:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == 100
    return frames


def _track(tracker, frames):
    tracker.reset()
    for f in frames:
        r = tracker.update(f)
    return r


def test_track_one_thread(benchmark, model, clip):
    benchmark.group = "track video01 (100 frames per tracker)"
    tracker = fastclnf.Tracker(model)
    _track(tracker, clip)  # warm the Sigma/KDE caches
    r = benchmark(_track, tracker, clip)
    assert r.success


def test_track_two_threads(benchmark, model, clip):
    benchmark.group = "track video01 (100 frames per tracker)"
    trackers = [fastclnf.Tracker(model) for _ in range(2)]
    clips = [clip, [f.copy() for f in clip]]
    for t, c in zip(trackers, clips):
        _track(t, c)

    def both():
        out = [None, None]

        def work(i):
            out[i] = _track(trackers[i], clips[i])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    results = benchmark(both)
    assert all(r is not None and r.success for r in results)
