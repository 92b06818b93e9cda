"""Verify and install OpenFace's model files (consent-gated: they are research-licensed).

fastclnf never ships OpenFace's trained models. This module copies or downloads them, from a
local OpenFace model directory or an http(s) server holding the same layout, into the per-user
model directory that `fastclnf.load_model()` searches first::

    fastclnf models install --from /path/to/OpenFace/lib/local/LandmarkDetector/model
    fastclnf models install --from https://example.org/openface-model --accept-license
    fastclnf models verify ~/.cache/fastclnf/model
    fastclnf models where

or from Python: ``fastclnf.install.install(source, accept_license=True)``.

What is installed is the list in `fastclnf.model_files` (paths, sizes, SHA-256); every file is
checked against it. The destination is ``$XDG_CACHE_HOME/fastclnf/model`` or
``~/.cache/fastclnf/model`` unless `dest` is given. A frozen application (PyInstaller) finds the
models the same way: via ``$FASTCLNF_MODEL_DIR`` or this per-user directory.

Consent: the licence summary below is shown and the user must agree, on a terminal, unless
``accept_license=True`` (``--accept-license``) or the environment has
``FASTCLNF_ACCEPT_LICENSE=1``. Without a terminal and without either, `install` raises
`LicenseNotAccepted` before writing anything.

Atomicity and resuming: files are fetched into a staging directory beside the destination
(``.<name>.staging``), each through a ``.part`` file that is checked (size, SHA-256) before it
takes its real name. Only when every file is there does the installer write the ``.complete``
marker and rename the staging directory to the destination, so a half-finished install never
looks installed (the destination either does not exist or is complete). An interrupted or
failed install leaves the staging directory behind; running `install` again keeps the verified
files, resumes partial downloads with HTTP ``Range`` requests, and reuses verified files of an
earlier install at the destination. The destination is managed by the installer: a re-install
replaces it as a whole (files added to it by hand do not survive), and it refuses to install
into an existing non-empty directory that is not one of its installs. HTTP uses only the
standard library (urllib).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, TextIO, Tuple, Union

from .errors import FastCLNFError
from .model_files import MODEL_FILES, ModelFile, manifest_digest, sha256_file, total_size

__all__ = [
    "ENV_ACCEPT_LICENSE", "LICENSE_SUMMARY", "LICENSE_URL", "COMPLETE_MARKER", "InstallError",
    "LicenseNotAccepted", "VerifyReport", "InstallResult", "default_dest", "verify", "install",
    "is_installed", "where", "register_cli",
]

ENV_ACCEPT_LICENSE = "FASTCLNF_ACCEPT_LICENSE"
COMPLETE_MARKER = ".complete"
LICENSE_URL = "https://github.com/TadasBaltrusaitis/OpenFace/blob/master/OpenFace-license.txt"
LICENSE_SUMMARY = f"""\
OpenFace's trained models are not part of fastclnf and come under OpenFace's own licence.
In short (a summary, not the licence itself):
  - they are licensed for academic or non-profit non-commercial research use only;
  - any commercial use needs a separate licence from Carnegie Mellon University (CMU);
  - the models were trained on third-party data sets that carry their own terms.
Read the full licence before you accept: {LICENSE_URL}
"""

_CHUNK = 1 << 16
_USER_AGENT = "fastclnf-model-installer"
PathLike = Union[str, os.PathLike]


class InstallError(FastCLNFError):
    """The model files could not be installed (the message says which and why)."""


class LicenseNotAccepted(InstallError):
    """The user did not accept OpenFace's licence (or could not be asked); nothing was written."""


# -- verifying ---------------------------------------------------------------------------------

@dataclass
class VerifyReport:
    """The result of `verify`: which listed files are present and have the right SHA-256.

    ok: verified files; missing: absent files; changed: present with another size or checksum.
    marker: the directory holds the ``.complete`` marker of a fastclnf install.
    """

    directory: Path
    ok: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    changed: List[str] = field(default_factory=list)
    marker: bool = False

    @property
    def complete(self) -> bool:
        """Every listed file is present with the right checksum."""
        return not self.missing and not self.changed

    def __bool__(self) -> bool:
        return self.complete

    def summary(self) -> str:
        n = len(self.ok) + len(self.missing) + len(self.changed)
        if self.complete:
            return f"{self.directory}: all {n} model files present and verified"
        lines = [f"{self.directory}: {len(self.ok)}/{n} model files verified"]
        lines += [f"  missing: {p}" for p in self.missing]
        lines += [f"  changed (size or SHA-256 differs): {p}" for p in self.changed]
        return "\n".join(lines)

    __str__ = summary


def _matches(path: Path, mf: ModelFile) -> bool:
    """`path` is a regular file with `mf`'s size and SHA-256."""
    try:
        if not path.is_file() or path.stat().st_size != mf.size:
            return False
        return sha256_file(path) == mf.sha256
    except OSError:
        return False


def verify(directory: PathLike, files: Optional[Sequence[ModelFile]] = None) -> VerifyReport:
    """Check that every file of `files` (default: all of `fastclnf.model_files.MODEL_FILES`) is
    in `directory` with the right size and SHA-256. Files not in the list are ignored."""
    directory = Path(directory).expanduser()
    report = VerifyReport(directory=directory, marker=(directory / COMPLETE_MARKER).is_file())
    for mf in MODEL_FILES if files is None else files:
        path = directory / mf.path
        if not path.is_file():
            report.missing.append(mf.path)
        elif _matches(path, mf):
            report.ok.append(mf.path)
        else:
            report.changed.append(mf.path)
    return report


def default_dest() -> Path:
    """Where `install` puts the models: ``$XDG_CACHE_HOME/fastclnf/model`` or
    ``~/.cache/fastclnf/model`` (the first default place `load_model` looks)."""
    from .models.cache import user_cache_root
    return user_cache_root() / "model"


def is_installed(directory: PathLike, files: Optional[Sequence[ModelFile]] = None) -> bool:
    """`directory` is a finished fastclnf install of the current file list (marker present,
    every file verified)."""
    directory = Path(directory).expanduser()
    return _read_marker(directory, files) is not None and verify(directory, files).complete


def _read_marker(directory: Path, files: Optional[Sequence[ModelFile]]) -> Optional[dict]:
    """The marker's content if it names the current manifest, else None."""
    try:
        info = json.loads((directory / COMPLETE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    wanted = manifest_digest(MODEL_FILES if files is None else files)
    return info if isinstance(info, dict) and info.get("manifest") == wanted else None


# -- consent -------------------------------------------------------------------------------------

def _env_accepts() -> bool:
    return os.environ.get(ENV_ACCEPT_LICENSE, "").strip().lower() in ("1", "true", "yes", "y")


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _get_consent(accept_license: bool, ask: Optional[Callable[[str], str]], out: TextIO) -> None:
    """Show the licence summary and make sure the user agreed; raise LicenseNotAccepted if not."""
    out.write(LICENSE_SUMMARY)
    if accept_license or _env_accepts():
        how = "--accept-license / accept_license=True" if accept_license else f"{ENV_ACCEPT_LICENSE}=1"
        out.write(f"Licence accepted ({how}).\n")
        out.flush()
        return
    if ask is None and not _stdin_is_tty():
        raise LicenseNotAccepted(
            "OpenFace's model licence was not accepted and there is no terminal to ask on, so "
            "nothing was installed. Read the licence (" + LICENSE_URL + ") and, if you agree, "
            f"re-run with --accept-license (accept_license=True) or set {ENV_ACCEPT_LICENSE}=1.")
    out.flush()
    try:
        answer = (ask or input)("Do you accept these terms for OpenFace's models? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise LicenseNotAccepted("OpenFace's model licence was declined; nothing was installed.")


# -- progress ------------------------------------------------------------------------------------

class _Progress:
    """One self-rewriting status line on a terminal; silent otherwise."""

    def __init__(self, out: TextIO, enabled: bool, n_files: int, total: int):
        self.out, self.enabled, self.n_files, self.total = out, enabled, n_files, total
        self.done_bytes = 0
        self.index = 0
        self.name = ""
        self._last = 0.0

    def file(self, index: int, name: str) -> None:
        self.index, self.name = index, name
        self._draw(force=True)

    def add(self, n: int) -> None:
        self.done_bytes += n
        self._draw()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        mb = 1e6
        line = (f"[{self.index:>{len(str(self.n_files))}}/{self.n_files}] "
                f"{self.done_bytes / mb:6.1f}/{self.total / mb:.1f} MB  {self.name}")
        self.out.write("\r" + line[:100].ljust(100))
        self.out.flush()

    def close(self) -> None:
        if self.enabled:
            self.out.write("\n")
            self.out.flush()


# -- fetching one file ---------------------------------------------------------------------------

class _Retryable(Exception):
    """A network problem worth another try (a resumed request)."""


class _WrongFile(Exception):
    """The source holds something else than the listed file (size or checksum)."""


class _Missing(Exception):
    """The source does not have the file."""


def _write_part_sync(f) -> None:
    f.flush()
    with contextlib.suppress(OSError):
        os.fsync(f.fileno())


def _copy_local(src: Path, part: Path, mf: ModelFile, progress: _Progress) -> str:
    """Copy `src` to `part`; returns the SHA-256 of what was copied."""
    if not src.is_file():
        raise _Missing(f"{src} does not exist")
    size = src.stat().st_size
    if size != mf.size:
        raise _WrongFile(f"{src} has {size} bytes, expected {mf.size}")
    h = hashlib.sha256()
    with open(src, "rb") as fin, open(part, "wb") as fout:
        for block in iter(lambda: fin.read(1 << 20), b""):
            h.update(block)
            fout.write(block)
            progress.add(len(block))
        _write_part_sync(fout)
    return h.hexdigest()


def _download(url: str, part: Path, mf: ModelFile, progress: _Progress, timeout: float) -> None:
    """One HTTP request: resume `part` from its current size (Range) or start it afresh.

    Raises _Retryable for a dropped connection or timeout (the partial file is kept),
    _WrongFile when the server's sizes contradict the list, _Missing for 404/410.
    """
    have = part.stat().st_size if part.exists() else 0
    if have > mf.size:
        part.unlink()
        have = 0
    if have == mf.size:
        return
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT,
                                                   "Accept-Encoding": "identity"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416:                       # the partial file does not fit the server's file
            part.unlink()
            raise _Retryable(f"HTTP 416 for a resumed request at byte {have}; starting afresh")
        if e.code in (404, 410):
            raise _Missing(f"{url}: HTTP {e.code}")
        if e.code >= 500 or e.code in (408, 429):
            raise _Retryable(f"{url}: HTTP {e.code}")
        raise InstallError(f"{url}: HTTP {e.code} {e.reason}")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _Retryable(f"{url}: {e}")
    with response:
        status = getattr(response, "status", 200)
        if have and status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {have}-"):
                part.unlink()
                raise _Retryable(f"{url}: unexpected Content-Range {content_range!r}; starting afresh")
            mode = "ab"
        elif status == 200:
            if have:                            # the server ignored Range: take the whole file
                progress.add(-have)
            have, mode = 0, "wb"
        else:
            raise InstallError(f"{url}: unexpected HTTP status {status}")
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and have + int(length) != mf.size:
            with contextlib.suppress(OSError):
                part.unlink()
            raise _WrongFile(f"{url}: the server's file has {have + int(length)} bytes, expected {mf.size}")
        try:
            with open(part, mode) as f:
                while True:
                    block = response.read(_CHUNK)
                    if not block:
                        break
                    if have + len(block) > mf.size:
                        f.close()
                        part.unlink()
                        raise _WrongFile(f"{url}: the server sent more than the expected {mf.size} bytes")
                    f.write(block)
                    have += len(block)
                    progress.add(len(block))
                _write_part_sync(f)
        except (OSError, http.client.HTTPException) as e:
            raise _Retryable(f"{url}: connection lost at byte {have} of {mf.size} ({e})")
    if have < mf.size:      # http.client returns b"" rather than raising when the peer hangs up
        raise _Retryable(f"{url}: connection closed at byte {have} of {mf.size}")


def _file_url(base: str, rel: str) -> str:
    return base.rstrip("/") + "/" + urllib.parse.quote(rel, safe="/")


def _fetch(source: Union[Path, str], mf: ModelFile, staging: Path, progress: _Progress,
           timeout: float, retries: int, backoff: float) -> None:
    """Put a verified copy of `mf` at staging/mf.path (via a .part file). Raises _Missing,
    _WrongFile or InstallError (network, retries exhausted)."""
    final = staging / mf.path
    part = final.with_name(final.name + ".part")
    final.parent.mkdir(parents=True, exist_ok=True)
    start = progress.done_bytes
    if isinstance(source, Path):
        digest = _copy_local(source / mf.path, part, mf, progress)
        where = str(source / mf.path)
    else:
        where = _file_url(source, mf.path)
        attempt = 0
        fresh_retry_done = False
        while True:
            resumed_from = part.stat().st_size if part.exists() else 0
            progress.done_bytes = start + resumed_from
            try:
                _download(where, part, mf, progress, timeout)
            except _Retryable as e:
                attempt += 1
                if attempt > retries:
                    raise InstallError(
                        f"{mf.path}: download failed after {attempt} attempt(s): {e}. The partial "
                        "file is kept; run the install again to resume.") from None
                time.sleep(min(backoff * 2 ** (attempt - 1), 5.0))
                continue
            digest = sha256_file(part)
            if digest != mf.sha256 and resumed_from and not fresh_retry_done:
                # A resumed file may have grown from a stale partial: one fresh try before failing.
                fresh_retry_done = True
                part.unlink()
                continue
            break
    if digest != mf.sha256:
        part.unlink()
        progress.done_bytes = start
        raise _WrongFile(f"{where}: SHA-256 differs from the expected {mf.sha256}")
    os.replace(part, final)


# -- installing ----------------------------------------------------------------------------------

@dataclass
class InstallResult:
    """What `install` did. fetched: files copied or downloaded from the source; reused: files
    already verified in the staging directory or an earlier install; already_installed: nothing
    needed doing."""

    dest: Path
    fetched: List[str] = field(default_factory=list)
    reused: List[str] = field(default_factory=list)
    bytes_fetched: int = 0
    already_installed: bool = False


def _parse_source(source: PathLike) -> Union[Path, str]:
    text = os.fspath(source)
    scheme = urllib.parse.urlsplit(text).scheme.lower() if isinstance(text, str) else ""
    if scheme in ("http", "https"):
        return text
    if scheme == "file":
        return Path(urllib.request.url2pathname(urllib.parse.urlsplit(text).path))
    path = Path(text).expanduser()
    if not path.is_dir():
        raise InstallError(f"model source {text!r} is neither an http(s) URL nor a directory")
    return path


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (POSIX); a second installer for the same dest fails fast."""
    try:
        import fcntl
    except ImportError:          # Windows: no lock; concurrent installs are the user's business
        yield
        return
    with open(path, "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InstallError(f"another model install holds {path}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    with contextlib.suppress(OSError):
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def install(source: PathLike, dest: Optional[PathLike] = None, accept_license: bool = False, *,
            files: Optional[Sequence[ModelFile]] = None, progress: Optional[bool] = None,
            timeout: float = 30.0, retries: int = 3, backoff: float = 0.5,
            ask: Optional[Callable[[str], str]] = None, out: Optional[TextIO] = None) -> InstallResult:
    """Install OpenFace's model files from `source` into `dest` (default `default_dest()`).

    source: a local OpenFace model directory, or an http(s) URL base under which each file is
        fetched as ``<base>/<relative path>``.
    accept_license: accept OpenFace's licence without asking (as does ``FASTCLNF_ACCEPT_LICENSE=1``);
        otherwise the user is asked on the terminal (or through `ask`, a prompt function), and
        without a terminal `LicenseNotAccepted` is raised before anything is written.
    files: the files to install (default: all of `fastclnf.model_files.MODEL_FILES`).
    progress: show a progress line (default: when `out` is a terminal).
    timeout: seconds per network operation; retries: extra attempts (each resuming with Range)
        per file after a dropped connection or timeout; backoff: first pause between them.

    Raises InstallError naming every file the source lacks or holds with another checksum, or the
    network failure; the destination is then left as it was (the staging directory keeps the
    verified files for the next try).
    """
    out = sys.stderr if out is None else out
    listed = list(MODEL_FILES if files is None else files)
    dest = (default_dest() if dest is None else Path(dest).expanduser()).absolute()
    src = _parse_source(source)
    if isinstance(src, Path) and src.resolve() == dest.resolve():
        raise InstallError(f"source and destination are the same directory: {dest}")
    if dest.exists() and not dest.is_dir():
        raise InstallError(f"destination {dest} exists and is not a directory")
    ours = dest.is_dir() and (dest / COMPLETE_MARKER).is_file()
    if dest.is_dir() and not ours and any(dest.iterdir()):
        raise InstallError(f"destination {dest} exists, is not empty and is not a fastclnf model "
                           f"install (no {COMPLETE_MARKER} marker); choose another --dest or remove it")

    _get_consent(accept_license, ask, out)

    result = InstallResult(dest=dest)
    if ours and _read_marker(dest, listed) is not None and verify(dest, listed).complete:
        result.already_installed = True
        result.reused = [mf.path for mf in listed]
        out.write(f"Models already installed and verified at {dest}\n")
        return result

    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{dest.name}.staging"
    with _lock(dest.parent / f".{dest.name}.lock"):
        staging.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            (staging / COMPLETE_MARKER).unlink()
        todo: List[ModelFile] = []
        for mf in listed:
            if _matches(staging / mf.path, mf):
                result.reused.append(mf.path)
            elif ours and _matches(dest / mf.path, mf):
                _link_or_copy(dest / mf.path, staging / mf.path)
                result.reused.append(mf.path)
            else:
                with contextlib.suppress(OSError):
                    (staging / mf.path).unlink()
                todo.append(mf)

        where_from = src if isinstance(src, str) else str(src)
        if todo:
            out.write(f"Fetching {len(todo)} of {len(listed)} model files "
                      f"({total_size(todo) / 1e6:.1f} MB) from {where_from}\n")
        show = progress if progress is not None else _isatty(out)
        bar = _Progress(out, bool(show), len(todo), total_size(todo))
        missing: List[str] = []
        wrong: List[Tuple[str, str]] = []
        try:
            for i, mf in enumerate(todo, 1):
                bar.file(i, mf.path)
                try:
                    _fetch(src, mf, staging, bar, timeout, retries, backoff)
                except _Missing:
                    missing.append(mf.path)
                except _WrongFile as e:
                    wrong.append((mf.path, str(e)))
                else:
                    result.fetched.append(mf.path)
                    result.bytes_fetched += mf.size
        finally:
            bar.close()
        if missing or wrong:
            lines = [f"model install from {where_from} failed; nothing was installed at {dest}."]
            lines += [f"  missing at the source: {p}" for p in missing]
            lines += [f"  wrong file (size or SHA-256 differs): {p}: {why}" for p, why in wrong]
            lines.append(f"Verified files are kept in {staging} for the next try.")
            raise InstallError("\n".join(lines))

        marker = {"manifest": manifest_digest(listed), "files": len(listed), "source": where_from,
                  "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "by": "fastclnf"}
        with open(staging / COMPLETE_MARKER, "w", encoding="utf-8") as f:
            json.dump(marker, f, indent=1)
            _write_part_sync(f)
        _swap_into_place(staging, dest)
    out.write(f"Installed {len(listed)} model files at {dest} "
              f"({len(result.fetched)} fetched, {len(result.reused)} reused)\n")
    return result


def _swap_into_place(staging: Path, dest: Path) -> None:
    """Rename the finished staging directory to `dest`, replacing an earlier fastclnf install
    (moved aside first, removed after), so `dest` is always either absent or complete."""
    old = dest.parent / f".{dest.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if dest.is_dir() and not any(dest.iterdir()):
        dest.rmdir()
    if dest.exists():
        os.replace(dest, old)
    os.replace(staging, dest)
    shutil.rmtree(old, ignore_errors=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- where ----------------------------------------------------------------------------------------

def where() -> str:
    """A report of where `load_model()` looks for models (in order), what each place holds, and
    which main file it would use."""
    from .errors import ModelNotFoundError
    from .models.loader import DEFAULT_MAIN_FILE, ENV_MODEL_DIR, default_model_dirs, find_model_file

    lines = []
    try:
        used: Optional[Path] = find_model_file()
        lines.append(f"load_model() uses: {used}")
    except ModelNotFoundError:
        used = None
        lines.append("load_model() finds no model; install one with "
                     "`fastclnf models install --from DIR|URL`")
    env = os.environ.get(ENV_MODEL_DIR)
    if env:
        lines.append(f"${ENV_MODEL_DIR}={env} is set, so it is the only place looked at:")
        places = [Path(env).expanduser()]
    else:
        lines.append(f"${ENV_MODEL_DIR} is not set; default places, in order:")
        places = []
        for d in default_model_dirs():
            if all(os.path.abspath(d) != os.path.abspath(p) for p in places):
                places.append(d)
    for place in places:
        directory = place if place.is_dir() or not place.suffix else place.parent
        mark = "*" if used is not None and os.path.dirname(used) == os.path.abspath(directory) else "-"
        lines.append(f"  {mark} {place}")
        lines.append(f"      {_describe(directory, DEFAULT_MAIN_FILE)}")
    lines.append(f"`fastclnf models install` installs into: {default_dest()}")
    return "\n".join(lines)


def _describe(directory: Path, main_file: str) -> str:
    if not directory.is_dir():
        return "not present"
    report = verify(directory)
    n = len(MODEL_FILES)
    state = ("all %d listed files verified" % n if report.complete else
             f"{len(report.ok)}/{n} listed files verified, {len(report.missing)} missing, "
             f"{len(report.changed)} changed")
    main = "" if (directory / main_file).is_file() else f"no {main_file}; "
    origin = "fastclnf install, " if report.marker else ""
    return f"{origin}{main}{state}"


# -- command line ---------------------------------------------------------------------------------

def register_cli(subparsers) -> argparse.ArgumentParser:
    """Add ``models verify|install|where`` to an argparse subparsers object. Each leaf sets
    ``func``: call ``args.func(args)``, which returns the exit status."""
    models = subparsers.add_parser("models", help="verify, install or locate OpenFace's model files",
                                   description="Verify, install or locate OpenFace's model files.")
    sub = models.add_subparsers(dest="models_command", metavar="{verify,install,where}")
    sub.required = True

    p = sub.add_parser("verify", help="check a model directory against the SHA-256 list")
    p.add_argument("directory", metavar="DIR")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("install", help="copy or download the model files (asks to accept OpenFace's licence)",
                       description="Install OpenFace's model files into the per-user model directory. "
                                   + LICENSE_SUMMARY.replace("\n", " "))
    p.add_argument("--from", dest="source", required=True, metavar="DIR|URL",
                   help="an OpenFace model directory, or an http(s) URL base holding the same layout")
    p.add_argument("--dest", metavar="DIR", help=f"install here instead of {default_dest()}")
    p.add_argument("--accept-license", action="store_true",
                   help=f"accept OpenFace's licence without asking (as does {ENV_ACCEPT_LICENSE}=1)")
    p.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds (default 30)")
    p.add_argument("--retries", type=int, default=3, help="resumed attempts per file (default 3)")
    p.set_defaults(func=_cmd_install)

    p = sub.add_parser("where", help="show where load_model() looks for models and what it finds")
    p.set_defaults(func=_cmd_where)
    return models


def _cmd_verify(args) -> int:
    directory = Path(args.directory).expanduser()
    if not directory.is_dir():
        print(f"error: {directory} is not a directory", file=sys.stderr)
        return 1
    report = verify(directory)
    print(report.summary())
    return 0 if report.complete else 1


def _cmd_install(args) -> int:
    try:
        install(args.source, args.dest, accept_license=args.accept_license,
                timeout=args.timeout, retries=max(0, args.retries))
    except InstallError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


def _cmd_where(args) -> int:
    print(where())
    return 0
