"""Transfer baselines: align every domain (session or subject) to a common reference.

Two aligners, one interface (a *domain-aware* scikit-learn transformer):

- :class:`EuclideanAlignment` (He & Wu 2019) whitens the raw signals of each domain by
  the inverse square root of that domain's arithmetic mean trial covariance, so the mean
  covariance of every aligned domain is the identity;
- :class:`RiemannianRecentering` (Zanini et al. 2018) moves the covariance matrices of
  each domain so that their Riemannian (or other) mean is the identity; it wraps
  pyRiemann's :class:`pyriemann.transfer.TLCenter`.

``fit(X, domains=..., target_domain=...)`` learns one reference per domain;
``fit_transform`` aligns each trial with the reference of its own domain (training
time); ``transform`` aligns everything with the reference of the *target* domain (test
time: the test trials all come from the target session or subject, whose reference was
estimated from its calibration trials). Without ``domains`` all trials form one domain.

:func:`fit_transfer` fits a scikit-learn pipeline that contains one aligner: the steps
before it see every trial, the aligner sees every trial with its domain (source trials
and the target's calibration trials, labeled or not), the steps after it are fitted on
the labeled trials only. Scoring then calls the pipeline's ``predict`` as usual.

:func:`fit_transfer` hands ``domains`` to the aligner itself rather than through
scikit-learn's metadata routing: from scikit-learn 1.6 to at least 1.9 routing works only
after the global ``sklearn.set_config(enable_metadata_routing=True)``
(``set_fit_request`` raises without it), and a routed ``Pipeline.fit`` could not fit the
steps after the aligner on the labeled trials alone.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    check_n_features,
    check_option,
    check_positive_float,
    check_signal_array,
    declare_3d_input,
)
from .tangent import NotSPDError, sqrt_isqrt

__all__ = ["EuclideanAlignment", "RiemannianRecentering", "fit_transfer", "find_aligner",
           "euclidean_reference", "inv_sqrtm"]


def inv_sqrtm(C: np.ndarray) -> np.ndarray:
    """Inverse square root of a symmetric positive definite matrix (eigendecomposition).

    Parameters
    ----------
    C : ndarray, shape (n_channels, n_channels)

    Returns
    -------
    ndarray, shape (n_channels, n_channels)
    """
    try:
        return sqrt_isqrt((C + C.T) / 2, rtol=1e-12)[1]
    except NotSPDError as exc:
        raise ValueError(f"The reference matrix is not positive definite ({str(exc).split('(')[-1]}: the "
                         "channels are linearly dependent (e.g. average reference). Set 'shrinkage' > 0 "
                         "or drop a channel.") from None


def euclidean_reference(X: np.ndarray, shrinkage: float = 0.0) -> np.ndarray:
    """Arithmetic mean of the trial covariances ``X_i X_i^T / n_times`` (He & Wu 2019).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    shrinkage : float
        Blend with the scaled identity: ``(1 - s) R + s tr(R)/n_channels I``.

    Returns
    -------
    R : ndarray, shape (n_channels, n_channels)
    """
    R = np.einsum("ict,idt->cd", X, X) / (X.shape[0] * X.shape[2])
    if shrinkage:
        R = (1 - shrinkage) * R + shrinkage * np.trace(R) / R.shape[0] * np.eye(R.shape[0])
    return R


def _domains_of(X: np.ndarray, domains: Any) -> np.ndarray:
    if domains is None:
        return np.full(len(X), "all", dtype=object)
    d = np.asarray(domains, dtype=object)
    if d.ndim != 1 or len(d) != len(X):
        raise ValueError(f"The 'domains' parameter must be a 1-D array with one domain per trial "
                         f"({len(X)}), but got shape {d.shape}.")
    return np.array([str(v) for v in d], dtype=object)


def _target_of(domains: np.ndarray, target_domain: Any) -> str:
    names = list(dict.fromkeys(domains))
    if target_domain is None:
        return names[-1]
    if str(target_domain) not in names:
        raise ValueError(f"Invalid value for the 'target_domain' parameter. Allowed values are the "
                         f"domains of the fitted trials {names}, but got {target_domain!r} instead.")
    return str(target_domain)


class _DomainAligner(TransformerMixin, BaseEstimator):
    """Shared shell: per-domain references, per-domain fit_transform, target transform."""

    #: marks the estimators :func:`fit_transfer` treats as the domain-aware step
    _domain_aware = True

    def _check_X(self, X) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def _reference(self, X: np.ndarray) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _apply(self, ref: Any, X: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def fit(self, X, y=None, domains=None, target_domain=None):
        """Learn one reference per domain.

        Parameters
        ----------
        X : ndarray
            Trials (shape per subclass).
        y : ignored
        domains : array-like, shape (n_trials,) | None
            Domain (session or subject) of every trial; None: one domain.
        target_domain : str | None
            Domain whose reference :meth:`transform` uses (default: the last domain seen).
        """
        X = self._check_X(X)
        self._check_params()
        d = _domains_of(X, domains)
        self.target_domain_ = _target_of(d, target_domain)
        self.references_ = {k: self._reference(X[d == k]) for k in dict.fromkeys(d)}
        self.n_domains_ = len(self.references_)
        self.n_features_in_ = X.shape[1]
        return self

    def fit_transform(self, X, y=None, domains=None, target_domain=None):
        """Fit, then align every trial with the reference of its own domain.

        Parameters
        ----------
        X : ndarray
            Trials (shape per subclass).
        y : ignored
        domains : array-like, shape (n_trials,) | None
            Domain (session or subject) of every trial; None: one domain.
        target_domain : str | None
            Domain whose reference :meth:`transform` uses (default: the last domain seen).

        Returns
        -------
        ndarray, same shape as ``X``
        """
        self.fit(X, y, domains=domains, target_domain=target_domain)
        X = self._check_X(X)
        d = _domains_of(X, domains)
        out = np.empty_like(X, dtype=float)
        for k, ref in self.references_.items():
            out[d == k] = self._apply(ref, X[d == k])
        return out

    def transform(self, X):
        """Align every trial with the reference of the target domain (test time).

        Parameters
        ----------
        X : ndarray
            Trials (shape per subclass), all aligned with the target domain's reference.

        Returns
        -------
        ndarray, same shape as ``X``
        """
        check_is_fitted(self, "references_")
        X = self._check_X(X)
        check_n_features(self, X)
        return self._apply(self.references_[self.target_domain_], X)

    def _check_params(self) -> None:
        pass

    def __sklearn_tags__(self):
        return declare_3d_input(super().__sklearn_tags__())


class EuclideanAlignment(_DomainAligner):
    """Euclidean alignment of raw EEG trials (He & Wu 2019), per domain.

    For each domain, ``R = mean_i X_i X_i^T / n_times`` and every trial of the domain
    becomes ``R^{-1/2} X_i``; the mean covariance of the aligned trials of each domain is
    then the identity.

    Parameters
    ----------
    shrinkage : float
        In [0, 1): blend of ``R`` with ``tr(R)/n_channels * I`` before inversion
        (0: the published method; > 0 for rank-deficient data).

    Attributes
    ----------
    references_ : dict
        Domain -> ``R^{-1/2}``, ndarray shape (n_channels, n_channels).
    target_domain_ : str
    n_domains_ : int

    References
    ----------
    He H., Wu D. (2019) Transfer learning for brain-computer interfaces: a Euclidean space
    data alignment approach. IEEE TBME 67(2). doi:10.1109/TBME.2019.2913914
    """

    def __init__(self, shrinkage: float = 0.0):
        self.shrinkage = shrinkage

    def _check_params(self) -> None:
        s = check_positive_float("shrinkage", self.shrinkage, allow_zero=True)
        if s >= 1:
            raise ValueError(f"Invalid value for the 'shrinkage' parameter. Allowed values are in "
                             f"[0, 1), but got {self.shrinkage!r} instead.")

    def _check_X(self, X) -> np.ndarray:
        return check_signal_array("X", X, ndim=3)

    def _reference(self, X: np.ndarray) -> np.ndarray:
        return inv_sqrtm(euclidean_reference(X, float(self.shrinkage or 0.0)))

    def _apply(self, ref: np.ndarray, X: np.ndarray) -> np.ndarray:
        return np.einsum("cd,idt->ict", ref, X)


class RiemannianRecentering(_DomainAligner):
    """Re-centre SPD matrices of each domain at the identity (pyRiemann's ``TLCenter``).

    Parameters
    ----------
    metric : str
        Metric of the domain mean (``"riemann"``: the published method; any metric of
        :func:`pyriemann.geometry.mean.mean_covariance`).

    Attributes
    ----------
    references_ : dict
        Domain -> fitted :class:`pyriemann.preprocessing.Whitening` (the domain mean
        ``M`` applied as ``M^{-1/2} C M^{-1/2}``), from ``TLCenter.centers_``.
    target_domain_ : str
    n_domains_ : int

    References
    ----------
    Zanini P. et al. (2018) Transfer learning: a Riemannian geometry framework with
    applications to brain-computer interfaces. IEEE TBME 65(5). doi:10.1109/TBME.2017.2742541
    """

    def __init__(self, metric: str = "riemann"):
        self.metric = metric

    def _check_X(self, X) -> np.ndarray:
        X = check_signal_array("X", X, ndim=3)
        if X.shape[1] != X.shape[2]:
            raise ValueError(f"RiemannianRecentering expects SPD matrices of shape (n_trials, "
                             f"n_channels, n_channels), but got shape {X.shape}.")
        return X

    def fit(self, X, y=None, domains=None, target_domain=None):
        from pyriemann.transfer import TLCenter, encode_domains

        X = self._check_X(X)
        check_option("metric", self.metric, ("riemann", "logeuclid", "euclid", "harmonic", "logdet",
                                              "wasserstein", "kullback_sym", "ale", "alm"))
        d = _domains_of(X, domains)
        self.target_domain_ = _target_of(d, target_domain)
        _, y_enc = encode_domains(X, np.zeros(len(X), int), d)
        tl = TLCenter(target_domain=self.target_domain_, metric=self.metric).fit(X, y_enc)
        # keep the domains in first-seen order (TLCenter sorts them)
        self.references_ = {k: tl.centers_[k] for k in dict.fromkeys(d)}
        self.n_domains_ = len(self.references_)
        self.n_features_in_ = X.shape[1]
        return self

    def _apply(self, ref: Any, X: np.ndarray) -> np.ndarray:
        return ref.transform(X)


def find_aligner(estimator: Any) -> int | None:
    """Index of the domain-aware step of a pipeline (or 0 for a bare aligner), else None.

    Parameters
    ----------
    estimator : estimator
        A pipeline (its ``steps`` searched) or a bare estimator.

    Raises
    ------
    ValueError
        If the pipeline holds more than one domain-aware step.
    """
    steps = getattr(estimator, "steps", None)
    if steps is None:
        return 0 if getattr(estimator, "_domain_aware", False) else None
    idx = [i for i, (_, s) in enumerate(steps) if getattr(s, "_domain_aware", False)]
    if len(idx) > 1:
        raise ValueError(f"A transfer pipeline may hold one domain-aware step, but got "
                         f"{[steps[i][0] for i in idx]}.")
    return idx[0] if idx else None


def fit_transfer(estimator: Any, X: np.ndarray, y: np.ndarray, domains: Any, target_domain: Any,
                 labeled: Any = None) -> Any:
    """Fit a pipeline holding one aligner on source trials and the target's calibration trials.

    Parameters
    ----------
    estimator : sklearn.pipeline.Pipeline
        Steps before the aligner must not learn from labels (e.g. ``Covariances``); they
        are fitted on every trial.
    X : ndarray, shape (n_trials, ...)
        Source trials and the target domain's calibration trials.
    y : ndarray, shape (n_trials,)
        Labels; entries where ``labeled`` is False are ignored (unlabeled calibration).
    domains : array-like, shape (n_trials,)
        Domain of every trial (the target's calibration trials carry ``target_domain``).
    target_domain : str
        The domain whose reference aligns the test trials.
    labeled : array of bool, shape (n_trials,) | None
        Trials whose label the classifier may use (default: all).

    Returns
    -------
    estimator (fitted)
    """
    k = find_aligner(estimator)
    if k is None:
        raise ValueError("fit_transfer needs a pipeline with a domain-aware step "
                         "(EuclideanAlignment or RiemannianRecentering).")
    y = np.asarray(y)
    labeled = np.ones(len(X), bool) if labeled is None else np.asarray(labeled, bool)
    if not labeled.any():
        raise ValueError("fit_transfer needs at least one labeled trial.")
    steps = getattr(estimator, "steps", None)
    if steps is None:
        estimator.fit(X, domains=domains, target_domain=target_domain)
        return estimator
    Xt = X
    for _, step in steps[:k]:
        Xt = step.fit_transform(Xt)
    Xt = steps[k][1].fit_transform(Xt, domains=domains, target_domain=target_domain)
    Xt, yl = Xt[labeled], y[labeled]
    after = steps[k + 1:]
    for i, (_, step) in enumerate(after):
        if i < len(after) - 1:
            Xt = step.fit_transform(Xt, yl)
        else:
            step.fit(Xt, yl)
    return estimator
