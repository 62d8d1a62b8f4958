"""Lazy access to MOABB modules, without their side effect on matplotlib.

Importing MOABB 1.6's ``moabb.analysis`` package (directly, or through
``moabb.evaluations``) imports its plotting module, which applies a seaborn theme to the
global matplotlib ``rcParams``; importing through :func:`moabb_module` restores them, so
neurosig's figures look the same whether or not a MOABB function ran first. The import
is deferred to the first call (MOABB and MNE take seconds to import).
"""
from __future__ import annotations

import functools
import importlib
from types import ModuleType


@functools.cache
def moabb_module(name: str) -> ModuleType:
    """``moabb.<name>``, imported with matplotlib's ``rcParams`` left as they were.

    Parameters
    ----------
    name : str
        Module path below ``moabb`` (``"analysis.meta_analysis"``, ``"evaluations.splitters"``).

    Returns
    -------
    module : module
        The imported MOABB module.
    """
    import matplotlib

    with matplotlib.rc_context():
        return importlib.import_module(f"moabb.{name}")
