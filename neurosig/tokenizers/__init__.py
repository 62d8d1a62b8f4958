"""Tokenizers: TFM time-frequency motif tokens and the VQ codebook."""
from neurosig._lazy import lazy_exports

_EXPORTS = {
    "TFMTokenizer": "tfm",
    "TFMTokenizerEstimator": "tfm",
    "TFMConfig": "tfm",
    "VectorQuantizer": "vq",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
