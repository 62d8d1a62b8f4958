"""RSA jobs with a brain source and model sources: the layer x region grid (``neurosig rsa``).

Schema (unknown keys refused; every source checked before any work)::

    name: eeg-vs-models            # letters, digits, '.', '_', '-' (names output files)
    brain:                         # one brain source (see brain_sources)
      kind: eeg                    # eeg | nsd | fmri | rdms
      epochs: epochs.npz           # or dataset: PhysionetMI + paradigm: MotorImagery
      window: 0.1                  # s; every window is one region
      distance: crossnobis
    models:                        # model sources (see model_sources)
      - {kind: encoder, name: mamba, checkpoint: mamba.pt, layers: ["mamba_blocks.*"]}
      - {kind: features, name: truth, path: truth.npy}
    distance: correlation          # distance between layer patterns (model RDMs); a model
                                   # source may set its own ``distance``
    method: spearman               # comparison of RDMs
    transforms: {variants: [geotopological, geodesic], lows: [0.0, 0.1], ups: [0.5, 0.9]}
    bootstrap: {n: 200, seed: 0}
    output: {dir: out, results: out/results.sqlite}

The layout is declared by the :class:`~neurosig._schema.Schema` classes below (one per
brain and model ``kind``, documented in ``docs/schemas.md``); job names and model names
are refused when they could leave the output folder, torch modules outside the
allow-list, missing files and unusable results paths are refused before any work.

Outputs: one ``rsa`` row per (setting, region, layer) cell (evaluation ``grid``), per
(setting, region) best layer (``best-layer``) and per setting region identification
(``region-identification``); ``<name>_grid.csv``, ``<name>_best_layer.csv``,
``<name>_identification.csv`` and the figures in ``output.dir``; the brain and model
RDMs are cached in ``<name>_rdms.npz`` so a rerun resumes without recomputing them.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Literal

import numpy as np
from annotated_types import Ge, Gt, Le, MinLen
from pydantic import Field

from ..._io import atomic_path
from ..._logging import get_logger
from ..._schema import Schema, fail, validate
from ...contracts import stable_hash
from .comparison import METHODS
from .job import OutputSchema
from .rdm import METHODS as RDM_METHODS

logger = get_logger(__name__)

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
    out = cfg.get("output", {})
    results = Path(base) / out["results"] if "results" in out else Path(base) / out.get("dir", "rsa_out") / \
        "results.sqlite"
    check_results_path(results, source, given=out.get("results", str(results)))
    return results


@dataclass
class GridResult:
    """Tables of a grid job: ``cells`` (setting, region, layer), ``best`` (best layer per
    setting and region), ``identification`` (per setting) and the written ``figures``."""

    cells: Any
    best: Any
    identification: Any
    figures: list = field(default_factory=list)

    def table(self, setting: str = "raw"):
        """Layer x region similarity for one setting.

        Parameters
        ----------
        setting : str
            A setting label (``"raw"``, ``"geotopological [0.1, 0.9]"``).

        Returns
        -------
        table : pandas.DataFrame
            Scores, shape (n_layers, n_regions), in job order.
        """
        c = self.cells[self.cells["setting"] == setting]
        return c.pivot(index="layer", columns="region", values="score").reindex(
            index=list(dict.fromkeys(c["layer"])), columns=list(dict.fromkeys(c["region"])))


def compute_rdms(cfg: dict, base: Path, verbose: bool = True) -> dict:
    """Brain RDMs and model RDMs of a validated grid job (the expensive, cached part).

    Parameters
    ----------
    cfg : dict
        A validated grid job.
    base : Path
        Folder that relative paths start from.
    verbose : bool
        Progress bars.

    Returns
    -------
    d : dict
        ``brain_rdms`` (n_rdms, n_pairs), ``subjects`` and ``regions`` (n_rdms,),
        ``region_order`` (n_regions,), ``conditions`` (n_conditions,), ``layers``
        (n_layers,) and ``model_rdms`` (n_layers, n_pairs).
    """
    from .brain_sources import load_brain
    from .model_sources import model_patterns, preflight
    from .rdm import calc_rdm

    for m in cfg["models"]:  # model files, allow-list and layer names before any brain work
        preflight(m, base)
    brain = load_brain(cfg["brain"], base)
    layers, rdms = [], []
    for m in cfg["models"]:
        pats = model_patterns(m, base, brain.conditions, brain.stimuli, brain.stimulus_conditions, brain.sfreq,
                              verbose=verbose)
        dist = m.get("distance", cfg.get("distance", "correlation"))
        for k, p in pats.items():
            layers.append(k)
            rdms.append(calc_rdm(p, dist, squareform=False).ravel())
    return {"brain_rdms": brain.rdms, "subjects": brain.subjects, "regions": brain.regions,
            "region_order": np.array(brain.region_order), "conditions": np.asarray(brain.conditions).astype(str),
            "layers": np.array(layers), "model_rdms": np.vstack(rdms)}


def _fingerprints(cfg: dict, base: Path) -> list:
    """(path, size, mtime) of the files a job reads, so a changed file invalidates the RDM cache."""
    files = [cfg["brain"].get(k) for k in ("epochs", "path", "mask")]
    files += list((cfg["brain"].get("rois") or {}).values()) if isinstance(cfg["brain"].get("rois"), dict) else []
    for s in cfg["brain"].get("subjects") or []:
        if isinstance(s, dict):
            files += [f for r in s.get("runs", []) for f in r.values()]
    for m in cfg["models"]:
        files += [m.get(k) for k in ("path", "checkpoint", "weights", "stimuli", "tokenizer")]
    out = []
    for f in files:
        if isinstance(f, str) and (base / f).is_file():
            st = (base / f).stat()
            out.append([f, st.st_size, st.st_mtime_ns])
    return out


def _cached_rdms(cfg: dict, base: Path, out_dir: Path, verbose: bool) -> dict:
    key = stable_hash({"brain": cfg["brain"], "models": cfg["models"], "distance": cfg.get("distance"),
                       "files": _fingerprints(cfg, base)})
    path = out_dir / f"{cfg['name']}_rdms.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) == key:
                logger.info("rsa %s: brain and model RDMs read from %s", cfg["name"], path)
                return {k: z[k] for k in z.files if k != "key"}
    d = compute_rdms(cfg, base, verbose)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, key=np.array(key), **d)
    return d


def _task_keys(task: dict, name: str, seed: int, make_key) -> list[str]:
    base = {"setting": task["setting"], "method": task["method"], "n_boot": task["n_boot"]}
    if task["type"] == "identify":
        p = {**base, "data_hash": stable_hash(np.round(task["data"], 10).tolist())}
        return [make_key("rsa", dataset=name, pipeline="region-identification", evaluation="loso", seed=seed,
                         params=p)]
    p = {**base, "region": task["region"], "data_hash": stable_hash(np.round(task["data"], 10).tolist())}
    keys = [make_key("rsa", dataset=name, pipeline=lay, evaluation="grid", seed=seed,
                     params={**p, "model_hash": stable_hash(np.round(m, 10).tolist())})
            for lay, m in zip(task["layers"], task["models"])]
    keys.append(make_key("rsa", dataset=name, pipeline="best-layer", evaluation="grid", seed=seed,
                         params={**p, "models_hash": stable_hash(np.round(task["models"], 10).tolist())}))
    return keys


def _rows(task: dict, keys: list[str], res: dict, name: str, seed: int, elapsed: float) -> list[dict]:
    from .grid import setting_label

    label = setting_label(task["setting"])
    common = {"kind": "rsa", "dataset": name, "seed": seed, "metric": task["method"], "time": elapsed}
    if task["type"] == "identify":
        return [{**common, "row_key": keys[0], "pipeline": "region-identification", "evaluation": "loso",
                 "score": res["accuracy"], "samples": res["n_test"],
                 "params": {"setting": task["setting"], "method": task["method"], "n_boot": task["n_boot"]},
                 "extra": {"setting": label, "ci_low": res["ci"][0], "ci_high": res["ci"][1],
                           "chance": res["chance"], "degenerate": res["degenerate"]}}]
    rows = []
    p = {"setting": task["setting"], "region": task["region"], "method": task["method"], "n_boot": task["n_boot"]}
    for i, lay in enumerate(task["layers"]):
        rows.append({**common, "row_key": keys[i], "pipeline": lay, "evaluation": "grid", "score": res["score"][i],
                     "samples": len(task["data"]), "params": p,
                     "extra": {"setting": label, "region": task["region"], "ci_low": res["ci_low"][i],
                               "ci_high": res["ci_high"][i], "noise_ceiling": list(res["nc"]),
                               "degenerate": res["degenerate"], "degenerate_share": res["degenerate_share"],
                               "degenerate_layer": bool(res["degenerate_layers"][i]),
                               "per_subject": res["per_subject"][i] if res["per_subject"] else []}})
    best = None if res["best"] is None else task["layers"][res["best"]]
    best_score = np.nan if res["best"] is None else res["score"][res["best"]]
    rows.append({**common, "row_key": keys[-1], "pipeline": "best-layer", "evaluation": "grid", "score": best_score,
                 "samples": len(task["data"]), "params": p,
                 "extra": {"setting": label, "region": task["region"], "best_layer": best,
                           "best_frequency": res["best_freq"], "ci_low": res["best_ci"][0],
                           "ci_high": res["best_ci"][1], "noise_ceiling": list(res["nc"]),
                           "degenerate": res["degenerate"]}})
    return rows


def run_grid(cfg: dict, base: Path | str = ".", n_jobs: int | None = None, backend: str | None = None,
             scheduler: str | None = None, retries: int = 0, verbose: bool = True,
             source: str | Path | None = None) -> GridResult:
    """Run a grid job: cached RDMs, missing cells as parallel tasks, tables and figures.

    Parameters
    ----------
    cfg : dict
        A job config (see the module docstring); validated here first.
    base : path-like
        Folder that relative paths in ``cfg`` start from.
    n_jobs, backend, scheduler, retries : see :func:`neurosig.parallel.run_tasks`
        Where the (setting, region) tasks run.
    verbose : bool
        Progress bars.
    source : path-like or None
        The job file, named in errors.

    Returns
    -------
    result : GridResult
        The cells, best-layer and identification tables and the figures written.
    """
    from ...parallel import resolve_backend, run_tasks
    from ..results import ResultStore, make_key
    from .grid import build_tasks, run_task, settings_from

    validate_grid(cfg, base=base, source=source)
    backend = resolve_backend(backend, n_jobs, scheduler)
    base = Path(base)
    name = cfg["name"]
    out = cfg.get("output", {})
    out_dir = base / out.get("dir", "rsa_out")
    results = base / out["results"] if "results" in out else out_dir / "results.sqlite"
    d = _cached_rdms(cfg, base, out_dir, verbose)

    brain = SimpleNamespace(rdms=d["brain_rdms"], subjects=d["subjects"].astype(str),
                            regions=d["regions"].astype(str), region_order=d["region_order"].astype(str).tolist())

    layers = d["layers"].astype(str).tolist()
    boot = cfg.get("bootstrap", {})
    n_boot, seed = int(boot.get("n", 200)), int(boot.get("seed", 0))
    tasks = build_tasks(brain, layers, d["model_rdms"], settings_from(cfg.get("transforms")),
                        cfg.get("method", "spearman"), n_boot, seed)
    keys = [_task_keys(t, name, seed, make_key) for t in tasks]
    with ResultStore(results) as store:
        have = store.keys()
        todo = [i for i, k in enumerate(keys) if not set(k) <= have]
        logger.info("rsa %s: %d of %d tasks to run (%d layers x %d regions)", name, len(todo), len(tasks),
                    len(layers), len(brain.region_order))

        def on_result(res):
            i = todo[res.index]
            if not res.ok:
                return
            for row in _rows(tasks[i], keys[i], res.value, name, seed, res.value.get("_time", 0.0)):
                row["extra"]["output_dir"] = str(out_dir.resolve())  # where the report finds the figures
                store.add(row)

        t0 = time.time()
        if todo:
            failed = [r for r in run_tasks(run_task, [tasks[i] for i in todo], backend=backend, n_jobs=n_jobs,
                                           scheduler=scheduler, on_result=on_result, retries=retries,
                                           verbose=verbose, desc=f"rsa {name}") if not r.ok]
            if failed:
                raise RuntimeError(f"rsa {name}: {len(failed)} task(s) failed; first error: "
                                   f"{failed[0].error.strip().splitlines()[-1]}")
        logger.info("rsa %s: grid done in %.1f s", name, time.time() - t0)
        df = store.to_frame(kind="rsa")
    wanted = {k for ks in keys for k in ks}
    result = _tables(df[df["row_key"].isin(wanted)], layers, brain.region_order)
    result.figures = write_outputs(result, d, out_dir, name)
    return result


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


def _tables(df, layers: list[str], regions: list[str]) -> GridResult:
    import pandas as pd

    ex = pd.json_normalize(df["extra"].tolist()).set_index(df.index) if len(df) else pd.DataFrame(index=df.index)
    g = df[(df["evaluation"] == "grid") & (df["pipeline"] != "best-layer")]
    cells = pd.DataFrame({"setting": ex.loc[g.index, "setting"], "region": ex.loc[g.index, "region"],
                          "layer": g["pipeline"], "score": g["score"].astype(float),
                          "ci_low": ex.loc[g.index, "ci_low"].astype(float),
                          "ci_high": ex.loc[g.index, "ci_high"].astype(float),
                          "nc_lower": [v[0] for v in ex.loc[g.index, "noise_ceiling"]],
                          "nc_upper": [v[1] for v in ex.loc[g.index, "noise_ceiling"]],
                          "degenerate": ex.loc[g.index, "degenerate"].astype(bool)})
    order = {lay: i for i, lay in enumerate(layers)}
    rorder = {r: i for i, r in enumerate(regions)}
    cells = cells.assign(_l=cells["layer"].map(order), _r=cells["region"].map(rorder))
    cells = cells.sort_values(["setting", "_r", "_l"], kind="stable").drop(columns=["_l", "_r"])
    b = df[df["pipeline"] == "best-layer"]
    best = pd.DataFrame({"setting": ex.loc[b.index, "setting"], "region": ex.loc[b.index, "region"],
                         "best_layer": ex.loc[b.index, "best_layer"], "score": b["score"].astype(float),
                         "ci_low": ex.loc[b.index, "ci_low"].astype(float),
                         "ci_high": ex.loc[b.index, "ci_high"].astype(float),
                         "best_frequency": ex.loc[b.index, "best_frequency"].astype(float),
                         "degenerate": ex.loc[b.index, "degenerate"].astype(bool)})
    best = best.assign(_r=best["region"].map(rorder)).sort_values(["setting", "_r"]).drop(columns="_r")
    i = df[df["pipeline"] == "region-identification"]
    ident = pd.DataFrame({"setting": ex.loc[i.index, "setting"], "accuracy": i["score"].astype(float),
                          "ci_low": ex.loc[i.index, "ci_low"].astype(float),
                          "ci_high": ex.loc[i.index, "ci_high"].astype(float),
                          "chance": ex.loc[i.index, "chance"].astype(float),
                          "degenerate": ex.loc[i.index, "degenerate"].astype(bool),
                          "n_test": i["samples"]}) if len(i) else pd.DataFrame(
        columns=["setting", "accuracy", "ci_low", "ci_high", "chance", "degenerate", "n_test"])
    return GridResult(cells.reset_index(drop=True), best.reset_index(drop=True), ident.reset_index(drop=True))


def write_outputs(result: GridResult, d: dict, out_dir: Path, name: str) -> list[Path]:
    """CSV tables and figures, rewritten on every run (so a crash while writing them heals).

    Parameters
    ----------
    result : GridResult
        The tables.
    d : dict
        The RDMs of :func:`compute_rdms`.
    out_dir : Path
        Output folder.
    name : str
        The job's name (starts every file name).

    Returns
    -------
    figures : list of Path
        The figures written.
    """
    import matplotlib

    matplotlib.use("Agg")
    from .grid_plots import plot_heatmap, plot_identification, plot_profiles, plot_rdm_panels

    out_dir.mkdir(parents=True, exist_ok=True)
    for tab, suffix in ((result.cells, "grid"), (result.best, "best_layer"),
                        (result.identification, "identification")):
        with atomic_path(out_dir / f"{name}_{suffix}.csv") as tmp:
            tab.to_csv(tmp, index=False)
    layers = d["layers"].astype(str).tolist()
    regions = d["region_order"].astype(str).tolist()
    raw = result.cells[result.cells["setting"] == "raw"]
    figs = [plot_heatmap(raw, layers, regions, out_dir / f"{name}_heatmap.png", f"{name}: layer x region (raw)"),
            plot_profiles(raw, layers, regions, out_dir / f"{name}_profiles.png", f"{name}: profiles (raw)")]
    br = d["brain_rdms"]
    reg = d["regions"].astype(str)
    brain_means = {r: br[reg == r].mean(axis=0) for r in regions}
    figs.append(plot_rdm_panels(brain_means, dict(zip(layers, d["model_rdms"])), out_dir / f"{name}_rdms.png"))
    if len(result.identification):
        figs.append(plot_identification(result.identification, out_dir / f"{name}_identification.png",
                                        f"{name}: region identification (LOSO)"))
    return figs
