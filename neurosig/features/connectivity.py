"""Functional-connectivity features: coherence, imaginary coherence, phase-locking value.

Coherence and imaginary coherence come from Welch cross-spectra (the estimator of
``scipy.signal.coherence``, vectorised over channel pairs), averaged over the
frequency bins of the band; PLV is computed from the analytic signal of the
band-passed data. (pyRiemann's ``Coherences`` zero-pads its FFT to a power of two,
so its values differ slightly from scipy's; neurosig follows scipy.)
"""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, csd, hilbert, sosfiltfilt
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    check_n_features,
    check_option,
    check_positive_float,
    check_signal_array,
    declare_3d_input,
)

MEASURES = ("coh", "imcoh", "plv")
VECTORIZE = ("node-strength", "upper", "matrix")


def _check_band(sfreq: float, fmin: float, fmax: float) -> float:
    """``sfreq`` as a float once ``0 <= fmin < fmax <= sfreq / 2`` holds; else a ValueError."""
    if sfreq is None:
        raise ValueError("The 'sfreq' parameter is None: set the sampling rate in Hz.")
    sfreq = check_positive_float("sfreq", sfreq)
    if not (0 <= fmin < fmax <= sfreq / 2):
        raise ValueError(f"Invalid band: need 0 <= fmin < fmax <= {sfreq / 2:g} Hz, but got "
                         f"fmin={fmin!r}, fmax={fmax!r}.")
    return sfreq


def plv_matrices(X: np.ndarray, sfreq: float, fmin: float, fmax: float, order: int = 4) -> np.ndarray:
    """Phase-locking value between channel pairs in one band.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Signals.
    sfreq : float
        Sampling rate in Hz.
    fmin, fmax : float
        Band edges in Hz.
    order : int
        Order of the zero-phase Butterworth band-pass applied before the Hilbert transform.

    Returns
    -------
    plv : ndarray, shape (n_trials, n_channels, n_channels)
        Phase-locking values (1 on the diagonal).
    """
    sfreq = _check_band(sfreq, fmin, fmax)
    sos = butter(order, [fmin, fmax], btype="bandpass", fs=sfreq, output="sos")
    phase = np.exp(1j * np.angle(hilbert(sosfiltfilt(sos, X, axis=-1), axis=-1)))
    n_times = X.shape[-1]
    return np.abs(np.einsum("nct,ndt->ncd", phase, phase.conj())) / n_times


def cross_spectra(X: np.ndarray, sfreq: float, nperseg: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Welch cross-spectral densities of every channel pair (as ``scipy.signal.csd``).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Signals.
    sfreq : float
        Sampling rate in Hz.
    nperseg : int | None
        Welch segment length in samples (default: one second), at most ``n_times``.

    Returns
    -------
    freqs : ndarray, shape (n_freqs,)
        Frequencies in Hz.
    S : ndarray, shape (n_trials, n_channels, n_channels, n_freqs), complex
        Cross-spectral densities.
    """
    nperseg = min(X.shape[-1], nperseg or int(round(sfreq)))
    freqs, S = csd(X[:, :, None, :], X[:, None, :, :], fs=sfreq, nperseg=nperseg, axis=-1)
    return freqs, S


def coherence_matrices(X: np.ndarray, sfreq: float, fmin: float, fmax: float, measure: str = "coh",
                       nperseg: int | None = None) -> np.ndarray:
    """Band-averaged magnitude-squared coherence (``"coh"``, as ``scipy.signal.coherence``)
    or absolute imaginary part of coherency (``"imcoh"``, Nolte et al. 2004).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Signals.
    sfreq : float
        Sampling rate in Hz.
    fmin, fmax : float
        Band edges in Hz; the frequency bins inside ``[fmin, fmax]`` are averaged.
    measure : {"coh", "imcoh"}
        Magnitude-squared coherence or absolute imaginary coherency.
    nperseg : int | None
        Welch segment length in samples (default: one second), at most ``n_times``.

    Returns
    -------
    C : ndarray, shape (n_trials, n_channels, n_channels)
        Band-averaged connectivity.
    """
    freqs, S = cross_spectra(X, _check_band(sfreq, fmin, fmax), nperseg)
    sel = (freqs >= fmin) & (freqs <= fmax)
    if not sel.any():
        raise ValueError(f"No frequency bin between {fmin} and {fmax} Hz at resolution "
                         f"{freqs[1] - freqs[0]:.3g} Hz.")
    S = S[..., sel]
    auto = np.real(np.einsum("nccf->ncf", S))
    denom = auto[:, :, None, :] * auto[:, None, :, :]
    if measure == "coh":
        C = np.abs(S) ** 2 / denom
    else:
        C = np.abs(np.imag(S)) / np.sqrt(denom)
    return C.mean(axis=-1)


class Connectivity(TransformerMixin, BaseEstimator):
    """Connectivity matrices in one band, vectorised.

    Transforms X, shape (n_trials, n_channels, n_times).

    Parameters
    ----------
    sfreq : float | None
        Sampling rate (``None``: filled in by the benchmark).
    fmin, fmax : float
        Band in Hz.
    measure : {"coh", "imcoh", "plv"}
        Magnitude-squared coherence, absolute imaginary coherency or phase-locking value.
    vectorize : {"node-strength", "upper", "matrix"}
        ``"node-strength"``: sum of each channel's connections (n_channels features, HappyFeat);
        ``"upper"``: upper triangle without the diagonal; ``"matrix"``: the
        (n_channels, n_channels) matrices themselves, regularised to SPD for tangent space.
    """

    def __init__(self, sfreq: float | None = None, fmin: float = 8.0, fmax: float = 30.0,
                 measure: str = "imcoh", vectorize: str = "node-strength"):
        self.sfreq = sfreq
        self.fmin = fmin
        self.fmax = fmax
        self.measure = measure
        self.vectorize = vectorize

    def fit(self, X, y=None):
        check_option("measure", self.measure, MEASURES)
        check_option("vectorize", self.vectorize, VECTORIZE)
        _check_band(self.sfreq, self.fmin, self.fmax)
        X = check_signal_array("X", X, ndim=3)
        self.n_channels_ = self.n_features_in_ = X.shape[1]
        return self

    def __sklearn_tags__(self):
        return declare_3d_input(super().__sklearn_tags__())

    def _matrices(self, X):
        if self.measure == "plv":
            return plv_matrices(X, float(self.sfreq), self.fmin, self.fmax)
        return coherence_matrices(X, float(self.sfreq), self.fmin, self.fmax, self.measure)

    def transform(self, X):
        check_is_fitted(self, "n_channels_")
        X = check_signal_array("X", X, ndim=3)
        check_n_features(self, X)
        M = self._matrices(X)
        n = M.shape[1]
        if self.vectorize == "node-strength":
            return (M.sum(axis=2) - M[:, np.arange(n), np.arange(n)]) / (n - 1)
        if self.vectorize == "upper":
            iu = np.triu_indices(n, k=1)
            return M[:, iu[0], iu[1]]
        # SPD regularisation: connectivity matrices are PSD at best; add a ridge on the diagonal
        M = 0.5 * (M + M.transpose(0, 2, 1))
        M[:, np.arange(n), np.arange(n)] = 1.0
        return M + 1e-3 * np.eye(n)
