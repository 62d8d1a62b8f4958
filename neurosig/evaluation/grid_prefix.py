"""Grid search that fits the pipeline steps no ``param_grid`` key touches once per inner fold.

MOABB's grid pipeline files search over the last steps of a pipeline (``svc__C`` and
``svc__kernel`` in ``TSSVM_grid.yml``, ``csp__nfilter`` in ``CSP_SVM_grid.yml``), yet
:class:`~sklearn.model_selection.GridSearchCV` refits every step for every candidate: the
covariance estimation and the tangent space of ``TSSVM_grid.yml`` are computed 6 times per
inner fold although all 6 candidates share them. :class:`PrefixGridSearchCV` fits that prefix
once per inner fold, transforms the fold's training and test trials once, and fits and scores
only the remaining steps per candidate.

The result is GridSearchCV's: the same inner folds (``cv.split``), the same candidate order
(:class:`~sklearn.model_selection.ParameterGrid`), the same calls on the same arrays (the
prefix's ``fit_transform`` on the training trials and ``transform`` on the test trials, as
:class:`~sklearn.pipeline.Pipeline` makes them), the same scorer, mean and ranking rule, and
the same refit of the whole pipeline with the best parameters on all the trials; so the
same best parameters and fold scores (``tests/evaluation/test_bench_grid_prefix.py``
compares every inner score and the outer scores).

neurosig keeps its own loop rather than scikit-learn's ``Pipeline(memory=...)``: the memory
hashes the training array and writes the fitted prefix to disk for every candidate, which
``benchmarks/grid_prefix.py`` measures to be slower than recomputing a cheap prefix.
"""
from __future__ import annotations

from time import perf_counter

import numpy as np
from scipy.stats import rankdata
from sklearn.base import clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, ParameterGrid, check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing

from .._logging import get_logger

logger = get_logger(__name__)


def shared_prefix_length(estimator, param_grid) -> int:
    """Number of leading pipeline steps that no ``param_grid`` key touches.

    Parameters
    ----------
    estimator : Pipeline | estimator
        The searched estimator (0 for anything but a :class:`~sklearn.pipeline.Pipeline`).
    param_grid : dict | list of dict
        As :class:`~sklearn.model_selection.GridSearchCV` takes it.

    Returns
    -------
    int
        Index of the first step a key names (``svc__C`` names step ``svc``; a key that is a
        step name replaces that step; any other key, such as ``memory``, counts as step 0).
        Never the last step: a prefix ends before the final estimator.
    """
    if not isinstance(estimator, Pipeline) or len(estimator.steps) < 2:
        return 0
    names = [name for name, _ in estimator.steps]
    grids = [param_grid] if isinstance(param_grid, dict) else list(param_grid)
    first = len(names) - 1
    for grid in grids:
        for key in grid:
            step = key.split("__", 1)[0]
            first = min(first, names.index(step) if step in names else 0)
    return first


class PrefixGridSearchCV(GridSearchCV):
    """:class:`~sklearn.model_selection.GridSearchCV` that shares a pipeline's untouched prefix.

    Same parameters as GridSearchCV. The shared path runs when the estimator is a
    :class:`~sklearn.pipeline.Pipeline` whose first steps no ``param_grid`` key touches, the
    scoring is one metric, ``refit=True``, no train scores are asked and ``fit`` gets no fit
    parameters; otherwise ``fit`` is GridSearchCV's own. ``cv_results_`` holds ``params``,
    ``split<k>_test_score``, ``mean_test_score``, ``std_test_score`` and ``rank_test_score``
    (no timing or ``param_*`` columns); ``n_shared_steps_`` says how many steps were shared.
    """

    def _can_share(self, fit_params: dict) -> int:
        n = shared_prefix_length(self.estimator, self.param_grid)
        simple = (self.refit is True and not self.return_train_score and not fit_params
                  and (self.scoring is None or isinstance(self.scoring, str) or callable(self.scoring)))
        return n if simple else 0

    def fit(self, X, y=None, **fit_params):
        """Run the search; refit the whole pipeline with the best parameters on ``X``.

        Parameters
        ----------
        X : array-like, shape (n_trials, ...)
        y : array-like, shape (n_trials,)
        **fit_params
            Passed to the estimator's ``fit``; with any, the search runs as plain
            :class:`~sklearn.model_selection.GridSearchCV` (no shared prefix).
        """
        n_shared = self._can_share(fit_params)
        self.n_shared_steps_ = n_shared
        if n_shared == 0:
            logger.debug("no pipeline prefix to share in %s; running GridSearchCV", self.param_grid)
            return super().fit(X, y, **fit_params)
        candidates = list(ParameterGrid(self.param_grid))
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y))
        scorer = check_scoring(self.estimator, self.scoring)
        scores = np.empty((len(candidates), len(splits)))
        for j, (train, test) in enumerate(splits):
            scores[:, j] = self._score_split(X, y, train, test, candidates, scorer, n_shared)
        self._store_results(candidates, scores)
        self.scorer_ = scorer
        self.multimetric_ = False
        self.n_splits_ = len(splits)
        t0 = perf_counter()
        best = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
        self.best_estimator_ = best.fit(X, y)
        self.refit_time_ = perf_counter() - t0
        if hasattr(self.best_estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.best_estimator_.feature_names_in_
        return self

    def _score_split(self, X, y, train, test, candidates, scorer, n_shared) -> np.ndarray:
        """Scores of every candidate on one inner fold, the prefix fitted once."""
        steps = self.estimator.steps
        prefix = Pipeline([(name, clone(step)) for name, step in steps[:n_shared]])
        X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
        X_test, y_test = _safe_indexing(X, test), _safe_indexing(y, test)
        Xt_train = prefix.fit_transform(X_train, y_train)
        Xt_test = prefix.transform(X_test)
        suffix = Pipeline(steps[n_shared:])
        out = np.empty(len(candidates))
        for i, params in enumerate(candidates):
            est = clone(suffix).set_params(**clone(params, safe=False))
            try:
                est.fit(Xt_train, y_train)
                out[i] = scorer(est, Xt_test, y_test)
            except Exception as exc:
                if self.error_score == "raise":
                    raise
                import warnings

                warnings.warn(f"Fitting {params} failed; its score is {self.error_score}: {exc!r}",
                              FitFailedWarning, stacklevel=2)
                out[i] = self.error_score
        return out

    def _store_results(self, candidates: list, scores: np.ndarray) -> None:
        """``cv_results_`` and the best candidate, by GridSearchCV's mean and ranking rule."""
        means = np.average(scores, axis=1)
        stds = np.sqrt(np.average((scores - means[:, None]) ** 2, axis=1))
        if np.isnan(means).all():
            rank = np.ones(len(means), dtype=np.int32)
        else:
            filled = np.nan_to_num(means, nan=np.nanmin(means) - 1)
            rank = rankdata(-filled, method="min").astype(np.int32, copy=False)
        results = {"params": candidates, "mean_test_score": means, "std_test_score": stds,
                   "rank_test_score": rank}
        for j in range(scores.shape[1]):
            results[f"split{j}_test_score"] = scores[:, j]
        self.cv_results_ = results
        self.best_index_ = int(rank.argmin())
        self.best_score_ = float(means[self.best_index_])
        self.best_params_ = candidates[self.best_index_]
