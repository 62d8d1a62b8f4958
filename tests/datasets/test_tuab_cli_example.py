"""`neurosig tuab index|prepare|info` and the TUAB example script."""
from __future__ import annotations

import runpy
from pathlib import Path

from neurosig.cli.main import main
from neurosig.datasets.synthetic_tuab import make_synthetic_tuab

ROOT = Path(__file__).resolve().parents[2]


def test_cli_index_prepare_info(tmp_path, capsys):
    root = make_synthetic_tuab(tmp_path / "tuab", n_subjects=2, n_eval_subjects=1, duration=20.0,
                               bad=("short", "bad_name"))
    assert main(["-q", "tuab", "index", str(root), "--out", str(tmp_path / "index.parquet")]) == 0
    out = capsys.readouterr().out
    assert "5 EDF files" in out and "unparsable file name" in out
    assert (tmp_path / "index.parquet").is_file()
    cache = tmp_path / "cache"
    assert main(["-q", "tuab", "prepare", str(root), "--cache", str(cache), "--n-jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "prepared 3 recordings (6 windows)" in out and "2 rejected" in out
    assert main(["-q", "tuab", "info", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "complete" in out and "shorter than one window" in out and "unparsable file name" in out
    assert "train" in out and "eval" in out and "16 channels (bipolar-tcp16), 200 Hz" in out


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["tuab", "index", str(tmp_path)]) == 2
    assert "'root' parameter must be a TUAB folder" in capsys.readouterr().err
    assert main(["tuab", "info", str(tmp_path)]) == 2
    assert "not a window store" in capsys.readouterr().err
    root = make_synthetic_tuab(tmp_path / "t", n_subjects=1, n_eval_subjects=0, duration=12.0)
    assert main(["tuab", "prepare", str(root), "--cache", str(tmp_path / "c"), "--montage", "x"]) == 2
    assert "'montage' parameter" in capsys.readouterr().err
    assert main(["-q", "tuab", "prepare", str(root), "--cache", str(tmp_path / "c2"),
                 "--accepted-sfreqs", "250", "500"]) == 0
    assert main(["-q", "tuab", "info", str(tmp_path / "c2")]) == 0
    assert "256 Hz is not one of the accepted rates [250.0, 500.0]" in capsys.readouterr().out


def test_example_runs(capsys):
    runpy.run_path(str(ROOT / "examples" / "tuab_prepare.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "batch: (8, 16, 2000)" in out and "2 rejected" in out
