"""The BCI benchmark: pipelines x datasets x subjects, scored like MOABB, stored row by row.

``benchmark()`` validates every argument first (datasets, paradigm, evaluation,
subjects, pipeline files, results database), then runs one task per
(dataset, subject, pipeline) through :func:`neurosig.parallel.run_tasks`; the data
are loaded inside the task, on the worker. The client process writes each
result row to the :class:`~neurosig.evaluation.results.ResultStore` the moment it
arrives, so a killed run resumes where it stopped: a rerun skips every task whose
rows are all in the database (the key includes the pipeline's configuration hash,
so an edited pipeline file is recomputed).

Scores equal MOABB 1.7's evaluations of the same pipeline on the same folds
(``tests/test_bci_parity.py`` checks it): same paradigm data, same splitters
(:mod:`neurosig.evaluation.splitters`), labels encoded on the training fold, the
paradigm's scorer, fold scores averaged per session for within-session.
"""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
from collections.abc import Sequence
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd

from .._logging import get_logger
from .._validation import check_positive_float, check_positive_int
from ..contracts import stable_hash
from .bci_inputs import (  # noqa: F401 (re-exported)
    DEFAULT_DATASETS,
    PARADIGMS,
    dataset_config,
    paradigm_config,
    resolve_calibration,
    resolve_datasets,
    resolve_outputs,
    resolve_paradigm,
    resolve_pipelines,
    resolve_subjects,
)
from .chance import (
    PERMUTABLE_METRICS,
    adjusted_chance_level,
    fixed_permutation_test,
    theoretical_chance,
)
from .report import (  # noqa: F401
    format_subject_report,
    format_summary,
    subject_confusions,
    summarize,
    write_outputs,
)
from .splitters import check_evaluation_supported, resolve_evaluation

logger = get_logger(__name__)

KIND = "bci"
# ----------------------------------------------------------------------------------------
# the task (runs on the worker)
# ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _load_cached(blob_hash: str, blob: bytes):
    dataset, paradigm, subjects = pickle.loads(blob)
    X, y, meta = paradigm.get_data(dataset, subjects=list(subjects))
    return X, np.asarray(y), meta.reset_index(drop=True)


def load_data(dataset, paradigm, subjects: Sequence, return_key: bool = False):
    """``paradigm.get_data(dataset, subjects)``, cached per worker (the last two loads).

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
    X, y, meta = _load_cached(key, blob)
    return (X, y, meta, key) if return_key else (X, y, meta)


#: first pipeline steps that act on each trial alone and learn nothing in ``fit``
#: (pyRiemann's ``Covariances.fit`` returns self; ``transform`` estimates one matrix per
#: trial). Their output is computed once per task's data and shared by every fold and
#: every pipeline with the same step: the scores are those of refitting the whole
#: pipeline in each fold (the MOABB parity test checks it), only faster.
STATELESS_FIRST_STEPS = ("pyriemann.estimation:Covariances",)
_shared: dict = {}


def _shared_transform(data_key: str, step: dict, X: np.ndarray) -> tuple[np.ndarray, float]:
    """(transformed X, seconds per trial), cached per worker for the current data."""
    from ..pipelines import resolve_class

    key = (data_key, stable_hash(step))
    if key not in _shared:
        if len(_shared) >= 4:
            _shared.pop(next(iter(_shared)))
        est = resolve_class(step["from"], step["name"])(**(step.get("parameters") or {}))
        t0 = perf_counter()
        Xt = est.fit(X).transform(X)
        _shared[key] = (Xt, (perf_counter() - t0) / max(1, len(X)))
    return _shared[key]


def _split_stateless(spec):
    """(first step, spec of the remaining steps) when the first step can be shared, else None."""
    import dataclasses

    if spec.param_grid or len(spec.steps) < 2:
        return None
    first = spec.steps[0]
    if f"{first['from']}:{first['name']}" not in STATELESS_FIRST_STEPS:
        return None
    return first, dataclasses.replace(spec, steps=spec.steps[1:])


def epochs_sfreq(dataset, paradigm, n_times: int) -> float:
    """Sampling rate of the epochs a MOABB paradigm returns, from their length and time window.

    MOABB epochs run from ``interval[0] + tmin`` to ``interval[0] + tmax`` (``tmax`` None:
    ``interval[1]``), both ends included, so ``n_times = duration * sfreq + 1``.
    """
    start = dataset.interval[0] + (getattr(paradigm, "tmin", 0.0) or 0.0)
    tmax = getattr(paradigm, "tmax", None)
    stop = dataset.interval[1] if tmax is None else dataset.interval[0] + tmax
    return round((n_times - 1) / (stop - start), 6)


def _stimulus_freqs(classes) -> list[float] | None:
    """Class labels as stimulation frequencies (SSVEP events are named "13", "17", ...), else None."""
    try:
        return [float(c) for c in classes]
    except (TypeError, ValueError):
        return None


def _build(spec, metric: str, seed: int, sfreq: float | None = None, classes=None):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from ..pipelines import fill_unset

    est = spec.build()
    # steps that need a property of the data declare it None in their file; fill it in here
    fill_unset(est, sfreq=sfreq, freqs=None if classes is None else _stimulus_freqs(classes))
    if isinstance(est, GridSearchCV):
        # MOABB's inner search: 3-fold stratified, shuffled with the evaluation seed.
        est.set_params(cv=StratifiedKFold(3, shuffle=True, random_state=seed), scoring=metric,
                       refit=True, n_jobs=1)
    return est


def _response(clf, X: np.ndarray, metric: str) -> np.ndarray | None:
    """What the metric looks at: predictions (accuracy) or positive-class scores (ROC-AUC)."""
    if metric == "accuracy":
        return np.asarray(clf.predict(X))
    if metric == "roc_auc":
        # same order as sklearn's roc_auc scorer: decision_function, then predict_proba
        if hasattr(clf, "decision_function"):
            r = np.asarray(clf.decision_function(X))
        else:
            r = np.asarray(clf.predict_proba(X))[:, 1]
        return r if r.ndim == 1 else None
    return None


_EMPTY = np.zeros(0, dtype=int)


def _fit(spec, metric, seed, X, y, train, sfreq=None, cal=_EMPTY, calibration=None, domains=None,
         target=None):
    """Fit one model; returns (classifier, label encoder, seconds, how the calibration trials were used).

    Ordinary pipelines: labeled calibration trials join the training set, unlabeled ones are
    not used. Transfer pipelines (``spec.calibration``): :func:`~neurosig.riemann.transfer.fit_transfer`
    on the training trials plus the calibration trials (with their domains; their labels
    only when the protocol says ``labeled``).
    """
    from sklearn.preprocessing import LabelEncoder

    labeled_cal = bool(calibration and calibration["labeled"])
    if len(cal) == 0:
        used = "none"
    elif spec.calibration is not None:
        used = "alignment+training" if labeled_cal else "alignment"
    else:
        used = "training" if labeled_cal else "not used (the pipeline cannot use unlabeled trials)"
    fit_idx = np.concatenate([train, cal]) if labeled_cal else train
    le = LabelEncoder().fit(y[fit_idx])
    clf = _build(spec, metric, seed, sfreq, le.classes_)
    t0 = perf_counter()
    if spec.calibration is not None:
        from ..riemann.transfer import fit_transfer

        idx = np.concatenate([train, cal])
        labeled = np.r_[np.ones(len(train), bool), np.full(len(cal), labeled_cal)]
        y_enc = np.zeros(len(idx), dtype=int)
        y_enc[labeled] = le.transform(y[idx][labeled])
        fit_transfer(clf, X[idx], y_enc, domains[idx], target, labeled)
    else:
        clf.fit(X[fit_idx], le.transform(y[fit_idx]))
    return clf, le, perf_counter() - t0, used


def _score(clf, le, metric, X, y, test, keep_response=True):
    """(score, encoded y_test, response for the permutation test, encoded predictions)."""
    from sklearn.metrics import get_scorer

    y_test = le.transform(y[test])
    score = float(get_scorer(metric)(clf, X[test], y_test))
    resp = _response(clf, X[test], metric) if keep_response else None
    if metric == "accuracy" and resp is not None:
        pred = resp
    else:
        pred = np.asarray(clf.predict(X[test])) if keep_response else None
    return score, y_test, resp, pred


def _fit_score(spec, metric, seed, X, y, train, test, keep_response=True, sfreq=None, **cal_kw):
    """Fit on ``train`` (labels encoded on the training fold, as MOABB) and score on ``test``."""
    clf, le, duration, _ = _fit(spec, metric, seed, X, y, train, sfreq, **cal_kw)
    score, y_test, resp, _ = _score(clf, le, metric, X, y, test, keep_response)
    return score, duration, y_test, resp


def _partitions(evaluation: str, meta: pd.DataFrame, subject, seed: int, n_folds: int, y: np.ndarray,
                n_cal: int = 0):
    """(session label, [(train, test, calibration), ...], n_samples) for every result row of one subject.

    With ``n_cal`` > 0 (cross-session / cross-subject only) the first ``n_cal`` trials of the
    target session (cross-session) or of the target subject (cross-subject, its first session
    in recording order) are the calibration trials and are removed from the test set.
    """
    from .splitters import CrossSessionSplit, WithinSessionSplit

    subj = meta["subject"].to_numpy()
    sess = meta["session"].to_numpy()
    if evaluation == "within-session":
        idx_s = np.flatnonzero(subj == subject)
        for session in pd.unique(sess[idx_s]):
            idx = idx_s[sess[idx_s] == session]
            sub = meta.iloc[idx]
            folds = [(idx[tr], idx[te], _EMPTY) for tr, te in
                     WithinSessionSplit(n_folds, seed).split(None, y[idx], sub)]
            yield session, folds, len(idx)
    elif evaluation == "cross-session":
        idx_s = np.flatnonzero(subj == subject)
        for tr, te in CrossSessionSplit().split(None, y[idx_s], meta.iloc[idx_s]):
            train, test = idx_s[tr], idx_s[te]
            session = sess[test][0]
            cal, test = _take_calibration(test, n_cal, f"session {session!r} of subject {subject!r}")
            yield session, [(train, test, cal)], len(train)
    else:  # cross-subject: train on every other subject once, score each test session
        train = np.flatnonzero(subj != subject)
        test_all = np.flatnonzero(subj == subject)
        cal, rest = _take_calibration(test_all, n_cal, f"subject {subject!r}")
        for session in np.unique(sess[test_all]):
            yield session, [(train, rest[sess[rest] == session], cal)], len(train)


def _take_calibration(idx: np.ndarray, n_cal: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """First ``n_cal`` trials of ``idx`` (recording order) and the rest."""
    if n_cal == 0:
        return _EMPTY, idx
    if n_cal >= len(idx):
        raise ValueError(f"Invalid value for the 'calibration' parameter: n_trials={n_cal} calibration "
                         f"trials leave no test trial in {what}, which has {len(idx)} trials.")
    return idx[:n_cal], idx[n_cal:]


def _domains(evaluation: str, meta: pd.DataFrame) -> np.ndarray:
    """Domain of every trial for the transfer pipelines: its session (cross-session) or its
    subject (cross-subject)."""
    col = "session" if evaluation == "cross-session" else "subject"
    return meta[col].astype(str).to_numpy().astype(object)


def _evaluate(task: dict, X, y, meta, keep_response=True, data_key: str | None = None) -> list[dict]:
    spec, metric, seed = task["spec"], task["metric"], task["seed"]
    sfreq = epochs_sfreq(task["dataset"], task["paradigm"], X.shape[-1])
    calibration = task.get("calibration")
    n_cal = calibration["n_trials"] if calibration else 0
    domains = _domains(task["evaluation"], meta) if calibration else None
    per_trial = 0.0
    split = _split_stateless(spec) if (data_key is not None and task.get("share_first_step", True)) else None
    if split is not None:
        first, spec = split
        X, per_trial = _shared_transform(data_key, first, X)
    rows = []
    fitted_cross_subject = None
    for session, folds, n_samples in _partitions(task["evaluation"], meta, task["subject"], seed,
                                                 task["n_folds"], y, n_cal):
        scores, times, pf, preds = [], [], [], []
        used = "none"
        for train, test, cal in folds:
            target = None
            if calibration:
                target = str(session) if task["evaluation"] == "cross-session" else str(task["subject"])
            cal_kw = dict(cal=cal, calibration=calibration, domains=domains, target=target)
            if task["evaluation"] == "cross-subject":
                # one model per held-out subject, scored on each of its sessions
                if fitted_cross_subject is None:
                    fitted_cross_subject = _fit(spec, metric, seed, X, y, train, sfreq, **cal_kw)
                clf, le, duration, used = fitted_cross_subject
            else:
                clf, le, duration, used = _fit(spec, metric, seed, X, y, train, sfreq, **cal_kw)
            score, y_test, resp, pred = _score(clf, le, metric, X, y, test, keep_response)
            duration += per_trial * len(train)  # the shared first step, pro rata
            scores.append(score)
            times.append(duration)
            pf.append((y_test, resp))
            if pred is not None:
                preds.append((le.inverse_transform(y_test), le.inverse_transform(pred)))
        rows.append({"session": str(session), "score": float(np.mean(scores)),
                     "time": float(np.mean(times)), "samples": int(n_samples),
                     "fold_scores": scores, "_folds": pf, "_preds": preds,
                     "n_test": int(sum(len(f[1]) for f in folds)),
                     "n_calibration": int(len(folds[0][2])), "calibration_used": used})
    return rows


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
    """The rejection rule in words, stored with every row."""
    if reject_ptp is None:
        return ("none: neurosig rejects no epoch (MOABB itself drops epochs overlapping BAD "
                "annotations before neurosig sees them; those are not counted)")
    return (f"peak-to-peak > {reject_ptp:g} V on any channel, on the paradigm's band-passed epochs "
            "(epochs MOABB drops for BAD annotations are not counted)")


def _subject_session_keys(meta: pd.DataFrame) -> np.ndarray:
    """One ``"subject\\x00session"`` key per row, built in Python (pandas 2 string ops drop the NUL)."""
    return np.array([f"{s}\x00{ss}" for s, ss in zip(meta["subject"], meta["session"])], dtype=object)


def _permute_within(y: np.ndarray, meta: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    yp = y.copy()
    keys = _subject_session_keys(meta)
    for k in pd.unique(keys):
        idx = np.flatnonzero(keys == k)
        yp[idx] = y[rng.permutation(idx)]
    return yp


def evaluate_task(task: dict) -> list[dict]:
    """Run one (dataset, subject, pipeline) task; return its result rows (runs on the worker).

    Parameters
    ----------
    task : dict
        Built by :func:`benchmark`: ``dataset``, ``paradigm``, ``subject``, ``load_subjects``,
        ``spec``, ``evaluation``, ``metric``, ``seed``, ``n_folds``, ``n_permutations``,
        ``refit_permutations``, ``keys`` (filled in per session by the client).

    Returns
    -------
    list of dict
        One row per session (column values plus ``extra``).
    """
    X, y, meta, key = load_data(task["dataset"], task["paradigm"], task["load_subjects"],
                                return_key=True)
    metric = task["metric"]
    reject_ptp = task.get("reject_ptp")
    keys_all = _subject_session_keys(meta)
    bad = reject_epochs(X, reject_ptp)
    n_total = pd.Series(keys_all).value_counts().to_dict()
    n_bad = pd.Series(keys_all[bad]).value_counts().to_dict()
    if bad.any():
        X, y, meta = X[~bad], y[~bad], meta[~bad].reset_index(drop=True)
        key = f"{key}|reject_ptp={reject_ptp!r}"
    rows = _evaluate(task, X, y, meta, data_key=key)
    n_perm = task["n_permutations"]
    subj_mask = (meta["subject"] == task["subject"]).to_numpy()
    classes = np.unique(y[subj_mask])
    refit_null = None
    if task["refit_permutations"]:
        rng = np.random.default_rng(task["seed"])
        refit_null = [[] for _ in rows]
        for _ in range(task["refit_permutations"]):
            yp = _permute_within(y, meta, rng)
            for i, r in enumerate(_evaluate(task, X, yp, meta, keep_response=False, data_key=key)):
                refit_null[i].append(r["score"])
    out = []
    for i, r in enumerate(rows):
        folds = r.pop("_folds")
        n_test = r.pop("n_test")
        preds = r.pop("_preds")
        extra: dict[str, Any] = {
            "n_classes": int(len(classes)), "n_test_trials": n_test,
            "chance_theoretical": theoretical_chance(metric, len(classes)),
        }
        # what this score saw of the target domain (0 trials without a calibration protocol)
        extra["calibration"] = dict(task.get("calibration") or {"n_trials": 0},
                                    n_calibration_trials=r.pop("n_calibration"),
                                    used=r.pop("calibration_used"))
        # artifact rejection of this subject's session (the tested epochs)
        sk = f"{task['subject']}\x00{r['session']}"
        extra.update(epochs_total=int(n_total.get(sk, 0)), epochs_rejected=int(n_bad.get(sk, 0)),
                     rejected_share=(n_bad.get(sk, 0) / n_total[sk]) if n_total.get(sk) else 0.0,
                     reject_rule=reject_rule(reject_ptp))
        if preds:
            from sklearn.metrics import confusion_matrix

            y_true = np.concatenate([t for t, _ in preds])
            y_pred = np.concatenate([p for _, p in preds])
            extra["classes"] = [str(c) for c in classes]
            extra["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=classes).tolist()
        if metric == "accuracy":
            # binomial chance level of the average test fold (MOABB's adjusted chance level)
            extra["chance_binomial"] = adjusted_chance_level(len(classes), max(1, n_test // len(folds)))
        if n_perm and metric in PERMUTABLE_METRICS and all(resp is not None for _, resp in folds):
            seed = int(stable_hash([task["seed"], str(task["subject"]), r["session"]], 8), 16)
            res = fixed_permutation_test(folds, metric, r["score"], n_perm=n_perm, seed=seed)
            extra.update(chance_level=res["chance_level"], p_value=res["p_value"],
                         null_mean=res["null_mean"], n_permutations=res["n_permutations"],
                         permutation="fixed-predictions")
        elif n_perm:
            extra["permutation"] = f"not available for metric {metric!r}"
        if refit_null is not None:
            null = np.asarray(refit_null[i])
            extra["p_value_refit"] = float((1 + np.count_nonzero(null >= r["score"] - 1e-12))
                                           / (1 + len(null)))
            extra["chance_level_refit"] = float(np.quantile(null, 0.95))
            extra["n_refit_permutations"] = int(len(null))
        split = _split_stateless(task["spec"])
        if split is not None:
            extra["shared_first_step"] = split[0]["name"]  # computed once, time pro rata
        r["channels"] = int(X.shape[1])
        r["extra"] = extra
        out.append(r)
    return out


# ----------------------------------------------------------------------------------------
# the client
# ----------------------------------------------------------------------------------------
def _task_id(ident: dict) -> str:
    return stable_hash(ident, length=32)


def _done_tasks(store) -> dict[str, int]:
    """task_id -> number of stored rows, for tasks whose rows are all present (task index)."""
    return store.done_tasks(KIND)


def benchmark(datasets: Any = None, pipelines: Any = None, evaluation: str = "within-session",
              paradigm: Any = "LeftRightImagery", subjects: Any = None,
              results: str | os.PathLike = "neurosig_results/results.sqlite",
              out: str | os.PathLike | None = "neurosig_results", n_jobs: int = 1,
              overwrite: bool = False, seed: int = 42, verbose: bool = True, *,
              n_folds: int = 5, n_permutations: int = 1000, refit_permutations: int = 0,
              data_path: str | os.PathLike | None = None, plots: bool = True,
              backend: str | None = None, scheduler: str | None = None,
              connect_timeout: float = 10.0, retries: int = 1,
              calibration: int | dict | None = None,
              reject_ptp: float | None = None, download: bool | None = None) -> pd.DataFrame:
    """Benchmark pipelines on datasets, MOABB style, with resumable SQLite results.

    Parameters
    ----------
    datasets : str | BaseDataset | list | None
        Dataset names (MOABB names/aliases or ``"SimulatedMotorImagery"``) or MOABB
        dataset instances. Default: the simulated dataset.
    pipelines : str | Path | list | None
        YAML pipeline files/folders or :class:`~neurosig.pipelines.PipelineSpec` objects.
        Default: the shipped ``pipelines/default`` set.
    evaluation : str
        ``"within-session"`` (5-fold stratified CV per session), ``"cross-session"``
        (leave one session out) or ``"cross-subject"`` (leave one subject out); aliases
        such as ``"WithinSession"`` or ``"LOSO"`` are accepted.
    paradigm : str | moabb paradigm
        ``"LeftRightImagery"`` or ``"MotorImagery"`` (MOABB defaults: 8-32 Hz) or an instance.
    subjects : list | None
        Subjects to run (default: all). Cross-subject uses them as the pool.
    results : str | Path
        SQLite results database (created if absent; an existing non-neurosig file is refused).
    out : str | Path | None
        Folder for ``results.csv``, ``results.parquet``, ``stats.csv`` and PNG plots
        (None: write nothing but the database).
    n_jobs : int
        Worker processes (1: sequential in this process; -1: all cores), or the number
        of single-threaded workers of a local Dask cluster with ``backend="dask"``.
    overwrite : bool
        Recompute rows already in the database (they are replaced as new rows arrive).
    seed : int
        Seed of the folds (as MOABB's ``random_state``) and of the permutations.
    verbose : bool
        Progress bar.
    n_folds : int
        Folds per session for within-session (MOABB: 5).
    n_permutations : int
        Label permutations on the fixed out-of-fold predictions for each row's chance
        level and p-value (0: skip).
    refit_permutations : int
        Opt-in: permutations that refit the whole evaluation on shuffled labels (slow).
    data_path : str | Path | None
        Data folder handed to the dataset adapter for dataset names.
    plots : bool
        Write PNG plots to ``out``.
    backend : {"sequential", "processes", "dask"} | None
        Where the (dataset, subject, pipeline) tasks run (default: ``"sequential"`` for
        ``n_jobs=1``, else ``"processes"``); see :func:`neurosig.parallel.run_tasks`.
        Workers load their data themselves (``data_path`` must be readable there); only
        this process writes the database, row by row.
    scheduler : str | None
        Address of a running Dask scheduler (``"tcp://host:8786"``); implies ``"dask"``.
    connect_timeout : float
        Seconds to wait for ``scheduler`` before a :class:`ConnectionError`.
    retries : int
        Times a failing task is retried before it is recorded as failed (a rerun of the
        benchmark retries it again).
    calibration : int | dict | None
        Calibration protocol for ``cross-session`` / ``cross-subject``: ``{"n_trials": K,
        "labeled": False}`` (an int is ``n_trials``). The first ``K`` trials (recording
        order) of the target session (cross-session) or target subject (cross-subject) are
        shown to every pipeline before scoring and removed from the test set, so every
        pipeline is scored on the same trials. Transfer pipelines (``calibration:`` in their
        file) use them to align the target domain (and their labels with ``labeled=True``);
        ordinary pipelines add labeled calibration trials to their training set and cannot
        use unlabeled ones. Transfer pipelines are refused without this protocol. Recorded in
        every row (``params["calibration"]``, ``extra["calibration"]``).
    reject_ptp : float | None
        Artifact rejection: drop epochs whose peak-to-peak amplitude exceeds this many volts
        on any channel (e.g. ``150e-6``) before splitting. Every row records the share of
        its session's epochs rejected and the rule (0 and "none" when None).
    download : bool | None
        Allow downloading missing dataset files. Default: not when a data folder is given
        (``data_path`` or ``$NEUROSIG_DATA``): missing files are then an error naming them.

    Returns
    -------
    DataFrame
        One row per (dataset, subject, session, pipeline) of this benchmark (read back
        from the database), MOABB's columns plus neurosig's.
    """
    from ..parallel import resolve_backend, run_tasks
    from .results import ResultStore

    # ---- validate everything before any computation --------------------------------------
    evaluation = resolve_evaluation(evaluation)
    paradigm_obj = resolve_paradigm(paradigm)
    paradigm_name = type(paradigm_obj).__name__
    n_folds = check_positive_int("n_folds", n_folds, minimum=2)
    seed = check_positive_int("seed", seed, minimum=0)
    n_permutations = check_positive_int("n_permutations", n_permutations, minimum=0)
    refit_permutations = check_positive_int("refit_permutations", refit_permutations, minimum=0)
    backend = resolve_backend(backend, n_jobs, scheduler, connect_timeout)
    retries = check_positive_int("retries", retries, minimum=0)
    results, out = resolve_outputs(results, out)
    ds_list = resolve_datasets(datasets, data_path, download)
    plan = []
    for ds in ds_list:
        if not paradigm_obj.is_valid(ds):
            raise ValueError(
                f"Invalid value for the 'paradigm' parameter: dataset {ds.code!r} (paradigm "
                f"{getattr(ds, 'paradigm', '?')!r}, events {sorted(getattr(ds, 'event_id', {}))}) "
                f"cannot be used with {paradigm_name}.")
        subs = resolve_subjects(subjects, ds)
        check_evaluation_supported(evaluation, ds, subs)
        plan.append((ds, subs))
    calibration = resolve_calibration(calibration, evaluation)
    if reject_ptp is not None:
        reject_ptp = check_positive_float("reject_ptp", reject_ptp)
    specs = resolve_pipelines(pipelines, paradigm_name, calibration)
    metric = paradigm_obj.scoring
    if not isinstance(metric, str):
        raise ValueError(f"Invalid paradigm scorer {metric!r}: neurosig stores one named metric per row.")
    store = ResultStore(results)

    # ---- tasks ---------------------------------------------------------------------------
    done = {} if overwrite else _done_tasks(store)
    tasks, skipped, all_ids = [], 0, []
    p_conf = paradigm_config(paradigm_obj)
    for ds, subs in plan:
        d_conf = dataset_config(ds)
        for subject in subs:
            for spec in specs:
                params = {"paradigm": p_conf, "dataset_config": stable_hash(d_conf),
                          "metric": metric}
                if evaluation == "within-session":
                    params["n_folds"] = n_folds
                if evaluation == "cross-subject":
                    params["subject_pool"] = [str(s) for s in subs]
                if calibration is not None:
                    params["calibration"] = calibration
                if reject_ptp is not None:
                    params["reject_ptp"] = reject_ptp
                ident = dict(kind=KIND, dataset=ds.code, subject=str(subject), pipeline=spec.name,
                             pipeline_hash=spec.config_hash, evaluation=evaluation, seed=seed,
                             params=params)
                tid = _task_id(ident)
                all_ids.append(tid)
                if tid in done:
                    skipped += 1
                    continue
                tasks.append({
                    "task_id": tid, "ident": ident, "dataset": ds, "paradigm": paradigm_obj,
                    "subject": subject,
                    "load_subjects": list(subs) if evaluation == "cross-subject" else [subject],
                    "spec": spec, "evaluation": evaluation, "metric": metric, "seed": seed,
                    "n_folds": n_folds, "n_permutations": n_permutations,
                    "refit_permutations": refit_permutations, "n_sessions": ds.n_sessions,
                    "calibration": calibration, "reject_ptp": reject_ptp,
                })
    logger.info("benchmark: %d task(s) to run, %d already in %s (evaluation %s, paradigm %s)",
                len(tasks), skipped, store.path, evaluation, paradigm_name)

    failures: list[str] = []

    def on_result(res) -> None:
        t = res.task
        if not res.ok:
            failures.append(f"{t['ident']['dataset']} subject {t['subject']} "
                            f"{t['spec'].name}: {res.error.strip().splitlines()[-1]}")
            return
        rows = res.value
        for r in rows:
            extra = dict(r["extra"], task_id=t["task_id"], task_rows=len(rows))
            store.add({
                "kind": KIND, "dataset": t["ident"]["dataset"], "subject": str(t["subject"]),
                "session": r["session"], "pipeline": t["spec"].name,
                "pipeline_hash": t["spec"].config_hash, "evaluation": evaluation, "metric": metric,
                "score": r["score"], "time": r["time"], "samples": r["samples"],
                "channels": r["channels"], "n_sessions": t["n_sessions"],
                "fold_scores": r["fold_scores"], "seed": seed, "params": t["ident"]["params"],
                "extra": extra,
            })

    try:
        run_tasks(evaluate_task, tasks, backend=backend, n_jobs=n_jobs, on_result=on_result,
                  verbose=verbose, desc="benchmark (dataset, subject, pipeline)", retries=retries,
                  scheduler=scheduler, connect_timeout=connect_timeout, group=_data_group)
        df = _frame(store, set(all_ids))
        if out is not None:
            write_outputs(store, df, out, plots=plots)
    finally:
        store.close()
    if failures:
        logger.warning("%d task(s) failed (rerun to retry them):\n  %s", len(failures),
                       "\n  ".join(failures))
    df.attrs["failures"] = failures
    df.attrs["n_computed"] = len(tasks) - len(failures)
    df.attrs["n_skipped"] = skipped
    return df


def _data_group(task: dict) -> tuple:
    """Tasks loading the same data (every pipeline of one subject) go to one worker or process."""
    return (task["ident"]["dataset"], tuple(str(s) for s in task["load_subjects"]))


def _frame(store, task_ids: set) -> pd.DataFrame:
    df = store.to_frame(kind=KIND, task_ids=task_ids)
    if df.empty:
        return df
    for col in ("chance_level", "p_value", "chance_theoretical", "rejected_share"):
        df[col] = [e.get(col) if isinstance(e, dict) else None for e in df["extra"]]
    df["calibration_trials"] = [int((e.get("calibration") or {}).get("n_calibration_trials", 0))
                                if isinstance(e, dict) else 0 for e in df["extra"]]
    return df
