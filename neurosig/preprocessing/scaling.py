"""Per-channel amplitude scaling of windows by a percentile of ``|x|`` (the TFM / BIOT recipe).

:func:`percentile_scale` is the one implementation: it serves stored windows read
from disk (numpy) and the TFM tokenizer's input scaling on the training device
(torch, :func:`neurosig.tokenizers.tfm.scale_p95`). It finds the percentile with a
partial sort (``topk`` of the upper tail) instead of the full sort of
``np.percentile``, with the same linear interpolation.
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["percentile_scale"]


def _percentile_of_abs(a: torch.Tensor, q: float) -> torch.Tensor:
    """The ``q``-th percentile of ``a`` (non-negative) along the last axis, keepdims, linear interpolation."""
    n = a.shape[-1]
    pos = q / 100.0 * (n - 1)
    k_lo = int(math.floor(pos))
    k_hi = min(k_lo + 1, n - 1)
    frac = pos - k_lo
    top = torch.topk(a, n - k_lo, dim=-1, sorted=True).values  # descending: rank r <-> ascending n-1-r
    lo, hi = top[..., n - 1 - k_lo], top[..., n - 1 - k_hi]
    return (lo + frac * (hi - lo))[..., None]


def percentile_scale(windows, q: float = 95.0, eps: float = 1e-8):
    """Divide each channel of each window by the ``q``-th percentile of its absolute value.

    Stored windows keep their physical amplitude (microvolts); this scaling is
    applied when windows are read, as an option, because absolute amplitude
    itself carries information about abnormality.

    Parameters
    ----------
    windows : ndarray | Tensor, shape (..., n_channels, n_times)
        Signals; a Tensor stays on its device.
    q : float
        Percentile in [0, 100] (linear interpolation, like ``np.quantile(..., method="linear")``).
    eps : float
        Added to the denominator so that a flat channel stays finite.

    Returns
    -------
    scaled : ndarray | Tensor, same shape, type and float dtype as ``windows``
        The scaled signals.
    """
    if isinstance(q, bool) or not isinstance(q, (int, float, np.number)) or not 0.0 <= float(q) <= 100.0:
        raise ValueError(f"Invalid value for the 'q' parameter. Allowed values are numbers in "
                         f"[0, 100], but got {q!r} instead.")
    if isinstance(windows, torch.Tensor):
        return windows / (_percentile_of_abs(windows.abs(), float(q)) + eps)
    x = np.asarray(windows)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    xt = torch.from_numpy(np.ascontiguousarray(x))
    scale = _percentile_of_abs(xt.abs(), float(q)).numpy()
    return (x / (scale + eps)).astype(x.dtype, copy=False)
