"""Arguments of the BCI benchmark, resolved and checked before any computation.

Names and aliases of paradigms, datasets (with an optional data folder; ``bids:PATH`` for a
lab's BIDS folder with an event map), subjects,
pipeline files (allow-listed YAML, refused when they do not fit the paradigm) and the
calibration protocol; plus the plain-data configurations of a dataset and a paradigm that
go into the result keys.  :func:`neurosig.evaluation.bci.benchmark` calls these first, so
a bad argument is an error naming it before any data are loaded.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._logging import get_logger
from .._validation import check_positive_int

logger = get_logger("neurosig.evaluation.bci")  # the benchmark's messages: one logger

DEFAULT_DATASETS: tuple[str, ...] = ("SimulatedMotorImagery",)

#: dataset names ``bids:PATH`` name a local BIDS folder (:class:`~neurosig.datasets.BIDSDataset`)
BIDS_PREFIX = "bids:"

#: canonical paradigm name -> MOABB class name, and accepted aliases
PARADIGMS: dict[str, str] = {"LeftRightImagery": "LeftRightImagery", "MotorImagery": "MotorImagery",
                             "SSVEP": "SSVEP", "FilterBankSSVEP": "FilterBankSSVEP", "P300": "P300"}
_PARADIGM_ALIASES = {
    "leftrightimagery": "LeftRightImagery", "left-right-imagery": "LeftRightImagery",
    "left-right": "LeftRightImagery", "leftright": "LeftRightImagery", "lr": "LeftRightImagery",
    "motorimagery": "MotorImagery", "motor-imagery": "MotorImagery", "imagery": "MotorImagery",
    "mi": "MotorImagery", "multiclass-imagery": "MotorImagery",
    "ssvep": "SSVEP", "filterbankssvep": "FilterBankSSVEP", "filter-bank-ssvep": "FilterBankSSVEP",
    "p300": "P300", "erp": "P300",
}


def resolve_paradigm(paradigm: Any):
    """A MOABB paradigm instance from a name/alias or an instance (MOABB defaults, 8-32 Hz).

    Parameters
    ----------
    paradigm : str | moabb.paradigms.base.BaseParadigm
        A paradigm name (one of ``PARADIGMS``) or alias, or a paradigm instance (returned as is).
    """
    from moabb.paradigms.base import BaseParadigm

    if isinstance(paradigm, BaseParadigm):
        return paradigm
    if isinstance(paradigm, str):
        norm = paradigm.strip().replace("_", "-")
        name = PARADIGMS.get(norm) or _PARADIGM_ALIASES.get(norm.lower())
        if name is not None:
            import moabb.paradigms as mp

            return getattr(mp, name)()
    raise ValueError(
        "Invalid value for the 'paradigm' parameter. Allowed values are "
        f"{', '.join(repr(p) for p in PARADIGMS)} (aliases: 'left-right-imagery', 'imagery', 'ssvep', "
        f"'p300', ...) or a MOABB paradigm instance, but got {paradigm!r} instead.")


def _get_dataset(name: str, path: Any = None, download: bool | None = None):
    """A dataset by name through the MOABB adapter (MOABB names/aliases, the simulated one)."""
    from ..datasets import get_dataset

    try:
        return get_dataset(name, path=path, download=download)
    except ValueError as exc:  # the adapter names its own argument 'name'; here it is 'datasets'
        raise ValueError(str(exc).replace("'name' parameter", "'datasets' parameter")) from None


def bids_dataset(name: str, event_map: Any = None, task: str | None = None):
    """The :class:`~neurosig.datasets.BIDSDataset` named ``bids:PATH``, checked before any work.

    Parameters
    ----------
    name : str
        ``"bids:PATH"``, PATH the root of a BIDS dataset.
    event_map : dict | str | Path | None
        BIDS event name -> class name, or a YAML/JSON event-map file holding that mapping.
    task : str | None
        Only recordings of this BIDS task (default: all).

    Returns
    -------
    dataset : BIDSDataset
        Its folder, event map and events checked (no data loaded).
    """
    from ..datasets.bids import BIDSDataset

    root = Path(name[len(BIDS_PREFIX):]).expanduser()
    if not name[len(BIDS_PREFIX):]:
        raise ValueError(f"Invalid value for the 'datasets' parameter: {name!r} names no folder; "
                         "allowed is 'bids:PATH' with PATH the root of a BIDS dataset.")
    if not root.is_dir():
        raise FileNotFoundError(f"Invalid value for the 'datasets' parameter: {name!r} names the folder "
                                f"{str(root)!r}, which does not exist.")
    if not (root / "dataset_description.json").is_file():
        raise FileNotFoundError(f"Invalid value for the 'datasets' parameter: {name!r} is not a BIDS folder "
                                f"(no dataset_description.json in {str(root)!r}).")
    if event_map is None:
        raise ValueError(f"The dataset {name!r} needs an event map (BIDS event names -> class names): "
                         "give event_map= (CLI: --event-map FILE, a YAML or JSON mapping), or pass "
                         "neurosig.datasets.BIDSDataset(root, event_map=...) in 'datasets'.")
    return BIDSDataset(root=root, event_map=event_map, task=task)


def resolve_bids_names(datasets: Any, event_map: Any = None, task: str | None = None) -> Any:
    """``datasets`` with every ``bids:PATH`` name replaced by its checked BIDSDataset.

    Parameters
    ----------
    datasets : str | BaseDataset | list | None
        Dataset names or instances (the other entries are returned as given).
    event_map : dict | str | Path | None
        Event map of the BIDS datasets (see :func:`bids_dataset`); refused without one.
    task : str | None
        BIDS task of the BIDS datasets; refused without one.

    Returns
    -------
    datasets : list | None
        The same entries, BIDS names replaced (None stays None when no event map or task is given).
    """
    items = [datasets] if isinstance(datasets, str) else datasets
    is_bids = [isinstance(d, str) and d.startswith(BIDS_PREFIX) for d in (items or [])]
    if (event_map is not None or task is not None) and not any(is_bids):
        given = "event_map" if event_map is not None else "bids_task"
        raise ValueError(f"Invalid value for the '{given}' parameter: it applies to datasets named "
                         f"'bids:PATH', but the datasets are {datasets!r}.")
    if items is None:
        return None
    return [bids_dataset(d, event_map, task) if b else d for d, b in zip(items, is_bids)]


def resolve_datasets(datasets: Any, path: Any = None, download: bool | None = None) -> list:
    """Dataset instances from names (MOABB names/aliases, ``SimulatedMotorImagery``) or instances.

    With a data folder (``path`` or ``$NEUROSIG_DATA``) datasets load offline unless
    ``download=True``: a missing folder is refused here, before any work. A ``bids:PATH``
    name needs its event map: resolve it first with :func:`resolve_bids_names` (the CLI
    does, from ``--event-map``) or pass a :class:`~neurosig.datasets.BIDSDataset`.

    Parameters
    ----------
    datasets : str | BaseDataset | list of (str | BaseDataset) | None
        Dataset names or MOABB dataset instances; None gives ``DEFAULT_DATASETS``.
    path : str | Path | None, optional
        Data folder for datasets given by name.
    download : bool | None, optional
        Whether datasets given by name may be downloaded.
    """
    from moabb.datasets.base import BaseDataset

    if datasets is None:
        datasets = list(DEFAULT_DATASETS)
    if isinstance(datasets, (str, BaseDataset)):
        datasets = [datasets]
    out = []
    for d in datasets:
        if isinstance(d, BaseDataset):
            out.append(d)
        elif isinstance(d, str) and d.startswith(BIDS_PREFIX):
            out.append(bids_dataset(d))  # refused with a message saying how to give the event map
        elif isinstance(d, str):
            out.append(_get_dataset(d, path, download))
        else:
            raise TypeError(f"The 'datasets' parameter must hold dataset names or MOABB dataset "
                            f"instances, but got {type(d).__name__} ({d!r:.60}) instead.")
    codes = [d.code for d in out]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise ValueError(f"Invalid value for the 'datasets' parameter: {dupes} given more than once.")
    return out


def resolve_subjects(subjects: Any, dataset) -> list:
    """Check that every requested subject is one of the dataset's; None -> all.

    Parameters
    ----------
    subjects : int | str | list | None
        Requested subjects (matched as values or as strings); None gives all of them.
    dataset : BaseDataset
        The dataset; its ``subject_list`` holds the allowed subjects.
    """
    allowed = list(dataset.subject_list)
    if subjects is None:
        return allowed
    if isinstance(subjects, (int, np.integer, str)):
        subjects = [subjects]
    out = []
    for s in subjects:
        match = [a for a in allowed if a == s or str(a) == str(s)]
        if not match:
            shown = _short_list(allowed)
            raise ValueError(f"Invalid value for the 'subjects' parameter. Dataset {dataset.code!r} "
                             f"has subjects {shown}, but got {s!r} instead.")
        out.append(match[0])
    if len(set(map(str, out))) != len(out):
        raise ValueError(f"Invalid value for the 'subjects' parameter: duplicates in {list(subjects)}.")
    return out


def _short_list(values: Sequence, n: int = 12) -> str:
    values = list(values)
    if len(values) <= n:
        return str(values)
    return f"[{values[0]!r}, ..., {values[-1]!r}] ({len(values)} subjects)"


def resolve_pipelines(pipelines: Any, paradigm_name: str, calibration: dict | None = None) -> list:
    """Pipeline specs from files/folders (default: shipped ``pipelines/default``) or specs.

    A pipeline named explicitly (a YAML file or a ``PipelineSpec``) whose ``paradigms`` do
    not list the chosen paradigm is refused with an error; pipelines found in a folder
    (or the default set) that do not list it are skipped with a log line, as MOABB does.
    Transfer pipelines (``calibration:`` in their file) the calibration protocol cannot
    serve are refused the same way when named explicitly (:func:`check_calibration_needs`)
    and skipped with a warning when found in a folder.
    Every pipeline is built once here so a bad parameter fails before any work.

    Parameters
    ----------
    pipelines : str | os.PathLike | list of (str | os.PathLike | PipelineSpec) | None
        YAML files or folders, or pipeline specs; None gives the shipped default set.
    paradigm_name : str
        Name of the chosen paradigm, matched against each pipeline's ``paradigms``.
    calibration : dict | None, optional
        The calibration protocol (``n_trials``, ``labeled``), or None without calibration.
    """
    from ..pipelines import PipelineSpec, load_pipelines

    explicit: list = []  # specs the user named one by one (a file or a PipelineSpec)
    if pipelines is None or isinstance(pipelines, (str, os.PathLike)):
        specs = load_pipelines(pipelines, tag="default" if pipelines is None else None)
        if pipelines is not None and Path(pipelines).is_file():
            explicit = list(specs)
    else:
        pipelines = list(pipelines)
        specs = []
        for p in pipelines:
            if isinstance(p, PipelineSpec):
                specs.append(p)
                explicit.append(p)
            elif isinstance(p, (str, os.PathLike)):
                loaded = load_pipelines([p])
                specs.extend(loaded)
                if Path(p).is_file():
                    explicit.extend(loaded)
            else:
                raise TypeError(f"The 'pipelines' parameter must hold YAML file/folder paths or "
                                f"PipelineSpec objects, but got {type(p).__name__} instead.")
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"Invalid value for the 'pipelines' parameter: names {dupes} appear twice.")
    refused = [s for s in explicit if paradigm_name not in s.paradigms]
    if refused:
        lines = "; ".join(f"{s.name!r} ({str(s.path) if s.path else 'PipelineSpec'}) lists "
                          f"{list(s.paradigms)}" for s in refused)
        raise ValueError(f"Invalid value for the 'pipelines' parameter: the pipeline(s) named "
                         f"explicitly do not support the paradigm {paradigm_name!r}: {lines}. Choose "
                         f"one of their paradigms with --paradigm, or leave the file out.")
    check_calibration_needs(explicit, calibration)
    kept = [s for s in specs if paradigm_name in s.paradigms]
    skipped = [s.name for s in specs if s not in kept]
    if skipped:
        logger.info("pipelines %s do not list paradigm %s; skipped", skipped, paradigm_name)
    if not kept:
        raise ValueError(f"Invalid value for the 'pipelines' parameter: none of {names} lists the "
                         f"paradigm {paradigm_name!r} in its 'paradigms'.")
    unserved = [s for s in kept if not _calibration_serves(s, calibration)]
    if unserved:
        logger.warning("transfer pipelines %s need %s calibration trials that this run does not give "
                       "(calibration=%s); skipped", [s.name for s in unserved],
                       "/".join(sorted({s.calibration for s in unserved})), calibration)
        kept = [s for s in kept if s not in unserved]
        if not kept:
            check_calibration_needs(unserved, calibration)  # raises, naming the pipeline
    for s in kept:
        s.build()
    return kept


def resolve_calibration(calibration: Any, evaluation: str) -> dict | None:
    """The calibration protocol as a dict, or None (no target-domain trials seen).

    Parameters
    ----------
    calibration : None | int | dict
        None or 0: no calibration. An int ``K`` or ``{"n_trials": K, "labeled": bool}``:
        the first ``K`` trials (recording order, as an online calibration block) of the
        target session (cross-session) or target subject (cross-subject) are given to the
        pipelines before scoring and removed from the test set; ``labeled`` (default
        False) says whether their labels may be used.
    evaluation : str
        Canonical evaluation name; calibration needs ``cross-session`` or ``cross-subject``.

    Returns
    -------
    dict | None
        ``{"n_trials": K, "labeled": bool, "selection": "first"}``.
    """
    if calibration is None:
        return None
    if isinstance(calibration, (int, np.integer)) and not isinstance(calibration, bool):
        calibration = {"n_trials": int(calibration)}
    if not isinstance(calibration, dict):
        raise TypeError(f"The 'calibration' parameter must be None, an int (number of unlabeled "
                        f"trials) or a dict {{'n_trials': K, 'labeled': bool}}, but got "
                        f"{type(calibration).__name__} instead.")
    unknown = set(calibration) - {"n_trials", "labeled"}
    if unknown:
        raise ValueError(f"Invalid value for the 'calibration' parameter: unknown keys {sorted(unknown)}; "
                         "allowed keys are ['labeled', 'n_trials'].")
    k = check_positive_int("calibration n_trials", calibration.get("n_trials"), minimum=0)
    labeled = calibration.get("labeled", False)
    if not isinstance(labeled, (bool, np.bool_)):
        raise ValueError(f"Invalid value for the 'calibration labeled' parameter. Allowed values are "
                         f"True and False, but got {labeled!r} instead.")
    if k == 0:
        if labeled:
            raise ValueError("Invalid value for the 'calibration' parameter: labeled=True needs "
                             "n_trials > 0 (CLI: --calibration-labeled needs --calibration-trials K).")
        return None
    if evaluation == "within-session":
        raise ValueError("Invalid value for the 'calibration' parameter: calibration trials come from "
                         "the target session or subject of a 'cross-session' or 'cross-subject' "
                         f"evaluation, but the evaluation is 'within-session' (got n_trials={k}).")
    return {"n_trials": k, "labeled": bool(labeled), "selection": "first"}


def _calibration_serves(spec, calibration: dict | None) -> bool:
    if spec.calibration is None:
        return True
    return calibration is not None and (spec.calibration != "labeled" or calibration["labeled"])


def check_calibration_needs(specs: list, calibration: dict | None) -> None:
    """Refuse (before any work) a transfer pipeline the calibration protocol cannot serve.

    Parameters
    ----------
    specs : list of PipelineSpec
        Pipelines to check; those without ``calibration`` pass.
    calibration : dict | None
        The calibration protocol (``labeled`` read from it), or None without calibration.
    """
    for s in specs:
        if s.calibration is None:
            continue
        where = f"{s.name!r} ({s.path})" if s.path else repr(s.name)
        if calibration is None:
            raise ValueError(
                f"Pipeline {where} is a transfer pipeline: it needs {s.calibration} calibration trials "
                "of the target session/subject ('calibration' in its file) and runs only under a "
                "calibration protocol. Give calibration={'n_trials': K} (CLI: --calibration-trials K, "
                "with a cross-session or cross-subject evaluation), or leave the pipeline out.")
        if s.calibration == "labeled" and not calibration["labeled"]:
            raise ValueError(
                f"Pipeline {where} needs labeled calibration trials, but the calibration protocol "
                "gives unlabeled ones; add labeled=True (CLI: --calibration-labeled).")


def _simple(obj: Any, depth: int = 0) -> Any:
    """JSON-able view of an object's configuration (drops paths, callables, private)."""
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if depth > 4:
        return None
    if isinstance(obj, (list, tuple)):
        return [_simple(v, depth + 1) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _simple(v, depth + 1) for k, v in obj.items()
                if not str(k).startswith("_") and "path" not in str(k).lower()}
    return None


def dataset_config(dataset) -> dict:
    """What identifies a dataset's content: its class, code and simple public attributes
    (or its ``params`` when it defines them, as the simulated dataset does).

    Parameters
    ----------
    dataset : BaseDataset
        The dataset instance.
    """
    params = getattr(dataset, "params", None)
    if isinstance(params, dict):
        return {"class": type(dataset).__name__, "code": dataset.code, "params": _simple(params)}
    attrs = {k: v for k, v in vars(dataset).items() if k != "subject_list"}
    return {"class": type(dataset).__name__, "code": dataset.code, "attrs": _simple(attrs)}


def paradigm_config(paradigm) -> dict:
    return {"class": type(paradigm).__name__, "attrs": _simple(vars(paradigm))}


def resolve_outputs(results: Any, out: Any) -> tuple[Path, Path | None]:
    """Check the results database and the export folder before any work (nothing is created).

    Parameters
    ----------
    results : str | Path
        SQLite results file: not a folder, in a folder that can be written.
    out : str | Path | None
        Export folder (CSV, Parquet, statistics, plots): not an existing file, writable.

    Returns
    -------
    results, out : Path, Path | None
    """
    from .._io import check_output_path

    res = check_output_path("results", results, kind="file")
    out_p = None if out is None else check_output_path("out", out, kind="dir")
    if out_p is not None and out_p.resolve() == res.resolve():
        raise ValueError(f"Invalid value for the 'out' parameter: {str(out_p)!r} is the results file; "
                         "allowed is a folder other than the 'results' file.")
    return res, out_p
