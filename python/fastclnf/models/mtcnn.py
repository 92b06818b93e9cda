"""Reader for OpenFace's MTCNN face detector: ``MTCNN_detector.txt`` and ``PNet/RNet/ONet.dat``.

Spec 03 §1.1 (the text file naming the three nets) and §1.2 (the binary ``.dat`` layout). The
nets are returned as tuples of layer records (`fastclnf.models.cnn`); the C++ core runs them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from .binreader import read_bytes
from .cnn import Cursor, output_shape, read_layers

__all__ = ["MTCNNModel", "read_mtcnn", "read_mtcnn_net", "NET_NAMES", "NOMINAL"]

NET_NAMES = ("PNet", "RNet", "ONet")

# Nominal input side and output length of each net (spec 03 §1.4); the reader checks that the
# layers chain up to these, so a wrong file in the right place is caught at load time.
NOMINAL = {"PNet": (12, (6, 1, 1)), "RNet": (24, (6,)), "ONet": (48, (16,))}


@dataclass(frozen=True)
class MTCNNModel:
    """The three cascaded nets of the MTCNN detector (layer tuples, network order)."""

    path: str
    pnet: tuple
    rnet: tuple
    onet: tuple


def read_mtcnn_net(path, name: str | None = None) -> tuple:
    """Parse one ``.dat`` file (spec 03 §1.2) into a tuple of layer records.

    Every byte must be consumed. With `name` (PNet/RNet/ONet) the layers must also chain from a
    3-map input of the net's nominal size to its nominal output (spec 03 §1.4).
    """
    path = os.fspath(path)
    cur = Cursor(path, read_bytes(path))
    layers = read_layers(cur, "mtcnn")
    cur.finish()
    if name is not None:
        side, expected = NOMINAL[name]
        try:
            got = output_shape(layers, (3, side, side))
        except ValueError as e:
            raise ModelError(path, "network", f"not a valid {name}: {e}") from None
        if got != expected:
            raise ModelError(path, "network", f"{name} should map a 3x{side}x{side} input to "
                             f"{expected}, these layers give {got}")
    return layers


def read_mtcnn(path) -> MTCNNModel:
    """Read ``MTCNN_detector.txt`` (or the directory holding it) and the three nets it names.

    Each line is ``<Name> <relative path>``; Name is PNet, RNet or ONet; other lines are
    ignored; a trailing CR is stripped (spec 03 §1.1). Paths are relative to the text file.
    OpenFace falls back to its HOG detector when a net is missing; we raise `ModelError`.
    """
    path = Path(os.fspath(path))
    if path.is_dir():
        path = path / "MTCNN_detector.txt"
    raw = read_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelError(str(path), f"byte {e.start}",
                         "expected a text file naming PNet, RNet and ONet") from None
    found = {}
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line[:-1] if line.endswith("\r") else line
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0] in NET_NAMES:
            found[parts[0]] = (lineno, parts[1].strip())
    missing = [n for n in NET_NAMES if n not in found]
    if missing:
        raise ModelError(str(path), "end of file", f"expected lines naming {', '.join(missing)}")
    nets = {name: read_mtcnn_net(path.parent / rel, name) for name, (_, rel) in found.items()}
    return MTCNNModel(path=str(path), pnet=nets["PNet"], rnet=nets["RNet"], onet=nets["ONet"])
