"""Takens embedding parameters from data: lag by average mutual information, order by FNN.

* Lag: the first local minimum of the average mutual information (AMI) between
  ``x(t)`` and ``x(t + tau)`` (Fraser & Swinney 1986), estimated with equiprobable
  bins (each series is rank-transformed first, so the estimate does not depend on the
  amplitude distribution) and averaged over series (trials x channels).
* Order: the smallest embedding dimension whose fraction of false nearest neighbours
  (Kennel, Brown & Abarbanel 1992) is at most ``fnn_threshold``.

Both use only the data they are given (the training trials in
:class:`~neurosig.riemann.ACMClassifier`).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import rankdata

from neurosig._logging import get_logger
from neurosig._validation import check_positive_float, check_positive_int

logger = get_logger(__name__)


def _as_series(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    return x.reshape(-1, x.shape[-1])


def average_mutual_information(x, max_lag: int = 20, n_bins: int = 16) -> np.ndarray:
    """AMI (in nats) between ``x(t)`` and ``x(t+tau)`` for ``tau = 0 .. max_lag``.

    Parameters
    ----------
    x : ndarray, shape (n_times,) or (..., n_times)
        One or several series (e.g. (n_trials, n_channels, n_times)); AMI is averaged.
    max_lag : int
    n_bins : int
        Equiprobable bins per axis.

    Returns
    -------
    ami : ndarray, shape (max_lag + 1,)
    """
    max_lag = check_positive_int("max_lag", max_lag)
    n_bins = check_positive_int("n_bins", n_bins, minimum=2)
    s = _as_series(x)
    if s.shape[-1] <= max_lag + 1:
        raise ValueError(f"Invalid value for the 'max_lag' parameter: series of {s.shape[-1]} samples "
                         f"are too short for max_lag={max_lag}.")
    # equiprobable bins: rank-transform each series to 0 .. n_bins-1
    q = np.floor((rankdata(s, axis=-1) - 1) * n_bins / s.shape[-1]).astype(np.int64)
    ami = np.zeros(max_lag + 1)
    for tau in range(max_lag + 1):
        a, b = q[:, :q.shape[1] - tau], q[:, tau:]
        idx = (a * n_bins + b) + (np.arange(len(q)) * n_bins * n_bins)[:, None]
        joint = np.bincount(idx.ravel(), minlength=len(q) * n_bins * n_bins).reshape(len(q), n_bins, n_bins)
        joint = joint / joint.sum(axis=(1, 2), keepdims=True)
        pa, pb = joint.sum(axis=2, keepdims=True), joint.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(joint > 0, joint * np.log(joint / (pa * pb)), 0.0)
        ami[tau] = terms.sum(axis=(1, 2)).mean()
    return ami


def first_minimum(curve) -> int | None:
    """Index of the first local minimum of ``curve`` (index >= 1), or None.

    Parameters
    ----------
    curve : array-like, shape (n_values,)
        Values, e.g. the AMI per lag.
    """
    c = np.asarray(curve)
    for k in range(1, len(c) - 1):
        if c[k] < c[k - 1] and c[k] <= c[k + 1]:
            return k
    return None


def estimate_lag(x, max_lag: int = 20, n_bins: int = 16) -> int:
    """Embedding lag: first minimum of the AMI; if none, the first lag where AMI < AMI(0)/e.

    Parameters
    ----------
    x : ndarray, shape (n_times,) or (..., n_times)
        One or several series; their AMI is averaged.
    max_lag : int
        Largest lag tried.
    n_bins : int
        Equiprobable bins per axis of the AMI.

    Returns
    -------
    lag : int, 1 <= lag <= max_lag
    """
    ami = average_mutual_information(x, max_lag, n_bins)
    lag = first_minimum(ami)
    if lag is None:
        below = np.flatnonzero(ami < ami[0] / np.e)
        lag = int(below[0]) if len(below) else max_lag
        logger.info("AMI has no local minimum up to lag %d; using lag %d (AMI < AMI(0)/e rule)",
                    max_lag, lag)
    return int(max(lag, 1))


def false_nearest_neighbours(x, lag: int, max_order: int = 10, rtol: float = 15.0, atol: float = 2.0,
                             n_points: int = 1000, random_state=0) -> np.ndarray:
    """Fraction of false nearest neighbours for embedding dimensions ``1 .. max_order``.

    A neighbour of a point in dimension ``d`` is false when adding coordinate ``d+1``
    moves it away by more than ``rtol`` times their distance, or by more than
    ``atol`` times the series' standard deviation (Kennel et al. 1992).  Neighbours
    closer in time than ``lag`` samples within the same series are not used.

    Parameters
    ----------
    x : ndarray, shape (n_times,) or (..., n_times)
        Series embedded separately; neighbours are searched across all of them.
    lag : int
    max_order : int
    rtol : float
        Relative threshold: a neighbour is false when the added coordinate moves it away
        by more than ``rtol`` times their distance.
    atol : float
        Absolute threshold, in units of the series' standard deviation.
    n_points : int
        Query points drawn at random (the search itself uses every point).
    random_state : int | None

    Returns
    -------
    fnn : ndarray, shape (max_order,)
        ``fnn[d-1]`` is the fraction for dimension ``d``.
    """
    lag = check_positive_int("lag", lag)
    max_order = check_positive_int("max_order", max_order)
    s = _as_series(x)
    s = (s - s.mean(axis=-1, keepdims=True)) / (s.std(axis=-1, keepdims=True) + 1e-300)
    n_series, n_times = s.shape
    n_vec = n_times - max_order * lag  # same points for every dimension (needs coordinate d+1)
    if n_vec < 2:
        raise ValueError(f"Invalid values for 'lag' and 'max_order': series of {n_times} samples are "
                         f"too short for lag={lag}, max_order={max_order}.")
    rng = np.random.default_rng(random_state)
    series_id = np.repeat(np.arange(n_series), n_vec)
    time_id = np.tile(np.arange(n_vec), n_series)
    n_total = n_series * n_vec
    query = rng.choice(n_total, size=min(n_points, n_total), replace=False)
    out = np.zeros(max_order)
    for d in range(1, max_order + 1):
        emb = np.stack([s[:, k * lag: k * lag + n_vec] for k in range(d)], axis=-1).reshape(n_total, d)
        nxt = s[:, d * lag: d * lag + n_vec].reshape(n_total)
        tree = cKDTree(emb)
        k = min(n_total, 2 * lag + 3)
        dist, idx = tree.query(emb[query], k=k)
        dist, idx = np.atleast_2d(dist), np.atleast_2d(idx)
        # first neighbour not a temporal neighbour of the query point (Theiler window = lag)
        same = (series_id[idx] == series_id[query][:, None]) & \
               (np.abs(time_id[idx] - time_id[query][:, None]) < max(lag, 1))
        ok = ~same & (dist > 0)
        has = ok.any(axis=1)
        first = ok.argmax(axis=1)
        rows = np.flatnonzero(has)
        nb, r = idx[rows, first[rows]], dist[rows, first[rows]]
        gap = np.abs(nxt[query[rows]] - nxt[nb])
        false = (gap / r > rtol) | (np.sqrt(r ** 2 + gap ** 2) > atol)
        out[d - 1] = false.mean() if len(rows) else np.nan
    return out


def estimate_order(x, lag: int, max_order: int = 10, fnn_threshold: float = 0.01, **kwargs) -> int:
    """Embedding order: the smallest dimension whose FNN fraction is <= ``fnn_threshold``.

    If no dimension reaches the threshold (noise keeps FNN high), the dimension after
    which the fraction stops decreasing by more than 10% of its value is used.

    Parameters
    ----------
    x : ndarray, shape (n_times,) or (..., n_times)
        Series embedded separately (see :func:`false_nearest_neighbours`).
    lag : int
        Embedding lag.
    max_order : int
        Largest embedding dimension tried.
    fnn_threshold : float
        FNN fraction at or below which a dimension is accepted.
    **kwargs
        Passed to :func:`false_nearest_neighbours` (``rtol``, ``atol``, ``n_points``,
        ``random_state``).

    Returns
    -------
    order : int, 1 <= order <= max_order
    """
    fnn_threshold = check_positive_float("fnn_threshold", fnn_threshold)
    fnn = false_nearest_neighbours(x, lag, max_order, **kwargs)
    below = np.flatnonzero(fnn <= fnn_threshold)
    if len(below):
        return int(below[0] + 1)
    for d in range(1, max_order):
        if fnn[d] > 0.9 * fnn[d - 1]:
            logger.info("FNN never below %.2f (min %.2f); using the plateau at order %d",
                        fnn_threshold, np.nanmin(fnn), d)
            return d
    return max_order


def takens_parameters(X, max_lag: int = 10, max_order: int = 10, n_bins: int = 16,
                      fnn_threshold: float = 0.01, max_series: int = 64, n_points: int = 1000,
                      random_state=0) -> tuple[int, int]:
    """(order, lag) of multichannel trials: AMI lag and FNN order.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Trials; every (trial, channel) series is used for the AMI lag.
    max_lag : int
        Largest lag tried (MOABB's grid uses 1..10), capped at a quarter of ``n_times``.
    max_order : int
        Largest embedding order tried (MOABB's grid uses 1..10), lowered while the series
        are too short for it at the chosen lag.
    n_bins : int
        Equiprobable bins per axis of the AMI.
    fnn_threshold : float
        FNN fraction at or below which an order is accepted (see :func:`estimate_order`).
    max_series : int
        At most this many (trial, channel) series are used for FNN, drawn at random
        (AMI uses all of them).
    n_points : int
        FNN query points drawn at random.
    random_state : int | None
        Seed of the series and query point draws.

    Returns
    -------
    order, lag : int
    """
    X = np.asarray(X, dtype=np.float64)
    series = X.reshape(-1, X.shape[-1])
    max_lag = min(check_positive_int("max_lag", max_lag), series.shape[-1] // 4)
    lag = estimate_lag(series, max_lag=max_lag, n_bins=n_bins)
    max_order = check_positive_int("max_order", max_order)
    while max_order > 1 and series.shape[-1] - max_order * lag < 2 * lag + 10:
        max_order -= 1
    rng = np.random.default_rng(random_state)
    pick = rng.choice(len(series), size=min(max_series, len(series)), replace=False)
    order = estimate_order(series[np.sort(pick)], lag, max_order, fnn_threshold,
                           n_points=n_points, random_state=random_state)
    return order, lag
