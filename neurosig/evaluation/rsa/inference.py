"""Inference for RSA: noise ceilings and bootstrap evaluation of model RDMs.

Noise ceilings and bootstrap evaluations reproduce rsatoolbox's definitions
(``rsatoolbox.inference``): the same pooling of RDMs per comparison method
(``pool_rdm``), the same leave-one-group-out lower bound and the same treatment of
pattern bootstrap samples (pairs of a resampled condition with itself are
dropped). Given the same samples (``samples=``) the values agree to floating-point
precision; the work is done with a few matrix products instead of a Python loop
per sample.

The noise ceilings live in :mod:`~neurosig.evaluation.rsa.noise_ceiling`, the
bootstraps in :mod:`~neurosig.evaluation.rsa.bootstrap`; this module gathers them
with :func:`eval_fixed`, the evaluation without resampling.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .bootstrap import (
    BootstrapResult,
    _check_models,
    eval_bootstrap,
    eval_bootstrap_pattern,
    eval_bootstrap_rdm,
)
from .comparison import compare_vectors
from .noise_ceiling import CEILING_METHODS, boot_noise_ceiling, cv_noise_ceiling, pool_rdm
from .rdm import as_vectors

__all__ = ["CEILING_METHODS", "BootstrapResult", "boot_noise_ceiling", "cv_noise_ceiling", "eval_bootstrap",
           "eval_bootstrap_pattern", "eval_bootstrap_rdm", "eval_fixed", "pool_rdm"]


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
