"""Brain sources of an RSA job: per-subject RDMs of regions (or time windows) over shared conditions.

Each source returns a :class:`BrainRDMs`: one RDM per (subject, region) over the same
sorted conditions, plus the stimuli a model source can be fed (EEG epochs) when the
source has them.

* ``eeg``: epochs of any benchmark dataset and paradigm (MOABB names, the simulated
  datasets) or an epochs ``.npz`` file; conditions are the classes (optionally split
  by run, ``run_labels``: run -> suffix, e.g. imagined / executed, except the
  ``unsplit`` classes), every time window
  is one "region"; crossnobis over runs (or over interleaved trial splits when a run
  lacks a condition), noise-normalised with the shrunk residual precision.
* ``nsd``: ROI betas of :class:`~neurosig.datasets.NSD` subjects; conditions are the
  images every subject saw at least ``min_reps`` times (the shared ones by default),
  repetitions are the crossnobis folds.
* ``fmri``: 4-D runs of any fMRI study, single-trial betas from the GLM path
  (:func:`~neurosig.datasets.fmri_glm.trial_betas`); conditions are the events'
  ``trial_type``, runs the crossnobis folds, regions the given ROI masks.
* ``rdms``: precomputed RDMs in a ``.npz`` file (``rdms``, ``subjects``, ``regions``,
  optional ``conditions``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..._logging import get_logger
from .rdm import as_vectors, calc_rdm, n_cond_from_length, noise_precision

logger = get_logger(__name__)

KINDS = ("eeg", "nsd", "fmri", "rdms")


@dataclass
class BrainRDMs:
    """Brain RDMs of one source.

    Attributes
    ----------
    rdms : ndarray, shape (n_rdms, n_pairs)
        Condensed RDMs (upper triangle, row-major), one per (subject, region).
    subjects, regions : ndarray of str, shape (n_rdms,)
    region_order : list of str
        Regions in display order (time order for EEG windows).
    conditions : ndarray, shape (n_conditions,)
        Condition labels in RDM order.
    stimuli : ndarray, shape (n_trials, n_channels, n_times) | None
        What a model is fed (EEG epochs), with ``stimulus_conditions`` (n_trials,).
    """

    rdms: np.ndarray
    subjects: np.ndarray
    regions: np.ndarray
    region_order: list
    conditions: np.ndarray
    stimuli: np.ndarray | None = None
    stimulus_conditions: np.ndarray | None = None
    sfreq: float | None = None
    info: dict = field(default_factory=dict)


def _err(source: str, param: str, msg: str) -> ValueError:
    return ValueError(f"Invalid value for the '{param}' parameter of the brain source {source!r}: {msg}")


def check_patterns(X: np.ndarray, source: str, param: str) -> None:
    """Refuse non-finite patterns before any RDM is computed.

    Parameters
    ----------
    X : ndarray
        Patterns, any shape (e.g. (n_trials, n_channels, n_times) epochs or
        (n_conditions, n_features) betas).
    source : str
        Name of the brain source, named in the error.
    param : str
        The source's key that gave the patterns.
    """
    bad = ~np.isfinite(X)
    if bad.any():
        raise _err(source, param, f"the patterns contain {int(bad.sum())} NaN or infinite values "
                                  "(allowed: finite numbers).")


def check_conditions(labels: np.ndarray, source: str, param: str, where: str = "") -> None:
    """Refuse fewer than 3 distinct conditions (an RDM needs at least 3).

    Parameters
    ----------
    labels : ndarray, shape (n_trials,)
        Condition label of each trial.
    source : str
        Name of the brain source, named in the error.
    param : str
        The source's key that gave the labels.
    where : str
        Where the labels come from (e.g. " in subject 2"), added to the message.
    """
    n = len(np.unique(labels))
    if n < 3:
        raise _err(source, param, f"an RDM needs at least 3 conditions{where}, but got {n} "
                                  f"({sorted(map(str, np.unique(labels)))}).")


def check_same_conditions(labels: np.ndarray, conditions: np.ndarray, source: str, param: str,
                          subject: Any) -> None:
    """Refuse a subject whose conditions differ from the other subjects' (RDMs must share them).

    Parameters
    ----------
    labels : ndarray, shape (n_trials,)
        Condition label of each trial of the subject.
    conditions : ndarray, shape (n_conditions,)
        The sorted conditions of the other subjects.
    source : str
        Name of the brain source, named in the error.
    param : str
        The source's key that gave the labels.
    subject : object
        The subject, named in the error.
    """
    if not np.array_equal(np.unique(labels), conditions):
        raise _err(source, param, f"subject {subject} has the conditions {sorted(np.unique(labels))}, others "
                                  f"have {sorted(conditions)}; every subject needs the same set.")


def _rdm(X: np.ndarray, method: str, conditions: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Condensed RDM (1, n_pairs) of trials (n_trials, n_features); ``folds`` serve crossnobis only."""
    return np.atleast_2d(calc_rdm(X, method, conditions=conditions, folds=folds if method == "crossnobis" else None,
                                  squareform=False))


def _existing(base: Path, cfg: dict, key: str, source: str) -> Path:
    """The file that ``cfg[key]`` names, refused when it does not exist."""
    path = base / cfg[key]
    if not path.is_file():
        raise FileNotFoundError(f"The '{key}' file {str(path)!r} of the brain source {source!r} does not exist.")
    return path


# ---------------------------------------------------------------------------- EEG
def load_eeg(cfg: dict, base: Path, source: str = "eeg") -> tuple[np.ndarray, np.ndarray, Any, float, float]:
    """Epochs, labels, metadata (``subject``, ``run``, ``session``), sampling rate and start time.

    Parameters
    ----------
    cfg, base, source : dict, Path, str
        The job's validated ``brain`` section, the folder that relative paths start
        from, and the name of the brain source (named in errors).

    Returns
    -------
    X : ndarray, shape (n_trials, n_channels, n_times)
        The epochs.
    y : ndarray, shape (n_trials,)
        Condition labels.
    meta : pandas.DataFrame
        ``subject``, ``run`` and ``session`` of each trial (n_trials rows).
    sfreq : float
        Sampling rate in Hz.
    tmin : float
        Time of the first sample in seconds.
    """
    import pandas as pd

    if "epochs" in cfg:
        path = _existing(base, cfg, "epochs", source)
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("X", "y", "sfreq") if k not in z.files]
            if missing:
                raise _err(source, "epochs", f"the file {str(path)!r} lacks the arrays {missing} "
                                             f"(needs X, y, sfreq; optional subject, run, tmin); it has {z.files}.")
            X, y, sfreq = z["X"], z["y"], float(z["sfreq"])
            n = len(X)
            meta = pd.DataFrame({"subject": z["subject"] if "subject" in z.files else np.ones(n, int),
                                 "run": z["run"] if "run" in z.files else np.zeros(n, int),
                                 "session": np.zeros(n, int)})
            tmin = float(z["tmin"]) if "tmin" in z.files else 0.0
        if X.ndim != 3 or y.shape != (len(X),):
            raise _err(source, "epochs", f"X must be (n_trials, n_channels, n_times) and y (n_trials,), "
                                         f"but got {X.shape} and {y.shape}.")
        return X, y, meta, sfreq, tmin
    from ...datasets import get_dataset
    from ..bci import epochs_sfreq
    from ..bci_inputs import resolve_paradigm

    if "dataset" not in cfg or "paradigm" not in cfg:
        raise _err(source, "dataset", "an EEG source needs either 'epochs' (a .npz file) or both 'dataset' and "
                                      "'paradigm'.")
    ds = get_dataset(cfg["dataset"], path=cfg.get("data_path"), subjects=cfg.get("subjects"),
                     **cfg.get("dataset_params", {}))
    par = resolve_paradigm(cfg["paradigm"])
    if cfg.get("paradigm_params"):
        par = type(par)(**cfg["paradigm_params"])
    X, y, meta = par.get_data(ds, subjects=list(ds.subject_list))
    sfreq = epochs_sfreq(ds, par, X.shape[2])
    return X, np.asarray(y), meta.reset_index(drop=True), sfreq, float(getattr(par, "tmin", 0.0) or 0.0)


def _folds(y: np.ndarray, runs: np.ndarray, mode: str, n_split: int = 2) -> np.ndarray:
    """Crossnobis folds: runs when every run holds every condition, else interleaved splits."""
    labels = np.unique(y)
    if mode in ("auto", "run"):
        ok = len(np.unique(runs)) >= 2 and all(set(labels) <= set(y[runs == r]) for r in np.unique(runs))
        if ok:
            return runs
        if mode == "run":
            raise ValueError("Invalid value for the 'folds' parameter: some run lacks a condition, so runs "
                             "cannot be crossnobis folds; use folds: split.")
    folds = np.zeros(len(y), dtype=int)
    for c in labels:
        idx = np.flatnonzero(y == c)
        folds[idx] = np.arange(len(idx)) % n_split
    return folds


def eeg_rdms(cfg: dict, base: Path, source: str = "eeg") -> BrainRDMs:
    """Time-resolved RDMs per subject (one region per window); see the module docstring.

    Parameters
    ----------
    cfg, base, source : dict, Path, str
        The job's validated ``brain`` section, the folder that relative paths start
        from, and the name of the brain source (named in errors).

    Returns
    -------
    brain : BrainRDMs
        RDMs of shape (n_subjects * n_windows, n_pairs); regions are the window centres.
    """
    from .sources import sliding_window_rdms

    X, y, meta, sfreq, tmin = load_eeg(cfg, base, source)
    X = np.asarray(X, dtype=float)
    check_patterns(X, source, "epochs")
    y = np.asarray(y).astype(str)
    if cfg.get("run_labels"):  # e.g. imagined vs executed runs of the same movement
        runs = meta["run"].astype(str).to_numpy()
        labels = {str(k): str(v) for k, v in cfg["run_labels"].items()}
        missing = sorted(set(runs) - set(labels))
        if missing:
            raise _err(source, "run_labels", f"runs {missing} have no label; the runs are {sorted(set(runs))}.")
        keep_as_is = {str(c) for c in cfg.get("unsplit", [])}
        y = np.array([c if c in keep_as_is else f"{c}/{labels[r]}" for c, r in zip(y, runs)])
    if cfg.get("conditions"):
        keep = np.isin(y, [str(c) for c in cfg["conditions"]])
        X, y, meta = X[keep], y[keep], meta[keep].reset_index(drop=True)
    check_conditions(y, source, "conditions")
    win = max(1, int(round(cfg.get("window", 0.1) * sfreq)))
    step = max(1, int(round(cfg.get("step", cfg.get("window", 0.1)) * sfreq)))
    if win > X.shape[2]:
        raise _err(source, "window", f"{cfg.get('window')} s ({win} samples) is longer than the epochs "
                                     f"({X.shape[2]} samples).")
    method = cfg.get("distance", "crossnobis")
    times = tmin + np.arange(X.shape[2]) / sfreq
    out, subj, reg, regions = [], [], [], None
    conds = np.unique(y)
    for s in np.unique(meta["subject"].to_numpy()):
        m = (meta["subject"] == s).to_numpy()
        Xs, ys = X[m], y[m]
        check_same_conditions(ys, conds, source, "subjects", s)
        folds = None
        P = None
        if method in ("crossnobis", "mahalanobis"):
            folds = _folds(ys, meta["run"].astype(str).to_numpy()[m], cfg.get("folds", "auto"))
            if cfg.get("noise", "shrinkage_diag") != "none":
                P = _residual_precision(Xs, ys, win, step, cfg.get("noise", "shrinkage_diag"))
        rdms, centers = sliding_window_rdms(Xs, ys, window=win, step=step, method=method, times=times,
                                            folds=folds, noise=P, squareform=False)
        names = [f"{c:+.3f}s" for c in centers]
        regions = names
        out.append(rdms)
        subj += [str(s)] * len(names)
        reg += names
    return BrainRDMs(np.concatenate(out), np.array(subj), np.array(reg), list(regions), conds,
                     stimuli=X, stimulus_conditions=y, sfreq=sfreq,
                     info={"window_samples": win, "step_samples": step, "distance": method})


def _residual_precision(X: np.ndarray, y: np.ndarray, win: int, step: int, method: str) -> np.ndarray:
    w = np.lib.stride_tricks.sliding_window_view(X, win, axis=2)[:, :, ::step].mean(-1)
    res = w.copy()
    for c in np.unique(y):
        res[y == c] -= w[y == c].mean(axis=0)
    return noise_precision(res.transpose(0, 2, 1).reshape(-1, X.shape[1]), method=method)


# ---------------------------------------------------------------------------- NSD
def nsd_rdms(cfg: dict, base: Path, source: str = "nsd") -> BrainRDMs:
    """ROI RDMs per NSD subject over images all subjects saw ``min_reps`` times.

    Parameters
    ----------
    cfg, base, source : dict, Path, str
        The job's validated ``brain`` section, the folder that relative paths start
        from, and the name of the brain source (named in errors).

    Returns
    -------
    brain : BrainRDMs
        RDMs of shape (n_subjects * n_rois, n_pairs) over n_images conditions.
    """
    from ...datasets import NSD

    root = base / cfg["root"]
    subjects = cfg.get("subjects", [1])
    rois = cfg.get("rois")
    if not rois:
        raise _err(source, "rois", "give at least one ROI ('atlas:label', e.g. 'prf-visualrois:hV4').")
    min_reps = int(cfg.get("min_reps", 2))
    method = cfg.get("distance", "crossnobis")
    subs = {s: NSD(root, s, space=cfg.get("space", "func1pt8mm"),
                   betas=cfg.get("betas", "betas_fithrf_GLMdenoise_RR"),
                   cache_dir=base / cfg["cache_dir"] if "cache_dir" in cfg else None, verbose=False)
            for s in subjects}
    for s, d in subs.items():
        bad = [r for r in rois if r not in d.rois()]
        if bad:
            raise _err(source, "rois", f"{bad} are not ROIs of subject {s}; allowed: {d.rois()}.")
    common = None
    for d in subs.values():
        t = d.trials
        if cfg.get("images", "shared") == "shared":
            t = t[t["shared"]]
        counts = t.groupby("nsd_id").size()
        ids = set(counts[counts >= min_reps].index)
        common = ids if common is None else common & ids
    ids = np.array(sorted(common))
    if cfg.get("max_images"):
        ids = ids[:int(cfg["max_images"])]
    check_conditions(ids, source, "images", f" seen {min_reps} times by every subject")
    out, subj, reg = [], [], []
    for s, d in subs.items():
        for roi in rois:
            X, info = d.get_betas(roi)
            rep = info.groupby("nsd_id").cumcount().to_numpy()
            keep = np.isin(info["nsd_id"].to_numpy(), ids) & (rep < min_reps)
            Xk = np.asarray(X[keep], dtype=float)
            check_patterns(Xk, source, "rois")
            cond, folds = info["nsd_id"].to_numpy()[keep], rep[keep]
            out.append(_rdm(Xk, method, cond, folds))
            subj.append(str(s))
            reg.append(roi)
    return BrainRDMs(np.concatenate(out), np.array(subj), np.array(reg), list(rois), ids,
                     info={"distance": method, "min_reps": min_reps})


# ---------------------------------------------------------------------------- 4-D fMRI
def fmri_rdms(cfg: dict, base: Path, source: str = "fmri") -> BrainRDMs:
    """ROI RDMs per subject from 4-D runs: LSA single-trial betas, runs as crossnobis folds.

    Parameters
    ----------
    cfg, base, source : dict, Path, str
        The job's validated ``brain`` section, the folder that relative paths start
        from, and the name of the brain source (named in errors).

    Returns
    -------
    brain : BrainRDMs
        RDMs of shape (n_subjects * n_rois, n_pairs).
    """
    import nibabel as nib

    from ...datasets.fmri_glm import trial_betas

    subjects = cfg.get("subjects") or []
    if not subjects:
        raise _err(source, "subjects", "give at least one subject: {id: ..., runs: [{bold: ..., events: ...}]}.")
    for s in subjects:
        if not isinstance(s, dict) or "id" not in s or not s.get("runs") or \
                any(not isinstance(r, dict) or set(r) != {"bold", "events"} for r in s["runs"]):
            raise _err(source, "subjects", f"each subject needs 'id' and 'runs' of {{bold, events}}, but got {s!r}.")
    rois = cfg.get("rois") or {}
    mask = base / cfg["mask"] if "mask" in cfg else None
    method = cfg.get("distance", "crossnobis")
    out, subj, reg, conds = [], [], [], None
    for s in subjects:
        X, y, folds, masker = [], [], [], None
        for i, r in enumerate(s["runs"]):
            b, ev, masker = trial_betas(base / r["bold"], base / r["events"], t_r=cfg.get("t_r"), mask=mask)
            X.append(b)
            y += ev["trial_type"].astype(str).tolist()
            folds += [i] * len(b)
        X, y, folds = np.concatenate(X).astype(float), np.array(y), np.array(folds)
        check_patterns(X, source, "runs")
        check_conditions(y, source, "events", f" (subject {s['id']})")
        if conds is not None:
            check_same_conditions(y, conds, source, "events", s["id"])
        conds = np.unique(y)
        regions = rois or {"mask": None}
        for name, path in regions.items():
            sel = np.ones(X.shape[1], bool) if path is None else \
                masker.transform(nib.load(str(base / path))).ravel() > 0.5
            if not sel.any():
                raise _err(source, "rois", f"the ROI {name!r} ({path}) has no voxel inside the brain mask.")
            out.append(_rdm(X[:, sel], method, y, folds))
            subj.append(str(s["id"]))
            reg.append(name)
    return BrainRDMs(np.concatenate(out), np.array(subj), np.array(reg), list(rois or ["mask"]), conds,
                     info={"distance": method})


# ---------------------------------------------------------------------------- RDM files
def file_rdms(cfg: dict, base: Path, source: str = "rdms") -> BrainRDMs:
    """Precomputed RDMs: ``rdms`` plus ``subjects`` / ``regions`` / ``conditions`` arrays.

    Parameters
    ----------
    cfg, base, source : dict, Path, str
        The job's validated ``brain`` section, the folder that relative paths start
        from, and the name of the brain source (named in errors).

    Returns
    -------
    brain : BrainRDMs
        The RDMs, shape (n_rdms, n_pairs).
    """
    path = _existing(base, cfg, "path", source)
    with np.load(path, allow_pickle=False) as z:
        if "rdms" not in z.files:
            raise _err(source, "path", f"the file {str(path)!r} has no 'rdms' array; it has {z.files}.")
        vec = as_vectors(z["rdms"], "rdms")
        n = len(vec)
        subjects = z["subjects"].astype(str) if "subjects" in z.files else np.arange(n).astype(str)
        regions = z["regions"].astype(str) if "regions" in z.files else np.repeat("brain", n)
        n_cond = n_cond_from_length(vec.shape[1])
        conds = z["conditions"] if "conditions" in z.files else np.arange(n_cond)
    if subjects.shape != (n,) or regions.shape != (n,) or len(conds) != n_cond:
        raise _err(source, "path", "'subjects' and 'regions' need one entry per RDM and 'conditions' one per "
                                   "condition.")
    if n_cond < 3:
        raise _err(source, "path", f"an RDM needs at least 3 conditions, but got {n_cond}.")
    order = list(dict.fromkeys(regions.tolist()))
    return BrainRDMs(vec, subjects, regions, order, np.asarray(conds))


def load_brain(cfg: dict, base: Path | str = ".") -> BrainRDMs:
    """Brain RDMs of the job's ``brain`` section (``kind``: eeg, nsd, fmri or rdms).

    Parameters
    ----------
    cfg : dict
        The job's validated ``brain`` section.
    base : path-like
        Folder that relative paths start from.

    Returns
    -------
    brain : BrainRDMs
        RDMs of shape (n_rdms, n_pairs) with their subjects, regions and conditions.
    """
    base = Path(base)
    kind = cfg.get("kind")
    if kind not in KINDS:
        raise ValueError(f"Invalid value for 'brain.kind'. Allowed values are {list(KINDS)}, but got {kind!r}.")
    fn = {"eeg": eeg_rdms, "nsd": nsd_rdms, "fmri": fmri_rdms, "rdms": file_rdms}[kind]
    return fn(cfg, base, cfg.get("name", kind))
