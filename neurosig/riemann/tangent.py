"""Riemannian mean and tangent-space vectors, organised for reuse (the ACM fast path).

pyRiemann's ``TangentSpace(metric="riemann")`` computes the affine-invariant mean with
``mean_riemann`` (steps ``M <- M^1/2 expm(nu J) M^1/2`` from the Euclidean mean, with
``J = mean_k logm(M^-1/2 C_k M^-1/2)``, step-size rule on ``nu``, stop when
``||J||_F <= tol``), then maps every matrix with ``upper(logm(M^-1/2 C M^-1/2))``.

* :func:`riemann_mean` runs pyRiemann's iterates and returns pyRiemann's point (tested
  equal to ``mean_riemann`` to 1e-10 relative).
* :func:`riemann_mean_logs` returns the mean *and* the whitened logarithms at it, so the
  training set's tangent vectors cost no extra eigendecomposition.  ``solver="pyriemann"``
  follows pyRiemann's iterates and stops at the iterate where the criterion held (pyRiemann
  returns one more step, within the tolerance); ``solver="anderson"`` reaches the same
  fixed point (``J(M) = 0``) under the same criterion, checked at the returned point, with
  Anderson-accelerated damped steps: 12-14 instead of 17-22 iterations for order-3
  augmented covariances of 64-channel EEG.

Each iteration is one batched eigendecomposition of the whitened stack (``numpy.linalg.eigh``
on a stack), ``M^1/2`` and ``M^-1/2`` come from one eigendecomposition, and the mean of the
logarithms is one matrix product over the stacked eigenvectors.
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import check_n_features, check_signal_array, declare_3d_input


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


def whitened_eigh(C: np.ndarray, isqrt: np.ndarray, chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Eigendecompositions of ``M^-1/2 C_k M^-1/2`` for every matrix, batched.

    Parameters
    ----------
    C : ndarray, shape (n_matrices, n, n)
    isqrt : ndarray, shape (n, n)
        ``M^-1/2``.
    chunk : int
        Matrices per batched eigendecomposition (bounds memory).

    Returns
    -------
    w : ndarray, shape (n_matrices, n)
        Eigenvalues (all > 0).
    V : ndarray, shape (n_matrices, n, n)
        Eigenvectors (columns).

    Raises
    ------
    NotSPDError
        When a whitened matrix has an eigenvalue <= 0 or a non-finite entry (pyRiemann
        would produce NaN there).
    """
    n_mat, n = C.shape[0], C.shape[-1]
    w = np.empty((n_mat, n))
    V = np.empty_like(C)
    for s in range(0, n_mat, chunk):
        W = isqrt @ C[s:s + chunk] @ isqrt
        if not np.all(np.isfinite(W)):
            raise NotSPDError("non-finite whitened matrix")
        w[s:s + chunk], V[s:s + chunk] = np.linalg.eigh(W)
    if np.any(w <= 0):
        raise NotSPDError(f"eigenvalue {w.min():.3g} <= 0")
    return w, V


def logs_from_eigh(w: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``V diag(log w) V^T`` for every matrix.

    Parameters
    ----------
    w : ndarray, shape (n_matrices, n)
    V : ndarray, shape (n_matrices, n, n)

    Returns
    -------
    L : ndarray, shape (n_matrices, n, n)
    """
    return (V * np.log(w)[:, None, :]) @ np.swapaxes(V, -1, -2)


def mean_log_from_eigh(w: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``mean_k V_k diag(log w_k) V_k^T`` as one matrix product (no per-matrix logs).

    Parameters
    ----------
    w : ndarray, shape (n_matrices, n)
    V : ndarray, shape (n_matrices, n, n)

    Returns
    -------
    J : ndarray, shape (n, n)
    """
    k, n = w.shape
    U = (V * np.log(w)[:, None, :]).transpose(1, 0, 2).reshape(n, k * n)
    J = U @ V.transpose(1, 0, 2).reshape(n, k * n).T / k
    return (J + J.T) / 2


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
        As :func:`whitened_eigh`.
    """
    return logs_from_eigh(*whitened_eigh(C, isqrt, chunk))


def sqrt_isqrt(M: np.ndarray, rtol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``M^1/2`` and ``M^-1/2`` from one eigendecomposition (the package's one matrix square root).

    Parameters
    ----------
    M : ndarray, shape (n, n)
        SPD matrix.
    rtol : float
        Eigenvalues at or below ``rtol`` times the largest one count as zero.

    Returns
    -------
    sqrt : ndarray, shape (n, n)
    isqrt : ndarray, shape (n, n)

    Raises
    ------
    NotSPDError
        When an eigenvalue is non-finite or not above the tolerance (the message gives
        the eigenvalue range).
    """
    w, V = np.linalg.eigh(M)
    if not np.all(np.isfinite(w)) or w[0] <= rtol * max(w[-1], np.finfo(float).tiny):
        raise NotSPDError(f"reference matrix is not SPD (eigenvalues {w[0]:.3g} .. {w[-1]:.3g})")
    s = np.sqrt(w)
    return (V * s) @ V.T, (V / s) @ V.T


class MeanResult(NamedTuple):
    """What :func:`riemann_mean_logs` returns.

    Attributes
    ----------
    mean : ndarray, shape (n, n)
        A point where ``||mean_k logm(M^-1/2 C_k M^-1/2)||_F <= tol`` held (when ``converged``).
    isqrt : ndarray, shape (n, n)
        ``M^-1/2``.
    logs : ndarray, shape (n_matrices, n, n)
        ``logm(M^-1/2 C_k M^-1/2)`` (whitened logarithms at ``M``).
    n_iter : int
        Iterations used (each one eigendecomposition of every matrix).
    crit : float
        ``||J||_F`` at the returned point.
    converged : bool
        Whether ``crit <= tol``.
    """

    mean: np.ndarray
    isqrt: np.ndarray
    logs: np.ndarray
    n_iter: int
    crit: float
    converged: bool


#: Solvers of :func:`riemann_mean_logs`.
MEAN_SOLVERS = ("pyriemann", "anderson")


def _pyriemann_iterates(C, init, tol, maxiter):
    """pyRiemann's ``mean_riemann`` iteration; yields ``(M, sq, isq, w, V, J, crit, nu, done)``."""
    M = C.mean(axis=0) if init is None else np.asarray(init, dtype=float)
    nu, tau = 1.0, np.finfo(np.float64).max
    for it in range(1, maxiter + 1):
        sq, isq = sqrt_isqrt(M)
        w, V = whitened_eigh(C, isq)
        J = mean_log_from_eigh(w, V)
        crit = np.linalg.norm(J, ord="fro")
        step = nu
        h = nu * crit
        if h < tau:
            nu, tau = 0.95 * nu, h
        else:
            nu = 0.5 * nu
        yield it, M, sq, isq, w, V, J, step, crit <= tol or nu <= tol
        M = sq @ _eig_fun(step * J, np.exp) @ sq


def riemann_mean(C: np.ndarray, init: np.ndarray | None = None, tol: float = 10e-9,
                 maxiter: int = 50) -> np.ndarray:
    """pyRiemann's ``mean_riemann`` (same iterates, same returned point).

    pyRiemann returns ``M^1/2 expm(nu J) M^1/2`` of the iteration at which the criterion
    held (one step past the point where it was checked); so does this function.

    Parameters
    ----------
    C : ndarray, shape (n_matrices, n, n)
    init : ndarray, shape (n, n) | None
    tol, maxiter : float, int
        pyRiemann's defaults.

    Returns
    -------
    M : ndarray, shape (n, n)
    """
    for _it, _M, sq, _isq, _w, _V, J, step, done in _pyriemann_iterates(C, init, tol, maxiter):  # noqa: B007 (last iterate used below)
        if done:
            break
    else:
        warnings.warn("Riemannian mean: convergence not reached", stacklevel=2)
    return sq @ _eig_fun(step * J, np.exp) @ sq


def _anderson_mean(C, init, tol, maxiter, history=10, beta=0.5, patience=3, stall_factor=100.0):
    """Anderson-accelerated fixed-point iteration for the Riemannian mean.

    The fixed-point map is pyRiemann's update with step ``beta``,
    ``M -> M^1/2 expm(beta J(M)) M^1/2``, written in the coordinates
    ``x = logm(B^-1/2 M B^-1/2)`` (``B`` the starting point); Anderson mixing over the
    last ``history`` residuals (type II, least squares).  When a mixed step does not
    reduce ``||J||`` below the best value so far (or leaves the SPD cone), the history is
    dropped, ``beta`` halved, and a plain damped step taken from the best point.  The
    stopping rule is pyRiemann's ``||J(M)||_F <= tol``, checked at the returned point.

    When the tolerance lies below the numerical noise floor of ``||J||`` (augmented
    covariances with condition numbers ~1e11 and more: the logarithms of their smallest
    whitened eigenvalues carry rounding errors larger than ``tol``), no solver can meet
    it; pyRiemann then runs to ``maxiter``.  Here the iteration stops once the best
    ``||J||`` is within ``stall_factor * tol`` and has not halved over the last
    ``patience`` iterations (the accelerated iteration gains a factor 4-10 per iteration
    near the fixed point), and returns the best point, flagged not converged: its
    ``||J||`` is at most ``stall_factor * tol``.
    """
    B = C.mean(axis=0) if init is None else np.asarray(init, dtype=float)
    Bs, Bis = sqrt_isqrt(B)
    n = B.shape[0]
    x = np.zeros((n, n))
    M = B
    xs, fs = [], []
    best = None
    history_best = []  # best ||J|| so far, per iteration
    for it in range(1, maxiter + 1):
        try:
            sq, isq = sqrt_isqrt(M)
            w, V = whitened_eigh(C, isq)
        except NotSPDError:
            if best is None:
                raise
            crit = np.inf
        else:
            J = mean_log_from_eigh(w, V)
            crit = np.linalg.norm(J, ord="fro")
            if crit <= tol:
                return MeanResult(M, isq, logs_from_eigh(w, V), it, crit, True)
        improved = best is None or crit < best[0]
        if improved:
            best = (crit, x, M, sq, isq, J, w, V)
        history_best.append(best[0])
        if (len(history_best) > patience and best[0] <= stall_factor * tol
                and history_best[-1] > 0.5 * history_best[-1 - patience]):
            break  # stagnation at the noise floor: the best point is returned below
        if not improved:
            # the mixed step went wrong: restart from the best point with a smaller plain step
            xs, fs = [], []
            beta /= 2
            crit, x, M, sq, isq, J, w, V = best
        Mg = sq @ _eig_fun(beta * J, np.exp) @ sq
        f = _eig_fun(Bis @ Mg @ Bis, np.log)
        f = (f + f.T) / 2 - x
        xs.append(x.ravel())
        fs.append(f.ravel())
        del xs[:-(history + 1)], fs[:-(history + 1)]
        if len(fs) > 1:
            dF = np.diff(np.array(fs), axis=0)
            dX = np.diff(np.array(xs), axis=0)
            gamma = np.linalg.lstsq(dF.T, fs[-1], rcond=None)[0]
            x_new = xs[-1] + fs[-1] - gamma @ (dX + dF)
        else:
            x_new = xs[-1] + fs[-1]
        x = x_new.reshape(n, n)
        x = (x + x.T) / 2
        M = Bs @ _eig_fun(x, np.exp) @ Bs
    crit, x, M, sq, isq, J, w, V = best
    warnings.warn(f"Riemannian mean: convergence not reached (||J|| = {crit:.2g} > tol = {tol:.2g} "
                  f"after {it} iterations)", stacklevel=3)
    return MeanResult(M, isq, logs_from_eigh(w, V), it, float(crit), False)


def riemann_mean_logs(C: np.ndarray, init: np.ndarray | None = None, tol: float = 10e-9,
                      maxiter: int = 50, solver: str = "pyriemann") -> MeanResult:
    """Affine-invariant mean and the logs at the returned point.

    Parameters
    ----------
    C : ndarray, shape (n_matrices, n, n)
        SPD matrices.
    init : ndarray, shape (n, n) | None
        Starting point; None uses the Euclidean mean, as pyRiemann does.
    tol, maxiter : float, int
        pyRiemann's defaults.
    solver : {"pyriemann", "anderson"}
        ``"pyriemann"``: pyRiemann's iterates (same update, step-size rule, tolerance
        and ``maxiter``); the returned point is the iterate at which
        ``||J|| <= tol`` held (pyRiemann returns one more step, which differs by less than the
        tolerance: :func:`riemann_mean` returns exactly pyRiemann's point).
        ``"anderson"``: the same fixed point (``J(M) = 0``) and the same stopping rule,
        checked at the returned point itself, reached with Anderson-accelerated damped
        steps (fewer iterations when the matrices are spread out, e.g. augmented
        covariances of order >= 3).

    Returns
    -------
    result : MeanResult
        ``(mean, isqrt, logs, n_iter, crit, converged)``.  Where ``tol`` is below the
        noise floor of ``||J||`` (see :func:`_anderson_mean`), ``"anderson"`` stops early
        at its best point and ``"pyriemann"`` runs to ``maxiter``; both warn and return
        ``converged=False``.
    """
    if solver not in MEAN_SOLVERS:
        raise ValueError(f"Invalid value for the 'solver' parameter. Allowed values are "
                         f"{list(MEAN_SOLVERS)}, but got {solver!r} instead.")
    if solver == "anderson":
        return _anderson_mean(C, init, tol, maxiter)
    for it, M, sq, isq, w, V, J, step, done in _pyriemann_iterates(C, init, tol, maxiter):  # noqa: B007 (last iterate used below)
        if done:
            crit = float(np.linalg.norm(J))
            return MeanResult(M, isq, logs_from_eigh(w, V), it, crit, crit <= tol)
    warnings.warn("Riemannian mean: convergence not reached", stacklevel=2)
    M = sq @ _eig_fun(step * J, np.exp) @ sq
    sq, isq = sqrt_isqrt(M)
    L = whitened_logs(C, isq)
    return MeanResult(M, isq, L, maxiter, float(np.linalg.norm(L.mean(axis=0))), False)


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



class RiemannTangentSpace(TransformerMixin, BaseEstimator):
    """Tangent space at the affine-invariant mean, as a scikit-learn transformer.

    Same vectors as pyRiemann's ``TangentSpace(metric="riemann")`` (``upper(logm(M^-1/2 C
    M^-1/2))`` at the Riemannian mean ``M`` of the training matrices, pyRiemann's
    tolerance), with the mean found by :func:`riemann_mean_logs` (``solver="anderson"`` by
    default: fewer iterations, and a stop at the noise floor of very ill-conditioned
    matrices where pyRiemann runs 50 iterations).  Used for the final fit of
    :class:`~neurosig.riemann.ACMClassifier`.

    Parameters
    ----------
    solver : {"anderson", "pyriemann"}
    tol : float
        ``||J||_F`` tolerance of the mean (pyRiemann's 1e-8).

    Attributes
    ----------
    reference_ : ndarray, shape (n, n)
        The mean.
    isqrt_ : ndarray, shape (n, n)
        ``reference_^-1/2``.
    n_iter_ : int
    converged_ : bool
    """

    def __init__(self, solver: str = "anderson", tol: float = 1e-8):
        self.solver = solver
        self.tol = tol

    def _check_X(self, X) -> np.ndarray:
        X = check_signal_array("X", X, ndim=3)
        if X.shape[1] != X.shape[2]:
            raise ValueError(f"Invalid value for the 'X' parameter. Allowed values are SPD matrices of shape "
                             f"(n_matrices, n, n), but got shape {X.shape} instead.")
        return X

    def _fit(self, X):
        X = self._check_X(X)
        res = riemann_mean_logs(X, solver=self.solver, tol=self.tol)
        self.reference_, self.isqrt_ = res.mean, res.isqrt
        self.n_features_in_ = X.shape[1]
        self.n_iter_, self.converged_ = res.n_iter, res.converged
        return res

    def fit(self, X, y=None):
        """Fit the Riemannian mean of the matrices.

        Parameters
        ----------
        X : ndarray, shape (n_matrices, n, n)
            SPD matrices.
        y : None
            Ignored.

        Returns
        -------
        self : RiemannTangentSpace
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit, and the training matrices' vectors (the logs of the last iteration: no extra work).

        Parameters
        ----------
        X : ndarray, shape (n_matrices, n, n)
            SPD matrices.
        y : None
            Ignored.

        Returns
        -------
        T : ndarray, shape (n_matrices, n*(n+1)/2)
        """
        return upper(self._fit(X).logs)

    def transform(self, X):
        """Tangent vectors at the fitted mean.

        Parameters
        ----------
        X : ndarray, shape (n_matrices, n, n)
            SPD matrices of the fitted size.

        Returns
        -------
        T : ndarray, shape (n_matrices, n*(n+1)/2)
        """
        check_is_fitted(self, "isqrt_")
        X = self._check_X(X)
        check_n_features(self, X, what="rows and columns")
        return tangent_vectors(X, self.isqrt_)

    def __sklearn_tags__(self):
        return declare_3d_input(super().__sklearn_tags__())
