"""ACM classifier: augmented covariances + tangent space + SVM, with built-in selection."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from neurosig._logging import get_logger
from neurosig._validation import (
    check_n_features,
    check_option,
    check_positive_float,
    check_positive_int,
    check_signal_array,
    declare_3d_input,
)

from .augmented import ESTIMATORS, AugmentedCovariances
from .embedding import EMBEDDINGS, check_order_lag
from .fast_grid import KERNELS, fast_grid_search, normalize_grid
from .halving import halving_search
from .takens import takens_parameters
from .tangent import RiemannTangentSpace

logger = get_logger(__name__)

SELECTIONS = ("takens", "grid", "halving", "fixed")
METRICS = ("riemann", "logeuclid", "euclid")


class ACMClassifier(ClassifierMixin, BaseEstimator):
    """Augmented covariances -> tangent space -> SVM, with (order, lag) selection.

    Parameters
    ----------
    order, lag : int | None
        Embedding dimension and delay (samples); required for ``selection="fixed"``,
        ignored otherwise.
    selection : {"takens", "grid", "halving", "fixed"}, default="takens"
        ``"takens"``: lag from the first minimum of the average mutual information,
        order from false nearest neighbours, on the training trials only (C and kernel
        as given).  ``"grid"``: exact grid search over order, lag, C and kernel with
        :func:`~neurosig.riemann.fast_grid.fast_grid_search` (same choice as
        ``GridSearchCV`` over MOABB's pipeline on the same folds).  ``"halving"``:
        successive halving over the same candidates
        (:func:`~neurosig.riemann.halving.halving_search`: all candidates on centred
        matrix logarithms, the best third with tangent spaces at the closed-form
        log-Euclidean mean, the best ninth exactly on one inner fold, the best 27th exactly
        on all folds, chosen among those as ``GridSearchCV`` chooses; smaller grids skip the
        first rounds).  ``"fixed"``: use ``order``, ``lag``, ``C``, ``kernel``.
    param_grid : dict | None
        Grid for ``selection="grid"`` or ``"halving"`` (keys order, lag, C, kernel); None:
        MOABB's published grid (order 1..10, lag 1..10, C 0.5/1/1.5, kernel rbf/linear).
    cv : int | CV splitter | None
        Inner folds for the grid; None: ``StratifiedKFold(3, shuffle=True, random_state=42)``.
    cov_estimator : str, default="cov"
        Covariance estimator, the ``estimator`` of :class:`~neurosig.riemann.AugmentedCovariances`
        (pyRiemann's name); here ``cov_estimator``, as scikit-learn reserves ``estimator`` for a wrapped estimator.
    metric : {"riemann", "logeuclid", "euclid"}, default="riemann"
        Tangent-space metric (the grid supports "riemann" only).
    C : float, default=1.0
    kernel : {"linear", "rbf", "poly", "sigmoid"}, default="linear"
    max_order, max_lag : int, default=10
        Search ranges of the Takens estimates.
    embedding : {"moabb", "textbook"}, default="moabb"
    n_jobs : int | None
        Worker processes for ``selection="grid"`` (halving runs in this process).
    mean_tol : float, default=1e-8
        Tolerance of the grid's Riemannian means (pyRiemann's 1e-8: the exact mode, same
        choice as ``GridSearchCV``); a larger value is an approximate acceleration (see
        :func:`~neurosig.riemann.fast_grid.fast_grid_search`).
    halving_factor : int, default=3
        ``selection="halving"``: each round keeps ``ceil(n / halving_factor)`` of its
        ``n`` candidates.
    verbose : bool, default=True
        Log lines (logger ``neurosig.riemann``, level INFO) for each stage of ``fit`` and a
        progress bar on stderr per selection stage (one step per block of candidates
        sharing an (order, lag)); ``False`` prints and logs nothing.

    Attributes
    ----------
    order_, lag_, C_, kernel_ : selected values
    classes_ : ndarray, shape (n_classes,)
    pipeline_ : sklearn Pipeline
        ``AugmentedCovariances -> tangent space -> SVC`` refitted on all data; the tangent
        space is :class:`~neurosig.riemann.tangent.RiemannTangentSpace` for
        ``metric="riemann"`` (pyRiemann's vectors, Anderson-accelerated mean), pyRiemann's
        ``TangentSpace`` for the other metrics.
    grid_result_ : GridResult | HalvingResult | None
        Scores of every candidate and the excluded (order, lag) pairs (grid); every
        round's candidates, resource, scores and promoted candidates (halving); None for
        the other selections.
    """

    def __init__(self, order=None, lag=None, selection="takens", param_grid=None, cv=None,
                 cov_estimator="cov", metric="riemann", C=1.0, kernel="linear", max_order=10,
                 max_lag=10, embedding="moabb", n_jobs=None, mean_tol=1e-8, halving_factor=3,
                 verbose=True):
        self.order = order
        self.lag = lag
        self.selection = selection
        self.param_grid = param_grid
        self.cv = cv
        self.cov_estimator = cov_estimator
        self.metric = metric
        self.C = C
        self.kernel = kernel
        self.max_order = max_order
        self.max_lag = max_lag
        self.embedding = embedding
        self.n_jobs = n_jobs
        self.mean_tol = mean_tol
        self.halving_factor = halving_factor
        self.verbose = verbose

    def _validate(self, X, y):
        check_option("selection", self.selection, SELECTIONS)
        check_option("cov_estimator", self.cov_estimator, ESTIMATORS)
        check_option("metric", self.metric, METRICS)
        check_option("kernel", self.kernel, KERNELS)
        check_option("embedding", self.embedding, EMBEDDINGS)
        check_positive_float("C", self.C)
        check_positive_float("mean_tol", self.mean_tol)
        X = check_signal_array("X", X, ndim=3)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"The 'y' parameter must be a 1-D array with one label per trial "
                             f"({len(X)}), but got shape {y.shape} instead.")
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"The 'y' parameter must contain at least 2 classes, but got "
                             f"{len(classes)} ({classes.tolist()}) instead.")
        if self.selection == "fixed":
            if self.order is None or self.lag is None:
                raise ValueError("selection='fixed' needs the 'order' and 'lag' parameters, but got "
                                 f"order={self.order!r}, lag={self.lag!r} instead.")
            check_order_lag(self.order, self.lag, X.shape[-1], self.embedding)
        if self.selection == "halving":
            factor = check_positive_int("halving_factor", self.halving_factor)
            if factor < 2:
                raise ValueError("Invalid value for the 'halving_factor' parameter. Allowed values are "
                                 f"integers >= 2, but got {factor} instead.")
        if self.selection in ("grid", "halving"):
            check_option(f"metric (with selection={self.selection!r})", self.metric, ("riemann",))
            grid = normalize_grid(self.param_grid)
            for p in grid["order"]:
                for lag in grid["lag"]:
                    check_order_lag(p, lag, X.shape[-1], self.embedding)
        return X, y, classes

    def fit(self, X, y):
        """Select (order, lag[, C, kernel]) and fit the pipeline on all of ``X``.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
        y : ndarray, shape (n_trials,)
        """
        from pyriemann.tangentspace import TangentSpace

        X, y, classes = self._validate(X, y)
        self.grid_result_ = None
        say = logger.info if self.verbose else (lambda *a: None)
        C, kernel = float(self.C), self.kernel
        if self.selection == "fixed":
            order, lag = int(self.order), int(self.lag)
        elif self.selection == "takens":
            say("ACM: Takens selection on %d trials (lag: first minimum of the average mutual "
                "information up to %d; order: false nearest neighbours up to %d)", len(X), self.max_lag,
                self.max_order)
            order, lag = takens_parameters(X, max_lag=self.max_lag, max_order=self.max_order)
            say("ACM: Takens selection: order=%d, lag=%d", order, lag)
        else:
            grid = normalize_grid(self.param_grid)
            say("ACM: %s selection over %d candidates (%d (order, lag) x %d SVM settings) on %d trials",
                self.selection, int(np.prod([len(v) for v in grid.values()])), len(grid["order"]) * len(grid["lag"]),
                len(grid["C"]) * len(grid["kernel"]), len(X))
            kw = dict(cv=self.cv, estimator=self.cov_estimator, embedding=self.embedding,
                      mean_tol=self.mean_tol, verbose=self.verbose)
            if self.selection == "grid":
                res = fast_grid_search(X, y, grid, n_jobs=self.n_jobs, **kw)
            else:
                res = halving_search(X, y, grid, factor=self.halving_factor, **kw)
            self.grid_result_ = res
            bp = res.best_params
            order, lag, C, kernel = bp["order"], bp["lag"], float(bp["C"]), bp["kernel"]
            say("ACM: %s selection: order=%d, lag=%d, C=%g, kernel=%s (inner score %.4f)", self.selection,
                order, lag, C, kernel, res.best_score)
        self.order_, self.lag_, self.C_, self.kernel_ = order, lag, C, kernel
        n = X.shape[1] * order
        say("ACM: final fit on %d trials: augmented covariances (%d x %d), tangent space (%s), SVM", len(X),
            n, n, "Riemannian mean" if self.metric == "riemann" else self.metric)
        self.pipeline_ = make_pipeline(
            AugmentedCovariances(order, lag, self.cov_estimator, self.embedding),
            RiemannTangentSpace() if self.metric == "riemann" else TangentSpace(metric=self.metric),
            SVC(C=C, kernel=kernel))
        self.pipeline_.fit(X, y)
        say("ACM: fit done")
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        return self

    def _X(self, X):
        check_is_fitted(self, "pipeline_")
        X = check_signal_array("X", X, ndim=3)
        check_n_features(self, X)
        return X

    def decision_function(self, X):
        """SVM decision values.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)

        Returns
        -------
        d : ndarray, shape (n_trials,) or (n_trials, n_classes)
        """
        X = self._X(X)
        return self.pipeline_.decision_function(X)

    def predict(self, X):
        """Predicted labels, shape (n_trials,).

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            Trials with the fitted number of channels.

        Returns
        -------
        y_pred : ndarray, shape (n_trials,)
        """
        X = self._X(X)
        return self.pipeline_.predict(X)

    def __sklearn_tags__(self):
        return declare_3d_input(super().__sklearn_tags__())
