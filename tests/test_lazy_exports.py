"""Lazy exports: every subpackage's names come from its __init__.pyi stub (editors and type checkers
read the same file) and each resolves to the object of the module the stub names."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import neurosig

PACKAGE = Path(neurosig.__file__).parent
STUBS = sorted(PACKAGE.rglob("__init__.pyi"))


def _stub_names(stub: Path) -> dict[str, str]:
    names = {}
    for node in ast.parse(stub.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            assert node.level == 1, f"{stub}: only 'from .module import name' lines"
            for alias in node.names:
                names[alias.asname or alias.name] = node.module
    return names


def test_every_subpackage_with_exports_has_a_stub():
    inits = [p for p in PACKAGE.rglob("__init__.py") if "attach_stub" in p.read_text()]
    assert len(inits) >= 7
    assert sorted(p.with_suffix(".pyi") for p in inits) == STUBS


@pytest.mark.parametrize("stub", STUBS, ids=lambda p: p.parent.relative_to(PACKAGE.parent).as_posix())
def test_stub_names_resolve_to_their_module(stub):
    package = stub.parent.relative_to(PACKAGE.parent).as_posix().replace("/", ".")
    mod = importlib.import_module(package)
    names = _stub_names(stub)
    assert sorted(mod.__all__) == sorted(names)
    assert set(dir(mod)) >= set(names)
    for name, submodule in names.items():
        obj = getattr(mod, name)
        source = importlib.import_module(f"{package}.{submodule}")
        assert getattr(source, name) is obj
    with pytest.raises(AttributeError, match="this_name_does_not_exist"):
        mod.this_name_does_not_exist  # noqa: B018
