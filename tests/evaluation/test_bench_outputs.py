"""Row contents: chance levels, p-values (fixed and opt-in refitting), summary table, API names."""
from __future__ import annotations

import numpy as np
import pytest

import neurosig
from neurosig.evaluation import bci


def test_rows_carry_chance_and_pvalues(fake_factory, tmp_path):
    ds = fake_factory(n_subjects=1)
    mdm = [s for s in neurosig.pipelines.load_pipelines() if s.name == "MDM"]
    df = bci.benchmark([ds], pipelines=mdm, results=tmp_path / "r.sqlite", out=None, verbose=False,
                       n_permutations=100, refit_permutations=3)
    assert len(df) == 2
    for e, _score in zip(df["extra"], df["score"]):
        assert e["permutation"] == "fixed-predictions" and e["n_permutations"] == 100
        assert 1 / 101 <= e["p_value"] <= 1
        assert e["chance_theoretical"] == 0.5 and 0.5 < e["chance_level"] < 0.8
        assert e["n_test_trials"] == 40 and e["n_classes"] == 2
        assert e["n_refit_permutations"] == 3 and 0.25 <= e["p_value_refit"] <= 1
        assert e["shared_first_step"] == "Covariances"
        assert e["task_rows"] == 2
    assert set(df["seed"]) == {42} and df["versions"].iloc[0]["moabb"]
    assert all(len(fs) == 5 for fs in df["fold_scores"])
    table = bci.summarize(df)
    assert list(table["pipeline"]) == ["MDM"] and table["n_subjects"].iloc[0] == 1
    assert np.isclose(table["mean"].iloc[0], df["score"].mean())
    text = bci.format_summary(table)
    assert "MDM" in text and "roc_auc" in text


def test_multiclass_metric_is_accuracy(fake_factory, tmp_path):
    ds = fake_factory(n_subjects=1, n_sessions=1, events=("left_hand", "right_hand", "feet"))
    mdm = [s for s in neurosig.pipelines.load_pipelines() if s.name == "MDM"]
    df = bci.benchmark([ds], pipelines=mdm, paradigm="imagery", results=tmp_path / "r.sqlite",
                       out=None, verbose=False, n_permutations=50)
    assert set(df["metric"]) == {"accuracy"}
    e = df["extra"].iloc[0]
    assert e["n_classes"] == 3 and np.isclose(e["chance_theoretical"], 1 / 3)
    assert e["chance_binomial"] > 1 / 3


def test_public_names():
    assert neurosig.benchmark is bci.benchmark
    from neurosig.evaluation import WithinSessionSplit, benchmark, summarize
    from neurosig.evaluation.splitters import WithinSessionSplit as W

    assert benchmark is bci.benchmark and summarize is bci.summarize and WithinSessionSplit is W


def test_paired_png_draws_every_pipeline_pair(tmp_path, monkeypatch):
    import pandas as pd

    from neurosig.evaluation import plots

    rng = np.random.default_rng(0)
    df = pd.DataFrame([{"dataset": d, "pipeline": p, "subject": str(s), "score": rng.uniform(0.5, 1)}
                       for d in ("A", "B") for p in ("CSP+LDA", "MDM", "TS+SVM") for s in range(3)])
    drawn = []
    real = plots._paired_panel
    monkeypatch.setattr(plots, "_paired_panel",
                        lambda ax, wide, a, b, legend=True: drawn.append((a, b)) or real(ax, wide, a, b, legend))
    path = plots.plot_pairs(df, ["CSP+LDA", "MDM", "TS+SVM"], tmp_path / "paired.png")
    assert drawn == [("CSP+LDA", "MDM"), ("CSP+LDA", "TS+SVM"), ("MDM", "TS+SVM")]
    assert path.stat().st_size > 1000


def _write_text(path, text):
    from pathlib import Path

    Path(path).write_text(text)
    return Path(path)


def _fail(path):
    raise RuntimeError(f"cannot draw {path}")


def test_figures_drawn_in_two_processes_match_and_errors_surface(tmp_path):
    """With n_jobs=2 the first figure is drawn in a forked process: every file is written,
    the returned paths are complete, and an error there is raised here."""
    import os

    from neurosig.evaluation.report import _draw

    figures = {f"f{i}": (_write_text, (tmp_path / f"f{i}.txt", f"figure {i}")) for i in range(3)}
    written = _draw(figures, n_jobs=2)
    assert set(written) == set(figures)
    assert [written[k].read_text() for k in sorted(written)] == ["figure 0", "figure 1", "figure 2"]
    with pytest.raises(RuntimeError, match="cannot draw"):
        _draw({"bad": (_fail, (tmp_path / "x",)), "ok": (_write_text, (tmp_path / "y", "y"))}, n_jobs=2)
    assert os.path.exists(tmp_path / "y")  # this process drew its share meanwhile


def test_written_figures_are_the_same_whatever_n_jobs(tmp_path):
    import pandas as pd

    from neurosig.evaluation.report import write_outputs
    from neurosig.evaluation.results import ResultStore

    rng = np.random.default_rng(1)
    df = pd.DataFrame([{"dataset": "A", "pipeline": p, "subject": str(s), "session": "0", "score": rng.uniform(0.5, 1),
                        "extra": {}} for p in ("CSP+LDA", "MDM") for s in range(4)])
    with ResultStore(tmp_path / "r.sqlite") as store:
        one = write_outputs(store, df, tmp_path / "one", n_jobs=1)
        two = write_outputs(store, df, tmp_path / "two", n_jobs=2)
    assert set(one) == set(two) and {"paired_png", "scores_png", "meta_png"} <= set(two)
    for k in one:
        assert two[k].exists() and two[k].parent == tmp_path / "two"
