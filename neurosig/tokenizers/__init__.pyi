"""Type stub of ``neurosig.tokenizers``: the names it exports lazily, for editors and type checkers."""

from .tfm import (
    TFMConfig as TFMConfig,
    TFMTokenizer as TFMTokenizer,
    TFMTokenizerEstimator as TFMTokenizerEstimator,
)
from .vq import VectorQuantizer as VectorQuantizer

__all__ = [
    "TFMConfig",
    "TFMTokenizer",
    "TFMTokenizerEstimator",
    "VectorQuantizer",
]
