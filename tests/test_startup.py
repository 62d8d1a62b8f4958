"""Command start-up: libraries imported with the collector paused, then frozen."""
from __future__ import annotations

import gc
import sys

import pytest

from neurosig._startup import startup_imports


def test_imports_then_collector_back_on_and_objects_frozen():
    sys.modules.pop("json.tool", None)
    before = gc.get_freeze_count()
    try:
        startup_imports(["json.tool"])
        assert "json.tool" in sys.modules
        assert gc.isenabled()
        assert gc.get_freeze_count() > before  # what the imports created is skipped by later collections
    finally:
        gc.unfreeze()


def test_collector_back_on_when_an_import_fails():
    with pytest.raises(ModuleNotFoundError):
        startup_imports(["neurosig_no_such_module"])
    assert gc.isenabled()
    gc.unfreeze()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        startup_imports(["json"])
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_commands_declare_their_libraries():
    from neurosig.cli.main import build_parser
    args = build_parser().parse_args(["benchmark"])
    assert "moabb.paradigms" in args.imports
