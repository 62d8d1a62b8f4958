"""The console entry: exit codes, output flushed before the prompt exit, prestarted local workers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
PIPES = [str(ROOT / "pipelines" / "default" / "mdm.yml"), str(ROOT / "pipelines" / "default" / "csp_lda.yml")]


def _neurosig(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "neurosig.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def _rows(folder: Path) -> pd.DataFrame:
    df = pd.read_csv(folder / "results.csv")
    return df[["subject", "session", "pipeline", "score"]].sort_values(["subject", "session", "pipeline"],
                                                                       ignore_index=True)


def test_input_error_exits_2_with_its_message(tmp_path):
    r = _neurosig("benchmark", "--n-jobs", "0", "--out", str(tmp_path / "o"), "--results", str(tmp_path / "r.sqlite"))
    assert r.returncode == 2 and "n_jobs" in r.stderr


def test_two_local_jobs_give_the_sequential_rows_and_every_output(tmp_path):
    common = ["--subjects", "1", "2", "--pipelines", *PIPES, "--n-permutations", "50"]
    seq = _neurosig("benchmark", *common, "--out", str(tmp_path / "seq"), "--results", str(tmp_path / "seq.sqlite"))
    par = _neurosig("benchmark", *common, "--n-jobs", "2", "--out", str(tmp_path / "par"),
                    "--results", str(tmp_path / "par.sqlite"))
    assert seq.returncode == 0 and par.returncode == 0, par.stderr[-2000:]
    assert "4 task(s) computed" in par.stdout and "paired comparisons" in par.stdout  # stdout flushed
    assert "on 2 local processes" in par.stderr
    pd.testing.assert_frame_equal(_rows(tmp_path / "seq"), _rows(tmp_path / "par"))
    for name in ("results.parquet", "stats.csv", "scores.png", "paired.png", "meta_analysis.png", "confusion.png"):
        assert (tmp_path / "par" / name).stat().st_size > 0, name


def test_decode_fmri_with_two_local_jobs_equals_sequential(tmp_path):
    import yaml
    from _fmri_job import decoding_job, small_nsd

    from neurosig.evaluation.fmri import decode_fmri

    root = small_nsd(tmp_path)

    def job(name):
        return decoding_job(root, tmp_path, name)

    seq = decode_fmri(job("seq"))
    (tmp_path / "job.yml").write_text(yaml.safe_dump(job("par")))
    r = _neurosig("decode-fmri", str(tmp_path / "job.yml"), "--n-jobs", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    from neurosig.evaluation.results import ResultStore

    with ResultStore(tmp_path / "par.sqlite") as store:
        par = store.to_frame()
    par = par.set_index("row_key").loc[list(seq.row_key)]
    assert list(par.score) == list(seq.score)
