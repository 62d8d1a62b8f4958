"""PNG plots of benchmark results (matplotlib, no global backend change).

- :func:`plot_scores`: score per pipeline, one panel per dataset, subjects as dots,
  the chance level drawn as a line;
- :func:`plot_paired`: two pipelines against each other, one dot per subject;
  :func:`plot_pairs`: every pipeline pair, one panel each;
- :func:`plot_meta`: meta-analysis of every pipeline pair across datasets
  (standardized mean difference per dataset and combined, with Stouffer p-values);
- :func:`plot_confusion`: confusion matrix per (dataset, pipeline), summed over subjects.

Why not MOABB's ``moabb.analysis.plotting`` (as of MOABB 1.6): importing it applies a
seaborn theme to the global matplotlib ``rcParams`` and its figures are pyplot figures
(registered in pyplot's global state, needing seaborn), where these are standalone
``Figure`` objects written atomically; and none of its plots draws what these do:
``score_plot`` puts every dataset in one strip plot in percent with the theoretical or
binomial chance level, not one panel per dataset in the metric's units with the
permutation chance level of the rows; ``paired_plot`` and ``meta_analysis_plot`` show
one pipeline pair, not every pair; MOABB has no confusion-matrix plot. The statistics drawn by
:func:`plot_meta` are MOABB's (:mod:`neurosig.evaluation.stats`).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .._io import atomic_path


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return path


def _subject_scores(df: pd.DataFrame) -> pd.DataFrame:
    return df.groupby(["dataset", "pipeline", "subject"], sort=True)["score"].mean().reset_index()


def plot_scores(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Score per pipeline (one panel per dataset), subjects as dots, mean as a bar.

    Parameters
    ----------
    df : DataFrame
        Benchmark rows (``dataset, pipeline, subject, score, metric``, optional
        ``chance_level``).
    path : str | Path
        PNG file to write.
    """
    sub = _subject_scores(df)
    dsets = list(sub["dataset"].unique())
    fig = _figure(max(4.0, 2.2 * sub["pipeline"].nunique()) * len(dsets) / max(1, len(dsets)) + 1,
                  3.6 * len(dsets))
    rng = np.random.default_rng(0)
    for k, d in enumerate(dsets):
        ax = fig.add_subplot(len(dsets), 1, k + 1)
        s = sub[sub["dataset"] == d]
        pipes = sorted(s["pipeline"].unique())
        for i, p in enumerate(pipes):
            v = s.loc[s["pipeline"] == p, "score"].to_numpy()
            ax.bar(i, v.mean(), color="0.85", width=0.6, zorder=1)
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, s=18, zorder=2)
        rows = df[df["dataset"] == d]
        if "chance_level" in rows and pd.to_numeric(rows["chance_level"], errors="coerce").notna().any():
            ax.axhline(pd.to_numeric(rows["chance_level"], errors="coerce").mean(), ls="--",
                       color="crimson", lw=1, label="chance level (95% of permutations)")
            ax.legend(loc="lower right", fontsize=7)
        metric = rows["metric"].iloc[0] if "metric" in rows and len(rows) else "score"
        ax.set_xticks(range(len(pipes)), pipes)
        ax.set_ylabel(metric)
        ax.set_title(f"{d} ({rows['evaluation'].iloc[0] if 'evaluation' in rows else ''}): "
                     "subjects as dots", fontsize=9)
    return _save(fig, path)


def _paired_panel(ax, wide: pd.DataFrame, pipe1: str, pipe2: str, legend: bool = True) -> None:
    """One panel: subject scores of ``pipe1`` (x) against ``pipe2`` (y), colour per dataset."""
    for d, g in wide.groupby(level="dataset"):
        ax.scatter(g[pipe1], g[pipe2], s=22, label=str(d))
    lo = float(np.nanmin(wide[[pipe1, pipe2]].to_numpy()))
    hi = float(np.nanmax(wide[[pipe1, pipe2]].to_numpy()))
    pad = 0.02 * (hi - lo + 1e-9)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1)
    ax.set_xlabel(pipe1, fontsize=8)
    ax.set_ylabel(pipe2, fontsize=8)
    ax.set_title(f"{pipe2} vs {pipe1}", fontsize=8)
    if legend:
        ax.legend(fontsize=7)


def plot_paired(df: pd.DataFrame, pipe1: str, pipe2: str, path: str | os.PathLike) -> Path:
    """Subject scores of ``pipe1`` (x) against ``pipe2`` (y), colour per dataset.

    Parameters
    ----------
    df : DataFrame
        Benchmark rows (``dataset, pipeline, subject, score``).
    pipe1 : str
        Pipeline on the x axis.
    pipe2 : str
        Pipeline on the y axis.
    path : str | os.PathLike
        PNG file to write.
    """
    wide = _subject_scores(df).pivot_table(index=["dataset", "subject"], columns="pipeline",
                                           values="score")
    fig = _figure(4.2, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    _paired_panel(ax, wide, pipe1, pipe2)
    ax.set_title(f"{pipe2} vs {pipe1}: one dot per subject", fontsize=9)
    return _save(fig, path)


def plot_pairs(df: pd.DataFrame, pipelines: list[str], path: str | os.PathLike) -> Path:
    """Every pipeline pair ``(i < j)``, one panel each: subject scores of one against the other.

    Parameters
    ----------
    df : DataFrame
        Benchmark rows (``dataset, pipeline, subject, score``).
    pipelines : list of str
        Pipelines to compare; k pipelines give k (k - 1) / 2 panels, at most 4 per line.
    path : str | Path
        PNG file to write.
    """
    wide = _subject_scores(df).pivot_table(index=["dataset", "subject"], columns="pipeline",
                                           values="score")
    pairs = [(a, b) for i, a in enumerate(pipelines) for b in pipelines[i + 1:]]
    n_cols = min(4, len(pairs))
    n_rows = -(-len(pairs) // n_cols)
    fig = _figure(3.3 * n_cols, 3.3 * n_rows + 0.4)
    for k, (a, b) in enumerate(pairs):
        _paired_panel(fig.add_subplot(n_rows, n_cols, k + 1), wide, a, b, legend=k == 0)
    fig.suptitle("Every pipeline pair: one dot per subject (above the line: y pipeline better)",
                 fontsize=9)
    return _save(fig, path)


def plot_meta(stats_df: pd.DataFrame | None, pipelines: list[str], path: str | os.PathLike) -> Path:
    """Meta-analysis: SMD of each pipeline pair per dataset (dots) and combined (diamond).

    Parameters
    ----------
    stats_df : DataFrame
        Output of :func:`neurosig.evaluation.stats.dataset_statistics`.
    pipelines : list of str
        Pipelines to compare (pairs ``i < j``).
    path : str | os.PathLike
        PNG file to write.
    """
    from .stats import meta_analysis

    pairs = [(a, b) for i, a in enumerate(pipelines) for b in pipelines[i + 1:]]
    fig = _figure(6.0, 0.9 + 0.55 * max(1, len(pairs)) * max(1, stats_df["dataset"].nunique()))
    ax = fig.add_subplot(1, 1, 1)
    meta = meta_analysis(stats_df).set_index(["pipe1", "pipe2"])
    labels, y = [], 0
    for a, b in pairs:
        g = stats_df[(stats_df["pipe1"] == a) & (stats_df["pipe2"] == b)]
        for _, r in g.iterrows():
            smd = np.clip(r["smd"], -5, 5)
            ax.scatter(smd, y, s=20 + 4 * r["nsub"], color="tab:blue")
            labels.append(f"{a} vs {b} | {r['dataset']} (n={r['nsub']}, p={r['p']:.3g})")
            y += 1
        if (a, b) in meta.index and len(g) > 1:
            m = meta.loc[(a, b)]
            ax.scatter(np.clip(m["smd"], -5, 5), y, marker="D", s=60, color="k")
            labels.append(f"{a} vs {b} | combined (Stouffer p={m['p']:.3g})")
            y += 1
    ax.axvline(0, color="0.5", lw=1)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("standardized mean difference (pipe1 - pipe2)")
    ax.set_title("Meta-analysis of paired pipeline differences", fontsize=9)
    return _save(fig, path)


def plot_confusion(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Confusion matrix of every (dataset, pipeline), summed over subjects, row-normalised.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`neurosig.evaluation.bci.subject_confusions` (``dataset, pipeline,
        classes, confusion`` with ``confusion`` an ndarray, shape (n_classes, n_classes)).
    path : str | Path
        PNG file to write.
    """
    t = table[table["confusion"].notna()]
    groups = [(k, g) for k, g in t.groupby(["dataset", "pipeline"], sort=True)]
    n = len(groups)
    ncol = min(4, max(1, n))
    nrow = int(np.ceil(n / ncol))
    fig = _figure(3.4 * ncol, 3.5 * nrow)
    fig.subplots_adjust(hspace=0.75, wspace=0.65)
    for i, ((d, p), g) in enumerate(groups):
        cm = np.sum(np.stack([np.asarray(c) for c in g["confusion"]]), axis=0)
        rows = cm.sum(axis=1, keepdims=True)
        frac = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
        classes = next((c for c in g["classes"] if c), [str(k) for k in range(len(cm))])
        ax = fig.add_subplot(nrow, ncol, i + 1)
        ax.imshow(frac, vmin=0, vmax=1, cmap="Blues")
        for a in range(cm.shape[0]):
            for b in range(cm.shape[1]):
                ax.text(b, a, f"{cm[a, b]}\n{frac[a, b]:.0%}", ha="center", va="center", fontsize=7,
                        color="white" if frac[a, b] > 0.6 else "black")
        ax.set_xticks(range(len(classes)), classes, fontsize=7, rotation=30)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_xlabel("predicted", fontsize=7)
        ax.set_ylabel("true", fontsize=7)
        ax.set_title(f"{p}\n{d} ({g['subject'].nunique()} subj.)", fontsize=8)
    return _save(fig, path)
