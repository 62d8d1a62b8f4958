"""Representational dissimilarity matrices (RDMs): input handling and distances.

All distances follow rsatoolbox's definitions so that results agree to
floating-point precision (see ``tests/evaluation/rsa``):

* ``"euclidean"``: squared Euclidean distance divided by the number of features,
  ``||x_i - x_j||^2 / p`` (rsatoolbox calls this "squared euclidean").
* ``"correlation"``: ``1 - r(x_i, x_j)`` (Pearson correlation over features).
* ``"cosine"``: ``1 - cos(x_i, x_j)`` (not in rsatoolbox's ``calc_rdm``; checked
  against ``scipy.spatial.distance.cdist(..., "cosine")``).
* ``"mahalanobis"``: ``(x_i - x_j)^T P (x_i - x_j) / p`` with a noise precision ``P``
  (:func:`noise_precision` estimates it from residuals, with shrinkage).
* ``"crossnobis"``: cross-validated Mahalanobis distance, unbiased: for every fold
  ``f``, ``(a_i - a_j)^T P (b_i - b_j) / p`` with ``b`` the condition means of fold
  ``f`` and ``a`` those of all other folds (leave one fold out, rsatoolbox's
  estimator), averaged over folds.

Everything is batched: patterns of shape (n_batch, n_conditions, n_features)
(subjects, ROIs, time points or layers) give RDMs of shape
(n_batch, n_conditions, n_conditions) with one matrix product per batch.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..._logging import get_logger
from ..._validation import check_option

logger = get_logger(__name__)

METHODS = ("euclidean", "correlation", "cosine", "mahalanobis", "crossnobis")


# ------------------------------------------------------------------ RDM containers
def n_cond_from_length(n_pairs: int, name: str = "rdms") -> int:
    """Number of conditions ``n`` such that ``n * (n - 1) / 2 == n_pairs``.

    Parameters
    ----------
    n_pairs : int
        Length of a condensed RDM vector.
    name : str
        Parameter name used in the error message.

    Returns
    -------
    n : int
        Number of conditions.
    """
    n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    if n * (n - 1) // 2 != n_pairs:
        raise ValueError(
            f"The '{name}' parameter holds condensed RDM vectors of length {n_pairs}, which is "
            "not n*(n-1)/2 for any number of conditions n.")
    return n


def triu_indices(n_cond: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the upper triangle (k=1), in rsatoolbox/scipy order.

    Parameters
    ----------
    n_cond : int
        Number of conditions.

    Returns
    -------
    rows, cols : ndarray, shape (n_pairs,)
        Indices of the condensed entries.
    """
    return np.triu_indices(n_cond, k=1)


def as_vectors(rdms: Any, name: str = "rdms", allow_inf: bool = False,
               check_symmetric: bool = True, atol: float = 1e-8) -> np.ndarray:
    """Condensed upper-triangle vectors of one or many RDMs.

    Parameters
    ----------
    rdms : array-like
        Square RDMs of shape (n_conditions, n_conditions) or
        (n_rdms, n_conditions, n_conditions), or condensed vectors of shape
        (n_pairs,) or (n_rdms, n_pairs) with ``n_pairs = n (n - 1) / 2``.
        A 2-D array whose two sizes are equal is read as one square RDM, so a
        stack of exactly n_pairs condensed vectors must be passed as squares.
    name : str
        Parameter name used in error messages.
    allow_inf : bool
        Accept infinite entries (e.g. disconnected pairs after
        :func:`~neurosig.evaluation.rsa.geodesic_transform`).
    check_symmetric : bool
        Refuse square matrices that are not symmetric (within ``atol``). Square
        matrices must also have a zero diagonal.
    atol : float
        Absolute tolerance of the symmetry and zero-diagonal checks.

    Returns
    -------
    vectors : ndarray, shape (n_rdms, n_pairs)
    """
    arr = _as_float(rdms, name)
    if arr.ndim in (2, 3) and arr.shape[-1] == arr.shape[-2] and not (arr.ndim == 2 and arr.shape[0] == 1):
        sq = arr if arr.ndim == 3 else arr[None]
        n = sq.shape[-1]
        # upper triangle, lower triangle (transposed) and diagonal: every entry once, with a
        # flat gather (the whole stack is read a few times instead of a dozen for large stacks)
        flat = np.ascontiguousarray(sq).reshape(sq.shape[0], n * n)
        iu = triu_indices(n)
        up = np.take(flat, iu[0] * n + iu[1], axis=1)
        lo = np.take(flat, iu[1] * n + iu[0], axis=1)
        diag = np.abs(np.take(flat, np.arange(n) * (n + 1), axis=1))
        finite = all(np.isfinite(x).all() for x in (up, lo, diag))
        if not finite:
            _check_values((up, lo, diag), name, allow_inf)

        def finite_abs_max(x):
            if not x.size:
                return 0.0
            return float(np.max(np.abs(x if finite else np.where(np.isfinite(x), x, 0.0))))

        if check_symmetric:
            with np.errstate(invalid="ignore"):
                bad = finite_abs_max(up - lo)
            inf_mismatch = not finite and np.any(np.isinf(up) != np.isinf(lo))
            if bad > atol or inf_mismatch:
                raise ValueError(
                    f"The '{name}' parameter must hold symmetric RDMs, but the largest asymmetry "
                    f"|D - D.T| is {bad:.3g} (tolerance {atol:g}).")
        scale = max(finite_abs_max(x) for x in (up, lo, diag))
        if diag.size and np.max(diag) > atol * max(1.0, scale):
            raise ValueError(
                f"The '{name}' parameter must hold dissimilarity matrices with a zero diagonal, but the "
                f"largest diagonal entry is {np.max(diag):.3g} (a similarity matrix? use 1 - r).")
        if n < 2:
            raise ValueError(f"The '{name}' parameter must have at least 2 conditions, got {n}.")
        return up
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise ValueError(
            f"The '{name}' parameter must be square RDMs of shape (n_conditions, n_conditions) or "
            f"(n_rdms, n_conditions, n_conditions), or condensed vectors (n_pairs,) or "
            f"(n_rdms, n_pairs), but got an array of shape {arr.shape} instead.")
    n_cond_from_length(arr.shape[1], name)
    _check_values(arr, name, allow_inf)
    return np.ascontiguousarray(arr)


def as_square(rdms: Any, name: str = "rdms", allow_inf: bool = False) -> np.ndarray:
    """Square RDMs of shape (n_rdms, n_conditions, n_conditions) with a zero diagonal.

    Parameters
    ----------
    rdms : array-like
        The same inputs as :func:`as_vectors`: (n, n), (n_rdms, n, n), (n_pairs,) or
        (n_rdms, n_pairs).
    name : str
        Parameter name used in error messages.
    allow_inf : bool
        Accept infinite entries.

    Returns
    -------
    squares : ndarray, shape (n_rdms, n_conditions, n_conditions)
        The RDMs as square matrices.
    """
    vec = as_vectors(rdms, name, allow_inf=allow_inf)
    return vectors_to_square(vec)


def vectors_to_square(vectors: np.ndarray) -> np.ndarray:
    """Condensed vectors to square matrices.

    Parameters
    ----------
    vectors : ndarray, shape (n_rdms, n_pairs) or (n_pairs,)
        Condensed RDMs.

    Returns
    -------
    squares : ndarray, shape (n_rdms, n, n)
        Symmetric matrices with a zero diagonal.
    """
    vectors = np.atleast_2d(vectors)
    n = n_cond_from_length(vectors.shape[1])
    out = np.empty((vectors.shape[0], n * n), dtype=vectors.dtype)
    iu = triu_indices(n)
    out[:, iu[0] * n + iu[1]] = vectors
    out[:, iu[1] * n + iu[0]] = vectors
    out[:, np.arange(n) * (n + 1)] = 0
    return out.reshape(vectors.shape[0], n, n)


def _as_float(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The '{name}' parameter must be a numeric array, but it could not be "
                         f"converted to float: {exc}") from None
    if arr.size == 0:
        raise ValueError(f"The '{name}' parameter is empty (shape {arr.shape}).")
    return arr


def _check_values(arr, name: str, allow_inf: bool) -> None:
    """Refuse NaN (and inf unless ``allow_inf``) in an array or a tuple of arrays."""
    if isinstance(arr, tuple):
        n_nan = sum(int(np.isnan(a).sum()) for a in arr)
        n_inf = sum(int(np.isinf(a).sum()) for a in arr)
    else:
        n_nan = int(np.isnan(arr).sum())
        n_inf = None
    if n_nan:
        raise ValueError(f"The '{name}' parameter contains {n_nan} NaN values; RDMs must be complete.")
    if not allow_inf and (n_inf if n_inf is not None else np.isinf(arr).any()):
        n_inf = n_inf if n_inf is not None else int(np.isinf(arr).sum())
        raise ValueError(
            f"The '{name}' parameter contains {n_inf} infinite values. RDMs from "
            "geodesic_transform have inf for disconnected pairs: pass geodesic_transform(..., "
            "disconnected=<finite value>) (e.g. disconnected=1.0 or the largest finite path) "
            "before comparing.")


# ------------------------------------------------------------------ noise
def noise_precision(residuals: Any, method: str = "shrinkage_diag", dof: int | None = None,
                    return_covariance: bool = False) -> np.ndarray:
    """Noise precision (inverse covariance) from residuals, with shrinkage.

    Same estimators as rsatoolbox's ``prec_from_residuals``: ``"full"`` (sample
    covariance), ``"diag"`` (variances only), ``"shrinkage_eye"`` (Ledoit-Wolf
    shrinkage towards a multiple of the identity) and ``"shrinkage_diag"``
    (Schaefer-Strimmer shrinkage towards the diagonal).

    Parameters
    ----------
    residuals : array-like, shape (n_residuals, n_features) or (n_batch, n_residuals, n_features)
        Residuals (e.g. GLM residuals, or trials minus their condition mean).
    method : str
        Covariance estimator, see above.
    dof : int | None
        Degrees of freedom; default ``n_residuals - 1``.
    return_covariance : bool
        Return the covariance instead of its inverse.

    Returns
    -------
    precision : ndarray, shape (n_features, n_features) or (n_batch, n_features, n_features)
    """
    check_option("method", method, ("full", "diag", "shrinkage_eye", "shrinkage_diag"))
    res = _as_float(residuals, "residuals")
    if res.ndim not in (2, 3):
        raise ValueError("The 'residuals' parameter must have shape (n_residuals, n_features) or "
                         f"(n_batch, n_residuals, n_features), but got {res.shape}.")
    if not np.all(np.isfinite(res)):
        raise ValueError("The 'residuals' parameter contains NaN or infinite values.")
    batched = res.ndim == 3
    res = res if batched else res[None]
    n = res.shape[1]
    if n < 2:
        raise ValueError(f"The 'residuals' parameter needs at least 2 residual rows, got {n}.")
    dof = n - 1 if dof is None else dof
    x = res - res.mean(axis=1, keepdims=True)
    s_sum = np.einsum("bni,bnj->bij", x, x, optimize=True)
    p = x.shape[2]
    eye = np.eye(p)
    if method == "full":
        cov = s_sum / dof
    elif method == "diag":
        cov = np.einsum("bni,bni->bi", x, x)[:, :, None] * eye / dof
    else:
        x2 = x * x
        s2_sum = np.einsum("bni,bnj->bij", x2, x2, optimize=True)
        if method == "shrinkage_eye":
            s = s_sum / n
            b2 = np.sum(s2_sum / n - s * s, axis=(1, 2)) / n
            m = np.trace(s, axis1=1, axis2=2) / p
            d2 = np.sum((s - m[:, None, None] * eye) ** 2, axis=(1, 2))
            b2 = np.minimum(d2, b2)
            d2s = np.where(d2 > 0, d2, 1.0)  # d2 == 0: s is already a multiple of the identity
            b2 = np.where(d2 > 0, b2, 0.0)
            cov = (b2 / d2s * m)[:, None, None] * eye + ((d2s - b2) / d2s)[:, None, None] * s
            cov = cov * n / dof
        else:  # shrinkage_diag
            s = s_sum / dof
            var = np.diagonal(s, axis1=1, axis2=2)
            std = np.sqrt(var)
            s_mean = s_sum / std[:, None, :] / std[:, :, None] / (n - 1)
            s2_mean = s2_sum / var[:, None, :] / var[:, :, None] / (n - 1)
            var_hat = n / dof ** 2 * (s2_mean - s_mean ** 2)
            mask = ~np.eye(p, dtype=bool)
            den = (s_mean[:, mask] ** 2).sum(axis=1)
            lamb = var_hat[:, mask].sum(axis=1) / np.where(den > 0, den, 1.0)
            lamb = np.clip(np.where(den > 0, lamb, 1.0), 0, 1)  # one feature: nothing to shrink
            cov = s * (eye + (1 - lamb)[:, None, None] * mask)
    out = cov if return_covariance else np.linalg.inv(cov)
    return out if batched else out[0]


# ------------------------------------------------------------------ RDM calculation
def calc_rdm(data: Any, method: str = "euclidean", conditions: Any = None, folds: Any = None,
             noise: Any = None, remove_mean: bool = False, squareform: bool = True) -> np.ndarray:
    """Compute RDMs from patterns or trials, for one or many data sets at once.

    Parameters
    ----------
    data : array-like, shape (n_obs, n_features) or (n_batch, n_obs, n_features)
        Activity patterns. Without ``conditions`` each row is one condition; with
        ``conditions`` rows are trials and are averaged per condition. A leading
        batch dimension (subjects, ROIs, time points, layers) is processed in one go;
        all batch members share ``conditions`` and ``folds``.
    method : str
        One of ``"euclidean"``, ``"correlation"``, ``"cosine"``, ``"mahalanobis"``,
        ``"crossnobis"`` (definitions in the module docstring).
    conditions : array-like, shape (n_obs,) | None
        Condition label of each trial. Conditions are ordered as ``np.unique``
        orders the labels. Required for ``"crossnobis"``.
    folds : array-like, shape (n_obs,) | None
        Cross-validation fold (run/session) of each trial, for ``"crossnobis"``.
        Every fold must contain every condition. Default: the k-th occurrence of
        each condition forms fold k (as rsatoolbox does).
    noise : array-like | None
        Noise precision, shape (n_features, n_features) shared by the batch or
        (n_batch, n_features, n_features); identity when None. Used by
        ``"mahalanobis"`` and ``"crossnobis"``. See :func:`noise_precision`.
    remove_mean : bool
        Subtract each pattern's mean over features first (not for correlation,
        which always does).
    squareform : bool
        Return square matrices (default) or condensed vectors.

    Returns
    -------
    rdms : ndarray
        Shape (n_conditions, n_conditions) for 2-D ``data``, or
        (n_batch, n_conditions, n_conditions) for 3-D ``data``; condensed
        (..., n_pairs) when ``squareform=False``.
    """
    check_option("method", method, METHODS)
    X = _as_float(data, "data")
    if X.ndim not in (2, 3):
        raise ValueError("The 'data' parameter must have shape (n_obs, n_features) or "
                         f"(n_batch, n_obs, n_features), but got an array of shape {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"The 'data' parameter contains {int((~np.isfinite(X)).sum())} NaN or "
                         "infinite values.")
    batched = X.ndim == 3
    X = X if batched else X[None]
    n_obs, p = X.shape[1], X.shape[2]
    P = None
    if noise is not None and method in ("mahalanobis", "crossnobis"):
        P = _as_float(noise, "noise")
        if P.shape not in ((p, p), (X.shape[0], p, p)):
            raise ValueError(f"The 'noise' parameter must have shape ({p}, {p}) or "
                             f"({X.shape[0]}, {p}, {p}), but got {P.shape}.")
    if method == "crossnobis":
        if conditions is None:
            raise ValueError("The 'conditions' parameter is required for method='crossnobis' "
                             "(cross-validation needs repeated measurements of each condition).")
        vec = _crossnobis(X, conditions, folds, P, remove_mean)
    else:
        if conditions is not None:
            labels, inv = _labels(conditions, n_obs, "conditions")
            X = _average_by(X, inv, len(labels))
        if X.shape[1] < 2:
            raise ValueError(f"At least 2 conditions are needed for an RDM, got {X.shape[1]}.")
        if remove_mean and method not in ("correlation",):
            X = X - X.mean(axis=2, keepdims=True)
        vec = _pattern_distances(X, method, P)
    out = vectors_to_square(vec) if squareform else vec
    return out if batched else out[0]


def _labels(values: Any, n_obs: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n_obs:
        raise ValueError(f"The '{name}' parameter must be a 1-D array with one label per trial "
                         f"({n_obs}), but got shape {arr.shape}.")
    labels, inv = np.unique(arr, return_inverse=True)
    return labels, inv.ravel()


def _group_sums(X: np.ndarray, inv: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of rows of X (n_batch, n_obs, p) per group (every group non-empty) and counts.

    Rows are sorted by group once and summed with ``np.add.reduceat`` (linear in the
    data size, unlike a one-hot matrix product).
    """
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    Xs = X if np.array_equal(order, np.arange(len(order))) else X[:, order]
    if np.all(counts == 1):
        return Xs, counts
    return np.add.reduceat(Xs, starts, axis=1), counts


def _average_by(X: np.ndarray, inv: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean of rows of X (n_batch, n_obs, p) per group -> (n_batch, n_groups, p)."""
    sums, counts = _group_sums(X, inv, n_groups)
    return sums / counts[None, :, None]


def _pattern_distances(X: np.ndarray, method: str, P: np.ndarray | None) -> np.ndarray:
    """Condensed distances (n_batch, n_pairs) between the rows of X (n_batch, n, p)."""
    n, p = X.shape[1], X.shape[2]
    iu = triu_indices(n)
    if method in ("correlation", "cosine"):
        if method == "correlation":
            X = X - X.mean(axis=2, keepdims=True)
        norms = np.sqrt(np.einsum("bij,bij->bi", X, X))
        Xn = X / norms[:, :, None]
        K = np.matmul(Xn, np.swapaxes(Xn, 1, 2))
        return 1.0 - K[:, iu[0], iu[1]]
    if method == "mahalanobis" and P is not None:
        K = np.matmul(np.matmul(X, P), np.swapaxes(X, 1, 2))
    else:  # euclidean, or mahalanobis with identity noise
        K = np.matmul(X, np.swapaxes(X, 1, 2))
    d = np.diagonal(K, axis1=1, axis2=2)
    D = d[:, :, None] + d[:, None, :] - 2 * K
    return D[:, iu[0], iu[1]] / p


def _crossnobis(X: np.ndarray, conditions: Any, folds: Any, P: np.ndarray | None,
                remove_mean: bool) -> np.ndarray:
    n_batch, n_obs, p = X.shape
    labels, cinv = _labels(conditions, n_obs, "conditions")
    n_cond = len(labels)
    if n_cond < 2:
        raise ValueError(f"The 'conditions' parameter must hold at least 2 conditions, got {n_cond}.")
    if folds is None:
        counts = np.bincount(cinv, minlength=n_cond)
        if not np.all(counts == counts[0]):
            raise ValueError(
                "The 'folds' parameter is needed: conditions have different numbers of trials "
                f"({dict(zip(labels.tolist(), counts.tolist()))}), so folds cannot be inferred.")
        finv = np.zeros(n_obs, dtype=int)
        for c in range(n_cond):
            finv[cinv == c] = np.arange(counts[0])
        fold_labels = np.arange(counts[0])
    else:
        fold_labels, finv = _labels(folds, n_obs, "folds")
    n_folds = len(fold_labels)
    if n_folds < 2:
        raise ValueError(f"The 'folds' parameter must hold at least 2 folds for crossnobis, got {n_folds}.")
    cnt = np.zeros((n_folds, n_cond))
    np.add.at(cnt, (finv, cinv), 1)
    missing = np.argwhere(cnt == 0)
    if missing.size:
        f, c = missing[0]
        raise ValueError(
            f"The 'folds' parameter leaves fold {fold_labels[f].item()!r} without condition "
            f"{labels[c].item()!r} ({len(missing)} fold/condition pairs are empty); every fold must contain "
            "every condition for crossnobis.")
    group = finv * n_cond + cinv
    iu = triu_indices(n_cond)
    out = np.empty((n_batch, len(iu[0])))
    if P is None and not remove_mean and np.all(cnt == cnt[:1]):
        # Balanced folds (each condition has the same trial count in every fold): the
        # leave-one-fold-out estimator sums to K = (S S' - sum_f M_f M_f') / (F - 1) with
        # M_f the fold means and S = sum_f M_f; F + 1 symmetric Gram products (BLAS syrk)
        # on contiguous views, no copies.
        sums = _group_sums(X, group, n_folds * n_cond)[0]
        unit = bool(np.all(cnt == 1))
        for b in range(n_batch):
            M = sums[b].reshape(n_folds, n_cond, p)
            if not unit:
                M = M / cnt[:, :, None]
            S = M.sum(axis=0)
            K = S @ S.T
            for f in range(n_folds):
                K -= M[f] @ M[f].T
            K /= n_folds - 1
            d = np.diagonal(K)
            out[b] = ((d[:, None] + d[None, :] - 2 * K)[iu[0], iu[1]]) / (n_folds * p)
        return out
    # chunks of the batch keep the working set in cache; each chunk is fully vectorised
    step = max(1, int(4e6 // max(1, n_obs * p)))
    for b0 in range(0, n_batch, step):
        Xc = X[b0:b0 + step]
        nb = Xc.shape[0]
        # sums per (fold, condition)
        sums = _group_sums(Xc, group, n_folds * n_cond)[0].reshape(nb, n_folds, n_cond, p)
        total = sums.sum(axis=1, keepdims=True)
        test = sums / cnt[None, :, :, None]
        train = (total - sums) / (cnt.sum(axis=0)[None, None, :, None] - cnt[None, :, :, None])
        if remove_mean:
            test = test - test.mean(axis=3, keepdims=True)
            train = train - train.mean(axis=3, keepdims=True)
        if P is not None:
            Pb = P[b0:b0 + step] if P.ndim == 3 else P[None]
            train = np.matmul(train.reshape(nb, n_folds * n_cond, p), Pb).reshape(train.shape)
        K = np.matmul(train, np.swapaxes(test, 2, 3))  # (b, f, c, c)
        d = np.diagonal(K, axis1=2, axis2=3)
        D = (d[:, :, :, None] + d[:, :, None, :] - K - np.swapaxes(K, 2, 3)).mean(axis=1)
        out[b0:b0 + nb] = D[:, iu[0], iu[1]] / p
    return out


def is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)
