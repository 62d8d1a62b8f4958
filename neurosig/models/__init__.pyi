"""Type stub of ``neurosig.models``: the names it exports lazily, for editors and type checkers."""

from .base import TorchClassifier as TorchClassifier
from .checkpoints import (
    load_encoder as load_encoder,
    load_femba_safetensors as load_femba_safetensors,
)
from .femba import (
    BiMambaEncoder as BiMambaEncoder,
    FEMBAConfig as FEMBAConfig,
)
from .foundation import (
    FoundationClassifier as FoundationClassifier,
    evaluate_over_seeds as evaluate_over_seeds,
)
from .mamba import (
    MambaBlock as MambaBlock,
    selective_scan as selective_scan,
)
from .pretrain import PretrainConfig as PretrainConfig
from .ridge import FastRidgeCV as FastRidgeCV
from .token_transformer import (
    TokenTransformer as TokenTransformer,
    TokenTransformerClassifier as TokenTransformerClassifier,
)
from .transformer import (
    PatchTransformer as PatchTransformer,
    TransformerConfig as TransformerConfig,
)

__all__ = [
    "BiMambaEncoder",
    "FEMBAConfig",
    "FastRidgeCV",
    "FoundationClassifier",
    "MambaBlock",
    "PatchTransformer",
    "PretrainConfig",
    "TokenTransformer",
    "TokenTransformerClassifier",
    "TorchClassifier",
    "TransformerConfig",
    "evaluate_over_seeds",
    "load_encoder",
    "load_femba_safetensors",
    "selective_scan",
]
