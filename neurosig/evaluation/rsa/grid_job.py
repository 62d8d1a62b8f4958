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

The layout is declared by the :class:`~neurosig._schema.Schema` classes of
:mod:`~neurosig.evaluation.rsa.grid_schema` (one per brain and model ``kind``, documented
in ``docs/schemas.md``, importable from here too); job names and model names
are refused when they could leave the output folder, torch modules outside the
allow-list, missing files and unusable results paths are refused before any work.

Outputs: one ``rsa`` row per (setting, region, layer) cell (evaluation ``grid``), per
(setting, region) best layer (``best-layer``) and per setting region identification
(``region-identification``); ``<name>_grid.csv``, ``<name>_best_layer.csv``,
``<name>_identification.csv`` and the figures in ``output.dir``
(:mod:`~neurosig.evaluation.rsa.grid_outputs`); the brain and model
RDMs are cached in ``<name>_rdms.npz`` so a rerun resumes without recomputing them.
"""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..._io import atomic_path
from ..._logging import get_logger
from ...contracts import stable_hash
from .grid_outputs import GridResult, _tables, write_outputs
from .grid_schema import (  # the job file's layout and checks, importable from here too
    BRAIN_SCHEMAS,
    MODEL_SCHEMAS,
    EegBrainSchema,
    EncoderModelSchema,
    FeaturesModelSchema,
    FmriBrainSchema,
    GridBootstrapSchema,
    GridJobSchema,
    NsdBrainSchema,
    RdmsBrainSchema,
    TfmModelSchema,
    TorchModelSchema,
    TransformsSchema,
    check_name,
    check_output,
    check_results_path,
    validate_grid,
)
from .job import output_paths

logger = get_logger(__name__)

__all__ = ["BRAIN_SCHEMAS", "MODEL_SCHEMAS", "EegBrainSchema", "EncoderModelSchema", "FeaturesModelSchema",
           "FmriBrainSchema", "GridBootstrapSchema", "GridJobSchema", "GridResult", "NsdBrainSchema",
           "RdmsBrainSchema", "TfmModelSchema", "TorchModelSchema", "TransformsSchema", "check_name",
           "check_output", "check_results_path", "compute_rdms", "run_grid", "validate_grid", "write_outputs"]


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
             source: str | Path | None = None, connect_timeout: float = 10.0) -> GridResult:
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
    connect_timeout : float
        Seconds to wait for the Dask scheduler (see :func:`neurosig.parallel.run_tasks`).

    Returns
    -------
    result : GridResult
        The cells, best-layer and identification tables and the figures written.
    """
    from ...parallel import resolve_backend, run_tasks
    from ..results import ResultStore, make_key
    from .grid import build_tasks, run_task, settings_from

    validate_grid(cfg, base=base, source=source)
    backend = resolve_backend(backend, n_jobs, scheduler, connect_timeout)
    base = Path(base)
    name = cfg["name"]
    out_dir, results = output_paths(cfg, base)
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
                                           scheduler=scheduler, connect_timeout=connect_timeout,
                                           on_result=on_result, retries=retries,
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
