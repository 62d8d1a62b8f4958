"""RDM comparisons, vectorised over all pairs of RDMs.

Method names and definitions are rsatoolbox's (``rsatoolbox.rdm.compare``):

* ``"cosine"``: cosine similarity of the condensed vectors.
* ``"corr"``: Pearson correlation.
* ``"spearman"``: Pearson correlation of the ranks (average ranks for ties).
* ``"rho-a"``: Spearman's rho without tie correction,
  ``12 * sum(rank_x' rank_y') / (n^3 - n)`` with centred ranks.
* ``"tau-a"``: Kendall's tau-a, ``(concordant - discordant) / (n (n - 1) / 2)``.
* ``"tau-b"``: Kendall's tau-b (scipy's ``kendalltau``).
* ``"cosine_cov"``: whitened cosine (Diedrichsen et al. 2021): cosine of the
  double-centred second-moment matrices ``G = -H D H / 2`` (Frobenius inner
  product), optionally whitened by the pattern covariance ``sigma_k``.
* ``"corr_cov"``: the same after subtracting each RDM vector's mean.

Inputs are square RDMs or condensed vectors (see :func:`~neurosig.evaluation.rsa.rdm.as_vectors`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from ..._validation import check_option
from .rdm import as_vectors, n_cond_from_length, triu_indices

METHODS = ("cosine", "corr", "spearman", "rho-a", "tau-a", "tau-b", "corr_cov", "cosine_cov")


def compare(rdm1: Any, rdm2: Any, method: str = "cosine", sigma_k: Any = None) -> np.ndarray:
    """Similarity of every RDM in ``rdm1`` with every RDM in ``rdm2``.

    Parameters
    ----------
    rdm1, rdm2 : array-like
        RDMs, square (n_rdms, n_conditions, n_conditions) / (n_conditions, n_conditions)
        or condensed (n_rdms, n_pairs) / (n_pairs,); both with the same conditions.
        NaN is refused; inf (disconnected pairs of a geodesic RDM) is refused with
        a pointer to ``geodesic_transform(..., disconnected=...)``.
    method : str
        One of ``"cosine"``, ``"corr"``, ``"spearman"``, ``"rho-a"``, ``"tau-a"``,
        ``"tau-b"``, ``"corr_cov"``, ``"cosine_cov"``.
    sigma_k : array-like | None
        Covariance of the pattern estimates, shape (n_conditions,) (diagonal) or
        (n_conditions, n_conditions); only for ``"corr_cov"`` and ``"cosine_cov"``.

    Returns
    -------
    sim : ndarray, shape (n_rdms1, n_rdms2)
    """
    check_option("method", method, METHODS)
    v1 = as_vectors(rdm1, "rdm1")
    v2 = as_vectors(rdm2, "rdm2")
    if v1.shape[1] != v2.shape[1]:
        raise ValueError(
            f"The 'rdm1' and 'rdm2' parameters must have the same number of conditions, but got "
            f"{n_cond_from_length(v1.shape[1])} and {n_cond_from_length(v2.shape[1])} conditions.")
    return compare_vectors(v1, v2, method, sigma_k)


def compare_vectors(v1: np.ndarray, v2: np.ndarray, method: str, sigma_k: Any = None) -> np.ndarray:
    """:func:`compare` on already validated condensed vectors.

    Parameters
    ----------
    v1 : ndarray, shape (n1, n_pairs)
        First stack of condensed RDMs.
    v2 : ndarray, shape (n2, n_pairs)
        Second stack of condensed RDMs.
    method : str
        One of :data:`METHODS`.
    sigma_k : array-like or None
        Condition covariance for the ``*_cov`` methods: shape (n_cond,) or
        (n_cond, n_cond); None for the identity.

    Returns
    -------
    sim : ndarray, shape (n1, n2)
        Similarity of every pair of rows.
    """
    if method == "cosine":
        return cosine(v1, v2)
    if method == "corr":
        return cosine(_center(v1), _center(v2))
    if method == "spearman":
        return cosine(_center(rank(v1)), _center(rank(v2)))
    if method == "rho-a":
        r1, r2 = _center(rank(v1)), _center(rank(v2))
        n = v1.shape[1]
        return r1 @ r2.T / (n ** 3 - n) * 12
    if method in ("tau-a", "tau-b"):
        return _kendall(v1, v2, variant=method[-1])
    if method in ("cosine_cov", "corr_cov"):
        if method == "corr_cov":
            v1, v2 = _center(v1), _center(v2)
        sk = None if sigma_k is None else np.asarray(sigma_k, dtype=float)
        if sk is not None and sk.ndim == 2:
            return _cosine_full_sigma(v1, v2, sk)
        w1 = whitened_second_moment(v1, sk)
        w2 = whitened_second_moment(v2, sk)
        return cosine(w1, w2)
    raise AssertionError(method)  # pragma: no cover


def pairwise(v1: np.ndarray, v2: np.ndarray, method: str) -> np.ndarray:
    """Row-by-row similarity of equal-length stacks: ``sim[i] = compare(v1[i], v2[i])``.

    Parameters
    ----------
    v1, v2 : ndarray, shape (n, n_pairs)
        Two stacks of condensed RDMs of the same shape.
    method : str
        One of :data:`METHODS`.

    Returns
    -------
    sim : ndarray, shape (n,)
        Similarity of each row pair.
    """
    if method == "cosine":
        return _rowcos(v1, v2)
    if method == "corr":
        return _rowcos(_center(v1), _center(v2))
    if method == "spearman":
        return _rowcos(_center(rank(v1)), _center(rank(v2)))
    if method == "rho-a":
        n = v1.shape[1]
        return np.einsum("ij,ij->i", _center(rank(v1)), _center(rank(v2))) / (n ** 3 - n) * 12
    if method in ("cosine_cov", "corr_cov"):
        if method == "corr_cov":
            v1, v2 = _center(v1), _center(v2)
        return _rowcos(whitened_second_moment(v1), whitened_second_moment(v2))
    return np.array([_kendall(a[None], b[None], method[-1])[0, 0] for a, b in zip(v1, v2)])


def rank(v: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) along the last axis, batched.

    Parameters
    ----------
    v : ndarray, shape (..., n_pairs)
        Values to rank.

    Returns
    -------
    ranks : ndarray, shape (..., n_pairs)
        Ranks of ``v`` along the last axis (ties get their average rank).
    """
    return stats.rankdata(v, axis=-1)


def _center(v: np.ndarray) -> np.ndarray:
    return v - v.mean(axis=-1, keepdims=True)


def cosine(v1: np.ndarray, v2: np.ndarray) -> np.ndarray:
    """Cosine similarity of all row pairs; 0 where a vector has zero length (as rsatoolbox).

    Parameters
    ----------
    v1 : ndarray, shape (n1, n_pairs)
        First stack of vectors.
    v2 : ndarray, shape (n2, n_pairs)
        Second stack of vectors.

    Returns
    -------
    sim : ndarray, shape (n1, n2)
        Cosine of every pair of rows.
    """
    n1 = np.sqrt(np.einsum("ij,ij->i", v1, v1))
    n2 = np.sqrt(np.einsum("ij,ij->i", v2, v2))
    sim = v1 @ v2.T
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = sim / n1[:, None] / n2[None, :]
    sim[(n1 == 0)[:, None] | (n2 == 0)[None, :]] = 0.0
    return sim


def _rowcos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = np.einsum("ij,ij->i", a, b)
    den = np.sqrt(np.einsum("ij,ij->i", a, a) * np.einsum("ij,ij->i", b, b))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[den == 0] = 0.0
    return out


def whitened_second_moment(v: np.ndarray, sigma_k: np.ndarray | None = None) -> np.ndarray:
    """Flattened double-centred second moment ``G = -H D H / 2`` (optionally whitened).

    The Frobenius inner product of two such matrices equals the inner product of
    rsatoolbox's ``_cov_weighting`` vectors (off-diagonal entries counted twice).

    Parameters
    ----------
    v : ndarray, shape (n_rdms, n_pairs)
    sigma_k : ndarray, shape (n_conditions,) or (n_conditions, n_conditions) | None

    Returns
    -------
    g : ndarray, shape (n_rdms, n_conditions ** 2)
    """
    n = n_cond_from_length(v.shape[1])
    iu = triu_indices(n)
    D = np.zeros((v.shape[0], n, n))
    D[:, iu[0], iu[1]] = v
    D[:, iu[1], iu[0]] = v
    G = -0.5 * D
    G = G - G.mean(axis=1, keepdims=True)
    G = G - G.mean(axis=2, keepdims=True)
    if sigma_k is not None:
        if sigma_k.ndim == 1:
            if sigma_k.shape != (n,):
                raise ValueError(f"The 'sigma_k' parameter must have shape ({n},) or ({n}, {n}), "
                                 f"but got {sigma_k.shape}.")
            s = np.sqrt(sigma_k)
            G = G / s[None, :, None] / s[None, None, :]
        else:
            if sigma_k.shape != (n, n):
                raise ValueError(f"The 'sigma_k' parameter must have shape ({n},) or ({n}, {n}), "
                                 f"but got {sigma_k.shape}.")
            L = np.linalg.inv(np.linalg.cholesky(sigma_k))
            G = np.einsum("ij,mjk,lk->mil", L, G, L, optimize=True)
    return G.reshape(v.shape[0], -1)


def _cosine_full_sigma(v1: np.ndarray, v2: np.ndarray, sigma_k: np.ndarray) -> np.ndarray:
    """Whitened cosine with a full pattern covariance: ``v1' V^-1 v2`` normalised.

    ``V = Xi * Xi`` (element-wise) with ``Xi = C sigma_k C'`` and ``C`` the pairwise
    contrast matrix: rsatoolbox's definition, which rsatoolbox solves by conjugate
    gradients (default tolerance, agreement about 1e-5); here by a dense Cholesky
    solve (exact; O(n_pairs^3), seconds for 92 conditions).
    """
    n = n_cond_from_length(v1.shape[1])
    if sigma_k.shape != (n, n):
        raise ValueError(f"The 'sigma_k' parameter must have shape ({n},) or ({n}, {n}), "
                         f"but got {sigma_k.shape}.")
    from scipy.linalg import cho_factor, cho_solve

    iu = triu_indices(n)
    CS = sigma_k[iu[0]] - sigma_k[iu[1]]            # C sigma, (n_pairs, n)
    xi = CS[:, iu[0]] - CS[:, iu[1]]                # C sigma C', (n_pairs, n_pairs)
    fac = cho_factor(xi * xi)
    w1 = cho_solve(fac, v1.T).T
    w2 = cho_solve(fac, v2.T).T
    num = v1 @ w2.T
    return num / np.sqrt(np.einsum("ij,ij->i", v1, w1))[:, None] / np.sqrt(
        np.einsum("ij,ij->i", v2, w2))[None, :]


def _kendall(v1: np.ndarray, v2: np.ndarray, variant: str) -> np.ndarray:
    """Kendall tau-a or tau-b for all row pairs (scipy's O(n log n) kendalltau per pair)."""
    n = v1.shape[1]
    n0 = n * (n - 1) / 2
    out = np.empty((v1.shape[0], v2.shape[0]))
    ties1 = [_tie_pairs(a) for a in v1]
    ties2 = [_tie_pairs(b) for b in v2]
    for i, a in enumerate(v1):
        for j, b in enumerate(v2):
            if ties1[i] == n0 or ties2[j] == n0:  # a constant vector: no ordered pairs
                out[i, j] = np.nan if variant == "b" else 0.0
                continue
            tau_b = stats.kendalltau(a, b, variant="b").statistic
            if variant == "b":
                out[i, j] = tau_b
            else:
                out[i, j] = tau_b * np.sqrt((n0 - ties1[i]) * (n0 - ties2[j])) / n0
    return np.clip(out, -1.0, 1.0) if variant == "a" else out


def _tie_pairs(x: np.ndarray) -> float:
    _, cnt = np.unique(x, return_counts=True)
    return float((cnt * (cnt - 1) // 2).sum())
