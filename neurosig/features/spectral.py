"""Log band-power features from Welch power spectral densities (HappyFeat-style PSD features)."""
from __future__ import annotations

import numpy as np
from scipy.signal import welch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    check_n_features,
    check_positive_float,
    check_signal_array,
    declare_3d_input,
)

DEFAULT_BANDS = ((8.0, 12.0), (12.0, 16.0), (16.0, 20.0), (20.0, 24.0), (24.0, 28.0), (28.0, 32.0))


def check_bands(bands, sfreq: float) -> np.ndarray:
    """Validate ``bands`` as an array (n_bands, 2) of increasing (low, high) Hz below Nyquist.

    Parameters
    ----------
    bands : sequence of (low, high)
        Frequency bands in Hz.
    sfreq : float
        Sampling rate in Hz (the upper edges must be at most ``sfreq / 2``).

    Returns
    -------
    bands : ndarray, shape (n_bands, 2)
        The bands as floats.
    """
    arr = np.asarray(bands, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0 or np.any(arr[:, 0] >= arr[:, 1]) \
            or np.any(arr < 0) or np.any(arr[:, 1] > sfreq / 2):
        raise ValueError(f"Invalid value for the 'bands' parameter. Allowed values are a list of "
                         f"(low, high) pairs in Hz with 0 <= low < high <= {sfreq / 2:g} (Nyquist), "
                         f"but got {bands!r} instead.")
    return arr


def welch_psd(X: np.ndarray, sfreq: float, nperseg: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD along the last axis: returns freqs (n_freqs,), psd (..., n_freqs).

    Parameters
    ----------
    X : ndarray, shape (..., n_times)
        Signals.
    sfreq : float
        Sampling rate in Hz.
    nperseg : int | None
        Welch segment length in samples (default: one second), at most ``n_times``.
    """
    n_times = X.shape[-1]
    nperseg = min(n_times, nperseg or int(round(sfreq)))
    return welch(X, fs=sfreq, nperseg=nperseg, axis=-1)


def band_power(X: np.ndarray, sfreq: float, bands, nperseg: int | None = None, log: bool = True) -> np.ndarray:
    """Mean Welch PSD inside each band.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Signals.
    sfreq : float
        Sampling rate in Hz.
    bands : sequence of (low, high)
        Frequency bands in Hz; the Welch bins inside each ``[low, high]`` are averaged.
    nperseg : int | None
        Welch segment length in samples (default: one second), at most ``n_times``.
    log : bool
        Return the natural log of the band power.

    Returns
    -------
    ndarray, shape (n_trials, n_channels, n_bands)
        Band power per trial, channel and band.
    """
    freqs, psd = welch_psd(X, sfreq, nperseg)
    out = np.empty(X.shape[:-1] + (len(bands),))
    for b, (lo, hi) in enumerate(bands):
        sel = (freqs >= lo) & (freqs <= hi)
        if not sel.any():
            raise ValueError(f"Band ({lo}, {hi}) Hz contains no frequency bin at this resolution "
                             f"({freqs[1] - freqs[0]:.3g} Hz); widen it or increase 'nperseg'.")
        out[..., b] = psd[..., sel].mean(axis=-1)
    return np.log(out) if log else out


class BandPower(TransformerMixin, BaseEstimator):
    """Per-channel (log) band power from Welch's method.

    Transforms X, shape (n_trials, n_channels, n_times), into features of shape
    (n_trials, n_channels * n_bands), channel-major.

    Parameters
    ----------
    sfreq : float | None
        Sampling rate in Hz. ``None`` lets the benchmark fill in the epochs' rate.
    bands : sequence of (low, high)
        Frequency bands in Hz (default: 4 Hz bands from 8 to 32 Hz).
    nperseg : int | None
        Welch segment length (default: one second).
    log : bool
        Natural log of the power (usual for linear classifiers).
    """

    def __init__(self, sfreq: float | None = None, bands=DEFAULT_BANDS, nperseg: int | None = None,
                 log: bool = True):
        self.sfreq = sfreq
        self.bands = bands
        self.nperseg = nperseg
        self.log = log

    def fit(self, X, y=None):
        if self.sfreq is None:
            raise ValueError("The 'sfreq' parameter is None: set the sampling rate in Hz "
                             "(the benchmark fills it in from the epochs).")
        sfreq = check_positive_float("sfreq", self.sfreq)
        self.bands_ = check_bands(self.bands, sfreq)
        X = check_signal_array("X", X, ndim=3)
        self.n_channels_ = self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "bands_")
        X = check_signal_array("X", X, ndim=3)
        check_n_features(self, X)
        bp = band_power(X, float(self.sfreq), self.bands_, self.nperseg, self.log)
        return bp.reshape(len(X), -1)

    def __sklearn_tags__(self):
        return declare_3d_input(super().__sklearn_tags__())
