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
from typing import Any

import numpy as np

from ..._io import atomic_path
from ..._logging import get_logger
from ...contracts import stable_hash
from .comparison import METHODS

logger = get_logger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_LIST, _DICT = list, dict
BRAIN_SCHEMAS: dict[str, dict] = {
    "eeg": {"kind": str, "name": str, "epochs": str, "dataset": str, "dataset_params": _DICT, "paradigm": str,
            "paradigm_params": _DICT, "subjects": _LIST, "data_path": str, "conditions": _LIST, "window": float,
            "step": float, "distance": str, "folds": str, "noise": str, "run_labels": _DICT, "unsplit": _LIST},
    "nsd": {"kind": str, "name": str, "root": str, "subjects": _LIST, "space": str, "betas": str, "rois": _LIST,
            "images": str, "min_reps": int, "max_images": int, "distance": str, "cache_dir": str},
    "fmri": {"kind": str, "name": str, "subjects": _LIST, "rois": _DICT, "mask": str, "t_r": float,
             "distance": str},
    "rdms": {"kind": str, "name": str, "path": str},
}
MODEL_SCHEMAS: dict[str, dict] = {
    "encoder": {"kind": str, "name": str, "distance": str, "checkpoint": str, "arch": str, "size": str, "seed": int,
                "settings": _DICT, "layers": _LIST, "batch_size": int},
    "torch": {"kind": str, "name": str, "distance": str, "module": str, "params": _DICT, "weights": str, "layers": _LIST,
              "stimuli": str, "rows": str, "batch_size": int},
    "tfm": {"kind": str, "name": str, "distance": str, "tokenizer": str, "settings": _DICT, "pool": str},
    "features": {"kind": str, "name": str, "distance": str, "path": str, "rows": str},
}
SCHEMA: dict[str, Any] = {
    "name": str, "brain": _DICT, "models": _LIST, "distance": str, "method": str,
    "transforms": {"variants": _LIST, "lows": _LIST, "ups": _LIST},
    "bootstrap": {"n": int, "seed": int}, "output": {"dir": str, "results": str},
}


def check_name(value: Any, where: str) -> str:
    """Refuse names that could leave the output folder once used in a file name."""
    if not isinstance(value, str) or not _NAME.match(value) or ".." in value:
        raise ValueError(f"Invalid value for '{where}': allowed are 1-100 letters, digits, '.', '_' and '-' "
                         f"(starting with a letter or digit, no '..'), but got {value!r}.")
    return value


def validate_grid(cfg: dict) -> dict:
    """Check a grid job (see the module docstring); raise ValueError naming the key."""
    from .job import _check_section

    _check_section(cfg, SCHEMA, "", {"": ("name", "brain", "models")})
    check_name(cfg["name"], "name")
    b = cfg["brain"]
    if b.get("kind") not in BRAIN_SCHEMAS:
        raise ValueError(f"Invalid value for 'brain.kind'. Allowed values are {list(BRAIN_SCHEMAS)}, "
                         f"but got {b.get('kind')!r}.")
    _check_section(b, BRAIN_SCHEMAS[b["kind"]], "brain", {})
    if not cfg["models"]:
        raise ValueError("Invalid value for 'models': give at least one model source.")
    names = []
    for i, m in enumerate(cfg["models"]):
        where = f"models[{i}]"
        if not isinstance(m, dict) or m.get("kind") not in MODEL_SCHEMAS:
            kind = m.get("kind") if isinstance(m, dict) else m
            raise ValueError(f"Invalid value for '{where}.kind'. Allowed values are {list(MODEL_SCHEMAS)}, "
                             f"but got {kind!r}.")
        _check_section(m, MODEL_SCHEMAS[m["kind"]], where, {})
        names.append(check_name(m.get("name", m["kind"]), f"{where}.name"))
    if len(set(names)) != len(names):
        raise ValueError(f"Invalid value for 'models': names must be unique, but got {names}.")
    method = cfg.get("method", "spearman")
    if method not in METHODS:
        raise ValueError(f"Invalid value for 'method'. Allowed values are {list(METHODS)}, but got {method!r}.")
    tr = cfg.get("transforms", {})
    for v in tr.get("variants", []):
        if v not in ("geotopological", "geodesic"):
            raise ValueError("Invalid value for 'transforms.variants'. Allowed values are 'geotopological', "
                             f"'geodesic', but got {v!r}.")
    for k in ("lows", "ups"):
        for q in tr.get(k, []):
            if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 <= q <= 1:
                raise ValueError(f"Invalid value for 'transforms.{k}': quantiles lie in [0, 1], got {q!r}.")
    if cfg.get("bootstrap", {}).get("n", 200) < 1:
        raise ValueError("Invalid value for 'bootstrap.n': expected a positive integer, "
                         f"got {cfg['bootstrap']['n']!r}.")
    return cfg


@dataclass
class GridResult:
    """Tables of a grid job: ``cells`` (setting, region, layer), ``best`` (best layer per
    setting and region), ``identification`` (per setting) and the written ``figures``."""

    cells: Any
    best: Any
    identification: Any
    figures: list = field(default_factory=list)

    def table(self, setting: str = "raw"):
        """Layer x region similarity for one setting."""
        c = self.cells[self.cells["setting"] == setting]
        return c.pivot(index="layer", columns="region", values="score").reindex(
            index=list(dict.fromkeys(c["layer"])), columns=list(dict.fromkeys(c["region"])))


def compute_rdms(cfg: dict, base: Path, verbose: bool = True) -> dict:
    """Brain RDMs and model RDMs of a validated grid job (the expensive, cached part)."""
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
             scheduler: str | None = None, retries: int = 0, verbose: bool = True) -> GridResult:
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

    Returns
    -------
    GridResult
    """
    from ...parallel import resolve_backend, run_tasks
    from ..results import ResultStore, make_key
    from .grid import build_tasks, run_task, settings_from

    validate_grid(cfg)
    backend = resolve_backend(backend, n_jobs, scheduler)
    base = Path(base)
    name = cfg["name"]
    out = cfg.get("output", {})
    out_dir = base / out.get("dir", "rsa_out")
    results = base / out["results"] if "results" in out else out_dir / "results.sqlite"
    check_results_path(results)  # refuse a path that is not a results store before any work
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


def check_results_path(path: Path) -> None:
    """Refuse a results path that cannot be a results store, before any work and without writing.

    An existing file is opened as a store (a file that is not one is refused); a new one
    needs its nearest existing folder to be a writable folder.
    """
    import os
    import sqlite3

    from ..results import ResultStore

    path = Path(path)
    if path.exists():
        try:
            ResultStore(path).close()
        except (sqlite3.Error, OSError) as exc:
            raise ValueError(f"Invalid value for 'output.results': {str(path)!r} cannot be opened as a "
                             f"results store ({exc}).") from None
        return
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValueError(f"Invalid value for 'output.results': {str(path)!r} cannot be created "
                         f"({str(parent)!r} is not a writable folder).")


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
    """CSV tables and figures, rewritten on every run (so a crash while writing them heals)."""
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
