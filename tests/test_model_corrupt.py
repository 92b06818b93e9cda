"""Truncated, corrupt and wrong-kind model files must raise ModelError, quickly and cheaply.

Corrupt files are built in tmp_path from the real files in ../shared (never committed). Every
error must name the file and say where (byte offset / line) and what was expected; none may
surface as IndexError/struct.error/MemoryError, hang, or allocate far more than the file size.
"""
from __future__ import annotations

import struct
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from fastclnf import ModelError
from fastclnf.models import read_ccnf, read_main_file, read_pdm
from fastclnf.models.textmat import open_text, read_text_matrix, skip_comments

GENERAL = "patch_experts/ccnf_patches_0.25_general.txt"
LEFT_EYE = "model_eye/patch_experts/left_ccnf_patches_1.00_synth_lid_.txt"
PDM68 = "pdms/In-the-wild_aligned_PDM_68.txt"

# Byte offsets in ccnf_patches_0.25_general.txt (V = 7, n = 68), from spec 01 §4.1-4.2.
V_AT = 8
VIEWS_AT = 12
VIS_AT = 12 + 7 * 36            # 264
NW_AT = VIS_AT + 7 * (12 + 4 * 68)  # 2252
SIGMA_AT = NW_AT + 4             # first window-size block
EXPERTS_AT = 893_168            # spec 01 §4.2: header size
NEURON_AT = EXPERTS_AT + 16     # first neuron of expert (view 0, landmark 0)
# Generous bound on memory used while rejecting a corrupt file: a few times the file size.
MAX_PEAK = 32 << 20


@pytest.fixture(scope="module")
def general_bytes(model_dir) -> bytes:
    return (model_dir / GENERAL).read_bytes()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def patched(data: bytes, offset: int, fmt: str, value) -> bytes:
    b = bytearray(data)
    struct.pack_into("<" + fmt, b, offset, value)
    return bytes(b)


def expect_model_error(reader, path: Path, *needles: str, names: str = None) -> ModelError:
    """Run reader(path): it must raise ModelError naming the file at fault (`names`, default
    `path`'s name), fast, with bounded memory, and containing each of `needles`."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ModelError) as info:
            reader(path)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    elapsed = time.perf_counter() - t0
    msg = str(info.value)
    assert (names or path.name) in msg, msg
    for needle in needles:
        assert needle in msg, msg
    assert elapsed < 5.0, f"took {elapsed:.1f}s: {msg}"
    assert peak < MAX_PEAK, f"peak {peak} bytes: {msg}"
    return info.value


# -- CCNF: truncation --------------------------------------------------------------------------

@pytest.mark.parametrize("cut", [
    0, 4,                      # inside the patch scaling
    10,                        # inside V
    VIEWS_AT + 20,             # inside the view centres
    VIS_AT + 100,              # inside the visibility matrices
    NW_AT + 2,                 # inside N_w
    SIGMA_AT + 6,              # inside the first window-size block header
    SIGMA_AT + 8 + 12 + 5000,  # inside a sigma component matrix
    EXPERTS_AT + 10,           # inside the first expert header
    NEURON_AT + 300,           # inside a neuron's weights
    -8,                        # exactly before the last patch confidence
    -1,                        # the last byte missing
])
def test_ccnf_truncated(tmp_path, general_bytes, cut):
    data = general_bytes[:cut] if cut >= 0 else general_bytes[:len(general_bytes) + cut]
    err = expect_model_error(read_ccnf, write(tmp_path, "trunc.txt", data), "byte ")
    assert err.where.startswith("byte ")
    assert "end" in err.problem or "left" in err.problem


def test_ccnf_trailing_byte(tmp_path, general_bytes):
    err = expect_model_error(read_ccnf, write(tmp_path, "extra.txt", general_bytes + b"\x00"), "trailing")
    assert err.where == f"byte {len(general_bytes)}"


# -- CCNF: bad counts, sizes and tags -----------------------------------------------------------

@pytest.mark.parametrize("offset,fmt,value,needle", [
    (0, "d", float("nan"), "patch scaling"),
    (0, "d", -1.0, "patch scaling"),
    (V_AT, "i", 2**31 - 1, "number of views"),
    (V_AT, "i", -1, "number of views"),
    (V_AT, "i", 0, "number of views"),
    (VIEWS_AT, "i", 10**9, "view 0"),           # rows of the first view-centre matrix
    (VIEWS_AT, "i", -7, "view 0"),
    (VIEWS_AT + 8, "i", 99, "type code"),       # type of the first view-centre matrix
    (VIEWS_AT + 8, "i", 5, "expected a 3x1 matrix of type 6"),
    (VIS_AT, "i", 2**31 - 1, "visibility of view 0"),
    (VIS_AT + 12, "i", 2, "0/1"),               # a visibility value that is not 0/1
    (NW_AT, "i", 2**31 - 1, "window sizes"),
    (NW_AT, "i", -5, "window sizes"),
    (SIGMA_AT, "i", 2**31 - 1, "sigma components"),  # window size -> absurd ws^4 bytes
    (SIGMA_AT, "i", 0, "window size"),
    (SIGMA_AT + 4, "i", 10**6, "sigma components"),
    (SIGMA_AT + 4, "i", -2, "sigma components"),
    (EXPERTS_AT, "i", 4, "expert tag"),
    (EXPERTS_AT + 4, "i", 10**6, "neurons"),     # width -> huge neuron size
    (EXPERTS_AT + 4, "i", -11, "patch size"),
    (EXPERTS_AT + 12, "i", 2**31 - 1, "neurons"),
    (EXPERTS_AT + 12, "i", -3, "negative neuron count"),
    (NEURON_AT, "i", 7, "neuron tag"),
    (NEURON_AT + 4, "i", 1, "neuron type"),
    (NEURON_AT + 32, "i", 12, "11x11 float32"),   # rows of the neuron's weight matrix
    (NEURON_AT + 40, "i", 6, "11x11 float32"),    # type of the neuron's weight matrix
    (NEURON_AT + 16, "d", float("inf"), "finite"),  # bias
])
def test_ccnf_corrupt_field(tmp_path, general_bytes, offset, fmt, value, needle):
    path = write(tmp_path, "corrupt.txt", patched(general_bytes, offset, fmt, value))
    expect_model_error(read_ccnf, path, needle, "byte ")


def test_ccnf_bad_neuron_reports_its_offset(tmp_path, model_dir):
    data = (model_dir / LEFT_EYE).read_bytes()
    # Left eye file: 1 view, 28 landmarks, 6 empty window blocks -> experts start at 224;
    # each expert is 16 + 7 * (44 + 484) + 8 = 3720 bytes. Break neuron 3 of landmark 5.
    neuron = 224 + 5 * 3720 + 16 + 3 * (44 + 484)
    err = expect_model_error(read_ccnf, write(tmp_path, "eye.txt", patched(data, neuron, "i", 9)), "neuron tag")
    assert err.where == f"byte {neuron}" and "neuron 3 of patch expert (view 0, landmark 5)" in err.problem
    # A wrong matrix size would derail the walk over experts; the neuron is still the one blamed.
    err = expect_model_error(read_ccnf, write(tmp_path, "eye2.txt", patched(data, neuron + 32, "i", 3)),
                             "11x11 float32")
    assert err.where == f"byte {neuron}"


@pytest.mark.parametrize("rel", [
    PDM68,                                              # text
    "main_clnf_general.txt",                            # text
    "tris_68.txt",                                      # text
    "patch_experts/svr_patches_0.25_general.txt",       # other binary expert format
    "detection_validation/validator_cnn.txt",           # other binary format
])
def test_ccnf_reader_rejects_other_files(model_dir, rel):
    expect_model_error(read_ccnf, model_dir / rel)


def test_missing_file(tmp_path):
    err = expect_model_error(read_ccnf, tmp_path / "absent.txt", "cannot read")
    assert err.where == "open"
    err = expect_model_error(read_pdm, tmp_path / "absent_pdm.txt", "cannot read")
    assert err.where == "open"


# -- PDM and text matrices ---------------------------------------------------------------------

@pytest.mark.parametrize("rel", [GENERAL, "detection_validation/validator_cnn.txt"])
def test_pdm_reader_rejects_binary(model_dir, rel):
    expect_model_error(read_pdm, model_dir / rel, "binary")


@pytest.mark.parametrize("rel,needle", [("tris_68.txt", "integer"), ("main_clnf_general.txt", "integer")])
def test_pdm_reader_rejects_other_text(model_dir, rel, needle):
    expect_model_error(read_pdm, model_dir / rel, needle, "line ")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_pdm_truncated(tmp_path, model_dir, fraction):
    text = (model_dir / PDM68).read_text()
    cut = text[: int(len(text) * fraction)]
    cut = cut[: cut.rfind("\n") + 1]  # a clean cut at a line end
    err = expect_model_error(read_pdm, write(tmp_path, "pdm.txt", cut.encode()), "line ")
    # Either the values run out, or the header already claims more values than could fit.
    assert "file ended" in err.problem or "characters are left" in err.problem


def test_pdm_garbage_value_reports_line(tmp_path, model_dir):
    lines = (model_dir / PDM68).read_text().split("\n")
    lines[10] = "12.5x"  # inside the mean shape (line 11)
    err = expect_model_error(read_pdm, write(tmp_path, "pdm.txt", "\n".join(lines).encode()), "'12.5x'")
    assert err.where == "line 11"


@pytest.mark.parametrize("text,needle", [
    ("# mean\n204 1 9\n", "unsupported type code 9"),
    ("# mean\n-3 1 6\n", "negative size"),
    ("# mean\n999999999 999999 6\n1\n", "only"),
    ("# mean\n3 1 6\n1\n2\nnan\n", "non-finite"),
    ("# mean\n3 1 6\n1\n2\n3\n# comps\n6 2 6\n" + "0 0\n" * 6, "expected 3 x m"),
    ("# mean\n4 1 6\n1\n2\n3\n4\n", "3n x 1"),
    ("# mean\n3 1 4\n1\n2\n3\n", "floating-point"),
    ("# mean\n3 1 6\n1\n2\n3\n# comps\n3 2 6\n1 0\n0 1\n0 0\n# eig\n1 3 6\n1 2 3\n", "expected 1x2"),
    ("# mean\n3 1 6\n1\n2\n3\n# comps\n3 2 6\n1 0\n0 1\n0 0\n# eig\n1 2 6\n1 2\nmore stuff\n", "after the eigenvalues"),
    ("", "file ended"),
])
def test_pdm_malformed(tmp_path, text, needle):
    expect_model_error(read_pdm, write(tmp_path, "pdm.txt", text.encode()), needle, "line ")


def test_comment_skipping_quirks(tmp_path):
    """Spec 01 §2.1: '#', empty and CR lines are comments, and so is a line starting with a space."""
    p = write(tmp_path, "m.txt", b"# a comment\r\n\r\n 7 7 7 skipped: starts with a space\n\n2 2 4\n1 2\n3 4\n")
    cur = open_text(p)
    skip_comments(cur)
    assert cur.line() == 5
    m = read_text_matrix(cur)
    assert m.dtype == np.int32 and m.tolist() == [[1, 2], [3, 4]]


# -- directive files ---------------------------------------------------------------------------

def test_main_names_missing_module(tmp_path):
    main = write(tmp_path, "main_x.txt", b"LandmarkDetector no_such_module.txt\n")
    err = expect_model_error(read_main_file, main, "'LandmarkDetector'", "line 1", names="no_such_module.txt")
    assert str(main) in err.where


def test_module_names_missing_files(tmp_path, model_dir):
    eye = model_dir / "model_eye"
    module = write(tmp_path, "clnf_x.txt",
                   f"PDM {eye / 'pdms/pdm_28_eye_3D_closed.txt'}\nPatchesCCNF missing_ccnf.txt\n".encode())
    main = write(tmp_path, "main_x.txt", b"LandmarkDetector clnf_x.txt\n")
    err = expect_model_error(read_main_file, main, "'PatchesCCNF'", "line 2", names="missing_ccnf.txt")
    assert err.path == str(tmp_path / "missing_ccnf.txt") and str(module) in err.where
    write(tmp_path, "clnf_x.txt", b"PDM pdms/absent.txt\n")
    expect_model_error(read_main_file, main, "'PDM'", "line 1", names="absent.txt")


def test_main_names_missing_part(tmp_path, model_dir):
    main = write(tmp_path, "main_x.txt",
                 f"LandmarkDetector {model_dir / 'model_eye/clnf_left_synth.txt'}\n"
                 "LandmarkDetector_part parts/absent_main.txt left_eye_28 0 0\n".encode())
    expect_model_error(read_main_file, main, "'LandmarkDetector_part'", "line 2", str(main),
                       names="absent_main.txt")


@pytest.mark.parametrize("body,needle", [
    ("LandmarkDetector_part {right} right_eye_28 0 99\n", "out of range"),
    ("LandmarkDetector_part {right} right_eye_28 0 x1\n", "integer index pairs"),
    ("LandmarkDetector_part {self} loop 0 0\n", "cycle"),
    ("LandmarkDetector {left}\n", "second 'LandmarkDetector'"),
    ("LandmarkDetector_part\n", "must be followed by a file path"),
])
def test_main_file_errors(tmp_path, model_dir, body, needle):
    main = tmp_path / "main_x.txt"
    first = f"LandmarkDetector {model_dir / 'model_eye/clnf_left_synth.txt'}\n"
    body = body.format(right=model_dir / "model_eye/main_clnf_synth_right.txt",
                       left=model_dir / "model_eye/clnf_left_synth.txt", self=main)
    write(tmp_path, "main_x.txt", (first + body).encode())
    expect_model_error(read_main_file, main, needle, "line 2")


def test_main_without_detector(tmp_path):
    main = write(tmp_path, "main_x.txt", b"FaceDetConversion haarAlign.txt\n")
    expect_model_error(read_main_file, main, "no 'LandmarkDetector'")


def test_clm_model_is_refused(model_dir):
    """main_clm_general.txt names SVR experts only: not a CLNF model."""
    expect_model_error(read_main_file, model_dir / "main_clm_general.txt", "PatchesCCNF", names="/clm_general.txt")


def test_landmark_count_mismatch(tmp_path, model_dir):
    write(tmp_path, "clnf_x.txt",
          f"PDM {model_dir / 'model_eye/pdms/pdm_28_eye_3D_closed.txt'}\n"
          f"PatchesCCNF {model_dir / 'model_inner/patch_experts/ccnf_patches_1.00_inner.txt'}\n".encode())
    main = write(tmp_path, "main_x.txt", b"LandmarkDetector clnf_x.txt\n")
    expect_model_error(read_main_file, main, "51 landmarks, expected 28", "line 2", names="clnf_x.txt")


def test_binary_main_file(model_dir):
    expect_model_error(read_main_file, model_dir / GENERAL, "binary")


def test_module_path_quirks(tmp_path, model_dir):
    """Spec 01 §1.3: the path is the rest of the line minus one character (may hold spaces),
    a trailing CR is removed; main-file paths are the second token."""
    sub = tmp_path / "dir with space"
    sub.mkdir()
    for name in ("pdms/pdm_28_eye_3D_closed.txt", "patch_experts/ccnf_patches_1.00_synth_lid_.txt"):
        (sub / Path(name).name).write_bytes((model_dir / "model_eye" / name).read_bytes())
    write(tmp_path, "clnf_x.txt", b"PDM dir with space/pdm_28_eye_3D_closed.txt\r\n"
                                  b"PatchesCCNF dir with space/ccnf_patches_1.00_synth_lid_.txt\r\n"
                                  b"Triangulations tris.txt")
    main = write(tmp_path, "main_x.txt", b"LandmarkDetector clnf_x.txt\r\nFaceDetConversion haarAlign.txt\r\n")
    model = read_main_file(main)
    assert model.pdm.n == 28 and len(model.scales) == 1
    assert model.extra["triangulations"] == str(tmp_path / "tris.txt")
    # Two separating spaces leave a leading space in the path (kept, as OpenFace does).
    write(tmp_path, "clnf_x.txt", b"PDM  dir with space/pdm_28_eye_3D_closed.txt\n")
    expect_model_error(read_main_file, main, "'PDM'", names="/ dir with space/pdm_28_eye_3D_closed.txt")


def test_text_matrix_integer_range(tmp_path):
    cur = open_text(write(tmp_path, "m.txt", b"1 2 4\n1 99999999999\n"))
    with pytest.raises(ModelError, match="out of range for int32"):
        read_text_matrix(cur)
