"""SSVEP classifiers by canonical correlation with sine / cosine references.

* :class:`SSVEPCCA` (Lin et al. 2006): for each stimulation frequency ``f``,
  the largest canonical correlation between the trial ``X`` (channels x
  times) and the references ``sin/cos(2 pi h f t)``, ``h = 1..n_harmonics``;
  the predicted class is the frequency with the largest correlation. No
  training beyond learning the classes.
* :class:`FilterBankCCA` (Chen et al. 2015): the same correlations in
  ``n_bands`` sub-bands ``[8 n, 88]`` Hz (Chebyshev type I, zero phase),
  combined as ``sum_n w(n) rho_n^2`` with ``w(n) = n ** -a + b``
  (``a = 1.25``, ``b = 0.25``).

The math is in plain functions (:func:`cca_references`,
:func:`max_canonical_correlations`); the estimators validate and call them.

References
----------
Lin Z, Zhang C, Wu W, Gao X (2006) Frequency recognition based on canonical
correlation analysis for SSVEP-based BCIs. IEEE Trans Biomed Eng 53:2610-2614.
Chen X, Wang Y, Gao S, Jung TP, Gao X (2015) Filter bank canonical correlation
analysis for implementing a high-speed SSVEP-based brain-computer interface.
J Neural Eng 12:046008.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from neurosig._logging import get_logger
from neurosig._validation import (
    check_labels,
    check_n_features,
    check_positive_float,
    check_positive_int,
    check_signal_array,
    declare_3d_input,
)

logger = get_logger(__name__)


def cca_references(freqs, n_times: int, sfreq: float, n_harmonics: int = 3) -> np.ndarray:
    """Sine / cosine reference signals.

    Parameters
    ----------
    freqs : sequence of float, length n_freqs
        Stimulation frequencies (Hz).
    n_times : int
        Samples per trial.
    sfreq : float
        Sampling rate (Hz).
    n_harmonics : int
        Harmonics ``h = 1..n_harmonics``.

    Returns
    -------
    Y : ndarray, shape (n_freqs, 2 * n_harmonics, n_times)
        Rows ``sin(2 pi h f t), cos(2 pi h f t)`` for each harmonic.
    """
    t = np.arange(n_times) / float(sfreq)
    out = []
    for f in freqs:
        rows = []
        for h in range(1, n_harmonics + 1):
            rows += [np.sin(2 * np.pi * h * f * t), np.cos(2 * np.pi * h * f * t)]
        out.append(rows)
    return np.asarray(out, dtype=float)


def _orthonormal_basis(A: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the column space of the centred ``A``, shape (..., n_times, rank)."""
    A = A - A.mean(-2, keepdims=True)
    q, r = np.linalg.qr(A)
    # drop directions of (numerically) zero variance so that flat channels do not fake correlations
    d = np.abs(np.diagonal(r, axis1=-2, axis2=-1))
    keep = d > 1e-10 * np.maximum(d.max(-1, keepdims=True), 1e-300)
    return q * keep[..., None, :]


def max_canonical_correlations(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Largest canonical correlation of every trial with every reference set.

    Computed as the largest singular value of ``Qx^T Qy`` where ``Qx``, ``Qy``
    are orthonormal bases (QR) of the centred signals (Bjorck & Golub 1973).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Trials.
    Y : ndarray, shape (n_refs, n_ref_signals, n_times)
        Reference sets (e.g. :func:`cca_references`).

    Returns
    -------
    rho : ndarray, shape (n_trials, n_refs)
        Values in [0, 1].
    """
    qx = _orthonormal_basis(np.swapaxes(np.asarray(X, float), -1, -2))      # (n_trials, T, C)
    qy = _orthonormal_basis(np.swapaxes(np.asarray(Y, float), -1, -2))      # (n_refs, T, R)
    m = np.einsum("itc,jtr->ijcr", qx, qy)
    s = np.linalg.svd(m, compute_uv=False)
    return np.clip(s[..., 0], 0.0, 1.0)


def _check_3d(X, name: str = "X") -> np.ndarray:
    """X as float64 (n_trials, n_channels, n_times): the shared check, with a hint for 4-D input."""
    shape = tuple(X.shape) if hasattr(X, "shape") else np.shape(np.asarray(X))
    if len(shape) == 4:
        raise ValueError(f"Invalid value for the '{name}' parameter. Allowed values are arrays of shape "
                         f"(n_trials, n_channels, n_times), but got shape {shape} instead. "
                         "FilterBankSSVEP returns (n_trials, n_channels, n_times, n_bands): use the SSVEP "
                         "paradigm with these classifiers (FilterBankCCA builds its own bands).")
    return check_signal_array(name, X, ndim=3)


class SSVEPCCA(ClassifierMixin, BaseEstimator):
    """SSVEP classification by canonical correlation with sine / cosine references (Lin et al. 2006).

    Parameters
    ----------
    freqs : list of float | dict | None
        Stimulation frequency of each class: a list in the order of the
        sorted class labels (``np.unique(y)``), a ``{label: Hz}`` dict, or
        None to read them from the labels (MOABB's SSVEP labels are the
        frequencies as strings, e.g. ``"13"``).
    sfreq : float | None
        Sampling rate (Hz). None is filled in by the benchmark from the
        epochs (:func:`neurosig.pipelines.fill_sfreq`); ``fit`` refuses None.
    n_harmonics : int
        Harmonics in the references (``h = 1..n_harmonics``).

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
    freqs_ : ndarray, shape (n_classes,)
        Frequency (Hz) of each class.
    n_times_ : int
        Trial length the references were built for.
    references_ : ndarray, shape (n_classes, 2 * n_harmonics, n_times)
    """

    def __init__(self, freqs=None, sfreq=None, n_harmonics: int = 3):
        self.freqs = freqs
        self.sfreq = sfreq
        self.n_harmonics = n_harmonics

    # ------------------------------------------------------------------ fitting
    def _validate(self):
        if self.sfreq is None:
            raise ValueError("Invalid value for the 'sfreq' parameter. Allowed values are positive "
                             "numbers (Hz; the benchmark fills None from the data), but got None instead.")
        check_positive_float("sfreq", self.sfreq)
        check_positive_int("n_harmonics", self.n_harmonics)

    def _class_freqs(self, classes: np.ndarray) -> np.ndarray:
        if self.freqs is None:
            out = []
            for c in classes:
                try:
                    out.append(float(c))
                except (TypeError, ValueError):
                    raise ValueError(
                        f"Invalid value for the 'freqs' parameter: None reads the stimulation frequencies "
                        f"from the class labels, but label {c!r} is not a number (labels "
                        f"{list(classes)}). Pass freqs as a list (one per class, sorted labels) or a "
                        f"{{label: Hz}} dict.") from None
            return np.array(out)
        if isinstance(self.freqs, dict):
            missing = [c for c in classes if c not in self.freqs]
            if missing:
                raise ValueError(f"Invalid value for the 'freqs' parameter: no frequency for classes "
                                 f"{missing}; the dict has keys {list(self.freqs)}.")
            return np.array([float(self.freqs[c]) for c in classes])
        freqs = np.asarray(self.freqs, dtype=float).ravel()
        if freqs.size != classes.size:
            raise ValueError(f"Invalid value for the 'freqs' parameter. Allowed values are one frequency per "
                             f"class ({classes.size}: {list(classes)}), but got {list(freqs)} instead.")
        return freqs

    def fit(self, X, y):
        """Learn the classes and build the references.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
        y : ndarray, shape (n_trials,)
        """
        self._validate()
        X = _check_3d(X)
        y = check_labels("y", y, len(X))
        self.classes_ = np.unique(y)
        self.freqs_ = self._class_freqs(self.classes_)
        nyq = self.sfreq / 2.0
        if np.any(self.freqs_ <= 0) or np.any(self.freqs_ >= nyq):
            raise ValueError(f"Invalid value for the 'freqs' parameter. Allowed values are frequencies in "
                             f"(0, {nyq:g}) Hz (sfreq / 2), but got {list(self.freqs_)} instead.")
        self.n_times_ = X.shape[2]
        self.n_channels_ = X.shape[1]
        self.n_features_in_ = X.shape[1]
        self.references_ = cca_references(self.freqs_, self.n_times_, self.sfreq, self.n_harmonics)
        return self

    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self, "references_")
        X = _check_3d(X)
        check_n_features(self, X)
        if X.shape[1:] != (self.n_channels_, self.n_times_):
            raise ValueError(f"Invalid value for the 'X' parameter: fitted on trials of shape "
                             f"({self.n_channels_}, {self.n_times_}), but got {X.shape[1:]} instead.")
        return X

    # ------------------------------------------------------------------ prediction
    def correlations(self, X) -> np.ndarray:
        """Largest canonical correlation with each class's references, shape (n_trials, n_classes).

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            EEG trials, of the channel count and length seen in ``fit``.
        """
        return max_canonical_correlations(self._check_X(X), self.references_)

    def _scores(self, X) -> np.ndarray:
        return self.correlations(X)

    def decision_function(self, X) -> np.ndarray:
        """Class scores, shape (n_trials, n_classes); for two classes, shape (n_trials,): score[1] - score[0].

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            EEG trials, of the channel count and length seen in ``fit``.
        """
        s = self._scores(X)
        return s[:, 1] - s[:, 0] if s.shape[1] == 2 else s

    def predict(self, X) -> np.ndarray:
        """Label of the highest score, shape (n_trials,).

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            EEG trials, of the channel count and length seen in ``fit``.
        """
        scores = self._scores(X)  # checks fitted state and X first
        return self.classes_[np.argmax(scores, axis=1)]

    def __sklearn_tags__(self):
        return declare_3d_input(super().__sklearn_tags__())


class FilterBankCCA(SSVEPCCA):
    """Filter-bank CCA (Chen et al. 2015).

    The trial is filtered into ``n_bands`` sub-bands ``[low_step * n, high]``
    Hz (n = 1..n_bands; Chebyshev type I, order 4, 0.5 dB ripple, zero phase);
    the class score is ``sum_n (n ** -a + b) * rho_n ** 2`` with ``rho_n`` the
    largest canonical correlation in band ``n``.

    Parameters
    ----------
    freqs : list of float | dict | None
        Stimulation frequency of each class, as for :class:`SSVEPCCA`.
    sfreq : float | None
        Sampling rate (Hz), as for :class:`SSVEPCCA`.
    n_harmonics : int
        Harmonics in the references, as for :class:`SSVEPCCA`.
    n_bands : int
        Number of sub-bands (Chen et al.: 5 with 8-Hz steps for 8-16 Hz stimuli).
    low_step : float
        Low edge step in Hz (band ``n`` starts at ``low_step * n``).
    high : float
        High edge of every band in Hz (clipped to 0.45 x ``sfreq``).
    a : float
        Exponent of the band weights ``w(n) = n ** -a + b``.
    b : float
        Offset of the band weights ``w(n) = n ** -a + b``.

    Attributes
    ----------
    bands_ : ndarray, shape (n_bands, 2)
        Band edges (Hz).
    weights_ : ndarray, shape (n_bands,)
    """

    def __init__(self, freqs=None, sfreq=None, n_harmonics: int = 3, n_bands: int = 5,
                 low_step: float = 8.0, high: float = 88.0, a: float = 1.25, b: float = 0.25):
        super().__init__(freqs=freqs, sfreq=sfreq, n_harmonics=n_harmonics)
        self.n_bands = n_bands
        self.low_step = low_step
        self.high = high
        self.a = a
        self.b = b

    def fit(self, X, y):
        """Learn the classes, build the references and the filter bank.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
        y : ndarray, shape (n_trials,)
        """
        from scipy.signal import cheby1

        self._validate()
        check_positive_int("n_bands", self.n_bands)
        check_positive_float("low_step", self.low_step)
        check_positive_float("high", self.high)
        check_positive_float("a", self.a, allow_zero=True)
        check_positive_float("b", self.b, allow_zero=True)
        high = min(float(self.high), 0.45 * self.sfreq)
        lows = self.low_step * np.arange(1, self.n_bands + 1)
        if lows[-1] >= high:
            raise ValueError(f"Invalid value for the 'n_bands' parameter: band {self.n_bands} would start at "
                             f"{lows[-1]:g} Hz, above its high edge {high:g} Hz (min(high, 0.45 x sfreq)). "
                             f"Allowed values are at most {int(np.ceil(high / self.low_step)) - 1}, "
                             f"but got {self.n_bands} instead.")
        super().fit(X, y)
        self.bands_ = np.column_stack([lows, np.full(lows.size, high)])
        self.weights_ = np.arange(1, self.n_bands + 1, dtype=float) ** -float(self.a) + float(self.b)
        self.sos_ = [cheby1(4, 0.5, band, btype="bandpass", fs=self.sfreq, output="sos")
                     for band in self.bands_]
        return self

    def band_correlations(self, X) -> np.ndarray:
        """Largest canonical correlation per band and class, shape (n_trials, n_bands, n_classes).

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            EEG trials, of the channel count and length seen in ``fit``.
        """
        from scipy.signal import sosfiltfilt

        X = self._check_X(X)
        return np.stack([max_canonical_correlations(sosfiltfilt(sos, X, axis=-1), self.references_)
                         for sos in self.sos_], axis=1)

    def _scores(self, X) -> np.ndarray:
        rho = self.band_correlations(X)
        return np.einsum("b,nbk->nk", self.weights_, rho**2)
