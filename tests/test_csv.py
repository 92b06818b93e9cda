"""OpenFace-compatible CSV and JSONL writers (fastclnf.io), spec 03 §8.2-8.3.

The expected header is spelled out here from the spec's table independently of the writer's
construction; rows come from OpenFace's reference fits so the round trip uses realistic values.
"""
from __future__ import annotations

import csv
import json
import os
import re
from types import SimpleNamespace

import numpy as np
import pytest

from fastclnf.io import (
    AU_INTENSITY_NAMES,
    AU_PRESENCE_NAMES,
    JsonlWriter,
    OpenFaceCsvWriter,
    Sections,
    csv_header,
    format_csv_row,
)


# ------------------------------------------------------------------------------------------------
# Header (§8.2)


def _spec_header(mode):
    """§8.2 table, rows 1-9, written out literally."""
    cols = (["frame", "face_id", "timestamp", "confidence", "success"] if mode == "sequence"
            else ["face", "confidence"])
    cols += ["gaze_0_x", "gaze_0_y", "gaze_0_z", "gaze_1_x", "gaze_1_y", "gaze_1_z",
             "gaze_angle_x", "gaze_angle_y"]
    for p in ("x", "y", "X", "Y", "Z"):
        cols += ["eye_lmk_%s_%d" % (p, i) for i in range(56)]
    cols += ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
    cols += ["x_%d" % i for i in range(68)] + ["y_%d" % i for i in range(68)]
    cols += ["X_%d" % i for i in range(68)] + ["Y_%d" % i for i in range(68)]
    cols += ["Z_%d" % i for i in range(68)]
    cols += ["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"] + ["p_%d" % i for i in range(34)]
    aus = "01 02 04 05 06 07 09 10 12 14 15 17 20 23 25 26 45".split()
    cols += ["AU%s_r" % a for a in aus]
    cols += ["AU%s_c" % a for a in sorted(aus + ["28"])]
    return cols


@pytest.mark.parametrize("mode, count", [("sequence", 714), ("image", 711)])
def test_full_header_matches_spec(mode, count):
    header = csv_header(mode, Sections.openface_default())
    assert header == _spec_header(mode)
    assert len(header) == count
    assert len(set(header)) == count
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", c) for c in header)


def test_au_names_sorted():
    assert list(AU_INTENSITY_NAMES) == sorted(AU_INTENSITY_NAMES) and len(AU_INTENSITY_NAMES) == 17
    assert list(AU_PRESENCE_NAMES) == sorted(AU_PRESENCE_NAMES) and len(AU_PRESENCE_NAMES) == 18
    assert set(AU_PRESENCE_NAMES) - set(AU_INTENSITY_NAMES) == {"AU28"}


def test_sections_switch_column_groups():
    spec = _spec_header("sequence")
    default = csv_header("sequence")  # fastclnf default: everything but AUs
    assert default == spec[: len(spec) - 35] and len(default) == 679
    assert csv_header("image", Sections(gaze=False, landmarks_2d=False, landmarks_3d=False,
                                        pdm_params=False)) == ["face", "confidence", "pose_Tx",
                                                               "pose_Ty", "pose_Tz", "pose_Rx",
                                                               "pose_Ry", "pose_Rz"]
    # No eye model → no gaze section at all (§8.2 e = 0).
    no_eyes = csv_header("sequence", n_eye_landmarks=0)
    assert not any(c.startswith(("gaze", "eye_lmk")) for c in no_eyes)
    assert len(no_eyes) == 679 - 8 - 280
    with pytest.raises(ValueError, match="mode"):
        csv_header("video")


# ------------------------------------------------------------------------------------------------
# Rows


@pytest.fixture(scope="module")
def rows(reference_faces):
    """Result-like rows from the reference fits (3-D values are placeholders of the right shape:
    the writer only formats them)."""
    out = []
    rng = np.random.default_rng(0)
    for i, face in enumerate(reference_faces[:12]):
        out.append({
            "file": face["image"],
            "frame": i + 1,
            "face_id": 0,
            "timestamp": i / 30.0,
            "confidence": face["detection_certainty"],
            "success": face["detection_success"],
            "gaze": np.float32(rng.normal(size=8)),
            "eye_landmarks": np.float32(face["eye_landmarks"]),
            "eye_landmarks_3d": np.float32(rng.normal(size=(56, 3)) * 300),
            "pose": np.float32(face["pose"]),
            "landmarks": np.float32(face["landmarks"]),
            "landmarks_3d": np.float32(rng.normal(size=(68, 3)) * 300),
            "params_global": np.float32(face["params_global"]),
            "params_local": np.float32(face["params_local"]),
        })
    return out


def _minimal_row(**over):
    row = dict(frame=1, face_id=0, timestamp=0.0, confidence=0.9, success=True, gaze=None,
               eye_landmarks=np.zeros((56, 2)), eye_landmarks_3d=np.zeros((56, 3)),
               pose=np.zeros(6), landmarks=np.zeros((68, 2)), landmarks_3d=np.zeros((68, 3)),
               params_global=np.zeros(6), params_local=np.zeros(34))
    row.update(over)
    return row


def test_number_formatting():
    pose = np.float32([-0.04, 0.05, 612.25, -0.0004, 0.0005, 1.23456])
    lm = np.zeros((68, 2), np.float32)
    lm[0] = [np.float32(0.1), -0.0]
    row = _minimal_row(frame=7, face_id=2, timestamp=1 / 3, confidence=np.float32(0.98765),
                       success=False, pose=pose, landmarks=lm,
                       params_global=np.float32([1.0005, 0, 0, 0, 2.5, -2.5]),
                       gaze=np.float32([0.1, -0.2, -0.97, 0, 0, -1, 0.12345, -0.0004]))
    cells = dict(zip(csv_header("sequence"), format_csv_row(row, "sequence")))
    assert cells["frame"] == "7" and cells["face_id"] == "2" and cells["success"] == "0"
    assert cells["timestamp"] == "0.333"
    assert cells["confidence"] == "0.99"                      # %.2f in sequence mode
    # printf semantics on the float32 widened to double (§8.3): -0.04 → "-0.0",
    # 612.25 → "612.2" (exact tie, round half to even), float32 0.05 = 0.0500000007 → "0.1".
    assert [cells[c] for c in ("pose_Tx", "pose_Ty", "pose_Tz")] == ["-0.0", "0.1", "612.2"]
    assert [cells[c] for c in ("pose_Rx", "pose_Ry", "pose_Rz")] == ["-0.000", "0.001", "1.235"]
    assert cells["x_0"] == "0.1" and cells["y_0"] == "-0.0" and cells["x_1"] == "0.0"
    assert cells["gaze_0_x"] == "0.100000" and cells["gaze_1_z"] == "-1.000000"
    assert cells["gaze_angle_x"] == "0.123" and cells["gaze_angle_y"] == "-0.000"
    assert cells["p_scale"] == "1.000" and cells["p_ty"] == "-2.500"   # float32 1.0005 < 1.0005
    image = dict(zip(csv_header("image"), format_csv_row(row, "image")))
    assert image["face"] == "2" and image["confidence"] == "0.988"   # %.3f in image mode


def test_point_layout_all_x_then_all_y():
    lm = np.stack([np.arange(68), 100 + np.arange(68)], axis=1)
    pts3 = np.stack([np.arange(68), 100 + np.arange(68), 200 + np.arange(68)], axis=1)
    eyes = np.stack([np.arange(56), 100 + np.arange(56)], axis=1)
    row = _minimal_row(landmarks=lm, landmarks_3d=pts3, eye_landmarks=eyes)
    cells = dict(zip(csv_header(), format_csv_row(row)))
    assert cells["x_5"] == "5.0" and cells["y_5"] == "105.0"
    assert cells["X_67"] == "67.0" and cells["Y_0"] == "100.0" and cells["Z_3"] == "203.0"
    assert cells["eye_lmk_x_30"] == "30.0" and cells["eye_lmk_y_30"] == "130.0"


def test_default_gaze_per_tool():
    # §7 [exe]: FaceLandmarkImg writes (0,0,−1) vectors, FeatureExtraction zeros; angle 0.
    seq = dict(zip(csv_header("sequence"), format_csv_row(_minimal_row(), "sequence")))
    img = dict(zip(csv_header("image"), format_csv_row(_minimal_row(), "image")))
    assert [seq["gaze_0_z"], seq["gaze_1_z"], seq["gaze_angle_x"]] == ["0.000000", "0.000000", "0.000"]
    assert [img["gaze_0_z"], img["gaze_1_z"], img["gaze_angle_y"]] == ["-1.000000", "-1.000000", "0.000"]


def test_gaze_object_accepted():
    from fastclnf.gaze import Gaze

    g = Gaze(np.float32([0, 0, -1]), np.float32([0.6, 0, -0.8]), np.float32([0.3, 0.0]))
    cells = dict(zip(csv_header(), format_csv_row(_minimal_row(gaze=g))))
    assert cells["gaze_1_x"] == "0.600000" and cells["gaze_angle_x"] == "0.300"


def test_au_section_zero_when_missing():
    header = csv_header("sequence", Sections.openface_default())
    cells = format_csv_row(_minimal_row(au_intensity={"AU12": 1.234}), "sequence",
                           Sections.openface_default())
    values = dict(zip(header, cells))
    assert values["AU12_r"] == "1.23" and values["AU01_r"] == "0" and values["AU28_c"] == "0"


def test_objects_as_rows_and_missing_fields():
    obj = SimpleNamespace(**_minimal_row())
    assert format_csv_row(obj) == format_csv_row(_minimal_row())
    bad = _minimal_row()
    del bad["landmarks_3d"]
    with pytest.raises(ValueError, match="landmarks_3d"):
        format_csv_row(bad)
    with pytest.raises(ValueError, match="expected \\(68, 2\\)"):
        format_csv_row(_minimal_row(landmarks=np.zeros((67, 2))))
    # Sections that are off need no data.
    assert len(format_csv_row(bad, sections=Sections(landmarks_3d=False))) == 679 - 204


def test_round_trip_dictreader_and_numpy(tmp_path, rows):
    path = tmp_path / "video.csv"
    with OpenFaceCsvWriter(path, mode="sequence") as w:
        w.write_many(rows)
    assert w.rows_written == len(rows)
    raw = path.read_bytes()
    assert b"\r" not in raw and b", " not in raw and raw.endswith(b"\n")
    with open(path, newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0].keys()) == csv_header("sequence")
    assert len(table) == len(rows)
    for row, rec in zip(rows, table):
        assert int(rec["frame"]) == row["frame"] and rec["success"] == str(int(row["success"]))
        assert abs(float(rec["confidence"]) - row["confidence"]) <= 0.005 + 1e-9
        got = np.array([[float(rec[f"x_{i}"]), float(rec[f"y_{i}"])] for i in range(68)])
        assert np.abs(got - row["landmarks"]).max() <= 0.05 + 1e-6
        got = np.array([float(rec[f"p_{i}"]) for i in range(34)])
        assert np.abs(got - row["params_local"]).max() <= 0.0005 + 1e-7
        got = np.array([float(rec[c]) for c in ("pose_Rx", "pose_Ry", "pose_Rz")])
        assert np.abs(got - row["pose"][3:]).max() <= 0.0005 + 1e-7
    data = np.genfromtxt(path, delimiter=",", names=True)
    assert data.shape == (len(rows),) and len(data.dtype.names) == 679
    assert np.allclose(data["eye_lmk_Z_3"], [r["eye_landmarks_3d"][3, 2] for r in rows], atol=0.05)


# ------------------------------------------------------------------------------------------------
# Atomicity


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir())


def test_file_appears_only_on_close(tmp_path, rows):
    path = tmp_path / "img.csv"
    w = OpenFaceCsvWriter(path, mode="image")
    w.write(rows[0])
    assert not path.exists()
    assert w.temp_path.parent == tmp_path and w.temp_path.exists()
    assert w.close() == path
    assert _leftovers(tmp_path) == ["img.csv"]
    assert w.close() == path  # idempotent
    with pytest.raises(ValueError, match="closed"):
        w.write(rows[0])


def test_image_run_failure_leaves_nothing(tmp_path, rows):
    path = tmp_path / "img.csv"
    with pytest.raises(RuntimeError):
        with OpenFaceCsvWriter(path, mode="image") as w:
            w.write(rows[0])
            raise RuntimeError("fit failed")
    assert _leftovers(tmp_path) == []


def test_video_interrupt_leaves_valid_partial_csv(tmp_path, rows):
    path = tmp_path / "video.csv"
    with pytest.raises(KeyboardInterrupt):
        with OpenFaceCsvWriter(path, mode="sequence") as w:
            for row in rows[:3]:
                w.write(row)
            raise KeyboardInterrupt
    assert _leftovers(tmp_path) == ["video.csv"]
    with open(path, newline="") as f:
        table = list(csv.DictReader(f))
    assert [int(r["frame"]) for r in table] == [1, 2, 3]


def test_keep_partial_flag_overrides_mode_default(tmp_path, rows):
    with pytest.raises(KeyboardInterrupt):
        with OpenFaceCsvWriter(tmp_path / "v.csv", mode="sequence", keep_partial=False) as w:
            w.write(rows[0])
            raise KeyboardInterrupt
    assert _leftovers(tmp_path) == []
    with pytest.raises(RuntimeError):
        with OpenFaceCsvWriter(tmp_path / "i.csv", mode="image", keep_partial=True) as w:
            raise RuntimeError
    assert (tmp_path / "i.csv").read_text() == ",".join(csv_header("image")) + "\n"


def test_torn_line_is_cut_from_partial_file(tmp_path, rows):
    # An interrupt that lands inside a write leaves half a line in the temporary file; the partial
    # commit cuts the file back to the last complete line.
    path = tmp_path / "video.csv"
    with pytest.raises(KeyboardInterrupt):
        with OpenFaceCsvWriter(path, mode="sequence") as w:
            w.write(rows[0])
            real = w._file.write

            def torn(data):
                real(data[: len(data) // 2])
                raise KeyboardInterrupt

            w._file.write = torn
            w.write(rows[1])
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith("1,0,")
    assert all(len(l.split(",")) == 679 for l in lines)


def test_bad_row_writes_nothing(tmp_path, rows):
    path = tmp_path / "video.csv"
    with OpenFaceCsvWriter(path) as w:
        w.write(rows[0])
        with pytest.raises(ValueError):
            w.write({"frame": 2})
        w.write(rows[1])
    assert len(path.read_text().splitlines()) == 3


def test_dropped_writer_removes_temp(tmp_path, rows):
    w = OpenFaceCsvWriter(tmp_path / "x.csv")
    w.write(rows[0])
    w.abort()
    assert _leftovers(tmp_path) == []
    w2 = OpenFaceCsvWriter(tmp_path / "y.csv")
    del w2
    assert _leftovers(tmp_path) == []


def test_overwrites_existing_target_atomically(tmp_path, rows):
    path = tmp_path / "video.csv"
    path.write_text("old\n")
    w = OpenFaceCsvWriter(path)
    w.write(rows[0])
    assert path.read_text() == "old\n"  # the previous file stays intact until close
    w.close()
    assert path.read_text().startswith("frame,face_id,")


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        OpenFaceCsvWriter(tmp_path / "nope" / "x.csv")


@pytest.mark.skipif(os.name != "posix", reason="umask semantics")
def test_final_file_has_umask_permissions(tmp_path, rows):
    old = os.umask(0o022)
    try:
        with OpenFaceCsvWriter(tmp_path / "p.csv") as w:
            w.write(rows[0])
    finally:
        os.umask(old)
    assert (tmp_path / "p.csv").stat().st_mode & 0o777 == 0o644


# ------------------------------------------------------------------------------------------------
# JSONL


def test_jsonl_round_trip(tmp_path, rows):
    path = tmp_path / "faces.jsonl"
    extra = dict(rows[0], model_likelihood=np.float32(-0.5), bad=np.float32(np.nan))
    with JsonlWriter(path) as w:
        w.write(extra)
        w.write(SimpleNamespace(**rows[1]))
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(recs) == 2
    first = recs[0]
    assert list(first)[:6] == ["file", "frame", "face_id", "timestamp", "confidence", "success"]
    assert first["file"] == rows[0]["file"] and first["success"] == rows[0]["success"]
    assert np.array(first["landmarks"]).shape == (68, 2)
    # float32 values come back exactly (9 significant digits round-trip float32).
    assert np.array_equal(np.float32(first["landmarks"]), rows[0]["landmarks"])
    assert np.array_equal(np.float32(recs[1]["params_local"]), rows[1]["params_local"])
    assert first["model_likelihood"] == -0.5 and first["bad"] is None   # NaN → null
    assert len(first["gaze"]) == 8
    assert "model_likelihood" not in recs[1]
    # Compact: float32 is written as its shortest round-trip decimal, not its double expansion.
    with JsonlWriter(tmp_path / "short.jsonl") as w:
        w.write({"x": np.float32(0.1), "v": np.float32([1e-5, 123456.79, -2.5])})
    assert (tmp_path / "short.jsonl").read_text() == '{"x":0.1,"v":[1e-05,123456.79,-2.5]}\n'


def test_jsonl_gaze_object_and_atomicity(tmp_path):
    from fastclnf.gaze import Gaze

    path = tmp_path / "g.jsonl"
    w = JsonlWriter(path)
    w.write({"frame": 1, "gaze": Gaze(np.float32([0, 0, -1]), np.float32([0, 0, -1]),
                                      np.float32([0, 0]))})
    assert not path.exists()
    w.close()
    rec = json.loads(path.read_text())
    assert rec["gaze"] == {"gaze_0": [0.0, 0.0, -1.0], "gaze_1": [0.0, 0.0, -1.0], "angle": [0.0, 0.0]}
    with pytest.raises(RuntimeError):
        with JsonlWriter(tmp_path / "h.jsonl", keep_partial=False) as w:
            w.write({"frame": 1})
            raise RuntimeError
    assert _leftovers(tmp_path) == ["g.jsonl"]
