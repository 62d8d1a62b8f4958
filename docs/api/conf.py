"""Sphinx configuration of the API reference (``python -m sphinx -W -b html docs/api OUT``).

The page lists every public name of every subpackage (their ``__all__``), so a new
export appears without editing this folder; docstrings are numpydoc.
"""
from __future__ import annotations

import importlib
from pathlib import Path

project = "neurosig"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"]
autosummary_generate = True
autodoc_typehints = "none"
#: scikit-learn attaches metadata-routing setters to every estimator class; they are sklearn's API
autodoc_default_options = {"exclude-members": ",".join(
    f"set_{m}_request" for m in ("fit", "score", "predict", "transform", "partial_fit", "split",
                                 "inverse_transform", "decision_function", "predict_proba"))}
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_validation_checks: set = set()  # the docstring check runs in CI (numpydoc lint)
exclude_patterns = ["_build"]
templates_path = ["_templates"]
html_theme = "alabaster"

#: subpackages documented, in the order of the data flow
SUBPACKAGES = ("datasets", "preprocessing", "features", "tokenizers", "riemann", "models",
               "evaluation", "evaluation.rsa")


def _index() -> str:
    lines = ["neurosig API reference", "======================", "",
             "Every public name of every subpackage, as exported by its ``__init__``.", ""]
    for sub in SUBPACKAGES:
        mod = importlib.import_module(f"neurosig.{sub}")
        names = sorted(getattr(mod, "__all__", []))
        if not names:
            continue
        title = f"neurosig.{sub}"
        lines += [title, "-" * len(title), "", (mod.__doc__ or "").strip().splitlines()[0], "",
                  f".. currentmodule:: neurosig.{sub}", "", ".. autosummary::", "   :toctree: generated", ""]
        lines += [f"   {n}" for n in names] + [""]
    return "\n".join(lines)


(Path(__file__).parent / "index.rst").write_text(_index())
