"""FEMBA-style bidirectional Mamba encoder.

Architecture (checked against the public FEMBA code, pulp-bio/BioFoundation
``models/FEMBA.py``): a 2 x 16 patch convolution over (channel pairs, samples)
gives one token per 16 samples of width ``embed_dim * n_channels / 2``; a learned
positional embedding is added; each block is ``x = LayerNorm(x + BiMamba(x))``
where BiMamba sums a forward Mamba and a Mamba run over the reversed sequence
(expansion 4, state 16, conv 4). Parameter names follow FEMBA's
(``patch_embed.proj``, ``pos_embed``, ``mamba_blocks.i.mamba_fwd``/``mamba_rev``,
``norm_layers.i``), so a published checkpoint's encoder loads key for key
(:func:`neurosig.models.checkpoints.load_femba_safetensors`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from ._patch import PatchConfigMixin, PatchEncoder
from .mamba import BiMamba

#: (n_blocks, embed_dim) of FEMBA's published sizes, plus a CPU-sized "nano".
FEMBA_SIZES: dict[str, dict] = {
    "nano": dict(n_blocks=1, embed_dim=4, expand=2, d_state=8),
    "tiny": dict(n_blocks=2, embed_dim=35),
    "base": dict(n_blocks=12, embed_dim=35),
    "large": dict(n_blocks=4, embed_dim=79),
    "huge": dict(n_blocks=20, embed_dim=79),
}

#: Parameter counts published in the FEMBA paper (22 channels, 5 s at 256 Hz).
FEMBA_PUBLISHED_PARAMS: dict[str, float] = {"tiny": 7.8e6, "base": 47.7e6, "large": 77.8e6, "huge": 386e6}


@dataclass(frozen=True)
class FEMBAConfig(PatchConfigMixin):
    """Configuration of :class:`BiMambaEncoder`.

    Attributes
    ----------
    n_channels, n_times : int
        Window shape (FEMBA: 22 TCP bipolar channels, 1280 samples = 5 s at 256 Hz).
    embed_dim : int
        Patch features per channel pair; token width is ``embed_dim * n_channels // 2``.
    n_blocks : int
        Bidirectional Mamba blocks.
    expand, d_state, d_conv : int
        Mamba inner expansion, state size, causal conv width.
    patch_size : tuple (2, 16)
        (channels, samples) covered by one patch.
    chunk_size : int
        Chunk length of the selective scan.
    recompute : bool
        Memory-saving training (:class:`~neurosig.models.mamba.MambaBlock` ``recompute``):
        each Mamba direction keeps only its input and the scan state every 256 steps for
        backward and recomputes the rest segment by segment (one extra forward pass; the
        same result). For long windows.
    size : str
        Name of the preset it came from ("custom" otherwise).
    """

    n_channels: int = 22
    n_times: int = 1280
    embed_dim: int = 35
    n_blocks: int = 2
    expand: int = 4
    d_state: int = 16
    d_conv: int = 4
    patch_size: tuple = (2, 16)
    chunk_size: int = 64
    recompute: bool = False
    size: str = "custom"
    arch: str = field(default="bimamba", init=False)

    _INT_FIELDS: ClassVar[tuple] = ("n_blocks", "expand", "d_state", "d_conv", "chunk_size")
    _OWNER: ClassVar[str] = "BiMambaEncoder"


FEMBAConfig._SIZES = FEMBA_SIZES


class BiMambaEncoder(PatchEncoder):
    """FEMBA encoder: patch embedding, positional embedding, bidirectional Mamba blocks.

    Parameters
    ----------
    config : FEMBAConfig | str
        A config or a size name ("nano", "tiny", "base", "large", "huge").
    **overrides
        Config fields to change when ``config`` is a size name (e.g. ``n_channels=8``).

    Notes
    -----
    ``forward(x, mask=None)``: x, shape (batch, n_channels, n_times) -> tokens,
    shape (batch, n_tokens, d_model) with ``n_tokens = n_times // 16`` and
    ``d_model = embed_dim * n_channels // 2``. ``mask``, bool (batch, n_pairs,
    n_tokens), zeroes those input patches first (masked pretraining).
    """

    arch = "bimamba"

    config_class = FEMBAConfig

    def __init__(self, config: FEMBAConfig | str = "tiny", **overrides):
        super().__init__(config, **overrides)
        c = self.config
        self.mamba_blocks = nn.ModuleList([
            BiMamba(c.d_model, d_state=c.d_state, d_conv=c.d_conv, expand=c.expand, chunk_size=c.chunk_size,
                    recompute=c.recompute)
            for _ in range(c.n_blocks)])
        self.norm_layers = nn.ModuleList([nn.LayerNorm(c.d_model) for _ in range(c.n_blocks)])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.embed(x, mask)
        for block, norm in zip(self.mamba_blocks, self.norm_layers):
            h = norm(h + block(h))  # FEMBA's post-norm residual
        return h


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (works for modules on the ``meta`` device).

    Parameters
    ----------
    module : torch.nn.Module
        Any module.
    """
    return sum(p.numel() for p in module.parameters())


def femba_param_count(size: str, **overrides) -> int:
    """Parameters of a named size, instantiated on the meta device (no memory).

    Parameters
    ----------
    size : str
        Size name ("nano", "tiny", "base", "large", "huge").
    **overrides
        Config fields to change (e.g. ``n_channels=8``), as for :class:`BiMambaEncoder`.
    """
    with torch.device("meta"):
        return count_parameters(BiMambaEncoder(size, **overrides))
