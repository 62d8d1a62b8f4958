"""Figures of the brain x model grid: layer x region heatmap, profiles, RDM panels, identification."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..._io import atomic_path


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


def plot_heatmap(cells, layers: Sequence[str], regions: Sequence[str], path: Path, title: str) -> Path:
    """Layer x region similarity (raw RDMs) with the region's lower noise ceiling as the last row.

    Parameters
    ----------
    cells : pandas.DataFrame
        One row per (region, layer) cell of one setting: ``layer``, ``region``, ``score``,
        ``ci_low``, ``ci_high``, ``nc_lower``.
    layers : sequence of str
        Layers in display order (n_layers).
    regions : sequence of str
        Regions in display order (n_regions).
    path : Path
        PNG file written.
    title : str
        Figure title.

    Returns
    -------
    path : Path
        The file written.
    """
    import matplotlib.pyplot as plt

    M = cells.pivot(index="layer", columns="region", values="score").reindex(index=layers, columns=regions)
    nc = cells.groupby("region")["nc_lower"].first().reindex(regions).to_numpy()[None]
    A = np.vstack([M.to_numpy(float), nc])
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * len(regions), 1.0 + 0.42 * (len(layers) + 1)))
    im = ax.imshow(A, aspect="auto", cmap="viridis")
    ax.axhline(len(layers) - 0.5, color="w", lw=2)
    ax.set_yticks(range(len(layers) + 1), [*layers, "noise ceiling (lower)"], fontsize=8)
    ax.set_xticks(range(len(regions)), regions, rotation=60, ha="right", fontsize=8)
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            if np.isfinite(A[i, j]) and A.size <= 300:
                ax.text(j, i, f"{A[i, j]:.2f}", ha="center", va="center", fontsize=6, color="w")
    fig.colorbar(im, ax=ax, fraction=0.03)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_profiles(cells, layers: Sequence[str], regions: Sequence[str], path: Path, title: str,
                  max_regions: int = 10) -> Path:
    """Similarity of each layer per region (x: layers), with bootstrap CIs.

    Parameters
    ----------
    cells : pandas.DataFrame
        One row per (region, layer) cell of one setting: ``layer``, ``region``, ``score``,
        ``ci_low``, ``ci_high``, ``nc_lower``.
    layers : sequence of str
        Layers in display order (n_layers).
    regions : sequence of str
        Regions in display order (n_regions).
    path : Path
        PNG file written.
    title : str
        Figure title.
    max_regions : int
        At most this many regions drawn (evenly spaced).

    Returns
    -------
    path : Path
        The file written.
    """
    import matplotlib.pyplot as plt

    pick = list(regions)
    if len(pick) > max_regions:
        pick = [pick[i] for i in np.linspace(0, len(pick) - 1, max_regions).round().astype(int)]
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(layers) + 2), 3.8))
    x = np.arange(len(layers))
    for r in pick:
        c = cells[cells["region"] == r].set_index("layer").reindex(layers)
        y = c["score"].to_numpy(float)
        err = np.abs(np.vstack([y - c["ci_low"].to_numpy(float), c["ci_high"].to_numpy(float) - y]))
        ax.errorbar(x, y, yerr=np.nan_to_num(err), marker="o", ms=3, capsize=2, label=r)
    ax.set_xticks(x, layers, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("similarity with the brain RDMs")
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_rdm_panels(brain_rdms: dict, model_rdms: dict, path: Path, max_panels: int = 6) -> Path:
    """Mean brain RDM of some regions (top row) and RDMs of some layers (bottom row).

    Parameters
    ----------
    brain_rdms : dict
        Region -> mean condensed brain RDM, shape (n_pairs,).
    model_rdms : dict
        Layer -> condensed model RDM, shape (n_pairs,).
    path : Path
        PNG file written.
    max_panels : int
        At most this many regions and layers drawn (evenly spaced).

    Returns
    -------
    path : Path
        The file written.
    """
    import matplotlib.pyplot as plt

    from .plots import plot_rdm

    def pick(d):
        keys = list(d)
        if len(keys) > max_panels:
            keys = [keys[i] for i in np.linspace(0, len(keys) - 1, max_panels).round().astype(int)]
        return keys

    b, m = pick(brain_rdms), pick(model_rdms)
    n = max(len(b), len(m))
    fig, axes = plt.subplots(2, n, figsize=(2.3 * n, 4.8), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, k in enumerate(b):
        axes[0, i].axis("on")
        plot_rdm(brain_rdms[k], ax=axes[0, i], title=f"brain {k}", rank=True, colorbar=False)
    for i, k in enumerate(m):
        axes[1, i].axis("on")
        plot_rdm(model_rdms[k], ax=axes[1, i], title=k, rank=True, colorbar=False)
    for ax in axes.ravel():
        ax.title.set_fontsize(7)
    return _save(fig, path)


def plot_identification(table, path: Path, title: str) -> Path:
    """Region identification accuracy per tRSA setting with bootstrap CIs and chance.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per setting: ``setting``, ``accuracy``, ``ci_low``, ``ci_high``, ``chance``,
        ``degenerate``.
    path : Path
        PNG file written.
    title : str
        Figure title.

    Returns
    -------
    path : Path
        The file written.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(table) + 2), 3.5))
    x = np.arange(len(table))
    acc = table["accuracy"].to_numpy(float)
    err = np.abs(np.vstack([acc - table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float) - acc]))
    colors = ["0.7" if d else "C0" for d in table["degenerate"]]
    ax.bar(x, np.nan_to_num(acc), yerr=np.nan_to_num(err), color=colors, capsize=2)
    ax.axhline(float(table["chance"].iloc[0]), color="k", ls="--", lw=1, label="chance")
    ax.set_xticks(x, table["setting"], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("identification accuracy")
    ax.set_ylim(0, 1.05)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)
