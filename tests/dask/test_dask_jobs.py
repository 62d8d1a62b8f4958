"""The benchmark, TUAB preparation and decode-fmri jobs on Dask: same rows as a sequential run,
a worker killed mid-benchmark, an unreachable scheduler (API and CLI)."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from neurosig.datasets import SimulatedMotorImagery
from neurosig.evaluation.bci import benchmark
from neurosig.evaluation.results import ResultStore
from neurosig.pipelines import load_pipelines

COLS = ["dataset", "subject", "session", "pipeline", "pipeline_hash", "evaluation", "metric", "score",
        "samples", "channels", "n_sessions", "seed"]


def _pipes(*names):
    return [p for p in load_pipelines() if p.name in names]


def _rows(df):
    d = df.sort_values(["subject", "session", "pipeline"]).reset_index(drop=True)
    extra = [{k: v for k, v in e.items() if k != "time"} for e in d["extra"]]
    return d[COLS].to_dict("records"), list(d["fold_scores"]), list(d["params"]), extra


def test_benchmark_on_dask_equals_sequential(dask_scheduler, tmp_path):
    ds = SimulatedMotorImagery(n_subjects=2, n_sessions=1, n_runs=1, n_trials_per_run=24, seed=3)
    kw = dict(datasets=[ds], pipelines=_pipes("CSP+LDA", "MDM"), out=None, n_permutations=50, verbose=False)
    seq = benchmark(results=tmp_path / "seq.sqlite", **kw)
    par = benchmark(results=tmp_path / "dask.sqlite", scheduler=dask_scheduler, **kw)
    assert len(seq) == 4 and not seq.attrs["failures"] and not par.attrs["failures"]
    a, b = _rows(seq), _rows(par)
    assert a[0] == b[0]  # scores, identities: exactly equal
    assert a[1] == b[1] and a[2] == b[2] and a[3] == b[3]  # fold scores, params, p-values, chance levels


class DyingSimulated(SimulatedMotorImagery):
    """Kills its worker process the first time subject 2 is loaded (a lost node), once per marker file."""

    marker = None

    def _get_single_subject_data(self, subject):
        if subject == 2 and self.marker and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)
        return super()._get_single_subject_data(subject)


def test_benchmark_survives_a_killed_worker(dask_scheduler, tmp_path):
    ds = DyingSimulated(n_subjects=2, n_sessions=1, n_runs=1, n_trials_per_run=24, seed=3)
    ds.marker = str(tmp_path / "died")
    df = benchmark(datasets=[ds], pipelines=_pipes("CSP+LDA", "MDM"), results=tmp_path / "r.sqlite", out=None,
                   n_permutations=0, verbose=False, scheduler=dask_scheduler)
    assert os.path.exists(ds.marker)  # a worker really died during the run
    assert not df.attrs["failures"]
    with ResultStore(tmp_path / "r.sqlite") as store:
        stored = store.to_frame(kind="bci")
    keys = list(zip(stored.subject, stored.session, stored.pipeline))
    assert len(keys) == len(set(keys)) == 4  # every row present once, none duplicated
    assert sorted(set(stored.subject)) == ["1", "2"]


def test_unreachable_scheduler_clear_error_api_and_cli(tmp_path, capsys):
    ds = SimulatedMotorImagery(n_subjects=1, n_sessions=1, n_runs=1, n_trials_per_run=24)
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match=r"'scheduler'.*tcp://127\.0\.0\.1:9.*within 2 s"):
        benchmark(datasets=[ds], pipelines=_pipes("MDM"), results=tmp_path / "r.sqlite", out=None,
                  scheduler="tcp://127.0.0.1:9", connect_timeout=2, verbose=False)
    assert time.monotonic() - t0 < 30
    with pytest.raises(ValueError, match="'scheduler'.*'localhost'"):
        benchmark(datasets=[ds], results=tmp_path / "r.sqlite", scheduler="localhost")
    from neurosig.cli.main import main

    args = ["benchmark", "--subjects", "1", "--results", str(tmp_path / "c.sqlite"), "--out", str(tmp_path / "o")]
    t0 = time.monotonic()
    assert main(args + ["--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "2"]) != 0
    assert time.monotonic() - t0 < 30
    err = capsys.readouterr().err
    assert "'scheduler'" in err and "tcp://127.0.0.1:9" in err and "Traceback" not in err
    assert main(args + ["--scheduler", "tcp://127.0.0.1:9", "--dask-workers", "2"]) != 0
    err = capsys.readouterr().err
    assert "--dask-workers" in err and "Traceback" not in err


def test_tuab_prepare_on_dask_equals_sequential(dask_scheduler, tmp_path, capsys):
    from neurosig.datasets.synthetic_tuab import make_synthetic_tuab
    from neurosig.datasets.tuab import TUAB

    root = tmp_path / "v3.0.1"
    make_synthetic_tuab(root, n_subjects=2, n_eval_subjects=1, duration=25.0, bad=("short",), seed=0)
    seq = TUAB(root, verbose=False).prepare(tmp_path / "seq")
    par = TUAB(root, verbose=False).prepare(tmp_path / "dask", scheduler=dask_scheduler)
    assert par["n_ok"] == seq["n_ok"] > 0 and par["n_rejected"] == seq["n_rejected"] == 1
    assert par["n_windows"] == seq["n_windows"] and par["n_errors"] == 0
    import h5py

    files = sorted(p.relative_to(tmp_path / "seq") for p in (tmp_path / "seq").rglob("*.h5"))
    assert files and files == sorted(p.relative_to(tmp_path / "dask") for p in (tmp_path / "dask").rglob("*.h5"))
    for f in files:
        with h5py.File(tmp_path / "seq" / f) as a, h5py.File(tmp_path / "dask" / f) as b:
            for k in a:
                np.testing.assert_array_equal(a[k][()], b[k][()])
    from neurosig.cli.main import main

    assert main(["tuab", "prepare", str(root), "--cache", str(tmp_path / "cli"), "--scheduler",
                 "tcp://127.0.0.1:9", "--connect-timeout", "1"]) != 0
    err = capsys.readouterr().err
    assert "'scheduler'" in err and "tcp://127.0.0.1:9" in err and "Traceback" not in err


def test_decode_fmri_on_dask_equals_sequential(dask_scheduler, tmp_path, capsys):
    from _fmri_job import decoding_job, small_nsd

    from neurosig.evaluation.fmri import decode_fmri

    root = small_nsd(tmp_path)

    def job(name):
        return decoding_job(root, tmp_path, name)

    seq = decode_fmri(job("seq"))
    par = decode_fmri(job("dask"), scheduler=dask_scheduler)
    assert len(seq) == 4 and (seq.status == "ok").all() and (par.status == "ok").all()
    assert list(par.row_key) == list(seq.row_key)
    assert list(par.score) == list(seq.score) and list(par.fold_scores) == list(seq.fold_scores)
    # (subject, ROI, target block) tasks: one cell per task, same rows
    blk = decode_fmri(job("blocks"), scheduler=dask_scheduler, cells_per_task=1)
    assert list(blk.row_key) == list(seq.row_key)
    assert list(blk.score) == list(seq.score) and list(blk.fold_scores) == list(seq.fold_scores)
    import yaml

    from neurosig.cli.main import main

    (tmp_path / "job.yml").write_text(yaml.safe_dump(job("cli")))
    assert main(["decode-fmri", str(tmp_path / "job.yml"), "--scheduler", "tcp://127.0.0.1:9",
                 "--connect-timeout", "1"]) != 0
    err = capsys.readouterr().err
    assert "'scheduler'" in err and "tcp://127.0.0.1:9" in err and "Traceback" not in err
