"""Per-channel amplitude scaling of windows by a percentile of |x| (the TFM / BIOT recipe)."""
from __future__ import annotations

import numpy as np


def percentile_scale(windows: np.ndarray, q: float = 95.0, eps: float = 1e-8) -> np.ndarray:
    """Divide each channel of each window by the ``q``-th percentile of its absolute value.

    Stored windows keep their physical amplitude (microvolts); this scaling is
    applied when windows are read, as an option, because absolute amplitude
    itself carries information about abnormality.

    Parameters
    ----------
    windows : ndarray, shape (..., n_channels, n_times)
    q : float
        Percentile in [0, 100] (linear interpolation, like ``np.quantile(..., method="linear")``).
    eps : float
        Added to the denominator so that a flat channel stays finite.

    Returns
    -------
    scaled : ndarray, same shape and float dtype as ``windows``
    """
    if not 0.0 <= float(q) <= 100.0:
        raise ValueError(f"Invalid value for the 'q' parameter. Allowed values are numbers in "
                         f"[0, 100], but got {q!r} instead.")
    x = np.asarray(windows)
    scale = np.percentile(np.abs(x), q, axis=-1, keepdims=True)
    return (x / (scale + eps)).astype(x.dtype, copy=False)
