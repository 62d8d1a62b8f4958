"""benchmarks/acm_selection.py --quick runs end to end and checks its outputs against MOABB."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_acm_selection_quick(shared_data):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "acm_selection.py"), "--quick",
                          "--shared-data", str(shared_data)], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    rows = [ln for ln in lines if ln.startswith("| simulated S1 0train |")]
    assert len(rows) == 1 and rows[0].count("|") == 13
    assert "checks: grid choice = MOABB's: True" in out.stdout
    # the headline: ratio against MOABB, outputs agreeing, selection count over the sessions run
    assert lines[-1].startswith("acm halving: ") and "faster than MOABB's GridSearchCV" in lines[-1]
    assert "outputs agree" in lines[-1] and "of 1 subject-sessions" in lines[-1]
