"""The benchmark gives the same rows as the reference recorded before the typed benchmark core
(``data/make_bench_golden.py``): scores to 1e-12, every identifying column and every other
stored value equal, configuration by configuration and row by row."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).parent / "data" / "make_bench_golden.py"
_spec = importlib.util.spec_from_file_location("make_bench_golden", _SCRIPT)
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

REFERENCE = json.loads(golden.GOLDEN.read_text())

#: the only intended differences from the reference: keys that rows of a configuration gain.
#: A grid pipeline now shares its stateless first step (covariances computed once per task,
#: the scores unchanged), and its rows say so as every other pipeline's do.
ADDED_EXTRA = {"grid": {"shared_first_step": "Covariances"}}


def _same(a, b, where: str) -> None:
    """Recursive equality; floats to ``FLOAT_TOL`` (NaN equals NaN)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), f"{where}: keys {sorted(b)} != {sorted(a)}"
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: {b!r} != {a!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            assert a is b, f"{where}: {b!r} != {a!r}"
        elif math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), f"{where}: {b!r} != {a!r}"
        else:
            assert abs(a - b) <= golden.FLOAT_TOL, f"{where}: {b!r} != {a!r}"
    else:
        assert a == b, f"{where}: {b!r} != {a!r}"


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_rows_match_the_reference(name, tmp_path):
    expected = REFERENCE[name]
    rows = golden.run(name, golden.configurations()[name], tmp_path)
    assert len(rows) == len(expected) > 0
    for i, (exp, got) in enumerate(zip(expected, rows)):
        where = f"{name} row {i} ({exp['subject']}, {exp['session']}, {exp['pipeline']})"
        missing = sorted(set(exp) - set(got))
        assert not missing, f"{where}: columns {missing} missing"
        added = ADDED_EXTRA.get(name, {})
        for key, value in added.items():
            assert got["extra"].pop(key) == value, f"{where}: extra[{key!r}]"
        for col in exp:
            _same(exp[col], got[col], f"{where} {col}")
