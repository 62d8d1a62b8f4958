"""Evaluation harness: BCI benchmark, results store, fMRI decoding, RSA."""
from neurosig._lazy import lazy_exports

_EXPORTS = {
    "benchmark": "bci",
    "ResultStore": "results",
    "decode_fmri": "fmri",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
