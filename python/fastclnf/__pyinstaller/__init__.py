"""PyInstaller support: the hook directory, registered through the ``pyinstaller40`` entry point.

PyInstaller finds ``hook-fastclnf.py`` here by itself when fastclnf is installed (pip/wheel); from
a source checkout pass ``--additional-hooks-dir python/fastclnf/__pyinstaller``.

The frozen application contains fastclnf's code and compiled core but never OpenFace's model
files (research licence). It finds them at run time as ``fastclnf.load_model()`` always does:
``$FASTCLNF_MODEL_DIR`` if set (a model directory or a ``main_*.txt`` file), else the per-user
model directory ``$XDG_CACHE_HOME/fastclnf/model`` / ``~/.cache/fastclnf/model``, which
``fastclnf models install --from DIR|URL`` (or ``fastclnf.install.install``) fills, else
``./model``. An application may also pass the directory to ``load_model(path)`` itself.
"""
import os

__all__ = ["get_hook_dirs"]


def get_hook_dirs():
    """The directories holding fastclnf's PyInstaller hooks."""
    return [os.path.dirname(os.path.abspath(__file__))]
