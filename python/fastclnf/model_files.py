"""The OpenFace 2.2 model files fastclnf uses, by relative path, size and SHA-256.

This is the list `fastclnf.install` verifies and installs: every file the three CLNF main models
(``main_clnf_general.txt``, ``main_clnf_wild.txt``, ``main_clnf_multi_pie.txt``) name, directly or
through their module and part files (PDMs, CCNF patch experts, the inner-face and eye part
models, triangulations, ``haarAlign.txt``, the CNN detection validator), plus
``tris_68_full.txt`` and OpenFace's MTCNN face detector (``mtcnn_detector/``). Paths are relative
to OpenFace's model directory (``lib/local/LandmarkDetector/model``) and use ``/``.

Only names, sizes and checksums live here; the model files themselves are OpenFace's
(research-only licence) and are never shipped with fastclnf.

Regenerate from an OpenFace 2.2 model directory with::

    python -m fastclnf.model_files /path/to/OpenFace/lib/local/LandmarkDetector/model
"""
from __future__ import annotations

import hashlib
import os
import sys
from typing import Iterable, List, NamedTuple, Tuple, Union

__all__ = ["ModelFile", "MODEL_FILES", "MAIN_FILES", "total_size", "manifest_digest", "sha256_file", "generate"]


class ModelFile(NamedTuple):
    """One model file: its path relative to the model directory, size in bytes, SHA-256 (hex)."""

    path: str
    size: int
    sha256: str


# The main files whose trees make up the list (the first is the one `load_model` uses by default).
MAIN_FILES = ("main_clnf_general.txt", "main_clnf_wild.txt", "main_clnf_multi_pie.txt")
# Files used by OpenFace around the fit but not named by a CLNF main file.
_EXTRA_FILES = ("tris_68_full.txt",)
_EXTRA_TREES = ("mtcnn_detector/MTCNN_detector.txt",)

MODEL_FILES: Tuple[ModelFile, ...] = tuple(ModelFile(*e) for e in (
    ("clnf_general.txt", 234, "3e38c393427481b6c715f491de1fe76ebf9d283afddc2bf7ec7765bc7d8a2c23"),
    ("clnf_multi_pie.txt", 238, "b3b8bc3b06f131ce561f1779fb4f19487fa2cfbe1dc6b5a26b206f798623b8b2"),
    ("clnf_wild.txt", 275, "f7aa432e4d14b5d60c5908ee9a55910845b5f479fe06c90924cf59ce15faccd5"),
    ("detection_validation/validator_cnn.txt", 2074228, "29751dd4128978a1b351f09f15ae2d78e3e45169dd1e2dede60a55cc3f39a3c4"),
    ("haarAlign.txt", 117, "354625bd2a6cbdb1fc7a62352ad74e94c79744c9296e682cb8f6100d54213ffa"),
    ("main_clnf_general.txt", 689, "532753cc2238d3e3dc398fff09b7b385a7edd7306a1edc2a22dac3ed2abdeb6e"),
    ("main_clnf_multi_pie.txt", 335, "a012416811fe2f7b9c63d0def016045d8a5cc12891170f18bd244045cca43282"),
    ("main_clnf_wild.txt", 330, "e8a6e028c9f850deb25f146d43ed8ad475ed63fa339f6edff1ecb5159c0d1634"),
    ("model_eye/clnf_left_synth.txt", 164, "5f652def0b109849c510c0b8f17fb779d5487f7a2a927b772a6a290aed929a0e"),
    ("model_eye/clnf_right_synth.txt", 151, "b1453f8272bdd601ef54f569c2b35490203f8d625c99e2667abd74e8769da030"),
    ("model_eye/main_clnf_synth_left.txt", 36, "974004db5c87046be362a9802d2c8241c168ba3c1b19d2915ac161ae197bb252"),
    ("model_eye/main_clnf_synth_right.txt", 37, "8f116d8df1f32a9022b4e4b9ce3b134774b0732441ea6585e90b75628e86ee10"),
    ("model_eye/patch_experts/ccnf_patches_1.00_synth_lid_.txt", 104368, "bc5f628dbcd0f24eabe5e2b7f2a6995c513ebb93ab63b03449c5f5f05a777939"),
    ("model_eye/patch_experts/ccnf_patches_1.50_synth_lid_.txt", 104368, "601a74b91930c2648676615278b959eb67f860e9757b169ee59bd41ac994cb9b"),
    ("model_eye/patch_experts/left_ccnf_patches_1.00_synth_lid_.txt", 104384, "8fe3229cda73dc49fcc27635fb875941e4d28b342c0f9f49bbcfc8ab9711cc07"),
    ("model_eye/patch_experts/left_ccnf_patches_1.50_synth_lid_.txt", 104384, "1c728e667b3e00ce5feb4eb8a5f68c174af5bb1f80b7ee8d3d01df6023917581"),
    ("model_eye/pdms/pdm_28_eye_3D_closed.txt", 9318, "8034805a0de072dafd0f6daecd71ee3f44292bc860bff6425725feac63e045f2"),
    ("model_eye/pdms/pdm_28_l_eye_3D_closed.txt", 9304, "eaf275c1286d5e03ea695b8250bffcef95084bf67598dfc9f03121d16b9b713f"),
    ("model_inner/clnf_inner.txt", 79, "9e6ba849ef773a314471bec98f486f461b43b2d72890afb12ad93482eb0698f1"),
    ("model_inner/main_clnf_inner.txt", 31, "d659390a75c3cf92a1165ed700a2228f9f588671d67d0862b3ff7b0fbfe96a60"),
    ("model_inner/patch_experts/ccnf_patches_1.00_inner.txt", 2043100, "79eb8ab716abe420a1604c8db8c107e0b9774bedfd91f595875e6bad0d37156c"),
    ("model_inner/pdms/pdm_51_inner.txt", 48934, "28412e9dda64e95a5fab618ecda2b5dc1802187da4894d27965715ab361cb2f7"),
    ("mtcnn_detector/MTCNN_detector.txt", 42, "7dd20c7aa0335e59eeb6947c2bd94ef06c41f643aff428d36800fa1f09c65d5e"),
    ("mtcnn_detector/ONet.dat", 1729592, "4c853ae5b461abe4d41f1cd77625895cd71452956c63c622fd75a3b820fb1d31"),
    ("mtcnn_detector/PNet.dat", 35088, "22dfd0a96ec983e99b21c0e214d89d55ea9a471eedd53e5a48203f22bcb4c489"),
    ("mtcnn_detector/RNet.dat", 454912, "95e9c4203ca0a08c84520fa5fd658834213ed2453a7359f4d9514a06762f91e9"),
    ("patch_experts/ccnf_patches_0.25_general.txt", 2429528, "18f4a62387a9cadcb49177db5f8726d73f3d4675bed60cb965e8256590553a48"),
    ("patch_experts/ccnf_patches_0.25_multi_pie.txt", 2429528, "346bcdb0ebc3a387948f228a2a7292e74a94d8bb70893d8248b8c983e7c994a2"),
    ("patch_experts/ccnf_patches_0.25_wild.txt", 1655664, "12898c2c0e920eac863e19ef0c3f34486e02acb24daab95ed50e33a9615fe75a"),
    ("patch_experts/ccnf_patches_0.35_general.txt", 2429528, "ec26c1590f7992566943ad252af0ebb9e569095ce277d8addbc6202a36fe5a33"),
    ("patch_experts/ccnf_patches_0.35_multi_pie.txt", 2429528, "3632b04defb78ca91085c6cbd3c834ee48558da75174793d43eb8bd53d5a5dad"),
    ("patch_experts/ccnf_patches_0.35_wild.txt", 1655664, "863f6fb77ddcff6d2013758fc9f301e9cf3aaacad6c4eaa47b84d7eeb5c9e303"),
    ("patch_experts/ccnf_patches_0.5_general.txt", 2429528, "0ae39776c24b1e1de2a03ac4650baddec7ae84a45dec77ab30c97431fdccfebf"),
    ("patch_experts/ccnf_patches_0.5_multi_pie.txt", 2429528, "fd061150c036cf624d6d711e3ae794acb8f5de3082c6bb7a8a0d7aed657ed4ca"),
    ("patch_experts/ccnf_patches_0.5_wild.txt", 1655664, "8a8664c470ca90e3a7e057a0e08fd43a7204eaa0481656c551a6c90f9be1bf03"),
    ("patch_experts/ccnf_patches_1_wild.txt", 1655664, "282f578236eb7a7abdf9db953e07e4db9cd812e6630e5e9d1481f75906044f54"),
    ("pdms/In-the-wild_aligned_PDM_68.txt", 69023, "b9eafb292b18505b55cdbc5d8ba45413709cd300cf3e7e8d1946cd0f5c5b94b1"),
    ("pdms/Multi-PIE_aligned_PDM_68.txt", 47559, "26c2e677ce2eaab703a0bb229cbc679d86567e8ce5431fbef3080cc41157eb8d"),
    ("tris_68.txt", 5351, "dca0c54fbd7683444f39534f803e037ba1df80a5cfd72ce8101cb7ff58e54193"),
    ("tris_68_full.txt", 1076, "d79b0c786bf497ddf18b97080e5949c67781ca1c017e558374883a1821b17181"),
))


def total_size(files: Iterable[ModelFile] = MODEL_FILES) -> int:
    """Bytes in `files`."""
    return sum(f.size for f in files)


def manifest_digest(files: Iterable[ModelFile] = MODEL_FILES) -> str:
    """SHA-256 over the sorted (path, size, sha256) entries: names one version of this list."""
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f"{f.path}\t{f.size}\t{f.sha256}\n".encode("utf-8"))
    return h.hexdigest()


# -- regenerating the list from a model directory ---------------------------------------------

# Directives whose argument is a file relative to the naming file's directory; the first two
# name further directive files (main/module files, parts, the MTCNN list) that are walked too.
_TREE_DIRECTIVES = ("LandmarkDetector", "LandmarkDetector_part")
_FILE_DIRECTIVES = ("PDM", "Triangulations", "PatchesCCNF", "FaceDetConversion", "DetectionValidator",
                    "PNet", "RNet", "ONet")


def sha256_file(path: Union[str, os.PathLike]) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def generate(model_dir: str) -> List[ModelFile]:
    """Walk the main files of `model_dir` (and the extras) and list every file with its checksum."""
    found: List[str] = []

    def add(rel: str) -> str:
        rel = os.path.normpath(rel).replace(os.sep, "/")
        if rel not in found:
            found.append(rel)
        return rel

    def walk(rel: str) -> None:
        rel = add(rel)
        here = os.path.dirname(rel)
        with open(os.path.join(model_dir, rel), encoding="utf-8") as f:
            for line in f:
                tokens = line.split()
                if len(tokens) < 2:
                    continue
                if tokens[0] in _TREE_DIRECTIVES:
                    walk(os.path.join(here, tokens[1]))
                elif tokens[0] in _FILE_DIRECTIVES:
                    add(os.path.join(here, tokens[1]))

    for main in MAIN_FILES + _EXTRA_TREES:
        walk(main)
    for extra in _EXTRA_FILES:
        add(extra)
    return sorted(ModelFile(rel, os.path.getsize(os.path.join(model_dir, rel)),
                            sha256_file(os.path.join(model_dir, rel))) for rel in found)


def _main(argv: List[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m fastclnf.model_files MODEL_DIR", file=sys.stderr)
        return 2
    for f in generate(argv[0]):
        print(f"    ({f.path!r}, {f.size}, {f.sha256!r}),".replace("'", '"'))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
