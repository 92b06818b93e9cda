"""fastclnf.install: verify, consent, local and HTTP installs (resume, wrong files), the CLI.

HTTP cases run against a loopback server (127.0.0.1, port 0) serving ../shared's model directory
with a Range-capable handler that can drop a connection mid-file or serve the wrong bytes. Most
failure cases install a small subset of the file list (`files=`) to stay fast.
"""
from __future__ import annotations

import io
import shutil
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fastclnf import install as inst
from fastclnf.cli import main as cli_main
from fastclnf.errors import ModelNotFoundError
from fastclnf.model_files import MODEL_FILES, generate, manifest_digest, total_size
from fastclnf.models.loader import find_model_file

BIG = "patch_experts/ccnf_patches_0.25_general.txt"        # 2.4 MB: room to drop mid-file
SUBSET = [mf for mf in MODEL_FILES
          if mf.path in (BIG, "main_clnf_general.txt", "pdms/In-the-wild_aligned_PDM_68.txt",
                         "mtcnn_detector/PNet.dat")]
FAST = dict(timeout=5.0, retries=0, backoff=0.0, out=io.StringIO())


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No test touches the real per-user cache, sees a consent variable, or has a terminal."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(inst.ENV_ACCEPT_LICENSE, raising=False)
    monkeypatch.delenv("FASTCLNF_MODEL_DIR", raising=False)
    monkeypatch.setattr(inst, "_stdin_is_tty", lambda: False)


def _fast(**kw):
    return {**FAST, "out": io.StringIO(), **kw}


# -- the file list and verify ------------------------------------------------------------------

def test_list_is_complete_and_current(model_dir):
    assert len(MODEL_FILES) == 40 and len({mf.path for mf in MODEL_FILES}) == 40
    assert list(MODEL_FILES) == generate(str(model_dir))
    paths = {mf.path for mf in MODEL_FILES}
    for needed in ("main_clnf_general.txt", "main_clnf_wild.txt", "main_clnf_multi_pie.txt",
                   "model_inner/patch_experts/ccnf_patches_1.00_inner.txt", "tris_68.txt",
                   "detection_validation/validator_cnn.txt", "mtcnn_detector/ONet.dat", "haarAlign.txt"):
        assert needed in paths


def test_verify_shared_model_dir(model_dir):
    report = inst.verify(model_dir)
    assert report.complete and bool(report)
    assert len(report.ok) == len(MODEL_FILES) and not report.missing and not report.changed
    assert "all 40 model files present and verified" in report.summary()


def _copy_listed(src: Path, dst: Path, files=MODEL_FILES) -> Path:
    for mf in files:
        (dst / mf.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / mf.path, dst / mf.path)
    return dst


def test_verify_names_missing_and_changed(model_dir, tmp_path):
    copy = _copy_listed(model_dir, tmp_path / "copy")
    (copy / "pdms/Multi-PIE_aligned_PDM_68.txt").unlink()
    target = copy / "model_eye/patch_experts/ccnf_patches_1.00_synth_lid_.txt"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0x01                                       # same size, one bit differs
    target.write_bytes(bytes(data))
    report = inst.verify(copy)
    assert not report.complete
    assert report.missing == ["pdms/Multi-PIE_aligned_PDM_68.txt"]
    assert report.changed == ["model_eye/patch_experts/ccnf_patches_1.00_synth_lid_.txt"]
    assert len(report.ok) == len(MODEL_FILES) - 2
    text = report.summary()
    assert "missing: pdms/Multi-PIE_aligned_PDM_68.txt" in text and "ccnf_patches_1.00_synth_lid_" in text
    # The CLI says the same and fails.
    assert cli_main(["models", "verify", str(copy)]) == 1
    assert cli_main(["models", "verify", str(model_dir)]) == 0


# -- consent -------------------------------------------------------------------------------------

def test_refuses_without_consent_and_writes_nothing(model_dir, tmp_path):
    dest = tmp_path / "a" / "b" / "model"
    out = io.StringIO()
    with pytest.raises(inst.LicenseNotAccepted, match="--accept-license"):
        inst.install(model_dir, dest, **_fast(out=out))
    assert "non-commercial research use only" in out.getvalue()
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "xdg").exists()


def test_cli_refuses_without_consent(model_dir, tmp_path, capsys):
    rc = cli_main(["models", "install", "--from", str(model_dir), "--dest", str(tmp_path / "m")])
    assert rc == 1
    assert "FASTCLNF_ACCEPT_LICENSE=1" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("answer, accepted", [("y", True), ("yes", True), ("n", False), ("", False)])
def test_asks_for_consent(model_dir, tmp_path, answer, accepted):
    asked = []
    dest = tmp_path / "m"

    def ask(question):
        asked.append(question)
        return answer

    if accepted:
        inst.install(model_dir, dest, files=SUBSET, ask=ask, **_fast())
        assert inst.is_installed(dest, SUBSET)
    else:
        with pytest.raises(inst.LicenseNotAccepted, match="declined"):
            inst.install(model_dir, dest, files=SUBSET, ask=ask, **_fast())
        assert not dest.exists()
    assert len(asked) == 1 and "[y/N]" in asked[0]


def test_environment_accepts(model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(inst.ENV_ACCEPT_LICENSE, "1")
    out = io.StringIO()
    inst.install(model_dir, tmp_path / "m", files=SUBSET, **_fast(out=out))
    assert inst.is_installed(tmp_path / "m", SUBSET)
    assert "FASTCLNF_ACCEPT_LICENSE=1" in out.getvalue()


# -- local installs ------------------------------------------------------------------------------

def test_install_from_local_dir(model_dir, tmp_path):
    dest = tmp_path / "models" / "model"
    r = inst.install(model_dir, dest, accept_license=True, **_fast())
    assert sorted(r.fetched) == sorted(mf.path for mf in MODEL_FILES) and not r.reused
    assert r.bytes_fetched == total_size()
    assert inst.verify(dest).complete and inst.is_installed(dest)
    assert not (dest.parent / ".model.staging").exists()
    assert find_model_file(dest) == dest / "main_clnf_general.txt"

    # A second install finds everything in place and does nothing.
    again = inst.install(model_dir, dest, accept_license=True, **_fast())
    assert again.already_installed and not again.fetched

    # A damaged file is re-fetched; the others are reused from the earlier install.
    damaged = dest / "tris_68.txt"
    damaged.write_text("not a triangulation\n")
    fixed = inst.install(model_dir, dest, accept_license=True, **_fast())
    assert fixed.fetched == ["tris_68.txt"] and len(fixed.reused) == len(MODEL_FILES) - 1
    assert inst.is_installed(dest)
    assert not (dest.parent / ".model.old").exists()


def test_install_from_incomplete_local_dir_installs_nothing(model_dir, tmp_path):
    src = _copy_listed(model_dir, tmp_path / "src", SUBSET)
    (src / "mtcnn_detector/PNet.dat").unlink()
    (src / "main_clnf_general.txt").write_text("LandmarkDetector something_else.txt\n")
    with pytest.raises(inst.InstallError) as e:
        inst.install(src, tmp_path / "m", accept_license=True, files=SUBSET, **_fast())
    assert "missing at the source: mtcnn_detector/PNet.dat" in str(e.value)
    assert "main_clnf_general.txt" in str(e.value)
    assert not (tmp_path / "m").exists()


def test_refuses_foreign_nonempty_dest(model_dir, tmp_path):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "thesis.tex").write_text("precious")
    with pytest.raises(inst.InstallError, match="not a fastclnf model install"):
        inst.install(model_dir, dest, accept_license=True, files=SUBSET, **_fast())
    assert [p.name for p in dest.iterdir()] == ["thesis.tex"]


# -- HTTP installs -------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    """Serves server.root under /model/ with Range support and injectable faults."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):        # keep test output quiet
        pass

    def do_GET(self):
        srv = self.server
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        rng = self.headers.get("Range")
        with srv.lock:
            srv.requests.append((path, rng))
        if not path.startswith("/model/"):
            return self._status(404)
        rel = path[len("/model/"):]
        file = srv.root / rel
        if ".." in rel.split("/") or not file.is_file() or rel in srv.missing:
            return self._status(404)
        data = file.read_bytes()
        if rel in srv.wrong:
            data = srv.wrong[rel](data)
        start = 0
        if rng and not srv.ignore_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                return self._status(416)
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with srv.lock:
            drop = srv.drop.get(rel, 0) > 0
            if drop:
                srv.drop[rel] -= 1
        if drop:                          # send ~40% then hang up
            self.wfile.write(body[: int(len(body) * 0.4)])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def _status(self, code):
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server(model_dir):
    """A loopback model server; tweak .drop/.wrong/.missing/.ignore_range in the test."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.root, srv.lock, srv.requests = Path(model_dir), threading.Lock(), []
    srv.drop, srv.wrong, srv.missing, srv.ignore_range = {}, {}, set(), False
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/model"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def test_http_install_into_user_cache(server, tmp_path):
    r = inst.install(server.url + "/", accept_license=True, **_fast())
    dest = tmp_path / "xdg" / "fastclnf" / "model"
    assert r.dest == dest and len(r.fetched) == len(MODEL_FILES)
    assert inst.is_installed(dest)
    assert find_model_file() == dest / "main_clnf_general.txt"      # load_model looks here first
    assert len(server.requests) == len(MODEL_FILES) and all(rng is None for _, rng in server.requests)
    text = inst.where()
    assert f"load_model() uses: {dest / 'main_clnf_general.txt'}" in text
    assert "fastclnf install, all 40 listed files verified" in text


def test_http_drop_then_resume_with_range(server, tmp_path):
    dest = tmp_path / "m"
    server.drop[BIG] = 1
    with pytest.raises(inst.InstallError, match="run the install again to resume"):
        inst.install(server.url, dest, accept_license=True, files=SUBSET, **_fast())
    # Nothing looks installed; the staging area holds the partial file and the finished ones.
    assert not dest.exists()
    with pytest.raises(ModelNotFoundError):
        find_model_file(dest)
    part = tmp_path / ".m.staging" / (BIG + ".part")
    have = part.stat().st_size
    size = next(mf.size for mf in SUBSET if mf.path == BIG)
    assert 0 < have < size

    server.requests.clear()
    r = inst.install(server.url, dest, accept_license=True, files=SUBSET, **_fast())
    assert inst.is_installed(dest, SUBSET)
    assert (f"/model/{BIG}", f"bytes={have}-") in server.requests
    assert BIG in r.fetched
    # Files finished before the drop were kept, not fetched again.
    fetched_paths = {p for p, _ in server.requests}
    assert all(f"/model/{p}" not in fetched_paths for p in r.reused) and r.reused


def test_http_drop_retried_within_one_install(server, tmp_path):
    server.drop[BIG] = 2
    r = inst.install(server.url, tmp_path / "m", accept_license=True, files=SUBSET,
                     **_fast(retries=3))
    assert inst.is_installed(tmp_path / "m", SUBSET) and BIG in r.fetched
    ranges = [rng for p, rng in server.requests if p == f"/model/{BIG}"]
    assert ranges[0] is None and len(ranges) == 3 and all(r.startswith("bytes=") for r in ranges[1:])


def test_http_stale_partial_is_fetched_afresh(server, tmp_path):
    """A .part left by another source resumes into a wrong file: one fresh download fixes it."""
    part = tmp_path / ".m.staging" / (BIG + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 1000)
    r = inst.install(server.url, tmp_path / "m", accept_license=True, files=SUBSET, **_fast())
    assert inst.is_installed(tmp_path / "m", SUBSET) and BIG in r.fetched
    assert [rng for p, rng in server.requests if p == f"/model/{BIG}"] == ["bytes=1000-", None]


def test_http_resume_when_server_ignores_range(server, tmp_path):
    server.drop[BIG] = 1
    server.ignore_range = True
    inst.install(server.url, tmp_path / "m", accept_license=True, files=SUBSET, **_fast(retries=1))
    assert inst.verify(tmp_path / "m", SUBSET).complete


def _flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 0xFF]) + data[1:]


@pytest.mark.parametrize("corrupt", [_flip, lambda d: d + b"trailing junk"], ids=["same-size", "longer"])
def test_http_wrong_file_installs_nothing(server, tmp_path, corrupt):
    server.wrong["pdms/In-the-wild_aligned_PDM_68.txt"] = corrupt
    with pytest.raises(inst.InstallError) as e:
        inst.install(server.url, tmp_path / "m", accept_license=True, files=SUBSET, **_fast())
    msg = str(e.value)
    assert "wrong file" in msg and "pdms/In-the-wild_aligned_PDM_68.txt" in msg
    assert not (tmp_path / "m").exists()
    staging = tmp_path / ".m.staging"
    assert not (staging / "pdms/In-the-wild_aligned_PDM_68.txt").exists()
    assert not (staging / "pdms/In-the-wild_aligned_PDM_68.txt.part").exists()
    assert not (staging / inst.COMPLETE_MARKER).exists()


def test_http_missing_file_named(server, tmp_path):
    server.missing.add("mtcnn_detector/PNet.dat")
    with pytest.raises(inst.InstallError, match="missing at the source: mtcnn_detector/PNet.dat"):
        inst.install(server.url, tmp_path / "m", accept_license=True, files=SUBSET, **_fast())
    assert not (tmp_path / "m").exists()


def test_http_unreachable_fails_fast(tmp_path):
    with socket.socket() as s:                       # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(inst.InstallError, match="download failed after 2 attempt"):
        inst.install(f"http://127.0.0.1:{port}/model", tmp_path / "m", accept_license=True,
                     files=SUBSET, **_fast(retries=1))
    assert not (tmp_path / "m").exists()


def test_progress_line_on_request(server, tmp_path):
    out = io.StringIO()
    inst.install(server.url, tmp_path / "m", accept_license=True, files=SUBSET,
                 **_fast(out=out, progress=True))
    text = out.getvalue()
    assert f"\r[{len(SUBSET)}/{len(SUBSET)}]" in text and BIG in text


# -- where / CLI wiring ----------------------------------------------------------------------------

def test_cli_install_and_where(model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(inst.ENV_ACCEPT_LICENSE, "yes")
    assert cli_main(["models", "install", "--from", str(model_dir)]) == 0
    dest = tmp_path / "xdg" / "fastclnf" / "model"
    assert inst.is_installed(dest)
    assert cli_main(["models", "where"]) == 0
    out = capsys.readouterr().out
    assert str(dest) in out and "load_model() uses" in out
    monkeypatch.setenv("FASTCLNF_MODEL_DIR", str(tmp_path / "nowhere"))
    assert cli_main(["models", "where"]) == 0
    out = capsys.readouterr().out
    assert "finds no model" in out and "only place looked at" in out


def test_marker_names_manifest(model_dir, tmp_path):
    inst.install(model_dir, tmp_path / "m", accept_license=True, files=SUBSET, **_fast())
    import json
    info = json.loads((tmp_path / "m" / inst.COMPLETE_MARKER).read_text())
    assert info["manifest"] == manifest_digest(SUBSET) and info["files"] == len(SUBSET)
    assert not inst.is_installed(tmp_path / "m")              # not the full current list
