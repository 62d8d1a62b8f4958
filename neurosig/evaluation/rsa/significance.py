"""Significance for RSA: condition-label permutation tests and multiple-comparison correction."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..._validation import check_option, check_positive_int
from .comparison import METHODS as COMPARE_METHODS, compare_vectors
from .rdm import as_vectors, n_cond_from_length, triu_indices


def permutation_test(data: Any, model: Any, method: str = "spearman", n_perm: int = 1000,
                     seed: Any = None, alternative: str = "greater") -> dict:
    """Condition-label permutation test (Mantel-style) of RDM similarity.

    The model RDM's conditions are permuted ``n_perm`` times (rows and columns
    together); all permuted RDMs are compared with the data at once.

    Parameters
    ----------
    data : array-like
        One data RDM, or several (their mean similarity is tested).
    model : array-like
        One model RDM.
    method : str
    n_perm : int
    seed : int | numpy.random.Generator | None
    alternative : {"greater", "two-sided"}

    Returns
    -------
    result : dict
        ``observed`` (float), ``null`` (n_perm,), ``p`` = (1 + #null >= observed) / (1 + n_perm).
    """
    check_option("method", method, COMPARE_METHODS)
    check_option("alternative", alternative, ("greater", "two-sided"))
    n_perm = check_positive_int("n_perm", n_perm)
    dv = as_vectors(data, "data")
    mv = as_vectors(model, "model")
    if mv.shape[0] != 1:
        raise ValueError(f"The 'model' parameter must be one RDM, but got {mv.shape[0]}.")
    if mv.shape[1] != dv.shape[1]:
        raise ValueError("The 'model' and 'data' parameters must have the same number of conditions, "
                         f"but got {n_cond_from_length(mv.shape[1])} and {n_cond_from_length(dv.shape[1])}.")
    n = n_cond_from_length(dv.shape[1])
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((n_perm, n)), axis=1)
    iu = triu_indices(n)
    sq = np.zeros((n, n))
    sq[iu] = mv[0]
    sq = sq + sq.T
    pv = sq[perms[:, iu[0]], perms[:, iu[1]]]  # (n_perm, n_pairs)
    observed = float(compare_vectors(mv, dv, method).mean())
    null = compare_vectors(pv, dv, method).mean(axis=1)
    if alternative == "greater":
        p = (1 + np.sum(null >= observed)) / (1 + n_perm)
    else:
        p = (1 + np.sum(np.abs(null) >= abs(observed))) / (1 + n_perm)
    return {"observed": observed, "null": null, "p": float(p)}


def correct_pvalues(p: Any, method: str = "holm") -> np.ndarray:
    """Adjusted p-values for multiple comparisons.

    Parameters
    ----------
    p : array-like, shape (n_tests,)
    method : {"bonferroni", "holm", "fdr_bh", "fdr_by"}
        Family-wise error (Bonferroni, Holm step-down) or false discovery rate
        (Benjamini-Hochberg, Benjamini-Yekutieli).

    Returns
    -------
    p_adjusted : ndarray, shape (n_tests,)
    """
    check_option("method", method, ("bonferroni", "holm", "fdr_bh", "fdr_by"))
    p = np.asarray(p, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("The 'p' parameter must be a non-empty 1-D array of p-values in [0, 1].")
    m = p.size
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p)
    ps = p[order]
    if method == "holm":
        adj = np.minimum(1.0, np.maximum.accumulate(ps * (m - np.arange(m))))
    else:
        c = 1.0 if method == "fdr_bh" else np.sum(1.0 / np.arange(1, m + 1))
        adj = ps * m * c / np.arange(1, m + 1)
        adj = np.minimum(1.0, np.minimum.accumulate(adj[::-1])[::-1])
    out = np.empty(m)
    out[order] = adj
    return out
