"""Evaluation splitters: the BCI evaluations as scikit-learn cross-validation objects.

Each splitter is a :class:`sklearn.model_selection.BaseCrossValidator`, so it plugs
into ``cross_val_score(..., cv=splitter, groups=...)`` as well as into
:func:`neurosig.benchmark`. The folds are those of MOABB's splitters
(``moabb.evaluations.splitters``, as of MOABB 1.6), which compute them:

- ``within-session``: for every (subject, session), a ``StratifiedKFold(n_folds,
  shuffle=True)`` seeded afresh with ``random_state`` for that session (what
  ``moabb.evaluations.WithinSessionSplitter`` does).
- ``cross-session``: for every subject, leave one session out (``LeaveOneGroupOut``
  over sessions, in sorted session order).
- ``cross-subject``: leave one subject out (``LeaveOneGroupOut`` over subjects).

``split`` takes the trial metadata either as ``groups`` (a
:class:`pandas.DataFrame` with ``subject`` and ``session`` columns, or an array of
group labels as documented per class) or as the ``metadata`` keyword.

What the thin wrappers add to MOABB's classes: scikit-learn's ``split(X, y, groups)``
signature (MOABB's is ``split(y, metadata)``, so MOABB's objects do not plug into
``cross_val_score``); positions into the trials whatever the metadata's index (MOABB
yields index labels); folds in recording order (MOABB's ``WithinSessionSplitter`` with
``shuffle=True`` shuffles the order of subjects and sessions with the seed, so it is
called once per session); and a clear error for a subject with one session in a
cross-session evaluation or for a single subject (MOABB skips the one and fails inside
scikit-learn on the other).

The calibration protocol (the first K trials of the target session or subject shown to
the pipelines and removed from the test set) is applied on top of the cross-session and
cross-subject folds by the evaluation classes of :mod:`neurosig.evaluation.bci_protocols`
(``benchmark(calibration=...)``).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from .._evaluations import EVALUATIONS, check_evaluation_supported, resolve_evaluation  # noqa: F401
from .._validation import check_positive_int
from ._moabb import moabb_module


def _moabb_splitters():
    return moabb_module("evaluations.splitters")


def _as_metadata(groups: Any, metadata: Any, n: int | None, need: tuple[str, ...]) -> pd.DataFrame:
    meta = metadata if metadata is not None else groups
    if isinstance(meta, pd.DataFrame):
        missing = [c for c in need if c not in meta.columns]
        if missing:
            raise ValueError(f"The 'metadata' parameter must have the columns {list(need)}, but "
                             f"{missing} are missing (columns: {list(meta.columns)}).")
        out = meta.reset_index(drop=True)
    elif meta is not None:
        arr = np.asarray(meta)
        if arr.ndim != 1:
            raise ValueError(f"The 'groups' parameter must be a 1-D array of group labels or a "
                             f"DataFrame with columns {list(need)}, but got shape {arr.shape}.")
        out = pd.DataFrame({c: (arr if c == need[-1] else np.zeros(len(arr), int)) for c in need})
    else:
        raise ValueError(f"The splitter needs trial metadata: pass 'groups' (or 'metadata') as a "
                         f"DataFrame with columns {list(need)}.")
    if n is not None and len(out) != n:
        raise ValueError(f"The metadata has {len(out)} rows but there are {n} trials.")
    return out


def _labels(y: Any, meta: pd.DataFrame) -> np.ndarray:
    """``y`` as an array (placeholder zeros when None: MOABB's splitters index it)."""
    return np.zeros(len(meta), int) if y is None else np.asarray(y)


def _n(X: Any, y: Any) -> int | None:
    if y is not None:
        return len(y)
    if X is not None:
        return len(X)
    return None


class WithinSessionSplit(BaseCrossValidator):
    """K-fold stratified CV inside every (subject, session), as MOABB's within-session.

    Parameters
    ----------
    n_folds : int
        Folds per session (MOABB: 5).
    random_state : int | None
        Seed; every session gets a fresh ``StratifiedKFold(shuffle=True,
        random_state=random_state)``, so its folds do not depend on the other sessions.

    Notes
    -----
    ``groups`` is a DataFrame with ``subject`` and ``session`` columns, or a 1-D array of
    session labels (one subject).
    """

    name = "within-session"

    def __init__(self, n_folds: int = 5, random_state: int | None = 42):
        self.n_folds = n_folds
        self.random_state = random_state

    def _partitions(self, meta: pd.DataFrame) -> Iterator[tuple[Any, Any, np.ndarray]]:
        subj = meta["subject"].to_numpy()
        sess = meta["session"].to_numpy()
        for s in pd.unique(subj):
            for ss in pd.unique(sess[subj == s]):
                yield s, ss, np.flatnonzero((subj == s) & (sess == ss))

    def get_n_splits(self, X=None, y=None, groups=None, metadata=None) -> int:
        check_positive_int("n_folds", self.n_folds, minimum=2)
        if groups is None and metadata is None:
            return self.n_folds
        meta = _as_metadata(groups, metadata, None, ("subject", "session"))
        return self.n_folds * sum(1 for _ in self._partitions(meta))

    def split(self, X=None, y=None, groups=None, metadata=None):
        """Yield ``(train, test)`` index arrays into the trials, session by session.

        Parameters
        ----------
        X : array-like, shape (n_trials, ...) | None
            Trials; unused (the number of trials is taken from ``y``).
        y : array-like, shape (n_trials,)
            Labels (stratification).
        groups : DataFrame | array, shape (n_trials,)
            Metadata with ``subject`` and ``session`` (or session labels).
        metadata : DataFrame | None
            The same metadata as a keyword; when given, ``groups`` is ignored.
        """
        check_positive_int("n_folds", self.n_folds, minimum=2)
        if y is None:
            raise ValueError("WithinSessionSplit.split needs the labels 'y' (folds are stratified).")
        y = np.asarray(y)
        meta = _as_metadata(groups, metadata, _n(X, y), ("subject", "session"))
        splitter = _moabb_splitters().WithinSessionSplitter(
            n_folds=self.n_folds, shuffle=True, random_state=self.random_state)
        for _, _, idx in self._partitions(meta):
            for train, test in splitter.split(y[idx], meta.iloc[idx].reset_index(drop=True)):
                yield idx[train], idx[test]


class CrossSessionSplit(BaseCrossValidator):
    """Leave one session out, for every subject, as MOABB's cross-session.

    Notes
    -----
    ``groups`` is a DataFrame with ``subject`` and ``session`` columns, or a 1-D array of
    session labels (one subject). Subjects with a single session are refused.
    """

    name = "cross-session"

    def get_n_splits(self, X=None, y=None, groups=None, metadata=None) -> int:
        meta = _as_metadata(groups, metadata, None, ("subject", "session"))
        return int(meta.groupby("subject", sort=False)["session"].nunique().sum())

    def split(self, X=None, y=None, groups=None, metadata=None):
        """Yield ``(train, test)``: test is one whole session of one subject.

        Parameters
        ----------
        X : array-like, shape (n_trials, ...) | None
            Trials; only their number is used (to check the metadata length) when ``y`` is None.
        y : array-like, shape (n_trials,) | None
            Labels; only their number is used (to check the metadata length).
        groups : DataFrame | array, shape (n_trials,)
            Metadata with ``subject`` and ``session`` columns, or session labels (one subject).
        metadata : DataFrame | None
            The same metadata as a keyword; when given, ``groups`` is ignored.
        """
        meta = _as_metadata(groups, metadata, _n(X, y), ("subject", "session"))
        for s, sessions in meta.groupby("subject", sort=False)["session"].unique().items():
            if len(sessions) < 2:
                raise ValueError(f"Cross-session evaluation needs at least 2 sessions, but subject "
                                 f"{s!r} has {len(sessions)} ({sorted(sessions)}).")
        yield from _moabb_splitters().CrossSessionSplitter().split(_labels(y, meta), meta)


class CrossSubjectSplit(BaseCrossValidator):
    """Leave one subject out (LOSO), as MOABB's cross-subject.

    Notes
    -----
    ``groups`` is a DataFrame with a ``subject`` column, or a 1-D array of subject labels.
    """

    name = "cross-subject"

    def get_n_splits(self, X=None, y=None, groups=None, metadata=None) -> int:
        meta = _as_metadata(groups, metadata, None, ("subject",))
        return int(meta["subject"].nunique())

    def split(self, X=None, y=None, groups=None, metadata=None):
        """Yield ``(train, test)``: test is every trial of one subject (sorted subject order).

        Parameters
        ----------
        X : array-like, shape (n_trials, ...) | None
            Trials; only their number is used (to check the metadata length) when ``y`` is None.
        y : array-like, shape (n_trials,) | None
            Labels; only their number is used (to check the metadata length).
        groups : DataFrame | array, shape (n_trials,)
            Metadata with a ``subject`` column, or subject labels.
        metadata : DataFrame | None
            The same metadata as a keyword; when given, ``groups`` is ignored.
        """
        meta = _as_metadata(groups, metadata, _n(X, y), ("subject",))
        n_subjects = meta["subject"].nunique()
        if n_subjects < 2:
            raise ValueError("Cross-subject evaluation needs at least 2 subjects, but the metadata "
                             f"has {n_subjects}.")
        yield from _moabb_splitters().CrossSubjectSplitter().split(_labels(y, meta), meta)


def get_splitter(evaluation: str, n_folds: int = 5, random_state: int | None = 42) -> BaseCrossValidator:
    """The splitter for an evaluation name (aliases accepted).

    Parameters
    ----------
    evaluation : str
        ``"within-session"``, ``"cross-session"`` or ``"cross-subject"`` (aliases accepted).
    n_folds : int
        Folds per session (within-session only).
    random_state : int | None
        Seed of the within-session folds (within-session only).
    """
    evaluation = resolve_evaluation(evaluation)
    if evaluation == "within-session":
        return WithinSessionSplit(n_folds=n_folds, random_state=random_state)
    if evaluation == "cross-session":
        return CrossSessionSplit()
    return CrossSubjectSplit()
