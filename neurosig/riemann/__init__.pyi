"""Type stub of ``neurosig.riemann``: the names it exports lazily, for editors and type checkers."""

from .acm import ACMClassifier as ACMClassifier
from .augmented import AugmentedCovariances as AugmentedCovariances
from .transfer import (
    EuclideanAlignment as EuclideanAlignment,
    RiemannianRecentering as RiemannianRecentering,
)

__all__ = [
    "ACMClassifier",
    "AugmentedCovariances",
    "EuclideanAlignment",
    "RiemannianRecentering",
]
