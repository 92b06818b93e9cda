"""The `fastclnf` command line.

    fastclnf image PATH... [--models DIR] [--detector mtcnn|haar] [--preset image|wild]
                           [--out results.csv|results.jsonl] [--overlay DIR]
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

__all__ = ["main"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


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


def read_image(path: Path):
    """The image as 8-bit BGR/gray (16-bit scaled down), or None if it cannot be decoded."""
    import cv2
    import numpy as np

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        return None
    if img.dtype == np.uint16:
        img = (img // 256).astype(np.uint8)
    elif img.dtype != np.uint8:
        return None
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(img)


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
            eyes = 56 if any(p.name.endswith("eye_28") for p in model.data.parts) else 0
            writer = OpenFaceCsvWriter(out, mode="image", keep_partial=False,
                                       n_eye_landmarks=eyes, file_column=True)
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
