"""Augmented covariance matrices (ACM): covariances of the delay-embedded signal.

Functional core (:func:`augmented_covariances`, :func:`augmented_covariances_orders`,
:func:`spd_mask`) and a thin scikit-learn transformer (:class:`AugmentedCovariances`).

With ``embedding="moabb"`` (default) and any pyRiemann estimator, the result is
MOABB's ``AugmentedDataset`` followed by pyRiemann's ``Covariances`` (tested to
1e-10 relative).  For ``"cov"`` and ``"scm"``,
:func:`augmented_covariances_orders` computes the matrices of several orders at one
lag from lagged cross-products shared by all orders: block ``(i, j)`` of the order
``p`` matrix is a windowed sum of ``x(t) x(t + (j-i)*lag)^T``, so each lagged
product is computed once per lag, not once per order and block.

Rank deficiency: an embedded signal of ``order * n_channels`` rows and ``n_emb``
samples has a covariance of rank at most ``n_emb - 1`` (``"cov"``) or ``n_emb``
(``"scm"``); band-limited EEG is often numerically singular even earlier.  Such
matrices are not SPD, and the tangent space (logarithm of eigenvalues <= 0)
returns NaN or fails.  :class:`AugmentedCovariances` therefore never returns a
matrix whose relative smallest eigenvalue is below ``rcond``: it warns and switches to the Ledoit-Wolf
shrinkage estimator (``on_rank_deficient="shrink"``, default) or raises
(``"raise"``).
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from neurosig._logging import get_logger
from neurosig._validation import (
    check_n_features,
    check_option,
    check_positive_float,
    check_signal_array,
    declare_3d_input,
)

from .embedding import EMBEDDINGS, check_order_lag, delay_embed, embedded_n_times

logger = get_logger(__name__)

#: Estimators computed from lagged products (shared across orders).
FAST_ESTIMATORS = ("cov", "scm")
#: pyRiemann estimators accepted by name.
ESTIMATORS = ("cov", "scm", "lwf", "oas", "sch", "mcd", "hub", "stu", "tyl", "corr")
RANK_POLICIES = ("shrink", "raise")
SHRINKAGE_ESTIMATOR = "lwf"


class RankDeficiencyWarning(UserWarning):
    """Augmented covariances were not SPD and were re-estimated with shrinkage."""


def spd_mask(C: np.ndarray, rcond: float | None = None) -> np.ndarray:
    """Which matrices are numerically SPD.

    Parameters
    ----------
    C : ndarray, shape (n_matrices, n, n)
    rcond : float | None
        None: finite and a Cholesky factorisation succeeds.  A number: finite and
        ``min eigenvalue > rcond * max eigenvalue`` (well-conditioned enough for the
        tangent space: band-limited EEG gives augmented matrices that pass Cholesky with
        relative eigenvalues ~1e-12 and still break pyRiemann's log-map).

    Returns
    -------
    ok : ndarray of bool, shape (n_matrices,)
    """
    ok = np.all(np.isfinite(C), axis=(-2, -1))
    if rcond is not None:
        if ok.any():
            w = np.linalg.eigvalsh(C[ok])
            ok[ok] = w[:, 0] > rcond * w[:, -1]
        return ok
    for k in np.flatnonzero(ok):
        try:
            np.linalg.cholesky(C[k])
        except np.linalg.LinAlgError:
            ok[k] = False
    return ok


def rank_deficient(n_channels: int, order: int, n_emb: int, estimator: str = "cov") -> bool:
    """True when ``order * n_channels`` exceeds the rank the samples allow.

    The bound is ``n_emb - 1`` for the centred sample estimators ``"cov"`` and ``"scm"``;
    shrinkage estimators are always full rank.

    Parameters
    ----------
    n_channels : int
        Channels per trial.
    order : int
        Embedding dimension (number of delayed copies).
    n_emb : int
        Samples per delayed copy (see :func:`~neurosig.riemann.embedding.embedded_n_times`).
    estimator : str, optional
        pyRiemann covariance estimator name; only ``"cov"`` and ``"scm"`` can be rank deficient.
    """
    if estimator in FAST_ESTIMATORS:
        return order * n_channels > n_emb - 1
    return False


def _pyriemann_covariances(X_emb: np.ndarray, estimator: str) -> np.ndarray:
    from pyriemann.estimation import Covariances
    return Covariances(estimator=estimator).transform(X_emb)


def augmented_covariances(X: np.ndarray, order: int, lag: int, estimator: str = "cov",
                          embedding: str = "moabb") -> np.ndarray:
    """Covariances of the delay-embedded trials (no rank handling; see the class).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    order : int
        Embedding dimension (number of delayed copies).
    lag : int
        Delay between copies, in samples.
    estimator : str
        pyRiemann covariance estimator name (``"cov"`` as in MOABB's pipeline).
    embedding : {"moabb", "textbook"}

    Returns
    -------
    C : ndarray, shape (n_trials, n_channels*order, n_channels*order)
    """
    if estimator in FAST_ESTIMATORS:
        return augmented_covariances_orders(X, [order], lag, estimator, embedding)[order]
    return _pyriemann_covariances(delay_embed(X, order, lag, embedding), estimator)


def _cross(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A[k] @ B[k].T`` for every trial (a BLAS call each: numpy's batched matmul of
    strided views is several times slower)."""
    out = np.empty((A.shape[0], A.shape[1], B.shape[1]))
    for k in range(A.shape[0]):
        out[k] = A[k] @ B[k].T
    return out


def augmented_covariances_orders(X: np.ndarray, orders, lag: int, estimator: str = "cov",
                                 embedding: str = "moabb") -> dict[int, np.ndarray]:
    """Augmented covariances for several orders at one lag, from shared lagged products.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    orders : iterable of int
    lag : int
    estimator : {"cov", "scm"}
        Both centre each delayed copy on its window mean; ``"cov"`` normalises by
        ``n_emb - 1`` (``np.cov``), ``"scm"`` by ``n_emb`` (pyRiemann's ``covariance_scm``).
    embedding : {"moabb", "textbook"}

    Returns
    -------
    covs : dict
        ``order -> ndarray, shape (n_trials, n_channels*order, n_channels*order)``.

    See Also
    --------
    LaggedProducts : the same, one order at a time (less memory).
    """
    lp = LaggedProducts(X, orders, lag, estimator, embedding)
    return {p: lp.covariances(p) for p in lp.orders}


class LaggedProducts:
    """Lagged cross-products of a set of trials at one lag, shared by several orders.

    For delay multiple ``d`` the running sum ``P_d(b) = sum_{t<b} x(t) x(t+d*lag)^T`` is
    kept only at the window edges that a requested order needs, from one pass over the
    trials; block ``(i, i+d)`` of the order-``p`` matrix is then
    ``P_d(i*lag + n_p) - P_d(i*lag)``, corrected for the window means.  The trials are
    first centred on their overall channel means (covariances are shift invariant; this
    only reduces cancellation).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    orders : iterable of int
        Orders that :meth:`covariances` will be asked for.
    lag : int
    estimator : {"cov", "scm"}
    embedding : {"moabb", "textbook"}
    """

    def __init__(self, X, orders, lag, estimator="cov", embedding="moabb"):
        check_option("estimator", estimator, FAST_ESTIMATORS)
        X = np.asarray(X, dtype=np.float64)
        n_trials, n_ch, n_times = X.shape
        self.orders = sorted({check_order_lag(p, lag, n_times, embedding)[0] for p in orders})
        self.lag, self.estimator, self.n_ch = lag, estimator, n_ch
        X = X - X.mean(axis=-1, keepdims=True)
        self._csum = np.concatenate([np.zeros((n_trials, n_ch, 1)), np.cumsum(X, axis=-1)], axis=-1)
        self._n = {p: embedded_n_times(n_times, p, lag, embedding) for p in self.orders}
        self._P: list[dict[int, np.ndarray]] = []
        for d in range(max(self.orders)):
            edges = set()
            for p in self.orders:
                for i in range(p - d):
                    edges.update((i * lag, i * lag + self._n[p]))
            shift = d * lag
            sums: dict[int, np.ndarray] = {}
            acc = np.zeros((n_trials, n_ch, n_ch))
            prev = 0
            for b in sorted(edges):
                if b > prev:
                    acc = acc + _cross(X[..., prev:b], X[..., prev + shift:b + shift])
                sums[b] = acc
                prev = b
            self._P.append(sums)

    def covariances(self, order: int) -> np.ndarray:
        """Augmented covariances of one of the requested orders.

        Parameters
        ----------
        order : int
            Embedding dimension; one of the orders given at construction.

        Returns
        -------
        C : ndarray, shape (n_trials, n_channels*order, n_channels*order)
        """
        if order not in self._n:
            raise ValueError(f"Invalid value for the 'order' parameter. Allowed values are "
                             f"{self.orders}, but got {order!r} instead.")
        n, lag, c, csum = self._n[order], self.lag, self.n_ch, self._csum
        denom = n - 1 if self.estimator == "cov" else n
        out = np.empty((csum.shape[0], c * order, c * order))
        for d in range(order):
            P = self._P[d]
            for i in range(order - d):
                j = i + d
                mi = (csum[..., i * lag + n] - csum[..., i * lag]) / n
                mj = (csum[..., j * lag + n] - csum[..., j * lag]) / n
                S = (P[i * lag + n] - P[i * lag] - n * mi[:, :, None] * mj[:, None, :]) / denom
                out[:, i * c:(i + 1) * c, j * c:(j + 1) * c] = S
                if d:
                    out[:, j * c:(j + 1) * c, i * c:(i + 1) * c] = S.transpose(0, 2, 1)
        return out


class AugmentedCovariances(TransformerMixin, BaseEstimator):
    """Covariance matrices of the delay-embedded signal (ACM).

    Parameters
    ----------
    order : int, default=1
        Number of delayed copies (embedding dimension); 1 gives plain covariances.
    lag : int, default=1
        Delay between copies, in samples.
    estimator : str, default="cov"
        pyRiemann covariance estimator: "cov" (MOABB's published pipeline), "scm",
        "lwf", "oas", "sch", "mcd", "hub", "stu", "tyl", "corr". Named ``estimator`` as in
        pyRiemann's ``Covariances``; :class:`~neurosig.riemann.acm.ACMClassifier` calls it
        ``cov_estimator`` because scikit-learn reserves ``estimator`` for a wrapped estimator.
    embedding : {"moabb", "textbook"}, default="moabb"
        Delay-embedding convention (see :mod:`neurosig.riemann.embedding`).
    on_rank_deficient : {"shrink", "raise"}, default="shrink"
        What to do when some matrices are not SPD (more embedded dimensions than
        samples allow, or numerically singular): warn (:class:`RankDeficiencyWarning`)
        and re-estimate with Ledoit-Wolf shrinkage, or raise.  When the shapes make the
        matrices rank deficient (``order*n_channels > n_emb - 1`` for "cov"/"scm"), every
        trial is estimated with shrinkage (same estimator in fit and transform); otherwise
        only the trials whose matrix fails the ``rcond`` test are re-estimated.
    rcond : float, default=1e-10
        A matrix counts as SPD when its smallest eigenvalue exceeds ``rcond`` times its
        largest (see :func:`spd_mask`).

    Attributes
    ----------
    n_channels_ : int
    n_times_ : int
        Samples per trial seen in ``fit``; ``transform`` requires the same.

    Notes
    -----
    Unlike pyRiemann's ``TimeDelayCovariances`` (circular ``np.roll`` shifts), the
    delayed copies here are truncated windows, as in MOABB's ``AugmentedDataset``.
    """

    def __init__(self, order=1, lag=1, estimator="cov", embedding="moabb", on_rank_deficient="shrink",
                 rcond=1e-10):
        self.order = order
        self.lag = lag
        self.estimator = estimator
        self.embedding = embedding
        self.on_rank_deficient = on_rank_deficient
        self.rcond = rcond

    def _check_params(self, n_times):
        check_option("estimator", self.estimator, ESTIMATORS)
        check_option("embedding", self.embedding, EMBEDDINGS)
        check_option("on_rank_deficient", self.on_rank_deficient, RANK_POLICIES)
        return check_order_lag(self.order, self.lag, n_times, self.embedding)

    def fit(self, X, y=None):
        """Check parameters and remember the trial shape.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
        y : ignored
        """
        X = check_signal_array("X", X, ndim=3)
        self._check_params(X.shape[-1])
        self.n_channels_, self.n_times_ = X.shape[1], X.shape[2]
        self.n_features_in_ = X.shape[1]
        return self

    def __sklearn_tags__(self):
        return declare_3d_input(super().__sklearn_tags__())

    def transform(self, X):
        """Augmented covariance matrices.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)

        Returns
        -------
        C : ndarray, shape (n_trials, n_channels*order, n_channels*order)
            SPD matrices.
        """
        check_is_fitted(self, "n_channels_")
        X = check_signal_array("X", X, ndim=3)
        check_n_features(self, X)
        order, lag = self._check_params(X.shape[-1])
        estimator = self.estimator
        n_emb = embedded_n_times(X.shape[-1], order, lag, self.embedding)
        if rank_deficient(X.shape[1], order, n_emb, estimator):
            # decided from shapes only, so fit and transform use the same estimator
            msg = (f"Augmented covariances are rank deficient: {order * X.shape[1]} embedded dimensions "
                   f"(order={order} x {X.shape[1]} channels) against {n_emb} samples per delayed copy "
                   f"(lag={lag}), so the {estimator!r} estimator cannot give SPD matrices.")
            if self.on_rank_deficient == "raise":
                raise ValueError(msg + " Use on_rank_deficient='shrink', a shrinkage estimator "
                                       "('lwf', 'oas'), a smaller order or lag.")
            warnings.warn(msg + f" Using {SHRINKAGE_ESTIMATOR!r} shrinkage for every trial instead.",
                          RankDeficiencyWarning, stacklevel=2)
            estimator = SHRINKAGE_ESTIMATOR
        C = augmented_covariances(X, order, lag, estimator, self.embedding)
        return make_spd(C, X, order, lag, estimator, self.embedding, self.on_rank_deficient,
                        check_positive_float("rcond", self.rcond))


def make_spd(C: np.ndarray, X: np.ndarray, order: int, lag: int, estimator: str, embedding: str,
             on_rank_deficient: str = "shrink", rcond: float = 1e-10) -> np.ndarray:
    """Return ``C`` with every non-SPD matrix re-estimated by shrinkage (or raise).

    Only the failing trials are re-estimated (with Ledoit-Wolf), with a warning.

    Parameters
    ----------
    C : ndarray, shape (n_trials, n, n)
        Augmented covariance matrices, ``n = n_channels * order``.
    X : ndarray, shape (n_trials, n_channels, n_times)
        The trials ``C`` came from.
    order : int
        Embedding dimension ``C`` was estimated with.
    lag : int
        Delay between copies, in samples.
    estimator : str
        pyRiemann covariance estimator ``C`` was estimated with (named in the warning).
    embedding : {"moabb", "textbook"}
        Delay-embedding convention (see :mod:`neurosig.riemann.embedding`).
    on_rank_deficient : {"shrink", "raise"}, optional
        Re-estimate the non-SPD matrices with Ledoit-Wolf shrinkage (with a
        :class:`RankDeficiencyWarning`), or raise a ValueError.
    rcond : float, optional
        A matrix counts as SPD when its smallest eigenvalue exceeds ``rcond`` times its
        largest (see :func:`spd_mask`).

    Returns
    -------
    C : ndarray, shape (n_trials, n, n)
    """
    ok = spd_mask(C, rcond=rcond)
    if ok.all():
        return C
    n_emb = embedded_n_times(X.shape[-1], order, lag, embedding)
    why = (f"{order * X.shape[1]} embedded dimensions (order={order} x {X.shape[1]} channels) against "
           f"{n_emb} samples per delayed copy (lag={lag})")
    if not rank_deficient(X.shape[1], order, n_emb, estimator):
        why += " (enough samples, but the signal is numerically singular, e.g. band-limited)"
    msg = (f"{int((~ok).sum())} of {len(ok)} augmented covariance matrices are not SPD (relative "
           f"smallest eigenvalue <= rcond={rcond:g}) with the "
           f"{estimator!r} estimator: {why}.")
    if on_rank_deficient == "raise":
        raise ValueError(msg + " Use on_rank_deficient='shrink', a shrinkage estimator ('lwf', 'oas'), "
                               "a smaller order or lag.")
    warnings.warn(msg + f" Those matrices were re-estimated with {SHRINKAGE_ESTIMATOR!r} shrinkage.",
                  RankDeficiencyWarning, stacklevel=3)
    C = C.copy()
    C[~ok] = _pyriemann_covariances(delay_embed(X[~ok], order, lag, embedding), SHRINKAGE_ESTIMATOR)
    still = ~spd_mask(C, rcond=rcond)
    if still.any():  # never return a non-SPD matrix silently
        raise ValueError(msg + f" Even {SHRINKAGE_ESTIMATOR!r} shrinkage left {int(still.sum())} matrices "
                               "not SPD (constant or zero trials?).")
    return C
