"""Evaluation splitters: same folds as MOABB 1.7's splitters, sklearn CV compatible, refusals."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from moabb.evaluations.splitters import (
    CrossSessionSplitter,
    CrossSubjectSplitter,
    WithinSessionSplitter,
)
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import cross_val_score

from neurosig.evaluation.splitters import (
    CrossSessionSplit,
    CrossSubjectSplit,
    WithinSessionSplit,
    check_evaluation_supported,
    get_splitter,
    resolve_evaluation,
)


def _meta(n_subjects=3, n_sessions=2, n_per=24, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, n_subjects + 1):
        for ss in range(n_sessions):
            for _ in range(n_per):
                rows.append({"subject": s, "session": f"{ss}train" if ss == 0 else f"{ss}test",
                             "run": "0"})
    meta = pd.DataFrame(rows)
    y = rng.choice(["left_hand", "right_hand"], size=len(meta))
    return y, meta


def _as_set(splits):
    return {(tuple(sorted(tr)), tuple(sorted(te))) for tr, te in splits}


@pytest.mark.parametrize("seed", [0, 42])
def test_within_session_folds_equal_moabb(seed):
    y, meta = _meta()
    ours = list(WithinSessionSplit(5, seed).split(None, y, meta))
    ref = list(WithinSessionSplitter(n_folds=5, shuffle=True, random_state=seed).split(y, meta))
    assert len(ours) == 5 * 3 * 2 == len(ref)
    assert _as_set(ours) == _as_set(ref)
    # every test fold lies inside one (subject, session) and folds of a session cover it once
    for _tr, te in ours:
        assert meta.iloc[te][["subject", "session"]].drop_duplicates().shape[0] == 1
    assert WithinSessionSplit(5, seed).get_n_splits(groups=meta) == 30


def test_cross_session_and_cross_subject_folds_equal_moabb():
    y, meta = _meta()
    assert _as_set(CrossSessionSplit().split(None, y, meta)) == _as_set(CrossSessionSplitter().split(y, meta))
    assert CrossSessionSplit().get_n_splits(groups=meta) == 6
    assert _as_set(CrossSubjectSplit().split(None, y, meta)) == _as_set(CrossSubjectSplitter().split(y, meta))
    assert CrossSubjectSplit().get_n_splits(groups=meta) == 3
    for tr, te in CrossSubjectSplit().split(None, y, meta):
        assert set(meta.subject.iloc[tr]).isdisjoint(set(meta.subject.iloc[te]))


def test_splitters_are_sklearn_cv_objects():
    y, meta = _meta(n_subjects=1)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((len(y), 4)) + (y == "left_hand")[:, None]
    scores = cross_val_score(LinearDiscriminantAnalysis(), X, y, groups=meta, cv=WithinSessionSplit(4, 0))
    assert scores.shape == (8,) and scores.mean() > 0.7
    # a 1-D array of session labels works as groups too
    scores2 = cross_val_score(LinearDiscriminantAnalysis(), X, y, groups=meta.session.to_numpy(),
                              cv=CrossSessionSplit())
    assert scores2.shape == (2,)


def test_evaluation_names_and_aliases():
    for name, canon in [("WithinSession", "within-session"), ("within_session", "within-session"),
                        ("CrossSession", "cross-session"), ("cross-session", "cross-session"),
                        ("CrossSubject", "cross-subject"), ("LOSO", "cross-subject"),
                        ("CrossSubjectEvaluation", "cross-subject")]:
        assert resolve_evaluation(name) == canon
    with pytest.raises(ValueError, match=r"'evaluation' parameter.*'within-session'.*got 'few'"):
        resolve_evaluation("few")
    assert isinstance(get_splitter("LOSO"), CrossSubjectSplit)


def test_unsupported_evaluations_refused(fake_dataset, fake_factory):
    make_fake = fake_factory
    one_session = make_fake(n_sessions=1)
    with pytest.raises(ValueError, match="'cross-session' needs at least 2 sessions.*has 1"):
        check_evaluation_supported("CrossSession", one_session)
    with pytest.raises(ValueError, match="needs at least 2 subjects"):
        check_evaluation_supported("LOSO", fake_dataset, subjects=[1])
    assert check_evaluation_supported("cross-session", fake_dataset) == "cross-session"
    y, meta = _meta(n_sessions=1)
    with pytest.raises(ValueError, match="at least 2 sessions"):
        list(CrossSessionSplit().split(None, y, meta))
