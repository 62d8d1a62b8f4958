"""The batch fMRI job file: its schema and :func:`load_job`, which checks it before any work.

A job is a dict or a YAML file (see :mod:`neurosig.evaluation.fmri` for an example). The
layout is declared by the :class:`~neurosig._schema.Schema` classes below (documented in
``docs/schemas.md``): unknown keys are refused, required ones named, values checked
(e.g. ridge ``alphas`` must be positive), paths resolved against the job file's folder,
and model parameters completed with their defaults.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, MinLen
from pydantic import Field

from .._schema import Schema, fail, validate
from .._validation import check_path

KINDS = {"decoding": "fmri-decoding", "encoding": "fmri-encoding"}
LABEL_MODELS = ("ridge", "logistic", "svm", "decoder")
FEATURE_MODELS = ("ridge",)
_WHAT = "decode-fmri job file"
PosInt = Annotated[int, Ge(1)]
PosFloat = Annotated[float, Gt(0)]


class NsdDatasetSchema(Schema):
    type: Literal["nsd"]
    root: str = Field(description="Folder holding nsddata/, nsddata_betas/, nsddata_stimuli/.")
    space: Literal["func1pt8mm", "func1mm", "fsaverage"] = Field("func1pt8mm", description="NSD space.")
    betas: Literal["betas_assumehrf", "betas_fithrf", "betas_fithrf_GLMdenoise_RR"] = Field(
        "betas_fithrf_GLMdenoise_RR", description="NSD beta version.")
    cache_dir: str | None = Field(None, description="Folder of float32 ROI caches.")
    mesh: str | None = Field(None, description="Surface spaces: folder of lh./rh. meshes or 'fsaverage5'.")
    mesh_surface: str | None = Field(None, description="Surface spaces: mesh surface (default 'inflated').")


class NiftiDatasetSchema(Schema):
    type: Literal["nifti"]
    bold: str = Field(description="4-D BOLD NIfTI file.")
    events: str = Field(description="BIDS events.tsv of the run.")
    mask: str | None = Field(None, description="Brain mask NIfTI (default: computed).")
    t_r: PosFloat | None = Field(None, description="Repetition time in seconds (default: from the header).")
    noise_model: Literal["ar1", "ols"] = Field("ar1", description="First-level GLM noise model.")


class CocoTargetSchema(Schema):
    type: Literal["coco"]
    categories: Annotated[list[str], MinLen(1)] = Field(description="COCO category names (NSD only).")


class FeaturesTargetSchema(Schema):
    type: Literal["features"]
    path: str = Field(description=".npy / .h5 / .hdf5 feature matrix, rows = 0-based 73k image ids.")
    name: str | None = Field(None, description="Target name (default: the file stem).")
    dataset: str | None = Field(None, description="HDF5 dataset name.")


class EventsTargetSchema(Schema):
    type: Literal["events"]
    column: str = Field("trial_type", description="events.tsv column with the labels (nifti only).")


class RidgeModelSchema(Schema):
    name: Literal["ridge"]
    alphas: Annotated[list[PosFloat], MinLen(1)] = Field(
        [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0], description="Ridge penalties searched.")
    inner_cv: Annotated[int, Ge(2)] = Field(3, description="Inner folds of the penalty search.")


class LogisticModelSchema(Schema):
    name: Literal["logistic"]
    C: PosFloat = Field(1.0, description="Inverse regularisation strength.")
    max_iter: PosInt = Field(1000, description="Solver iterations.")


class SvmModelSchema(Schema):
    name: Literal["svm"]
    C: PosFloat = Field(1.0, description="Inverse regularisation strength.")
    max_iter: PosInt = Field(5000, description="Solver iterations.")


class DecoderModelSchema(Schema):
    name: Literal["decoder"]
    estimator: Literal["svc", "svc_l1", "svc_l2", "logistic", "logistic_l1", "logistic_l2", "ridge",
                       "ridge_classifier", "dummy_classifier"] = Field("svc", description="nilearn Decoder estimator.")
    screening_percentile: Annotated[float, Gt(0), Le(100)] = Field(100, description="Voxels kept (%).")
    inner_cv: Annotated[int, Ge(2)] = Field(3, description="Inner folds.")


class CvSchema(Schema):
    scheme: Literal["group-kfold", "shared"] = Field(
        "group-kfold", description="Folds grouped by image, or the shared NSD images as test set (NSD only).")
    n_splits: Annotated[int, Ge(2)] = Field(5, description="Number of folds.")


class PrepSchema(Schema):
    zscore: bool = Field(True, description="z-score each voxel within session.")
    average_repetitions: bool = Field(True, description="Average the repetitions of an image.")
    sessions: list[PosInt] | None = Field(None, description="Sessions to load (default: all).")


class FmriJobSchema(Schema):
    name: str = Field("fmri-job", description="Job name.")
    dataset: dict[str, Any] = Field(description="The dataset (see the dataset sections; `type` picks one).")
    subjects: Annotated[list[int], MinLen(1)] | None = Field(None, description="NSD subjects 1..8 (default [1]).")
    rois: Annotated[list[str], MinLen(1)] = Field(description="ROIs ('atlas:label'; nifti: mask files or 'mask').")
    targets: Annotated[list[dict[str, Any]], MinLen(1)] = Field(description="Targets (`type` picks the section).")
    models: Annotated[list[str | dict[str, Any]], MinLen(1)] | str | dict[str, Any] = Field(
        description="Model names or mappings with `name` and parameters (see the model sections).")
    analyses: list[Literal["decoding", "encoding"]] | Literal["decoding", "encoding"] = Field(
        ["decoding"], description="Decoding (brain -> target) and/or encoding (features -> brain).")
    cv: CvSchema = Field(CvSchema(), description="Cross-validation (see decode-fmri cv).")
    preprocessing: PrepSchema = Field(PrepSchema(), description="See decode-fmri preprocessing.")
    results: str = Field(description="SQLite results store.")
    output_dir: str | None = Field(None, description="Folder of CSV, plots and maps.")
    plots: bool | None = Field(None, description="Write plots (default: when output_dir is set).")
    maps: bool | None = Field(None, description="Write weight maps (default: when output_dir is set).")
    seed: Annotated[int, Ge(0)] = Field(0, description="Seed of folds and estimators.")
    verbose: bool = Field(True, description="Progress output.")


_DATASETS = {"nsd": NsdDatasetSchema, "nifti": NiftiDatasetSchema}
_TARGETS = {"coco": CocoTargetSchema, "features": FeaturesTargetSchema, "events": EventsTargetSchema}
_MODELS = {"ridge": RidgeModelSchema, "logistic": LogisticModelSchema, "svm": SvmModelSchema,
           "decoder": DecoderModelSchema}
#: model name -> allowed parameters (with defaults)
MODELS = {name: {k: f.get_default(call_default_factory=True) for k, f in m.model_fields.items() if k != "name"}
          for name, m in _MODELS.items()}


def _section(kinds: dict, field: str, d: Any, key: str, source) -> dict:
    """Validate ``d`` against the schema that its ``field`` (type / name) picks."""
    if not isinstance(d, dict):
        raise fail(_WHAT, source, key, f"a mapping with '{field}' ({list(kinds)})", d)
    if d.get(field) not in kinds:
        raise fail(_WHAT, source, f"{key}.{field}", ", ".join(repr(k) for k in kinds), d.get(field))
    return validate(kinds[d[field]], d, what=_WHAT, source=source, root=key).model_dump(exclude_none=True)


def load_job(job, base_dir=None, source=None) -> dict:
    """Validate a job (dict or YAML path) and return it with defaults filled in; no work is done.

    Relative paths in the job are resolved against the YAML file's folder (or ``base_dir``).

    Parameters
    ----------
    job : dict | str | Path
        The job, or its YAML file.
    base_dir : str | Path | None
        Folder relative paths are resolved against (default: the file's folder, else the
        working directory).
    source : str | Path | None
        The file named in error messages when ``job`` is a dict read from it.

    Returns
    -------
    job : dict
        The checked job with defaults filled in and paths resolved.
    """
    if isinstance(job, (str, Path)):
        from .._io import read_yaml

        path = check_path("job", job, kind="file")
        job, source = read_yaml(path, "job", _WHAT), path
        base_dir = path.parent if base_dir is None else base_dir
    job = copy.deepcopy(job)
    validate(FmriJobSchema, job, what=_WHAT, source=source, top="job")
    base = Path(base_dir) if base_dir is not None else Path.cwd()

    def rel(p):
        return str(p) if Path(p).expanduser().is_absolute() else str(base / p)

    ds = job["dataset"] = _section(_DATASETS, "type", job["dataset"], "dataset", source)
    for k in ("root", "bold", "events", "mask", "cache_dir"):
        if ds.get(k) is not None:
            ds[k] = rel(ds[k])
    if ds["type"] == "nsd":
        _check_nsd(job, ds, rel, source)
    else:
        job["subjects"] = [1]
        for k in ("bold", "events"):
            check_path(f"dataset.{k}", ds[k], kind="file")
        job["rois"] = [r if r == "mask" else rel(r) for r in job["rois"]]
    job["targets"] = [_target(i, t, ds, rel, source) for i, t in enumerate(job["targets"])]
    job["models"] = [_model(i, m, ds, source) for i, m in
                     enumerate(job["models"] if isinstance(job["models"], list) else [job["models"]])]
    an = job.get("analyses", ["decoding"])
    job["analyses"] = [an] if isinstance(an, str) else an
    job["cv"] = CvSchema.model_validate(job.get("cv", {})).model_dump()
    if job["cv"]["scheme"] == "shared" and ds["type"] != "nsd":
        raise fail(_WHAT, source, "cv.scheme", "'group-kfold' for a nifti dataset ('shared' uses the shared "
                   "NSD images as test set)", "shared")
    job["preprocessing"] = PrepSchema.model_validate(job.get("preprocessing", {})).model_dump()
    job["results"] = rel(job["results"])
    job["output_dir"] = rel(job["output_dir"]) if job.get("output_dir") else None
    job.setdefault("name", "fmri-job")
    for k in ("plots", "maps"):
        if job.get(k) is None:
            job[k] = job["output_dir"] is not None
    job.setdefault("seed", 0)
    job.setdefault("verbose", True)
    if (job["plots"] or job["maps"]) and job["output_dir"] is None:
        raise fail(_WHAT, source, "output_dir", "a folder when 'plots' or 'maps' is true", None)
    return job


def _check_nsd(job: dict, ds: dict, rel, source) -> None:
    from ..datasets.nsd import SURFACE_SPACES
    from ..datasets.nsd_surface import FSAVERAGE_SURF

    if ds["space"] in SURFACE_SPACES:
        mesh = ds.get("mesh") or str(Path(ds["root"]) / FSAVERAGE_SURF)
        ds["mesh"] = mesh if mesh == "fsaverage5" else rel(mesh)
        ds.setdefault("mesh_surface", "inflated")
    elif ds.get("mesh") is not None or ds.get("mesh_surface") is not None:
        key = "dataset.mesh" if ds.get("mesh") is not None else "dataset.mesh_surface"
        raise fail(_WHAT, source, key, f"null with dataset.space {ds['space']!r} (meshes are used only with "
                   f"a surface space {list(SURFACE_SPACES)})", ds.get("mesh") or ds.get("mesh_surface"))
    subjects = job["subjects"] if job.get("subjects") is not None else [1]
    for i, s in enumerate(subjects):
        if not 1 <= s <= 8:
            raise fail(_WHAT, source, f"subjects[{i}]", "NSD subjects 1, 2, ..., 8", s)
    job["subjects"] = subjects


def _target(i: int, t: Any, ds: dict, rel, source) -> dict:
    t = _section(_TARGETS, "type", t, f"targets[{i}]", source)
    if t["type"] == "coco" and ds["type"] != "nsd":
        raise fail(_WHAT, source, f"targets[{i}].type", "'features' or 'events' for a nifti dataset "
                   "('coco' needs an NSD dataset)", "coco")
    if t["type"] == "events" and ds["type"] != "nifti":
        raise fail(_WHAT, source, f"targets[{i}].type", "'coco' or 'features' for an NSD dataset "
                   "('events' needs a nifti dataset)", "events")
    if t["type"] == "features":
        t["path"] = rel(t["path"])
        if Path(t["path"]).suffix not in (".npy", ".h5", ".hdf5"):
            raise fail(_WHAT, source, f"targets[{i}].path", "files ending in .npy, .h5 or .hdf5", t["path"])
        check_path(f"targets[{i}].path", t["path"], kind="file")
        t.setdefault("name", Path(t["path"]).stem)
    return t


def _model(i: int, m: Any, ds: dict, source) -> dict:
    m = _section(_MODELS, "name", {"name": m} if isinstance(m, str) else m, f"models[{i}]", source)
    if m["name"] == "decoder" and ds.get("mesh") is not None:
        raise fail(_WHAT, source, f"models[{i}].name", "'ridge', 'logistic' or 'svm' on a surface space",
                   "decoder", hint=f"nilearn's Decoder works on volume images; dataset.space is {ds['space']!r}.")
    return m


def check_job_data(job: dict, source=None) -> list[str]:
    """Open what a validated job names, without decoding: returns one line per input checked.

    The NSD root must be a folder; a nifti dataset's BOLD image must be 4-D (header only)
    and its events file must hold the label column; feature files must be 2-D, non-empty
    and finite. Raises a schema error naming the file and key otherwise.

    Parameters
    ----------
    job : dict
        A job checked by :func:`load_job`.
    source : str | Path | None
        The job file, named in error messages.

    Returns
    -------
    opened : list of str
        One line per input opened.
    """
    import numpy as np

    ds, said = job["dataset"], []
    if ds["type"] == "nsd":
        check_path("dataset.root", ds["root"], kind="dir")
        said.append(f"NSD root {ds['root']}")
    else:
        import nibabel as nib
        import pandas as pd

        shape = nib.load(ds["bold"]).shape
        if len(shape) != 4:
            raise fail(_WHAT, source, "dataset.bold", "4-D BOLD images (x, y, z, time)", f"shape {shape}")
        columns = list(pd.read_csv(ds["events"], sep="\t", nrows=1).columns)
        for i, t in enumerate(job["targets"]):
            if t["type"] == "events" and t["column"] not in columns:
                raise fail(_WHAT, source, f"targets[{i}].column", f"columns of {ds['events']!r} ({columns})",
                           t["column"])
        said.append(f"BOLD {shape}, events columns {columns}")
    for i, t in enumerate(job["targets"]):
        if t["type"] != "features":
            continue
        F = _open_features(t)
        key = f"targets[{i}].path"
        if F.ndim != 2 or 0 in F.shape:
            raise fail(_WHAT, source, key, "non-empty 2-D feature arrays (n_images, n_features)",
                       f"shape {F.shape}")
        bad = ~np.isfinite(np.asarray(F, dtype=np.float64)).all(axis=1)
        if bad.any():
            raise fail(_WHAT, source, key, "finite feature values",
                       f"NaN or inf in {int(bad.sum())} row(s), first {np.flatnonzero(bad)[:5].tolist()}")
        said.append(f"features {t['name']!r} {F.shape}")
    return said


def _open_features(t: dict):
    import numpy as np

    if t["path"].endswith(".npy"):
        return np.load(t["path"], mmap_mode="r", allow_pickle=False)
    import h5py

    with h5py.File(t["path"], "r") as fh:
        name = t.get("dataset") or next(iter(fh))
        return fh[name][()]
