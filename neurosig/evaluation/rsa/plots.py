"""RSA figures: RDM heatmaps, MDS embeddings, comparison bars, identification curves.

Every function draws into a matplotlib Axes (created when not given) and returns it;
nothing is shown or saved here (``ax.figure.savefig(...)`` does that).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .rdm import as_square


def _axes(ax=None, figsize=(4.5, 4)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_rdm(rdm: Any, ax=None, labels: Sequence[str] | None = None, title: str | None = None,
             rank: bool = False, cmap: str = "viridis", colorbar: bool = True):
    """Heatmap of one RDM.

    Parameters
    ----------
    rdm : array-like, shape (n, n) or (n_pairs,)
        The RDM, square or condensed.
    ax : matplotlib Axes | None
        Axes to draw on (None: a new figure).
    labels : sequence of str | None
        Condition labels (shown when there are at most 30 conditions).
    title : str | None
        Axes title.
    rank : bool
        Show percentile ranks of the distances instead of raw values.
    cmap : str
        Matplotlib colour map.
    colorbar : bool
        Draw a colour bar.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.
    """
    D = as_square(rdm, allow_inf=True)[0]
    if rank:
        from scipy.stats import rankdata

        iu = np.triu_indices(len(D), 1)
        r = rankdata(D[iu]) / len(iu[0])
        D = np.zeros_like(D)
        D[iu] = r
        D = D + D.T
    ax = _axes(ax)
    im = ax.imshow(np.where(np.isinf(D), np.nan, D), cmap=cmap, interpolation="nearest")
    if labels is not None and len(labels) <= 30:
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="percentile" if rank else "dissimilarity")
    if title:
        ax.set_title(title)
    return ax


def plot_mds(rdm: Any, ax=None, groups: Sequence[Any] | None = None, seed: int = 0, title: str | None = None):
    """2-D metric MDS embedding of the conditions of one RDM.

    Parameters
    ----------
    rdm : array-like, shape (n, n) or (n_pairs,)
        The RDM, square or condensed.
    ax : matplotlib Axes | None
        Axes to draw on (None: a new figure).
    groups : sequence | None
        Category of each condition, length n (one colour per category).
    seed : int
        Seed of the MDS initialisation.
    title : str | None
        Axes title.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.
    """
    from sklearn.manifold import MDS

    D = as_square(rdm)[0]
    D = np.maximum(D, 0)  # crossnobis estimates can be slightly negative
    import inspect

    # scikit-learn >= 1.8 names the option metric="precomputed" (dissimilarity= is deprecated)
    kw = ({"metric": "precomputed", "init": "random"} if "metric_mds" in inspect.signature(MDS).parameters
          else {"dissimilarity": "precomputed"})
    emb = MDS(n_components=2, random_state=seed, n_init=4, normalized_stress="auto", **kw).fit_transform(D)
    ax = _axes(ax)
    if groups is None:
        ax.scatter(emb[:, 0], emb[:, 1], s=18)
    else:
        g = np.asarray(groups)
        for lab in np.unique(g):
            sel = g == lab
            ax.scatter(emb[sel, 0], emb[sel, 1], s=18, label=str(lab))
        ax.legend(fontsize=7, frameon=False)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def plot_comparison_bars(names: Sequence[str], values: Any, ci: Any = None, noise_ceiling: Any = None,
                         ax=None, ylabel: str = "RDM similarity", title: str | None = None):
    """Bars of model evaluations with confidence intervals and the noise ceiling band.

    Parameters
    ----------
    names : sequence of str, length n_models
        Model names.
    values : array-like, shape (n_models,)
        Model evaluations (bar heights).
    ci : array-like, shape (2, n_models) | None
        Lower and upper confidence bounds.
    noise_ceiling : (lower, upper) | None
        Noise ceiling band.
    ax : matplotlib Axes | None
        Axes to draw on (None: a new figure).
    ylabel : str
        Label of the y axis.
    title : str | None
        Axes title.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.
    """
    values = np.asarray(values, dtype=float)
    ax = _axes(ax, figsize=(max(4, 0.6 * len(values) + 1.5), 3.5))
    x = np.arange(len(values))
    yerr = None
    if ci is not None:
        ci = np.asarray(ci, dtype=float)
        yerr = np.abs(np.vstack([values - ci[0], ci[1] - values]))
    ax.bar(x, values, yerr=yerr, capsize=3, color="tab:blue", alpha=0.8)
    if noise_ceiling is not None:
        lo, up = noise_ceiling
        ax.axhspan(lo, up, color="0.7", alpha=0.5, zorder=0, label="noise ceiling")
        ax.legend(fontsize=7, frameon=False)
    ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.axhline(0, color="k", lw=0.5)
    if title:
        ax.set_title(title)
    return ax


def plot_identification_curve(table, ax=None, x: str = "up", title: str | None = None, chance: float | None = None):
    """Identification accuracy (with CI) over tRSA thresholds, one line per variant and lower quantile.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`~neurosig.evaluation.rsa.threshold_sweep` (columns
        variant, low, up, accuracy, ci_low, ci_high).
    ax : matplotlib Axes | None
        Axes to draw on (None: a new figure).
    x : str
        Column on the x axis (``"up"`` or ``"low"``).
    title : str | None
        Axes title.
    chance : float | None
        Chance level line.
    """
    ax = _axes(ax, figsize=(6, 3.8))
    other = "low" if x == "up" else "up"
    raw = table[table["variant"] == "none"]
    for (variant, o), sub in table[table["variant"] != "none"].groupby(["variant", other]):
        sub = sub.sort_values(x)
        ls = "-" if variant == "geotopological" else "--"
        ax.errorbar(sub[x], sub["accuracy"], yerr=[sub["accuracy"] - sub["ci_low"], sub["ci_high"] - sub["accuracy"]],
                    ls=ls, marker="o", ms=4, capsize=2, label=f"{variant}, {other}={o:g}")
    if len(raw):
        ax.axhline(float(raw["accuracy"].iloc[0]), color="k", lw=1, label="raw RDMs")
    if chance is not None:
        ax.axhline(chance, color="0.5", lw=1, ls=":", label="chance")
    ax.set_xlabel(f"{x} quantile")
    ax.set_ylabel("identification accuracy")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=6, frameon=False, ncol=2)
    if title:
        ax.set_title(title)
    return ax
