"""The data of one benchmark task, on the worker: loading, epoch rejection, shared first steps.

Everything here runs where the task runs. The worker keeps two small caches
(one ``WorkerCache`` each, as the fMRI jobs keep theirs): the last
two loads of a (dataset, paradigm, subjects) and the last four outputs of a shareable
first pipeline step. Tasks of one subject go to one worker
(:func:`neurosig.parallel.run_tasks`' ``group``), so every pipeline of that subject reuses
them; :func:`clear_worker_caches` empties both (benchmarks timing a cold run).
"""
from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from time import perf_counter

import numpy as np

from .._logging import get_logger
from ..contracts import stable_hash
from ._worker_cache import WorkerCache

logger = get_logger(__name__)


#: the last two (dataset, paradigm, subjects) loads of this process
_loads = WorkerCache(2)


def _load(blob: bytes):
    dataset, paradigm, subjects = pickle.loads(blob)
    X, y, meta = paradigm.get_data(dataset, subjects=list(subjects))
    return X, np.asarray(y), meta.reset_index(drop=True)


def load_data(dataset, paradigm, subjects: Sequence, return_key: bool = False):
    """``paradigm.get_data(dataset, subjects)``, cached per worker (the last two loads).

    Parameters
    ----------
    dataset : BaseDataset
        The MOABB dataset.
    paradigm : BaseParadigm
        The MOABB paradigm that epochs the data.
    subjects : sequence
        Subjects to load.
    return_key : bool, optional
        Whether to also return the cache key of these data.

    Returns
    -------
    X : ndarray, shape (n_trials, n_channels, n_times)
    y : ndarray, shape (n_trials,)
    metadata : DataFrame with ``subject``, ``session``, ``run``
    key : str
        Only with ``return_key``: hash identifying these data in the worker caches.
    """
    blob = pickle.dumps((dataset, paradigm, tuple(subjects)))
    key = hashlib.sha256(blob).hexdigest()
    X, y, meta = _loads.get(key, lambda: _load(blob))
    return (X, y, meta, key) if return_key else (X, y, meta)


def epochs_sfreq(dataset, paradigm, n_times: int) -> float:
    """Sampling rate of the epochs a MOABB paradigm returns, from their length and time window.

    MOABB epochs run from ``interval[0] + tmin`` to ``interval[0] + tmax`` (``tmax`` None:
    ``interval[1]``), both ends included, so ``n_times = duration * sfreq + 1``.

    Parameters
    ----------
    dataset : BaseDataset
        The MOABB dataset (its ``interval``).
    paradigm : BaseParadigm
        The MOABB paradigm (its ``tmin`` and ``tmax``, when set).
    n_times : int
        Number of samples per epoch.
    """
    start = dataset.interval[0] + (getattr(paradigm, "tmin", 0.0) or 0.0)
    tmax = getattr(paradigm, "tmax", None)
    stop = dataset.interval[1] if tmax is None else dataset.interval[0] + tmax
    return round((n_times - 1) / (stop - start), 6)


def reject_epochs(X: np.ndarray, reject_ptp: float | None) -> np.ndarray:
    """Boolean mask of the epochs to reject: peak-to-peak amplitude above ``reject_ptp`` on any channel.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Epochs as the paradigm returns them (volts, after its band-pass filter).
    reject_ptp : float | None
        Threshold in volts (MNE's ``reject=dict(eeg=...)`` rule); None: reject nothing.

    Returns
    -------
    ndarray of bool, shape (n_trials,)
    """
    if reject_ptp is None:
        return np.zeros(len(X), bool)
    return (np.ptp(X, axis=-1) > reject_ptp).any(axis=1)


def reject_rule(reject_ptp: float | None) -> str:
    """The rejection rule in words, stored with every row.

    Parameters
    ----------
    reject_ptp : float | None
        Peak-to-peak threshold in volts; None: no rejection.
    """
    if reject_ptp is None:
        return ("none: neurosig rejects no epoch (MOABB itself drops epochs overlapping BAD "
                "annotations before neurosig sees them; those are not counted)")
    return (f"peak-to-peak > {reject_ptp:g} V on any channel, on the paradigm's band-passed epochs "
            "(epochs MOABB drops for BAD annotations are not counted)")


#: first pipeline steps that act on each trial alone and learn nothing in ``fit``
#: (pyRiemann's ``Covariances.fit`` returns self; ``transform`` estimates one matrix per
#: trial). Their output is computed once per task's data and shared by every fold and
#: every pipeline with the same step: the scores are those of refitting the whole
#: pipeline in each fold (the MOABB parity test checks it), only faster.
STATELESS_FIRST_STEPS = ("pyriemann.estimation:Covariances",)
_shared = WorkerCache(4)


def clear_worker_caches() -> None:
    """Forget the cached loads and shared first-step outputs of this process."""
    _loads.clear()
    _shared.clear()


def shared_transform(data_key: str, step: dict, X: np.ndarray) -> tuple[np.ndarray, float]:
    """Output of a stateless first step on ``X`` and its seconds per trial, cached per worker.

    Parameters
    ----------
    data_key : str
        Identifies ``X`` (from :func:`load_data`, plus the rejection rule).
    step : dict
        The pipeline file's step (``name``, ``from``, ``parameters``).
    X : ndarray, shape (n_trials, n_channels, n_times)

    Returns
    -------
    Xt : ndarray, shape (n_trials, ...)
    seconds_per_trial : float
    """
    from ..pipelines import resolve_class

    def compute():
        est = resolve_class(step["from"], step["name"])(**(step.get("parameters") or {}))
        t0 = perf_counter()
        Xt = est.fit(X).transform(X)
        return Xt, (perf_counter() - t0) / max(1, len(X))

    return _shared.get((data_key, stable_hash(step)), compute)


def split_stateless(spec):
    """(first step, spec of the remaining steps) when the first step can be shared, else None.

    A grid pipeline shares its first step too, unless a ``param_grid`` key touches it.

    Parameters
    ----------
    spec : PipelineSpec
        The pipeline.
    """
    import dataclasses

    from .grid_prefix import shared_prefix_length

    if len(spec.steps) < 2:
        return None
    first = spec.steps[0]
    if f"{first['from']}:{first['name']}" not in STATELESS_FIRST_STEPS:
        return None
    if spec.param_grid and shared_prefix_length(spec.build().estimator, spec.param_grid) == 0:
        return None
    return first, dataclasses.replace(spec, steps=spec.steps[1:])
