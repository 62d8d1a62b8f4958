"""Torch models: shared sklearn base, bi-Mamba and transformer encoders, token transformer."""
from neurosig._lazy import lazy_exports

_EXPORTS = {
    "TorchClassifier": "base",
    "BiMambaEncoder": "femba",
    "PatchTransformer": "transformer",
    "FoundationClassifier": "foundation",
    "TokenTransformer": "token_transformer",
    "TokenTransformerClassifier": "token_transformer",
    "FastRidgeCV": "ridge",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
