"""FFT resampling of windows to the TFM tokenizer's rate (the published recipe resamples
each window with an FFT when it is loaded).

Kept in its own module (the general filters/resampling of ``neurosig.preprocessing``
live elsewhere); it only wraps :func:`scipy.signal.resample`.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample

from .._validation import check_positive_float

__all__ = ["fft_resample", "resampled_length"]


def resampled_length(n_times: int, sfreq: float, target_sfreq: float) -> int:
    """Samples after resampling ``n_times`` samples from ``sfreq`` to ``target_sfreq`` (rounded).

    Parameters
    ----------
    n_times : int
        Samples at the input rate.
    sfreq : float
        Input sampling rate in Hz.
    target_sfreq : float
        Output sampling rate in Hz.
    """
    return int(round(n_times * Fraction(target_sfreq).limit_denominator(10_000)
                     / Fraction(sfreq).limit_denominator(10_000)))


def fft_resample(X: np.ndarray, sfreq: float, target_sfreq: float = 200.0) -> np.ndarray:
    """Resample the last axis from ``sfreq`` to ``target_sfreq`` with an FFT.

    Parameters
    ----------
    X : ndarray, shape (..., n_times)
    sfreq, target_sfreq : float
        Input and output sampling rates in Hz.

    Returns
    -------
    Xr : ndarray, shape (..., n_times_out), float32
        ``n_times_out = round(n_times * target_sfreq / sfreq)``; ``X`` itself
        (as float32) when the rates are equal.
    """
    sfreq = check_positive_float("sfreq", sfreq)
    target_sfreq = check_positive_float("target_sfreq", target_sfreq)
    X = np.asarray(X, dtype=np.float32)
    if sfreq == target_sfreq:
        return X
    n_out = resampled_length(X.shape[-1], sfreq, target_sfreq)
    if n_out < 1:
        raise ValueError(f"Invalid value for the 'sfreq' parameter: {X.shape[-1]} samples at {sfreq} Hz "
                         f"give no samples at {target_sfreq} Hz.")
    return resample(X, n_out, axis=-1).astype(np.float32, copy=False)
