"""Patch embedding and patch masks shared by the bi-Mamba and transformer encoders.

FEMBA's tokeniser: a ``Conv2d(1, embed_dim, kernel=(2, 16), stride=(2, 16))`` over
the (channels, samples) plane, so each token is one time patch of 16 samples and
its width is ``embed_dim x n_channel_pairs`` (features major, channel pairs minor,
FEMBA's flattening order). A patch mask is a boolean grid
(batch, n_channel_pairs, n_tokens); masked input patches are set to zero before
the embedding.
"""
from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import torch
from torch import nn

from .._validation import check_option, check_positive_int


def check_window(n_channels: int, n_times: int, patch_size: tuple[int, int], what: str) -> tuple[int, int]:
    """Grid (n_pairs, n_tokens) of a window; clear error if the window does not tile into patches."""
    pc, pt = patch_size
    if n_channels < pc or n_channels % pc:
        raise ValueError(f"Invalid value for the 'n_channels' parameter of {what}: the patch covers "
                         f"{pc} channels, so the channel count must be a positive multiple of {pc}, "
                         f"but got {n_channels} instead (no silent padding or dropping of channels).")
    if n_times < pt or n_times % pt:
        raise ValueError(f"Invalid value for the 'n_times' parameter of {what}: the patch covers "
                         f"{pt} samples, so the window length must be a positive multiple of {pt}, "
                         f"but got {n_times} instead (crop the windows first).")
    return n_channels // pc, n_times // pt


class PatchEmbed(nn.Module):
    """(batch, n_channels, n_times) -> tokens (batch, n_tokens, embed_dim * n_pairs)."""

    def __init__(self, embed_dim: int, patch_size: tuple[int, int] = (2, 16)):
        super().__init__()
        self.proj = nn.Conv2d(1, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x.unsqueeze(1))  # (b, E, n_pairs, n_tokens)
        return x.reshape(x.shape[0], x.shape[1] * x.shape[2], x.shape[3]).transpose(1, 2)


def apply_patch_mask(x: torch.Tensor, mask: torch.Tensor, patch_size: tuple[int, int]) -> torch.Tensor:
    """Zero the masked patches. x (b, C, T); mask bool (b, C // pc, T // pt) -> (b, C, T)."""
    pc, pt = patch_size
    full = mask.repeat_interleave(pc, dim=1).repeat_interleave(pt, dim=2)
    return x.masked_fill(full, 0.0)


def patchify(x: torch.Tensor, patch_size: tuple[int, int]) -> torch.Tensor:
    """(b, C, T) -> (b, n_pairs, n_tokens, pc * pt): the samples of each patch."""
    b, C, T = x.shape
    pc, pt = patch_size
    return x.reshape(b, C // pc, pc, T // pt, pt).permute(0, 1, 3, 2, 4).reshape(b, C // pc, T // pt, pc * pt)


def random_patch_mask(batch: int, n_pairs: int, n_tokens: int, ratio: float,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean mask (batch, n_pairs, n_tokens) with exactly round(ratio * n_pairs * n_tokens) True per window."""
    n = n_pairs * n_tokens
    k = int(round(ratio * n))
    scores = torch.rand(batch, n, generator=generator)
    idx = scores.argsort(dim=1)[:, :k]
    mask = torch.zeros(batch, n, dtype=torch.bool)
    mask.scatter_(1, idx, True)
    return mask.reshape(batch, n_pairs, n_tokens)


SCALINGS = ("zscore", "none")


def scale_windows(x: torch.Tensor, mode: str = "zscore", eps: float = 1e-8) -> torch.Tensor:
    """Per-window, per-channel standardisation ("zscore") or identity ("none"); x (b, C, T)."""
    if mode == "none":
        return x
    mu = x.mean(dim=-1, keepdim=True)
    sd = x.std(dim=-1, keepdim=True)
    return (x - mu) / (sd + eps)


class PatchConfigMixin:
    """What the encoder configs share: presets, the token grid, checks and (de)serialisation.

    Subclasses are frozen dataclasses with ``n_channels``, ``n_times``, ``embed_dim``,
    ``patch_size``, ``size`` and ``arch`` fields, a ``_SIZES`` dict of presets (set after
    the class body) and ``_INT_FIELDS``, the fields that must be positive integers.
    """

    _SIZES: dict = {}
    _INT_FIELDS: tuple = ()
    _OWNER: str = "encoder"

    @classmethod
    def from_size(cls, size: str, **overrides):
        """Preset ``size`` with field overrides (e.g. ``n_channels``)."""
        check_option("size", size, list(cls._SIZES))
        return cls(**{**cls._SIZES[size], **overrides, "size": size})

    @property
    def n_pairs(self) -> int:
        return self.n_channels // self.patch_size[0]

    @property
    def n_tokens(self) -> int:
        return self.n_times // self.patch_size[1]

    @property
    def d_model(self) -> int:
        return self.embed_dim * self.n_pairs

    def validate(self):
        for name in ("n_channels", "n_times", "embed_dim") + tuple(self._INT_FIELDS):
            check_positive_int(name, getattr(self, name))
        check_window(self.n_channels, self.n_times, tuple(self.patch_size), self._OWNER)
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["patch_size"] = list(self.patch_size)
        return d

    @classmethod
    def from_dict(cls, d: dict):
        d = {k: v for k, v in d.items() if k != "arch"}
        d["patch_size"] = tuple(d.get("patch_size", (2, 16)))
        return cls(**d)

    def replace(self, **changes):
        return replace(self, **changes)


class PatchEncoder(nn.Module):
    """Base of the patch encoders: config resolution, patch + positional embedding, input checks.

    ``forward(x, mask=None)`` of a subclass starts with ``h = self.embed(x, mask)``:
    x, shape (batch, n_channels, n_times) -> h, shape (batch, n_tokens, d_model).
    """

    config_class: type = PatchConfigMixin

    def __init__(self, config: Any = "tiny", **overrides):
        super().__init__()
        if isinstance(config, str):
            config = self.config_class.from_size(config, **overrides)
        elif overrides:
            config = config.replace(**overrides)
        self.config = config.validate()
        c = self.config
        self.patch_embed = PatchEmbed(c.embed_dim, tuple(c.patch_size))
        self.pos_embed = nn.Parameter(torch.zeros(1, c.n_tokens, c.d_model))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    @property
    def d_model(self) -> int:
        return self.config.d_model

    def check_input(self, x: torch.Tensor) -> None:
        c = self.config
        if x.ndim != 3 or tuple(x.shape[1:]) != (c.n_channels, c.n_times):
            raise ValueError(f"{type(self).__name__} expects windows of shape (batch, n_channels={c.n_channels}, "
                             f"n_times={c.n_times}), but got {tuple(x.shape)}.")

    def embed(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Checked, masked (optional) patch embedding plus positions: (batch, n_tokens, d_model)."""
        self.check_input(x)
        if mask is not None:
            x = apply_patch_mask(x, mask, tuple(self.config.patch_size))
        return self.patch_embed(x) + self.pos_embed
