"""Stage 2 of the token-transformer recipe: masked-token prediction on token sequences (no labels)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .training import (
    DEPRECATED,
    StepOutput,
    Trainer,
    TrainSettings,
    renamed_kwarg,
    resolve_device,
    resolve_seed,
)

if TYPE_CHECKING:
    from .token_transformer import TokenTransformer

__all__ = ["pretrain_masked_tokens"]

_MASKS = 3  # generator stream of the token masks (the training loop uses 0, 2 and 4)


def pretrain_masked_tokens(model: TokenTransformer, tokens, mask_ratio: float = 0.5, max_epochs: int = 10,
                           batch_size: int = 32, lr: float = 1e-3, weight_decay: float = 1e-2,
                           random_state: int | None = 0, device=None, verbose: bool = False, *,
                           epochs=DEPRECATED, seed=DEPRECATED) -> list[dict]:
    """Stage 2: masked-token-prediction pretraining (in place).

    Runs on the shared :class:`~neurosig.models.training.Trainer`: batch order, masks and
    dropout come from generators derived from ``random_state``; the global random state is left alone.

    Parameters
    ----------
    model : TokenTransformer
        Transformer with token inputs (``in_features=None``); trained in place.
    tokens : ndarray or Tensor of int, shape (n_windows, n_channels, n_patches)
        Token ids.
    mask_ratio : float
        Share of positions masked per window (at least one).
    max_epochs : int
        Passes over the windows.
    batch_size : int
        Windows per step.
    lr, weight_decay : float
        AdamW settings.
    random_state : int | None
        Seed of batch order, masks and dropout (None: not reproducible).
    device : str | torch.device | None
        Training device (default: the model's).
    verbose : bool
        Progress bars over epochs and batches.
    epochs, seed
        Former names of ``max_epochs`` and ``random_state`` (accepted for one release,
        with a FutureWarning).

    Returns
    -------
    history : list of dict
        Per epoch: ``loss`` (cross-entropy on masked positions) and ``acc``
        (share of masked tokens predicted exactly).
    """
    max_epochs = renamed_kwarg("pretrain_masked_tokens", "epochs", epochs, "max_epochs", max_epochs)
    random_state = renamed_kwarg("pretrain_masked_tokens", "seed", seed, "random_state", random_state)
    if not 0 < mask_ratio < 1:
        raise ValueError(f"Invalid value for the 'mask_ratio' parameter. Allowed values are in (0, 1), "
                         f"but got {mask_ratio!r} instead.")
    if model.mlm_head is None:
        raise ValueError("Invalid value for the 'model' parameter: masked-token pretraining needs token inputs "
                         "(in_features=None), but got a model of continuous patches.")
    tok = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
    device = resolve_device(device) if device is not None else next(model.parameters()).device

    def step(m, batch):
        ids = tok[batch.local].to(device)
        mask = torch.rand(ids.shape, generator=batch.generator(_MASKS)).to(device) < mask_ratio
        mask[..., 0, 0] |= ~mask.flatten(1).any(1)  # at least one masked position per window
        logits = m.mlm_logits(ids, mask)
        target = ids[mask]
        loss = nn.functional.cross_entropy(logits, target)
        return StepOutput(loss, {"loss": float(loss.detach()) * len(target),
                                 "acc": float((logits.argmax(1) == target).sum())}, len(target))

    settings = TrainSettings(max_epochs=max_epochs, batch_size=batch_size, seed=resolve_seed(random_state),
                             restore_best=False,
                             monitor="loss", desc="masked-token pretraining", verbose=verbose)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    history = Trainer(model, step, opt, settings, device).run(np.arange(len(tok))).history
    model.eval()
    return history
