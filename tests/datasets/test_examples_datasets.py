"""The dataset examples run and print what they promise."""
from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_datasets_simulated(tmp_path, capsys):
    mod = runpy.run_path(str(EXAMPLES / "datasets_simulated.py"))
    res = mod["main"](["--out", str(tmp_path), "--subject", "4"])
    out = capsys.readouterr().out
    assert "mu ERD at C3" in out and (tmp_path / "simulated_psd.png").stat().st_size > 1000
    erd = res["erd"]
    assert erd["right_hand"]["C3"] > erd["left_hand"]["C3"]  # contralateral
    assert erd["left_hand"]["C4"] > erd["right_hand"]["C4"]


def test_example_datasets_simulated_scores(capsys):
    mod = runpy.run_path(str(EXAMPLES / "datasets_simulated_scores.py"))
    scores = mod["main"](["--subjects", "2", "--runs", "1"])
    assert set(scores) == {(2, "0train"), (2, "1test")}
    assert all(0.0 <= v <= 1.0 for row in scores.values() for v in row.values())
    assert "CSP+LDA: mean AUC" in capsys.readouterr().out
