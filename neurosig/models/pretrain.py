"""Masked patch reconstruction pretraining for the bi-Mamba and transformer encoders.

A share ``mask_ratio`` (default 60%) of the (channel pair x 16 samples) patches of
each window is set to zero; the encoder sees the masked window, a linear head
maps every token back to the samples of its patches, and the Smooth-L1 loss is
taken over the masked patches only (FEMBA's objective).

:func:`pretrain` runs the shared :class:`~neurosig.models.training.Trainer`: AdamW,
linear warm-up then cosine decay, gradient clipping, mixed precision on GPUs,
progress bars over epochs and batches and a loss log,
early stopping on a held-out share, atomic checkpoints (``last.pt`` every epoch,
``best.pt`` at each improvement, ``history.json``) and resume after a crash. A
non-finite batch or loss stops with a clear error and leaves the last good
checkpoint untouched.

Data-parallel training: launched with ``torchrun --nproc_per_node N`` (or any
code that initialises :mod:`torch.distributed` first), :func:`pretrain` wraps the
model in DistributedDataParallel and gives every process its share of each
global batch. Batch order and masks depend only on (seed, epoch, step) and the
loss is normalised by the global number of masked samples, so N processes
compute the same updates as one process with the same global batch.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import InitVar, asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._io import load_torch_file
from .._logging import get_logger
from .._validation import check_option, check_positive_float, check_positive_int
from ..contracts import SignalContract
from ._patch import SCALINGS, patchify, random_patch_mask, scale_windows
from .checkpoints import encoder_from_dict
from .training import (
    Checkpointing,
    StepOutput,
    Trainer,
    TrainSettings,
    forked_rng,
    local_generator,
    lr_factor,
    resolve_device,
    split_indices,
)

logger = get_logger(__name__)

CHECKPOINT_FORMAT = "neurosig-pretrain"
_VAL_MASKS, _TRAIN_MASKS = 1, 3  # generator streams (the training loop uses 0, 2 and 4)

__all__ = ["CHECKPOINT_FORMAT", "MaskedReconstruction", "PretrainConfig", "PretrainResult", "load_pretrained",
           "lr_factor", "masked_loss_sum", "pretrain"]


@dataclass
class PretrainConfig:
    """Settings of :func:`pretrain` (all validated before any work).

    Attributes
    ----------
    max_epochs : int
        Maximum number of passes over the training windows.
    batch_size : int
        GLOBAL batch size (split across processes under DDP).
    lr, weight_decay : float
        AdamW settings (peak learning rate).
    warmup_steps : int
        Linear warm-up steps before the cosine decay.
    min_lr_ratio : float
        Final learning rate as a share of ``lr``.
    mask_ratio : float
        Share of patches masked per window (0 < r < 1).
    smooth_l1_beta : float
        Beta of the Smooth-L1 loss.
    grad_clip : float
        Max global gradient norm (0 disables clipping).
    amp : str
        "auto" (bf16/fp16 autocast on CUDA, off on CPU), "off", "bf16", "fp16".
    patience : int
        Early stopping: epochs without improvement of the validation loss.
    val_fraction : float
        Share of windows held out for early stopping (0: monitor the training loss).
    scaling : str
        Per-window input scaling, "zscore" (per channel) or "none".
    random_state : int
        Seeds initialisation, split, batch order and masks.
    device : str | None
        "cpu" or "cuda[:i]"; under DDP on GPUs the local rank's GPU is used.
    epochs, seed : int | None
        Former names of ``max_epochs`` and ``random_state`` (init-only), accepted for one
        release with a FutureWarning.
    """

    max_epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 10
    min_lr_ratio: float = 0.01
    mask_ratio: float = 0.6
    smooth_l1_beta: float = 1.0
    grad_clip: float = 1.0
    amp: str = "auto"
    patience: int = 5
    val_fraction: float = 0.1
    scaling: str = "zscore"
    random_state: int = 0
    device: str | None = None
    epochs: InitVar[int | None] = None
    seed: InitVar[int | None] = None

    def __post_init__(self, epochs: int | None, seed: int | None) -> None:
        for old, new, value in (("epochs", "max_epochs", epochs), ("seed", "random_state", seed)):
            if value is None:
                continue
            if getattr(self, new) != _DEFAULTS[new]:
                raise ValueError(f"PretrainConfig got both '{new}' and its former name '{old}'; give "
                                 f"only {new}={value!r}.")
            warnings.warn(f"The '{old}' parameter of PretrainConfig was renamed '{new}' (the scikit-learn "
                          f"name) and will be removed in the next release; pass {new}={value!r} instead.",
                          FutureWarning, stacklevel=3)
            setattr(self, new, value)

    def validate(self) -> PretrainConfig:
        check_positive_int("max_epochs", self.max_epochs)
        check_positive_int("batch_size", self.batch_size)
        check_positive_float("lr", self.lr)
        check_positive_float("weight_decay", self.weight_decay, allow_zero=True)
        check_positive_int("warmup_steps", self.warmup_steps, minimum=0)
        check_positive_float("min_lr_ratio", self.min_lr_ratio, allow_zero=True)
        check_positive_float("smooth_l1_beta", self.smooth_l1_beta)
        check_positive_float("grad_clip", self.grad_clip, allow_zero=True)
        check_positive_int("patience", self.patience)
        check_positive_int("random_state", self.random_state, minimum=0)
        check_option("amp", self.amp, ["auto", "off", "bf16", "fp16"])
        check_option("scaling", self.scaling, SCALINGS)
        for name, lo, hi in (("mask_ratio", 0.0, 1.0), ("val_fraction", -1e-12, 1.0)):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not (lo < v < hi):
                raise ValueError(f"Invalid value for the '{name}' parameter. Allowed values are in "
                                 f"({max(lo, 0)}, {hi}){' incl. 0' if lo < 0 else ''}, but got {v!r} instead.")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


_DEFAULTS = {"max_epochs": 10, "random_state": 0}  # defaults of the renamed fields


def _former_name(old: str, new: str) -> property:
    """Read access to a renamed field under its former name, with a FutureWarning."""
    def get(self):
        warnings.warn(f"PretrainConfig.{old} was renamed PretrainConfig.{new} (the scikit-learn name) and will "
                      f"be removed in the next release.", FutureWarning, stacklevel=2)
        return getattr(self, new)
    return property(get, doc=f"Former name of ``{new}`` (read only, deprecated).")


# after @dataclass has built __init__ (the init-only defaults are already in it)
PretrainConfig.epochs = _former_name("epochs", "max_epochs")
PretrainConfig.seed = _former_name("seed", "random_state")


class MaskedReconstruction(nn.Module):
    """Encoder + linear patch-reconstruction head.

    ``forward(x, mask)`` -> predictions, shape (batch, n_pairs, n_tokens, patch_len)
    for every patch (the loss keeps the masked ones).

    Parameters
    ----------
    encoder : torch.nn.Module
        Patch encoder with a ``config`` (``d_model``, ``n_pairs``, ``n_tokens``, ``patch_size``),
        e.g. :class:`~neurosig.models.femba.BiMambaEncoder`.
    """

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        c = encoder.config
        self.patch_len = int(c.patch_size[0] * c.patch_size[1])
        self.head = nn.Linear(c.d_model, c.n_pairs * self.patch_len)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        c = self.encoder.config
        tokens = self.encoder(x, mask=mask)  # (b, T, D)
        out = self.head(tokens).reshape(x.shape[0], c.n_tokens, c.n_pairs, self.patch_len)
        return out.transpose(1, 2)


def masked_loss_sum(model: nn.Module, x: torch.Tensor, mask: torch.Tensor, beta: float,
                    patch_size: tuple[int, int]) -> torch.Tensor:
    """Sum of the Smooth-L1 loss over the masked patches' samples (x already scaled).

    Parameters
    ----------
    model : MaskedReconstruction
        Encoder + reconstruction head; ``model(x, mask)`` gives the predicted patches.
    x : Tensor, shape (batch, n_channels, n_times)
        Windows, already scaled.
    mask : Tensor of bool, shape (batch, n_pairs, n_tokens)
        True for the masked patches (the only ones the loss counts).
    beta : float
        Smooth-L1 threshold.
    patch_size : tuple of int
        (channels, samples) covered by one patch.
    """
    pred = model(x, mask)
    target = patchify(x, tuple(patch_size))
    return F.smooth_l1_loss(pred[mask].float(), target[mask].float(), beta=beta, reduction="sum")


# -- data ---------------------------------------------------------------------------------
class _Windows:
    """Index windows from an array (n_windows, n_channels, n_times) or a torch Dataset."""

    def __init__(self, data: Any):
        if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.utils.data.TensorDataset):
            self.array, self.dataset = None, data
            n = len(data)
            first = self._item(0)
        else:
            if isinstance(data, torch.utils.data.TensorDataset):
                data = data.tensors[0]
            arr = data.numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
            if arr.ndim != 3:
                raise ValueError("The 'data' parameter must be an array of shape (n_windows, n_channels, "
                                 f"n_times) or a torch Dataset of such windows, but got shape {arr.shape}.")
            self.array, self.dataset = np.ascontiguousarray(arr, dtype=np.float32), None
            n = len(arr)
            first = self.array[0]
        if n == 0:
            raise ValueError("The 'data' parameter holds no windows.")
        self.n = n
        self.shape = tuple(first.shape)

    def _item(self, i: int) -> np.ndarray:
        item = self.dataset[i]
        if isinstance(item, (tuple, list)):
            item = item[0]
        item = item.numpy() if isinstance(item, torch.Tensor) else np.asarray(item)
        if item.ndim != 2:
            raise ValueError(f"Dataset item {i} must be a window of shape (n_channels, n_times) (or a tuple "
                             f"whose first element is one), but got shape {item.shape}.")
        return item.astype(np.float32, copy=False)

    def batch(self, idx: np.ndarray) -> torch.Tensor:
        if self.array is not None:
            return torch.from_numpy(self.array[idx])
        return torch.from_numpy(np.stack([self._item(int(i)) for i in idx]))


@dataclass
class PretrainResult:
    """What :func:`pretrain` returns: the model (best weights), history and checkpoint paths."""

    model: MaskedReconstruction
    history: list = field(default_factory=list)
    best_loss: float = float("inf")
    best_epoch: int = -1
    stopped_early: bool = False
    checkpoint_dir: Path | None = None

    @property
    def encoder(self) -> nn.Module:
        return self.model.encoder


def pretrain(encoder: nn.Module, data: Any, config: PretrainConfig | None = None, *,
             checkpoint_dir: str | os.PathLike | None = None, resume: bool = True,
             contract: SignalContract | None = None, verbose: bool = True,
             callbacks: Sequence[Callable[[int, dict], None]] = ()) -> PretrainResult:
    """Masked patch reconstruction pretraining of ``encoder`` on unlabeled windows.

    Parameters
    ----------
    encoder : BiMambaEncoder | PatchTransformer
        The encoder to train (its config fixes the window shape).
    data : ndarray, shape (n_windows, n_channels, n_times) | torch Dataset
        Windows; a Dataset may yield ``x``, ``(x,)`` or ``(x, y)`` with x of shape
        (n_channels, n_times) (labels are ignored).
    config : PretrainConfig | None
        Training settings (defaults when None).
    checkpoint_dir : path-like | None
        Folder for ``last.pt``, ``best.pt`` and ``history.json`` (rank 0 writes).
    resume : bool
        Continue from ``checkpoint_dir/last.pt`` when it exists (same model and settings
        required, else a clear error).
    contract : SignalContract | None
        Stored in the checkpoints, so fine-tuning can check its input.
    verbose : bool
        Progress bars over epochs and over the batches of each epoch.
    callbacks : sequence of callables
        Called as ``cb(epoch, record)`` after every epoch (after the checkpoint is written).

    Returns
    -------
    PretrainResult
        ``model`` holds the best weights (lowest monitored loss).
    """
    config = (config or PretrainConfig()).validate()
    windows = _Windows(data)
    c = encoder.config
    if windows.shape != (c.n_channels, c.n_times):
        raise ValueError(f"The windows have shape (n_channels, n_times) = {windows.shape}, but the encoder "
                         f"expects ({c.n_channels}, {c.n_times}).")
    if contract is not None and (len(contract.ch_names), int(contract.n_times)) != (c.n_channels, c.n_times):
        raise ValueError(f"The contract describes ({len(contract.ch_names)}, {contract.n_times}) windows, "
                         f"but the encoder expects ({c.n_channels}, {c.n_times}).")
    device = _pretrain_device(config.device)
    with forked_rng(config.random_state, device):  # the head's initialisation
        model = MaskedReconstruction(encoder).to(device)
    train_idx, val_idx = split_indices(windows.n, config.val_fraction, config.random_state)
    if len(train_idx) == 0:
        raise ValueError(f"No training windows left: {windows.n} windows with val_fraction={config.val_fraction}.")
    val_masks = random_patch_mask(max(len(val_idx), 1), c.n_pairs, c.n_tokens, config.mask_ratio,
                                  generator=local_generator(config.random_state, _VAL_MASKS))
    settings = TrainSettings(max_epochs=config.max_epochs, batch_size=config.batch_size, seed=config.random_state,
                             patience=config.patience, min_delta=1e-7, warmup_steps=config.warmup_steps,
                             min_lr_ratio=config.min_lr_ratio, grad_clip=config.grad_clip, amp=config.amp,
                             distributed=True, desc="pretrain", log_epochs=True, verbose=verbose)
    ckpt = None
    if checkpoint_dir is not None:
        ckpt = Checkpointing(Path(checkpoint_dir), resume=resume,
                             identity={"arch": encoder.arch, "config": c.to_dict(),
                                       "pretrain_config": _identity(config)},
                             extra={"format": CHECKPOINT_FORMAT, "scaling": config.scaling,
                                    "contract": contract.to_dict() if contract else None})
    validate = None
    if len(val_idx):
        def validate(m):
            return _val_loss(m, windows, val_idx, val_masks, config, device)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    trainer = Trainer(model, _masked_step(windows, config, c, device), opt, settings, device, validate=validate,
                      checkpointing=ckpt, callbacks=callbacks)
    res = trainer.run(train_idx)
    return PretrainResult(model=model, history=res.history, best_loss=res.best_loss, best_epoch=res.best_epoch,
                          stopped_early=res.stopped_early, checkpoint_dir=ckpt.directory if ckpt else None)


def _pretrain_device(device: str | None) -> torch.device:
    """The training device; under DDP on GPUs, the local rank's GPU."""
    device = resolve_device(device)
    if device.type == "cuda" and torch.distributed.is_available() and torch.distributed.is_initialized() \
            and torch.distributed.get_world_size() > 1:
        rank = torch.distributed.get_rank()
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count())
    return device


def _masked_step(windows: _Windows, config: PretrainConfig, enc_cfg: Any, device: torch.device):
    """The step function of :class:`~neurosig.models.training.Trainer` for masked reconstruction.

    Masks depend only on (seed, epoch, step) and are drawn for the global batch; the loss is
    normalised by the global number of masked samples, so N processes make the same update as one.
    """
    world = torch.distributed.get_world_size() if torch.distributed.is_available() \
        and torch.distributed.is_initialized() else 1
    c = config
    patch_numel = int(enc_cfg.patch_size[0] * enc_cfg.patch_size[1])

    def step(model, batch):
        gmask = random_patch_mask(len(batch.index), enc_cfg.n_pairs, enc_cfg.n_tokens, c.mask_ratio,
                                  generator=batch.generator(_TRAIN_MASKS))
        x = windows.batch(batch.local)
        batch.check_finite(x, noun="window")
        x = scale_windows(x.to(device), c.scaling)
        mask = gmask[batch.part].to(device)
        loss_sum = masked_loss_sum(model, x, mask, c.smooth_l1_beta, enc_cfg.patch_size)
        loss = loss_sum * (world / (float(gmask.sum()) * patch_numel))  # DDP averages gradients
        return StepOutput(loss, {"train_loss": float(loss_sum.detach()) / patch_numel}, int(mask.sum()))

    return step


def _identity(config: PretrainConfig) -> dict:
    """Settings that must not change on resume (the device may), under the keys checkpoints
    have always stored ("epochs", "seed"), so a run started before the renaming resumes."""
    d = config.to_dict()
    d.pop("device")
    return {_STORED_KEYS.get(k, k): v for k, v in d.items()}


_STORED_KEYS = {"max_epochs": "epochs", "random_state": "seed"}


@torch.no_grad()
def _val_loss(model, windows, idx, masks, config, device) -> float:
    tot, cnt = 0.0, 0
    pn = int(np.prod(model.encoder.config.patch_size))
    for s in range(0, len(idx), 64):
        x = windows.batch(idx[s:s + 64])
        if not bool(torch.isfinite(x).all()):
            raise FloatingPointError(f"pretrain: validation window(s) among {idx[s:s + 64].tolist()} contain "
                                     "NaN or inf; clean the data.")
        x = scale_windows(x.to(device), config.scaling)
        m = masks[s:s + 64].to(device)
        tot += float(masked_loss_sum(model, x, m, config.smooth_l1_beta, model.encoder.config.patch_size)) / pn
        cnt += int(m.sum())
    return tot / max(cnt, 1)


def load_pretrained(path: str | os.PathLike) -> tuple[MaskedReconstruction, dict]:
    """Rebuild encoder + head from a pretraining checkpoint; returns (model, payload without tensors).

    Parameters
    ----------
    path : str | os.PathLike
        Checkpoint file written by the pretraining.
    """
    payload = load_torch_file(path, "path", what="pretraining checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"The file {str(path)!r} is not a neurosig pretraining checkpoint.")
    model = MaskedReconstruction(encoder_from_dict(payload["arch"], payload["config"]))
    model.load_state_dict(payload["model"])
    meta = {k: v for k, v in payload.items() if k not in ("model", "optimizer", "scheduler", "scaler")}
    return model, meta
