"""neurosig: EEG and fMRI signal processing from loading to a scientific answer.

Subpackages follow the data flow: ``datasets`` -> ``preprocessing`` ->
``tokenizers`` / ``riemann`` -> ``models`` -> ``evaluation``.
Heavy subpackages are imported on first use.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = ("datasets", "preprocessing", "tokenizers", "riemann", "models", "evaluation",
                "pipelines", "parallel", "contracts")
_LAZY_FUNCS = {"benchmark": "neurosig.evaluation.bci", "decode_fmri": "neurosig.evaluation.fmri",
               "sys_info": "neurosig._sys_info"}


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"neurosig.{name}")
    if name in _LAZY_FUNCS:
        return getattr(importlib.import_module(_LAZY_FUNCS[name]), name)
    raise AttributeError(f"module 'neurosig' has no attribute {name!r}")


__all__ = list(_SUBPACKAGES) + list(_LAZY_FUNCS)
