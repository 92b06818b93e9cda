"""Exceptions raised by fastclnf."""
from __future__ import annotations

__all__ = ["FastCLNFError", "ModelError", "ModelNotFoundError"]


class FastCLNFError(Exception):
    """Base class of every error fastclnf raises on purpose."""


class ModelError(FastCLNFError, ValueError):
    """A model file is truncated, corrupt, or not the kind of file expected.

    The message names the file, the byte offset (binary files) or line (text files), and what
    was expected there.
    """

    def __init__(self, path: str, where: str, problem: str):
        self.path = str(path)
        self.where = where
        self.problem = problem
        super().__init__(f"{self.path} ({where}): {problem}")


class ModelNotFoundError(FastCLNFError, FileNotFoundError):
    """No OpenFace model directory could be found."""
