"""Bootstrap evaluation of model RDMs: over subjects, over conditions, or both at once.

The samples and their treatment are rsatoolbox's (``rsatoolbox.inference``): subjects
are resampled with all their RDMs, pairs of a resampled condition with its own copy
are dropped, and the noise ceiling of every sample leaves one drawn subject out. Given
the same samples (``samples=``) the values agree to floating-point precision; the work
is done with a few matrix products instead of a Python loop per sample.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._validation import check_option, check_positive_int
from .bootstrap_blocks import _in_blocks, _where_to_run
from .comparison import METHODS as COMPARE_METHODS, compare_vectors
from .noise_ceiling import (
    CEILING_METHODS,
    _ceiling_core,
    _group_ids,
    _membership,
    _precompute,
    _prepool,
    boot_noise_ceiling,
)
from .rdm import as_vectors, n_cond_from_length, triu_indices


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


def _condition_resamples(vec: np.ndarray, mv: np.ndarray, samples: np.ndarray):
    """The scorable bootstrap samples of conditions, one at a time.

    ``vec`` (n_rdms, n_pairs) and ``mv`` (n_models, n_pairs) are the data and model
    vectors, ``samples`` (n_boot, n_conditions) the drawn condition indices. Yields
    ``(b, data, models)`` with the vectors restricted to the sample's pairs, shape
    (n_rdms or n_models, n_pairs_kept): pairs of a condition with its own copy are
    dropped (rsatoolbox's rule), and a sample with fewer than 3 distinct conditions is
    skipped (it scores NaN).
    """
    index = _pair_index(n_cond_from_length(vec.shape[1]))
    for b, sample in enumerate(samples):
        sel = np.sort(sample)
        if len(np.unique(sel)) < 3:
            continue
        ju = triu_indices(len(sel))
        keep = sel[ju[0]] != sel[ju[1]]
        cols = index[sel[ju[0][keep]], sel[ju[1][keep]]]
        yield b, vec[:, cols], mv[:, cols]


def _sample_ceiling(dv: np.ndarray, method: str, rcount: np.ndarray, test_w: np.ndarray) -> tuple[float, float]:
    """Lower and upper noise ceiling of one sample of RDMs (leave one drawn subject out).

    ``rcount`` (n_rdms,) holds the copies of each RDM in the sample and ``test_w``
    (n_present, n_rdms) the RDMs of each drawn subject. With one subject drawn,
    rsatoolbox compares the pooled sample with itself (lower = upper).
    """
    z = _prepool(dv, method)
    pre = _precompute(dv, z, method)
    if len(test_w) < 2:
        both = _ceiling_core(dv, z, method, rcount[None], rcount[None], pre)[0]
        return both, both
    pool_all = np.tile(rcount, (len(test_w), 1))
    low = _ceiling_core(dv, z, method, pool_all * (1.0 - test_w), test_w, pre).mean()
    return low, _ceiling_core(dv, z, method, pool_all, test_w, pre).mean()


def _subject_counts(samp: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copies of each group, (n_boot, n_groups), and of each RDM, (n_boot, n_rdms), per sample."""
    nb, G = samp.shape[0], member.shape[0]
    gcounts = np.zeros((nb, G))
    np.add.at(gcounts, (np.repeat(np.arange(nb), G), samp.ravel()), 1.0)
    return gcounts, gcounts @ member


def _subject_sample_ceilings(vec: np.ndarray, method: str, member: np.ndarray, gcounts: np.ndarray,
                             rcounts: np.ndarray, chunk_size: int) -> np.ndarray:
    """Noise ceiling of every subject sample, shape (2, n_boot), ``chunk_size`` samples per batch.

    Every (sample, drawn subject) pair is one row of a batched :func:`_ceiling_core`;
    a sample that drew a single subject falls back to all-vs-all (rsatoolbox's rule).
    """
    z = _prepool(vec, method)
    grams = _precompute(vec, z, method)
    nb = len(gcounts)
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
    return nc


def eval_bootstrap_rdm(models: Any, data: Any, method: str = "cosine", n_boot: int = 1000,
                       groups: Any = None, seed: Any = None, samples: Any = None,
                       noise_ceiling: bool = True, chunk_size: int = 256, n_jobs: int | None = None,
                       backend: str | None = None, scheduler: str | None = None,
                       block_size: int | None = None, retries: int = 0,
                       connect_timeout: float = 10.0) -> BootstrapResult:
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
    retries, connect_timeout : see :func:`neurosig.parallel.run_tasks`
        Retries of a failed block and seconds to wait for the Dask scheduler.

    Returns
    -------
    result : BootstrapResult
    """
    check_option("method", method, COMPARE_METHODS)
    vec = as_vectors(data, "data")
    mv = _check_models(models, vec.shape[1])
    labels, inv = _group_ids(groups, vec.shape[0])
    samp = _rng_samples(seed, check_positive_int("n_boot", n_boot) if samples is None else 0, len(labels),
                        samples, "samples")
    where = _where_to_run(n_jobs, backend, scheduler, retries, connect_timeout)
    if where is not None:
        return _in_blocks("eval_bootstrap_rdm", where, block_size, {"samples": samp},
                         models=mv, data=vec, method=method, groups=groups,
                         noise_ceiling=noise_ceiling, chunk_size=chunk_size)
    member = _membership(inv, len(labels))  # (G, n_rdms)
    gcounts, rcounts = _subject_counts(samp, member)  # rcounts: copies of each RDM in the sample
    C = compare_vectors(mv, vec, method)  # (n_models, n_rdms)
    evaluations = (rcounts @ C.T) / rcounts.sum(axis=1, keepdims=True)
    if noise_ceiling:
        check_option("method", method, CEILING_METHODS)
        nc = _subject_sample_ceilings(vec, method, member, gcounts, rcounts, chunk_size)
    else:
        nc = np.array(boot_noise_ceiling(vec, method, groups))
    return BootstrapResult(evaluations, nc, method, "rdm", {"rdm": samp})


def eval_bootstrap_pattern(models: Any, data: Any, method: str = "cosine", n_boot: int = 1000,
                           groups: Any = None, seed: Any = None, samples: Any = None,
                           noise_ceiling: bool = True, n_jobs: int | None = None, backend: str | None = None,
                           scheduler: str | None = None, block_size: int | None = None, retries: int = 0,
                           connect_timeout: float = 10.0) -> BootstrapResult:
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
    n_jobs, backend, scheduler, block_size, retries, connect_timeout : see :func:`eval_bootstrap_rdm`
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
    where = _where_to_run(n_jobs, backend, scheduler, retries, connect_timeout)
    if where is not None:
        return _in_blocks("eval_bootstrap_pattern", where, block_size, {"samples": samp},
                         models=mv, data=vec, method=method, groups=groups, noise_ceiling=noise_ceiling)
    nb = samp.shape[0]
    evaluations = np.full((nb, mv.shape[0]), np.nan)
    nc = np.full((2, nb), np.nan)
    if noise_ceiling:
        check_option("method", method, CEILING_METHODS)
        labels, inv = _group_ids(groups, vec.shape[0])
        member = _membership(inv, len(labels))
    for b, dv, mvv in _condition_resamples(vec, mv, samp):
        evaluations[b] = compare_vectors(mvv, dv, method).mean(axis=1)
        if noise_ceiling:  # every RDM once: all subjects drawn
            nc[:, b] = _sample_ceiling(dv, method, np.ones(vec.shape[0]), member)
    if not noise_ceiling:
        nc = np.array(boot_noise_ceiling(vec, method, groups))
    return BootstrapResult(evaluations, nc, method, "pattern", {"pattern": samp})


def eval_bootstrap(models: Any, data: Any, method: str = "cosine", n_boot: int = 1000,
                   groups: Any = None, seed: Any = None, rdm_samples: Any = None,
                   pattern_samples: Any = None, n_jobs: int | None = None, backend: str | None = None,
                   scheduler: str | None = None, block_size: int | None = None, retries: int = 0,
                   connect_timeout: float = 10.0) -> BootstrapResult:
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
    n_jobs, backend, scheduler, block_size, retries, connect_timeout : see :func:`eval_bootstrap_rdm`

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
    rs, ps = _joint_samples(n_boot, seed, G, n, rdm_samples, pattern_samples)
    where = _where_to_run(n_jobs, backend, scheduler, retries, connect_timeout)
    if where is not None:
        return _in_blocks("eval_bootstrap", where, block_size, {"rdm_samples": rs, "pattern_samples": ps},
                         models=mv, data=vec, method=method, groups=groups)
    nb = len(rs)
    member = _membership(inv, G)
    evaluations = np.full((nb, mv.shape[0]), np.nan)
    nc = np.full((2, nb), np.nan)
    for b, dv, mvv in _condition_resamples(vec, mv, ps):
        gcount = np.bincount(rs[b], minlength=G).astype(float)
        rcount = gcount @ member
        C = compare_vectors(mvv, dv, method)
        evaluations[b] = C @ rcount / rcount.sum()
        nc[:, b] = _sample_ceiling(dv, method, rcount, member[np.nonzero(gcount)[0]])
    return BootstrapResult(evaluations, nc, method, "both", {"rdm": rs, "pattern": ps})


def _joint_samples(n_boot: int, seed: Any, n_groups: int, n_cond: int, rdm_samples: Any,
                   pattern_samples: Any) -> tuple[np.ndarray, np.ndarray]:
    """Subject samples (n_boot, n_groups) and condition samples (n_boot, n_conditions) of :func:`eval_bootstrap`.

    Drawn as rsatoolbox draws them (subjects first, then conditions, in every sample)
    unless both are given.
    """
    if (rdm_samples is None) != (pattern_samples is None):
        raise ValueError("Pass both 'rdm_samples' and 'pattern_samples', or neither.")
    if rdm_samples is None:
        n_boot = check_positive_int("n_boot", n_boot)
        rng = np.random.default_rng(seed)
        rs = np.empty((n_boot, n_groups), dtype=int)
        ps = np.empty((n_boot, n_cond), dtype=int)
        for b in range(n_boot):
            rs[b] = rng.integers(0, n_groups, size=n_groups)
            ps[b] = rng.integers(0, n_cond, size=n_cond)
        return rs, ps
    rs = _rng_samples(None, 0, n_groups, rdm_samples, "rdm_samples")
    ps = _rng_samples(None, 0, n_cond, pattern_samples, "pattern_samples")
    if len(rs) != len(ps):
        raise ValueError("The 'rdm_samples' and 'pattern_samples' parameters must have the same number "
                         f"of samples, but got {len(rs)} and {len(ps)}.")
    return rs, ps
