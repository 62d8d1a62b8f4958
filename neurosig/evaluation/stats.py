"""Statistics between pipelines: MOABB's ``moabb.analysis.meta_analysis``, in long tables.

Per dataset, on subject scores (sessions averaged):

- one-tailed paired p-value that pipeline 1 beats pipeline 2: an exact sign-flip
  permutation test of the summed differences (random sign flips above 13 subjects) when
  there are fewer than ``perm_cutoff`` subjects, otherwise the Wilcoxon signed-rank test
  (two-sided p halved, flipped when the mean difference is negative);
- the standardized mean difference (mean / sample std of the paired differences).

Across datasets: Stouffer's weighted Z (weights ``sqrt(n_subjects)``) for p-values and
the ``sqrt(n_subjects)``-weighted mean of the effects.

The numbers are MOABB's own: :func:`subject_scores`, :func:`wilcoxon_pvalues`,
:func:`standardized_mean_difference`, :func:`stouffer`, :func:`combine_effects` and
:func:`permutation_pvalues` (its default 10,000 random patterns) call
``collapse_session_scores``, ``compute_pvals_wilcoxon``, ``compute_effect``,
``combine_pvalues``, ``combine_effects`` and ``compute_pvals_perm`` (as of MOABB 1.6).
neurosig keeps its own code only where MOABB lacks a feature:

- ``permutation_pvalues(n_random=...)``: MOABB fixes 10,000 random sign patterns;
- :func:`dataset_statistics`: MOABB's ``compute_dataset_statistics`` takes no seed (the
  random permutation test of 14 to 19 subjects is not reproducible), refuses a subject
  that misses a pipeline (neurosig drops that subject) and does not name the test used;
- :func:`meta_analysis`: MOABB's ``find_significant_differences`` returns square matrices
  and weights every pair with the subject counts of all datasets; neurosig returns one
  row per ordered pair, combining only the datasets on which that pair ran.

Scores must be finite (MOABB refuses NaN and infinities with a ``ValueError``).
``tests/evaluation/test_bench_stats.py`` checks every number against MOABB's functions.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._moabb import moabb_module

#: MOABB's number of random sign patterns above 13 subjects
_MOABB_N_RANDOM = 10000


def _ma():
    return moabb_module("analysis.meta_analysis")


def _ordered(scores: pd.DataFrame, order) -> tuple[pd.DataFrame, list]:
    """The columns of ``scores`` named in ``order`` (default: all), in that order."""
    order = list(scores.columns if order is None else order)
    return scores.loc[:, order], order


def subject_scores(df: pd.DataFrame) -> pd.DataFrame:
    """Mean score per (pipeline, dataset, subject): sessions averaged.

    Parameters
    ----------
    df : DataFrame
        Benchmark rows with columns ``pipeline, dataset, subject, score`` (one row per
        session or fold).
    """
    cols = df[["pipeline", "dataset", "subject", "score"]].astype({"score": float})  # MOABB averages numbers only
    return _ma().collapse_session_scores(cols)


def permutation_pvalues(scores: pd.DataFrame, order=None, n_random: int = 10000,
                        seed: int | None = 0) -> np.ndarray:
    """One-tailed sign-flip permutation p-values, shape (k, k); ``[i, j]`` small if i > j.

    Exact (all ``2**n`` sign patterns) for up to 13 subjects, ``n_random`` random
    patterns above. The statistic is the sum of paired differences (equivalent to the
    paired t statistic under sign flips of the same data only up to monotonicity of
    the mean, as in MOABB). p-values are kept below 1 for Stouffer's method. MOABB's
    ``compute_pvals_perm`` computes them, except with ``n_random`` other than 10,000.

    Parameters
    ----------
    scores : DataFrame, shape (n_subjects, k)
        Subject scores of one dataset, one column per pipeline.
    order : list of str | None
        Pipelines (columns of ``scores``) in the order of the output rows and columns
        (default: the column order).
    n_random : int
        Number of random sign patterns when there are more than 13 subjects.
    seed : int | None
        Seed of the random sign patterns (unused up to 13 subjects).
    """
    scores, order = _ordered(scores, order)
    if len(scores) <= 13 or n_random == _MOABB_N_RANDOM:
        return _ma().compute_pvals_perm(scores, order, seed=seed)
    v = scores.to_numpy(dtype=float)
    d = v[:, :, None] - v[:, None, :]  # (n_subjects, k, k), as MOABB builds it
    rng = np.random.RandomState(seed)
    count = np.ones(d.shape[1:], dtype=np.int64)
    for _ in range(n_random):
        signs = rng.choice([1, -1], size=(len(d),), replace=True)
        count += (d * signs[:, None, None]).sum(axis=0) >= d.sum(axis=0)
    count[count >= n_random] = n_random - 1
    return count / n_random


def wilcoxon_pvalues(scores: pd.DataFrame, order=None) -> np.ndarray:
    """One-tailed Wilcoxon signed-rank p-values, shape (k, k); ``[i, j]`` small if i > j.

    Parameters
    ----------
    scores : DataFrame, shape (n_subjects, k)
        Subject scores of one dataset, one column per pipeline.
    order : list of str | None
        Pipelines (columns of ``scores``) in the order of the output rows and columns
        (default: the column order).
    """
    scores, order = _ordered(scores, order)
    return _ma().compute_pvals_wilcoxon(scores, order)


def standardized_mean_difference(scores: pd.DataFrame, order=None) -> np.ndarray:
    """SMD ``mean(d) / std(d, ddof=1)`` of paired differences, shape (k, k).

    Zero when two pipelines score identically, signed infinity for a constant offset.

    Parameters
    ----------
    scores : DataFrame, shape (n_subjects, k)
        Subject scores of one dataset, one column per pipeline.
    order : list of str | None
        Pipelines (columns of ``scores``) in the order of the output rows and columns
        (default: the column order).
    """
    scores, order = _ordered(scores, order)
    return _ma().compute_effect(scores, order)


def dataset_statistics(df: pd.DataFrame, perm_cutoff: int = 20, seed: int | None = 0) -> pd.DataFrame:
    """p-value and SMD for every ordered pipeline pair on every dataset.

    Parameters
    ----------
    df : DataFrame
        Benchmark rows (``pipeline, dataset, subject, session, score``).
    perm_cutoff : int
        Below this many subjects, the permutation test; from it on, Wilcoxon.
    seed : int | None
        Seed of the random sign patterns of the permutation test.

    Returns
    -------
    DataFrame
        Columns ``dataset, pipe1, pipe2, p, smd, nsub, test``.
    """
    sub = subject_scores(df)
    rows = []
    for dset in sub["dataset"].unique():
        table = sub[sub["dataset"] == dset].pivot(index="subject", values="score", columns="pipeline")
        table = table.dropna()
        algs = table.columns.tolist()
        if table.shape[0] < perm_cutoff:
            p, test = permutation_pvalues(table, algs, seed=seed), "permutation"
        else:
            p, test = wilcoxon_pvalues(table, algs), "wilcoxon"
        smd = standardized_mean_difference(table, algs)
        for i, a in enumerate(algs):
            for j, b in enumerate(algs):
                rows.append({"dataset": dset, "pipe1": a, "pipe2": b, "p": float(p[i, j]),
                             "smd": float(smd[i, j]), "nsub": int(table.shape[0]), "test": test})
    return pd.DataFrame(rows, columns=["dataset", "pipe1", "pipe2", "p", "smd", "nsub", "test"])


def stouffer(pvalues, nsubs) -> float:
    """Stouffer's weighted Z with weights ``sqrt(nsubs)``; one p-value is returned as is.

    Parameters
    ----------
    pvalues : array-like, shape (n_datasets,)
        One-tailed p-values, one per dataset.
    nsubs : array-like, shape (n_datasets,)
        Number of subjects of each dataset.
    """
    return float(_ma().combine_pvalues(np.asarray(pvalues, dtype=float), np.asarray(nsubs, dtype=float)))


def combine_effects(effects, nsubs) -> float:
    """``sqrt(nsubs)``-weighted mean of per-dataset effects.

    Parameters
    ----------
    effects : array-like, shape (n_datasets,)
        Effect sizes (e.g. SMD), one per dataset.
    nsubs : array-like, shape (n_datasets,)
        Number of subjects of each dataset.
    """
    return float(_ma().combine_effects(np.asarray(effects, dtype=float), np.asarray(nsubs, dtype=float)))


def meta_analysis(stats_df: pd.DataFrame) -> pd.DataFrame:
    """Combine per-dataset statistics across datasets for every ordered pipeline pair.

    Parameters
    ----------
    stats_df : DataFrame
        Per-dataset statistics, as returned by :func:`dataset_statistics` (columns
        ``pipe1, pipe2, p, smd, nsub``).

    Returns
    -------
    DataFrame
        Columns ``pipe1, pipe2, p, smd, n_datasets`` (Stouffer p, weighted SMD).
    """
    rows = []
    for (a, b), g in stats_df.groupby(["pipe1", "pipe2"], sort=True):
        if a == b:
            continue
        rows.append({"pipe1": a, "pipe2": b, "p": stouffer(g["p"], g["nsub"]),
                     "smd": combine_effects(g["smd"], g["nsub"]), "n_datasets": len(g)})
    return pd.DataFrame(rows, columns=["pipe1", "pipe2", "p", "smd", "n_datasets"])
