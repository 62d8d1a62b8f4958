"""The RSA examples run (quick settings) and write their outputs."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[3]


def _run(script, args, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(script), run_name="__main__")
    assert exc.value.code == 0


def test_rsa_92images_example(shared_data, tmp_path, monkeypatch):
    _run(ROOT / "examples" / "rsa_92images.py",
         ["--quick", "--data-dir", str(shared_data), "--out", str(tmp_path)], monkeypatch)
    table = pd.read_csv(tmp_path / "rsa_92images_identification.csv")
    assert set(table["variant"]) == {"none", "geotopological", "geodesic", "geodesic_rsatoolbox"}
    assert table["accuracy"].between(0, 1).all() and (table["n_test"] == 8).all()
    assert (tmp_path / "rsa_92images_identification.png").stat().st_size > 1000
    assert (tmp_path / "rsa_92images_models.png").stat().st_size > 1000
