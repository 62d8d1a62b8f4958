"""Patch transformer encoder with the same interface as :class:`~neurosig.models.femba.BiMambaEncoder`.

Same FEMBA patch embedding (2 x 16 convolution over channel pairs and samples),
learned positional embedding, pre-norm blocks (LayerNorm -> multi-head
self-attention through :func:`torch.nn.functional.scaled_dot_product_attention`
-> residual; LayerNorm -> GELU MLP -> residual) and a final LayerNorm. Swap it
for the bi-Mamba encoder in any experiment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ._patch import PatchConfigMixin, PatchEncoder

#: Presets (n_layers, embed_dim per channel pair, heads); "tiny" has about FEMBA-Tiny's 7.8 M parameters.
TRANSFORMER_SIZES: dict[str, dict] = {
    "nano": dict(n_layers=1, embed_dim=4, n_heads=2, mlp_ratio=2),
    "tiny": dict(n_layers=4, embed_dim=35, n_heads=7, mlp_ratio=4),
    "base": dict(n_layers=24, embed_dim=35, n_heads=7, mlp_ratio=4),
}


@dataclass(frozen=True)
class TransformerConfig(PatchConfigMixin):
    """Configuration of :class:`PatchTransformer` (window shape, width per channel pair, depth, heads)."""

    n_channels: int = 22
    n_times: int = 1280
    embed_dim: int = 35
    n_layers: int = 4
    n_heads: int = 7
    mlp_ratio: int = 4
    patch_size: tuple = (2, 16)
    size: str = "custom"
    arch: str = field(default="transformer", init=False)

    _INT_FIELDS: ClassVar[tuple] = ("n_layers", "n_heads", "mlp_ratio")
    _OWNER: ClassVar[str] = "PatchTransformer"

    def validate(self) -> TransformerConfig:
        super().validate()
        if self.d_model % self.n_heads:
            raise ValueError(f"Invalid value for the 'n_heads' parameter: the token width "
                             f"{self.d_model} must be divisible by it, but got {self.n_heads}.")
        return self


TransformerConfig._SIZES = TRANSFORMER_SIZES


class Block(nn.Module):
    """Pre-norm transformer block; (batch, length, d_model) -> same shape.

    Parameters
    ----------
    d_model : int
        Token width (divisible by ``n_heads``).
    n_heads : int
        Attention heads.
    mlp_ratio : int
        Hidden width of the MLP, in multiples of ``d_model``.
    """

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: int):
        super().__init__()
        self.n_heads = n_heads
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_ratio * d_model), nn.GELU(),
                                 nn.Linear(mlp_ratio * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, L, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, L, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v)  # (b, heads, L, d_head)
        x = x + self.proj(a.transpose(1, 2).reshape(b, L, d))
        return x + self.mlp(self.norm2(x))


class PatchTransformer(PatchEncoder):
    """Transformer encoder over FEMBA patches.

    Parameters
    ----------
    config : TransformerConfig | str
        A config or a size name ("nano", "tiny", "base").
    **overrides
        Config fields to change when ``config`` is a size name.

    Notes
    -----
    ``forward(x, mask=None)``: x, shape (batch, n_channels, n_times) -> tokens,
    shape (batch, n_tokens, d_model); ``mask`` bool (batch, n_pairs, n_tokens)
    zeroes those input patches first.
    """

    arch = "transformer"

    config_class = TransformerConfig

    def __init__(self, config: TransformerConfig | str = "tiny", **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.blocks = nn.ModuleList([Block(c.d_model, c.n_heads, c.mlp_ratio) for _ in range(c.n_layers)])
        self.norm = nn.LayerNorm(c.d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.embed(x, mask)
        for block in self.blocks:
            h = block(h)
        return self.norm(h)
