"""Noise ceilings of RSA: pooled RDMs, leave-one-subject-out and cross-validated ceilings.

The definitions are rsatoolbox's (``rsatoolbox.inference``): the same pooling of RDMs
per comparison method (:func:`pool_rdm`) and the same leave-one-group-out lower bound.
:func:`_ceiling_core` computes many pooled-vs-test similarities at once; the bootstraps
(:mod:`~neurosig.evaluation.rsa.bootstrap`) call it on weighted pools.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._validation import check_option
from .comparison import compare_vectors, cosine, rank, whitened_second_moment
from .rdm import as_vectors, n_cond_from_length, triu_indices

CEILING_METHODS = ("cosine", "corr", "spearman", "rho-a", "tau-a", "tau-b", "corr_cov", "cosine_cov")


def _prepool(vec: np.ndarray, method: str) -> np.ndarray:
    """Per-RDM normalisation that rsatoolbox's ``pool_rdm`` applies before averaging."""
    if method in ("cosine", "cosine_cov"):
        return vec / np.sqrt(np.mean(vec ** 2, axis=1, keepdims=True))
    if method in ("corr", "corr_cov"):
        c = vec - vec.mean(axis=1, keepdims=True)
        return c / c.std(axis=1, keepdims=True)
    return rank(vec)  # spearman, rho-a, tau-a, tau-b: average ranks


def pool_rdm(rdms: Any, method: str = "cosine", weights: Any = None) -> np.ndarray:
    """The RDM that best represents a set of RDMs under ``method`` (rsatoolbox's ``pool_rdm``).

    Parameters
    ----------
    rdms : array-like
        Square or condensed RDMs.
    method : str
        Comparison method the pooled RDM is made for.
    weights : array-like, shape (n_rdms,) | None
        Non-negative weights (e.g. bootstrap counts); equal weights by default.

    Returns
    -------
    pooled : ndarray, shape (n_pairs,)
    """
    check_option("method", method, CEILING_METHODS)
    vec = as_vectors(rdms, "rdms")
    w = np.ones(vec.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    return _pool(_prepool(vec, method), w[None], method)[0]


def _pool(z: np.ndarray, W: np.ndarray, method: str) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):  # empty pools (fixed by the caller)
        # sum first, then divide (as np.mean): averaged integer ranks keep their exact ties
        P = (W @ z) / W.sum(axis=1, keepdims=True)
    if method in ("corr", "corr_cov"):
        P = P - P.min(axis=1, keepdims=True)
    return P


LINEAR_METHODS = ("cosine", "corr", "cosine_cov", "corr_cov")


def _linear_features(v: np.ndarray, method: str) -> np.ndarray:
    """Features in which ``method`` is a plain cosine (linear in the RDM vector)."""
    if method == "cosine":
        return v
    if method == "corr":
        return v - v.mean(axis=1, keepdims=True)
    if method == "cosine_cov":
        return whitened_second_moment(v)
    return whitened_second_moment(v - v.mean(axis=1, keepdims=True))  # corr_cov


def _ceiling_core(vec: np.ndarray, z: np.ndarray, method: str, pool_w: np.ndarray,
                  test_w: np.ndarray, grams: tuple | None = None) -> np.ndarray:
    """Mean similarity of pooled RDMs with test RDMs.

    pool_w (n_rows, n_rdms): weights of each pooled RDM; test_w (n_rows, n_rdms):
    weights over the test RDMs each pooled RDM is compared with. For the methods
    that are cosines of linear features (cosine, corr and their whitened forms)
    pooled RDMs are never formed: with Gram matrices of the features,
    ``cos(w z, r_j) = (w G_zr)_j / sqrt(w G_zz w') / |r_j|`` (the constant that
    rsatoolbox subtracts from a pooled 'corr' RDM does not change a correlation).
    """
    if method in LINEAR_METHODS:
        G_zr, G_zz, nr = grams if grams is not None else _grams(vec, z, method)
        num = pool_w @ G_zr
        den = np.sqrt(np.einsum("ij,jk,ik->i", pool_w, G_zz, pool_w))[:, None] * nr[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            S = num / den
        S[(den == 0) | ~np.isfinite(den)] = 0.0
    elif method in ("spearman", "rho-a"):
        # rank the pooled RDMs in one batch; the data ranks are computed once (``grams``)
        rv = grams if grams is not None else _centred_ranks(vec)
        rp = _centred_ranks(_pool(z, pool_w, method))
        if method == "spearman":
            S = cosine(rp, rv)
        else:
            n = vec.shape[1]
            S = rp @ rv.T / (n ** 3 - n) * 12
    else:
        P = _pool(z, pool_w, method)
        with np.errstate(invalid="ignore"):
            S = compare_vectors(P, vec, method)  # (n_rows, n_rdms)
    return np.sum(S * test_w, axis=1) / test_w.sum(axis=1)


def _centred_ranks(v: np.ndarray) -> np.ndarray:
    r = rank(v)
    return r - r.mean(axis=1, keepdims=True)


def _precompute(vec: np.ndarray, z: np.ndarray, method: str):
    """What :func:`_ceiling_core` can reuse across calls on the same data."""
    if method in LINEAR_METHODS:
        return _grams(vec, z, method)
    if method in ("spearman", "rho-a"):
        return _centred_ranks(vec)
    return None


def _grams(vec: np.ndarray, z: np.ndarray, method: str) -> tuple:
    fz = _linear_features(z, method)
    fr = _linear_features(vec, method)
    return fz @ fr.T, fz @ fz.T, np.sqrt(np.einsum("ij,ij->i", fr, fr))


def _group_ids(groups: Any, n: int, name: str = "groups") -> tuple[np.ndarray, np.ndarray]:
    if groups is None:
        return np.arange(n), np.arange(n)
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"The '{name}' parameter must have one label per RDM ({n}), but got shape {g.shape}.")
    labels, inv = np.unique(g, return_inverse=True)
    return labels, inv.ravel()


def _membership(inv: np.ndarray, n_groups: int) -> np.ndarray:
    """(n_groups, n_rdms) float matrix: 1 where an RDM belongs to a group."""
    return (inv[None, :] == np.arange(n_groups)[:, None]).astype(float)

def boot_noise_ceiling(rdms: Any, method: str = "cosine", groups: Any = None) -> tuple[float, float]:
    """Lower and upper noise ceiling (leave one subject out; rsatoolbox's ``boot_noise_ceiling``).

    The upper bound compares each subject's RDMs with the RDM pooled over all
    subjects; the lower bound with the RDM pooled over the other subjects.

    Parameters
    ----------
    rdms : array-like
        Data RDMs (n_rdms, n, n) or (n_rdms, n_pairs).
    method : str
        Comparison method (see :func:`~neurosig.evaluation.rsa.compare`).
    groups : array-like, shape (n_rdms,) | None
        Subject label of each RDM (RDMs of one subject are left out together);
        default: every RDM is its own subject.

    Returns
    -------
    lower, upper : float
    """
    check_option("method", method, CEILING_METHODS)
    vec = as_vectors(rdms, "rdms")
    if vec.shape[0] < 2:
        raise ValueError("The 'rdms' parameter must hold at least 2 RDMs for a noise ceiling.")
    labels, inv = _group_ids(groups, vec.shape[0])
    if len(labels) < 2:
        raise ValueError("The 'groups' parameter must hold at least 2 different subjects for a "
                         "leave-one-subject-out noise ceiling.")
    member = _membership(inv, len(labels))  # (G, n_rdms)
    z = _prepool(vec, method)
    pre = _precompute(vec, z, method)
    lower = _ceiling_core(vec, z, method, 1.0 - member, member, pre).mean()
    upper = _ceiling_core(vec, z, method, np.ones_like(member), member, pre).mean()
    return float(lower), float(upper)


def cv_noise_ceiling(rdms: Any, folds: Sequence[tuple[Any, Any, Any]], method: str = "cosine"
                     ) -> tuple[float, float]:
    """Noise ceiling for cross-validation (rsatoolbox's ``cv_noise_ceiling``).

    Parameters
    ----------
    rdms : array-like
        All data RDMs, (n_rdms, n, n) or (n_rdms, n_pairs).
    folds : sequence of (train_rdms, test_rdms, test_conditions)
        Index arrays per fold: the RDMs pooled for the lower bound, the RDMs
        tested, and the conditions (patterns) of the test set.
    method : str

    Returns
    -------
    lower, upper : float
        Means over folds. The lower bound pools the training RDMs restricted to
        the test conditions; the upper bound pools all RDMs over all conditions
        and then restricts to the test conditions (as rsatoolbox does).
    """
    check_option("method", method, CEILING_METHODS)
    vec = as_vectors(rdms, "rdms")
    n = n_cond_from_length(vec.shape[1])
    square = np.zeros((vec.shape[0], n, n))
    iu = triu_indices(n)
    square[:, iu[0], iu[1]] = vec
    full_pool = _pool(_prepool(vec, method), np.ones((1, vec.shape[0])), method)[0]
    full_sq = np.zeros((n, n))
    full_sq[iu] = full_pool
    lows, ups = [], []
    if len(folds) == 0:
        raise ValueError("The 'folds' parameter must hold at least one (train, test, conditions) fold.")
    for i, fold in enumerate(folds):
        if len(fold) != 3:
            raise ValueError(f"The 'folds' parameter must hold (train_rdms, test_rdms, test_conditions) "
                             f"triples, but fold {i} has {len(fold)} entries.")
        tr, te, pat = (np.atleast_1d(np.asarray(a, dtype=int)) for a in fold)
        pat = np.sort(pat)
        if len(np.unique(pat)) < 3:
            raise ValueError(f"Fold {i} of the 'folds' parameter has fewer than 3 test conditions.")
        ju = triu_indices(len(pat))
        sub = square[:, pat][:, :, pat][:, ju[0], ju[1]]
        z = _prepool(sub[tr], method)
        pred_train = _pool(z, np.ones((1, len(tr))), method)
        lows.append(compare_vectors(pred_train, sub[te], method).mean())
        pred_test = full_sq[pat][:, pat][ju][None]
        ups.append(compare_vectors(pred_test, sub[te], method).mean())
    return float(np.mean(lows)), float(np.mean(ups))
