"""The layout of an RSA grid job file and its checks before any work (see :mod:`~neurosig.evaluation.rsa.grid_job`).

One :class:`~neurosig._schema.Schema` class per brain and model ``kind`` (documented in
``docs/schemas.md``); job names and model names are refused when they could leave the
output folder, torch modules outside the allow-list, missing files and unusable results
paths are refused before any work.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, MinLen
from pydantic import Field

from ..._schema import Schema, fail, validate
from .comparison import METHODS
from .job import OutputSchema, output_paths
from .rdm import METHODS as RDM_METHODS

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_WHAT = "RSA job file"
Quantile = Annotated[float, Ge(0), Le(1)]
PosFloat = Annotated[float, Gt(0)]
PosInt = Annotated[int, Ge(1)]
Distance = Literal[RDM_METHODS]
_SOURCE_NAME = "Names the source in layer names, rows and errors (default: its kind)."


class EegBrainSchema(Schema):
    kind: Literal["eeg"] = Field(description="EEG epochs; every time window is one region.")
    name: str = Field(None, description=_SOURCE_NAME)
    epochs: str = Field(None, description=".npz with X (n_trials, n_channels, n_times), y, sfreq (or dataset + paradigm).")
    dataset: str = Field(None, description="neurosig dataset name (with paradigm, instead of epochs).")
    dataset_params: dict[str, Any] = Field(None, description="Keyword arguments of the dataset.")
    paradigm: str = Field(None, description="Paradigm name (with dataset).")
    paradigm_params: dict[str, Any] = Field(None, description="Keyword arguments of the paradigm.")
    subjects: list[int | str] = Field(None, description="Subjects of the dataset (default: all).")
    data_path: str = Field(None, description="Local data folder of the dataset.")
    conditions: list[int | str] = Field(None, description="Conditions kept (default: all; at least 3).")
    window: PosFloat = Field(0.1, description="Window length in seconds (one region per window).")
    step: PosFloat = Field(None, description="Step between windows in seconds (default: window).")
    distance: Distance = Field("crossnobis", description="Distance between condition patterns.")
    folds: Literal["auto", "run", "split"] = Field("auto", description="Crossnobis folds: runs or interleaved splits.")
    noise: Literal["none", "full", "diag", "shrinkage_eye", "shrinkage_diag"] = Field(
        "shrinkage_diag", description="Noise precision of the residuals (none: no whitening).")
    run_labels: dict[int | str, int | str] = Field(None, description="Run -> label; splits each class by run label.")
    unsplit: list[int | str] = Field(None, description="Classes not split by run_labels.")


class NsdBrainSchema(Schema):
    kind: Literal["nsd"] = Field(description="NSD ROI betas; every ROI is one region.")
    name: str = Field(None, description=_SOURCE_NAME)
    root: str = Field(description="NSD folder (nsddata/, nsddata_betas/).")
    subjects: list[Annotated[int, Ge(1), Le(8)]] = Field([1], description="NSD subjects 1..8.")
    space: Literal["func1pt8mm", "func1mm", "fsaverage"] = Field("func1pt8mm", description="NSD space.")
    betas: Literal["betas_assumehrf", "betas_fithrf", "betas_fithrf_GLMdenoise_RR"] = Field(
        "betas_fithrf_GLMdenoise_RR", description="NSD beta version.")
    rois: Annotated[list[str], MinLen(1)] = Field(None, description="ROIs ('atlas:label', e.g. 'prf-visualrois:hV4').")
    images: str = Field("shared", description="'shared': the images every subject saw.")
    min_reps: PosInt = Field(2, description="Repetitions per image needed (crossnobis folds).")
    max_images: PosInt = Field(None, description="At most this many images (default: all).")
    distance: Distance = Field("crossnobis", description="Distance between condition patterns.")
    cache_dir: str = Field(None, description="Folder of float32 ROI caches.")


class FmriBrainSchema(Schema):
    kind: Literal["fmri"] = Field(description="BOLD runs -> single-trial betas; every ROI is one region.")
    name: str = Field(None, description=_SOURCE_NAME)
    subjects: Annotated[list[dict[str, Any]], MinLen(1)] = Field(
        None, description="Subjects: {id: ..., runs: [{bold: ..., events: ...}]}.")
    rois: dict[str, str] = Field(None, description="ROI name -> mask NIfTI (default: the brain mask).")
    mask: str = Field(None, description="Brain mask NIfTI (default: computed).")
    t_r: PosFloat = Field(None, description="Repetition time in seconds (default: from the header).")
    distance: Distance = Field("crossnobis", description="Distance between condition patterns.")


class RdmsBrainSchema(Schema):
    kind: Literal["rdms"] = Field(description="Precomputed brain RDMs.")
    name: str = Field(None, description=_SOURCE_NAME)
    path: str = Field(description=".npz with rdms and optional subjects, regions, conditions.")


class EncoderModelSchema(Schema):
    kind: Literal["encoder"] = Field(description="A neurosig encoder fed the EEG epochs.")
    name: str = Field(None, description=_SOURCE_NAME)
    distance: Distance = Field(None, description="Distance between layer patterns (default: the job's).")
    checkpoint: str = Field(None, description="Encoder checkpoint (default: built from arch and size).")
    arch: str = Field("bimamba", description="Encoder architecture (without checkpoint).")
    size: str = Field("nano", description="Encoder size (without checkpoint).")
    seed: Annotated[int, Ge(0)] = Field(0, description="Seed of an encoder built from arch and size.")
    settings: dict[str, Any] = Field(None, description="Keyword arguments of the encoder.")
    layers: Annotated[list[str], MinLen(1)] = Field(description="Layer names or patterns (model.named_modules()).")
    batch_size: PosInt = Field(32, description="Stimuli per forward pass.")


class TorchModelSchema(Schema):
    kind: Literal["torch"] = Field(description="An allow-listed torch module fed stimuli.")
    name: str = Field(None, description=_SOURCE_NAME)
    distance: Distance = Field(None, description="Distance between layer patterns (default: the job's).")
    module: str = Field(description="'package.module:Class' from the allow-list.")
    params: dict[str, Any] = Field(None, description="Keyword arguments of the module.")
    weights: str = Field(None, description="State dict file (safe formats only).")
    layers: Annotated[list[str], MinLen(1)] = Field(description="Layer names or patterns (model.named_modules()).")
    stimuli: str = Field(None, description=".npy of model inputs (default: the brain source's stimuli).")
    rows: Literal["conditions", "ids"] = Field("conditions", description="Rows of stimuli: per condition or by id.")
    batch_size: PosInt = Field(32, description="Stimuli per forward pass.")


class TfmModelSchema(Schema):
    kind: Literal["tfm"] = Field(description="TFM token embeddings of the EEG epochs.")
    name: str = Field(None, description=_SOURCE_NAME)
    distance: Distance = Field(None, description="Distance between layer patterns (default: the job's).")
    tokenizer: str = Field(None, description="Fitted TFM tokenizer file (default: fitted here).")
    settings: dict[str, Any] = Field(None, description="Keyword arguments of the tokenizer.")
    pool: str = Field("mean", description="Pooling of the token embeddings.")


class FeaturesModelSchema(Schema):
    kind: Literal["features"] = Field(description="A feature array (one row per condition or id).")
    name: str = Field(None, description=_SOURCE_NAME)
    distance: Distance = Field(None, description="Distance between layer patterns (default: the job's).")
    path: str = Field(description=".npy (n_conditions, n_features) or .npz with features and conditions.")
    rows: Literal["conditions", "ids"] = Field("conditions", description="Rows: per condition or by id.")


class TransformsSchema(Schema):
    variants: list[Literal["geotopological", "geodesic"]] = Field([], description="tRSA variants (raw always).")
    lows: list[Quantile] = Field([], description="Lower quantiles of the tRSA settings.")
    ups: list[Quantile] = Field([], description="Upper quantiles of the tRSA settings.")


class GridBootstrapSchema(Schema):
    n: PosInt = Field(200, description="Bootstrap samples (over subjects).")
    seed: Annotated[int, Ge(0)] = Field(0, description="Seed of the bootstrap.")


class GridJobSchema(Schema):
    name: str = Field(description="Names the run and the output files (letters, digits, '.', '_', '-').")
    brain: dict[str, Any] = Field(description="One brain source (`kind` picks the section).")
    models: Annotated[list[dict[str, Any]], MinLen(1)] = Field(
        description="Model sources (`kind` picks the section); names unique.")
    distance: Distance = Field("correlation", description="Distance between layer patterns (model RDMs).")
    method: Literal[METHODS] = Field("spearman", description="Comparison of RDMs.")
    transforms: TransformsSchema = Field(TransformsSchema(), description="See RSA grid transforms.")
    bootstrap: GridBootstrapSchema = Field(GridBootstrapSchema(), description="See RSA grid bootstrap.")
    output: OutputSchema = Field(OutputSchema(), description="See RSA job output.")


BRAIN_SCHEMAS: dict[str, type[Schema]] = {"eeg": EegBrainSchema, "nsd": NsdBrainSchema, "fmri": FmriBrainSchema,
                                          "rdms": RdmsBrainSchema}
MODEL_SCHEMAS: dict[str, type[Schema]] = {"encoder": EncoderModelSchema, "torch": TorchModelSchema,
                                          "tfm": TfmModelSchema, "features": FeaturesModelSchema}
_BRAIN_FILES = ("epochs", "path", "mask")
_MODEL_FILES = ("path", "checkpoint", "weights", "stimuli", "tokenizer")


def check_name(value: Any, where: str, source: str | Path | None = None) -> str:
    """Refuse names that could leave the output folder once used in a file name.

    Parameters
    ----------
    value : object
        The name.
    where : str
        Its key path in the job (``"name"``, ``"models[0].name"``).
    source : path-like or None
        The job file, named in the error.

    Returns
    -------
    value : str
        The name.
    """
    if not isinstance(value, str) or not _NAME.match(value) or ".." in value:
        raise fail(_WHAT, source, where, "1-100 letters, digits, '.', '_' and '-' (starting with a letter or "
                   "digit, no '..')", value)
    return value


def _section(kinds: dict, d: Any, key: str, source) -> Schema:
    """Validate ``d`` against the schema that its ``kind`` picks."""
    allowed = ", ".join(repr(k) for k in kinds)
    if not isinstance(d, dict):
        raise fail(_WHAT, source, key, f"mappings with 'kind' ({allowed})", d)
    if d.get("kind") not in kinds:
        raise fail(_WHAT, source, f"{key}.kind", allowed, d.get("kind"))
    return validate(kinds[d["kind"]], d, what=_WHAT, source=source, root=key)


def validate_grid(cfg: dict, base: str | Path | None = None, source: str | Path | None = None) -> dict:
    """Check a grid job (see the module docstring) before any work.

    Parameters
    ----------
    cfg : dict
        The job.
    base : path-like or None
        Folder that relative paths start from; when given, the files the sources read
        must exist and the results path must be usable.
    source : path-like or None
        The job file, named in every error (None for a mapping given from Python).

    Returns
    -------
    cfg : dict
        ``cfg`` itself.
    """
    from .job import check_file
    from .model_sources import ALLOWED_MODULES

    job = validate(GridJobSchema, cfg, what=_WHAT, source=source, top="job")
    check_name(job.name, "name", source)
    brain = _section(BRAIN_SCHEMAS, job.brain, "brain", source)
    if brain.name is not None:
        check_name(brain.name, "brain.name", source)
    if brain.kind == "eeg" and brain.epochs is None and (brain.dataset is None or brain.paradigm is None):
        raise fail(_WHAT, source, "brain.epochs", "a .npz file, or both 'dataset' and 'paradigm'", None)
    if brain.kind == "nsd" and brain.rois is None:
        raise fail(_WHAT, source, "brain.rois", "a non-empty list of ROIs ('atlas:label')", None)
    if brain.kind == "fmri" and brain.subjects is None:
        raise fail(_WHAT, source, "brain.subjects", "a non-empty list of {id, runs}", None)
    names = []
    for i, m in enumerate(job.models):
        where = f"models[{i}]"
        model = _section(MODEL_SCHEMAS, m, where, source)
        names.append(check_name(model.name if model.name is not None else model.kind, f"{where}.name", source))
        if model.kind == "torch" and model.module not in ALLOWED_MODULES:
            raise fail(_WHAT, source, f"{where}.module", str(sorted(ALLOWED_MODULES)), model.module)
    if len(set(names)) != len(names):
        raise fail(_WHAT, source, "models", "model sources with unique names", names)
    if base is not None:
        base = Path(base)
        for k in _BRAIN_FILES:
            if isinstance(job.brain.get(k), str):
                check_file(base, job.brain[k], f"brain.{k}", source)
        for i, m in enumerate(job.models):
            for k in _MODEL_FILES:
                if isinstance(m.get(k), str):
                    check_file(base, m[k], f"models[{i}].{k}", source)
        check_output(cfg, base, source)
    return cfg


def check_output(cfg: dict, base: str | Path, source: str | Path | None = None) -> Path:
    """Refuse a results path that cannot be a results store, before any work and without writing.

    Parameters
    ----------
    cfg : dict
        A validated job (its ``output`` section is read).
    base : path-like
        Folder that relative paths start from.
    source : path-like or None
        The job file, named in the error.

    Returns
    -------
    results : Path
        The results store's path.
    """
    results = output_paths(cfg, base)[1]
    check_results_path(results, source, given=cfg.get("output", {}).get("results", str(results)))


def check_results_path(path: Path, source: str | Path | None = None, given: Any = None) -> None:
    """Refuse a results path that cannot be a results store, before any work and without writing.

    An existing file must be a neurosig results store (checked read-only); a new one
    needs its nearest existing folder to be a writable folder.

    Parameters
    ----------
    path : path-like
        The results store.
    source : path-like or None
        The job file, named in the error.
    given : object
        The value the job gives for ``output.results`` (default: ``path``).
    """
    import os
    import sqlite3

    from ..results import NotAResultStoreError, inspect_store

    path = Path(path)
    given = str(path) if given is None else given
    allowed = "a neurosig results store (SQLite) or a new file in a writable folder"
    if path.exists():
        try:
            inspect_store(path)  # read-only: a neurosig store of a version this neurosig reads
        except (NotAResultStoreError, sqlite3.Error, OSError) as exc:
            raise fail(_WHAT, source, "output.results", allowed, given, hint=f"({exc})") from None
        return
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise fail(_WHAT, source, "output.results", allowed, given,
                   hint=f"({str(parent)!r} is not a writable folder.)")
