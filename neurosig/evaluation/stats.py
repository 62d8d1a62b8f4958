"""Statistics between pipelines, as MOABB's ``moabb.analysis.meta_analysis`` defines them.

Per dataset, on subject scores (sessions averaged):

- one-tailed paired p-value that pipeline 1 beats pipeline 2: an exact sign-flip
  permutation test of the summed differences (a permutation paired t-test; random
  sign flips above 13 subjects) when there are fewer than ``perm_cutoff`` subjects,
  otherwise the Wilcoxon signed-rank test (two-sided p halved, flipped when the mean
  difference is negative, exactly as MOABB);
- the standardized mean difference (mean / sample std of the paired differences).

Across datasets: Stouffer's weighted Z (weights ``sqrt(n_subjects)``) for p-values and
the ``sqrt(n_subjects)``-weighted mean of the effects. ``tests/evaluation/test_bench_stats.py``
checks every number against MOABB's own functions.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats as sps

_P_FLOOR = np.nextafter(0.0, 1.0)
_P_CEIL = np.nextafter(1.0, 0.0)


def subject_scores(df: pd.DataFrame) -> pd.DataFrame:
    """Mean score per (pipeline, dataset, subject): sessions averaged.

    Parameters
    ----------
    df : DataFrame
        Benchmark rows with columns ``pipeline, dataset, subject, score`` (one row per
        session or fold).
    """
    return (df.groupby(["pipeline", "dataset", "subject"], sort=False, observed=True)["score"]
            .mean().reset_index())


def _diffs(scores: pd.DataFrame, order) -> np.ndarray:
    """(n_subjects, k, k): scores[:, i] - scores[:, j]."""
    v = scores.loc[:, list(order)].to_numpy(dtype=float)
    return v[:, :, None] - v[:, None, :]


def permutation_pvalues(scores: pd.DataFrame, order=None, n_random: int = 10000,
                        seed: int | None = 0) -> np.ndarray:
    """One-tailed sign-flip permutation p-values, shape (k, k); ``[i, j]`` small if i > j.

    Exact (all ``2**n`` sign patterns) for up to 13 subjects, ``n_random`` random
    patterns above. The statistic is the sum of paired differences (equivalent to the
    paired t statistic under sign flips of the same data only up to monotonicity of
    the mean, as in MOABB). p-values are kept below 1 for Stouffer's method.

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
    order = list(scores.columns if order is None else order)
    d = _diffs(scores, order)
    n = d.shape[0]
    true = d.sum(axis=0)
    if n <= 13:
        signs = np.array(list(itertools.product([-1, 1], repeat=n)), dtype=float)
        nperms = len(signs)
        count = np.zeros(true.shape, dtype=np.int64)
        for s in signs:
            count += (np.tensordot(s, d, axes=1) >= true)
    else:
        rng = np.random.RandomState(seed)
        nperms = n_random
        count = np.ones(true.shape, dtype=np.int64)
        for _ in range(n_random):
            s = rng.choice([1, -1], size=(n,), replace=True)
            count += (np.tensordot(s, d, axes=1) >= true)
    count[count >= nperms] = nperms - 1
    return count / nperms


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
    order = list(scores.columns if order is None else order)
    k = len(order)
    out = np.zeros((k, k))
    for i, j in itertools.permutations(range(k), 2):
        a = scores[order[i]].to_numpy(float)
        b = scores[order[j]].to_numpy(float)
        diff = a - b
        if np.all(diff == 0):
            out[i, j] = 0.5
            continue
        p = sps.wilcoxon(a, b)[1] / 2
        if diff.mean() < 0:
            p = 1 - p
        out[i, j] = min(max(p, _P_FLOOR), _P_CEIL)
    return out


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
    order = list(scores.columns if order is None else order)
    d = _diffs(scores, order)
    k = len(order)
    out = np.zeros((k, k))
    for i, j in itertools.permutations(range(k), 2):
        x = d[:, i, j]
        m = x.mean()
        if np.all(x == x[0]):
            out[i, j] = 0.0 if m == 0 else np.copysign(np.inf, m)
        else:
            out[i, j] = m / x.std(ddof=1)
    return out


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
    p = np.asarray(pvalues, dtype=float)
    if p.size == 1:
        return float(p.item())
    w = np.sqrt(np.asarray(nsubs, dtype=float))
    z = sps.norm.isf(p)
    return float(sps.norm.sf((w * z).sum() / np.sqrt((w ** 2).sum())))


def combine_effects(effects, nsubs) -> float:
    """``sqrt(nsubs)``-weighted mean of per-dataset effects.

    Parameters
    ----------
    effects : array-like, shape (n_datasets,)
        Effect sizes (e.g. SMD), one per dataset.
    nsubs : array-like, shape (n_datasets,)
        Number of subjects of each dataset.
    """
    w = np.sqrt(np.asarray(nsubs, dtype=float))
    return float(((w / w.sum()) * np.asarray(effects, dtype=float)).sum())


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
