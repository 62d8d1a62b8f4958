"""Locate the shipped ``pipelines/`` and ``datasets/`` folders.

In a source checkout (editable install) they sit at the repository root; in a
wheel they are installed as ``neurosig/_data/pipelines`` and
``neurosig/_data/datasets`` (see ``force-include`` in pyproject.toml).
"""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder of shipped resources ``name`` ("pipelines" or "datasets")."""
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"The shipped '{name}' folder was not found next to the neurosig package ({_PKG}); "
        "the installation is incomplete: reinstall neurosig."
    )
