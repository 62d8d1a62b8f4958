"""One training loop for every torch model of neurosig.

:class:`Trainer` runs epochs of mini-batches drawn from an array of sample
indices; the caller supplies only what differs between models: the module, the
optimizer and a *step function* that turns one batch of indices into a loss.
The loop owns everything else:

* batch order, masks and dropout from **local generators** (seeds, generators, device
  and precision helpers live in :mod:`neurosig.models._runtime` and are re-exported here) derived from
  ``(seed, stream, epoch, step)`` (:func:`local_generator`); the whole run sits
  inside :func:`torch.random.fork_rng`, so the caller's global numpy and torch
  random states are the same after training as before, and the same seed gives
  the same model twice;
* the optimizer step, an optional linear warm-up + cosine learning-rate
  schedule (:func:`lr_factor`), gradient clipping and mixed precision on CUDA;
* a non-finite loss or input batch stops training with an error that names the
  epoch and the step;
* early stopping on a monitored loss (validation, or training when there is no
  validation set) and restore of the best weights;
* optional atomic checkpoints (``last.pt`` every epoch, ``best.pt`` at each
  improvement, ``history.json``) and resume from ``last.pt``;
* data parallelism when asked (``TrainSettings.distributed``) and the caller
  initialised :mod:`torch.distributed`: the module is wrapped in
  DistributedDataParallel and every process handles its share of each global
  batch (:attr:`Batch.part`);
* per-epoch callbacks and a progress bar over epochs with an inner bar over the
  batches of the epoch (silenced by ``verbose=False``).

neurosig keeps its own loop rather than skorch: pretraining needs the exact
checkpoint format, resume identity checks and DDP batch split above, which a
skorch ``NeuralNet`` would reach only through several custom callbacks.
"""
from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._io import atomic_path, load_torch_file
from .._logging import get_logger, progress
from .._validation import check_option, check_positive_float, check_positive_int
from ._runtime import (
    DEPRECATED,
    amp_dtype,
    derive_seed,
    forked_rng,
    local_generator,
    lr_factor,
    renamed_kwarg,
    renamed_param,
    resolve_device,
    resolve_seed,
)

logger = get_logger(__name__)

__all__ = ["DEPRECATED", "Batch", "Checkpointing", "StepOutput", "Trainer", "TrainResult", "TrainSettings",
           "amp_dtype", "derive_seed", "forked_rng", "local_generator", "lr_factor", "renamed_kwarg", "renamed_param",
           "resolve_device", "resolve_seed", "split_indices"]

# stream ids of the generators the loop derives from the seed (pretraining's masks use 1 and 3)
_SPLIT, _ORDER, _GLOBAL = 0, 2, 4


def _dist() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


# -- what the caller gives and gets -----------------------------------------------------------
@dataclass
class TrainSettings:
    """Settings of one :class:`Trainer` run.

    Attributes
    ----------
    max_epochs : int
        Maximum number of passes over the training indices.
    batch_size : int
        Global batch size (split across processes under DDP).
    seed : int
        Root of every generator of the run (batch order, the step function's generators, dropout).
    patience : int | None
        Early stopping after this many epochs without improvement of the monitored loss;
        None trains for ``max_epochs``.
    min_delta : float
        Improvement needed to reset the patience counter.
    restore_best : bool
        Load the weights of the best epoch at the end.
    monitor : str
        Key of the training record monitored when no validation function is given.
    warmup_steps : int | None
        None: constant learning rate; an integer: linear warm-up over that many steps,
        then cosine decay to ``min_lr_ratio`` at the last step of ``max_epochs``.
    min_lr_ratio : float
        Final learning rate of the cosine decay as a share of the peak.
    grad_clip : float
        Maximum global gradient norm (0 disables clipping).
    amp : {"auto", "off", "bf16", "fp16"}
        Mixed precision on CUDA (see :func:`amp_dtype`).
    min_batch : int
        Batches with fewer samples are skipped (e.g. 2 for BatchNorm).
    distributed : bool
        Data-parallel training when :mod:`torch.distributed` is initialised (the module is
        wrapped in DistributedDataParallel and every process takes its share of each batch);
        False: every process trains on whole batches on its own.
    desc : str
        Name in progress bars, logs and error messages.
    log_epochs : bool
        Log every epoch's record at INFO level (DEBUG otherwise).
    verbose : bool
        Progress bars.
    """

    max_epochs: int
    batch_size: int
    seed: int = 0
    patience: int | None = None
    min_delta: float = 1e-6
    restore_best: bool = True
    monitor: str = "train_loss"
    warmup_steps: int | None = None
    min_lr_ratio: float = 0.0
    grad_clip: float = 0.0
    amp: str = "off"
    min_batch: int = 1
    distributed: bool = False
    desc: str = "train"
    log_epochs: bool = False
    verbose: bool = False

    def validate(self) -> TrainSettings:
        """Check every setting (MNE-style errors) and return self."""
        check_positive_int("max_epochs", self.max_epochs)
        check_positive_int("batch_size", self.batch_size)
        resolve_seed(self.seed)
        if self.patience is not None:
            check_positive_int("patience", self.patience)
        if self.warmup_steps is not None:
            check_positive_int("warmup_steps", self.warmup_steps, minimum=0)
        check_positive_float("min_lr_ratio", self.min_lr_ratio, allow_zero=True)
        check_positive_float("grad_clip", self.grad_clip, allow_zero=True)
        check_positive_int("min_batch", self.min_batch)
        check_option("amp", self.amp, ["auto", "off", "bf16", "fp16"])
        return self


@dataclass
class Checkpointing:
    """Where and what :class:`Trainer` checkpoints.

    Attributes
    ----------
    directory : Path
        Folder of ``last.pt``, ``best.pt`` and ``history.json`` (process 0 writes).
    identity : dict
        Plain-Python entries stored in every checkpoint that must be equal to resume.
    extra : dict
        Other plain-Python entries stored in every checkpoint.
    resume : bool
        Continue from ``last.pt`` when it exists.
    """

    directory: Path
    identity: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    resume: bool = True


@dataclass
class Batch:
    """One global mini-batch, as the step function receives it.

    Attributes
    ----------
    index : ndarray of int, shape (batch,)
        Sample indices of the global batch (all processes).
    part : ndarray of int, shape (local_batch,)
        Positions in ``index`` that this process handles (all of them without DDP).
    epoch, step : int
        Where the batch sits in the run.
    seed : int
        The run's root seed (for :meth:`generator`).
    """

    index: np.ndarray
    part: np.ndarray
    epoch: int
    step: int
    seed: int
    _trainer: Trainer | None = field(default=None, repr=False)

    @property
    def local(self) -> np.ndarray:
        """Sample indices this process handles, shape (local_batch,)."""
        return self.index[self.part]

    def generator(self, stream: int) -> torch.Generator:
        """A generator of this batch only, derived from (seed, stream, epoch, step).

        Parameters
        ----------
        stream : int
            Identifies the use (e.g. masks); streams 0, 2 and 4 are the loop's own.

        Returns
        -------
        torch.Generator
        """
        return local_generator(self.seed, stream, self.epoch, self.step)

    def check_finite(self, x: torch.Tensor, noun: str = "sample") -> None:
        """Stop training when ``x`` (rows = :attr:`local`) holds NaN or inf on any process.

        Parameters
        ----------
        x : Tensor, shape (local_batch, ...)
            The inputs of this process.
        noun : str
            What a row is called in the error ("window", "trial", ...).
        """
        bad = ~torch.isfinite(x).reshape(len(x), -1).all(1)
        any_bad = bool(bad.any())
        if self._trainer._any_rank(any_bad):
            what = (f"{noun}(s) {self.local[bad.cpu().numpy()].tolist()}" if any_bad
                    else "a batch on another process")
            self._trainer.fail(what, "contain NaN or inf", self)


@dataclass
class StepOutput:
    """What a step function returns.

    Attributes
    ----------
    loss : Tensor
        Scalar to backpropagate.
    stats : dict of str to float
        Sums accumulated over the epoch (e.g. ``{"train_loss": loss * n}``).
    count : float
        Weight of this step; the epoch record holds ``sum(stats) / sum(count)``.
    """

    loss: torch.Tensor
    stats: dict
    count: float = 1.0


@dataclass
class TrainResult:
    """What :meth:`Trainer.run` returns.

    Attributes
    ----------
    history : list of dict
        One record per epoch (``epoch``, the step statistics, ``lr`` with a schedule,
        ``val_loss`` with validation, and what callbacks added).
    best_loss : float
        Lowest monitored loss.
    best_epoch : int
        Epoch of ``best_loss``.
    stopped_early : bool
        True when the patience ran out before ``max_epochs``.
    """

    history: list
    best_loss: float
    best_epoch: int
    stopped_early: bool


StepFn = Callable[[nn.Module, Batch], StepOutput]


# -- the loop ---------------------------------------------------------------------------------
class Trainer:
    """Train ``module`` with ``step`` on mini-batches of ``train_idx`` (see the module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        The model, already on ``device``; trained in place.
    step : callable
        ``step(model, batch) -> StepOutput``; ``model`` is ``module`` or its DDP wrapper
        (call it, not ``module``, for the forward pass), ``batch`` a :class:`Batch`.
    optimizer : torch.optim.Optimizer
        Optimizer over the parameters of ``module``.
    settings : TrainSettings
        Epochs, batch size, seed, early stopping, schedule, clipping, precision.
    device : torch.device
        Training device.
    validate : callable | None
        ``validate(module) -> float``, the validation loss, run without gradients in eval
        mode after every epoch; None monitors ``settings.monitor`` of the training record.
    checkpointing : Checkpointing | None
        Checkpoints and resume; None keeps the best weights in memory.
    callbacks : sequence of callables
        ``cb(epoch, record)`` after every epoch (after its checkpoint); may add entries to
        ``record``.
    """

    def __init__(self, module: nn.Module, step: StepFn, optimizer: torch.optim.Optimizer,
                 settings: TrainSettings, device: torch.device, validate: Callable[[nn.Module], float] | None = None,
                 checkpointing: Checkpointing | None = None,
                 callbacks: Sequence[Callable[[int, dict], None]] = ()):
        self.module, self.step_fn, self.optimizer = module, step, optimizer
        self.settings = settings.validate()
        self.device, self.validate, self.ckpt, self.callbacks = torch.device(device), validate, checkpointing, callbacks
        self.rank, self.world = _dist() if self.settings.distributed else (0, 1)
        self.amp_dtype = amp_dtype(settings.amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.scheduler = None
        self.state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": -1, "bad_epochs": 0,
                      "history": [], "finished": False}
        self._best_weights = None

    # -- helpers ------------------------------------------------------------------------------
    def _any_rank(self, flag: bool) -> bool:
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item() > 0)

    def fail(self, what: str, problem: str, batch: Batch) -> None:
        """Raise FloatingPointError naming ``what``, the epoch, the step and the last good checkpoint.

        Parameters
        ----------
        what : str
            The culprit, e.g. "window(s) [5]".
        problem : str
            What is wrong with it, e.g. "contain NaN or inf".
        batch : Batch
            The batch being trained (epoch and step).
        """
        last = self.ckpt.directory / "last.pt" if self.ckpt is not None else None
        keep = (f" The last good checkpoint {str(last)!r} is unchanged." if last is not None and last.is_file()
                else "")
        raise FloatingPointError(f"{self.settings.desc}: {what} {problem} (epoch {batch.epoch}, step "
                                 f"{batch.step}); training stopped.{keep} Clean the data or lower 'lr'.")

    def _reduce(self, sums: dict, count: float) -> dict:
        keys = sorted(sums)
        if self.world > 1:
            t = torch.tensor([sums[k] for k in keys] + [count], dtype=torch.float64, device=self.device)
            torch.distributed.all_reduce(t)
            sums, count = {k: float(v) for k, v in zip(keys, t[:-1])}, float(t[-1])
        return {k: sums[k] / max(count, 1e-300) if count else float("nan") for k in sums}

    def _schedule(self, steps_per_epoch: int) -> None:
        s = self.settings
        if s.warmup_steps is None:
            return
        total = steps_per_epoch * s.max_epochs
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda i: lr_factor(i, s.warmup_steps, total, s.min_lr_ratio))

    # -- checkpoints --------------------------------------------------------------------------
    def _resume(self) -> None:
        last = self.ckpt.directory / "last.pt"
        if not (self.ckpt.resume and last.is_file()):
            return
        payload = load_torch_file(last, "checkpoint_dir")
        for key, value in self.ckpt.identity.items():
            if payload.get(key) != value:
                raise ValueError(f"Cannot resume from {str(last)!r}: its {key} is {payload.get(key)!r}, but this "
                                 f"run has {value!r}. Use another checkpoint_dir or resume=False.")
        self.module.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scheduler is not None and payload.get("scheduler"):
            self.scheduler.load_state_dict(payload["scheduler"])
        if payload.get("scaler"):
            self.scaler.load_state_dict(payload["scaler"])
        self.state.update({k: payload[k] for k in self.state})
        logger.info("Resumed %s from %s at epoch %d.", self.settings.desc, last, self.state["epoch"])

    def _save(self, improved: bool) -> None:
        d = self.ckpt.directory
        payload = {**self.ckpt.extra, **self.ckpt.identity, "model": self.module.state_dict(),
                   "optimizer": self.optimizer.state_dict(),
                   "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                   "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None, **self.state}
        for name in (["best.pt"] if improved else []) + ["last.pt"]:
            with atomic_path(d / name) as tmp:
                torch.save(payload, tmp)
        with atomic_path(d / "history.json") as tmp:
            tmp.write_text(json.dumps(self.state["history"], indent=1))

    def _restore_best(self) -> None:
        best = self.ckpt.directory / "best.pt" if self.ckpt is not None else None
        if best is not None and best.is_file():
            self.module.load_state_dict(load_torch_file(best, "checkpoint_dir")["model"])
        elif self._best_weights is not None:
            self.module.load_state_dict(self._best_weights)

    # -- epochs -------------------------------------------------------------------------------
    def _train_epoch(self, model: nn.Module, train_idx: np.ndarray, epoch: int, steps: int) -> dict:
        s = self.settings
        self.module.train()
        torch.manual_seed(derive_seed(s.seed, _GLOBAL, epoch))  # dropout (inside the run's fork)
        perm = train_idx[torch.randperm(len(train_idx), generator=local_generator(s.seed, _ORDER, epoch)).numpy()]
        sums, count = {}, 0.0
        bar = progress(total=steps, desc=f"{s.desc} epoch {epoch}", verbose=s.verbose and self.rank == 0,
                       unit="batch")
        for step in range(steps):
            gidx = perm[step * s.batch_size:(step + 1) * s.batch_size]
            bar.update(1)
            if len(gidx) < max(s.min_batch, self.world) and not (len(perm) == 1 and self.world == 1):
                continue
            part = np.array_split(np.arange(len(gidx)), self.world)[self.rank]
            batch = Batch(gidx, part, epoch, step, s.seed, self)
            self.optimizer.zero_grad(set_to_none=True)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                out = self.step_fn(model, batch)
            if self._any_rank(not bool(torch.isfinite(out.loss.detach()))):
                self.fail(f"the loss of sample(s) {batch.local.tolist()}", "became NaN or inf", batch)
            self.scaler.scale(out.loss).backward()
            if s.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.module.parameters(), s.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.scheduler is not None:
                self.scheduler.step()
            for k, v in out.stats.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            count += float(out.count)
        bar.close()
        return self._reduce(sums, count)

    def _end_epoch(self, epoch: int, rec: dict) -> None:
        s, st = self.settings, self.state
        if self.validate is not None:
            self.module.eval()
            with torch.no_grad(), torch.autocast(self.device.type, dtype=self.amp_dtype,
                                                 enabled=self.amp_dtype is not None):
                rec["val_loss"] = float(self.validate(self.module))
            self.module.train()
        monitored = rec["val_loss"] if self.validate is not None else rec.get(s.monitor, float("nan"))
        improved = bool(monitored < st["best_loss"] - s.min_delta)
        if improved:
            st["best_loss"], st["best_epoch"], st["bad_epochs"] = float(monitored), epoch, 0
            if s.restore_best and self.ckpt is None:
                self._best_weights = copy.deepcopy(self.module.state_dict())
        else:
            st["bad_epochs"] += 1
        st["history"].append(rec)
        st["epoch"] = epoch + 1
        stop = s.patience is not None and st["bad_epochs"] >= s.patience
        st["finished"] = stop or st["epoch"] >= s.max_epochs
        if self.rank == 0:
            logger.log(logging.INFO if s.log_epochs else logging.DEBUG, "%s epoch %d: %s", s.desc, epoch, {k: round(v, 5) for k, v in rec.items()
                                                           if isinstance(v, float)})
            if self.ckpt is not None:
                self._save(improved)
        if self.world > 1:
            torch.distributed.barrier()
        for cb in self.callbacks:
            cb(epoch, rec)

    def run(self, train_idx: np.ndarray) -> TrainResult:
        """Train on the samples ``train_idx`` and return the history.

        Parameters
        ----------
        train_idx : ndarray of int, shape (n_train,)
            Indices handed to the step function, batch by batch.

        Returns
        -------
        TrainResult
        """
        s = self.settings
        train_idx = np.asarray(train_idx, dtype=np.int64)
        if len(train_idx) == 0:
            raise ValueError(f"{s.desc}: no training samples.")
        steps = math.ceil(len(train_idx) / s.batch_size)
        self._schedule(steps)
        if self.ckpt is not None:
            self._resume()
        model = self.module
        if self.world > 1:
            model = nn.parallel.DistributedDataParallel(
                self.module, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        bar = progress(range(self.state["epoch"], s.max_epochs), desc=s.desc,
                       verbose=s.verbose and self.rank == 0, unit="epoch")
        with forked_rng(derive_seed(s.seed, _GLOBAL), self.device):
            for epoch in bar:
                if self.state["finished"]:
                    break
                rec = {"epoch": epoch, **self._train_epoch(model, train_idx, epoch, steps)}
                if self.scheduler is not None:
                    rec["lr"] = self.scheduler.get_last_lr()[0]
                self._end_epoch(epoch, rec)
                if s.verbose and self.rank == 0:
                    bar.set_postfix(loss=f"{rec.get('val_loss', rec.get(s.monitor, float('nan'))):.4f}")
                if self.state["finished"]:
                    break
        if s.restore_best:
            self._restore_best()
        st = self.state
        stopped = s.patience is not None and st["bad_epochs"] >= s.patience and st["epoch"] < s.max_epochs
        return TrainResult(history=st["history"], best_loss=st["best_loss"], best_epoch=st["best_epoch"],
                           stopped_early=stopped)


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random (train, validation) split of ``range(n)`` from a local generator.

    Parameters
    ----------
    n : int
        Number of samples.
    val_fraction : float
        Share held out for validation, in [0, 1).
    seed : int
        Root seed (the split uses its own stream).

    Returns
    -------
    train_idx, val_idx : ndarray of int
        Sorted indices.
    """
    order = torch.randperm(n, generator=local_generator(seed, _SPLIT)).numpy()
    n_val = int(round(val_fraction * n))
    return np.sort(order[n_val:]), np.sort(order[:n_val])

