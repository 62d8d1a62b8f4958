"""Scores of neurosig.benchmark equal MOABB's own evaluations (same data, pipelines, folds).

MOABB stores its scores as float32 in its HDF5 results, so both sides are compared
after rounding to float32: equality, not a tolerance tuned to the code.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from moabb.evaluations import CrossSessionEvaluation, CrossSubjectEvaluation, WithinSessionEvaluation
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


@pytest.mark.parametrize("evaluation", list(EVALS))
def test_scores_equal_moabb(evaluation, fake_dataset, tmp_path):
    specs = load_pipelines()  # the shipped default set
    ours = benchmark([fake_dataset], evaluation=evaluation, results=tmp_path / "r.sqlite", out=None,
                     verbose=False, n_permutations=50, seed=42)
    ours = ours.set_index(["subject", "session", "pipeline"]).sort_index()
    ref = _moabb_scores(EVALS[evaluation], fake_dataset, specs, tmp_path)
    assert len(ours) == len(ref) == 3 * 2 * len(specs)
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
