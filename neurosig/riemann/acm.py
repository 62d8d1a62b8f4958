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
    check_signal_array,
    declare_3d_input,
)

from .augmented import ESTIMATORS, AugmentedCovariances
from .embedding import EMBEDDINGS, check_order_lag
from .fast_grid import KERNELS, fast_grid_search, normalize_grid
from .takens import takens_parameters
from .tangent import RiemannTangentSpace

logger = get_logger(__name__)

SELECTIONS = ("takens", "grid", "fixed")
METRICS = ("riemann", "logeuclid", "euclid")


class ACMClassifier(ClassifierMixin, BaseEstimator):
    """Augmented covariances -> tangent space -> SVM, with (order, lag) selection.

    Parameters
    ----------
    order, lag : int | None
        Embedding dimension and delay (samples); required for ``selection="fixed"``,
        ignored otherwise.
    selection : {"takens", "grid", "fixed"}, default="takens"
        ``"takens"``: lag from the first minimum of the average mutual information,
        order from false nearest neighbours, on the training trials only (C and kernel
        as given).  ``"grid"``: exact grid search over order, lag, C and kernel with
        :func:`~neurosig.riemann.fast_grid.fast_grid_search` (same choice as
        ``GridSearchCV`` over MOABB's pipeline on the same folds).  ``"fixed"``: use
        ``order``, ``lag``, ``C``, ``kernel``.
    param_grid : dict | None
        Grid for ``selection="grid"`` (keys order, lag, C, kernel); None: MOABB's
        published grid (order 1..10, lag 1..10, C 0.5/1/1.5, kernel rbf/linear).
    cv : int | CV splitter | None
        Inner folds for the grid; None: ``StratifiedKFold(3, shuffle=True, random_state=42)``.
    cov_estimator : str, default="cov"
        Covariance estimator (see :class:`~neurosig.riemann.AugmentedCovariances`).
    metric : {"riemann", "logeuclid", "euclid"}, default="riemann"
        Tangent-space metric (the grid supports "riemann" only).
    C : float, default=1.0
    kernel : {"linear", "rbf", "poly", "sigmoid"}, default="linear"
    max_order, max_lag : int, default=10
        Search ranges of the Takens estimates.
    embedding : {"moabb", "textbook"}, default="moabb"
    n_jobs : int | None
        Worker processes for the grid.
    mean_tol : float, default=1e-8
        Tolerance of the grid's Riemannian means (pyRiemann's 1e-8: the exact mode, same
        choice as ``GridSearchCV``); a larger value is an approximate acceleration (see
        :func:`~neurosig.riemann.fast_grid.fast_grid_search`).

    Attributes
    ----------
    order_, lag_, C_, kernel_ : selected values
    classes_ : ndarray, shape (n_classes,)
    pipeline_ : sklearn Pipeline
        ``AugmentedCovariances -> tangent space -> SVC`` refitted on all data; the tangent
        space is :class:`~neurosig.riemann.tangent.RiemannTangentSpace` for
        ``metric="riemann"`` (pyRiemann's vectors, Anderson-accelerated mean), pyRiemann's
        ``TangentSpace`` for the other metrics.
    grid_result_ : GridResult | None
        Scores of every candidate and the excluded (order, lag) pairs (grid only).
    """

    def __init__(self, order=None, lag=None, selection="takens", param_grid=None, cv=None,
                 cov_estimator="cov", metric="riemann", C=1.0, kernel="linear", max_order=10,
                 max_lag=10, embedding="moabb", n_jobs=None, mean_tol=1e-8):
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
        if self.selection == "grid":
            check_option("metric (with selection='grid')", self.metric, ("riemann",))
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
        C, kernel = float(self.C), self.kernel
        if self.selection == "fixed":
            order, lag = int(self.order), int(self.lag)
        elif self.selection == "takens":
            order, lag = takens_parameters(X, max_lag=self.max_lag, max_order=self.max_order)
            logger.info("Takens selection: order=%d, lag=%d", order, lag)
        else:
            res = fast_grid_search(X, y, self.param_grid, cv=self.cv, estimator=self.cov_estimator,
                                   embedding=self.embedding, n_jobs=self.n_jobs, mean_tol=self.mean_tol)
            self.grid_result_ = res
            bp = res.best_params
            order, lag, C, kernel = bp["order"], bp["lag"], float(bp["C"]), bp["kernel"]
        self.order_, self.lag_, self.C_, self.kernel_ = order, lag, C, kernel
        self.pipeline_ = make_pipeline(
            AugmentedCovariances(order, lag, self.cov_estimator, self.embedding),
            RiemannTangentSpace() if self.metric == "riemann" else TangentSpace(metric=self.metric),
            SVC(C=C, kernel=kernel))
        self.pipeline_.fit(X, y)
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
        """Predicted labels, shape (n_trials,)."""
        X = self._X(X)
        return self.pipeline_.predict(X)

    def __sklearn_tags__(self):
        return declare_3d_input(super().__sklearn_tags__())
