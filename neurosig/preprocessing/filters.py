"""Band-pass and notch filtering of continuous multichannel signals (MNE's FIR filters).

Thin functional wrappers around :func:`mne.filter.filter_data` and
:func:`mne.filter.notch_filter` with the TUAB recipe's defaults (band-pass
0.1-75 Hz, zero-phase FIR, notch at the mains frequency). They give the same
numbers as ``raw.filter(...)`` and ``raw.notch_filter(...)`` on an
:class:`mne.io.Raw`, without building one.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_positive_float

#: allowed mains frequencies for the notch (60 Hz: US data such as TUH; 50 Hz: the TFM code)
NOTCH_FREQS = (50.0, 60.0)


def check_filter_params(sfreq: float, l_freq: float | None, h_freq: float | None,
                        notch: float | None) -> None:
    """Raise ValueError for a band or notch that the sampling rate cannot carry.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    l_freq : float | None
        High-pass edge in Hz (None: no high-pass).
    h_freq : float | None
        Low-pass edge in Hz, below Nyquist (None: no low-pass).
    notch : float | None
        Notch frequency in Hz (None: no notch).
    """
    sfreq = check_positive_float("sfreq", sfreq)
    if l_freq is not None:
        check_positive_float("l_freq", l_freq)
    if h_freq is not None:
        check_positive_float("h_freq", h_freq)
        if h_freq >= sfreq / 2:
            raise ValueError(f"Invalid value for the 'h_freq' parameter. Allowed values are "
                             f"below the Nyquist frequency {sfreq / 2} Hz, but got {h_freq} instead.")
    if l_freq is not None and h_freq is not None and l_freq >= h_freq:
        raise ValueError(f"Invalid value for the 'l_freq' parameter. Allowed values are below "
                         f"h_freq={h_freq}, but got {l_freq} instead.")
    if notch is not None:
        check_positive_float("notch", notch)


def bandpass_notch(data: np.ndarray, sfreq: float, l_freq: float | None = 0.1,
                   h_freq: float | None = 75.0, notch: float | None = 60.0) -> np.ndarray:
    """Zero-phase FIR band-pass, then notch at ``notch`` Hz (and its harmonics below Nyquist).

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        Continuous signals.
    sfreq : float
        Sampling rate in Hz.
    l_freq, h_freq : float | None
        Band edges in Hz (``None``: no high-pass / no low-pass).
    notch : float | None
        Mains frequency in Hz (``None``: no notch). Harmonics below
        ``h_freq`` and Nyquist are notched as well.

    Returns
    -------
    filtered : ndarray, shape (n_channels, n_times), float64
    """
    import mne

    check_filter_params(sfreq, l_freq, h_freq, notch)
    x = np.array(data, dtype=np.float64, copy=True)  # filtered in place below; never touch the input
    if l_freq is not None or h_freq is not None:
        x = mne.filter.filter_data(x, sfreq, l_freq, h_freq, verbose="error", copy=False)
    if notch is not None:
        top = min(sfreq / 2.0, h_freq if h_freq is not None else np.inf)
        freqs = np.arange(notch, top, notch)
        if freqs.size:
            x = mne.filter.notch_filter(x, sfreq, freqs, verbose="error", copy=False)
    return x
