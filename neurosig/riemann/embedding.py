"""Delay embedding of multichannel trials (the "augmented" signal of ACM).

Two conventions are offered; both stack ``order`` time-shifted copies of every
channel, copy ``i`` starting at sample ``i * lag``:

``"moabb"`` (default)
    MOABB's ``AugmentedDataset``: copy ``i`` is ``X[..., i*lag : n_times - (order-i)*lag]``,
    so every copy is ``n_times - order*lag`` samples long (``lag`` samples fewer than
    needed), except ``order == 1`` which keeps the whole trial.  Use it to compare
    with MOABB's published ACM pipeline.
``"textbook"``
    Takens' embedding ``[x(t), x(t+lag), ..., x(t+(order-1)*lag)]`` over every ``t``
    where it is defined: copy ``i`` is ``X[..., i*lag : n_times - (order-1-i)*lag]``,
    ``n_times - (order-1)*lag`` samples long.

Neither wraps around: pyRiemann's ``TimeDelayCovariances`` instead builds its
delayed copies with ``np.roll``, so the first ``i*lag`` samples of copy ``i`` come
from the end of the trial (a circular shift); its matrices therefore differ from
both conventions here, and it has no ``order`` 1 special case.
"""
from __future__ import annotations

import numpy as np

from neurosig._validation import check_option, check_positive_int

EMBEDDINGS = ("moabb", "textbook")


def embedded_n_times(n_times: int, order: int, lag: int, embedding: str = "moabb") -> int:
    """Length of each delayed copy (may be <= 0 when the trial is too short).

    Parameters
    ----------
    n_times : int
        Samples per trial.
    order : int
        Embedding dimension (number of delayed copies).
    lag : int
        Delay between copies (samples).
    embedding : {"moabb", "textbook"}
        Convention (see module docstring).

    Returns
    -------
    n : int
        Samples per delayed copy.
    """
    if order == 1:
        return int(n_times)
    if embedding == "moabb":
        return int(n_times - order * lag)
    return int(n_times - (order - 1) * lag)


def check_order_lag(order, lag, n_times: int | None = None, embedding: str = "moabb") -> tuple[int, int]:
    """Validate ``order`` and ``lag`` (positive integers, ``order*lag`` shorter than the trial).

    Parameters
    ----------
    order : int
        Embedding dimension (number of delayed copies).
    lag : int
        Delay between copies (samples).
    n_times : int | None, optional
        Samples per trial; with it, each delayed copy must keep at least 2 samples.
    embedding : {"moabb", "textbook"}, optional
        Delay-embedding convention (see module docstring).

    Returns
    -------
    order, lag : int
    """
    order = check_positive_int("order", order)
    lag = check_positive_int("lag", lag)
    check_option("embedding", embedding, EMBEDDINGS)
    if n_times is not None and order > 1 and embedded_n_times(n_times, order, lag, embedding) < 2:
        raise ValueError(
            f"Invalid values for the 'order' and 'lag' parameters: order*lag = {order * lag} must be "
            f"shorter than the trial (n_times = {n_times}) so that each delayed copy keeps at least 2 "
            f"samples with the {embedding!r} embedding, but got order={order}, lag={lag} instead.")
    return order, lag


def delay_embed(X: np.ndarray, order: int, lag: int, embedding: str = "moabb") -> np.ndarray:
    """Stack ``order`` delayed copies of every channel.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Trials.
    order : int
        Number of delayed copies (embedding dimension).
    lag : int
        Delay between copies, in samples.
    embedding : {"moabb", "textbook"}
        Convention (see module docstring).

    Returns
    -------
    X_emb : ndarray, shape (n_trials, n_channels * order, n_emb)
        Copy ``i`` occupies rows ``i*n_channels : (i+1)*n_channels``;
        ``n_emb = embedded_n_times(n_times, order, lag, embedding)``.
    """
    order, lag = check_order_lag(order, lag, X.shape[-1], embedding)
    if order == 1:
        return X
    n = embedded_n_times(X.shape[-1], order, lag, embedding)
    return np.concatenate([X[..., i * lag: i * lag + n] for i in range(order)], axis=-2)
