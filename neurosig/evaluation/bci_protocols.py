"""The BCI evaluation protocols: one class per protocol on a base that splits, calibrates, fits
and scores, as MOABB's ``WithinSessionEvaluation`` / ``CrossSessionEvaluation`` /
``CrossSubjectEvaluation`` share ``BaseEvaluation``.

A protocol only says how one subject's trials are partitioned into result rows and folds
(:meth:`BCIEvaluation.partitions`, built on the splitters of
:mod:`neurosig.evaluation.splitters`) and which domain is the target of a transfer pipeline;
the base class does the rest the same way for all three: labels encoded on the training fold
(as MOABB), the calibration protocol (the first K trials of the target domain), the
paradigm's scorer and the responses kept for the permutation test.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._logging import get_logger
from .bci_data import epochs_sfreq, shared_transform, split_stateless
from .splitters import CrossSessionSplit, CrossSubjectSplit, WithinSessionSplit

logger = get_logger(__name__)

_EMPTY = np.zeros(0, dtype=int)


@dataclass(frozen=True)
class Fold:
    """Trial indices of one fit: training, test and target-domain calibration trials."""

    train: np.ndarray
    test: np.ndarray
    calibration: np.ndarray = field(default_factory=lambda: _EMPTY)


@dataclass
class FittedModel:
    """A fitted classifier, its label encoder, the fit time and what it made of the calibration."""

    clf: Any
    encoder: Any
    seconds: float
    calibration_used: str


@dataclass
class SessionScores:
    """Everything one result row needs from the folds of one (subject, session)."""

    session: str
    n_samples: int
    n_calibration: int
    calibration_used: str = "none"
    scores: list = field(default_factory=list)
    times: list = field(default_factory=list)
    #: per fold: (encoded test labels, response the metric looked at, or None)
    responses: list = field(default_factory=list)
    #: per fold: (true labels, predicted labels), decoded
    predictions: list = field(default_factory=list)
    #: per fold: the inner search's best parameters (None for a pipeline without a grid)
    best_params: list = field(default_factory=list)
    n_test: int = 0

    @property
    def score(self) -> float:
        return float(np.mean(self.scores))

    @property
    def time(self) -> float:
        return float(np.mean(self.times))


def _stimulus_freqs(classes) -> list[float] | None:
    """Class labels as stimulation frequencies (SSVEP events are named "13", "17", ...), else None."""
    try:
        return [float(c) for c in classes]
    except (TypeError, ValueError):
        return None


def build_estimator(spec, metric: str, seed: int, sfreq: float | None = None, classes=None,
                    share_prefix: bool = True):
    """A fresh estimator of ``spec``, its data-dependent parameters filled in.

    A ``param_grid`` pipeline gets MOABB's inner search: 3-fold stratified, shuffled with the
    evaluation seed, scored with the paradigm's metric, refitted on the whole training fold;
    with ``share_prefix`` as a :class:`~neurosig.evaluation.grid_prefix.PrefixGridSearchCV`
    (the steps no grid key touches fitted once per inner fold; the same result).

    Parameters
    ----------
    spec : PipelineSpec
        The pipeline to build (``spec.build()`` gives a fresh estimator).
    metric : str
        Scoring metric of the paradigm (``"accuracy"`` or ``"roc_auc"``), used by the inner search.
    seed : int
        Evaluation seed; shuffles the inner search's stratified folds.
    sfreq : float | None
        Sampling frequency of the epochs, filled into steps that declare it unset.
    classes : array-like | None
        Class labels; their stimulus frequencies fill steps that declare ``freqs`` unset.
    share_prefix : bool
        Whether a ``param_grid`` pipeline is searched with
        :class:`~neurosig.evaluation.grid_prefix.PrefixGridSearchCV`.
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from ..pipelines import fill_unset
    from .grid_prefix import PrefixGridSearchCV

    est = spec.build()
    # steps that need a property of the data declare it None in their file; fill it in here
    fill_unset(est, sfreq=sfreq, freqs=None if classes is None else _stimulus_freqs(classes))
    if isinstance(est, GridSearchCV) and share_prefix:
        est = PrefixGridSearchCV(est.estimator, est.param_grid, error_score=est.error_score)
    if isinstance(est, GridSearchCV):
        est.set_params(cv=StratifiedKFold(3, shuffle=True, random_state=seed), scoring=metric,
                       refit=True, n_jobs=1)
    return est


def response(clf, X: np.ndarray, metric: str) -> np.ndarray | None:
    """What the metric looks at: predictions (accuracy) or positive-class scores (ROC-AUC).

    Parameters
    ----------
    clf : estimator
        A fitted classifier.
    X : ndarray, shape (n_trials, n_channels, n_times)
        The trials to respond to.
    metric : str
        ``"accuracy"`` (predictions) or ``"roc_auc"`` (scores); any other gives None.

    Returns
    -------
    ndarray, shape (n_trials,) | None
        None when the metric's response is not one value per trial.
    """
    if metric == "accuracy":
        return np.asarray(clf.predict(X))
    if metric == "roc_auc":
        # same order as sklearn's roc_auc scorer: decision_function, then predict_proba
        if hasattr(clf, "decision_function"):
            r = np.asarray(clf.decision_function(X))
        else:
            r = np.asarray(clf.predict_proba(X))[:, 1]
        return r if r.ndim == 1 else None
    return None


def take_calibration(idx: np.ndarray, n_cal: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """First ``n_cal`` trials of ``idx`` (recording order) and the rest.

    Parameters
    ----------
    idx : ndarray of int, shape (n_trials,)
        Trial indices in recording order.
    n_cal : int
        Number of calibration trials to take from the start of ``idx``.
    what : str
        Names the trial set in the error message (e.g. ``"subject '1'"``).

    Raises
    ------
    ValueError
        If ``n_cal`` calibration trials leave no test trial.
    """
    if n_cal == 0:
        return _EMPTY, idx
    if n_cal >= len(idx):
        raise ValueError(f"Invalid value for the 'calibration' parameter: n_trials={n_cal} calibration "
                         f"trials leave no test trial in {what}, which has {len(idx)} trials.")
    return idx[:n_cal], idx[n_cal:]


class BCIEvaluation:
    """Scores one pipeline on one subject under one protocol (a subclass per protocol).

    Parameters
    ----------
    task : BenchmarkTask
        What to run (pipeline, subject, metric, seed, folds, calibration protocol).
    X : ndarray, shape (n_trials, n_channels, n_times)
        Epochs of every loaded subject (after epoch rejection).
    y : ndarray, shape (n_trials,)
    meta : DataFrame, shape (n_trials, ...)
        ``subject`` and ``session`` of every trial.
    data_key : str | None
        Identifies ``X`` in the worker cache; with it, a stateless first step is computed once
        and shared (see :func:`neurosig.evaluation.bci_data.split_stateless`).
    """

    name: ClassVar[str] = ""
    #: metadata column naming the domain of each trial for transfer pipelines
    domain_column: ClassVar[str] = "session"

    def __init__(self, task, X: np.ndarray, y: np.ndarray, meta: pd.DataFrame,
                 data_key: str | None = None):
        self.task, self.y, self.meta = task, y, meta
        self.sfreq = epochs_sfreq(task.dataset, task.paradigm, X.shape[-1])
        self.spec, self.seconds_per_trial = task.spec, 0.0
        split = split_stateless(task.spec) if (data_key is not None and task.share_prefixes) else None
        if split is not None:
            first, self.spec = split
            X, self.seconds_per_trial = shared_transform(data_key, first, X)
        self.X = X
        cal = task.calibration
        self.n_cal = cal.n_trials if cal else 0
        self.labeled_cal = bool(cal and cal.labeled)
        self.domains = (meta[self.domain_column].astype(str).to_numpy().astype(object)
                        if cal else None)

    # ---- what a protocol defines ----------------------------------------------------------
    def partitions(self) -> Iterator[tuple[Any, list[Fold], int]]:
        """Yield ``(session, folds, n_samples)`` for every result row of the task's subject."""
        raise NotImplementedError

    def target(self, session) -> str | None:
        """Domain label of the target trials (for transfer pipelines), or None without calibration.

        Parameters
        ----------
        session : object
            Session label of the result row being scored (from ``meta["session"]``).
        """
        return None

    def fitted(self, fold: Fold, session) -> FittedModel:
        """The model scored on ``fold.test`` (fitted here; a protocol may reuse one).

        Parameters
        ----------
        fold : Fold
            Training, test and calibration trial indices.
        session : object
            Session label of the result row being scored (from ``meta["session"]``).
        """
        return self.fit(fold, self.target(session))

    # ---- shared by every protocol ---------------------------------------------------------
    def run(self, keep_response: bool = True) -> list[SessionScores]:
        """Fit and score every fold; one :class:`SessionScores` per result row.

        Parameters
        ----------
        keep_response : bool
            Whether to compute and keep each test trial's response and predictions
            (the score is computed either way).
        """
        out = []
        for session, folds, n_samples in self.partitions():
            res = SessionScores(session=str(session), n_samples=int(n_samples),
                                n_calibration=int(len(folds[0].calibration)),
                                n_test=int(sum(len(f.test) for f in folds)))
            for fold in folds:
                model = self.fitted(fold, session)
                res.calibration_used = model.calibration_used
                self._score_into(res, model, fold, keep_response)
            out.append(res)
        return out

    def _calibration_use(self) -> str:
        if self.n_cal == 0:
            return "none"
        if self.spec.calibration is not None:
            return "alignment+training" if self.labeled_cal else "alignment"
        return "training" if self.labeled_cal else "not used (the pipeline cannot use unlabeled trials)"

    def fit(self, fold: Fold, target: str | None) -> FittedModel:
        """Fit on the training trials (and the calibration trials, as the protocol allows).

        Ordinary pipelines: labeled calibration trials join the training set, unlabeled ones
        are not used. Transfer pipelines (``spec.calibration``):
        :func:`~neurosig.riemann.transfer.fit_transfer` on the training plus the calibration
        trials (with their domains; their labels only when the protocol says ``labeled``).

        Parameters
        ----------
        fold : Fold
            Training, test and calibration trial indices.
        target : str | None
            Domain label of the target trials for transfer pipelines, or None.
        """
        from sklearn.preprocessing import LabelEncoder

        X, y, train, cal = self.X, self.y, fold.train, fold.calibration
        fit_idx = np.concatenate([train, cal]) if self.labeled_cal else train
        le = LabelEncoder().fit(y[fit_idx])
        clf = build_estimator(self.spec, self.task.metric, self.task.seed, self.sfreq, le.classes_,
                              self.task.share_prefixes)
        t0 = perf_counter()
        if self.spec.calibration is not None:
            from ..riemann.transfer import fit_transfer

            idx = np.concatenate([train, cal])
            labeled = np.r_[np.ones(len(train), bool), np.full(len(cal), self.labeled_cal)]
            y_enc = np.zeros(len(idx), dtype=int)
            y_enc[labeled] = le.transform(y[idx][labeled])
            fit_transfer(clf, X[idx], y_enc, self.domains[idx], target, labeled)
        else:
            clf.fit(X[fit_idx], le.transform(y[fit_idx]))
        return FittedModel(clf, le, perf_counter() - t0, self._calibration_use())

    def _score_into(self, res: SessionScores, model: FittedModel, fold: Fold, keep_response: bool):
        from sklearn.metrics import get_scorer

        metric, X, test, le = self.task.metric, self.X, fold.test, model.encoder
        y_test = le.transform(self.y[test])
        res.scores.append(float(get_scorer(metric)(model.clf, X[test], y_test)))
        resp = response(model.clf, X[test], metric) if keep_response else None
        if metric == "accuracy" and resp is not None:
            pred = resp
        else:
            pred = np.asarray(model.clf.predict(X[test])) if keep_response else None
        # the shared first step's time, pro rata of the training trials
        res.times.append(model.seconds + self.seconds_per_trial * len(fold.train))
        res.responses.append((y_test, resp))
        res.best_params.append(getattr(model.clf, "best_params_", None))
        if pred is not None:
            res.predictions.append((le.inverse_transform(y_test), le.inverse_transform(pred)))

    def _subject_trials(self) -> np.ndarray:
        return np.flatnonzero(self.meta["subject"].to_numpy() == self.task.subject)


class WithinSessionEvaluation(BCIEvaluation):
    """K-fold stratified CV inside each session of the subject (:class:`WithinSessionSplit`)."""

    name = "within-session"

    def partitions(self):
        idx_s = self._subject_trials()
        sess = self.meta["session"].to_numpy()[idx_s]
        splitter = WithinSessionSplit(self.task.n_folds, self.task.seed)
        by_session: dict = {}
        for tr, te in splitter.split(None, self.y[idx_s], self.meta.iloc[idx_s]):
            by_session.setdefault(sess[te[0]], []).append(Fold(idx_s[tr], idx_s[te]))
        for session, folds in by_session.items():
            yield session, folds, int(np.count_nonzero(sess == session))


class CrossSessionEvaluation(BCIEvaluation):
    """Leave one session of the subject out (:class:`CrossSessionSplit`); with calibration, the
    first K trials of the held-out session are its calibration trials."""

    name = "cross-session"
    domain_column = "session"

    def partitions(self):
        idx_s = self._subject_trials()
        sess = self.meta["session"].to_numpy()
        for tr, te in CrossSessionSplit().split(None, self.y[idx_s], self.meta.iloc[idx_s]):
            train, test = idx_s[tr], idx_s[te]
            session = sess[test][0]
            cal, test = take_calibration(test, self.n_cal,
                                         f"session {session!r} of subject {self.task.subject!r}")
            yield session, [Fold(train, test, cal)], len(train)

    def target(self, session):
        return str(session) if self.task.calibration else None


class CrossSubjectEvaluation(BCIEvaluation):
    """Leave the subject out (:class:`CrossSubjectSplit`): one model trained on every other
    subject, scored on each of the subject's sessions; with calibration, the first K trials of
    the subject (its first session in recording order) are its calibration trials.

    Parameters
    ----------
    *args
        Passed to :class:`BCIEvaluation` (``task, X, y, meta, data_key``).
    **kwargs
        Passed to :class:`BCIEvaluation`.
    """

    name = "cross-subject"
    domain_column = "subject"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._model: FittedModel | None = None

    def partitions(self):
        subj = self.meta["subject"].to_numpy()
        sess = self.meta["session"].to_numpy()
        train, test_all = next((tr, te) for tr, te in CrossSubjectSplit().split(groups=self.meta)
                               if subj[te[0]] == self.task.subject)
        cal, rest = take_calibration(test_all, self.n_cal, f"subject {self.task.subject!r}")
        for session in np.unique(sess[test_all]):
            yield session, [Fold(train, rest[sess[rest] == session], cal)], len(train)

    def target(self, session):
        return str(self.task.subject) if self.task.calibration else None

    def fitted(self, fold, session):
        if self._model is None:  # one model per held-out subject, scored on each of its sessions
            self._model = self.fit(fold, self.target(session))
        return self._model


PROTOCOLS: dict[str, type[BCIEvaluation]] = {
    cls.name: cls for cls in (WithinSessionEvaluation, CrossSessionEvaluation, CrossSubjectEvaluation)}
