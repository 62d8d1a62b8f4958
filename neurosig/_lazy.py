"""Lazy attribute loading for subpackage ``__init__`` files (keeps ``import neurosig`` fast)."""
from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, mapping: dict[str, str]) -> tuple[Callable, Callable]:
    """Return ``(__getattr__, __dir__)`` resolving ``name`` from ``package + '.' + mapping[name]``."""

    def __getattr__(name: str):
        if name in mapping:
            return getattr(importlib.import_module(f"{package}.{mapping[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(mapping)

    return __getattr__, __dir__
