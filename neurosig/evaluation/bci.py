"""The BCI benchmark: pipelines x datasets x subjects, scored like MOABB, stored row by row.

``benchmark()`` does three things. It validates every argument first (datasets, paradigm,
evaluation, subjects, pipeline files, results database; :mod:`.bci_inputs`), then plans one
frozen :class:`~neurosig.evaluation.bci_task.BenchmarkTask` per (dataset, subject, pipeline)
and runs them through :func:`neurosig.parallel.run_tasks` (each task runs
:func:`~neurosig.evaluation.bci_task.evaluate_task` on a worker: the data are loaded there,
and the protocol's class in :mod:`.bci_protocols` splits, calibrates, fits and scores). The
client process writes each result row to the
:class:`~neurosig.evaluation.results.ResultStore` the moment it arrives, so a killed run
resumes where it stopped: a rerun skips every task whose rows are all in the database (the
key includes the pipeline's configuration hash, so an edited pipeline file is recomputed).

Scores equal MOABB 1.7's evaluations of the same pipeline on the same folds
(``tests/evaluation/test_bench_parity.py`` checks it): same paradigm data, same splitters
(:mod:`neurosig.evaluation.splitters`), labels encoded on the training fold, the
paradigm's scorer, fold scores averaged per session for within-session.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .._logging import get_logger
from .._validation import check_positive_float, check_positive_int
from ..contracts import stable_hash
from .bci_data import (  # noqa: F401 (re-exported)
    clear_worker_caches,
    epochs_sfreq,
    load_data,
    reject_epochs,
    reject_rule,
)
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
from .bci_protocols import PROTOCOLS  # noqa: F401 (re-exported)
from .bci_task import KIND, BenchmarkTask, Calibration, _data_group, evaluate_task
from .report import (  # noqa: F401
    format_subject_report,
    format_summary,
    subject_confusions,
    summarize,
    write_outputs,
)
from .splitters import check_evaluation_supported, resolve_evaluation

logger = get_logger(__name__)


@dataclass(frozen=True)
class BenchmarkSettings:
    """The run settings shared by every task of one benchmark, checked."""

    evaluation: str
    paradigm: Any
    metric: str
    seed: int
    n_folds: int
    n_permutations: int
    refit_permutations: int
    calibration: Calibration | None
    reject_ptp: float | None

    def params(self, dataset, subjects: list) -> dict:
        """The settings that identify a result of ``dataset`` (part of every task key).

        Parameters
        ----------
        dataset : BaseDataset
            The dataset.
        subjects : list
            The dataset's subjects in the run (the subject pool of a cross-subject evaluation).
        """
        params = {"paradigm": paradigm_config(self.paradigm),
                  "dataset_config": stable_hash(dataset_config(dataset)), "metric": self.metric}
        if self.evaluation == "within-session":
            params["n_folds"] = self.n_folds
        if self.evaluation == "cross-subject":
            params["subject_pool"] = [str(s) for s in subjects]
        if self.calibration is not None:
            params["calibration"] = self.calibration.as_dict()
        if self.reject_ptp is not None:
            params["reject_ptp"] = self.reject_ptp
        return params


def resolve_settings(evaluation, paradigm, seed, n_folds, n_permutations, refit_permutations,
                     calibration, reject_ptp) -> BenchmarkSettings:
    """Check the run settings (each error names its parameter) before any work.

    Parameters
    ----------
    evaluation : str
        Evaluation protocol name or alias (e.g. ``"within-session"``, ``"LOSO"``).
    paradigm : str | BaseParadigm
        Paradigm name/alias or a MOABB paradigm instance.
    seed : int
        Seed of the folds and permutations (>= 0).
    n_folds : int
        Folds per session for within-session (>= 2).
    n_permutations : int
        Label permutations for each row's chance level and p-value (>= 0).
    refit_permutations : int
        Permutations that refit the whole evaluation on shuffled labels (>= 0).
    calibration : int | dict | None
        Calibration protocol (number of calibration trials, or a dict), or None.
    reject_ptp : float | None
        Peak-to-peak epoch rejection threshold in volts; None: no rejection.
    """
    evaluation = resolve_evaluation(evaluation)
    paradigm_obj = resolve_paradigm(paradigm)
    metric = paradigm_obj.scoring
    if not isinstance(metric, str):
        raise ValueError(f"Invalid paradigm scorer {metric!r}: neurosig stores one named metric per row.")
    return BenchmarkSettings(
        evaluation=evaluation, paradigm=paradigm_obj, metric=metric,
        seed=check_positive_int("seed", seed, minimum=0),
        n_folds=check_positive_int("n_folds", n_folds, minimum=2),
        n_permutations=check_positive_int("n_permutations", n_permutations, minimum=0),
        refit_permutations=check_positive_int("refit_permutations", refit_permutations, minimum=0),
        calibration=Calibration.from_dict(resolve_calibration(calibration, evaluation)),
        reject_ptp=None if reject_ptp is None else check_positive_float("reject_ptp", reject_ptp))


def resolve_plan(datasets, subjects, data_path, settings: BenchmarkSettings,
                 download: bool | None = None) -> list[tuple]:
    """[(dataset, subjects)]: every dataset fits the paradigm and the evaluation, every subject exists.

    Parameters
    ----------
    datasets : str | BaseDataset | list | None
        Dataset names or MOABB dataset instances (see :func:`resolve_datasets`).
    subjects : list | None
        Subjects to run; None: all subjects of each dataset.
    data_path : str | os.PathLike | None
        Data folder for datasets given by name.
    settings : BenchmarkSettings
        The checked run settings (paradigm and evaluation).
    download : bool | None, optional
        Whether datasets given by name may be downloaded.
    """
    name = type(settings.paradigm).__name__
    plan = []
    for ds in resolve_datasets(datasets, data_path, download):
        if not settings.paradigm.is_valid(ds):
            raise ValueError(
                f"Invalid value for the 'paradigm' parameter: dataset {ds.code!r} (paradigm "
                f"{getattr(ds, 'paradigm', '?')!r}, events {sorted(getattr(ds, 'event_id', {}))}) "
                f"cannot be used with {name}.")
        subs = resolve_subjects(subjects, ds)
        check_evaluation_supported(settings.evaluation, ds, subs)
        plan.append((ds, subs))
    return plan


def plan_tasks(settings: BenchmarkSettings, plan: list[tuple], specs: list) -> list[BenchmarkTask]:
    """One task per (dataset, subject, pipeline), in that order.

    Parameters
    ----------
    settings : BenchmarkSettings
        The checked run settings.
    plan : list of tuple
        ``(dataset, subjects)`` pairs from :func:`resolve_plan`.
    specs : list of PipelineSpec
        The pipelines to run.
    """
    tasks = []
    for ds, subs in plan:
        params = settings.params(ds, subs)
        for subject in subs:
            load = tuple(subs) if settings.evaluation == "cross-subject" else (subject,)
            tasks.extend(BenchmarkTask(
                dataset=ds, paradigm=settings.paradigm, subject=subject, spec=spec,
                evaluation=settings.evaluation, metric=settings.metric, seed=settings.seed,
                params=params, load_subjects=load, n_folds=settings.n_folds,
                n_permutations=settings.n_permutations,
                refit_permutations=settings.refit_permutations, calibration=settings.calibration,
                reject_ptp=settings.reject_ptp) for spec in specs)
    return tasks


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
    from ..parallel import resolve_backend
    from .results import ResultStore

    # ---- validate everything before any computation --------------------------------------
    settings = resolve_settings(evaluation, paradigm, seed, n_folds, n_permutations,
                                refit_permutations, calibration, reject_ptp)
    backend = resolve_backend(backend, n_jobs, scheduler, connect_timeout)
    retries = check_positive_int("retries", retries, minimum=0)
    results, out = resolve_outputs(results, out)
    plan = resolve_plan(datasets, subjects, data_path, settings, download)
    calibration = settings.calibration.as_dict() if settings.calibration else None
    specs = resolve_pipelines(pipelines, type(settings.paradigm).__name__, calibration)
    store = ResultStore(results)

    # ---- plan, run, store ----------------------------------------------------------------
    planned = plan_tasks(settings, plan, specs)
    done = {} if overwrite else _done_tasks(store)
    tasks = [t for t in planned if t.task_id not in done]
    logger.info("benchmark: %d task(s) to run, %d already in %s (evaluation %s, paradigm %s)",
                len(tasks), len(planned) - len(tasks), store.path, settings.evaluation,
                type(settings.paradigm).__name__)
    try:
        failures = _run(tasks, store, backend=backend, n_jobs=n_jobs, verbose=verbose, retries=retries,
                        scheduler=scheduler, connect_timeout=connect_timeout)
        df = _frame(store, {t.task_id for t in planned})
        if out is not None:
            write_outputs(store, df, out, plots=plots, n_jobs=n_jobs if backend == "processes" else 1)
    finally:
        store.close()
    df.attrs["failures"] = failures
    df.attrs["n_computed"] = len(tasks) - len(failures)
    df.attrs["n_skipped"] = len(planned) - len(tasks)
    return df


def _run(tasks: list[BenchmarkTask], store, **run_kw) -> list[str]:
    """Run the tasks, storing every row as it arrives; the failures, one line each."""
    from ..parallel import run_tasks

    failures: list[str] = []

    def on_result(res) -> None:
        if res.ok:
            _store_rows(store, res.task, res.value)
        else:
            failures.append(f"{res.task.describe()}: {res.error.strip().splitlines()[-1]}")

    run_tasks(evaluate_task, tasks, on_result=on_result, desc="benchmark (dataset, subject, pipeline)",
              group=_data_group, **run_kw)
    if failures:
        logger.warning("%d task(s) failed (rerun to retry them):\n  %s", len(failures),
                       "\n  ".join(failures))
    return failures


def _store_rows(store, t: BenchmarkTask, rows: list[dict]) -> None:
    for r in rows:
        store.add({
            "kind": KIND, "dataset": t.ident["dataset"], "subject": str(t.subject),
            "session": r["session"], "pipeline": t.spec.name, "pipeline_hash": t.spec.config_hash,
            "evaluation": t.evaluation, "metric": t.metric, "score": r["score"], "time": r["time"],
            "samples": r["samples"], "channels": r["channels"], "n_sessions": t.n_sessions,
            "fold_scores": r["fold_scores"], "seed": t.seed, "params": t.params,
            "extra": dict(r["extra"], task_id=t.task_id, task_rows=len(rows)),
        })


def _done_tasks(store) -> dict[str, int]:
    """task_id -> number of stored rows, for tasks whose rows are all present (task index)."""
    return store.done_tasks(KIND)


def _frame(store, task_ids: set) -> pd.DataFrame:
    df = store.to_frame(kind=KIND, task_ids=task_ids)
    if df.empty:
        return df
    for col in ("chance_level", "p_value", "chance_theoretical", "rejected_share"):
        df[col] = [e.get(col) if isinstance(e, dict) else None for e in df["extra"]]
    df["calibration_trials"] = [int((e.get("calibration") or {}).get("n_calibration_trials", 0))
                                if isinstance(e, dict) else 0 for e in df["extra"]]
    return df
