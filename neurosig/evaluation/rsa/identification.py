"""Model selection by identification: which region, layer or model generated an RDM?

tRSA's evaluation (Lin & Kriegeskorte 2023): a held-out RDM is compared with a set
of candidate RDMs (region templates from the other subjects, model RDMs as
distractors) and counts as identified when its own region's candidate is the most
similar one. Reported are the identification accuracy (top-1, ties share credit),
sensitivity and specificity per candidate label, the pairwise distractor-rejection
rate, and bootstrap confidence intervals over subjects.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..._logging import get_logger, progress
from ..._validation import check_option, check_positive_int
from .comparison import METHODS as COMPARE_METHODS, compare_vectors
from .rdm import as_vectors, n_cond_from_length

logger = get_logger(__name__)


def identification_accuracy(test_rdms: Any, test_labels: Any, candidate_rdms: Any,
                            candidate_labels: Any, method: str = "spearman", groups: Any = None,
                            n_boot: int = 1000, seed: Any = None, level: float = 0.95) -> dict:
    """Identify each test RDM among candidate RDMs by maximal similarity.

    Parameters
    ----------
    test_rdms : array-like
        RDMs to identify, (n_test, n, n) or (n_test, n_pairs).
    test_labels : array-like, shape (n_test,)
        True label (region / layer) of each test RDM.
    candidate_rdms : array-like
        Candidate RDMs, (n_cand, n, n) or (n_cand, n_pairs).
    candidate_labels : array-like, shape (n_cand,)
        Label of each candidate (distractors have labels no test RDM carries).
    method : str
        Comparison method.
    groups : array-like, shape (n_test,) | None
        Subject of each test RDM, resampled as units for the bootstrap CI
        (default: each test RDM is its own unit).
    n_boot : int
        Bootstrap samples for the confidence interval.
    seed : int | numpy.random.Generator | None
    level : float
        Confidence level.

    Returns
    -------
    result : dict
        ``accuracy`` (float), ``ci`` (lower, upper), ``correct`` (n_test,) credit per
        test RDM (1, 0, or 1/k when k candidates tie at the maximum including the
        true one), ``predicted`` (n_test,) labels, ``similarity`` (n_test, n_cand),
        ``sensitivity`` / ``specificity`` dicts per candidate label (NaN when
        undefined), ``distractor_rejection`` (fraction of test/wrong-candidate pairs
        whose similarity is below the true candidate's), ``margin`` (n_test,) true
        candidate similarity minus the best wrong candidate's.
    """
    check_option("method", method, COMPARE_METHODS)
    tv = as_vectors(test_rdms, "test_rdms")
    cv = as_vectors(candidate_rdms, "candidate_rdms")
    if tv.shape[1] != cv.shape[1]:
        raise ValueError("The 'test_rdms' and 'candidate_rdms' parameters must have the same number of "
                         f"conditions, but got {n_cond_from_length(tv.shape[1])} and "
                         f"{n_cond_from_length(cv.shape[1])}.")
    tl = np.asarray(test_labels).astype(str)
    cl = np.asarray(candidate_labels).astype(str)
    if tl.shape != (tv.shape[0],):
        raise ValueError(f"The 'test_labels' parameter must have one label per test RDM ({tv.shape[0]}), "
                         f"but got shape {tl.shape}.")
    if cl.shape != (cv.shape[0],):
        raise ValueError("The 'candidate_labels' parameter must have one label per candidate RDM "
                         f"({cv.shape[0]}), but got shape {cl.shape}.")
    missing = sorted(set(tl) - set(cl))
    if missing:
        raise ValueError(f"The 'candidate_labels' parameter has no candidate for the test labels {missing}.")
    S = compare_vectors(tv, cv, method)
    is_true = tl[:, None] == cl[None, :]
    smax = S.max(axis=1, keepdims=True)
    at_max = np.isclose(S, smax, rtol=0, atol=1e-12)
    correct = (at_max & is_true).any(axis=1) / at_max.sum(axis=1)
    true_best = np.where(is_true, S, -np.inf).max(axis=1)
    wrong_best = np.where(is_true, -np.inf, S).max(axis=1)
    predicted = cl[np.argmax(S, axis=1)]
    n_wrong = (~is_true).sum()
    rejection = float(np.sum((S < true_best[:, None]) & ~is_true) / n_wrong) if n_wrong else np.nan
    sens, spec = _sensitivity_specificity(np.unique(cl), tl, predicted)
    _, inv = np.unique(np.arange(len(tl)) if groups is None else np.asarray(groups), return_inverse=True)
    inv = inv.ravel()
    if inv.shape[0] != len(tl):
        raise ValueError(f"The 'groups' parameter must have one label per test RDM ({len(tl)}).")
    ci = bootstrap_mean_ci(correct, inv, n_boot=n_boot, seed=seed, level=level)
    return {"accuracy": float(correct.mean()), "ci": ci, "correct": correct, "predicted": predicted,
            "similarity": S, "sensitivity": sens, "specificity": spec,
            "distractor_rejection": rejection, "margin": true_best - wrong_best}


def bootstrap_mean_ci(values: np.ndarray, groups: np.ndarray, n_boot: int = 1000, seed: Any = None,
                      level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of the mean of ``values`` when groups (subjects) are resampled.

    Parameters
    ----------
    values : ndarray, shape (n,)
        The values (e.g. 1.0 for a correct identification, 0.0 otherwise).
    groups : ndarray of int, shape (n,)
        Group index of each value (0..n_groups-1).
    n_boot : int
        Bootstrap samples.
    seed : int | numpy.random.Generator | None
        Seed of the resampling.
    level : float
        Coverage of the interval in (0, 1).

    Returns
    -------
    ci : (float, float)
        Lower and upper bound.
    """
    n_boot = check_positive_int("n_boot", n_boot)
    G = int(groups.max()) + 1
    sums = np.bincount(groups, values, minlength=G)
    cnts = np.bincount(groups, minlength=G).astype(float)
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, G, size=(n_boot, G))
    means = sums[draw].sum(axis=1) / cnts[draw].sum(axis=1)
    a = (1 - level) / 2
    lo, hi = np.percentile(means, [100 * a, 100 * (1 - a)])
    return float(lo), float(hi)


def loso_identification(rdms: Any, subjects: Any, regions: Any, models: Any = None,
                        model_names: Sequence[str] | None = None, method: str = "spearman",
                        transform: Callable[[np.ndarray], np.ndarray] | None = None,
                        n_boot: int = 1000, seed: Any = None) -> dict:
    """Leave-one-subject-out identification of the region (or layer) behind each RDM.

    For every held-out subject, each region's template is the mean of the other
    subjects' RDMs of that region (then transformed); the held-out subject's
    (transformed) RDMs are identified among the region templates and the
    (transformed) model RDMs, which act as distractors.

    Parameters
    ----------
    rdms : array-like
        Data RDMs (n_rdms, n, n) or (n_rdms, n_pairs), e.g. sessions x subjects x regions.
    subjects : array-like, shape (n_rdms,)
        Subject of each RDM (at least 2 subjects).
    regions : array-like, shape (n_rdms,)
        Region / layer of each RDM.
    models : array-like | None
        Distractor model RDMs (n_models, n, n) or (n_models, n_pairs).
    model_names : sequence of str | None
        Labels of the models (must differ from the region names).
    method : str
        Comparison method.
    transform : callable | None
        Applied to stacks of condensed RDMs (n, n_pairs) -> (n, n_pairs) before
        comparison, e.g. ``lambda v: geotopological_transform(v, 0.1, 0.5)``.
    n_boot, seed :
        Bootstrap over subjects for the CI.

    Returns
    -------
    result : dict
        As :func:`identification_accuracy`, plus ``subjects`` (n_test,) and
        ``labels`` (n_test,) of the test RDMs in the order used.
    """
    vec = as_vectors(rdms, "rdms")
    subj = np.asarray(subjects)
    reg = np.asarray(regions).astype(str)
    for name, arr in (("subjects", subj), ("regions", reg)):
        if arr.shape != (vec.shape[0],):
            raise ValueError(f"The '{name}' parameter must have one label per RDM ({vec.shape[0]}), "
                             f"but got shape {arr.shape}.")
    usub = np.unique(subj)
    if len(usub) < 2:
        raise ValueError("The 'subjects' parameter must hold at least 2 subjects for leave-one-subject-out.")
    tf = transform if transform is not None else (lambda v: v)
    mv_t, mnames = _distractors(models, model_names, vec, reg, tf)
    tests, tlabels, cands, clabels, tsubj = _loso_folds(vec, subj, reg, usub, mv_t, mnames, tf)
    # identify subject by subject (candidates differ per fold), then pool the credit
    per = [identification_accuracy(t, tl, c, cl, method=method, n_boot=1, seed=0)
           for t, tl, c, cl in zip(tests, tlabels, cands, clabels)]
    correct = np.concatenate([p["correct"] for p in per])
    predicted = np.concatenate([p["predicted"] for p in per])
    labels = np.concatenate(tlabels)
    subj_t = np.concatenate(tsubj)
    margin = np.concatenate([p["margin"] for p in per])
    sims = [p["similarity"] for p in per]
    n_wrong = sum(int((~(tl[:, None] == cl[None, :])).sum()) for tl, cl in zip(tlabels, clabels))
    rejected = sum(p["distractor_rejection"] * int((~(tl[:, None] == cl[None, :])).sum())
                   for p, tl, cl in zip(per, tlabels, clabels) if not np.isnan(p["distractor_rejection"]))
    _, ginv = np.unique(subj_t, return_inverse=True)
    ci = bootstrap_mean_ci(correct, ginv.ravel(), n_boot=n_boot, seed=seed)
    sens, spec = _sensitivity_specificity(clabels[0], labels, predicted)
    return {"accuracy": float(correct.mean()), "ci": ci, "correct": correct, "predicted": predicted,
            "labels": labels, "subjects": subj_t, "margin": margin, "similarity": sims,
            "sensitivity": sens, "specificity": spec,
            "distractor_rejection": float(rejected / n_wrong) if n_wrong else np.nan}


def _sensitivity_specificity(candidates, labels: np.ndarray, predicted: np.ndarray) -> tuple[dict, dict]:
    """Sensitivity and specificity of each candidate label (NaN when undefined), in ``candidates`` order."""
    sens, spec = {}, {}
    for lab in candidates:
        pos = labels == lab
        hit = predicted == lab
        sens[lab] = float(hit[pos].mean()) if pos.any() else np.nan
        spec[lab] = float((~hit[~pos]).mean()) if (~pos).any() else np.nan
    return sens, spec


def _distractors(models: Any, model_names: Sequence[str] | None, vec: np.ndarray, reg: np.ndarray,
                 tf: Callable) -> tuple[np.ndarray | None, list[str]]:
    """Transformed distractor model RDMs (n_models, n_pairs) or None, and their names."""
    if models is None:
        return None, []
    mv = as_vectors(models, "models")
    if mv.shape[1] != vec.shape[1]:
        raise ValueError("The 'models' parameter must have the same number of conditions as 'rdms'.")
    mnames = list(model_names) if model_names is not None else [f"model{i}" for i in range(len(mv))]
    if len(mnames) != len(mv):
        raise ValueError(f"The 'model_names' parameter must have {len(mv)} names, got {len(mnames)}.")
    clash = sorted(set(mnames) & set(reg))
    if clash:
        raise ValueError(f"The 'model_names' parameter reuses region names {clash}.")
    return np.asarray(tf(mv)), mnames


def _loso_folds(vec: np.ndarray, subj: np.ndarray, reg: np.ndarray, usub: np.ndarray, mv_t: np.ndarray | None,
                mnames: list[str], tf: Callable) -> tuple[list, list, list, list, list]:
    """Per held-out subject: its test RDMs, their labels, the candidates, their labels, the test subjects.

    The candidates are the region templates (mean of the other subjects' RDMs of each
    region, transformed) followed by the distractor models.
    """
    uregs = np.unique(reg)
    tests, tlabels, cands, clabels, tsubj = [], [], [], [], []
    for s in usub:
        held = subj == s
        for r in uregs:
            train = (~held) & (reg == r)
            if not train.any():
                raise ValueError(f"Region {r!r} has no RDM outside subject {s!r}; every region needs RDMs "
                                 "from at least 2 subjects.")
        templates = np.asarray(tf(np.stack([vec[(~held) & (reg == r)].mean(axis=0) for r in uregs])))
        test = np.asarray(tf(vec[held]))
        tests.append(test)
        tlabels.append(reg[held])
        tsubj.append(subj[held])
        cands.append(np.vstack([templates, mv_t]) if mv_t is not None else templates)
        clabels.append(np.concatenate([uregs, np.array(mnames, dtype=str)]))
    return tests, tlabels, cands, clabels, tsubj


def threshold_sweep(rdms: Any, subjects: Any, regions: Any, models: Any = None,
                    model_names: Sequence[str] | None = None, method: str = "spearman",
                    thresholds: Iterable[tuple[float, float]] = ((0.0, 1.0),),
                    variants: Sequence[str] = ("none", "geotopological", "geodesic"),
                    n_boot: int = 1000, seed: Any = 0, verbose: bool = True):
    """LOSO identification across tRSA thresholds and variants.

    Parameters
    ----------
    rdms, subjects, regions, models, model_names, method :
        See :func:`loso_identification`.
    thresholds : iterable of (low, up)
        Quantile pairs for the geo-topological transform (per RDM).
    variants : sequence of {"none", "geotopological", "geodesic", "geodesic_rsatoolbox"}
        ``"none"`` uses the raw RDMs (run once); ``"geodesic"`` applies the
        geodesic transform (zero-length edges kept, no rescaling) to the
        geo-topologically transformed RDMs, with disconnected pairs set to
        ``n_conditions - 1`` (longer than any path, so ranks stay meaningful);
        ``"geodesic_rsatoolbox"`` uses rsatoolbox's conventions instead (min-max
        rescaling, distance 0 = no edge), same disconnected value.
    n_boot, seed, verbose :

    Returns
    -------
    table : pandas.DataFrame
        One row per (variant, low, up): degenerate (the transform maps every data RDM
        to a single value: only ties are left, so accuracy and the other scores are NaN),
        degenerate_share (share of data RDMs so collapsed), accuracy, ci_low, ci_high,
        distractor_rejection, mean_margin, n_test.
    """
    import pandas as pd

    from .topology import geodesic_transform, geotopological_transform

    for v in variants:
        check_option("variants", v, ("none", "geotopological", "geodesic", "geodesic_rsatoolbox"))
    vec = as_vectors(rdms, "rdms")
    n = n_cond_from_length(vec.shape[1])
    jobs: list[tuple[str, float, float]] = []
    if "none" in variants:
        jobs.append(("none", np.nan, np.nan))
    for low, up in thresholds:
        for v in variants:
            if v != "none":
                jobs.append((v, float(low), float(up)))
    rows = []
    for variant, low, up in progress(jobs, desc="tRSA sweep", verbose=verbose):
        if variant == "none":
            tf = None
        elif variant == "geotopological":
            tf = (lambda lo, hi: lambda v: geotopological_transform(v, lo, hi))(low, up)
        else:
            rsa_conv = variant == "geodesic_rsatoolbox"
            tf = (lambda lo, hi, rc: lambda v: geodesic_transform(
                geotopological_transform(v, lo, hi), disconnected=float(n - 1), rescale=rc,
                zero_edges=not rc))(low, up, rsa_conv)
        res = loso_identification(vec, subjects, regions, models, model_names, method=method,
                                  transform=tf, n_boot=n_boot, seed=seed)
        tv = vec if tf is None else tf(vec)
        flat = np.ptp(tv, axis=1) <= 1e-12 * np.maximum(1.0, np.abs(tv).max(axis=1))
        row = {"variant": variant, "low": low, "up": up, "degenerate": bool(flat.all()),
               "degenerate_share": float(flat.mean()), "accuracy": res["accuracy"],
               "ci_low": res["ci"][0], "ci_high": res["ci"][1],
               "distractor_rejection": res["distractor_rejection"],
               "mean_margin": float(np.mean(res["margin"])), "n_test": len(res["correct"])}
        if row["degenerate"]:  # only ties left: no result to report
            logger.warning("tRSA sweep: %s [%g, %g] maps every data RDM to one value; its accuracy is "
                           "left undefined (NaN)", variant, low, up)
            row.update(accuracy=np.nan, ci_low=np.nan, ci_high=np.nan, distractor_rejection=np.nan,
                       mean_margin=np.nan)
        rows.append(row)
    return pd.DataFrame(rows)
