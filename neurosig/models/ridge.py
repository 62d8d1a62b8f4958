"""Fast ridge regression over many alphas and many targets.

One eigendecomposition per cross-validation fold serves every alpha and every
target, in the cheaper of two forms:

* the primal form when the fold has at least as many training samples as features:
  ``X_c^T X_c = V diag(s) V^T`` (features x features), and the test predictions for
  alpha ``a`` are ``(X_te V) diag(1 / (s + a)) V^T X_c^T Y_c``;
* the dual (kernel) form when it has fewer samples than features:
  ``X_c X_c^T = U diag(s) U^T`` (samples x samples), and the predictions are
  ``(X_te X_c^T U) diag(1 / (s + a)) U^T Y_c``.

When the folds partition the samples (``KFold``, ``GroupKFold``, leave-one-group-out: every
sample is tested once and trained on otherwise) and the dual form applies, the folds need no
eigendecomposition of their own: with the eigen-system of all samples ``K = U diag(s) U^T``,
the residual-maker of ridge is ``I - H_a = U diag(a / (s + a)) U^T`` (with an intercept, ``U``
spans the complement of the constant vector), and the test residuals of the model fitted without block ``v`` are
``(I - H_a)_vv^{-1} ((I - H_a) Y)_v`` (the block form of the leave-one-out identity, exact for
any penalty that does not depend on the data). ``U^T Y`` is then shared by every fold and by
the refit on all samples; this path is taken when its operation count is the smaller.

The products with the data are computed once for all folds (``X^T X`` and ``X^T Y``
in the primal form, minus each fold's test rows; ``X X^T`` in the dual form, indexed
per fold and centred on the fold's training mean), so that a fold costs one
eigendecomposition and one product per block of targets for all alphas at once.
This is the math of scikit-learn's ``Ridge`` (``fit_intercept=True``: centre X and
Y on the training means), so predictions and R^2 agree with it to rounding.

Notes
-----
``FastRidgeCV(scoring="r2")`` (the default, scikit-learn's ``RidgeCV`` and
``GridSearchCV`` convention) averages each fold's R^2 over folds. himalaya's
``RidgeCV`` averages each fold's negative mean squared error (``l2_neg_loss``)
instead; since every fold has its own test variance, the two averages weight the
folds differently and can prefer different alphas when two alphas are close.
``scoring="neg_mean_squared_error"`` is himalaya's criterion. Ties (mean scores
equal to rounding, e.g. a constant target) go to the largest alpha, as in himalaya.
With ``fit_intercept=False`` (himalaya's default) nothing is centred.
"""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import check_option

__all__ = ["ridge_cv_scores", "ridge_fit", "select_alphas", "FastRidgeCV", "SCORINGS"]

#: scores that ``FastRidgeCV`` can maximise
SCORINGS = ("r2", "neg_mean_squared_error", "pearson")
#: largest block of predictions (alphas x test samples x targets) held at once
_BLOCK_ELEMENTS = 2 ** 24


class _Workspace:
    """Flat buffers reused by every fold and the refit.

    A fresh array of tens of megabytes is mapped anew by the allocator and costs a
    page fault per 4 KiB page on first touch, fold after fold; one buffer per role,
    grown when needed, pays that once.
    """

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self._flat: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple) -> np.ndarray:
        """A C-contiguous array of ``shape`` (uninitialised) backed by the buffer ``name``.

        Parameters
        ----------
        name : str
            Role of the buffer ("rhs", "test", "pred"); arrays of one role share memory.
        shape : tuple of int
            Shape of the view.

        Returns
        -------
        out : ndarray
            View of the first ``prod(shape)`` elements of the buffer.
        """
        size = int(np.prod(shape))
        flat = self._flat.get(name)
        if flat is None or flat.size < size:
            flat = self._flat[name] = np.empty(size, self.dtype)
        return flat[:size].reshape(shape)


def _eigh_centred(K: np.ndarray):
    """Eigen-system of a centred Gram matrix on the complement of the constant vector.

    ``K`` (n, n) satisfies ``K 1 = 0``. The Householder reflection ``R = I - 2 w w^T`` that
    swaps ``1 / sqrt(n)`` and ``-e_1`` makes ``R K R`` zero on its first row and column; the
    eigenvectors of its lower block, mapped back by ``R``, are orthogonal to the constant
    vector to rounding, so the intercept's direction never has to be picked out among
    eigenvalues that are zero to rounding.

    Returns
    -------
    s : ndarray, shape (n - 1,)
    U : ndarray, shape (n, n - 1)
    """
    n = K.shape[0]
    w = np.full(n, 1.0 / np.sqrt(n), dtype=K.dtype)
    w[0] += 1.0
    w /= np.linalg.norm(w)
    Kw = K @ w
    u = 2.0 * Kw - 2.0 * (w @ Kw) * w
    RKR = K - np.outer(w, u)
    RKR -= np.outer(u, w)                   # R K R = K - w u^T - u w^T
    s, V = np.linalg.eigh(RKR[1:, 1:])
    U = np.empty((n, n - 1), dtype=K.dtype)  # R [0; V]
    U[0] = 0.0
    U[1:] = V
    U -= np.outer(2.0 * w, w[1:] @ V)
    return s, U


class _Design:
    """Data centred once, with the Gram products every fold and the refit reuse.

    The primal form keeps ``G = X0^T X0`` (p, p) and ``C = X0^T Y0`` (p, t); the dual
    form keeps ``K = X0 X0^T`` (n, n). With ``fit_intercept`` the data are centred on
    their overall mean first (ridge with an intercept does not depend on a constant
    shift of X or Y, and centred data keep the fold downdates well conditioned).
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, fit_intercept: bool, dual: bool):
        self.fit_intercept = fit_intercept
        if fit_intercept:
            self.x_mean, self.y_mean = X.mean(axis=0), Y.mean(axis=0)
            X, Y = X - self.x_mean, Y - self.y_mean
        else:
            self.x_mean = np.zeros(X.shape[1], X.dtype)
            self.y_mean = np.zeros(Y.shape[1], Y.dtype)
        self.X, self.Y, self.dual = X, Y, dual
        self.work = _Workspace(X.dtype)
        self._eigen = None
        if dual:
            self.K = X @ X.T
        else:
            self.G = X.T @ X
            self.C = X.T @ Y

    def eigen(self):
        """Eigen-system of all samples, computed once for the block folds and the refit.

        Returns
        -------
        s : ndarray, shape (r,)
            Eigenvalues of ``K`` (dual) or ``G`` (primal), clipped at 0.
        U : ndarray, shape (m, r)
            Eigenvectors.
        proj : ndarray, shape (r, n_targets)
            ``U^T Y`` (dual) or ``U^T X^T Y`` (primal).
        """
        if self._eigen is None:
            if self.dual and self.fit_intercept:
                s, U = _eigh_centred(self.K)
            else:
                s, U = np.linalg.eigh(self.K if self.dual else self.G)
            self._eigen = np.clip(s, 0, None), U, U.T @ (self.Y if self.dual else self.C)
        return self._eigen

    def fold(self, tr: np.ndarray, te: np.ndarray):
        """Eigen-system of one training set and the test rows in its basis.

        Parameters
        ----------
        tr : ndarray of int, shape (n_train,)
            Row indices of the fold's training samples.
        te : ndarray of int, shape (n_test,)
            Row indices of the fold's test samples.

        Returns
        -------
        s : ndarray, shape (r,)
            Eigenvalues (clipped at 0).
        Z : ndarray, shape (n_test, r)
            Centred test data in the eigenbasis.
        basis : ndarray, shape (m, r)
            Eigenvectors; ``m`` is n_train (dual) or n_features (primal).
        rhs : ndarray, shape (m, n_targets)
            ``Y_c`` (dual) or ``X_c^T Y_c`` (primal): predictions are
            ``Z diag(1 / (s + a)) basis^T rhs``.
        y_shift : ndarray, shape (n_targets,)
            Training mean of ``Y0`` (added back to the predictions).
        """
        X, Y = self.X, self.Y
        yt_mean = Y[tr].mean(axis=0) if self.fit_intercept else np.zeros(Y.shape[1], Y.dtype)
        if self.dual:
            Ktr = self.K[np.ix_(tr, tr)]
            Kte = self.K[np.ix_(te, tr)]
            if self.fit_intercept:  # kernel of the data centred on the training mean
                r = Ktr.mean(axis=1)
                mu = r.mean()
                Ktr = Ktr - r[:, None] - r[None, :] + mu
                Kte = Kte - Kte.mean(axis=1, keepdims=True) - r[None, :] + mu
            s, U = np.linalg.eigh(Ktr)
            rhs = np.take(Y, tr, axis=0, out=self.work.array("rhs", (len(tr), Y.shape[1])))
            if self.fit_intercept:
                rhs -= yt_mean
            return np.clip(s, 0, None), Kte @ U, U, rhs, yt_mean
        # primal: remove the test rows from the overall products, then centre
        Xte, Yte = X[te], Y[te]
        G = self.G - Xte.T @ Xte
        C = self.C - Xte.T @ Yte
        if self.fit_intercept:
            n_tr = len(tr)
            xt_mean = (X.sum(axis=0) - Xte.sum(axis=0)) / n_tr
            G -= n_tr * np.outer(xt_mean, xt_mean)
            C -= n_tr * np.outer(xt_mean, yt_mean)
            Xte = Xte - xt_mean
        s, V = np.linalg.eigh(G)
        return np.clip(s, 0, None), Xte @ V, V, C, yt_mean

    def refit_coef(self, alphas: np.ndarray) -> np.ndarray:
        """Weights on all samples, shape (n_features, n_targets), target ``j`` with ``alphas[j]``.

        Parameters
        ----------
        alphas : ndarray, shape (n_targets,)
            Penalty of each target.

        Returns
        -------
        W : ndarray, shape (n_features, n_targets)
            Ridge weights of each target on the (centred) data.
        """
        s, U, proj = self.eigen()
        scaled = np.divide(proj, s[:, None] + alphas[None, :], out=self.work.array("pred", proj.shape))
        left = self.X.T @ U if self.dual else U      # (p, r)
        return left @ scaled


def _split_list(cv, X, groups):
    from sklearn.model_selection import GroupKFold, KFold, check_cv

    if isinstance(cv, numbers.Integral):
        cv = GroupKFold(int(cv)) if groups is not None else KFold(int(cv))
    if isinstance(cv, (list, tuple)):
        return [(np.asarray(tr), np.asarray(te)) for tr, te in cv]
    cv = check_cv(cv)
    return list(cv.split(X, None, groups))


def _block_scores(R0: np.ndarray, E: np.ndarray, scoring: str) -> np.ndarray:
    """Scores of residuals ``E`` (n_alphas, n_test, t) against residual targets ``R0`` (n_test, t).

    ``R0`` is the test target minus the training mean, so the centred prediction is
    ``R0 - E``. ``E`` is overwritten.
    """
    if scoring == "pearson":
        Rc = R0 - R0.mean(axis=0)
        P = np.subtract(R0[None], E, out=E)
        P -= P.mean(axis=1, keepdims=True)
        num = np.einsum("it,ait->at", Rc, P)
        den = np.sqrt((Rc ** 2).sum(axis=0)[None] * np.einsum("ait,ait->at", P, P))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.nan_to_num(num / den)
    sse = np.einsum("ait,ait->at", E, E)
    if scoring == "neg_mean_squared_error":
        return -sse / R0.shape[0]
    sst = ((R0 - R0.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - sse / sst
    return np.where(sst == 0, np.where(sse == 0, 1.0, 0.0), r2)


def _fold_scores(design: _Design, tr, te, alphas: np.ndarray, scoring: str) -> np.ndarray:
    """Scores of one fold for every alpha and target, shape (n_alphas, n_targets)."""
    s, Z, basis, rhs, y_shift = design.fold(tr, te)
    n_a, n_te, t = len(alphas), len(te), rhs.shape[1]
    scale = 1.0 / (s[None, :] + alphas[:, None])            # (n_alphas, r)
    R0 = np.take(design.Y, te, axis=0, out=design.work.array("test", (n_te, t)))
    R0 -= y_shift
    # two orders for the same product Z diag(scale_a) basis^T rhs, the cheaper one first
    left_first = n_a * n_te < t
    if left_first:   # (n_alphas * n_test, m) once, then one product per block of targets
        L = ((Z[None] * scale[:, None, :]) @ basis.T).reshape(n_a * n_te, -1)
    else:            # (r, t) once, then (n_test, r) per alpha
        B = basis.T @ rhs

    def residuals(cols: slice, E: np.ndarray) -> None:
        if left_first:
            np.matmul(L, rhs[:, cols], out=E.reshape(n_a * n_te, -1))
        else:
            np.matmul(Z[None] * scale[:, None, :], B[None, :, cols], out=E)
        np.subtract(R0[:, cols][None], E, out=E)  # predictions -> residuals

    return _scores_in_blocks(design, R0, n_a, residuals, scoring)


def _scores_in_blocks(design: _Design, R0: np.ndarray, n_alphas: int, residuals, scoring: str) -> np.ndarray:
    """Scores (n_alphas, n_targets) of one fold, computed a block of targets at a time.

    ``R0`` (n_test, n_targets) holds the test targets minus the training mean;
    ``residuals(cols, E)`` fills ``E`` (n_alphas, n_test, n_cols), a view of the design's
    reused prediction buffer, with the test residuals of the targets ``cols``. Blocks hold
    about ``_BLOCK_ELEMENTS`` residuals.
    """
    n_te, t = R0.shape
    out = np.empty((n_alphas, t))
    step = max(1, _BLOCK_ELEMENTS // (n_alphas * n_te))
    for start in range(0, t, step):
        cols = slice(start, start + step)
        E = design.work.array("pred", (n_alphas, n_te, min(step, t - start)))
        residuals(cols, E)
        out[:, cols] = _block_scores(R0[:, cols], E, scoring)
    return out


def _left_out_scores(design: _Design, te, alphas: np.ndarray, scoring: str) -> np.ndarray:
    """Scores of the fold that leaves out the block ``te``, from the eigen-system of all samples.

    Dual form, the other samples being the fold's training set: the test residuals are
    ``(I - H_a)_vv^{-1} U_v diag(a / (s + a)) U^T Y`` (module docstring; with an intercept ``U``
    spans the complement of the constant vector, so ``I - H_a = U diag(a / (s + a)) U^T``).
    Shape (n_alphas, n_targets).
    """
    s, U, proj = design.eigen()
    n, r, n_a, n_te, t = U.shape[0], U.shape[1], len(alphas), len(te), proj.shape[1]
    Uv = U[te]                                                 # (n_test, r)
    keep = alphas[:, None] / (s[None, :] + alphas[:, None])    # a / (s + a), (n_alphas, r)
    right = Uv[None] * keep[:, None, :]                        # (n_alphas, n_test, r)
    M = right @ Uv.T                                           # (I - H_a)_vv
    left = (np.linalg.inv(M) @ right).reshape(n_a * n_te, r)  # M is (n_test, n_test): inverse and product beat a solve with r right-hand sides
    R0 = np.take(design.Y, te, axis=0, out=design.work.array("test", (n_te, t)))
    if design.fit_intercept:  # Y is centred: the training mean is minus the test sum over n_train
        R0 += R0.sum(axis=0) / (n - n_te)

    def residuals(cols: slice, E: np.ndarray) -> None:
        np.matmul(left, proj[:, cols], out=E.reshape(n_a * n_te, -1))

    return _scores_in_blocks(design, R0, n_a, residuals, scoring)


def _partitions(splits, n: int) -> bool:
    """True when every sample is tested in exactly one fold and each fold trains on all the others."""
    tested = np.zeros(n, dtype=np.int64)
    for tr, te in splits:
        if len(tr) + len(te) != n or len(te) == 0:
            return False
        member = np.zeros(n, dtype=bool)
        member[tr] = True
        member[te] = True
        if not member.all():
            return False
        tested[te] += 1
    return bool(np.all(tested == 1))


def _left_out_cheaper(splits, n: int, n_alphas: int, t: int) -> bool:
    """Multiply-add counts of the two dual routes (an eigendecomposition counted as 4 n^3)."""
    sizes = [len(te) for _, te in splits]
    left_out = n_alphas * n * n * t + sum(3 * n_alphas * m * m * n for m in sizes)
    per_fold = sum(n_alphas * m * (n - m) * (t + n - m) + 4 * (n - m) ** 3 for m in sizes)
    return left_out <= per_fold


def _use_dual(n_train: int, n_features: int) -> bool:
    return n_features > n_train


def ridge_cv_scores(X, Y, alphas, splits, scoring: str = "r2", fit_intercept: bool = True,
                    dtype=np.float64) -> np.ndarray:
    """Cross-validated scores of ridge for every alpha, fold and target.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    Y : ndarray, shape (n_samples, n_targets)
    alphas : array, shape (n_alphas,)
    splits : list of (train_idx, test_idx)
    scoring : {"r2", "neg_mean_squared_error", "pearson"}
        Per fold and target: R^2, minus the mean squared error (himalaya's
        ``l2_neg_loss``) or the Pearson correlation of prediction and target.
    fit_intercept : bool
    dtype : numpy dtype
        float64 (exact) or float32 (half the memory, faster).

    Returns
    -------
    scores : ndarray, shape (n_folds, n_alphas, n_targets)
    """
    check_option("scoring", scoring, SCORINGS)
    X = np.asarray(X, dtype=dtype)
    Y = np.asarray(Y, dtype=dtype)
    Y = Y[:, None] if Y.ndim == 1 else Y
    alphas = np.asarray(alphas, dtype=dtype)
    return _cv_scores(X, Y, alphas, splits, scoring, fit_intercept)[0]


def _cv_scores(X, Y, alphas, splits, scoring, fit_intercept, route="auto"):
    """Scores (n_folds, n_alphas, n_targets) and the design; ``route`` "auto", "folds" or "left_out"."""
    n_train = max(len(tr) for tr, _ in splits)
    design = _Design(X, Y, fit_intercept, _use_dual(n_train, X.shape[1]))
    n = X.shape[0]
    if route == "auto":
        left_out = (design.dual and _use_dual(n, X.shape[1]) and _partitions(splits, n)
                    and _left_out_cheaper(splits, n, len(alphas), Y.shape[1]))
        route = "left_out" if left_out else "folds"
    out = np.empty((len(splits), len(alphas), Y.shape[1]), dtype=np.float64)
    for f, (tr, te) in enumerate(splits):
        if route == "left_out":
            out[f] = _left_out_scores(design, np.asarray(te), alphas, scoring)
        else:
            out[f] = _fold_scores(design, np.asarray(tr), np.asarray(te), alphas, scoring)
    return out, design


def ridge_fit(X, Y, alphas, fit_intercept: bool = True, dtype=np.float64):
    """Ridge weights with one alpha per target from a single eigendecomposition.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    Y : ndarray, shape (n_samples, n_targets)
    alphas : float or ndarray, shape (n_targets,)
    fit_intercept : bool, default=True
        Centre X and Y on their means (and return the matching intercept).
    dtype : numpy dtype, default=np.float64
        Precision of the computation (X and Y are cast to it).

    Returns
    -------
    coef : ndarray, shape (n_targets, n_features)
    intercept : ndarray, shape (n_targets,)
    """
    X = np.asarray(X, dtype=dtype)
    Y = np.asarray(Y, dtype=dtype)
    Y = Y[:, None] if Y.ndim == 1 else Y
    design = _Design(X, Y, fit_intercept, _use_dual(X.shape[0], X.shape[1]))
    return _refit(design, alphas)


def _refit(design: _Design, alphas):
    t = design.Y.shape[1]
    alphas = np.broadcast_to(np.asarray(alphas, dtype=design.X.dtype), (t,))
    W = design.refit_coef(np.ascontiguousarray(alphas))
    intercept = design.y_mean - design.x_mean @ W
    return W.T, intercept


def select_alphas(mean_scores: np.ndarray, alphas: np.ndarray, per_target: bool = True) -> np.ndarray:
    """Index of the best alpha of each target; ties (equal to rounding) go to the largest alpha.

    Parameters
    ----------
    mean_scores : ndarray, shape (n_alphas, n_targets)
        Scores averaged over folds (higher is better).
    alphas : ndarray, shape (n_alphas,)
    per_target : bool
        One alpha per target, or the alpha with the best score averaged over targets.

    Returns
    -------
    best : ndarray of int, shape (n_targets,)
    """
    scores = mean_scores if per_target else mean_scores.mean(axis=1, keepdims=True)
    top = scores.max(axis=0)
    tol = 16 * np.finfo(np.float64).eps * np.maximum(np.abs(top), np.finfo(np.float64).tiny)
    tied = scores >= (top - tol)[None, :]
    # among the tied alphas, the largest one
    key = np.where(tied, np.asarray(alphas, dtype=np.float64)[:, None], -np.inf)
    best = key.argmax(axis=0)
    return best if per_target else np.full(mean_scores.shape[1], best[0])


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
    scoring : {"r2", "neg_mean_squared_error", "pearson"}
        Score averaged over folds to choose alphas: R^2 (scikit-learn's convention),
        minus the mean squared error (himalaya's ``RidgeCV`` criterion) or Pearson r.
        Ties go to the largest alpha.
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
        """Choose the alphas by cross-validation, then refit on all samples.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Training data.
        y : array-like, shape (n_samples,) or (n_samples, n_targets)
            Targets.
        groups : array-like, shape (n_samples,) | None
            Group labels for the folds (an int ``cv`` then gives ``GroupKFold``).

        Returns
        -------
        self : FastRidgeCV
        """
        check_option("scoring", self.scoring, SCORINGS)
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
        Xd, Yd = np.asarray(X, dtype=dtype), np.asarray(Y, dtype=dtype)
        fold_scores, design = _cv_scores(Xd, Yd, alphas.astype(dtype), splits, self.scoring,
                                         self.fit_intercept)
        scores = fold_scores.mean(axis=0)
        self.cv_scores_ = scores
        best = select_alphas(scores, alphas, self.alpha_per_target)
        self.alpha_ = alphas[best]
        self.best_score_ = scores[best, np.arange(Y.shape[1])]
        if design.dual != _use_dual(X.shape[0], X.shape[1]):  # folds dual, all samples primal
            design = _Design(Xd, Yd, self.fit_intercept, _use_dual(X.shape[0], X.shape[1]))
        coef, intercept = _refit(design, self.alpha_)
        if y.ndim == 1:
            self.coef_, self.intercept_ = coef[0], float(intercept[0])
        else:
            self.coef_, self.intercept_ = coef, intercept
        return self

    def predict(self, X):
        """Predictions, shape (n_samples,) or (n_samples, n_targets).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Samples with the fitted number of features.

        Returns
        -------
        y_pred : ndarray, shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        _check_not_3d(X)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X @ np.asarray(self.coef_, dtype=X.dtype).T + self.intercept_
