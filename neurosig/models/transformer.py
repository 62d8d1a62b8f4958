"""Patch transformer encoder with the same interface as :class:`~neurosig.models.femba.BiMambaEncoder`.

Same FEMBA patch embedding (2 x 16 convolution over channel pairs and samples),
learned positional embedding, pre-norm blocks (LayerNorm -> multi-head
self-attention through :func:`torch.nn.functional.scaled_dot_product_attention`
-> residual; LayerNorm -> GELU MLP -> residual) and a final LayerNorm. Swap it
for the bi-Mamba encoder in any experiment.

:class:`Block` is the one pre-norm block of the models package (the
:class:`~neurosig.models.token_transformer.TokenTransformer` stacks it too, through
:class:`BlockStack`). It computes what torch's ``nn.TransformerEncoderLayer(...,
norm_first=True)`` computes and loads its state dicts, but is neurosig's own: it keeps the
parameter names of the encoders' checkpoints, and it is faster on CPU; on the
TokenTransformer's encoder (4 layers, width 64, 32 x 352 tokens, torch 2.13, 2 threads)
``PYTHONPATH=$PWD python benchmarks/transformer_block.py`` measured torch's layers 1.9x
slower in inference (``no_grad``) and 3.3x slower per training step.
"""
from __future__ import annotations

import copy
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


#: parameter names of torch's ``nn.TransformerEncoderLayer`` -> those of :class:`Block`
_TORCH_LAYER_KEYS = {"self_attn.in_proj_weight": "qkv.weight", "self_attn.in_proj_bias": "qkv.bias",
                     "self_attn.out_proj.weight": "proj.weight", "self_attn.out_proj.bias": "proj.bias",
                     "linear1.weight": "mlp.0.weight", "linear1.bias": "mlp.0.bias",
                     "linear2.weight": "mlp.2.weight", "linear2.bias": "mlp.2.bias"}
_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


class Block(nn.Module):
    """Pre-norm transformer block; (batch, length, d_model) -> same shape.

    ``x + Dropout(Attention(LayerNorm(x)))``, then ``x + Dropout(MLP(LayerNorm(x)))``,
    attention through :func:`torch.nn.functional.scaled_dot_product_attention`. It computes
    what torch's ``nn.TransformerEncoderLayer(..., norm_first=True, batch_first=True)``
    computes, with the same dropout masks: bit for bit in training and in evaluation with
    gradients (with ``attn_dropout > 0`` up to rounding), up to rounding under
    ``torch.no_grad()`` where torch takes a fused path. A state dict of such a layer loads
    into it (its parameter names are mapped). Written here rather than taken from torch so
    that the encoders keep their parameter names (``qkv``, ``proj``, ``mlp``) and the
    attention runs through ``scaled_dot_product_attention`` in training too.

    Parameters
    ----------
    d_model : int
        Token width (divisible by ``n_heads``).
    n_heads : int
        Attention heads.
    mlp_ratio : int
        Hidden width of the MLP, in multiples of ``d_model``.
    activation : {"gelu", "relu"}
        Non-linearity of the MLP.
    dropout : float
        Dropout of both residual branches and of the MLP's hidden layer (training only).
    attn_dropout : float
        Dropout of the attention weights (training only).
    """

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: int, activation: str = "gelu",
                 dropout: float = 0.0, attn_dropout: float = 0.0):
        super().__init__()
        self.n_heads = n_heads
        self.dropout, self.attn_dropout = float(dropout), float(attn_dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_ratio * d_model), _ACTIVATIONS[activation](),
                                 nn.Linear(mlp_ratio * d_model, d_model))

    @classmethod
    def like_torch_layer(cls, d_model: int, n_heads: int, mlp_ratio: int, activation: str = "relu",
                         dropout: float = 0.0, attn_dropout: float = 0.0) -> Block:
        """A block initialised as torch's ``nn.TransformerEncoderLayer(..., norm_first=True)``.

        The torch layer is drawn (the same random numbers, in the same order) and its
        weights copied, so a seeded model starts from the weights it had when built from
        torch's class.

        Parameters
        ----------
        d_model, n_heads, mlp_ratio, activation, dropout, attn_dropout
            As :class:`Block`.

        Returns
        -------
        block : Block
        """
        ref = nn.TransformerEncoderLayer(d_model, n_heads, mlp_ratio * d_model, dropout=dropout,
                                         activation=activation, batch_first=True, norm_first=True)
        with torch.random.fork_rng(devices=[]):  # the block's own initial weights are replaced
            block = cls(d_model, n_heads, mlp_ratio, activation, dropout, attn_dropout)
        block.load_state_dict(ref.state_dict())
        return block

    def _drop(self, x: torch.Tensor, length_first: bool = False) -> torch.Tensor:
        if not (self.dropout and self.training):
            return x
        if length_first:  # draw the mask in (length, batch) order, as torch's attention output is laid out
            return F.dropout(x.transpose(0, 1).contiguous(), self.dropout).transpose(0, 1)
        return F.dropout(x, self.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, L, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, L, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_dropout if self.training else 0.0)
        x = x + self._drop(self.proj(a.transpose(1, 2).reshape(b, L, d)), length_first=True)  # a: (b, heads, L, d_head)
        hidden = self._drop(self.mlp[1](self.mlp[0](self.norm2(x))))
        return x + self._drop(self.mlp[2](hidden))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for old, new in _TORCH_LAYER_KEYS.items():  # a torch TransformerEncoderLayer's state dict
            if prefix + old in state_dict and prefix + new not in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class BlockStack(nn.Module):
    """:class:`Block` s applied in turn; (batch, length, d_model) -> same shape.

    Initialised as torch's ``nn.TransformerEncoder(nn.TransformerEncoderLayer(...,
    norm_first=True), n_layers)``: one layer drawn with torch's initialisation and copied
    into every block, with the same random numbers, so a seeded model starts from the
    same weights as one built from torch's classes.

    Parameters
    ----------
    n_layers : int
        Number of blocks (``layers``).
    d_model, n_heads, mlp_ratio, activation, dropout, attn_dropout
        As :class:`Block`.
    """

    def __init__(self, n_layers: int, d_model: int, n_heads: int, mlp_ratio: int, activation: str = "relu",
                 dropout: float = 0.0, attn_dropout: float = 0.0):
        super().__init__()
        first = Block.like_torch_layer(d_model, n_heads, mlp_ratio, activation, dropout, attn_dropout)
        self.layers = nn.ModuleList([first] + [copy.deepcopy(first) for _ in range(n_layers - 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


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
