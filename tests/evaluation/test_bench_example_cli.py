"""The quickstart example runs; the CLI runs a small benchmark end to end and prints a summary."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pandas as pd

from neurosig.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["benchmark_quickstart.py", str(tmp_path / "qs")])
    runpy.run_path(str(ROOT / "examples" / "benchmark_quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "CSP+LDA" in out and "MDM" in out and "chance_level" in out
    files = {p.name for p in (tmp_path / "qs").iterdir()}
    assert {"results.sqlite", "results.csv", "results.parquet", "stats.csv", "scores.png",
            "paired.png", "meta_analysis.png"} <= files
    df = pd.read_parquet(tmp_path / "qs" / "results.parquet")
    assert len(df) == 2 * 2 * 2  # subjects x sessions x pipelines
    for col in ("score", "time", "samples", "subject", "session", "channels", "n_sessions", "dataset",
                "pipeline", "evaluation", "metric", "fold_scores", "seed", "pipeline_hash", "versions"):
        assert col in df.columns
    assert (df["channels"] == 22).all() and (df["n_sessions"] == 2).all()


def test_cli_benchmark_subset(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    argv = ["benchmark", "--subjects", "1", "--pipelines", str(ROOT / "pipelines" / "default" / "mdm.yml"),
            str(ROOT / "pipelines" / "default" / "csp_lda.yml"), "--evaluation", "WithinSession",
            "--results", str(db), "--out", str(tmp_path / "out"), "--n-permutations", "100", "--no-plots"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "within-session" in out and "SimulatedMotorImagery" in out and "mean" in out
    assert "2 task(s) computed" in out
    assert main(argv) == 0  # rerun: nothing recomputed
    assert "0 task(s) computed, 2 already" in capsys.readouterr().out
    csv = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(csv) == 4 and set(csv["pipeline"]) == {"MDM", "CSP+LDA"}
    assert not (tmp_path / "out" / "scores.png").exists()
