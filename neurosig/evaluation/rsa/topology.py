"""Topological RSA (tRSA): geo-topological and geodesic transforms of RDMs.

Reference: Lin & Kriegeskorte (2023), "The Topology and Geometry of Neural
Representations", arXiv:2309.11028.

Differences from rsatoolbox 0.3.2 (``rsatoolbox.rdm.transform``), on purpose:

* **Thresholds per RDM.** :func:`geotopological_transform` computes the lower and
  upper quantiles of each RDM separately (the paper's definition). rsatoolbox
  computes one pair of quantiles jointly over all RDMs passed in; that is
  available here only on request, with ``pooled=True`` (identical to rsatoolbox).
* **Zero-length edges are edges.** In :func:`geodesic_transform` a transformed
  distance of 0 is an edge of length 0 (identical points stay connected) and a
  distance of 1 is a non-edge. rsatoolbox builds the graph with networkx's
  ``from_numpy_array``, which (like scipy's csgraph on a dense array) treats 0 as
  "no edge", so pairs below the lower threshold are only connected through
  other paths. ``zero_edges=False`` reproduces that behaviour.
* **No silent rescaling.** rsatoolbox min-max rescales every RDM before the
  geodesic step; here that is ``rescale=True`` (off by default: the input is
  expected to be geo-topologically transformed already, values in [0, 1]).
* **Disconnected pairs** get ``disconnected`` (inf by default, as in rsatoolbox);
  :func:`~neurosig.evaluation.rsa.compare` refuses inf with an error that names
  this option.

Shortest paths are computed by a compiled (numba) Floyd-Warshall recursion that
works on the condensed upper triangle of each RDM in place: the graphs are
undirected, so each step updates only the pairs ``i < j``, with the same additions
``d(i, k) + d(k, j)`` in the same order ``k = 0 .. n - 1`` as networkx's
``floyd_warshall_numpy`` (used by rsatoolbox), hence bit-identical results. The
kernel is compiled on first use (cached on disk). :func:`floyd_warshall_batch`
is the vectorised numpy form on square matrices. Tests check both against
``scipy.sparse.csgraph.shortest_path`` on graphs built with
``csgraph_from_dense(..., null_value=np.inf)`` (which keeps zero-length edges),
against an explicit triple-loop Floyd-Warshall and against rsatoolbox.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..._logging import get_logger
from ..._validation import check_positive_int, validate_type
from .rdm import as_vectors, is_number, n_cond_from_length, vectors_to_square

logger = get_logger(__name__)

#: minimum number of conditions for quantile thresholds (3 conditions = 3 distances)
MIN_CONDITIONS = 3


def _check_quantile(name: str, q: Any) -> float:
    if not is_number(q) or not 0.0 <= float(q) <= 1.0:
        raise ValueError(f"Invalid value for the '{name}' parameter. Allowed values are numbers "
                         f"in [0, 1] (quantiles), but got {q!r} instead.")
    return float(q)


#: RDMs per block in the element-wise steps: a block's temporaries stay small enough to be
#: reused from the heap instead of being mapped (and page-faulted) afresh for every step
_BLOCK = 32


def _vectors(arr: np.ndarray) -> np.ndarray:
    """``as_vectors(arr, "rdms")``, reading a large square stack block by block.

    Any input the blocks refuse is checked again as a whole, so that the errors (and
    what is accepted) are exactly those of :func:`~neurosig.evaluation.rsa.as_vectors`.
    """
    if not (arr.ndim == 3 and arr.shape[-1] == arr.shape[-2] and arr.shape[0] > _BLOCK):
        return as_vectors(arr, "rdms")
    n = arr.shape[-1]
    out = np.empty((arr.shape[0], n * (n - 1) // 2))
    try:
        for start in range(0, arr.shape[0], _BLOCK):
            out[start:start + _BLOCK] = as_vectors(arr[start:start + _BLOCK], "rdms")
    except ValueError:
        return as_vectors(arr, "rdms")
    return out


def _output_buffer(vec: np.ndarray, arr: np.ndarray) -> np.ndarray:
    """Where to write a block-wise result: ``vec`` itself when it is a copy made here (each
    block is read before it is overwritten), else a new array (never the caller's data)."""
    return np.empty_like(vec) if np.shares_memory(vec, arr) else vec


def _restore(vec: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Return vectors in the input's layout (square or condensed, batched or not)."""
    if like.ndim >= 2 and like.shape[-1] == like.shape[-2]:
        out = vectors_to_square(vec)
        return out if like.ndim == 3 else out[0]
    return vec if like.ndim == 2 else vec[0]


def geotopological_thresholds(rdms: Any, low: float, up: float, pooled: bool = False) -> np.ndarray:
    """Lower and upper distance thresholds (quantiles of the off-diagonal distances).

    Parameters
    ----------
    rdms : array-like
        Square (n_rdms, n, n) / (n, n) or condensed (n_rdms, n_pairs) / (n_pairs,) RDMs,
        with at least ``MIN_CONDITIONS`` conditions.
    low : float
        Lower quantile in [0, 1].
    up : float
        Upper quantile in [0, 1], not below ``low``.
    pooled : bool, optional
        Compute the quantiles jointly over all RDMs instead of per RDM.

    Returns
    -------
    thresholds : ndarray, shape (n_rdms, 2)
        Per RDM (or the same pooled pair repeated when ``pooled=True``).
    """
    vec = as_vectors(rdms, "rdms")
    low = _check_quantile("low", low)
    up = _check_quantile("up", up)
    if low > up:
        raise ValueError(f"The 'low' quantile ({low}) must not exceed the 'up' quantile ({up}).")
    n = n_cond_from_length(vec.shape[1])
    if n < MIN_CONDITIONS:
        raise ValueError(f"The 'rdms' parameter has {n} conditions; quantile thresholds need at "
                         f"least {MIN_CONDITIONS} conditions.")
    validate_type("pooled", pooled, bool)
    if pooled:  # np.quantile(vec, low), np.quantile(vec, up) (rsatoolbox), with one partition
        lo, hi = row_quantiles(vec.reshape(1, -1), (low, up))[0]
        return np.tile([lo, hi], (vec.shape[0], 1))
    return row_quantiles(vec, (low, up))


def row_quantiles(vec: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """``np.quantile(vec, q, axis=1)`` (linear interpolation) for several ``q`` with one partition.

    Parameters
    ----------
    vec : ndarray, shape (n_rows, n_values)
        Values; quantiles are taken along each row.
    qs : tuple of float
        Quantiles in [0, 1].

    Returns
    -------
    quantiles : ndarray, shape (n_rows, len(qs))
    """
    n = vec.shape[1]
    h = [(n - 1) * q for q in qs]
    lo = [int(np.floor(x)) for x in h]
    kth = sorted({k for x in lo for k in (x, min(x + 1, n - 1))})
    part = np.partition(vec, kth, axis=1)
    out = np.empty((vec.shape[0], len(qs)))
    for j, (x, k) in enumerate(zip(h, lo)):
        a = part[:, k]
        b = part[:, min(k + 1, n - 1)]
        t = x - k
        # numpy's _lerp: a + (b - a) t, evaluated from the nearer end for t >= 0.5
        out[:, j] = b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t
    return out


def geotopological_transform(rdms: Any, low: float, up: float, pooled: bool = False,
                             thresholds: str = "quantile") -> np.ndarray:
    """Geo-topological transform: 0 below the lower, 1 above the upper threshold, linear between.

    With thresholds ``l < u``: ``d <= l -> 0``, ``d >= u -> 1``, otherwise
    ``(d - l) / (u - l)``. When ``l == u`` (a step), ``d <= l -> 0`` and ``d > u -> 1``.

    Parameters
    ----------
    rdms : array-like
        Square (n_rdms, n, n) / (n, n) or condensed (n_rdms, n_pairs) / (n_pairs,) RDMs.
    low : float
        Lower quantile in [0, 1] (``thresholds="quantile"``), computed over each
        RDM's off-diagonal distances, or lower distance value (``thresholds="value"``).
    up : float
        Upper quantile in [0, 1] (``thresholds="quantile"``), computed over each
        RDM's off-diagonal distances, or upper distance value (``thresholds="value"``).
    pooled : bool
        Compute the quantiles jointly over all RDMs (rsatoolbox's behaviour)
        instead of per RDM. Only with ``thresholds="quantile"``.
    thresholds : {"quantile", "value"}

    Returns
    -------
    transformed : ndarray
        Same layout as ``rdms``, values in [0, 1].
    """
    arr = np.asarray(rdms, dtype=float)
    vec = _vectors(arr)
    if thresholds == "quantile":
        th = geotopological_thresholds(vec, low, up, pooled=pooled)
    elif thresholds == "value":
        if not (is_number(low) and is_number(up)) or low > up:
            raise ValueError(f"The 'low' and 'up' parameters must be numbers with low <= up, but got "
                             f"low={low!r}, up={up!r}.")
        th = np.tile([float(low), float(up)], (vec.shape[0], 1))
    else:
        raise ValueError("Invalid value for the 'thresholds' parameter. Allowed values are "
                         f"'quantile', 'value', but got {thresholds!r} instead.")
    out = _output_buffer(vec, arr)
    for start in range(0, len(vec), _BLOCK):
        blk = slice(start, start + _BLOCK)
        out[blk] = _gt_apply(vec[blk], th[blk, :1], th[blk, 1:])
    return _restore(out, arr)


def _gt_apply(vec: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    span = hi - lo
    out = vec - lo
    out /= np.where(span > 0, span, 1.0)
    np.clip(out, 0.0, 1.0, out=out)  # d <= lo -> 0, d >= hi -> 1, linear between
    step = (span <= 0).ravel()
    if step.any():  # lo == hi: a step, d <= lo -> 0 and d > hi -> 1
        out[step] = (vec[step] > hi[step]).astype(float)
    return out


def minmax_transform(rdms: Any) -> np.ndarray:
    """Rescale each RDM's distances to [0, 1] (rsatoolbox's ``minmax_transform``).

    An RDM whose distances are all equal becomes all zeros (rsatoolbox gives NaN);
    a warning is logged.

    Parameters
    ----------
    rdms : array-like
        Square (n_rdms, n, n) / (n, n) or condensed (n_rdms, n_pairs) / (n_pairs,) RDMs.

    Returns
    -------
    ndarray
        Same layout as ``rdms``, values in [0, 1].
    """
    arr = np.asarray(rdms, dtype=float)
    return _restore(_minmax_vectors(as_vectors(arr, "rdms")), arr)


def _minmax_vectors(vec: np.ndarray, warn: bool = True) -> np.ndarray:
    lo = vec.min(axis=1, keepdims=True)
    hi = vec.max(axis=1, keepdims=True)
    span = hi - lo
    if warn:
        _warn_constant(int(np.sum(span == 0)))
    return (vec - lo) / np.where(span > 0, span, 1.0)


def _warn_constant(n_const: int) -> None:
    if n_const:
        logger.warning("%d RDM(s) have all distances equal; min-max rescaling sets them to 0.", n_const)


def geodesic_transform(rdms: Any, disconnected: float = np.inf, rescale: bool = False,
                       zero_edges: bool = True, chunk_size: int = 32) -> np.ndarray:
    """Geodesic transform: shortest-path length in the graph of a transformed RDM.

    Every pair with distance < 1 is an edge whose length is the distance (0 is an
    edge of length 0); pairs at distance >= 1 are not edges. Each distance is then
    replaced by the length of the shortest path between the two conditions.

    Parameters
    ----------
    rdms : array-like
        Geo-topologically transformed RDMs (values in [0, 1]), square or condensed,
        one or many. Use ``rescale=True`` for other RDMs.
    disconnected : float
        Value for pairs with no path (inf by default; comparisons refuse inf, so
        pass a finite value such as 1.0 to compare the result directly).
    rescale : bool
        Min-max rescale each RDM to [0, 1] first, as rsatoolbox always does.
    zero_edges : bool
        Keep distances of 0 as edges of length 0 (default). False reproduces
        rsatoolbox/networkx, where 0 means "no edge".
    chunk_size : int
        RDMs per call of the compiled shortest-path kernel (the work is in place, on one
        copy of the condensed input).

    Returns
    -------
    geodesic : ndarray
        Same layout as ``rdms``.

    Notes
    -----
    The shortest paths run in a compiled kernel (numba): the first call after
    installation compiles it (a few seconds, cached on disk); later calls, in any
    process, load it from the cache.
    """
    if not (is_number(disconnected) or disconnected is np.inf):
        raise ValueError("Invalid value for the 'disconnected' parameter. Allowed values are numbers "
                         f"(inf by default), but got {disconnected!r} instead.")
    validate_type("rescale", rescale, bool)
    validate_type("zero_edges", zero_edges, bool)
    chunk_size = check_positive_int("chunk_size", chunk_size)
    arr = np.asarray(rdms, dtype=float)
    vec = _vectors(arr)
    if not rescale and (vec.min() < 0 or vec.max() > 1):
        raise ValueError(
            "The 'rdms' parameter must hold geo-topologically transformed distances in [0, 1], but "
            f"values range over [{vec.min():.3g}, {vec.max():.3g}]; apply geotopological_transform "
            "first or pass rescale=True to min-max rescale each RDM (as rsatoolbox does).")
    n = n_cond_from_length(vec.shape[1])
    if rescale:
        _warn_constant(int(np.sum(vec.max(axis=1) == vec.min(axis=1))))
    kernel = _condensed_kernel()
    out = _output_buffer(vec, arr)
    for start in range(0, len(vec), chunk_size):
        blk = _minmax_vectors(vec[start:start + chunk_size], warn=False) if rescale \
            else vec[start:start + chunk_size]
        # edge lengths: distances < 1 (0 only with zero_edges), inf for non-edges
        edge = blk < 1.0
        if not zero_edges:
            edge &= blk != 0.0
        np.copyto(out[start:start + chunk_size], np.where(edge, blk, np.inf))
        kernel(out[start:start + chunk_size], n)
    if disconnected is not np.inf and not (is_number(disconnected) and np.isinf(disconnected)):
        out[np.isinf(out)] = float(disconnected)
    return _restore(out, arr)


_KERNEL = None


def _condensed_kernel():
    """The compiled Floyd-Warshall kernel on condensed vectors (compiled once per process)."""
    global _KERNEL
    if _KERNEL is None:
        import numba

        _KERNEL = numba.njit(cache=True, nogil=True)(_floyd_warshall_condensed)
    return _KERNEL


def _floyd_warshall_condensed(V, n):  # pragma: no cover - runs compiled
    """All-pairs shortest paths of undirected graphs given as condensed vectors, in place.

    ``V`` has shape (n_graphs, n (n - 1) / 2): row-major upper triangles of the
    edge-length matrices (inf for non-edges); pair ``(i, j)``, ``i < j``, sits at
    ``off[i] + j`` with ``off[i] = i n - i (i + 1) / 2 - i - 1``. Step ``k`` reads
    the lengths to ``k`` (unchanged by step ``k`` as the diagonal is 0) into ``dk``
    and updates every pair ``i < j`` with ``min(d(i, j), d(i, k) + d(k, j))``.
    """
    off = np.empty(n, np.int64)
    for i in range(n):
        off[i] = i * n - (i * (i + 1)) // 2 - i - 1
    dk = np.empty(n)
    for b in range(V.shape[0]):
        v = V[b]
        for k in range(n):
            for j in range(k):
                dk[j] = v[off[j] + k]
            dk[k] = 0.0
            for j in range(k + 1, n):
                dk[j] = v[off[k] + j]
            for i in range(n - 1):
                dik = dk[i]
                if dik == np.inf:
                    continue
                # row i beyond the diagonal and the lengths from k to the same nodes, as two
                # views of equal length (this form lets the compiler vectorise the loop)
                row = v[off[i] + i + 1:off[i] + n]
                to_k = dk[i + 1:]
                for j in range(row.shape[0]):
                    row[j] = min(row[j], dik + to_k[j])
    return V


def floyd_warshall_batch(W: np.ndarray) -> np.ndarray:
    """All-pairs shortest paths for a stack of dense weight matrices.

    Parameters
    ----------
    W : ndarray, shape (n_graphs, n, n)
        Edge lengths, ``inf`` for non-edges, 0 on the diagonal. Modified in place.

    Returns
    -------
    D : ndarray, shape (n_graphs, n, n)
        Shortest-path lengths (inf where no path exists).
    """
    n = W.shape[-1]
    tmp = np.empty_like(W)
    for k in range(n):
        np.add(W[:, :, k, None], W[:, None, k, :], out=tmp)
        np.minimum(W, tmp, out=W)
    return W
