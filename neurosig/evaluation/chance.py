"""Chance levels and label-permutation tests on fixed out-of-fold predictions.

A score only means something next to what chance gives for the same number of
test trials: 0.6 on 45 trials is within the noise. For every benchmark row we keep
each fold's out-of-fold responses (decision values or predictions) and permute the
labels inside each test fold, with the fitted models FIXED (no refit): the null
distribution of the fold-averaged score for exactly these test sets. Refitting
permutations (the classic ``permutation_test_score``) are much slower and opt-in in
:func:`neurosig.benchmark`.

:func:`adjusted_chance_level` is MOABB's (``moabb.analysis.chance_level``, as of MOABB
1.6). The rest is neurosig's because MOABB has no counterpart: MOABB's
``chance_by_chance`` gives only the theoretical ``1 / n_classes`` and the binomial
levels (no ROC-AUC chance of 0.5, as :func:`theoretical_chance` gives), and MOABB has no
permutation test on fixed out-of-fold predictions (:func:`null_fold_scores`,
:func:`fixed_permutation_test`).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from ._moabb import moabb_module

#: metrics the fixed-prediction permutation test knows how to recompute
PERMUTABLE_METRICS = ("accuracy", "roc_auc")


def adjusted_chance_level(n_classes: int, n_trials: int, alpha: float = 0.05) -> float:
    """Accuracy that a chance classifier exceeds with probability ``alpha`` (binomial).

    Combrisson & Jerbi (2015): ``binom.isf(alpha, n_trials, 1 / n_classes) / n_trials``
    (MOABB's ``adjusted_chance_level``).

    Parameters
    ----------
    n_classes : int
        Number of classes (chance accuracy ``1 / n_classes``).
    n_trials : int
        Number of test trials.
    alpha : float
        Probability that a chance classifier exceeds the returned accuracy.
    """
    return float(moabb_module("analysis.chance_level").adjusted_chance_level(n_classes, n_trials, alpha))


def _perm_indices(rng: np.random.Generator, n_perm: int, n: int) -> np.ndarray:
    """(n_perm, n) independent random permutations of range(n)."""
    return np.argsort(rng.random((n_perm, n)), axis=1)


def null_fold_scores(y: np.ndarray, response: np.ndarray, metric: str, n_perm: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Scores of ``response`` against ``n_perm`` permutations of ``y`` (one test fold).

    Parameters
    ----------
    y : ndarray, shape (n_test,)
        Encoded test labels (0..n_classes-1; for ``roc_auc`` 1 is the positive class).
    response : ndarray, shape (n_test,)
        Predicted labels (``accuracy``) or decision values / positive-class
        probabilities (``roc_auc``), fixed.
    metric : {"accuracy", "roc_auc"}
    n_perm : int
    rng : numpy.random.Generator

    Returns
    -------
    scores : ndarray, shape (n_perm,)
    """
    y = np.asarray(y)
    response = np.asarray(response)
    perm = _perm_indices(rng, n_perm, len(y))
    yp = y[perm]                                   # (n_perm, n_test)
    if metric == "accuracy":
        return (yp == response[None, :]).mean(axis=1)
    if metric == "roc_auc":
        # AUC = Mann-Whitney U / (n_pos * n_neg), ties count one half (average ranks):
        # identical to sklearn.metrics.roc_auc_score for binary labels.
        ranks = rankdata(response)
        pos = yp == 1
        n_pos = int((y == 1).sum())
        n_neg = len(y) - n_pos
        return ((pos * ranks[None, :]).sum(axis=1) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    raise ValueError(f"Invalid value for the 'metric' parameter. Allowed values are "
                     f"{PERMUTABLE_METRICS}, but got {metric!r} instead.")


def fixed_permutation_test(folds: list[tuple[np.ndarray, np.ndarray]], metric: str, observed: float,
                           n_perm: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict:
    """Permutation test of a fold-averaged score with the predictions held fixed.

    Parameters
    ----------
    folds : list of (y_test, response)
        Per test fold: encoded labels, shape (n_test,), and fixed responses, shape (n_test,).
    metric : {"accuracy", "roc_auc"}
    observed : float
        The fold-averaged score being tested.
    n_perm : int
        Number of label permutations.
    seed : int
        Seed of the permutations.
    alpha : float
        Level of the empirical chance level (the ``1 - alpha`` quantile of the null).

    Returns
    -------
    dict
        ``p_value`` (``(1 + #null >= observed) / (1 + n_perm)``), ``chance_level``
        (the null's ``1 - alpha`` quantile: what chance reaches on these test sets),
        ``null_mean``, ``n_permutations``.
    """
    rng = np.random.default_rng(seed)
    null = np.mean([null_fold_scores(y, r, metric, n_perm, rng) for y, r in folds], axis=0)
    p = (1 + np.count_nonzero(null >= observed - 1e-12)) / (1 + n_perm)
    return {"p_value": float(p), "chance_level": float(np.quantile(null, 1 - alpha)),
            "null_mean": float(null.mean()), "n_permutations": int(n_perm)}


def theoretical_chance(metric: str, n_classes: int) -> float | None:
    """0.5 for ROC-AUC, ``1 / n_classes`` for accuracy, None otherwise.

    Parameters
    ----------
    metric : str
        Metric name (``"roc_auc"``, ``"accuracy"``, ``"balanced_accuracy"``, ...).
    n_classes : int
        Number of classes.
    """
    if metric == "roc_auc":
        return 0.5
    if metric in ("accuracy", "balanced_accuracy"):
        return 1.0 / n_classes
    return None
