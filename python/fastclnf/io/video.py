"""Frame sources for tracking: a video file, a folder of images, or a camera.

    with open_frames("clip.mp4") as frames:
        for index, timestamp, bgr in frames:      # index 0-based, timestamp in seconds
            ...

Timestamps follow OpenFace's FeatureExtraction (spec 03 §8.3): for a video file
``index / fps`` (fps = 30 when the container does not say), 0 for image sequences, and the
seconds elapsed since the first frame for a camera.

Videos are decoded with OpenCV (`cv2.VideoCapture`), as OpenFace does; frames are 8-bit BGR.
Image folders are read in sorted file-name order (natural order: ``img2`` before ``img10``);
16-bit images are scaled to 8 bits and alpha is dropped, as OpenFace's image reader does.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Iterator, List, Optional, Tuple, Union

import numpy as np

from ..image import read_image

__all__ = ["FrameSource", "open_frames", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}

Frame = Tuple[int, float, np.ndarray]


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


class FrameSource:
    """Iterate over ``(frame_index, timestamp, bgr)``; see the module docstring.

    source: a video file path, a folder of images, or a camera index (int, or a string of
        digits such as ``"0"``).
    fps: override the frame rate used for timestamps (video files only).

    Attributes: `kind` ('video', 'images' or 'camera'), `fps` (None for images), `frame_count`
    (None when unknown: cameras; for videos it is the container's estimate), `size` (w, h) of
    the first frame once known. Unreadable files in a folder are skipped and listed in
    `skipped`. Iterating twice restarts from the first frame (not for cameras).
    """

    def __init__(self, source: Union[str, int, "os.PathLike[str]"], fps: Optional[float] = None):
        self.source = source
        self.skipped: List[Path] = []
        self._cap = None
        self._files: List[Path] = []
        if isinstance(source, (int, np.integer)) or (isinstance(source, str) and source.isdigit()
                                                      and not Path(source).exists()):
            self.kind = "camera"
            self.camera = int(source)
            self.fps = fps
            self.frame_count = None
        else:
            path = Path(source)
            if path.is_dir():
                self.kind = "images"
                self._files = sorted((f for f in path.iterdir()
                                      if f.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
                if not self._files:
                    raise FileNotFoundError(f"no image files in folder {str(path)!r}")
                self.fps = None
                self.frame_count = len(self._files)
            elif path.is_file():
                self.kind = "video"
                cap = self._open_video()
                try:
                    rate = cap.get(_cv2().CAP_PROP_FPS)
                    n = int(cap.get(_cv2().CAP_PROP_FRAME_COUNT))
                finally:
                    cap.release()
                self.fps = float(fps) if fps else (rate if rate and rate > 0 else 30.0)
                self.frame_count = n if n > 0 else None
            else:
                raise FileNotFoundError(f"no such video file, image folder or camera: {str(source)!r}")

    def _open_video(self):
        cv2 = _cv2()
        cap = cv2.VideoCapture(str(self.source))
        if not cap.isOpened():
            cap.release()
            raise ValueError(f"OpenCV cannot open {str(self.source)!r} as a video")
        return cap

    def __iter__(self) -> Iterator[Frame]:
        if self.kind == "images":
            yield from self._iter_images()
        elif self.kind == "video":
            yield from self._iter_capture(self._open_video(), camera=False)
        else:
            cap = _cv2().VideoCapture(self.camera)
            if not cap.isOpened():
                cap.release()
                raise ValueError(f"cannot open camera {self.camera}")
            yield from self._iter_capture(cap, camera=True)

    def _iter_images(self) -> Iterator[Frame]:
        index = 0
        for f in self._files:
            img = read_image(f)
            if img is None:
                if f not in self.skipped:
                    self.skipped.append(f)
                continue
            yield index, 0.0, img
            index += 1

    def _iter_capture(self, cap, camera: bool) -> Iterator[Frame]:
        self._cap = cap
        start = None
        index = 0
        try:
            while True:
                ok, frame = cap.read()
                if not ok or frame is None:
                    break
                if camera:
                    now = time.perf_counter()
                    start = now if start is None else start
                    stamp = now - start
                else:
                    stamp = index / self.fps
                if frame.dtype == np.uint16:
                    frame = (frame // 256).astype(np.uint8)
                yield index, stamp, frame
                index += 1
        finally:
            cap.release()
            self._cap = None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_frames(source, fps: Optional[float] = None) -> FrameSource:
    """A :class:`FrameSource` for a video file, an image folder or a camera index."""
    return FrameSource(source, fps=fps)


def _cv2():
    import cv2

    return cv2
