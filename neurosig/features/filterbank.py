"""Filter banks: apply one transformer per frequency band and concatenate (FBCSP, FB tangent space)."""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    check_labels,
    check_n_features,
    check_option,
    check_positive_float,
    check_signal_array,
    declare_3d_input,
)
from .spectral import check_bands

NAMED = ("csp", "tangent-space")
DEFAULT_FB = ((8.0, 12.0), (12.0, 16.0), (16.0, 20.0), (20.0, 24.0), (24.0, 28.0), (28.0, 32.0))


def filter_bank(X: np.ndarray, sfreq: float, bands, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass per band.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Signals.
    sfreq : float
        Sampling rate in Hz.
    bands : sequence of (low, high)
        Band edges in Hz.
    order : int
        Butterworth order.

    Returns
    -------
    Xb : ndarray, shape (n_bands, n_trials, n_channels, n_times)
        The band-passed signals, one block per band.
    """
    out = np.empty((len(bands),) + X.shape)
    for b, (lo, hi) in enumerate(bands):
        sos = butter(order, [lo, hi], btype="bandpass", fs=sfreq, output="sos")
        out[b] = sosfiltfilt(sos, X, axis=-1)
    return out


class FilterBank(TransformerMixin, BaseEstimator):
    """Band-pass X in each band, fit a clone of ``transformer`` per band, concatenate features.

    Parameters
    ----------
    transformer : estimator | {"csp", "tangent-space"} | None
        ``"csp"`` (default): MNE's CSP, 4 log-variance components (FBCSP);
        ``"tangent-space"``: OAS covariances + Riemannian tangent space. An estimator
        (given from Python) maps (n_trials, n_channels, n_times) to (n_trials, n_features), e.g. CSP, or a
        Covariances + TangentSpace pipeline.
    sfreq : float | None
        Sampling rate (``None``: filled in by the benchmark).
    bands : sequence of (low, high)
        Frequency bands in Hz (default: 4 Hz bands from 8 to 32 Hz).
    order : int
        Butterworth order.
    """

    def __init__(self, transformer=None, sfreq: float | None = None, bands=DEFAULT_FB, order: int = 4):
        self.transformer = transformer
        self.sfreq = sfreq
        self.bands = bands
        self.order = order

    def _base(self):
        t = "csp" if self.transformer is None else self.transformer
        if not isinstance(t, str):
            return t
        check_option("transformer", t, NAMED)
        if t == "csp":
            from mne.decoding import CSP
            return CSP(n_components=4, log=True)
        from pyriemann.estimation import Covariances
        from pyriemann.tangentspace import TangentSpace
        from sklearn.pipeline import make_pipeline
        return make_pipeline(Covariances("oas"), TangentSpace(metric="riemann"))

    def fit(self, X, y=None):
        if self.sfreq is None:
            raise ValueError("The 'sfreq' parameter is None: set the sampling rate in Hz.")
        sfreq = check_positive_float("sfreq", self.sfreq)
        self.bands_ = check_bands(self.bands, sfreq)
        X = check_signal_array("X", X, ndim=3)
        if y is not None:
            y = check_labels("y", y, len(X))
        Xb = filter_bank(X, sfreq, self.bands_, self.order)
        self.transformers_ = [clone(self._base()).fit(xb, y) for xb in Xb]
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "transformers_")
        X = check_signal_array("X", X, ndim=3)
        check_n_features(self, X)
        Xb = filter_bank(X, float(self.sfreq), self.bands_, self.order)
        feats = [np.asarray(t.transform(xb)).reshape(len(X), -1) for t, xb in zip(self.transformers_, Xb)]
        return np.concatenate(feats, axis=1)

    def __sklearn_tags__(self):
        return declare_3d_input(super().__sklearn_tags__())
