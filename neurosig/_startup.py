"""Start-up of a command: import its libraries with the cyclic garbage collector paused.

Importing MOABB, pyRiemann, torch, SciPy, scikit-learn and MNE creates a few hundred
thousand objects that live as long as the process; while they are created the cyclic
collector runs again and again over all of them (about a quarter of the import time of
``neurosig benchmark``). :func:`startup_imports` pauses it for the imports and then
freezes what they created (``gc.freeze``): later collections skip those objects, and
worker processes forked from this one do not copy their memory pages by touching them.
"""
from __future__ import annotations

import gc
import importlib
from collections.abc import Iterable


def startup_imports(modules: Iterable[str]) -> None:
    """Import ``modules`` with garbage collection paused, then freeze what they created.

    Parameters
    ----------
    modules : iterable of str
        Dotted module names (``"moabb.paradigms"``).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
