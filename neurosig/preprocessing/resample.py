"""FFT resampling, for whole recordings (MNE) and for windows (TFM recipe).

:func:`resample_windows` is the one FFT resampler of windows (it wraps
:func:`scipy.signal.resample`); :func:`fft_resample` gives it a target rate instead of a
target length (the TFM tokenizer's input, read from
:mod:`neurosig.preprocessing.tfm_resample` too).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .._validation import check_positive_float

__all__ = ["fft_resample", "resample_recording", "resample_windows", "resampled_length"]


def resample_recording(data: np.ndarray, sfreq: float, new_sfreq: float) -> np.ndarray:
    """Resample a continuous recording with :func:`mne.filter.resample` (FFT method).

    Gives the same numbers as ``raw.resample(new_sfreq)``.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        Continuous signals.
    sfreq, new_sfreq : float
        Old and new sampling rates in Hz.

    Returns
    -------
    resampled : ndarray, shape (n_channels, round(n_times * new_sfreq / sfreq))
        The resampled recording.
    """
    import mne

    sfreq = check_positive_float("sfreq", sfreq)
    new_sfreq = check_positive_float("new_sfreq", new_sfreq)
    if sfreq == new_sfreq:
        return data
    return mne.filter.resample(data, up=new_sfreq, down=sfreq, npad="auto", verbose="error")


def resample_windows(windows: np.ndarray, n_times: int) -> np.ndarray:
    """FFT-resample each window to ``n_times`` samples (:func:`scipy.signal.resample`).

    This is what the TFM-Tokenizer code does when it loads a 10 s window stored
    at 256 Hz (2560 samples) and feeds the model 200 Hz (2000 samples).

    Parameters
    ----------
    windows : ndarray, shape (..., n_times_in)
        Windows (float).
    n_times : int
        Samples per window after resampling.

    Returns
    -------
    resampled : ndarray, shape (..., n_times), same float dtype as the input
        The resampled windows (``windows`` itself when the length is unchanged).
    """
    from scipy.signal import resample

    if windows.shape[-1] == n_times:
        return windows
    return resample(windows, n_times, axis=-1).astype(windows.dtype, copy=False)


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

    Returns
    -------
    int
        Samples at the output rate.
    """
    return int(round(n_times * Fraction(target_sfreq).limit_denominator(10_000)
                     / Fraction(sfreq).limit_denominator(10_000)))


def fft_resample(X: np.ndarray, sfreq: float, target_sfreq: float = 200.0) -> np.ndarray:
    """Resample the last axis from ``sfreq`` to ``target_sfreq`` with an FFT (:func:`resample_windows`).

    Parameters
    ----------
    X : ndarray, shape (..., n_times)
        Windows.
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
    return resample_windows(X, n_out)
