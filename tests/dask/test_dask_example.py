"""examples/dask_benchmark.py runs (on the shared test cluster, given as its argument)."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dask_benchmark.py"


def test_dask_benchmark_example_runs(dask_scheduler, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), dask_scheduler])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "4 rows in" in out and "failures: []" in out
    assert "CSP+LDA" in out and "MDM" in out
