"""Inference for RSA: noise ceilings and bootstrap evaluation of model RDMs.

Noise ceilings and bootstrap evaluations reproduce rsatoolbox's definitions
(``rsatoolbox.inference``): the same pooling of RDMs per comparison method
(``pool_rdm``), the same leave-one-group-out lower bound and the same treatment of
pattern bootstrap samples (pairs of a resampled condition with itself are
dropped). Given the same samples (``samples=``) the values agree to floating-point
precision; the work is done with a few matrix products instead of a Python loop
per sample.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._logging import get_logger
from ..._validation import check_option, check_positive_int
from .comparison import (
    METHODS as COMPARE_METHODS,
    compare_vectors,
    cosine,
    rank,
    whitened_second_moment,
)
from .rdm import as_vectors, n_cond_from_length, triu_indices

logger = get_logger(__name__)

CEILING_METHODS = ("cosine", "corr", "spearman", "rho-a", "tau-a", "tau-b", "corr_cov", "cosine_cov")


# ------------------------------------------------------------------ pooling + ceilings
def _prepool(vec: np.ndarray, method: str) -> np.ndarray:
    """Per-RDM normalisation that rsatoolbox's ``pool_rdm`` applies before averaging."""
    if method in ("cosine", "cosine_cov"):
        return vec / np.sqrt(np.mean(vec ** 2, axis=1, keepdims=True))
    if method in ("corr", "corr_cov"):
        c = vec - vec.mean(axis=1, keepdims=True)
        return c / c.std(axis=1, keepdims=True)
    return rank(vec)  # spearman, rho-a, tau-a, tau-b: average ranks


def pool_rdm(rdms: Any, method: str = "cosine", weights: Any = None) -> np.ndarray:
    """The RDM that best represents a set of RDMs under ``method`` (rsatoolbox's ``pool_rdm``).

    Parameters
    ----------
    rdms : array-like
        Square or condensed RDMs.
    method : str
        Comparison method the pooled RDM is made for.
    weights : array-like, shape (n_rdms,) | None
        Non-negative weights (e.g. bootstrap counts); equal weights by default.

    Returns
    -------
    pooled : ndarray, shape (n_pairs,)
    """
    check_option("method", method, CEILING_METHODS)
    vec = as_vectors(rdms, "rdms")
    w = np.ones(vec.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    return _pool(_prepool(vec, method), w[None], method)[0]


def _pool(z: np.ndarray, W: np.ndarray, method: str) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):  # empty pools (fixed by the caller)
        # sum first, then divide (as np.mean): averaged integer ranks keep their exact ties
        P = (W @ z) / W.sum(axis=1, keepdims=True)
    if method in ("corr", "corr_cov"):
        P = P - P.min(axis=1, keepdims=True)
    return P


LINEAR_METHODS = ("cosine", "corr", "cosine_cov", "corr_cov")


def _linear_features(v: np.ndarray, method: str) -> np.ndarray:
    """Features in which ``method`` is a plain cosine (linear in the RDM vector)."""
    if method == "cosine":
        return v
    if method == "corr":
        return v - v.mean(axis=1, keepdims=True)
    if method == "cosine_cov":
        return whitened_second_moment(v)
    return whitened_second_moment(v - v.mean(axis=1, keepdims=True))  # corr_cov


def _ceiling_core(vec: np.ndarray, z: np.ndarray, method: str, pool_w: np.ndarray,
                  test_w: np.ndarray, grams: tuple | None = None) -> np.ndarray:
    """Mean similarity of pooled RDMs with test RDMs.

    pool_w (n_rows, n_rdms): weights of each pooled RDM; test_w (n_rows, n_rdms):
    weights over the test RDMs each pooled RDM is compared with. For the methods
    that are cosines of linear features (cosine, corr and their whitened forms)
    pooled RDMs are never formed: with Gram matrices of the features,
    ``cos(w z, r_j) = (w G_zr)_j / sqrt(w G_zz w') / |r_j|`` (the constant that
    rsatoolbox subtracts from a pooled 'corr' RDM does not change a correlation).
    """
    if method in LINEAR_METHODS:
        G_zr, G_zz, nr = grams if grams is not None else _grams(vec, z, method)
        num = pool_w @ G_zr
        den = np.sqrt(np.einsum("ij,jk,ik->i", pool_w, G_zz, pool_w))[:, None] * nr[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            S = num / den
        S[(den == 0) | ~np.isfinite(den)] = 0.0
    elif method in ("spearman", "rho-a"):
        # rank the pooled RDMs in one batch; the data ranks are computed once (``grams``)
        rv = grams if grams is not None else _centred_ranks(vec)
        rp = _centred_ranks(_pool(z, pool_w, method))
        if method == "spearman":
            S = cosine(rp, rv)
        else:
            n = vec.shape[1]
            S = rp @ rv.T / (n ** 3 - n) * 12
    else:
        P = _pool(z, pool_w, method)
        with np.errstate(invalid="ignore"):
            S = compare_vectors(P, vec, method)  # (n_rows, n_rdms)
    return np.sum(S * test_w, axis=1) / test_w.sum(axis=1)


def _centred_ranks(v: np.ndarray) -> np.ndarray:
    r = rank(v)
    return r - r.mean(axis=1, keepdims=True)


def _precompute(vec: np.ndarray, z: np.ndarray, method: str):
    """What :func:`_ceiling_core` can reuse across calls on the same data."""
    if method in LINEAR_METHODS:
        return _grams(vec, z, method)
    if method in ("spearman", "rho-a"):
        return _centred_ranks(vec)
    return None


def _grams(vec: np.ndarray, z: np.ndarray, method: str) -> tuple:
    fz = _linear_features(z, method)
    fr = _linear_features(vec, method)
    return fz @ fr.T, fz @ fz.T, np.sqrt(np.einsum("ij,ij->i", fr, fr))


def _group_ids(groups: Any, n: int, name: str = "groups") -> tuple[np.ndarray, np.ndarray]:
    if groups is None:
        return np.arange(n), np.arange(n)
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"The '{name}' parameter must have one label per RDM ({n}), but got shape {g.shape}.")
    labels, inv = np.unique(g, return_inverse=True)
    return labels, inv.ravel()


def boot_noise_ceiling(rdms: Any, method: str = "cosine", groups: Any = None) -> tuple[float, float]:
    """Lower and upper noise ceiling (leave one subject out; rsatoolbox's ``boot_noise_ceiling``).

    The upper bound compares each subject's RDMs with the RDM pooled over all
    subjects; the lower bound with the RDM pooled over the other subjects.

    Parameters
    ----------
    rdms : array-like
        Data RDMs (n_rdms, n, n) or (n_rdms, n_pairs).
    method : str
        Comparison method (see :func:`~neurosig.evaluation.rsa.compare`).
    groups : array-like, shape (n_rdms,) | None
        Subject label of each RDM (RDMs of one subject are left out together);
        default: every RDM is its own subject.

    Returns
    -------
    lower, upper : float
    """
    check_option("method", method, CEILING_METHODS)
    vec = as_vectors(rdms, "rdms")
    if vec.shape[0] < 2:
        raise ValueError("The 'rdms' parameter must hold at least 2 RDMs for a noise ceiling.")
    labels, inv = _group_ids(groups, vec.shape[0])
    if len(labels) < 2:
        raise ValueError("The 'groups' parameter must hold at least 2 different subjects for a "
                         "leave-one-subject-out noise ceiling.")
    member = (inv[None, :] == np.arange(len(labels))[:, None]).astype(float)  # (G, n_rdms)
    z = _prepool(vec, method)
    pre = _precompute(vec, z, method)
    lower = _ceiling_core(vec, z, method, 1.0 - member, member, pre).mean()
    upper = _ceiling_core(vec, z, method, np.ones_like(member), member, pre).mean()
    return float(lower), float(upper)


def cv_noise_ceiling(rdms: Any, folds: Sequence[tuple[Any, Any, Any]], method: str = "cosine"
                     ) -> tuple[float, float]:
    """Noise ceiling for cross-validation (rsatoolbox's ``cv_noise_ceiling``).

    Parameters
    ----------
    rdms : array-like
        All data RDMs, (n_rdms, n, n) or (n_rdms, n_pairs).
    folds : sequence of (train_rdms, test_rdms, test_conditions)
        Index arrays per fold: the RDMs pooled for the lower bound, the RDMs
        tested, and the conditions (patterns) of the test set.
    method : str

    Returns
    -------
    lower, upper : float
        Means over folds. The lower bound pools the training RDMs restricted to
        the test conditions; the upper bound pools all RDMs over all conditions
        and then restricts to the test conditions (as rsatoolbox does).
    """
    check_option("method", method, CEILING_METHODS)
    vec = as_vectors(rdms, "rdms")
    n = n_cond_from_length(vec.shape[1])
    square = np.zeros((vec.shape[0], n, n))
    iu = triu_indices(n)
    square[:, iu[0], iu[1]] = vec
    full_pool = _pool(_prepool(vec, method), np.ones((1, vec.shape[0])), method)[0]
    full_sq = np.zeros((n, n))
    full_sq[iu] = full_pool
    lows, ups = [], []
    if len(folds) == 0:
        raise ValueError("The 'folds' parameter must hold at least one (train, test, conditions) fold.")
    for i, fold in enumerate(folds):
        if len(fold) != 3:
            raise ValueError(f"The 'folds' parameter must hold (train_rdms, test_rdms, test_conditions) "
                             f"triples, but fold {i} has {len(fold)} entries.")
        tr, te, pat = (np.atleast_1d(np.asarray(a, dtype=int)) for a in fold)
        pat = np.sort(pat)
        if len(np.unique(pat)) < 3:
            raise ValueError(f"Fold {i} of the 'folds' parameter has fewer than 3 test conditions.")
        ju = triu_indices(len(pat))
        sub = square[:, pat][:, :, pat][:, ju[0], ju[1]]
        z = _prepool(sub[tr], method)
        pred_train = _pool(z, np.ones((1, len(tr))), method)
        lows.append(compare_vectors(pred_train, sub[te], method).mean())
        pred_test = full_sq[pat][:, pat][ju][None]
        ups.append(compare_vectors(pred_test, sub[te], method).mean())
    return float(np.mean(lows)), float(np.mean(ups))


# ------------------------------------------------------------------ bootstrap
@dataclass
class BootstrapResult:
    """Bootstrap distribution of model evaluations.

    Attributes
    ----------
    evaluations : ndarray, shape (n_boot, n_models)
        Mean similarity of each model with the data in each sample (NaN for
        pattern samples with fewer than 3 distinct conditions).
    noise_ceiling : ndarray, shape (2, n_boot) or (2,)
        Lower and upper noise ceiling per sample (or of the full data).
    method : str
    kind : str
        ``"rdm"`` (subjects resampled), ``"pattern"`` (conditions) or ``"both"``.
    samples : dict
        The resampled indices: ``"rdm"`` (n_boot, n_groups) group indices and/or
        ``"pattern"`` (n_boot, n_conditions) condition indices.
    """

    evaluations: np.ndarray
    noise_ceiling: np.ndarray
    method: str
    kind: str
    samples: dict = field(default_factory=dict)

    def ci(self, level: float = 0.95) -> np.ndarray:
        """Percentile confidence intervals.

        Parameters
        ----------
        level : float
            Coverage in (0, 1).

        Returns
        -------
        ci : ndarray, shape (2, n_models)
            Lower and upper bound of each model's evaluation.
        """
        a = (1 - level) / 2
        return np.nanpercentile(self.evaluations, [100 * a, 100 * (1 - a)], axis=0)

    def std(self) -> np.ndarray:
        """Bootstrap standard error of each model's evaluation, shape (n_models,)."""
        return np.nanstd(self.evaluations, axis=0, ddof=1)


def _check_models(models: Any, n_pairs: int) -> np.ndarray:
    mv = as_vectors(models, "models")
    if mv.shape[1] != n_pairs:
        raise ValueError(
            f"The 'models' parameter must have the same number of conditions as 'data' "
            f"({n_cond_from_length(n_pairs)}), but got {n_cond_from_length(mv.shape[1])}.")
    return mv


def _rng_samples(rng: Any, n_boot: int, n: int, given: Any, name: str) -> np.ndarray:
    if given is not None:
        s = np.asarray(given, dtype=int)
        if s.ndim != 2 or s.shape[1] != n or s.min() < 0 or s.max() >= n:
            raise ValueError(f"The '{name}' parameter must be an integer array of shape (n_boot, {n}) "
                             f"with values in [0, {n}), but got shape {s.shape}.")
        return s
    rng = np.random.default_rng(rng)
    return rng.integers(0, n, size=(n_boot, n))



def _pair_index(n: int) -> np.ndarray:
    """(n, n) int array: position of pair (i, j) in the upper-triangle vector, -1 on the diagonal."""
    index = np.full((n, n), -1)
    iu = triu_indices(n)
    index[iu] = np.arange(len(iu[0]))
    index[iu[1], iu[0]] = np.arange(len(iu[0]))
    return index


def _resampled_columns(index: np.ndarray, sample: np.ndarray) -> np.ndarray | None:
    """Vector columns of a bootstrap sample of conditions, shape (n_pairs_kept,).

    Pairs of a condition with its own copy are dropped (rsatoolbox's rule); None when
    the sample has fewer than 3 distinct conditions (the sample then scores NaN).
    """
    sel = np.sort(sample)
    if len(np.unique(sel)) < 3:
        return None
    ju = triu_indices(len(sel))
    keep = sel[ju[0]] != sel[ju[1]]
    return index[sel[ju[0][keep]], sel[ju[1][keep]]]

def eval_bootstrap_rdm(models: Any, data: Any, method: str = "cosine", n_boot: int = 1000,
                       groups: Any = None, seed: Any = None, samples: Any = None,
                       noise_ceiling: bool = True, chunk_size: int = 256, n_jobs: int | None = None,
                       backend: str | None = None, scheduler: str | None = None,
                       block_size: int | None = None) -> BootstrapResult:
    """Evaluate fixed model RDMs with a bootstrap over subjects (rsatoolbox's ``eval_bootstrap_rdm``).

    Parameters
    ----------
    models : array-like
        Model RDMs (n_models, n, n) or (n_models, n_pairs).
    data : array-like
        Data RDMs (n_rdms, n, n) or (n_rdms, n_pairs).
    method : str
        Comparison method.
    n_boot : int
        Number of bootstrap samples.
    groups : array-like, shape (n_rdms,) | None
        Subject of each RDM; subjects are resampled with all their RDMs.
    seed : int | numpy.random.Generator | None
        Seed for reproducible samples.
    samples : array-like, shape (n_boot, n_groups) | None
        Explicit resampled group indices (overrides ``seed``); used to reproduce
        another package's samples exactly.
    noise_ceiling : bool
        Compute the noise ceiling in every sample (else once on all data).
    chunk_size : int
        Bootstrap samples evaluated together in one batched product (memory bound).
    n_jobs, backend, scheduler : see :func:`neurosig.parallel.run_tasks`
        Where the samples are computed. With the default (sequential, no scheduler)
        everything runs here; otherwise the samples, drawn here first, are cut into
        blocks of ``block_size`` that run as independent tasks (local processes or a
        Dask cluster), and the result is identical to the sequential one.
    block_size : int | None
        Bootstrap samples per task when the work is distributed (default: about four
        tasks per worker, 16 tasks on an existing scheduler).

    Returns
    -------
    result : BootstrapResult
    """
    check_option("method", method, COMPARE_METHODS)
    vec = as_vectors(data, "data")
    mv = _check_models(models, vec.shape[1])
    labels, inv = _group_ids(groups, vec.shape[0])
    G = len(labels)
    samp = _rng_samples(seed, check_positive_int("n_boot", n_boot) if samples is None else 0, G,
                        samples, "samples")
    where = _where_to_run(n_jobs, backend, scheduler)
    if where is not None:
        return _in_blocks("eval_bootstrap_rdm", where, block_size, {"samples": samp},
                          models=mv, data=vec, method=method, groups=groups,
                          noise_ceiling=noise_ceiling, chunk_size=chunk_size)
    nb = samp.shape[0]
    member = (inv[None, :] == np.arange(G)[:, None]).astype(float)  # (G, n_rdms)
    gcounts = np.zeros((nb, G))
    np.add.at(gcounts, (np.repeat(np.arange(nb), G), samp.ravel()), 1.0)
    rcounts = gcounts @ member  # (n_boot, n_rdms): copies of each RDM in the sample
    C = compare_vectors(mv, vec, method)  # (n_models, n_rdms)
    evaluations = (rcounts @ C.T) / rcounts.sum(axis=1, keepdims=True)
    if noise_ceiling:
        check_option("method", method, CEILING_METHODS)
        z = _prepool(vec, method)
        grams = _precompute(vec, z, method)
        nc = np.empty((2, nb))
        for start in range(0, nb, chunk_size):
            gc = gcounts[start:start + chunk_size]
            rc = rcounts[start:start + chunk_size]
            b_idx, g_idx = np.nonzero(gc)  # every (sample, present group) pair
            test_w = member[g_idx]
            pool_all = rc[b_idx]
            pool_low = pool_all * (1.0 - test_w)
            with np.errstate(invalid="ignore", divide="ignore"):
                low = _ceiling_core(vec, z, method, pool_low, test_w, grams)
            up = _ceiling_core(vec, z, method, pool_all, test_w, grams)
            cnt = np.bincount(b_idx, minlength=len(gc))
            nc[0, start:start + len(gc)] = np.bincount(b_idx, low, minlength=len(gc)) / cnt
            nc[1, start:start + len(gc)] = np.bincount(b_idx, up, minlength=len(gc)) / cnt
            single = (gc > 0).sum(axis=1) < 2
            if single.any():  # one subject drawn: rsatoolbox's leave-one-out falls back to all-vs-all
                for b in np.nonzero(single)[0] + start:
                    w = rcounts[b][None]
                    nc[:, b] = _ceiling_core(vec, z, method, w, w, grams)[0]
    else:
        nc = np.array(boot_noise_ceiling(vec, method, groups))
    return BootstrapResult(evaluations, nc, method, "rdm", {"rdm": samp})


def eval_bootstrap_pattern(models: Any, data: Any, method: str = "cosine", n_boot: int = 1000,
                           groups: Any = None, seed: Any = None, samples: Any = None,
                           noise_ceiling: bool = True, n_jobs: int | None = None, backend: str | None = None,
                           scheduler: str | None = None, block_size: int | None = None) -> BootstrapResult:
    """Evaluate fixed model RDMs with a bootstrap over conditions (rsatoolbox's ``eval_bootstrap_pattern``).

    Conditions are drawn with replacement; pairs of a condition with its own copy
    are dropped from every RDM. Samples with fewer than 3 distinct conditions
    give NaN.

    Parameters
    ----------
    models, data, method, n_boot : see :func:`eval_bootstrap_rdm`
        Model RDMs (n_models, n, n) or (n_models, n_pairs), data RDMs (n_rdms, n, n) or
        (n_rdms, n_pairs), comparison method, number of samples.
    groups : array-like, shape (n_rdms,) | None
        Subject of each RDM, for the noise ceiling.
    seed : int | numpy.random.Generator | None
        Seed for reproducible samples.
    samples : array-like, shape (n_boot, n_conditions) | None
        Explicit resampled condition indices.
    noise_ceiling : bool
        Compute the noise ceiling in every sample.
    n_jobs, backend, scheduler, block_size : see :func:`eval_bootstrap_rdm`
        Where the samples are computed (identical results).

    Returns
    -------
    result : BootstrapResult
    """
    check_option("method", method, COMPARE_METHODS)
    vec = as_vectors(data, "data")
    mv = _check_models(models, vec.shape[1])
    n = n_cond_from_length(vec.shape[1])
    samp = _rng_samples(seed, check_positive_int("n_boot", n_boot) if samples is None else 0, n,
                        samples, "samples")
    where = _where_to_run(n_jobs, backend, scheduler)
    if where is not None:
        return _in_blocks("eval_bootstrap_pattern", where, block_size, {"samples": samp},
                          models=mv, data=vec, method=method, groups=groups, noise_ceiling=noise_ceiling)
    nb = samp.shape[0]
    index = _pair_index(n)
    evaluations = np.full((nb, mv.shape[0]), np.nan)
    nc = np.full((2, nb), np.nan)
    if noise_ceiling:
        check_option("method", method, CEILING_METHODS)
        labels, inv = _group_ids(groups, vec.shape[0])
        member = (inv[None, :] == np.arange(len(labels))[:, None]).astype(float)
    for b in range(nb):
        cols = _resampled_columns(index, samp[b])
        if cols is None:
            continue
        dv, mvv = vec[:, cols], mv[:, cols]
        evaluations[b] = compare_vectors(mvv, dv, method).mean(axis=1)
        if noise_ceiling:
            z = _prepool(dv, method)
            pre = _precompute(dv, z, method)
            nc[0, b] = _ceiling_core(dv, z, method, 1.0 - member, member, pre).mean() if len(member) > 1 \
                else _ceiling_core(dv, z, method, member, member, pre).mean()
            nc[1, b] = _ceiling_core(dv, z, method, np.ones_like(member), member, pre).mean()
    if not noise_ceiling:
        nc = np.array(boot_noise_ceiling(vec, method, groups))
    return BootstrapResult(evaluations, nc, method, "pattern", {"pattern": samp})


def eval_bootstrap(models: Any, data: Any, method: str = "cosine", n_boot: int = 1000,
                   groups: Any = None, seed: Any = None, rdm_samples: Any = None,
                   pattern_samples: Any = None, n_jobs: int | None = None, backend: str | None = None,
                   scheduler: str | None = None, block_size: int | None = None) -> BootstrapResult:
    """Bootstrap over subjects and conditions at once (rsatoolbox's ``eval_bootstrap``).

    Each sample draws subjects (with all their RDMs) and conditions with
    replacement; pairs of a condition with its own copy are dropped; the noise
    ceiling is computed in every sample (leave one drawn subject out). Samples with
    fewer than 3 distinct conditions give NaN.

    Parameters
    ----------
    models, data, method, n_boot, groups, seed : see :func:`eval_bootstrap_rdm`
    rdm_samples : array-like, shape (n_boot, n_groups) | None
        Explicit subject (group) indices per sample.
    pattern_samples : array-like, shape (n_boot, n_conditions) | None
        Explicit condition indices per sample (give both to reproduce samples exactly;
        rsatoolbox draws the subjects first, then the conditions, in every sample).
    n_jobs, backend, scheduler, block_size : see :func:`eval_bootstrap_rdm`

    Returns
    -------
    result : BootstrapResult
    """
    check_option("method", method, CEILING_METHODS)
    vec = as_vectors(data, "data")
    mv = _check_models(models, vec.shape[1])
    n = n_cond_from_length(vec.shape[1])
    labels, inv = _group_ids(groups, vec.shape[0])
    G = len(labels)
    if (rdm_samples is None) != (pattern_samples is None):
        raise ValueError("Pass both 'rdm_samples' and 'pattern_samples', or neither.")
    if rdm_samples is None:
        n_boot = check_positive_int("n_boot", n_boot)
        rng = np.random.default_rng(seed)
        rs = np.empty((n_boot, G), dtype=int)
        ps = np.empty((n_boot, n), dtype=int)
        for b in range(n_boot):
            rs[b] = rng.integers(0, G, size=G)
            ps[b] = rng.integers(0, n, size=n)
    else:
        rs = _rng_samples(None, 0, G, rdm_samples, "rdm_samples")
        ps = _rng_samples(None, 0, n, pattern_samples, "pattern_samples")
        if len(rs) != len(ps):
            raise ValueError("The 'rdm_samples' and 'pattern_samples' parameters must have the same number "
                             f"of samples, but got {len(rs)} and {len(ps)}.")
    where = _where_to_run(n_jobs, backend, scheduler)
    if where is not None:
        return _in_blocks("eval_bootstrap", where, block_size, {"rdm_samples": rs, "pattern_samples": ps},
                          models=mv, data=vec, method=method, groups=groups)
    nb = len(rs)
    member = (inv[None, :] == np.arange(G)[:, None]).astype(float)
    index = _pair_index(n)
    evaluations = np.full((nb, mv.shape[0]), np.nan)
    nc = np.full((2, nb), np.nan)
    for b in range(nb):
        cols = _resampled_columns(index, ps[b])
        if cols is None:
            continue
        dv, mvv = vec[:, cols], mv[:, cols]
        gcount = np.bincount(rs[b], minlength=G).astype(float)
        rcount = gcount @ member
        C = compare_vectors(mvv, dv, method)
        evaluations[b] = C @ rcount / rcount.sum()
        z = _prepool(dv, method)
        pre = _precompute(dv, z, method)
        present = np.nonzero(gcount)[0]
        test_w = member[present]
        pool_all = np.tile(rcount, (len(present), 1))
        if len(present) > 1:
            nc[0, b] = _ceiling_core(dv, z, method, pool_all * (1.0 - test_w), test_w, pre).mean()
            nc[1, b] = _ceiling_core(dv, z, method, pool_all, test_w, pre).mean()
        else:  # one subject drawn: rsatoolbox compares the pooled sample with itself
            nc[:, b] = _ceiling_core(dv, z, method, rcount[None], rcount[None], pre)[0]
    return BootstrapResult(evaluations, nc, method, "both", {"rdm": rs, "pattern": ps})


def _where_to_run(n_jobs, backend, scheduler) -> dict | None:
    """``run_tasks`` keywords when the bootstrap is distributed, None to run it here."""
    from ...parallel import resolve_backend, resolve_n_jobs

    backend = resolve_backend(backend, n_jobs, scheduler)
    if backend == "sequential" or (backend == "processes" and resolve_n_jobs(n_jobs) == 1):
        return None
    return {"backend": backend, "n_jobs": n_jobs, "scheduler": scheduler}


def _bootstrap_block(task: dict) -> BootstrapResult:
    """One block of bootstrap samples (runs on a worker): the named function, run here."""
    return globals()[task["function"]](**task["kwargs"])


def _in_blocks(function: str, where: dict, block_size: int | None, samples: dict, **common) -> BootstrapResult:
    """Run ``function`` on blocks of the given samples as parallel tasks; join the blocks.

    ``samples`` maps the function's sample parameters to arrays of shape (n_boot, ...),
    all cut at the same rows, so the joined result equals one sequential call.
    """
    from ...parallel import resolve_n_jobs, run_tasks

    n_boot = len(next(iter(samples.values())))
    if block_size is None:
        n_tasks = 16 if where["scheduler"] is not None else 4 * resolve_n_jobs(where["n_jobs"])
        block_size = max(1, -(-n_boot // n_tasks))
    block_size = check_positive_int("block_size", block_size)
    tasks = [{"function": function,
              "kwargs": dict(common, **{k: v[start:start + block_size] for k, v in samples.items()})}
             for start in range(0, n_boot, block_size)]
    parts = [r.value for r in run_tasks(_bootstrap_block, tasks, raise_errors=True, verbose=False,
                                        desc=f"{function} blocks", **where)]
    first = parts[0]
    nc = first.noise_ceiling
    if nc.ndim == 2:
        nc = np.concatenate([p.noise_ceiling for p in parts], axis=1)
    joined = {k: np.concatenate([p.samples[k] for p in parts]) for k in first.samples}
    return BootstrapResult(np.concatenate([p.evaluations for p in parts]), nc, first.method, first.kind, joined)


def eval_fixed(models: Any, data: Any, method: str = "cosine", groups: Any = None) -> dict:
    """Evaluate model RDMs on all data without resampling.

    Parameters
    ----------
    models : array-like
        Model RDMs (n_models, n, n) or (n_models, n_pairs).
    data : array-like
        Data RDMs (n_rdms, n, n) or (n_rdms, n_pairs).
    method : str
        Comparison method.
    groups : array-like, shape (n_rdms,) | None
        Subject of each RDM, for the noise ceiling (None: each RDM its own subject).

    Returns
    -------
    result : dict
        ``evaluations`` (n_models, n_rdms), ``mean`` (n_models,),
        ``noise_ceiling`` (lower, upper).
    """
    vec = as_vectors(data, "data")
    mv = _check_models(models, vec.shape[1])
    C = compare_vectors(mv, vec, method)
    nc = boot_noise_ceiling(vec, method, groups) if vec.shape[0] > 1 else (np.nan, np.nan)
    return {"evaluations": C, "mean": C.mean(axis=1), "noise_ceiling": nc}
