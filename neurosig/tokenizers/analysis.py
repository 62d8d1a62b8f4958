"""What the tokens mean: class statistics, informative tokens, spectra behind codes, usage.

All functions take token ids shaped (n_windows, n_channels, n_patches) (any
integer array whose first axis is the window works) and plain numpy arrays;
plots return a matplotlib Figure.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_positive_int
from .vq import codebook_usage

__all__ = ["token_counts", "class_token_frequency", "token_mutual_information", "tokens_class_mi",
           "most_informative_tokens", "code_mean_spectra", "token_consistency", "code_usage",
           "plot_code_usage", "plot_class_token_frequency", "plot_code_spectra"]


def _check_tokens(tokens, n_codes: int) -> np.ndarray:
    n_codes = check_positive_int("n_codes", n_codes, minimum=2)
    tokens = np.asarray(tokens)
    if tokens.ndim < 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"The 'tokens' parameter must be an integer array (n_windows, ...), got dtype "
                         f"{tokens.dtype} and shape {tokens.shape}.")
    if tokens.size == 0:
        raise ValueError("The 'tokens' parameter is empty.")
    if tokens.min() < 0 or tokens.max() >= n_codes:
        raise ValueError(f"The 'tokens' parameter holds ids outside [0, {n_codes}) "
                         f"(min {tokens.min()}, max {tokens.max()}).")
    return tokens


def _check_y(y, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"The 'y' parameter must have shape ({n},), got {y.shape}.")
    classes, yi = np.unique(y, return_inverse=True)
    return classes, yi


def token_counts(tokens, n_codes: int, per_channel: bool = False) -> np.ndarray:
    """Bag of tokens per window.

    ``per_channel=False``: (n_windows, ...) -> counts (n_windows, n_codes).
    ``per_channel=True``: (n_windows, n_channels, n_patches) -> counts of (channel, code)
    pairs, (n_windows, n_channels * n_codes), column ``channel * n_codes + code``.

    Parameters
    ----------
    tokens : ndarray of int, shape (n_windows, n_channels, n_patches)
        Token ids in ``[0, n_codes)`` (any integer array whose first axis is the window).
    n_codes : int
        Codebook size (>= 2).
    per_channel : bool
        Count (channel, code) pairs instead of codes; needs tokens with a channel axis.
    """
    tokens = _check_tokens(tokens, n_codes)
    if per_channel:
        tokens, n_codes = _channel_tokens(tokens, n_codes)
    flat = tokens.reshape(len(tokens), -1)
    rows = np.repeat(np.arange(len(flat)), flat.shape[1])
    out = np.zeros((len(flat), n_codes), dtype=np.int64)
    np.add.at(out, (rows, flat.ravel()), 1)
    return out


def class_token_frequency(tokens, y, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class token frequency.

    Parameters
    ----------
    tokens : ndarray of int, shape (n_windows, n_channels, n_patches)
        Token ids in ``[0, n_codes)`` (any integer array whose first axis is the window).
    y : array-like, shape (n_windows,)
        Class label of each window.
    n_codes : int
        Codebook size (>= 2).

    Returns
    -------
    freq : ndarray, shape (n_classes, n_codes)
        Share of the class's tokens that are each code (rows sum to 1).
    classes : ndarray, shape (n_classes,)
    """
    counts = token_counts(tokens, n_codes)
    classes, yi = _check_y(y, len(counts))
    per_class = np.stack([counts[yi == k].sum(0) for k in range(len(classes))]).astype(float)
    return per_class / per_class.sum(1, keepdims=True), classes


def _mi_from_joint(joint: np.ndarray) -> float:
    p = joint / joint.sum()
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (px @ py)[nz])).sum())


def _channel_tokens(tokens, n_codes: int) -> tuple[np.ndarray, int]:
    """(n_windows, n_channels, ...) ids -> ids of (channel, code) pairs, n_channels * n_codes symbols."""
    tokens = _check_tokens(tokens, n_codes)
    if tokens.ndim < 3:
        raise ValueError(f"per_channel=True needs tokens shaped (n_windows, n_channels, n_patches), got shape "
                         f"{tokens.shape}.")
    ch = np.arange(tokens.shape[1]).reshape((1, -1) + (1,) * (tokens.ndim - 2))
    return tokens + ch * n_codes, tokens.shape[1] * n_codes


def tokens_class_mi(tokens, y, n_codes: int, per_channel: bool = False) -> float:
    """Plug-in mutual information (nats) between a token and the class of its window.

    Every token of a window counts as one sample labelled with the window's class.
    The plug-in estimate is biased upwards with few samples per code: compare it
    with a shuffled-label control (see :func:`token_mutual_information`).

    Parameters
    ----------
    tokens : ndarray of int, shape (n_windows, n_channels, n_patches)
        Token ids in ``[0, n_codes)``.
    y : array-like, shape (n_windows,)
        Class label of each window.
    n_codes : int
        Codebook size (>= 2).
    per_channel : bool
        ``False``: the symbol is the code alone (tokens of all channels pooled).
        ``True``: the symbol is the (channel, code) pair. The tokenizer is
        montage-free, so the same code on C3 and on C4 is the same symbol when
        pooled; a class that shows as the *side* of a change (left vs right hand
        motor imagery: the rhythm drops over the opposite hemisphere) leaves the
        pooled code distribution unchanged and is only visible per channel.
    """
    if per_channel:
        tokens, n_codes = _channel_tokens(tokens, n_codes)
    counts = token_counts(tokens, n_codes)
    classes, yi = _check_y(y, len(counts))
    joint = np.stack([counts[yi == k].sum(0) for k in range(len(classes))], axis=1).astype(float)
    return _mi_from_joint(joint)


def token_mutual_information(tokens, y, n_codes: int, n_shuffles: int = 20, seed: int = 0,
                             per_channel: bool = False) -> dict:
    """Token-class MI with a shuffled-label control (a permutation test).

    ``per_channel`` as in :func:`tokens_class_mi`.

    Parameters
    ----------
    tokens : ndarray of int, shape (n_windows, n_channels, n_patches)
        Token ids in ``[0, n_codes)`` (any integer array whose first axis is the window).
    y : array-like, shape (n_windows,)
        Class label of each window.
    n_codes : int
        Codebook size (>= 2).
    n_shuffles : int
        Number of label permutations of the control.
    seed : int
        Seed of the permutations.
    per_channel : bool
        Use (channel, code) pairs as symbols, as in :func:`tokens_class_mi`.

    Returns
    -------
    out : dict
        ``mi`` (nats), ``shuffled`` (ndarray (n_shuffles,) MI with permuted
        window labels), ``z`` ((mi - mean shuffled) / std shuffled) and
        ``p_value`` (share of shuffles >= mi, with the +1 correction).
    """
    tokens = _check_tokens(tokens, n_codes)
    if per_channel:
        tokens, n_codes = _channel_tokens(tokens, n_codes)
    y = np.asarray(y)
    mi = tokens_class_mi(tokens, y, n_codes)
    rng = np.random.default_rng(seed)
    shuffled = np.array([tokens_class_mi(tokens, rng.permutation(y), n_codes) for _ in range(n_shuffles)])
    sd = shuffled.std()
    return {"mi": mi, "shuffled": shuffled, "z": float((mi - shuffled.mean()) / sd) if sd > 0 else np.inf,
            "p_value": float((1 + (shuffled >= mi).sum()) / (1 + n_shuffles))}


def most_informative_tokens(tokens, y, n_codes: int, k: int = 10, min_count: int = 5):
    """The codes whose presence in a window says most about the class.

    For each code, the MI (nats) between "the window contains the code" and the
    class, from the (present/absent x class) table of windows.

    Parameters
    ----------
    tokens : ndarray of int, shape (n_windows, n_channels, n_patches)
        Token ids in ``[0, n_codes)`` (any integer array whose first axis is the window).
    y : array-like, shape (n_windows,)
        Class label of each window.
    n_codes : int
        Codebook size (>= 2).
    k : int
        Number of codes returned (fewer when fewer codes pass ``min_count``).
    min_count : int
        Codes present in fewer windows than this are skipped.

    Returns
    -------
    codes : ndarray, shape (k,)
        Most informative codes first (codes seen in fewer than ``min_count``
        windows are skipped).
    mi : ndarray, shape (k,)
    """
    counts = token_counts(tokens, n_codes)
    classes, yi = _check_y(y, len(counts))
    present = counts > 0
    n_win = present.sum(0)
    scores = np.full(n_codes, -np.inf)
    onehot = np.eye(len(classes))[yi]  # (n_windows, n_classes)
    pres_by_class = present.T.astype(float) @ onehot  # (n_codes, n_classes)
    tot_by_class = onehot.sum(0)
    for c in np.flatnonzero(n_win >= min_count):
        joint = np.stack([pres_by_class[c], tot_by_class - pres_by_class[c]])
        scores[c] = _mi_from_joint(joint)
    order = np.argsort(-scores)[:k]
    order = order[np.isfinite(scores[order])]
    return order, scores[order]


def code_mean_spectra(tokens, spectra, codes=None, n_codes: int | None = None):
    """Mean spectrum of the patches assigned to each code.

    Parameters
    ----------
    tokens : int array, shape (n_windows, n_channels, n_patches)
        Token id of each patch.
    spectra : ndarray, shape (n_windows, n_channels, n_patches, n_freqs)
        Spectrum of each patch, e.g. ``TFMTokenizerEstimator.spectra(X)``.
    codes : array-like of int | None
        Codes to summarise (default: all codes that occur).
    n_codes : int | None
        Unused: the codes come from ``codes``, else from ``tokens``.

    Returns
    -------
    codes : ndarray, shape (n_selected,)
    mean : ndarray, shape (n_selected, n_freqs)
    count : ndarray, shape (n_selected,)
    """
    tokens = np.asarray(tokens)
    spectra = np.asarray(spectra)
    if spectra.shape[:-1] != tokens.shape:
        raise ValueError(f"spectra {spectra.shape} must be tokens {tokens.shape} + (n_freqs,).")
    flat_t = tokens.ravel()
    flat_s = spectra.reshape(-1, spectra.shape[-1])
    codes = np.unique(flat_t) if codes is None else np.asarray(codes)
    mean = np.full((len(codes), flat_s.shape[1]), np.nan)
    count = np.zeros(len(codes), dtype=np.int64)
    for i, c in enumerate(codes):
        sel = flat_t == c
        count[i] = sel.sum()
        if count[i]:
            mean[i] = flat_s[sel].mean(0)
    return codes, mean, count


def token_consistency(tokens, groups, n_codes: int) -> dict:
    """How alike the token bags of repeated trials are.

    Each window becomes a normalised code histogram; consistency is the mean
    cosine similarity between windows of the same group (repeats of one
    condition / stimulus) compared with windows of different groups.

    Parameters
    ----------
    tokens : ndarray of int, shape (n_windows, n_channels, n_patches)
        Token ids in ``[0, n_codes)`` (any integer array whose first axis is the window).
    groups : array-like, shape (n_windows,)
        Group of each window (e.g. the stimulus or condition that was repeated).
    n_codes : int
        Codebook size (>= 2).

    Returns
    -------
    out : dict
        ``within`` and ``between`` (mean cosine similarity), ``ratio``
        (within / between; > 1 means repeats share tokens), ``per_group`` (dict
        group -> mean within-group similarity).
    """
    counts = token_counts(tokens, n_codes).astype(float)
    groups = np.asarray(groups)
    if groups.shape != (len(counts),):
        raise ValueError(f"The 'groups' parameter must have shape ({len(counts)},), got {groups.shape}.")
    h = counts / np.linalg.norm(counts, axis=1, keepdims=True)
    sim = h @ h.T
    same = groups[:, None] == groups[None, :]
    off = ~np.eye(len(h), dtype=bool)
    if not (same & off).any():
        raise ValueError("token_consistency needs at least one group with two or more windows.")
    within = float(sim[same & off].mean())
    between = float(sim[~same].mean()) if (~same).any() else float("nan")
    per_group = {}
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if len(idx) > 1:
            s = sim[np.ix_(idx, idx)]
            per_group[g.item() if hasattr(g, "item") else g] = float(s[~np.eye(len(idx), dtype=bool)].mean())
    return {"within": within, "between": between, "ratio": within / between, "per_group": per_group}


def code_usage(tokens, n_codes: int) -> dict:
    """Codebook usage of tokens: counts, n_used, share_used, perplexity (see ``vq.codebook_usage``).

    Parameters
    ----------
    tokens : ndarray of int, shape (n_windows, n_channels, n_patches)
        Token ids in ``[0, n_codes)`` (any integer array whose first axis is the window).
    n_codes : int
        Codebook size (>= 2).
    """
    return codebook_usage(_check_tokens(tokens, n_codes), n_codes)


# -- plots ------------------------------------------------------------------------------------
def plot_code_usage(tokens, n_codes: int, ax=None):
    """Histogram of code counts, sorted (rank-frequency), log scale.

    Parameters
    ----------
    tokens : ndarray of int, shape (n_windows, n_channels, n_patches)
        Token ids in ``[0, n_codes)`` (any integer array whose first axis is the window).
    n_codes : int
        Codebook size (>= 2).
    ax : matplotlib.axes.Axes | None
        Axes to draw in (default: a new figure).
    """
    import matplotlib.pyplot as plt
    usage = code_usage(tokens, n_codes)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    counts = np.sort(usage["counts"])[::-1]
    ax.bar(np.arange(len(counts)), counts, width=1.0)
    ax.set_yscale("log")
    ax.set_xlabel("code rank")
    ax.set_ylabel("count")
    ax.set_title(f"{usage['n_used']}/{n_codes} codes used, perplexity {usage['perplexity']:.1f}")
    return ax.figure


def plot_class_token_frequency(tokens, y, n_codes: int, k: int = 20, ax=None):
    """Per-class frequency of the ``k`` most informative codes.

    Parameters
    ----------
    tokens : ndarray of int, shape (n_windows, n_channels, n_patches)
        Token ids in ``[0, n_codes)`` (any integer array whose first axis is the window).
    y : array-like, shape (n_windows,)
        Class label of each window.
    n_codes : int
        Codebook size (>= 2).
    k : int
        Number of codes shown (the most informative, see :func:`most_informative_tokens`).
    ax : matplotlib.axes.Axes | None
        Axes to draw in (default: a new figure).
    """
    import matplotlib.pyplot as plt
    freq, classes = class_token_frequency(tokens, y, n_codes)
    codes, _ = most_informative_tokens(tokens, y, n_codes, k=k, min_count=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    width = 0.8 / len(classes)
    for i, c in enumerate(classes):
        ax.bar(np.arange(len(codes)) + i * width, freq[i, codes], width=width, label=str(c))
    ax.set_xticks(np.arange(len(codes)) + 0.4 - width / 2, [str(c) for c in codes], rotation=90)
    ax.set_xlabel("code (most informative first)")
    ax.set_ylabel("share of tokens")
    ax.legend(title="class")
    return ax.figure


def plot_code_spectra(tokens, spectra, n_top: int = 8, sfreq: float = 200.0, ax=None):
    """Mean spectrum behind the ``n_top`` most frequent codes.

    Parameters
    ----------
    tokens : ndarray of int, shape (n_windows, n_channels, n_patches)
        Token ids in ``[0, n_codes)`` (any integer array whose first axis is the window).
    spectra : ndarray, shape (n_windows, n_channels, n_patches, n_freqs)
        Spectrum of each patch (one-sided, 0 to ``sfreq / 2``), as for :func:`code_mean_spectra`.
    n_top : int
        Number of codes shown (the most frequent).
    sfreq : float
        Sampling rate in Hz, for the frequency axis.
    ax : matplotlib.axes.Axes | None
        Axes to draw in (default: a new figure).
    """
    import matplotlib.pyplot as plt
    codes, mean, count = code_mean_spectra(tokens, spectra)
    top = np.argsort(-count)[:n_top]
    n_freqs = mean.shape[1]
    freqs = np.arange(n_freqs) * sfreq / (2 * (n_freqs - 1))
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    for i in top:
        ax.plot(freqs, mean[i], label=f"code {codes[i]} (n={count[i]})")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("log1p |STFT|")
    ax.legend(fontsize=6)
    return ax.figure
