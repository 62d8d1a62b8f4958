"""Masked patch reconstruction pretraining for the bi-Mamba and transformer encoders.

A share ``mask_ratio`` (default 60%) of the (channel pair x 16 samples) patches of
each window is set to zero; the encoder sees the masked window, a linear head
maps every token back to the samples of its patches, and the Smooth-L1 loss is
taken over the masked patches only (FEMBA's objective).

:func:`pretrain` is the training loop: AdamW, linear warm-up then cosine decay,
gradient clipping, mixed precision on GPUs, a progress bar and a loss log,
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

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._io import atomic_path, load_torch_file
from .._logging import get_logger, progress
from .._validation import check_option, check_positive_float, check_positive_int
from ..contracts import SignalContract
from ._patch import SCALINGS, patchify, random_patch_mask, scale_windows
from .base import resolve_device
from .checkpoints import encoder_from_dict

logger = get_logger(__name__)

CHECKPOINT_FORMAT = "neurosig-pretrain"


@dataclass
class PretrainConfig:
    """Settings of :func:`pretrain` (all validated before any work).

    Attributes
    ----------
    epochs : int
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
    seed : int
        Seeds initialisation, split, batch order and masks.
    device : str | None
        "cpu" or "cuda[:i]"; under DDP on GPUs the local rank's GPU is used.
    """

    epochs: int = 10
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
    seed: int = 0
    device: str | None = None

    def validate(self) -> PretrainConfig:
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_positive_float("lr", self.lr)
        check_positive_float("weight_decay", self.weight_decay, allow_zero=True)
        check_positive_int("warmup_steps", self.warmup_steps, minimum=0)
        check_positive_float("min_lr_ratio", self.min_lr_ratio, allow_zero=True)
        check_positive_float("smooth_l1_beta", self.smooth_l1_beta)
        check_positive_float("grad_clip", self.grad_clip, allow_zero=True)
        check_positive_int("patience", self.patience)
        check_positive_int("seed", self.seed, minimum=0)
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


# -- schedule, distributed, checkpoints ----------------------------------------------------
def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``min_ratio`` at ``total``.

    Parameters
    ----------
    step : int
        Optimiser step (0-based).
    warmup : int
        Number of warm-up steps (0: none).
    total : int
        Step at which the cosine decay reaches ``min_ratio``.
    min_ratio : float
        Final factor, relative to the peak learning rate.
    """
    if warmup and step < warmup:
        return (step + 1) / warmup
    prog = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * prog))


def _dist():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _any_rank(flag: bool, world: int, device) -> bool:
    if world == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item() > 0)


def _gen(*keys: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(int(np.random.SeedSequence(list(keys)).generate_state(1)[0]))
    return g


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
        Progress bar.
    callbacks : sequence of callables
        Called as ``cb(epoch, record)`` after every epoch (after the checkpoint is written).

    Returns
    -------
    PretrainResult
        ``model`` holds the best weights (lowest monitored loss).
    """
    config = (config or PretrainConfig()).validate()
    rank, world = _dist()
    windows = _Windows(data)
    c = encoder.config
    if windows.shape != (c.n_channels, c.n_times):
        raise ValueError(f"The windows have shape (n_channels, n_times) = {windows.shape}, but the encoder "
                         f"expects ({c.n_channels}, {c.n_times}).")
    if contract is not None and (len(contract.ch_names), int(contract.n_times)) != (c.n_channels, c.n_times):
        raise ValueError(f"The contract describes ({len(contract.ch_names)}, {contract.n_times}) windows, "
                         f"but the encoder expects ({c.n_channels}, {c.n_times}).")
    device = resolve_device(config.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count())
    torch.manual_seed(config.seed)
    model = MaskedReconstruction(encoder).to(device)
    amp_dtype = None
    if device.type == "cuda" and config.amp != "off":
        amp_dtype = torch.float16 if config.amp == "fp16" else torch.bfloat16
        if config.amp == "auto" and not torch.cuda.is_bf16_supported():
            amp_dtype = torch.float16
    elif config.amp in ("bf16", "fp16"):
        logger.warning("amp=%r needs a CUDA device; training in float32 on %s.", config.amp, device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    # split
    order = torch.randperm(windows.n, generator=_gen(config.seed, 0)).numpy()
    n_val = int(round(config.val_fraction * windows.n))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    if len(train_idx) == 0:
        raise ValueError(f"No training windows left: {windows.n} windows with val_fraction={config.val_fraction}.")
    steps_per_epoch = math.ceil(len(train_idx) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs

    ddp_model = model
    if world > 1:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, config.warmup_steps, total_steps, config.min_lr_ratio))

    state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": -1, "bad_epochs": 0,
             "history": [], "finished": False}
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    ident = {"arch": encoder.arch, "config": c.to_dict(), "pretrain_config": _identity(config)}
    if ckpt_dir is not None and resume and (ckpt_dir / "last.pt").is_file():
        payload = load_torch_file(ckpt_dir / "last.pt", "checkpoint_dir")
        for key in ("arch", "config", "pretrain_config"):
            if payload.get(key) != ident[key]:
                raise ValueError(f"Cannot resume from {str(ckpt_dir / 'last.pt')!r}: its {key} is "
                                 f"{payload.get(key)!r}, but this run has {ident[key]!r}. Use another "
                                 "checkpoint_dir or resume=False.")
        model.load_state_dict(payload["model"])
        opt.load_state_dict(payload["optimizer"])
        sched.load_state_dict(payload["scheduler"])
        scaler.load_state_dict(payload["scaler"]) if payload.get("scaler") else None
        state.update({k: payload[k] for k in state})
        logger.info("Resumed pretraining from %s at epoch %d.", ckpt_dir / "last.pt", state["epoch"])

    val_masks = random_patch_mask(max(n_val, 1), c.n_pairs, c.n_tokens, config.mask_ratio,
                                  generator=_gen(config.seed, 1))
    patch_numel = int(c.patch_size[0] * c.patch_size[1])
    bar = progress(range(state["epoch"], config.epochs), desc="pretrain", verbose=verbose and rank == 0,
                   unit="epoch")
    for epoch in bar:
        if state["finished"]:
            break
        model.train()
        perm = train_idx[torch.randperm(len(train_idx), generator=_gen(config.seed, 2, epoch)).numpy()]
        tot, cnt = 0.0, 0
        for step in range(steps_per_epoch):
            gidx = perm[step * config.batch_size:(step + 1) * config.batch_size]
            if len(gidx) < world:
                continue  # every process needs at least one window
            gmask = random_patch_mask(len(gidx), c.n_pairs, c.n_tokens, config.mask_ratio,
                                      generator=_gen(config.seed, 3, epoch, step))
            part = np.array_split(np.arange(len(gidx)), world)[rank]
            x = windows.batch(gidx[part])
            bad_input = not bool(torch.isfinite(x).all())
            if _any_rank(bad_input, world, device):
                _fail(f"window(s) {gidx[part][~torch.isfinite(x).reshape(len(part), -1).all(1).numpy()].tolist()}"
                      if bad_input else "a batch on another process", epoch, step, ckpt_dir, "contain NaN or inf")
            x = scale_windows(x.to(device), config.scaling)
            mask = gmask[part].to(device)
            norm = float(gmask.sum()) * patch_numel
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss_sum = masked_loss_sum(ddp_model, x, mask, config.smooth_l1_beta, c.patch_size)
            loss = loss_sum * (world / norm)  # DDP averages gradients over processes
            if _any_rank(not bool(torch.isfinite(loss_sum)), world, device):
                _fail(f"the loss of window(s) {gidx[part].tolist()}", epoch, step, ckpt_dir, "became NaN or inf")
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip > 0:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(opt)
            scaler.update()
            sched.step()
            tot += float(loss_sum.detach()) / patch_numel
            cnt += int(mask.sum())
        train_loss = _reduce_mean(tot, cnt, world, device)
        rec = {"epoch": epoch, "train_loss": train_loss, "lr": sched.get_last_lr()[0]}
        if n_val:
            rec["val_loss"] = _val_loss(model, windows, val_idx, val_masks, config, device, amp_dtype)
        monitored = rec.get("val_loss", train_loss)
        improved = monitored < state["best_loss"] - 1e-7
        if improved:
            state["best_loss"], state["best_epoch"], state["bad_epochs"] = monitored, epoch, 0
        else:
            state["bad_epochs"] += 1
        state["history"].append(rec)
        state["epoch"] = epoch + 1
        state["finished"] = state["bad_epochs"] >= config.patience or state["epoch"] >= config.epochs
        if rank == 0:
            logger.info("pretrain epoch %d: train %.4f%s", epoch, train_loss,
                        f", val {rec['val_loss']:.4f}" if n_val else "")
            if verbose:
                bar.set_postfix(loss=f"{monitored:.4f}")
            if ckpt_dir is not None:
                payload = {"format": CHECKPOINT_FORMAT, **ident, "model": model.state_dict(),
                           "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                           "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                           "contract": contract.to_dict() if contract else None,
                           "scaling": config.scaling, **state}
                if improved:
                    _atomic_save(payload, ckpt_dir / "best.pt")
                _atomic_save(payload, ckpt_dir / "last.pt")
                with atomic_path(ckpt_dir / "history.json") as tmp:
                    tmp.write_text(json.dumps(state["history"], indent=1))
        if world > 1:
            torch.distributed.barrier()
        for cb in callbacks:
            cb(epoch, rec)
        if state["finished"]:
            break
    stopped_early = state["bad_epochs"] >= config.patience and state["epoch"] < config.epochs
    if ckpt_dir is not None and (ckpt_dir / "best.pt").is_file():
        best = load_torch_file(ckpt_dir / "best.pt", "checkpoint_dir")
        model.load_state_dict(best["model"])
    return PretrainResult(model=model, history=state["history"], best_loss=state["best_loss"],
                          best_epoch=state["best_epoch"], stopped_early=stopped_early, checkpoint_dir=ckpt_dir)


def _identity(config: PretrainConfig) -> dict:
    """Settings that must not change on resume (the device may)."""
    d = config.to_dict()
    d.pop("device")
    return d


def _atomic_save(payload: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _fail(what: str, epoch: int, step: int, ckpt_dir: Path | None, problem: str) -> None:
    keep = (f" The last good checkpoint {str(ckpt_dir / 'last.pt')!r} is unchanged."
            if ckpt_dir is not None and (ckpt_dir / "last.pt").is_file() else "")
    raise FloatingPointError(f"pretrain: {what} {problem} (epoch {epoch}, step {step}); training stopped."
                             f"{keep} Clean the data or lower 'lr'.")


def _reduce_mean(total: float, count: int, world: int, device) -> float:
    if world > 1:
        t = torch.tensor([total, float(count)], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t)
        total, count = float(t[0]), float(t[1])
    return total / max(count, 1)


@torch.no_grad()
def _val_loss(model, windows, idx, masks, config, device, amp_dtype) -> float:
    model.eval()
    tot, cnt = 0.0, 0
    pn = int(np.prod(model.encoder.config.patch_size))
    for s in range(0, len(idx), 64):
        x = windows.batch(idx[s:s + 64])
        if not bool(torch.isfinite(x).all()):
            raise FloatingPointError(f"pretrain: validation window(s) among {idx[s:s + 64].tolist()} contain "
                                     "NaN or inf; clean the data.")
        x = scale_windows(x.to(device), config.scaling)
        m = masks[s:s + 64].to(device)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            tot += float(masked_loss_sum(model, x, m, config.smooth_l1_beta,
                                             model.encoder.config.patch_size)) / pn
        cnt += int(m.sum())
    model.train()
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
