"""`neurosig rsa CONFIG.yml`: validation, results store, CSV and figures, resume."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from neurosig.cli.main import main
from neurosig.evaluation.results import ResultStore
from neurosig.evaluation.rsa import calc_rdm, eval_fixed
from neurosig.evaluation.rsa.job import validate_config


@pytest.fixture
def job(tmp_path):
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(10, 6))
    data = calc_rdm(truth[None] + 0.5 * rng.normal(size=(6, 10, 6)))
    np.savez(tmp_path / "brain.npz", rdms=data, subjects=np.repeat([0, 1, 2], 2))
    np.savez(tmp_path / "models.npz", good=calc_rdm(truth), noise=calc_rdm(rng.normal(size=(10, 6))))
    cfg = {"name": "toy", "data": {"path": "brain.npz", "key": "rdms", "subjects_key": "subjects"},
           "models": {"path": "models.npz"}, "method": "spearman",
           "transform": {"kind": "geotopological", "low": 0.1, "up": 0.9},
           "bootstrap": {"n": 50, "seed": 0}, "output": {"dir": "out"}}
    path = tmp_path / "job.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path, cfg, data


def test_cli_rsa_writes_store_csv_and_figures(job, capsys):
    path, cfg, data = job
    assert main(["-q", "rsa", str(path)]) == 0
    out = path.parent / "out"
    table = pd.read_csv(out / "toy_comparison.csv")
    assert list(table["model"]) == ["good", "noise"]
    assert table["score"].iloc[0] > table["score"].iloc[1]
    # the stored score is the plain (non-bootstrap) evaluation of the transformed RDMs
    from neurosig.evaluation.rsa import geotopological_transform

    models = np.load(path.parent / "models.npz")
    mv = geotopological_transform(np.stack([models["good"], models["noise"]]), 0.1, 0.9)
    ref = eval_fixed(mv, geotopological_transform(data, 0.1, 0.9), "spearman", groups=np.repeat([0, 1, 2], 2))
    np.testing.assert_allclose(table["score"], ref["mean"], atol=1e-12)
    with ResultStore(out / "results.sqlite") as store:
        df = store.to_frame(kind="rsa")
    assert len(df) == 2 and set(df["pipeline"]) == {"good", "noise"}
    assert df["extra"].iloc[0]["ci_low"] <= df["extra"].iloc[0]["ci_high"]
    for f in ("toy_comparison.png", "toy_rdm.png"):
        assert (out / f).stat().st_size > 1000
    # rerun resumes: nothing recomputed, same rows
    assert main(["-q", "rsa", str(path)]) == 0
    with ResultStore(out / "results.sqlite") as store:
        assert len(store) == 2


@pytest.mark.parametrize("patch, match", [
    ({"colour": "red"}, "unknown key.*colour"),
    ({"transform": {"kind": "geodesic", "low": 0.1}}, "transform.up"),
    ({"transform": {"kind": "geotopological", "low": 0.5, "up": 0.2}}, r"transform\.low.*<= transform\.up"),
    ({"method": "pearson"}, "'method'"),
    ({"bootstrap": {"n": "many"}}, "bootstrap.n"),
    ({"data": {"path": "brain.npz", "kee": "rdms"}}, "unknown key.*kee"),
])
def test_config_validation(job, patch, match):
    _, cfg, _ = job
    bad = {**cfg, **patch}
    with pytest.raises(ValueError, match=match):
        validate_config(bad)


def test_cli_reports_bad_input_in_one_line(job, capsys):
    path, cfg, _ = job
    cfg = {**cfg, "models": {"path": "missing.npz"}}
    path.write_text(yaml.safe_dump(cfg))
    assert main(["rsa", str(path)]) == 2
    assert "missing.npz" in capsys.readouterr().err


def test_cli_rsa_bootstrap_on_two_processes_equals_sequential(job, tmp_path):
    path, cfg, data = job
    assert main(["-q", "rsa", str(path)]) == 0
    ref = pd.read_csv(path.parent / "out" / "toy_comparison.csv")
    cfg2 = dict(cfg, output={"dir": "out2"})
    path2 = tmp_path / "job2.yml"
    path2.write_text(yaml.safe_dump(cfg2))
    assert main(["-q", "rsa", str(path2), "--n-jobs", "2"]) == 0
    got = pd.read_csv(tmp_path / "out2" / "toy_comparison.csv")
    pd.testing.assert_frame_equal(ref, got)  # CIs come from the bootstrap: identical samples, identical CIs



def test_cli_rsa_retries_and_connect_timeout_reach_the_task_runner(job, monkeypatch, capsys):
    """--retries and --connect-timeout go through run_config to run_tasks (no "ignored" note)."""
    import neurosig.parallel as parallel

    real, seen = parallel.run_tasks, []

    def spy(fn, tasks, **kw):
        seen.append(kw)
        return real(fn, tasks, **dict(kw, backend="sequential"))  # same blocks, no worker processes

    monkeypatch.setattr(parallel, "run_tasks", spy)
    path, _, _ = job
    assert main(["-q", "rsa", str(path), "--n-jobs", "2", "--retries", "3", "--connect-timeout", "7"]) == 0
    assert seen and all(kw["retries"] == 3 and kw["connect_timeout"] == 7.0 for kw in seen)
    assert "ignored" not in capsys.readouterr().err

def test_rsa_job_rewrites_lost_outputs_on_rerun(job, monkeypatch):
    path, cfg, data = job
    assert main(["-q", "rsa", str(path)]) == 0
    out = path.parent / "out"
    lost = [out / "toy_comparison.png", out / "toy_rdm.png", out / "toy_comparison.csv"]
    for f in lost:  # as after a crash while the figures were written
        f.unlink()
    import neurosig.evaluation.rsa.inference as inf

    def no_bootstrap(*a, **k):
        raise AssertionError("a rerun with every row stored must not recompute")

    monkeypatch.setattr(inf, "eval_bootstrap_rdm", no_bootstrap)
    assert main(["-q", "rsa", str(path)]) == 0
    assert all(f.stat().st_size > 1000 for f in lost[:2]) and lost[2].is_file()
    assert list(pd.read_csv(out / "toy_comparison.csv")["model"]) == ["good", "noise"]


def test_rsa_job_refuses_bad_results_path_before_work(job, capsys):
    path, cfg, data = job
    (path.parent / "notes.sqlite").write_text("my notes")
    cfg = dict(cfg, output={"dir": "out", "results": "notes.sqlite"})
    path.write_text(yaml.safe_dump(cfg))
    assert main(["-q", "rsa", str(path)]) == 2
    assert "'output.results'" in capsys.readouterr().err
    assert not (path.parent / "out").exists()
    assert (path.parent / "notes.sqlite").read_text() == "my notes"
    cfg = dict(cfg, name="../../../elsewhere/x", output={"dir": "out"})
    path.write_text(yaml.safe_dump(cfg))
    assert main(["-q", "rsa", str(path)]) == 2
    assert "invalid value for 'name'" in capsys.readouterr().err
    assert not (path.parent / "out").exists()
