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


def test_rsa_eeg_timeresolved_example(shared_data, tmp_path, monkeypatch, capsys):
    _run(ROOT / "examples" / "rsa_eeg_timeresolved.py", ["--data-dir", str(shared_data), "--out", str(tmp_path)],
         monkeypatch)
    out = capsys.readouterr().out
    assert "90 epochs (T0: 45, T1: 23, T2: 22), 23 windows" in out
    assert (tmp_path / "rsa_eeg_timeresolved.png").stat().st_size > 1000


def test_rsa_torch_layers_example(tmp_path, monkeypatch, capsys):
    _run(ROOT / "examples" / "rsa_torch_layers.py", ["--out", str(tmp_path)], monkeypatch)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "|" in ln][1:]
    assert len(lines) == 4
    assert (tmp_path / "rsa_torch_layers.png").stat().st_size > 1000


def test_rsa_cli_job_example(shared_data, tmp_path, monkeypatch):
    _run(ROOT / "examples" / "rsa_cli_job.py", ["--quick", "--data-dir", str(shared_data), "--out", str(tmp_path)],
         monkeypatch)
    table = pd.read_csv(tmp_path / "out" / "hit92_comparison.csv")
    assert len(table) == 8 and (tmp_path / "out" / "results.sqlite").is_file()


def test_rsa_searchlight_example(capsys):
    import re

    runpy.run_path(str(ROOT / "examples" / "rsa_searchlight.py"), run_name="not_main")["main"]()
    out = capsys.readouterr().out
    inside, far = map(float, re.findall(r"block ([\d.]+), far from it (-?[\d.]+)", out)[0])
    assert inside > 5 * abs(far)
