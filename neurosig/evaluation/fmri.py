"""Batch fMRI decoding and encoding jobs: subjects x ROIs x targets x models x cross-validation.

A job (a dict or a YAML file, validated before any work, unknown keys refused)::

    name: nsd-demo
    dataset: {type: nsd, root: /data/nsd, space: func1pt8mm, betas: betas_fithrf_GLMdenoise_RR}
    subjects: [1]
    rois: ["prf-visualrois:V1v", "prf-visualrois:hV4"]
    targets:
      - {type: coco, categories: [person, animal]}     # one binary target per category
      - {type: features, path: clip.npy, name: clip}   # rows = 73k image ids (0-based)
    models: [ridge, logistic, svm, {name: decoder, screening_percentile: 100}]
    analyses: [decoding, encoding]
    cv: {scheme: group-kfold, n_splits: 5}              # or {scheme: shared}
    preprocessing: {zscore: true, average_repetitions: true}
    results: results.sqlite
    output_dir: out/

With ``space: fsaverage`` the betas are NSD's surface files and the ROIs its
fsaverage label files; maps are written per hemisphere (``.mgh``) and plotted with
nilearn's ``plot_surf_stat_map`` on ``dataset.mesh``: a folder of FreeSurfer
``lh./rh.<mesh_surface>`` files (default ``<root>/nsddata/freesurfer/fsaverage/surf``,
``mesh_surface: inflated``) or ``"fsaverage5"`` (nilearn's bundled mesh, only for
10,242-vertex data; nothing is downloaded). The nilearn ``decoder`` model needs
volume images and is refused for the surface.

``dataset: {type: nifti, bold: run.nii.gz, events: events.tsv, mask: brain.nii.gz}``
runs the same machinery on any 4-D run: single-trial betas from an LSA GLM
(:mod:`neurosig.datasets.fmri_glm`), ROIs are mask files (or ``"mask"``), and the
target ``{type: events, column: trial_type}`` labels the trials.

Each cell is one row of the :class:`~neurosig.evaluation.results.ResultStore`
(kind ``"fmri-decoding"`` or ``"fmri-encoding"``), committed when computed; a
rerun skips finished cells (resume) and a failing cell is stored with its error
while the job goes on.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .._io import atomic_path
from .._logging import get_logger
from .._validation import check_path, check_positive_int
from ..contracts import stable_hash
from ._worker_cache import WorkerCache
from .fmri_job import FEATURE_MODELS, KINDS, MODELS, load_job  # noqa: F401 (load_job, MODELS re-exported)
from .fmri_outputs import _plot_scores, _table, _write_maps, surface_mesh
from .results import ResultStore, make_key

logger = get_logger(__name__)

# ============================================================================ data access
class _NSDSource:
    def __init__(self, ds: dict, subject: int, verbose: bool):
        from ..datasets.nsd import NSD

        self.ds = NSD(ds["root"], subject, space=ds["space"], betas=ds["betas"],
                      cache_dir=ds.get("cache_dir"), verbose=verbose)
        self.dataset = "NSD"

    def check_rois(self, rois):
        for r in rois:
            self.ds.roi_mask(r)  # raises for unknown atlas/label
        self.ds.prepare(rois, None)

    def load(self, roi, prep):
        X, info = self.ds.get_betas(roi, sessions=prep["sessions"], zscore=prep["zscore"],
                                    average=prep["average_repetitions"])
        return X, info, self.ds.masker(roi)

    def labels(self, target, info):
        Y = self.ds.coco_labels(target["categories"], info["nsd_id"].to_numpy())
        return {c: Y[:, j] for j, c in enumerate(target["categories"])}

    def ncsnr(self, roi):
        return self.ds.ncsnr(roi)

    @property
    def n_sessions(self):
        return len(self.ds.sessions)


class _NiftiSource:
    def __init__(self, ds: dict, verbose: bool):
        from ..datasets.fmri_glm import trial_betas

        self.betas, self.events, self.masker_all = trial_betas(
            ds["bold"], ds["events"], t_r=ds.get("t_r"), mask=ds.get("mask"),
            noise_model=ds.get("noise_model", "ar1"))
        self.dataset = Path(ds["bold"]).name
        self.n_sessions = 1

    def check_rois(self, rois):
        for r in rois:
            if r != "mask":
                check_path("rois", r, kind="file")

    def load(self, roi, prep):
        import pandas as pd
        X = self.betas
        info = pd.DataFrame({"nsd_id": np.arange(len(X)), "shared": False, "session": 1})
        if roi == "mask":
            masker = self.masker_all
        else:
            import nibabel as nib
            from nilearn.image import resample_to_img

            roi_img = resample_to_img(nib.load(roi), self.masker_all.mask_img_, interpolation="nearest",
                                      force_resample=True, copy_header=True)
            inside = self.masker_all.transform(roi_img).ravel() > 0
            if not inside.any():
                raise ValueError(f"ROI mask {roi!r} does not overlap the GLM mask.")
            X = X[:, inside]
            masker = _SubMasker(self.masker_all, inside)
        if prep["zscore"]:
            X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)
        return np.asarray(X, np.float32), info, masker

    def labels(self, target, info):
        col = target["column"]
        if col not in self.events.columns:
            raise ValueError(f"events column {col!r} not found; columns are {list(self.events.columns)}.")
        return {col: self.events[col].astype(str).to_numpy()}

    def ncsnr(self, roi):
        raise ValueError("Encoding noise ceilings need NSD's ncsnr maps; a 'nifti' dataset has none.")


class _SubMasker:
    """Masker view for a subset of another masker's voxels (inverse_transform only)."""

    def __init__(self, masker, inside):
        from nilearn.image import math_img

        self.masker, self.inside = masker, inside
        self.mask_img_ = math_img("img > 0.5", img=masker.inverse_transform(inside.astype(np.float32)))

    def inverse_transform(self, x):
        full = np.zeros(x.shape[:-1] + (self.inside.size,), np.float32)
        full[..., self.inside] = x
        return self.masker.inverse_transform(full)


def _load_features(target: dict, ids: np.ndarray) -> np.ndarray:
    path = Path(target["path"])
    if path.suffix == ".npy":
        F = np.load(path, mmap_mode="r")
    else:
        import h5py

        with h5py.File(path, "r") as fh:
            name = target.get("dataset") or next(iter(fh))
            if name not in fh:
                raise ValueError(f"{path.name!r} has no dataset {name!r} (found {list(fh)}).")
            F = fh[name][()]
    if F.ndim != 2:
        raise ValueError(f"Feature file {path.name!r} must be 2-D (n_images, n_features), got shape {F.shape}.")
    if ids.max() >= F.shape[0]:
        raise ValueError(f"Feature file {path.name!r} has {F.shape[0]} rows but image id {int(ids.max())} "
                         "is needed (rows are 0-based 73k image ids).")
    return np.asarray(F[ids], dtype=np.float64)


# ============================================================================ CV and models
def _splits(cv: dict, info, seed: int):
    from sklearn.model_selection import GroupKFold

    groups = info["nsd_id"].to_numpy()
    if cv["scheme"] == "shared":
        test = info["shared"].to_numpy().astype(bool)
        if not test.any() or test.all():
            raise ValueError(f"cv scheme 'shared' needs shared and non-shared images; present: {int(test.sum())} "
                             f"shared of {len(test)}.")
        return [(np.flatnonzero(~test), np.flatnonzero(test))]
    n_groups = len(np.unique(groups))
    if n_groups < cv["n_splits"]:
        raise ValueError(f"cv n_splits={cv['n_splits']} exceeds the {n_groups} distinct images.")
    return list(GroupKFold(cv["n_splits"], shuffle=True, random_state=seed).split(groups, groups=groups))


def _classifier(m: dict, seed: int):
    from sklearn.linear_model import LogisticRegression, RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    if m["name"] == "ridge":
        return make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=np.asarray(m["alphas"], float)))
    if m["name"] == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=m["C"], max_iter=m["max_iter"]))
    if m["name"] == "svm":
        return make_pipeline(StandardScaler(), LinearSVC(C=m["C"], max_iter=m["max_iter"], random_state=seed))
    raise ValueError(m["name"])


def _decode_labels(X, y, splits, m, masker, seed):
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    if len(np.unique(y)) < 2:
        raise ValueError(f"the target has a single class ({np.unique(y)}); nothing to decode.")
    fold_bacc, fold_acc = [], []
    for tr, te in splits:
        if len(np.unique(y[tr])) < 2:
            raise ValueError("a training fold holds a single class.")
        if m["name"] == "decoder":
            pred = _nilearn_decoder(X[tr], y[tr], X[te], m, masker, seed)
        else:
            pred = _classifier(m, seed).fit(X[tr], y[tr]).predict(X[te])
        fold_bacc.append(balanced_accuracy_score(y[te], pred))
        fold_acc.append(accuracy_score(y[te], pred))
    values, counts = np.unique(y, return_counts=True)
    extra = {"accuracy": float(np.mean(fold_acc)), "fold_accuracy": fold_acc,
             "chance_balanced_accuracy": 1.0 / len(values),
             "majority_accuracy": float(counts.max() / counts.sum()),
             "class_counts": {str(v): int(c) for v, c in zip(values, counts)}}
    return "balanced_accuracy", float(np.mean(fold_bacc)), fold_bacc, extra


def _nilearn_decoder(Xtr, ytr, Xte, m, masker, seed):
    from nilearn.decoding import Decoder
    from sklearn.model_selection import StratifiedKFold

    dec = Decoder(estimator=m["estimator"], mask=masker.mask_img_ if hasattr(masker, "mask_img_") else None,
                  cv=StratifiedKFold(m["inner_cv"], shuffle=True, random_state=seed),
                  screening_percentile=m["screening_percentile"], standardize="zscore_sample",
                  scoring="accuracy")
    dec.fit(masker.inverse_transform(Xtr), ytr)
    return dec.predict(masker.inverse_transform(Xte))


def identification_accuracy(pred: np.ndarray, true: np.ndarray) -> float:
    """Top-1 identification among test images: the true image has the highest correlation.

    Parameters
    ----------
    pred, true : ndarray, shape (n_images, n_features)
    """
    P = pred - pred.mean(1, keepdims=True)
    T = true - true.mean(1, keepdims=True)
    P /= np.linalg.norm(P, axis=1, keepdims=True) + 1e-12
    T /= np.linalg.norm(T, axis=1, keepdims=True) + 1e-12
    C = P @ T.T
    return float(np.mean(C.argmax(axis=1) == np.arange(len(C))))


def _regress(Xin, Yout, splits, m, groups, seed, dtype="float64"):
    """Cross-validated ridge Xin -> Yout with one alpha per output; returns out-of-fold predictions."""
    from sklearn.model_selection import GroupKFold

    from ..models.ridge import FastRidgeCV

    P = np.full(Yout.shape, np.nan)
    alphas = []
    for tr, te in splits:
        inner = GroupKFold(m["inner_cv"], shuffle=True, random_state=seed)
        r = FastRidgeCV(m["alphas"], cv=inner, alpha_per_target=True, dtype=dtype)
        r.fit(Xin[tr], Yout[tr], groups=groups[tr])
        P[te] = r.predict(Xin[te])
        alphas.append(r.alpha_)
    return P, np.median(np.asarray(alphas), axis=0)


def _per_target_scores(Y, P):
    Yc, Pc = Y - Y.mean(0), P - P.mean(0)
    r = (Yc * Pc).sum(0) / np.sqrt((Yc ** 2).sum(0) * (Pc ** 2).sum(0) + 1e-30)
    r2 = 1 - ((Y - P) ** 2).sum(0) / np.maximum((Yc ** 2).sum(0), 1e-30)
    return r, r2


def _decode_features(X, F, splits, m, info, seed):
    groups = info["nsd_id"].to_numpy()
    fold_r, fold_id = [], []
    P_all, alphas = _regress(X.astype(np.float64), F, splits, m, groups, seed)
    r_all, r2_all = [], []
    for _tr, te in splits:
        r, r2 = _per_target_scores(F[te], P_all[te])
        r_all.append(r)
        r2_all.append(r2)
        fold_r.append(float(np.mean(r)))
        fold_id.append(identification_accuracy(P_all[te], F[te]))
    r_t, r2_t = np.mean(r_all, 0), np.mean(r2_all, 0)
    extra = {"pearson_r_per_target": r_t.tolist(), "r2_per_target": r2_t.tolist(),
             "mean_r2": float(r2_t.mean()), "identification_accuracy": float(np.mean(fold_id)),
             "fold_identification_accuracy": fold_id,
             "chance_identification": float(np.mean([1.0 / len(te) for _, te in splits])),
             "alpha_per_target": alphas.tolist()}
    return "pearson_r", float(np.mean(fold_r)), fold_r, extra


def noise_ceiling(ncsnr: np.ndarray, n_reps: np.ndarray) -> np.ndarray:
    """NSD noise ceiling (fraction of variance) per voxel for test data averaged over ``n_reps`` trials.

    ``NC = ncsnr^2 / (ncsnr^2 + mean(1 / n_reps))`` (Allen et al. 2022, in fraction rather than percent).

    Parameters
    ----------
    ncsnr : ndarray, shape (n_voxels,)
    n_reps : ndarray, shape (n_test_images,)
    """
    s2 = np.asarray(ncsnr, float) ** 2
    return s2 / (s2 + np.mean(1.0 / np.asarray(n_reps, float)))


def _encode(X, F, splits, m, info, ncsnr, seed):
    groups = info["nsd_id"].to_numpy()
    P, alphas = _regress(F, X.astype(np.float64), splits, m, groups, seed)
    test = np.concatenate([te for _, te in splits])
    r, r2 = _per_target_scores(X[test].astype(np.float64), P[test])
    n_reps = info["n_reps"].to_numpy()[test] if "n_reps" in info else np.ones(len(test))
    nc = noise_ceiling(ncsnr, n_reps) if ncsnr is not None else None
    extra = {"median_r": float(np.median(r)), "mean_r2": float(np.mean(r2)),
             "median_alpha": float(np.median(alphas)), "n_test": int(len(test))}
    if nc is not None:
        ok = nc > 0.01
        extra["median_noise_ceiling"] = float(np.median(nc))
        extra["median_r2_over_nc"] = float(np.median(np.clip(r2[ok], 0, None) / nc[ok])) if ok.any() else None
    fold_r = [float(np.median(_per_target_scores(X[te].astype(np.float64), P[te])[0])) for _, te in splits]
    return "median_pearson_r", float(np.median(r)), fold_r, extra, {"r": r, "r2": r2, "nc": nc}


# ============================================================================ the job
def _cells(job):
    """Every (kind, roi, target_spec, target_name, model) of one subject."""
    out = []
    for kind in job["analyses"]:
        for roi in job["rois"]:
            for t in job["targets"]:
                names = t["categories"] if t["type"] == "coco" else [t.get("name") or t.get("column")]
                for name in names:
                    for m in job["models"]:
                        if kind == "encoding":
                            if t["type"] != "features" or m["name"] != "ridge":
                                continue
                        elif t["type"] == "features" and m["name"] not in FEATURE_MODELS:
                            logger.info("model %r skipped for feature target %r (regression uses ridge)",
                                        m["name"], name)
                            continue
                        out.append((kind, roi, t, name, m))
    return out


def _key(job, subject, kind, roi, t, name, m, dataset):
    model_params = {k: v for k, v in m.items() if k != "name"}
    cv = job["cv"]
    ev = "shared" if cv["scheme"] == "shared" else f"group-kfold-{cv['n_splits']}"
    ds = job["dataset"]
    params = {"roi": roi, "target": name, "target_type": t["type"],
              "target_source": t.get("path"), "preprocessing": job["preprocessing"],
              "space": ds.get("space"), "betas": ds.get("betas")}
    row = dict(kind=KINDS[kind], dataset=dataset, subject=subject, session=None, pipeline=m["name"],
               pipeline_hash=stable_hash(model_params, length=12), evaluation=ev, seed=job["seed"],
               params=params)
    return make_key(**row), row


def decode_fmri(job, base_dir=None, *, backend=None, n_jobs=None, scheduler=None,
                connect_timeout=10.0, retries=0, cells_per_task=None):
    """Run a decoding/encoding job; return its rows as a DataFrame.

    The job is split into tasks per (subject, ROI): by default one task holds every
    target and model cell of that ROI still to compute; with ``cells_per_task`` the
    cells are cut into blocks (a (subject, ROI, target block) task each), which the
    scheduler keeps on one worker where it can, so the ROI's betas are still loaded once
    per worker (the last ROI loaded stays cached there). Tasks run through
    :func:`neurosig.parallel.run_tasks` and only this process writes the results store,
    each cell the moment its task returns.

    Parameters
    ----------
    job : dict | str | Path
        The job (see the module docstring) or a YAML file holding it.
    base_dir : str | Path | None
        Folder for relative paths of a dict job (default: current folder).
    backend : {"sequential", "processes", "dask"} | None
        Where tasks run (default: ``"sequential"``, or ``"processes"`` when ``n_jobs != 1``).
        Workers read the dataset and write maps under ``output_dir`` themselves: on a
        cluster both must be on a shared filesystem.
    n_jobs : int | None
        Local worker processes, or single-threaded workers of a local Dask cluster.
    scheduler : str | None
        Address of a running Dask scheduler (``"tcp://host:8786"``); implies ``"dask"``.
    connect_timeout : float
        Seconds to wait for ``scheduler`` before a :class:`ConnectionError`.
    retries : int
        Times a task that raises (or whose worker dies, on Dask) is retried before its
        cells are stored with the error.
    cells_per_task : int | None
        Cells (target x model x analysis) per task; None: all cells of a (subject, ROI).
        Smaller blocks spread one ROI with many targets over several workers.

    Returns
    -------
    rows : pandas.DataFrame
        One row per cell of this job (including failed cells, ``status == "error"``).
    """
    from ..parallel import resolve_backend, run_tasks

    job = load_job(job, base_dir)
    backend = resolve_backend(backend, n_jobs, scheduler, connect_timeout)
    retries = check_positive_int("retries", retries, minimum=0)
    if cells_per_task is not None:
        cells_per_task = check_positive_int("cells_per_task", cells_per_task)
    store = ResultStore(job["results"])
    out_dir = Path(job["output_dir"]) if job["output_dir"] else None
    keys = []
    try:
        tasks = []
        for subject in job["subjects"]:
            tasks.extend(_subject_tasks(job, subject, store, out_dir, keys, cells_per_task))

        run_tasks(_roi_task, tasks, backend=backend, n_jobs=n_jobs, on_result=lambda res: _store(store, res),
                  retries=retries, verbose=job["verbose"], desc="decode-fmri (subject, ROI, cells)",
                  scheduler=scheduler, connect_timeout=connect_timeout, group=_roi_group)
        df = _job_rows(store, keys)
        if out_dir is not None and job["plots"] and len(df):
            _plot_scores(df, out_dir)
        if out_dir is not None and len(df):
            with atomic_path(out_dir / "scores.csv") as tmp:
                _table(df).to_csv(tmp, index=False)
    finally:
        store.close()
        _SOURCE.clear()
        _ROI_DATA.clear()
    return df


def _store(store, res) -> None:
    """Commit the records of a finished task, or its cells with the task's error."""
    if res.ok:
        for rec in res.value:
            store.add(rec)
        return
    err = res.error.strip().splitlines()[-1]
    logger.warning("task (subject %s, ROI %s) failed: %s", res.task["subject"], res.task["roi"], err)
    for _, key, row in res.task["items"]:
        store.add(dict(row, row_key=key, samples=None, channels=None, n_sessions=None,
                       status="error", error=err, time=None))


def _job_rows(store, keys: list):
    """The rows of the job's cells (``keys``), in the job's order."""
    df = store.to_frame(include_errors=True)
    order = {k: i for i, k in enumerate(keys)}
    df = df[df.row_key.isin(order)]
    return df.iloc[np.argsort(df.row_key.map(order).to_numpy(), kind="stable")].reset_index(drop=True)


def _roi_group(task: dict) -> tuple:
    """Tasks of one (subject, ROI) go to one worker or process where they can (its ROI cache)."""
    return (str(task["subject"]), str(task["roi"]))


#: the data source of the last (dataset, subject) used in this process (one per worker)
_SOURCE = WorkerCache(1)
#: the last ROI loaded in this process: (X, info, masker)
_ROI_DATA = WorkerCache(1)


def _make_source(ds, subject, verbose):
    return _NSDSource(ds, subject, verbose) if ds["type"] == "nsd" else _NiftiSource(ds, verbose)


def _get_source(ds, subject, rois, verbose):
    """The data source, built once per (dataset, subject) in a worker; ROIs prepared then."""
    def build():
        _ROI_DATA.clear()
        src = _make_source(ds, subject, verbose)
        src.check_rois(rois)
        return src

    return _SOURCE.get(stable_hash([ds, subject, list(rois)]), build)


def _load_roi(src, job, subject, roi):
    """``src.load(roi, preprocessing)``, kept for the next task of the same ROI on this worker."""
    key = stable_hash([job["dataset"], subject, roi, job["preprocessing"]])
    return _ROI_DATA.get(key, lambda: src.load(roi, job["preprocessing"]))


def _subject_tasks(job, subject, store, out_dir, keys, cells_per_task=None):
    """The (subject, ROI[, block of cells]) tasks of one subject, for the cells not in ``store`` yet."""
    ds = job["dataset"]
    cells = _cells(job)
    dataset = "NSD" if ds["type"] == "nsd" else Path(ds["bold"]).name
    todo = []
    for c in cells:
        key, row = _key(job, subject, *c, dataset)
        keys.append(key)
        if not store.has(key):
            todo.append((c, key, row))
    logger.info("subject %s: %d cells, %d to run (%d already in %s)", subject, len(cells), len(todo),
                len(cells) - len(todo), job["results"])
    if not todo:
        return []
    if ds["type"] == "nsd":  # ROI names checked here, before any work (the data are read by the tasks)
        from ..datasets.nsd import NSD

        nsd = NSD(ds["root"], subject, space=ds["space"], betas=ds["betas"], cache_dir=ds.get("cache_dir"),
                  verbose=False)
        for r in job["rois"]:
            nsd.roi_mask(r)
        if nsd.surface:
            for r in job["rois"]:  # label files vs betas vertex counts
                nsd._check_shape(nsd.sessions[0], r)
            if out_dir is not None and job["maps"] and job["plots"]:  # the plotting mesh must fit the betas
                from ..datasets.nsd_surface import check_mesh

                check_mesh(surface_mesh(ds["mesh"], ds["mesh_surface"]), nsd.n_vertices, ds["mesh"])
    else:
        for r in job["rois"]:
            if r != "mask":
                check_path("rois", r, kind="file")
    by_roi = {}
    for c, key, row in todo:
        by_roi.setdefault(c[1], []).append((c, key, row))
    size = cells_per_task or max(len(items) for items in by_roi.values())
    return [{"job": job, "subject": subject, "roi": roi, "items": items[i:i + size], "out_dir": out_dir}
            for roi, items in by_roi.items() for i in range(0, len(items), size)]


def _roi_task(task):
    """Every pending cell of one (subject, ROI): load the betas once, return one record per cell."""
    job, subject, roi, out_dir = task["job"], task["subject"], task["roi"], task["out_dir"]
    src = _get_source(job["dataset"], subject, job["rois"], job["verbose"])
    t0 = time.perf_counter()
    try:
        X, info, masker = _load_roi(src, job, subject, roi)
        splits = _splits(job["cv"], info, job["seed"])
        load_error = None
    except Exception as exc:  # recorded for every cell of this ROI; the job goes on
        load_error = f"{type(exc).__name__}: {exc}"
    load_s = time.perf_counter() - t0
    label_cache, feat_cache = {}, {}
    records = []
    for (kind, _, t, name, m), key, row in task["items"]:
        t1 = time.perf_counter()
        y = maps = None
        rec = dict(row, row_key=key, samples=None, channels=None, n_sessions=src.n_sessions)
        try:
            if load_error:
                raise RuntimeError(f"loading ROI {roi!r} failed: {load_error}")
            rec.update(samples=int(X.shape[0]), channels=int(X.shape[1]))
            if t["type"] in ("coco", "events"):
                tid = stable_hash(t)
                if tid not in label_cache:
                    label_cache[tid] = src.labels(t, info)
                y = label_cache[tid][name]
                metric, score, folds, extra = _decode_labels(X, y, splits, m, masker, job["seed"])
                maps = None
            else:
                if name not in feat_cache:
                    feat_cache[name] = _load_features(t, info["nsd_id"].to_numpy())
                F = feat_cache[name]
                if kind == "decoding":
                    metric, score, folds, extra = _decode_features(X, F, splits, m, info, job["seed"])
                    maps = None
                else:
                    try:
                        nc = src.ncsnr(roi)
                    except FileNotFoundError:
                        nc = None
                    metric, score, folds, extra, maps = _encode(X, F, splits, m, info, nc, job["seed"])
            extra["load_s"] = load_s
            if out_dir is not None and job["maps"]:
                extra["maps"] = _write_maps(out_dir, subject, kind, roi, name, m, masker, X, info, t,
                                            y, maps, job)
            rec.update(metric=metric, score=score, fold_scores=folds, extra=extra,
                       time=time.perf_counter() - t1, status="ok", error=None)
        except Exception as exc:  # a failing cell is stored with its error; the job goes on
            logger.warning("cell failed (subject %s, %s, ROI %s, target %s, model %s): %s",
                           subject, kind, roi, name, m["name"], exc)
            rec.update(status="error", error=f"{type(exc).__name__}: {exc}", time=time.perf_counter() - t1)
        records.append(rec)
    return records
