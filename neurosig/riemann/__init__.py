"""Augmented-covariance (ACM) Riemannian estimators and hyper-parameter selection."""
import lazy_loader as _lazy

# names and their modules are listed in __init__.pyi (read by editors and type checkers too)
__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
