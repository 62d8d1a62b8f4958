"""The benchmark-core scripts of benchmarks/ run in their --quick mode (no timing asserted)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_memory_script_quick(capsys):
    res = _load("bench_memory").main(["--quick"])
    out = capsys.readouterr().out
    assert sorted(res["peaks"], key=int) == ["1", "2", "3", "4"]
    assert all(v > 50 for v in res["peaks"].values()) and np.isfinite(res["slope_mb_per_subject"])
    assert out.strip().splitlines()[-1].startswith("memory: peak RSS grows")


@pytest.mark.slow
def test_grid_prefix_benchmark_quick(shared_data, monkeypatch, capsys):
    """benchmarks/grid_prefix.py --quick: MOABB's two grid files, identical fold scores and best
    parameters through the benchmark's task, identical inner scores on one fold."""
    monkeypatch.setenv("NEUROSIG_SHARED_DATA", str(shared_data))
    res = _load("grid_prefix").main(["--quick"])
    out = capsys.readouterr().out
    assert res["identical"] is True and set(res["ratios"]) == {"TSSVM_grid.yml", "CSP_SVM_grid.yml"}
    assert "inner scores identical: False" not in out
    assert out.strip().splitlines()[-1].startswith("grid prefix:")
