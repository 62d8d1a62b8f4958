"""Cut a continuous recording into non-overlapping fixed-length windows."""
from __future__ import annotations

import numpy as np

from .._validation import check_positive_int


def n_windows(n_times: int, window_samples: int) -> int:
    """Number of whole non-overlapping windows in ``n_times`` samples (the tail is dropped).

    Parameters
    ----------
    n_times : int
        Samples of the recording.
    window_samples : int
        Samples per window.
    """
    check_positive_int("window_samples", window_samples)
    return int(n_times) // int(window_samples)


def cut_windows(data: np.ndarray, window_samples: int) -> np.ndarray:
    """Non-overlapping windows of a continuous signal.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
    window_samples : int
        Samples per window.

    Returns
    -------
    windows : ndarray, shape (n_windows, n_channels, window_samples)
        ``windows[k] == data[:, k * window_samples:(k + 1) * window_samples]``;
        the incomplete tail is dropped. A view-free copy (C-contiguous).
    """
    if data.ndim != 2:
        raise ValueError(f"The 'data' parameter must be a 2-D array of shape (n_channels, n_times), "
                         f"but got shape {data.shape} instead.")
    n = n_windows(data.shape[1], window_samples)
    out = data[:, : n * window_samples].reshape(data.shape[0], n, window_samples)
    return np.ascontiguousarray(out.transpose(1, 0, 2))


def window_starts(n_win: int, window_samples: int, sfreq: float) -> np.ndarray:
    """Start time in seconds of each window, shape (n_win,).

    Parameters
    ----------
    n_win : int
        Number of windows.
    window_samples : int
        Samples per window.
    sfreq : float
        Sampling rate in Hz.
    """
    return np.arange(n_win, dtype=np.float64) * (window_samples / float(sfreq))
