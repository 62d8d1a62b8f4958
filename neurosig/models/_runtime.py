"""Seeds, local random generators, devices, precision and learning-rate schedule of the torch models.

The building blocks of :mod:`neurosig.models.training`: nothing here reads or changes
numpy's or torch's global random state outside a :func:`forked_rng` block.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from .._logging import get_logger
from .._validation import check_option

logger = get_logger(__name__)

__all__ = ["DEPRECATED", "amp_dtype", "derive_seed", "forked_rng", "local_generator", "lr_factor",
           "renamed_param", "resolve_device", "resolve_seed"]

DEPRECATED = "deprecated"  # default of a parameter kept for one release under its old name


# -- seeds, generators, device ---------------------------------------------------------------
def resolve_seed(seed: int | None, name: str = "seed") -> int:
    """The seed to use: ``seed`` itself, or fresh operating-system entropy when it is None.

    Parameters
    ----------
    seed : int | None
        A non-negative integer, or None for a non-reproducible run.
    name : str
        Parameter name in the error message.

    Returns
    -------
    int
        A seed in [0, 2**32); no global random state is read or changed.
    """
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Invalid value for the '{name}' parameter. Allowed values are non-negative integers "
                         f"or None, but got {seed!r} instead.")
    return int(seed)


def renamed_param(est: object, old: str, new: str) -> Any:
    """The value of parameter ``new`` of ``est``, or of its old name ``old`` (with a FutureWarning).

    Parameters
    ----------
    est : object
        Estimator holding both attributes; ``old`` is :data:`DEPRECATED` unless the caller set it.
    old, new : str
        Former and current parameter names.

    Returns
    -------
    object
        The value to use.
    """
    return _renamed(f"parameter of {type(est).__name__}", old, getattr(est, old), new, getattr(est, new))


def renamed_kwarg(func: str, old: str, old_value: Any, new: str, new_value: Any) -> Any:
    """The value of keyword ``new`` of function ``func``, or of its old name (with a FutureWarning).

    Parameters
    ----------
    func : str
        Function name, for the message.
    old, new : str
        Former and current keyword names.
    old_value, new_value : object
        Their values; ``old_value`` is :data:`DEPRECATED` unless the caller passed it.

    Returns
    -------
    object
        The value to use.
    """
    return _renamed(f"argument of {func}", old, old_value, new, new_value)


def _renamed(what: str, old: str, old_value: Any, new: str, new_value: Any) -> Any:
    """``new_value``, or ``old_value`` with a FutureWarning when the caller used the former name."""
    if isinstance(old_value, str) and old_value == DEPRECATED:
        return new_value
    warnings.warn(f"The '{old}' {what} was renamed '{new}' (the scikit-learn name) and will be removed in the "
                  f"next release; pass {new}={old_value!r} instead.", FutureWarning, stacklevel=4)
    return old_value


def derive_seed(seed: int, *keys: int) -> int:
    """A 32-bit seed derived from ``seed`` and integer ``keys`` (numpy's SeedSequence).

    Parameters
    ----------
    seed : int
        Root seed.
    *keys : int
        Stream, epoch, step, ...: each combination gives an independent seed.

    Returns
    -------
    int
    """
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0])


def local_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with :func:`derive_seed` ``(seed, *keys)``.

    Parameters
    ----------
    seed : int
        Root seed.
    *keys : int
        Stream, epoch, step, ...

    Returns
    -------
    torch.Generator
    """
    g = torch.Generator()
    g.manual_seed(derive_seed(seed, *keys))
    return g


@contextlib.contextmanager
def forked_rng(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Seed torch's global generator(s) inside a fork that restores them on exit.

    Code that cannot take a generator (weight initialisation, dropout) becomes
    reproducible without changing the caller's random state.

    Parameters
    ----------
    seed : int
        Seed of torch's CPU generator (and of the CUDA generator of ``device``) inside the block.
    device : torch.device | str | None
        A CUDA device whose generator is forked and seeded too; CPU otherwise.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.random.default_generator.manual_seed(int(seed))
        if cuda:
            with torch.cuda.device(cuda[0]):
                torch.cuda.manual_seed(int(seed))
        yield


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The torch device of a ``device`` parameter.

    Parameters
    ----------
    device : str | torch.device | None
        None or "cpu" for the CPU (the default), "cuda" or "cuda:i" for a GPU.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        When a CUDA device is asked for on a machine without one.
    """
    if device is None or str(device) == "cpu":
        return torch.device("cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"Invalid value for the 'device' parameter: {str(device)!r} was asked for, but "
                         "torch.cuda.is_available() is False on this machine.")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError("Invalid value for the 'device' parameter. Allowed values are None, 'cpu', 'cuda' "
                         f"or 'cuda:<index>', but got {device!r} instead.") from None


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

    Returns
    -------
    float
        Factor applied to the peak learning rate.
    """
    if warmup and step < warmup:
        return (step + 1) / warmup
    prog = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * prog))


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of an ``amp`` setting on ``device`` (None: float32).

    Parameters
    ----------
    amp : {"auto", "off", "bf16", "fp16"}
        "auto" uses bfloat16 on CUDA devices that support it, float16 on the others, and
        float32 on the CPU.
    device : torch.device
        The training device.

    Returns
    -------
    torch.dtype | None
    """
    check_option("amp", amp, ["auto", "off", "bf16", "fp16"])
    if device.type != "cuda" or amp == "off":
        if amp in ("bf16", "fp16"):
            logger.warning("amp=%r needs a CUDA device; training in float32 on %s.", amp, device)
        return None
    if amp == "fp16" or (amp == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16
