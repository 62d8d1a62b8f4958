"""Optional extras: one check, one message, raised before any work.

A feature that needs an optional package calls :func:`require_extra` at its entry
point. Without the package the user gets one line naming the feature and the exact
install command, for example::

    Running tasks on Dask needs the 'dask' extra, which is not installed:
    pip install "neurosig[dask]"
"""
from __future__ import annotations

import importlib
from types import ModuleType

#: extra name -> (importable module that proves it is installed, what it provides)
EXTRAS: dict[str, tuple[str, str]] = {
    "dask": ("distributed", "Dask distributed (local clusters and remote schedulers)"),
    "cuda": ("mamba_ssm", "the CUDA selective-scan kernel of mamba-ssm"),
}


class MissingExtraError(ImportError):
    """An optional feature was asked for but its extra is not installed."""


def install_hint(extra: str) -> str:
    """The pip command that installs ``extra``, e.g. ``pip install "neurosig[dask]"``."""
    return f'pip install "neurosig[{extra}]"'


def require_extra(extra: str, feature: str) -> ModuleType:
    """Import the module behind ``extra`` or raise :class:`MissingExtraError`.

    Parameters
    ----------
    extra : str
        Name of the optional extra in ``pyproject.toml`` (a key of :data:`EXTRAS`).
    feature : str
        What the user asked for, as the message should name it
        (e.g. ``"Running tasks on Dask (--dask-workers, --scheduler)"``).

    Returns
    -------
    module : module
        The imported module of the extra.
    """
    if extra not in EXTRAS:
        raise ValueError(f"Invalid value for the 'extra' parameter. Allowed values are "
                         f"{sorted(EXTRAS)}, but got {extra!r} instead.")
    module = EXTRAS[extra][0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{feature} needs the '{extra}' extra, which is not installed "
            f"(import {module!r} failed: {exc}): {install_hint(extra)}") from None
