"""The batch fMRI job file: its schema and :func:`load_job`, which checks it before any work.

A job is a dict or a YAML file (see :mod:`neurosig.evaluation.fmri` for an example);
unknown keys are refused, required ones named, paths resolved against the job file's
folder, and model parameters completed with their defaults.
"""
from __future__ import annotations

import copy
from pathlib import Path

from .._validation import check_option, check_path, check_positive_int

KINDS = {"decoding": "fmri-decoding", "encoding": "fmri-encoding"}
#: model name -> allowed parameters (with defaults)
MODELS = {
    "ridge": {"alphas": [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0], "inner_cv": 3},
    "logistic": {"C": 1.0, "max_iter": 1000},
    "svm": {"C": 1.0, "max_iter": 5000},
    "decoder": {"estimator": "svc", "screening_percentile": 100, "inner_cv": 3},
}
LABEL_MODELS = ("ridge", "logistic", "svm", "decoder")
FEATURE_MODELS = ("ridge",)
_TOP = {"name": False, "dataset": True, "subjects": False, "rois": True, "targets": True,
        "models": True, "analyses": False, "cv": False, "preprocessing": False, "results": True,
        "output_dir": False, "plots": False, "maps": False, "seed": False, "verbose": False}
_DATASETS = {"nsd": {"type": True, "root": True, "space": False, "betas": False, "cache_dir": False,
                     "mesh": False, "mesh_surface": False},
             "nifti": {"type": True, "bold": True, "events": True, "mask": False, "t_r": False,
                       "noise_model": False}}
_TARGETS = {"coco": {"type": True, "categories": True},
            "features": {"type": True, "path": True, "name": False, "dataset": False},
            "events": {"type": True, "column": False}}
_CV = {"scheme": False, "n_splits": False}
_PREP = {"zscore": False, "average_repetitions": False, "sessions": False}


def _keys(section: str, d, spec: dict) -> dict:
    if not isinstance(d, dict):
        raise ValueError(f"Invalid job file: '{section}' must be a mapping, but got {type(d).__name__} ({d!r:.60}).")
    unknown = sorted(set(d) - set(spec))
    if unknown:
        raise ValueError(f"Invalid job file: unknown key(s) {unknown} in '{section}'. "
                         f"Allowed keys are {sorted(spec)}.")
    missing = [k for k, req in spec.items() if req and k not in d]
    if missing:
        raise ValueError(f"Invalid job file: '{section}' lacks the required key(s) {missing}.")
    return d


def load_job(job, base_dir=None) -> dict:
    """Validate a job (dict or YAML path) and return it with defaults filled in; no work is done.

    Relative paths in the job are resolved against the YAML file's folder (or ``base_dir``).
    """
    if isinstance(job, (str, Path)):
        import yaml

        path = check_path("job", job, kind="file")
        with open(path) as fh:
            job = yaml.safe_load(fh)
        base_dir = path.parent if base_dir is None else base_dir
    job = copy.deepcopy(job)
    _keys("job", job, _TOP)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    def rel(p):
        return str(p) if Path(p).expanduser().is_absolute() else str(base / p)

    ds = job["dataset"]
    if not isinstance(ds, dict):
        raise ValueError(f"Invalid job file: 'dataset' must be a mapping, but got {ds!r:.60}.")
    check_option("dataset.type", ds.get("type"), sorted(_DATASETS))
    _keys("dataset", ds, _DATASETS[ds["type"]])
    for k in ("root", "bold", "events", "mask", "cache_dir"):
        if ds.get(k) is not None:
            ds[k] = rel(ds[k])
    if ds["type"] == "nsd":
        from ..datasets.nsd import BETAS, SPACES, SURFACE_SPACES
        from ..datasets.nsd_surface import FSAVERAGE_SURF

        ds.setdefault("space", "func1pt8mm")
        ds.setdefault("betas", "betas_fithrf_GLMdenoise_RR")
        check_option("dataset.space", ds["space"], SPACES)
        check_option("dataset.betas", ds["betas"], BETAS)
        if ds["space"] in SURFACE_SPACES:
            mesh = ds.get("mesh") or str(Path(ds["root"]) / FSAVERAGE_SURF)
            ds["mesh"] = mesh if mesh == "fsaverage5" else rel(mesh)
            ds.setdefault("mesh_surface", "inflated")
        elif ds.get("mesh") is not None or ds.get("mesh_surface") is not None:
            raise ValueError(f"Invalid job file: 'dataset.mesh' and 'dataset.mesh_surface' are only used with "
                             f"a surface space {list(SURFACE_SPACES)}, but dataset.space is {ds['space']!r}.")
        subjects = job.setdefault("subjects", [1])
        if not isinstance(subjects, list) or not subjects:
            raise ValueError(f"Invalid job file: 'subjects' must be a non-empty list of integers 1..8, got {subjects!r}.")
        for s in subjects:
            check_option("subjects", s, list(range(1, 9)))
    else:
        job["subjects"] = [1]
        for k in ("bold", "events"):
            check_path(f"dataset.{k}", ds[k], kind="file")
    rois = job["rois"]
    if not isinstance(rois, list) or not rois or not all(isinstance(r, str) for r in rois):
        raise ValueError(f"Invalid job file: 'rois' must be a non-empty list of strings, got {rois!r}.")
    if ds["type"] == "nifti":
        job["rois"] = [r if r == "mask" else rel(r) for r in rois]

    targets = job["targets"]
    if not isinstance(targets, list) or not targets:
        raise ValueError(f"Invalid job file: 'targets' must be a non-empty list, got {targets!r}.")
    for i, t in enumerate(targets):
        _keys(f"targets[{i}]", t, {"type": True, **{k: False for s in _TARGETS.values() for k in s}})
        check_option(f"targets[{i}].type", t["type"], sorted(_TARGETS))
        _keys(f"targets[{i}]", t, _TARGETS[t["type"]])
        if t["type"] == "coco":
            if ds["type"] != "nsd":
                raise ValueError(f"Invalid job file: targets[{i}] of type 'coco' needs an NSD dataset.")
            if not isinstance(t["categories"], list) or not t["categories"]:
                raise ValueError(f"Invalid job file: targets[{i}].categories must be a non-empty list of names.")
        elif t["type"] == "features":
            t["path"] = rel(t["path"])
            check_path(f"targets[{i}].path", t["path"], kind="file")
            check_option(f"targets[{i}].path suffix", Path(t["path"]).suffix, (".npy", ".h5", ".hdf5"))
            t.setdefault("name", Path(t["path"]).stem)
        else:
            if ds["type"] != "nifti":
                raise ValueError(f"Invalid job file: targets[{i}] of type 'events' needs a 'nifti' dataset.")
            t.setdefault("column", "trial_type")

    models = []
    for i, m in enumerate(job["models"] if isinstance(job["models"], list) else [job["models"]]):
        m = {"name": m} if isinstance(m, str) else m
        if not isinstance(m, dict) or "name" not in m:
            raise ValueError(f"Invalid job file: models[{i}] must be a name or a mapping with 'name', got {m!r}.")
        check_option(f"models[{i}].name", m["name"], sorted(MODELS))
        _keys(f"models[{i}] ({m['name']})", m, {"name": True, **{k: False for k in MODELS[m["name"]]}})
        models.append({**MODELS[m["name"]], **m})
        if m["name"] == "decoder" and ds.get("mesh") is not None:
            raise ValueError(f"Invalid job file: models[{i}] 'decoder' (nilearn's Decoder) works on volume "
                             f"images; with dataset.space {ds['space']!r} use 'ridge', 'logistic' or 'svm'.")
    job["models"] = models
    an = job.setdefault("analyses", ["decoding"])
    an = [an] if isinstance(an, str) else an
    for a in an:
        check_option("analyses", a, sorted(KINDS))
    job["analyses"] = an
    cv = _keys("cv", job.setdefault("cv", {}), _CV)
    cv.setdefault("scheme", "group-kfold")
    check_option("cv.scheme", cv["scheme"], ("group-kfold", "shared"))
    cv["n_splits"] = check_positive_int("cv.n_splits", cv.get("n_splits", 5), minimum=2)
    if cv["scheme"] == "shared" and ds["type"] != "nsd":
        raise ValueError("Invalid job file: cv.scheme 'shared' (the shared NSD images as test set) needs an NSD dataset.")
    prep = _keys("preprocessing", job.setdefault("preprocessing", {}), _PREP)
    prep.setdefault("zscore", True)
    prep.setdefault("average_repetitions", True)
    prep.setdefault("sessions", None)
    job["results"] = rel(job["results"])
    job["output_dir"] = rel(job["output_dir"]) if job.get("output_dir") else None
    job.setdefault("name", "fmri-job")
    job.setdefault("plots", job["output_dir"] is not None)
    job.setdefault("maps", job["output_dir"] is not None)
    job.setdefault("seed", 0)
    job.setdefault("verbose", True)
    if (job["plots"] or job["maps"]) and job["output_dir"] is None:
        raise ValueError("Invalid job file: 'plots' and 'maps' need an 'output_dir'.")
    return job
