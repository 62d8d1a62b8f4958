"""Where RDMs come from: EEG epochs over time, network layers, token embeddings.

* :func:`sliding_window_rdms` - time-resolved RDMs from epochs (one RDM per window,
  all windows computed as one batch).
* :func:`layer_activations` / :func:`model_rdms` - activations of any
  ``torch.nn.Module`` layer, selected by its name in ``model.named_modules()``,
  captured with forward hooks (removed afterwards, also on error).
* :func:`embedding_patterns` - token embeddings (e.g. from the TFM tokenizer or a
  foundation model) pooled into one pattern per item or condition.

fMRI ROI patterns (NSD or any masker output) are plain (n_trials, n_voxels) arrays
and go straight into :func:`~neurosig.evaluation.rsa.calc_rdm`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._logging import get_logger, progress
from ..._validation import check_positive_int, check_signal_array
from .rdm import calc_rdm

logger = get_logger(__name__)


def sliding_window_rdms(epochs: Any, conditions: Any, window: int, step: int | None = None,
                        method: str = "correlation", times: Any = None, folds: Any = None,
                        noise: Any = None, average_window: bool = True, squareform: bool = True):
    """Time-resolved RDMs from epochs over a sliding window.

    Parameters
    ----------
    epochs : array-like, shape (n_trials, n_channels, n_times)
        EEG/MEG epochs (e.g. ``mne.Epochs.get_data()``).
    conditions : array-like, shape (n_trials,)
        Condition label of each trial.
    window : int
        Window length in samples.
    step : int | None
        Hop between windows in samples (default: ``window``, no overlap).
    method : str
        Distance (see :func:`~neurosig.evaluation.rsa.calc_rdm`).
    times : array-like, shape (n_times,) | None
        Time of each sample; the window centres are returned in these units.
    folds : array-like, shape (n_trials,) | None
        Runs/folds for ``method="crossnobis"``.
    noise : array-like | None
        Noise precision for Mahalanobis/crossnobis, shape (n_features, n_features).
    average_window : bool
        Pattern = channel values averaged over the window (n_channels features);
        False concatenates channels x samples (n_channels * window features).
    squareform : bool
        Square RDMs (n_windows, n_conditions, n_conditions); False gives condensed
        vectors (n_windows, n_pairs).

    Returns
    -------
    rdms : ndarray, shape (n_windows, n_conditions, n_conditions)
        (n_windows, n_pairs) when ``squareform=False``.
    centers : ndarray, shape (n_windows,)
        Window centres (sample index, or time when ``times`` is given).
    """
    X = check_signal_array("epochs", epochs, ndim=3)
    n_trials, n_ch, n_times = X.shape
    window = check_positive_int("window", window)
    step = window if step is None else check_positive_int("step", step)
    if window > n_times:
        raise ValueError(f"Invalid value for the 'window' parameter: {window} samples is longer than the "
                         f"epochs ({n_times} samples).")
    cond = np.asarray(conditions)
    if cond.shape != (n_trials,):
        raise ValueError(f"The 'conditions' parameter must have one label per trial ({n_trials}), "
                         f"but got shape {cond.shape}.")
    starts = np.arange(0, n_times - window + 1, step)
    idx = starts[:, None] + np.arange(window)[None, :]  # (n_windows, window)
    seg = X[:, :, idx]  # (n_trials, n_ch, n_windows, window)
    if average_window:
        feats = seg.mean(axis=3).transpose(2, 0, 1)  # (n_windows, n_trials, n_ch)
    else:
        feats = seg.transpose(2, 0, 1, 3).reshape(len(starts), n_trials, n_ch * window)
    if method == "crossnobis":
        rdms = calc_rdm(feats, method, conditions=cond, folds=folds, noise=noise, squareform=squareform)
    else:
        rdms = calc_rdm(feats, method, conditions=cond, noise=noise, squareform=squareform)
    centers = starts + (window - 1) / 2
    if times is not None:
        t = np.asarray(times, dtype=float)
        if t.shape != (n_times,):
            raise ValueError(f"The 'times' parameter must have one entry per sample ({n_times}), "
                             f"but got shape {t.shape}.")
        centers = np.interp(centers, np.arange(n_times), t)
    return rdms, centers


def resolve_layers(model, layers: Sequence[str] | str, source: str = "model") -> list[str]:
    """Layer names of ``model`` matching names or glob patterns, in ``named_modules()`` order.

    Parameters
    ----------
    model : torch.nn.Module
    layers : str or sequence of str
        Exact names from ``model.named_modules()`` (e.g. ``"blocks.0"``) or glob
        patterns: ``*`` and ``?`` stay within one level of the dotted name
        (``"blocks.*"`` = the blocks, not their sub-layers), ``**`` crosses levels.
        ``"output"`` (when no layer has that name) is the model's own output.
    source : str
        Name of the model source, used in error messages.

    Returns
    -------
    names : list of str
        Matching layer names, each once.
    """
    import difflib
    import re

    if isinstance(layers, str):
        layers = [layers]
    names = [n for n, _ in model.named_modules() if n]
    chosen: list[str] = []
    for pat in layers:
        if pat == "output" and "output" not in names:  # the model's own output
            chosen += [] if "" in chosen else [""]
            continue
        if not isinstance(pat, str) or not pat:
            raise ValueError(f"Invalid value for the 'layers' parameter of {source!r}: expected layer names "
                             f"or patterns, but got {pat!r} instead.")
        rx = re.compile("".join(".*" if tok == "**" else "[^.]*" if tok == "*" else "[^.]" if tok == "?"
                                else re.escape(tok) for tok in re.split(r"(\*\*|\*|\?)", pat) if tok) + "$")
        hits = [pat] if pat in names else [n for n in names if rx.match(n)]
        if not hits:
            close = difflib.get_close_matches(pat, names, n=6, cutoff=0.5)
            top = sorted({n.split(".")[0] for n in names})
            raise ValueError(f"Invalid value for the 'layers' parameter of {source!r}: {pat!r} matches no layer "
                             f"of the model. Close names: {close or 'none'}; top-level layers: {top[:20]}.")
        chosen += [h for h in hits if h not in chosen]
    return chosen


def layer_activations(model, inputs: Any, layers: Sequence[str], batch_size: int = 64,
                      device: str | None = None, verbose: bool = False,
                      source: str = "model") -> dict[str, np.ndarray]:
    """Activations of named layers of a ``torch.nn.Module``, captured with forward hooks.

    Parameters
    ----------
    model : torch.nn.Module
        Any module; it is run in eval mode under ``torch.no_grad()`` and its
        training flag is restored afterwards.
    inputs : array-like or torch.Tensor, shape (n_stimuli, ...)
        One input per stimulus, batched along the first axis.
    layers : sequence of str
        Names from ``model.named_modules()`` (e.g. ``"encoder.layers.2"``) or glob
        patterns (``"blocks.*"``), see :func:`resolve_layers`. A container that the
        model never calls itself (``nn.ModuleList``) gives the output of the last of
        its sub-modules that ran (e.g. ``"mamba_blocks"``: the last block's output).
    batch_size : int
    device : str | None
        Where to run; default: the model's current device.
    verbose : bool
        Progress bar over batches.
    source : str
        Name used in error messages.

    Returns
    -------
    activations : dict of str -> ndarray, shape (n_stimuli, n_features)
        Each layer's output flattened per stimulus (the first tensor when a
        layer returns a tuple).
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"The 'model' parameter must be a torch.nn.Module, but got {type(model).__name__}.")
    layers = resolve_layers(model, layers, source)
    named = dict(model.named_modules())
    batch_size = check_positive_int("batch_size", batch_size)
    x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
    if x.is_floating_point():
        x = x.float()
    if device is None:
        p = next(model.parameters(), None)
        device = p.device if p is not None else "cpu"
    store: dict[str, list] = {n: [] for n in layers}
    own: dict[str, Any] = {}
    last: dict[str, Any] = {}
    handles = _register_hooks(named, layers, own, last, source)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in progress(range(0, x.shape[0], batch_size), desc="activations", verbose=verbose):
                own.clear(), last.clear()
                model(x[start:start + batch_size].to(device))
                for n in layers:
                    t = own.get(n, last.get(n))
                    if t is None:
                        raise ValueError(f"Invalid value for the 'layers' parameter of {source!r}: layer {n!r} "
                                         "did not run in the model's forward pass; choose a layer that does.")
                    store[n].append(t.detach().reshape(t.shape[0], -1).cpu().double().numpy())
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    out = {n or "output": np.concatenate(v, axis=0) for n, v in store.items()}
    for n, a in out.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"The activations of layer {n!r} of {source!r} contain NaN or infinite values.")
    return out


def _capture(name: str, slot: dict, source: str):
    """Forward hook that keeps a layer's output tensor (the first of a tuple) in ``slot[name]``."""
    import torch

    def hook(_module, _inp, out):
        t = out
        while isinstance(t, (tuple, list)):
            t = t[0]
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"Layer {name!r} of {source!r} returned {type(t).__name__}, not a tensor.")
        slot[name] = t
    return hook


def _register_hooks(named: dict, layers: list[str], own: dict, last: dict, source: str) -> list:
    """Hooks on every chosen layer (into ``own``) and on its sub-modules (into ``last``); their handles.

    A container that the model never calls itself gives the output of the last of its
    sub-modules that ran.
    """
    handles = []
    for n in layers:
        handles.append(named[n].register_forward_hook(_capture(n, own, source)))
        for sub in named[n].modules():
            if sub is not named[n]:
                handles.append(sub.register_forward_hook(_capture(n, last, source)))
    return handles


def model_rdms(model, inputs: Any, layers: Sequence[str], method: str = "correlation",
               conditions: Any = None, batch_size: int = 64) -> dict[str, np.ndarray]:
    """RDMs of named layers of a torch model (one RDM per layer).

    Parameters
    ----------
    model, inputs, layers : see :func:`layer_activations`
        The torch module, its inputs (n_stimuli, ...) and the layer names.
    method : str
        Distance between activation patterns.
    conditions : array-like, shape (n_stimuli,) | None
        Average stimuli per condition first.
    batch_size : int
        Stimuli per forward pass (see :func:`layer_activations`).

    Returns
    -------
    rdms : dict of str -> ndarray, shape (n_conditions, n_conditions)
    """
    acts = layer_activations(model, inputs, layers, batch_size=batch_size)
    return {n or "output": calc_rdm(a, method, conditions=conditions) for n, a in acts.items()}


def embedding_patterns(embeddings: Any, conditions: Any = None, pool: str = "mean") -> np.ndarray:
    """Patterns from token embeddings: pool tokens per item, then average items per condition.

    Parameters
    ----------
    embeddings : array-like, shape (n_items, n_tokens, dim) or (n_items, dim)
        Token embeddings (e.g. TFM tokenizer codebook vectors of each token of an
        EEG window, or a foundation model's token outputs).
    conditions : array-like, shape (n_items,) | None
        Condition of each item; patterns are averaged per condition (sorted labels).
    pool : {"mean", "flatten"}
        Average over tokens, or concatenate them (keeps token order).

    Returns
    -------
    patterns : ndarray, shape (n_items or n_conditions, n_features)
    """
    E = np.asarray(embeddings, dtype=float)
    if E.ndim == 3:
        if pool == "mean":
            E = E.mean(axis=1)
        elif pool == "flatten":
            E = E.reshape(E.shape[0], -1)
        else:
            raise ValueError(f"Invalid value for the 'pool' parameter. Allowed values are 'mean', 'flatten', "
                             f"but got {pool!r} instead.")
    elif E.ndim != 2:
        raise ValueError("The 'embeddings' parameter must have shape (n_items, n_tokens, dim) or "
                         f"(n_items, dim), but got {E.shape}.")
    if not np.all(np.isfinite(E)):
        raise ValueError("The 'embeddings' parameter contains NaN or infinite values.")
    if conditions is None:
        return E
    c = np.asarray(conditions)
    if c.shape != (E.shape[0],):
        raise ValueError(f"The 'conditions' parameter must have one label per item ({E.shape[0]}), "
                         f"but got shape {c.shape}.")
    labels, inv = np.unique(c, return_inverse=True)
    out = np.zeros((len(labels), E.shape[1]))
    np.add.at(out, inv.ravel(), E)
    return out / np.bincount(inv.ravel())[:, None]
