"""PSD + connectivity features side by side (the combination HappyFeat compares)."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import declare_3d_input
from .connectivity import Connectivity
from .spectral import DEFAULT_BANDS, BandPower


class PowerAndConnectivity(TransformerMixin, BaseEstimator):
    """Concatenate :class:`BandPower` features and :class:`Connectivity` node strengths.

    Transforms X, shape (n_trials, n_channels, n_times), into features of shape
    (n_trials, n_channels * (n_bands + 1)): the band powers (channel-major), then one
    connectivity node strength per channel.

    Parameters
    ----------
    sfreq : float | None
        Sampling rate in Hz (``None``: filled in by the benchmark).
    bands : sequence of (low, high)
        Frequency bands of the band powers, in Hz (default: 4 Hz bands from 8 to 32 Hz).
    fmin, fmax : float
        Band of the connectivity, in Hz.
    measure : {"coh", "imcoh", "plv"}
        Connectivity measure (see :class:`Connectivity`).
    """

    def __init__(self, sfreq: float | None = None, bands=DEFAULT_BANDS, fmin: float = 8.0,
                 fmax: float = 30.0, measure: str = "imcoh"):
        self.sfreq = sfreq
        self.bands = bands
        self.fmin = fmin
        self.fmax = fmax
        self.measure = measure

    def fit(self, X, y=None):
        self.power_ = BandPower(sfreq=self.sfreq, bands=self.bands).fit(X, y)
        self.connectivity_ = Connectivity(sfreq=self.sfreq, fmin=self.fmin, fmax=self.fmax,
                                          measure=self.measure, vectorize="node-strength").fit(X, y)
        self.n_features_in_ = self.power_.n_features_in_
        return self

    def transform(self, X):
        check_is_fitted(self, "power_")
        return np.concatenate([self.power_.transform(X), self.connectivity_.transform(X)], axis=1)

    def __sklearn_tags__(self):
        return declare_3d_input(super().__sklearn_tags__())
