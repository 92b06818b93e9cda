"""The `fastclnf` command line.

    fastclnf image PATH... [--models DIR] [--detector mtcnn|haar] [--preset image|wild]
                           [--out results.csv|results.jsonl] [--overlay DIR]
    fastclnf video INPUT [--out out.csv|out.jsonl] [--overlay out.mp4] [--multi] [--models DIR]
    fastclnf models verify DIR | install --from DIR|URL [--dest DIR] [--accept-license] | where

Each subcommand's parser sets ``func``; ``main`` calls it and returns its exit status.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

from .io.video import IMAGE_SUFFIXES

__all__ = ["main"]


class Progress:
    """A one-line progress bar on stderr, shown only on a terminal (no extra dependency)."""

    def __init__(self, total: int, label: str, enabled: Optional[bool] = None):
        self.total, self.label, self.done = total, label, 0
        self.start = time.perf_counter()
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def step(self, note: str = "") -> None:
        self.done += 1
        if not self.enabled:
            return
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {rate:5.1f}/s {note[:40]:40s}")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def collect_images(paths: Sequence[str]) -> List[Path]:
    """Files as given, and the image files inside given folders (sorted, recursive)."""
    out: List[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(p)
    return out


def result_row(r, file: str, face: int) -> dict:
    """A CSV/JSONL row for one fitted face."""
    return dict(file=file, face=face, confidence=r.certainty, success=r.success, gaze=r.gaze,
                eye_landmarks=r.eye_landmarks, eye_landmarks_3d=r.eye_landmarks_3d,
                pose=r.pose, landmarks=r.landmarks, landmarks_3d=r.landmarks_3d,
                params_global=r.params_global, params_local=r.params_local,
                bbox=r.bbox, score=r.score)


def cmd_image(args) -> int:
    import cv2

    from . import load_model
    from .io.csv import JsonlWriter, OpenFaceCsvWriter
    from .image import read_image
    from .io.overlay import draw_results

    files = collect_images(args.paths)
    if not files:
        print("fastclnf image: no image files found in " + " ".join(args.paths), file=sys.stderr)
        return 2
    model = load_model(args.models)
    writer = None
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() == ".jsonl":
            writer = JsonlWriter(out, keep_partial=False)
        else:
            writer = OpenFaceCsvWriter(out, mode="image", keep_partial=False,
                                       n_eye_landmarks=model.n_eye_landmarks, file_column=True)
    if args.overlay:
        Path(args.overlay).mkdir(parents=True, exist_ok=True)
    failed, faces = [], 0
    progress = Progress(len(files), "images", enabled=None if len(files) > 3 else False)
    try:
        for path in files:
            img = read_image(path)
            if img is None:
                print(f"fastclnf image: cannot read {path} as an image; skipped", file=sys.stderr)
                failed.append(path)
                progress.step(path.name)
                continue
            results = model.detect(img, preset=args.preset, detector=args.detector)
            faces += len(results)
            for i, r in enumerate(results):
                if writer is not None:
                    writer.write(result_row(r, str(path), i))
                if not args.out:
                    print(f"{path}\tface {i}\tconfidence {r.certainty:.3f}\tbox "
                          + " ".join(f"{v:.1f}" for v in r.bbox))
            if args.overlay:
                cv2.imwrite(str(Path(args.overlay) / (path.stem + ".png")), draw_results(img, results))
            progress.step(path.name)
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    print(f"fastclnf image: {faces} face(s) in {len(files) - len(failed)} image(s)"
          + (f", {len(failed)} unreadable" if failed else "")
          + (f"; wrote {args.out}" if args.out else ""), file=sys.stderr)
    return 1 if failed else 0


# ------------------------------------------------------------------------------------------------
# fastclnf video (track.py, io/video.py)

class VideoProgress:
    """Frames done, frames per second and faces on one stderr line (terminals only)."""

    def __init__(self, total: Optional[int], enabled: Optional[bool] = None):
        self.total, self.done, self.faces = total, 0, 0
        self.start = time.perf_counter()
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = 0.0

    @property
    def fps(self) -> float:
        return self.done / max(time.perf_counter() - self.start, 1e-9)

    def step(self, faces: int) -> None:
        self.done += 1
        self.faces = faces
        now = time.perf_counter()
        if not self.enabled or (now - self._last < 0.2 and self.done != self.total):
            return
        self._last = now
        of = f"/{self.total}" if self.total else ""
        sys.stderr.write(f"\\rvideo: frame {self.done}{of}  {self.fps:5.1f} fps  faces {faces}   ")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled and self.done:
            sys.stderr.write("\\n")
            sys.stderr.flush()


def video_row(r, frame: int, timestamp: float) -> dict:
    """A FeatureExtraction CSV/JSONL row for one face in one frame (spec 03 §8.2-8.3).

    FeatureExtraction computes gaze only for successful frames (zeros otherwise, §7 [exe]).
    """
    import numpy as np

    eyes = r.eye_landmarks
    eyes_3d = r.eye_landmarks_3d if len(eyes) else np.zeros((0, 3))
    if len(eyes) and len(eyes_3d) != len(eyes):   # no eye fit yet: OpenFace holds zeros
        eyes_3d = np.zeros((len(eyes), 3))
    return dict(frame=frame, face_id=r.face_id, timestamp=timestamp, confidence=r.certainty,
                success=r.success, gaze=r.gaze if r.success else None, eye_landmarks=eyes,
                eye_landmarks_3d=eyes_3d, pose=r.pose, landmarks=r.landmarks,
                landmarks_3d=r.landmarks_3d, params_global=r.params_global,
                params_local=r.params_local)


class _OverlayVideo:
    """Overlay frames into a video file written next to the target and renamed into place
    when closed (a partial video on interrupt, like the CSV)."""

    def __init__(self, path: Path, fps: float):
        import uuid

        self.path, self.fps = Path(path), fps
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"output directory {str(self.path.parent)!r} does not exist")
        self.tmp = self.path.parent / f".{self.path.stem}.{uuid.uuid4().hex[:12]}.part{self.path.suffix}"
        self.writer = None

    def write(self, image) -> None:
        import cv2

        if self.writer is None:
            suffix = self.path.suffix.lower()
            fourcc = {".avi": "MJPG", ".mkv": "MJPG"}.get(suffix, "mp4v")
            h, w = image.shape[:2]
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*fourcc),
                                          self.fps, (w, h))
            if not self.writer.isOpened():
                raise OSError(f"OpenCV cannot write video {str(self.path)!r} (codec {fourcc})")
        self.writer.write(image)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
            os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def cmd_video(args) -> int:
    from . import MultiTracker, Tracker, load_model
    from .io import video as video_io
    from .io.csv import JsonlWriter, OpenFaceCsvWriter
    from .io.overlay import draw_results

    source = video_io.open_frames(args.input, fps=args.fps)
    model = load_model(args.models)
    if args.multi:
        tracker = MultiTracker(model, max_faces=args.max_faces, preset=args.preset,
                               detector=args.detector)
    else:
        tracker = Tracker(model, preset=args.preset, detector=args.detector)
    writer = None
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() == ".jsonl":
            writer = JsonlWriter(out, keep_partial=True)
        else:
            writer = OpenFaceCsvWriter(out, mode="sequence", keep_partial=True,
                                       n_eye_landmarks=model.n_eye_landmarks)
    overlay = _OverlayVideo(Path(args.overlay), source.fps or 30.0) if args.overlay else None
    progress = VideoProgress(source.frame_count, enabled=False if args.quiet else None)
    frames = frames_ok = 0
    try:
        for index, timestamp, frame in source:
            results = tracker.update(frame) if args.multi else [tracker.update(frame)]
            frames += 1
            good = [r for r in results if r.success]
            frames_ok += bool(good)
            if writer is not None:
                for r in results:
                    writer.write(video_row(r, index + 1, timestamp))
            if overlay is not None:
                overlay.write(draw_results(frame, good))
            progress.step(len(good))
    except BaseException as exc:
        # Ctrl-C or an error part-way: keep the complete rows/frames done so far (valid files).
        progress.finish()
        for w in (writer, overlay):
            if w is not None:
                w.close()
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "stopped by an error"
        print(f"fastclnf video: {what} after {frames} frame(s)"
              + (f"; partial results in {args.out}" if args.out and frames else ""),
              file=sys.stderr)
        raise
    progress.finish()
    for w in (writer, overlay):
        if w is not None:
            w.close()
    if frames == 0:
        print(f"fastclnf video: no frames could be read from {args.input}", file=sys.stderr)
        return 1
    print(f"fastclnf video: {frames} frame(s), a face in {frames_ok}, {progress.fps:.1f} fps"
          + (f"; wrote {args.out}" if args.out else "")
          + (f" and {args.overlay}" if args.overlay else ""), file=sys.stderr)
    return 0


def add_video_parser(sub) -> None:
    vp = sub.add_parser("video", help="track faces through a video, image folder or camera")
    vp.add_argument("input", metavar="INPUT",
                    help="video file, folder of images (sorted by name) or camera index")
    vp.add_argument("--out", metavar="FILE",
                    help="FeatureExtraction-style CSV (one row per face and frame) or .jsonl")
    vp.add_argument("--overlay", metavar="VIDEO", help="write the frames with results drawn "
                    "(.mp4: mp4v, .avi: MJPG)")
    vp.add_argument("--multi", action="store_true", help="track every face (stable face_id)")
    vp.add_argument("--max-faces", type=int, metavar="N", help="with --multi: at most N faces")
    vp.add_argument("--models", metavar="DIR", help="OpenFace model directory or main_*.txt")
    vp.add_argument("--detector", choices=("mtcnn", "haar"), default="mtcnn")
    vp.add_argument("--preset", choices=("video", "wild"), default="video")
    vp.add_argument("--fps", type=float, help="frame rate for timestamps (default: the video's)")
    vp.add_argument("--quiet", action="store_true", help="no progress line")
    vp.set_defaults(func=cmd_video)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    ap = argparse.ArgumentParser(prog="fastclnf", description="OpenFace CLNF facial landmarks, fast.")
    ap.add_argument("--version", action="version", version=f"fastclnf {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    im = sub.add_parser("image", help="detect and fit every face in images or folders")
    im.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    im.add_argument("--models", metavar="DIR", help="OpenFace model directory or main_*.txt")
    im.add_argument("--detector", choices=("mtcnn", "haar"), default="mtcnn")
    im.add_argument("--preset", choices=("image", "wild"), default="image")
    im.add_argument("--out", metavar="FILE", help="results.csv (OpenFace columns + file) or .jsonl")
    im.add_argument("--overlay", metavar="DIR", help="write PNGs with the results drawn")
    im.set_defaults(func=cmd_image)
    add_video_parser(sub)
    from .install import register_cli

    register_cli(sub)  # fastclnf models verify|install|where
    return ap


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    if not hasattr(args, "func"):  # e.g. `fastclnf models` without its subcommand
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("fastclnf: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line for expected errors, not a traceback
        from .errors import FastCLNFError

        if isinstance(exc, (FastCLNFError, OSError, ValueError, TypeError)):
            print(f"fastclnf: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
