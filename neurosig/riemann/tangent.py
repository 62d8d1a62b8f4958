"""Riemannian mean and tangent-space vectors, organised for reuse (the ACM fast path).

pyRiemann's ``TangentSpace(metric="riemann")`` computes the affine-invariant mean with
``mean_riemann`` (gradient descent from the Euclidean mean, step schedule ``nu``,
stop when ``||J||_F <= tol`` with ``J`` the mean of the whitened logarithms), then
maps every matrix with ``upper(logm(M^-1/2 C M^-1/2))``.  :func:`riemann_mean_logs`
runs the same iteration with the same step schedule and stopping criterion, but

* takes ``init`` (warm start, e.g. the mean of an overlapping training fold),
* gets ``M^1/2`` and ``M^-1/2`` from one eigendecomposition instead of two,
* returns the point ``M`` at which the criterion was met together with the whitened
  logarithms already computed there, so the training set's tangent vectors cost no
  extra eigendecomposition.  (pyRiemann returns one further step,
  ``M^1/2 expm(nu J) M^1/2`` with ``||J|| <= tol``; the two points differ by less
  than the tolerance, so both are the same fixed point to that tolerance.)

Eigendecompositions run batched (``numpy.linalg.eigh`` on a stack of matrices).
"""
from __future__ import annotations

import warnings

import numpy as np


def _eig_fun(C: np.ndarray, fun) -> np.ndarray:
    w, V = np.linalg.eigh(C)
    return (V * fun(w)[..., None, :]) @ np.swapaxes(V, -1, -2)


def upper(T: np.ndarray) -> np.ndarray:
    """Upper triangle with sqrt(2) weights off the diagonal (pyRiemann's ``upper``).

    Parameters
    ----------
    T : ndarray, shape (..., n, n)

    Returns
    -------
    v : ndarray, shape (..., n*(n+1)/2)
    """
    n = T.shape[-1]
    iu = np.triu_indices(n)
    coef = np.where(iu[0] == iu[1], 1.0, np.sqrt(2.0))
    return T[..., iu[0], iu[1]] * coef


class NotSPDError(ValueError):
    """A matrix has a non-positive (or non-finite) eigenvalue where a logarithm is needed."""


def whitened_logs(C: np.ndarray, isqrt: np.ndarray, chunk: int = 16) -> np.ndarray:
    """``logm(M^-1/2 C_k M^-1/2)`` for every matrix, in batches.

    Parameters
    ----------
    C : ndarray, shape (n_matrices, n, n)
    isqrt : ndarray, shape (n, n)
        ``M^-1/2``.
    chunk : int
        Matrices per batched eigendecomposition (bounds memory).

    Returns
    -------
    L : ndarray, shape (n_matrices, n, n)

    Raises
    ------
    NotSPDError
        When a whitened matrix has an eigenvalue <= 0 or a non-finite entry (pyRiemann
        would produce NaN there).
    """
    out = np.empty_like(C)
    for s in range(0, len(C), chunk):
        W = isqrt @ C[s:s + chunk] @ isqrt
        if not np.all(np.isfinite(W)):
            raise NotSPDError("non-finite whitened matrix")
        w, V = np.linalg.eigh(W)
        if np.any(w <= 0):
            raise NotSPDError(f"eigenvalue {w.min():.3g} <= 0")
        out[s:s + chunk] = (V * np.log(w)[:, None, :]) @ np.swapaxes(V, -1, -2)
    return out


def sqrt_isqrt(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``M^1/2`` and ``M^-1/2`` from one eigendecomposition.

    Parameters
    ----------
    M : ndarray, shape (n, n)
        SPD matrix.
    """
    w, V = np.linalg.eigh(M)
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise NotSPDError("reference matrix is not SPD")
    s = np.sqrt(w)
    return (V * s) @ V.T, (V / s) @ V.T


def riemann_mean_logs(C: np.ndarray, init: np.ndarray | None = None, tol: float = 10e-9,
                      maxiter: int = 50) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Affine-invariant mean (pyRiemann's iteration) and the logs at the returned point.

    Parameters
    ----------
    C : ndarray, shape (n_matrices, n, n)
        SPD matrices.
    init : ndarray, shape (n, n) | None
        Starting point; None uses the Euclidean mean, as pyRiemann does.
    tol, maxiter : float, int
        pyRiemann's defaults.

    Returns
    -------
    M : ndarray, shape (n, n)
        Mean: the point where ``||mean_k logm(M^-1/2 C_k M^-1/2)||_F <= tol`` held.
    isqrt : ndarray, shape (n, n)
        ``M^-1/2``.
    L : ndarray, shape (n_matrices, n, n)
        ``logm(M^-1/2 C_k M^-1/2)`` (whitened logarithms at ``M``).
    n_iter : int
        Iterations used.
    """
    M = C.mean(axis=0) if init is None else init
    nu, tau = 1.0, np.finfo(np.float64).max
    for it in range(1, maxiter + 1):
        sq, isq = sqrt_isqrt(M)
        L = whitened_logs(C, isq)
        J = L.mean(axis=0)
        crit = np.linalg.norm(J, ord="fro")
        if crit <= tol or nu <= tol:
            return M, isq, L, it
        M = sq @ _eig_fun(nu * J, np.exp) @ sq
        h = nu * crit
        if h < tau:
            nu, tau = 0.95 * nu, h
        else:
            nu = 0.5 * nu
    warnings.warn("Riemannian mean: convergence not reached", stacklevel=2)
    sq, isq = sqrt_isqrt(M)
    return M, isq, whitened_logs(C, isq), maxiter


def tangent_vectors(C: np.ndarray, isqrt: np.ndarray) -> np.ndarray:
    """pyRiemann's ``tangent_space(C, M, metric="riemann")`` given ``M^-1/2``.

    Parameters
    ----------
    C : ndarray, shape (n_matrices, n, n)
    isqrt : ndarray, shape (n, n)

    Returns
    -------
    T : ndarray, shape (n_matrices, n*(n+1)/2)
    """
    return upper(whitened_logs(C, isqrt))
