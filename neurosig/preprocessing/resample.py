"""FFT resampling, for whole recordings (MNE) and for stored windows at read time (TFM recipe)."""
from __future__ import annotations

import numpy as np

from .._validation import check_positive_float


def resample_recording(data: np.ndarray, sfreq: float, new_sfreq: float) -> np.ndarray:
    """Resample a continuous recording with :func:`mne.filter.resample` (FFT method).

    Gives the same numbers as ``raw.resample(new_sfreq)``.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
    sfreq, new_sfreq : float
        Old and new sampling rates in Hz.

    Returns
    -------
    resampled : ndarray, shape (n_channels, round(n_times * new_sfreq / sfreq))
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
    n_times : int
        Samples per window after resampling.

    Returns
    -------
    resampled : ndarray, shape (..., n_times), same float dtype as the input
    """
    from scipy.signal import resample

    if windows.shape[-1] == n_times:
        return windows
    return resample(windows, n_times, axis=-1).astype(windows.dtype, copy=False)
