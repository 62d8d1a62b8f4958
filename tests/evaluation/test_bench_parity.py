"""Scores of neurosig.benchmark equal MOABB's own evaluations (same data, pipelines, folds).

MOABB stores its scores as float32 in its HDF5 results, so both sides are compared
after rounding to float32: equality, not a tolerance tuned to the code.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from moabb.evaluations import (
    CrossSessionEvaluation,
    CrossSubjectEvaluation,
    WithinSessionEvaluation,
)
from moabb.paradigms import LeftRightImagery

from neurosig.evaluation.bci import benchmark
from neurosig.pipelines import load_pipelines

EVALS = {"within-session": WithinSessionEvaluation, "cross-session": CrossSessionEvaluation,
         "cross-subject": CrossSubjectEvaluation}


def _moabb_scores(cls, dataset, specs, tmp_path, seed=42):
    ev = cls(paradigm=LeftRightImagery(), datasets=[dataset], random_state=seed, overwrite=True,
             hdf5_path=str(tmp_path / "moabb"))
    res = ev.process({s.name: s.build() for s in specs})
    res["subject"] = res["subject"].astype(str)
    res["session"] = res["session"].astype(str)
    return res.set_index(["subject", "session", "pipeline"]).sort_index()


@pytest.mark.parametrize("evaluation", ["within-session", "cross-subject"])
def test_scores_equal_moabb(evaluation, fake_factory, tmp_path):
    """MOABB's FakeDataset (cross-session on it is covered by the simulated test below)."""
    fake_dataset = fake_factory(n_subjects=2)
    specs = load_pipelines()  # the shipped default set
    ours = benchmark([fake_dataset], evaluation=evaluation, results=tmp_path / "r.sqlite", out=None,
                     verbose=False, n_permutations=50, seed=42)
    ours = ours.set_index(["subject", "session", "pipeline"]).sort_index()
    ref = _moabb_scores(EVALS[evaluation], fake_dataset, specs, tmp_path)
    assert len(ours) == len(ref) == 2 * 2 * len(specs)
    assert list(ours.index) == list(ref.index)
    np.testing.assert_array_equal(ours["score"].to_numpy(np.float32), ref["score"].to_numpy(np.float32))
    # MOABB's bookkeeping columns agree too
    np.testing.assert_array_equal(ours["samples"].to_numpy(), ref["samples"].to_numpy().astype(int))
    np.testing.assert_array_equal(ours["channels"].to_numpy(), ref["channels"].to_numpy().astype(int))
    assert set(ours["metric"]) == {"roc_auc"}
    assert set(ours["evaluation"]) == {evaluation}
    if evaluation == "within-session":
        # the stored fold scores average to the row's score
        for fs, sc in zip(ours["fold_scores"], ours["score"]):
            assert len(fs) == 5 and np.isclose(np.mean(fs), sc)


@pytest.mark.parametrize("evaluation,grid", [("within-session", False), ("cross-session", True)])
def test_scores_equal_moabb_on_simulated(evaluation, grid, tmp_path):
    """The simulated default dataset with the shipped default set; for cross-session also a
    grid-searched pipeline (which does not share the covariance step: the plain path).

    MOABB keys its stored results by the pipeline's repr, so two pipelines with the same
    steps (TS+SVM and TS+SVM-grid before the grid wraps it) collide in one MOABB results
    file: the grid pipeline is therefore run through MOABB separately.
    """
    import dataclasses

    from neurosig.datasets.simulated import SimulatedMotorImagery

    ds = SimulatedMotorImagery(n_subjects=2, n_runs=1, n_trials_per_run=24, seed=5)
    groups = [load_pipelines()]
    if grid:  # a small grid (fast 'scm' covariances): the point is the grid-search path
        path = tmp_path / "grid.yml"
        path.write_text("name: TS+SVM-grid\nparadigms: [LeftRightImagery]\npipeline:\n"
                        "  - {name: Covariances, from: pyriemann.estimation, parameters: {estimator: scm}}\n"
                        "  - {name: TangentSpace, from: pyriemann.tangentspace}\n"
                        "  - {name: SVC, from: sklearn.svm, parameters: {kernel: linear}}\n"
                        "param_grid: {svc__C: [0.1, 1.0]}\n")
        groups.append(load_pipelines(path))
    specs = [s for g in groups for s in g]
    ours = benchmark([ds], pipelines=specs, evaluation=evaluation, results=tmp_path / "r.sqlite",
                     out=None, verbose=False, n_permutations=20, seed=7)
    ours = ours.set_index(["subject", "session", "pipeline"]).sort_index()
    refs = []
    for k, g in enumerate(groups):
        ev = EVALS[evaluation](paradigm=LeftRightImagery(), datasets=[ds], random_state=7,
                               overwrite=True, hdf5_path=str(tmp_path / f"moabb{k}"))
        plain = {s.name: dataclasses.replace(s, param_grid=None).build() for s in g}
        refs.append(ev.process(plain, param_grid={s.name: s.param_grid for s in g if s.param_grid}))
    ref = pd.concat(refs, ignore_index=True)
    ref["subject"] = ref["subject"].astype(str)
    ref["session"] = ref["session"].astype(str)
    ref = ref.set_index(["subject", "session", "pipeline"]).sort_index()
    assert len(ours) == len(ref) == 2 * 2 * len(specs)
    assert list(ours.index) == list(ref.index)
    np.testing.assert_array_equal(ours["score"].to_numpy(np.float32), ref["score"].to_numpy(np.float32))


def test_multiclass_accuracy_equals_moabb(fake_factory, tmp_path):
    """MotorImagery with 3 classes: MOABB scores accuracy; so do we, identically."""
    from moabb.paradigms import MotorImagery

    ds = fake_factory(n_subjects=2, n_sessions=1, events=("left_hand", "right_hand", "feet"))
    specs = [s for s in load_pipelines() if s.name in ("MDM", "CSP+LDA")]
    ours = benchmark([ds], pipelines=specs, paradigm="imagery", results=tmp_path / "r.sqlite",
                     out=None, verbose=False, n_permutations=20, seed=3)
    ours = ours.set_index(["subject", "session", "pipeline"]).sort_index()
    ev = WithinSessionEvaluation(paradigm=MotorImagery(), datasets=[ds], random_state=3, overwrite=True,
                                 hdf5_path=str(tmp_path / "moabb"))
    ref = ev.process({s.name: s.build() for s in specs})
    ref["subject"] = ref["subject"].astype(str)
    ref["session"] = ref["session"].astype(str)
    ref = ref.set_index(["subject", "session", "pipeline"]).sort_index()
    assert set(ours["metric"]) == {"accuracy"} and len(ours) == len(ref) == 2 * 2
    assert list(ours.index) == list(ref.index)
    np.testing.assert_array_equal(ours["score"].to_numpy(np.float32), ref["score"].to_numpy(np.float32))
