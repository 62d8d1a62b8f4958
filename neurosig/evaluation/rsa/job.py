"""RSA jobs from YAML: compare brain RDMs with model RDMs, write a results table and figures.

Two forms. A job with a ``brain`` section computes the brain RDMs (EEG epochs, NSD
ROI betas, RDM files) and the model RDMs (neurosig encoders, allow-listed torch
modules, TFM token embeddings, feature arrays) itself and compares every model
layer with every region: see :mod:`neurosig.evaluation.rsa.grid_job`. The form
below compares precomputed RDM files.

Schema (unknown keys are refused at every level; everything is checked before work)::

    name: hit-vs-models            # required: names the run and the output files
                                   # (letters, digits, '.', '_', '-')
    data:                          # required: brain RDMs
      path: brain.npz              # .npz or .npy, relative to the YAML file
      key: rdms                    # array in the .npz: (n_rdms, n, n) or (n_rdms, n_pairs)
      subjects_key: subjects       # optional array (n_rdms,): subject of each RDM
    models:                        # required: .npz whose every array is one model RDM (name = key)
      path: models.npz
    method: spearman               # comparison (compare's methods); default spearman
    transform:                     # optional tRSA transform of data and model RDMs
      kind: geotopological         # none | geotopological | geodesic
      low: 0.1                     # quantiles, per RDM unless pooled: true
      up: 0.9
      pooled: false
    bootstrap:                     # optional
      n: 1000                      # bootstrap samples (over subjects)
      seed: 0
    output:
      dir: rsa_out                 # CSV tables and figures
      results: rsa_out/results.sqlite   # SQLite ResultStore (kind "rsa")

The layout is declared by the :class:`~neurosig._schema.Schema` classes below
(documented in ``docs/schemas.md``); :func:`load_config` also checks that the files
exist and that the results path can be a results store, and every error names the
file, the key, what is allowed and what was given.

For ``kind: geodesic`` disconnected pairs get ``n_conditions - 1`` (longer than any
path), so the transformed RDMs can be compared.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from annotated_types import Ge, Le
from pydantic import Field

from ..._io import atomic_path
from ..._logging import get_logger
from ..._schema import Schema, SchemaError, fail, validate
from ...contracts import stable_hash
from .comparison import METHODS

logger = get_logger(__name__)

_WHAT = "RSA job file"
Quantile = Annotated[float, Ge(0), Le(1)]


class MissingFileError(SchemaError, FileNotFoundError):
    """A file named in a job file does not exist (a :class:`~neurosig._schema.SchemaError`)."""


class RdmDataSchema(Schema):
    path: str = Field(description=".npz or .npy file of brain RDMs, relative to the job file.")
    key: str = Field("rdms", description="Array in the .npz: (n_rdms, n, n) or (n_rdms, n_pairs).")
    subjects_key: str = Field(None, description="Optional array (n_rdms,) in the .npz: the subject of each RDM.")


class RdmModelsSchema(Schema):
    path: str = Field(description=".npz whose every array is one model RDM (the key names the model).")


class RdmTransformSchema(Schema):
    kind: Literal["none", "geotopological", "geodesic"] = Field("none", description="tRSA transform of the RDMs.")
    low: Quantile = Field(None, description="Lower quantile (required unless kind is 'none'; <= up).")
    up: Quantile = Field(None, description="Upper quantile (required unless kind is 'none').")
    pooled: bool = Field(False, description="Quantiles over all RDMs together instead of per RDM.")


class BootstrapSchema(Schema):
    n: Annotated[int, Ge(1)] = Field(1000, description="Bootstrap samples (over subjects).")
    seed: Annotated[int, Ge(0)] = Field(0, description="Seed of the bootstrap.")


class OutputSchema(Schema):
    dir: str = Field("rsa_out", description="Folder of the CSV tables and figures, relative to the job file.")
    results: str = Field(None, description="SQLite results store (kind 'rsa'); default '<dir>/results.sqlite'.")


def output_paths(cfg: dict, base: str | Path) -> tuple[Path, Path]:
    """Output folder and results store of a job (its ``output`` section, or the defaults).

    Parameters
    ----------
    cfg : dict
        A job (RDM-file or grid job).
    base : path-like
        Folder that relative paths start from.

    Returns
    -------
    out_dir : Path
        Folder of the CSV tables and figures (default ``rsa_out``).
    results : Path
        SQLite results store (default ``<out_dir>/results.sqlite``).
    """
    out = cfg.get("output", {})
    out_dir = Path(base) / out.get("dir", "rsa_out")
    return out_dir, Path(base) / out["results"] if "results" in out else out_dir / "results.sqlite"


class RdmJobSchema(Schema):
    name: str = Field(description="Names the run and the output files (letters, digits, '.', '_', '-').")
    data: RdmDataSchema = Field(description="Brain RDMs (see RSA job data).")
    models: RdmModelsSchema = Field(description="Model RDMs (see RSA job models).")
    method: Literal[METHODS] = Field("spearman", description="Comparison of RDMs.")
    transform: RdmTransformSchema = Field(RdmTransformSchema(), description="See RSA job transform.")
    bootstrap: BootstrapSchema = Field(BootstrapSchema(), description="See RSA job bootstrap.")
    output: OutputSchema = Field(OutputSchema(), description="See RSA job output.")


def load_config(path: str | Path) -> tuple[dict, Path]:
    """Read and validate a YAML RSA job, with the files it names, before any work.

    Parameters
    ----------
    path : path-like
        The YAML job file (an RDM-file job, or a grid job with a ``brain`` section).

    Returns
    -------
    cfg : dict
        The job as read.
    base : Path
        The folder that relative paths in the job start from.
    """
    from ..._io import read_yaml

    p = Path(path)
    cfg = read_yaml(p, "config", _WHAT, error=SchemaError, mapping=False)
    validate_config(cfg, base=p.parent, source=p)
    return cfg, p.parent


def validate_config(cfg: Any, base: str | Path | None = None, source: str | Path | None = None) -> dict:
    """Check an RSA job (see the module docstring) before any work.

    A config with a ``brain`` section is a grid job (:mod:`~neurosig.evaluation.rsa.grid_job`).

    Parameters
    ----------
    cfg : dict
        The job.
    base : path-like or None
        Folder that relative paths start from; when given, the files the job reads must
        exist and the results path must be usable.
    source : path-like or None
        The job file, named in every error (None for a mapping given from Python).

    Returns
    -------
    cfg : dict
        ``cfg`` itself.

    Raises
    ------
    neurosig._schema.SchemaError
        Naming the file, the key, what is allowed and what was given
        (:class:`MissingFileError`, also a ``FileNotFoundError``, for a missing file).
    """
    from .grid_schema import check_name, check_output, validate_grid

    if isinstance(cfg, dict) and "brain" in cfg:
        return validate_grid(cfg, base=base, source=source)
    job = validate(RdmJobSchema, cfg, what=_WHAT, source=source, top="job")
    check_name(job.name, "name", source)
    tr = job.transform
    if tr.kind != "none":
        for k in ("low", "up"):
            if getattr(tr, k) is None:
                raise fail(_WHAT, source, f"transform.{k}", f"a number in [0, 1] (required for kind {tr.kind!r})",
                           None)
        if tr.low > tr.up:
            raise fail(_WHAT, source, "transform.low", f"numbers <= transform.up ({tr.up})", tr.low)
    if base is not None:
        base = Path(base)
        for key, path in (("data.path", job.data.path), ("models.path", job.models.path)):
            check_file(base, path, key, source)
        check_output(cfg, base, source)
    return cfg


def check_file(base: Path, path: str, key: str, source: str | Path | None, what: str = _WHAT) -> Path:
    """Refuse a file named in a job that does not exist.

    Parameters
    ----------
    base : Path
        Folder that ``path`` is relative to.
    path : str
        The file as the job names it.
    key : str
        Its key path in the job (``"data.path"``).
    source : path-like or None
        The job file.
    what : str
        What the job file is.

    Returns
    -------
    full : Path
        ``base / path``.
    """
    full = Path(base) / path
    if not full.is_file():
        raise fail(what, source, key, "an existing file (relative to the job file's folder)", path,
                   MissingFileError, hint=f"{str(full)!r} does not exist.")
    return full


def _load_array(path: Path, key: str | None, what: str) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"The '{what}' file {str(path)!r} does not exist.")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as z:
        if key not in z.files:
            raise ValueError(f"The '{what}' file {str(path)!r} has no array {key!r}; it has {z.files}.")
        return z[key]


def run_config(cfg: dict, base: Path | str = ".", n_jobs: int | None = None, backend: str | None = None,
               scheduler: str | None = None, verbose: bool = True, source: str | Path | None = None,
               retries: int = 0, connect_timeout: float = 10.0):
    """Run an RSA job: model comparison with bootstrap CIs and noise ceiling.

    The job is validated first (:func:`validate_config`, with its files and results path).

    Parameters
    ----------
    cfg : dict
        The job (see the module docstring).
    base : path-like
        Folder that relative paths in ``cfg`` start from.
    n_jobs, backend, scheduler : int or None, str or None, str or None
        Where the bootstrap samples are computed (blocks of samples as tasks on local
        processes or a Dask cluster; identical results, see
        :func:`neurosig.evaluation.rsa.inference.eval_bootstrap_rdm`).
    verbose : bool
        Progress bars (grid jobs).
    source : path-like or None
        The job file, named in errors.
    retries, connect_timeout : int, float
        Retries of a failed task and seconds to wait for the Dask scheduler (see
        :func:`neurosig.parallel.run_tasks`).

    Returns
    -------
    table : pandas.DataFrame or GridResult
        One row per model: score (mean similarity), ci_low, ci_high, nc_lower, nc_upper;
        a :class:`~neurosig.evaluation.rsa.grid_job.GridResult` for a job with a ``brain``
        section.
    """
    if isinstance(cfg, dict) and "brain" in cfg:
        from .grid_job import run_grid

        return run_grid(cfg, base, n_jobs=n_jobs, backend=backend, scheduler=scheduler, retries=retries,
                        verbose=verbose, source=source, connect_timeout=connect_timeout)
    from ..results import ResultStore, make_key

    validate_config(cfg, base=base, source=source)
    base = Path(base)
    name = cfg["name"]
    method = cfg.get("method", "spearman")
    out_dir, results = output_paths(cfg, base)
    names, dv, mv, subjects = _load_rdms(cfg, base)
    tr = cfg.get("transform", {})
    kind = tr.get("kind", "none")
    dv, mv = _transformed(dv, tr), _transformed(mv, tr)
    boot = cfg.get("bootstrap", {})
    n_boot, seed = boot.get("n", 1000), boot.get("seed", 0)
    params = {"method": method, "transform": tr, "n_boot": n_boot,
              "data_hash": stable_hash(np.round(dv, 12).tolist()), "models_hash": stable_hash(np.round(mv, 12).tolist())}
    keys = [make_key("rsa", dataset=name, pipeline=m, evaluation="bootstrap-subjects", seed=seed, params=params)
            for m in names]
    if results.exists():
        with ResultStore(results) as store:
            if all(store.has(k) for k in keys):
                logger.info("rsa %s: all %d results already in %s; nothing to compute", name, len(keys), results)
                df = store.to_frame(kind="rsa")
                df = df[df["row_key"].isin(keys)].set_index("row_key").loc[keys].reset_index()
                table = _table_from_rows(df, name, method, kind, dv.shape[0], n_boot)
                _write_outputs(out_dir, name, names, table, dv)  # heals outputs lost in a crash
                return table
    t0 = time.time()
    table, nc = _evaluate(mv, dv, names, subjects, cfg, n_jobs=n_jobs, backend=backend, scheduler=scheduler,
                          retries=retries, connect_timeout=connect_timeout)
    elapsed = time.time() - t0
    with ResultStore(results) as store:
        for _i, row in table.iterrows():
            store.add({"kind": "rsa", "dataset": name, "pipeline": row["model"], "evaluation": "bootstrap-subjects",
                       "metric": method, "score": float(row["score"]), "time": elapsed, "seed": seed,
                       "samples": int(dv.shape[0]), "params": params,
                       "extra": {"ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
                                 "boot_mean": float(row["boot_mean"]),
                                 "noise_ceiling": [float(row["nc_lower"]), float(row["nc_upper"])],
                                 "output_dir": str(out_dir.resolve()),
                                 "bootstrap_noise_ceiling_mean": [float(v) for v in nc]}})
    _write_outputs(out_dir, name, names, table, dv)
    logger.info("rsa %s: %d models, results in %s and %s", name, len(names), results, out_dir)
    return table


def _load_rdms(cfg: dict, base: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray | None]:
    """Model names, data RDMs (n_rdms, n_pairs), model RDMs (n_models, n_pairs) and subjects of a job."""
    from .rdm import as_vectors, n_cond_from_length

    d = cfg["data"]
    data = _load_array(base / d["path"], d.get("key", "rdms"), "data.path")
    subjects = None
    if "subjects_key" in d:
        subjects = _load_array(base / d["path"], d["subjects_key"], "data.path")
    mpath = base / cfg["models"]["path"]
    with np.load(mpath, allow_pickle=False) as z:
        names = list(z.files)
        models = [z[k] for k in names]
    if not names:
        raise ValueError(f"The 'models.path' file {str(mpath)!r} holds no arrays.")
    dv = as_vectors(data, "data")
    mv = np.vstack([as_vectors(m, f"models[{n}]") for n, m in zip(names, models)])
    if mv.shape[1] != dv.shape[1]:
        raise ValueError(f"The model RDMs have {n_cond_from_length(mv.shape[1])} conditions but the data RDMs "
                         f"have {n_cond_from_length(dv.shape[1])}.")
    if subjects is not None and np.asarray(subjects).shape != (dv.shape[0],):
        raise ValueError(f"'data.subjects_key' must give one subject per RDM ({dv.shape[0]}).")
    return names, dv, mv, subjects


def _transformed(vec: np.ndarray, tr: dict) -> np.ndarray:
    """Condensed RDMs (n, n_pairs) after the job's ``transform`` section (unchanged for kind 'none')."""
    from .rdm import n_cond_from_length
    from .topology import geodesic_transform, geotopological_transform

    kind = tr.get("kind", "none")
    if kind == "none":
        return vec
    vec = geotopological_transform(vec, tr["low"], tr["up"], pooled=tr.get("pooled", False))
    if kind == "geodesic":
        vec = geodesic_transform(vec, disconnected=float(n_cond_from_length(vec.shape[1]) - 1))
    return vec


def _evaluate(mv: np.ndarray, dv: np.ndarray, names: list[str], subjects: Any, cfg: dict, **where):
    """The comparison table (one row per model) and the bootstrap's mean noise ceiling (lower, upper).

    ``where`` (n_jobs, backend, scheduler, retries, connect_timeout) says where the bootstrap
    samples are computed.
    """
    import pandas as pd

    from .inference import eval_bootstrap_rdm, eval_fixed

    name, method = cfg["name"], cfg.get("method", "spearman")
    boot = cfg.get("bootstrap", {})
    n_boot, seed = boot.get("n", 1000), boot.get("seed", 0)
    res = eval_bootstrap_rdm(mv, dv, method, n_boot=n_boot, groups=subjects, seed=seed, **where)
    score = np.nanmean(res.evaluations, axis=0)
    ci = res.ci()
    nc = np.nanmean(res.noise_ceiling, axis=1) if res.noise_ceiling.ndim == 2 else res.noise_ceiling
    fixed = eval_fixed(mv, dv, method, groups=subjects)
    table = pd.DataFrame({"name": name, "model": names, "method": method,
                          "transform": cfg.get("transform", {}).get("kind", "none"),
                          "score": fixed["mean"], "boot_mean": score, "ci_low": ci[0], "ci_high": ci[1],
                          "nc_lower": fixed["noise_ceiling"][0], "nc_upper": fixed["noise_ceiling"][1],
                          "n_rdms": dv.shape[0], "n_boot": n_boot})
    return table, nc


def _table_from_rows(df, name: str, method: str, kind: str, n_rdms: int, n_boot: int):
    """The comparison table rebuilt from stored rows (same columns as a fresh run)."""
    import pandas as pd

    ex = df["extra"]
    return pd.DataFrame({"name": name, "model": df["pipeline"].tolist(), "method": method, "transform": kind,
                         "score": df["score"].astype(float).tolist(),
                         "boot_mean": [e["boot_mean"] for e in ex], "ci_low": [e["ci_low"] for e in ex],
                         "ci_high": [e["ci_high"] for e in ex], "nc_lower": [e["noise_ceiling"][0] for e in ex],
                         "nc_upper": [e["noise_ceiling"][1] for e in ex], "n_rdms": n_rdms, "n_boot": n_boot})


def _write_outputs(out_dir: Path, name: str, names: list[str], table, dv: np.ndarray) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / f"{name}_comparison.csv") as tmp:
        table.to_csv(tmp, index=False)
    _figures(out_dir, name, names, table, dv)


def _figures(out_dir: Path, name: str, names: list[str], table, dv: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import plot_comparison_bars, plot_mds, plot_rdm

    ax = plot_comparison_bars(names, table["score"], np.vstack([table["ci_low"], table["ci_high"]]),
                              (table["nc_lower"].iloc[0], table["nc_upper"].iloc[0]), title=name)
    ax.figure.tight_layout()
    with atomic_path(out_dir / f"{name}_comparison.png") as tmp:
        ax.figure.savefig(tmp, dpi=110, format="png")
    plt.close(ax.figure)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    mean = dv.mean(axis=0)
    plot_rdm(mean, ax=axes[0], title="mean data RDM", rank=True)
    plot_mds(mean, ax=axes[1], title="MDS of the mean data RDM")
    fig.tight_layout()
    with atomic_path(out_dir / f"{name}_rdm.png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
