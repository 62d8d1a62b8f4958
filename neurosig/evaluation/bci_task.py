"""One benchmark task: a frozen description of (dataset, subject, pipeline, protocol), and the
function that runs it on a worker and returns its result rows.

:func:`neurosig.evaluation.bci.benchmark` plans one :class:`BenchmarkTask` per (dataset,
subject, pipeline); :func:`evaluate_task` loads the data (cached per worker), rejects epochs,
hands them to the protocol's :class:`~neurosig.evaluation.bci_protocols.BCIEvaluation` and
turns its scores into rows: chance levels, permutation p-values, confusion matrices, what the
calibration trials were used for and how many epochs were rejected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._logging import get_logger
from ..contracts import stable_hash
from .bci_data import load_data, reject_epochs, reject_rule, split_stateless
from .bci_protocols import PROTOCOLS, SessionScores
from .chance import (
    PERMUTABLE_METRICS,
    adjusted_chance_level,
    fixed_permutation_test,
    theoretical_chance,
)

logger = get_logger(__name__)

KIND = "bci"


@dataclass(frozen=True)
class Calibration:
    """The calibration protocol: the first ``n_trials`` trials (recording order) of the target
    session or subject, shown to the pipelines with (``labeled``) or without their labels."""

    n_trials: int
    labeled: bool = False
    selection: str = "first"

    @classmethod
    def from_dict(cls, d: dict | None) -> Calibration | None:
        """From :func:`~neurosig.evaluation.bci_inputs.resolve_calibration`'s dict (None: none).

        Parameters
        ----------
        d : dict | None
            ``n_trials``, ``labeled`` and ``selection`` of the protocol, or None.
        """
        return None if d is None else cls(int(d["n_trials"]), bool(d["labeled"]), d["selection"])

    def as_dict(self) -> dict:
        """The stored form (``params["calibration"]`` of every row)."""
        return {"n_trials": self.n_trials, "labeled": self.labeled, "selection": self.selection}


@dataclass(frozen=True)
class BenchmarkTask:
    """Everything one (dataset, subject, pipeline) task needs, picklable for any worker.

    ``params`` holds the run settings that identify the result (paradigm and dataset
    configuration, metric, folds, subject pool, calibration, rejection); with the fields
    below it makes :attr:`ident`, whose hash :attr:`task_id` lets a rerun skip finished tasks.
    """

    dataset: Any
    paradigm: Any
    subject: Any
    spec: Any
    evaluation: str
    metric: str
    seed: int
    params: dict
    load_subjects: tuple = ()
    n_folds: int = 5
    n_permutations: int = 0
    refit_permutations: int = 0
    calibration: Calibration | None = None
    reject_ptp: float | None = None
    #: compute shared pipeline prefixes once (a stateless first step across folds, the steps
    #: no grid key touches once per inner fold); False: refit every step everywhere, as MOABB
    share_prefixes: bool = True
    ident: dict = field(init=False, compare=False)
    task_id: str = field(init=False, compare=False)

    def __post_init__(self):
        ident = dict(kind=KIND, dataset=self.dataset.code, subject=str(self.subject),
                     pipeline=self.spec.name, pipeline_hash=self.spec.config_hash,
                     evaluation=self.evaluation, seed=self.seed, params=self.params)
        object.__setattr__(self, "ident", ident)
        object.__setattr__(self, "task_id", stable_hash(ident, length=32))

    @property
    def n_sessions(self) -> int:
        return int(self.dataset.n_sessions)

    @property
    def data_group(self) -> tuple:
        """Tasks loading the same data (every pipeline of one subject) share a worker."""
        return (self.dataset.code, tuple(str(s) for s in self.load_subjects))

    def describe(self) -> str:
        return f"{self.dataset.code} subject {self.subject} {self.spec.name}"


def _data_group(task: BenchmarkTask) -> tuple:
    return task.data_group


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


def _load_and_reject(task: BenchmarkTask):
    """(X, y, meta, data key, epochs per subject-session, rejected per subject-session)."""
    X, y, meta, key = load_data(task.dataset, task.paradigm, task.load_subjects, return_key=True)
    keys_all = _subject_session_keys(meta)
    bad = reject_epochs(X, task.reject_ptp)
    n_total = pd.Series(keys_all).value_counts().to_dict()
    n_bad = pd.Series(keys_all[bad]).value_counts().to_dict()
    if bad.any():
        X, y, meta = X[~bad], y[~bad], meta[~bad].reset_index(drop=True)
        key = f"{key}|reject_ptp={task.reject_ptp!r}"
    return X, y, meta, key, n_total, n_bad


def _refit_null(task: BenchmarkTask, X, y, meta, key, n_rows: int) -> list | None:
    """Scores of the whole evaluation refitted on labels shuffled within each session."""
    if not task.refit_permutations:
        return None
    rng = np.random.default_rng(task.seed)
    null: list[list] = [[] for _ in range(n_rows)]
    for _ in range(task.refit_permutations):
        yp = _permute_within(y, meta, rng)
        protocol = PROTOCOLS[task.evaluation](task, X, yp, meta, data_key=key)
        for i, r in enumerate(protocol.run(keep_response=False)):
            null[i].append(r.score)
    return null


def evaluate_task(task: BenchmarkTask) -> list[dict]:
    """Run one (dataset, subject, pipeline) task; return its result rows (runs on the worker).

    Parameters
    ----------
    task : BenchmarkTask
        Planned by :func:`neurosig.evaluation.bci.benchmark`.

    Returns
    -------
    list of dict
        One row per session: ``session``, ``score``, ``time``, ``samples``, ``fold_scores``,
        ``channels`` and ``extra`` (chance levels, p-values, confusion matrix, calibration,
        rejection).
    """
    X, y, meta, key, n_total, n_bad = _load_and_reject(task)
    rows = PROTOCOLS[task.evaluation](task, X, y, meta, data_key=key).run()
    classes = np.unique(y[(meta["subject"] == task.subject).to_numpy()])
    null = _refit_null(task, X, y, meta, key, len(rows))
    out = []
    for i, r in enumerate(rows):
        sk = f"{task.subject}\x00{r.session}"
        extra = _row_extra(task, r, classes)
        extra.update(epochs_total=int(n_total.get(sk, 0)), epochs_rejected=int(n_bad.get(sk, 0)),
                     rejected_share=(n_bad.get(sk, 0) / n_total[sk]) if n_total.get(sk) else 0.0,
                     reject_rule=reject_rule(task.reject_ptp))
        extra.update(_permutation_extra(task, r, null[i] if null is not None else None))
        out.append({"session": r.session, "score": r.score, "time": r.time, "samples": r.n_samples,
                    "fold_scores": r.scores, "channels": int(X.shape[1]), "extra": extra})
    return out


def _row_extra(task: BenchmarkTask, r: SessionScores, classes: np.ndarray) -> dict:
    """Classes, chance levels, confusion matrix and calibration use of one row."""
    extra: dict[str, Any] = {
        "n_classes": int(len(classes)), "n_test_trials": r.n_test,
        "chance_theoretical": theoretical_chance(task.metric, len(classes)),
        # what this score saw of the target domain (0 trials without a calibration protocol)
        "calibration": dict(task.calibration.as_dict() if task.calibration else {"n_trials": 0},
                            n_calibration_trials=r.n_calibration, used=r.calibration_used),
    }
    if r.predictions:
        from sklearn.metrics import confusion_matrix

        y_true = np.concatenate([t for t, _ in r.predictions])
        y_pred = np.concatenate([p for _, p in r.predictions])
        extra["classes"] = [str(c) for c in classes]
        extra["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=classes).tolist()
    if task.metric == "accuracy":
        # binomial chance level of the average test fold (MOABB's adjusted chance level)
        extra["chance_binomial"] = adjusted_chance_level(len(classes),
                                                         max(1, r.n_test // len(r.responses)))
    split = split_stateless(task.spec)
    if split is not None:
        extra["shared_first_step"] = split[0]["name"]  # computed once, time pro rata
    return extra


def _permutation_extra(task: BenchmarkTask, r: SessionScores, null: list | None) -> dict:
    """Chance level and p-value of one row: fixed-prediction permutations, refit permutations."""
    extra: dict[str, Any] = {}
    n_perm = task.n_permutations
    if n_perm and task.metric in PERMUTABLE_METRICS and all(resp is not None for _, resp in r.responses):
        seed = int(stable_hash([task.seed, str(task.subject), r.session], 8), 16)
        res = fixed_permutation_test(r.responses, task.metric, r.score, n_perm=n_perm, seed=seed)
        extra.update(chance_level=res["chance_level"], p_value=res["p_value"],
                     null_mean=res["null_mean"], n_permutations=res["n_permutations"],
                     permutation="fixed-predictions")
    elif n_perm:
        extra["permutation"] = f"not available for metric {task.metric!r}"
    if null is not None:
        null = np.asarray(null)
        extra["p_value_refit"] = float((1 + np.count_nonzero(null >= r.score - 1e-12)) / (1 + len(null)))
        extra["chance_level_refit"] = float(np.quantile(null, 0.95))
        extra["n_refit_permutations"] = int(len(null))
    return extra
