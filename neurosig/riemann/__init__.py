"""Augmented-covariance (ACM) Riemannian estimators and hyper-parameter selection."""
from neurosig._lazy import lazy_exports

_EXPORTS = {
    "AugmentedCovariances": "augmented",
    "ACMClassifier": "acm",
    "EuclideanAlignment": "transfer",
    "RiemannianRecentering": "transfer",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
