"""PyInstaller hook for fastclnf: the compiled core and every submodule, no model files.

fastclnf imports some modules lazily (the installer, the command line, writers), so all
submodules are collected. OpenFace's model files are not part of the package and are never
collected: a frozen app reads them from ``$FASTCLNF_MODEL_DIR`` or the per-user model directory
(see ``fastclnf/__pyinstaller/__init__.py``).
"""
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

hiddenimports = collect_submodules(
    "fastclnf", filter=lambda name: not name.startswith("fastclnf.__pyinstaller"))

# Non-Python files shipped inside the package (type stubs, if any); never the hook itself.
datas = collect_data_files("fastclnf", excludes=["__pyinstaller"])
try:
    datas += copy_metadata("fastclnf")     # importlib.metadata works in the frozen app
except Exception:                          # a source checkout on PYTHONPATH has no metadata
    pass
