"""Fast ridge regression over many alphas and many targets.

One eigendecomposition per cross-validation fold serves every alpha and every
target: with ``X_c`` the centred training data,

* features <= trials: ``X_c^T X_c = V diag(s) V^T``, and the test predictions for
  alpha ``a`` are ``(X_te V) diag(1 / (s + a)) V^T X_c^T Y_c``;
* features > trials (the kernel form): ``X_c X_c^T = U diag(s) U^T`` and the
  predictions are ``(X_te X_c^T U) diag(1 / (s + a)) U^T Y_c``.

Per alpha only one (n_test x rank) @ (rank x n_targets) product remains, instead
of a new solve per alpha, fold and target. This is the math used by
scikit-learn's ``Ridge`` (``fit_intercept=True``: centre X and Y on the training
means), so predictions and R^2 agree with it to rounding.
"""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import check_option

__all__ = ["ridge_cv_scores", "ridge_fit", "FastRidgeCV"]


class _EigenRidge:
    """Eigendecomposition of one training set; predictions for any alphas on new data."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, fit_intercept: bool = True):
        if fit_intercept:
            self.x_mean = X.mean(axis=0)
            self.y_mean = Y.mean(axis=0)
            Xc = X - self.x_mean
            Yc = Y - self.y_mean
        else:
            self.x_mean = np.zeros(X.shape[1], X.dtype)
            self.y_mean = np.zeros(Y.shape[1], Y.dtype)
            Xc, Yc = X, Y
        self.Xc = Xc
        n, p = Xc.shape
        self.primal = p <= n
        if self.primal:
            s, V = np.linalg.eigh(Xc.T @ Xc)
            self.basis = V                       # (p, p)
            self.proj = V.T @ (Xc.T @ Yc)        # (p, t)
        else:
            s, U = np.linalg.eigh(Xc @ Xc.T)
            self.basis = U                       # (n, n)
            self.proj = U.T @ Yc                 # (n, t)
        self.s = np.clip(s, 0, None)

    def test_basis(self, X_test: np.ndarray) -> np.ndarray:
        """``Z`` such that predictions are ``Z @ (proj / (s + alpha)) + y_mean``; shape (n_test, rank)."""
        Xt = X_test - self.x_mean
        if self.primal:
            return Xt @ self.basis
        return (Xt @ self.Xc.T) @ self.basis

    def coef(self, alphas: np.ndarray) -> np.ndarray:
        """Weights, shape (n_features, n_targets), target ``j`` with ``alphas[j]``."""
        scaled = self.proj / (self.s[:, None] + alphas[None, :])
        if self.primal:
            return self.basis @ scaled
        return self.Xc.T @ (self.basis @ scaled)


def _split_list(cv, X, groups):
    from sklearn.model_selection import GroupKFold, KFold, check_cv

    if isinstance(cv, numbers.Integral):
        cv = GroupKFold(int(cv)) if groups is not None else KFold(int(cv))
    if isinstance(cv, (list, tuple)):
        return [(np.asarray(tr), np.asarray(te)) for tr, te in cv]
    cv = check_cv(cv)
    return list(cv.split(X, None, groups))


def _score(Y: np.ndarray, P: np.ndarray, scoring: str) -> np.ndarray:
    """Per-target R^2 (scikit-learn's ``r2_score(..., multioutput='raw_values')``) or Pearson r."""
    if scoring == "r2":
        sse = ((Y - P) ** 2).sum(axis=0)
        sst = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = 1.0 - sse / sst
        return np.where(sst == 0, np.where(sse == 0, 1.0, 0.0), r2)
    Yc = Y - Y.mean(axis=0)
    Pc = P - P.mean(axis=0)
    den = np.sqrt((Yc ** 2).sum(0) * (Pc ** 2).sum(0))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (Yc * Pc).sum(0) / den
    return np.nan_to_num(r)


def ridge_cv_scores(X, Y, alphas, splits, scoring: str = "r2", fit_intercept: bool = True,
                    dtype=np.float64) -> np.ndarray:
    """Cross-validated scores of ridge for every alpha, fold and target.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    Y : ndarray, shape (n_samples, n_targets)
    alphas : array, shape (n_alphas,)
    splits : list of (train_idx, test_idx)
    scoring : {"r2", "pearson"}
    dtype : numpy dtype
        float64 (exact) or float32 (half the memory, faster).

    Returns
    -------
    scores : ndarray, shape (n_folds, n_alphas, n_targets)
    """
    check_option("scoring", scoring, ("r2", "pearson"))
    X = np.asarray(X, dtype=dtype)
    Y = np.asarray(Y, dtype=dtype)
    Y = Y[:, None] if Y.ndim == 1 else Y
    alphas = np.asarray(alphas, dtype=dtype)
    out = np.empty((len(splits), len(alphas), Y.shape[1]), dtype=np.float64)
    for f, (tr, te) in enumerate(splits):
        eig = _EigenRidge(X[tr], Y[tr], fit_intercept)
        Z = eig.test_basis(X[te])
        Yte = Y[te]
        if scoring == "r2":
            # residual of the training-mean prediction; the alpha-dependent part is Z @ W(alpha)
            R0 = Yte - eig.y_mean
            sst = ((Yte - Yte.mean(axis=0)) ** 2).sum(axis=0)
            W = np.empty_like(eig.proj)
            P = np.empty((Z.shape[0], Y.shape[1]), dtype=Z.dtype)
        for a, alpha in enumerate(alphas):
            if scoring == "r2":
                np.divide(eig.proj, (eig.s + alpha)[:, None], out=W)
                np.matmul(Z, W, out=P)
                np.subtract(R0, P, out=P)
                sse = np.einsum("ij,ij->j", P, P)
                with np.errstate(divide="ignore", invalid="ignore"):
                    r2 = 1.0 - sse / sst
                out[f, a] = np.where(sst == 0, np.where(sse == 0, 1.0, 0.0), r2)
            else:
                P = Z @ (eig.proj / (eig.s[:, None] + alpha)) + eig.y_mean
                out[f, a] = _score(Yte, P, scoring)
    return out


def ridge_fit(X, Y, alphas, fit_intercept: bool = True, dtype=np.float64):
    """Ridge weights with one alpha per target from a single eigendecomposition.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    Y : ndarray, shape (n_samples, n_targets)
    alphas : float or ndarray, shape (n_targets,)

    Returns
    -------
    coef : ndarray, shape (n_targets, n_features)
    intercept : ndarray, shape (n_targets,)
    """
    X = np.asarray(X, dtype=dtype)
    Y = np.asarray(Y, dtype=dtype)
    Y = Y[:, None] if Y.ndim == 1 else Y
    alphas = np.broadcast_to(np.asarray(alphas, dtype=dtype), (Y.shape[1],))
    eig = _EigenRidge(X, Y, fit_intercept)
    W = eig.coef(alphas)
    intercept = eig.y_mean - eig.x_mean @ W
    return W.T, intercept


def _check_not_3d(X) -> None:
    """Refuse arrays of more than 2 dimensions, naming X and its shape (1-D is scikit-learn's case)."""
    shape = np.shape(np.asarray(X)) if not hasattr(X, "shape") else tuple(X.shape)
    if len(shape) > 2:
        raise ValueError(f"The 'X' parameter must be a 2-D array of shape (n_samples, n_features), "
                         f"but got an array of shape {shape} instead.")


class FastRidgeCV(RegressorMixin, BaseEstimator):
    """Ridge with the alpha chosen by cross-validation, one alpha per target, many targets at once.

    Parameters
    ----------
    alphas : array-like, shape (n_alphas,)
        Candidate penalties.
    cv : int | cross-validation splitter | list of (train, test)
        Folds (an int gives ``KFold``, or ``GroupKFold`` when ``groups`` are passed to ``fit``).
    alpha_per_target : bool
        Choose one alpha per target (True) or one for all targets (mean score).
    scoring : {"r2", "pearson"}
        Score used to choose alphas.
    fit_intercept : bool
    dtype : {"float64", "float32"}
        Precision of the computation.

    Attributes
    ----------
    cv_scores_ : ndarray, shape (n_alphas, n_targets)
        Mean over folds of the per-target score.
    alpha_ : ndarray, shape (n_targets,)
        Chosen alpha of each target (all equal when ``alpha_per_target=False``).
    best_score_ : ndarray, shape (n_targets,)
    coef_ : ndarray, shape (n_targets, n_features) (``(n_features,)`` for 1-D ``y``)
    intercept_ : ndarray, shape (n_targets,) (float for 1-D ``y``)
    """

    def __init__(self, alphas=(0.1, 1.0, 10.0, 100.0, 1000.0), cv=5, alpha_per_target=True,
                 scoring="r2", fit_intercept=True, dtype="float64"):
        self.alphas = alphas
        self.cv = cv
        self.alpha_per_target = alpha_per_target
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.dtype = dtype

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y, groups=None):
        """Fit on X (n_samples, n_features) and y (n_samples,) or (n_samples, n_targets)."""
        check_option("scoring", self.scoring, ("r2", "pearson"))
        check_option("dtype", str(self.dtype), ("float64", "float32"))
        dtype = np.dtype(str(self.dtype))
        _check_not_3d(X)
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        if alphas.ndim != 1 or alphas.size == 0 or np.any(alphas <= 0) or not np.all(np.isfinite(alphas)):
            raise ValueError(f"Invalid value for the 'alphas' parameter. Allowed values are non-empty "
                             f"1-D arrays of positive numbers, but got {self.alphas!r} instead.")
        Y = y[:, None] if y.ndim == 1 else y
        splits = _split_list(self.cv, X, groups)
        scores = ridge_cv_scores(X, Y, alphas, splits, self.scoring, self.fit_intercept, dtype).mean(axis=0)
        self.cv_scores_ = scores
        if self.alpha_per_target:
            best = scores.argmax(axis=0)
        else:
            best = np.full(Y.shape[1], scores.mean(axis=1).argmax())
        self.alpha_ = alphas[best]
        self.best_score_ = scores[best, np.arange(Y.shape[1])]
        coef, intercept = ridge_fit(X, Y, self.alpha_, self.fit_intercept, dtype)
        if y.ndim == 1:
            self.coef_, self.intercept_ = coef[0], float(intercept[0])
        else:
            self.coef_, self.intercept_ = coef, intercept
        return self

    def predict(self, X):
        """Predictions, shape (n_samples,) or (n_samples, n_targets)."""
        check_is_fitted(self)
        _check_not_3d(X)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X @ np.asarray(self.coef_, dtype=X.dtype).T + self.intercept_
