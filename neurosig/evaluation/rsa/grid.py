"""The brain x model comparison grid: every model layer against every brain region.

For each tRSA setting (raw RDMs, then geo-topological and geodesic transforms over a
sweep of lower/upper quantiles) and each region, one task compares all layers with
the region's per-subject RDMs: mean similarity, bootstrap CI (over subjects and
conditions; over conditions alone with one subject), the region's noise ceiling and
the best-matching layer with the bootstrap frequency of its win. A second kind of
task identifies regions leave-one-subject-out (tRSA paper). Tasks are independent,
so they run through :func:`neurosig.parallel.run_tasks` (sequential, local processes
or Dask); the client writes one results row per cell.

A setting is *degenerate* when the transform maps every brain RDM of a region to a
single value (e.g. ``low`` and ``up`` so close that all distances fall on one side):
its comparisons are undefined, and it is flagged (``degenerate``) and left out of
the best-layer and identification summaries.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..._logging import get_logger
from .comparison import compare_vectors
from .rdm import n_cond_from_length

logger = get_logger(__name__)

VARIANTS = ("geotopological", "geodesic")


def settings_from(transforms: dict | None) -> list[dict]:
    """Raw plus every (variant, low, up) with ``low < up`` of the job's ``transforms`` section.

    Parameters
    ----------
    transforms : dict or None
        The section: ``variants``, ``lows`` and ``ups`` lists (None: raw only).

    Returns
    -------
    settings : list of dict
        ``{"variant", "low", "up"}`` per setting, raw first.
    """
    out = [{"variant": "none", "low": None, "up": None}]
    tr = transforms or {}
    for v in tr.get("variants", []):
        for lo in tr.get("lows", []):
            for up in tr.get("ups", []):
                if lo < up:
                    out.append({"variant": v, "low": float(lo), "up": float(up)})
    return out


def setting_label(s: dict) -> str:
    """Display label of a setting (``"raw"``, ``"geodesic [0.1, 0.9]"``).

    Parameters
    ----------
    s : dict
        A setting of :func:`settings_from`.

    Returns
    -------
    label : str
        The label.
    """
    return "raw" if s["variant"] == "none" else f"{s['variant']} [{s['low']:g}, {s['up']:g}]"


def apply_setting(vec: np.ndarray, s: dict) -> np.ndarray:
    """Transform condensed RDMs with one setting (per-RDM quantiles).

    Parameters
    ----------
    vec : ndarray, shape (n_rdms, n_pairs)
        Condensed RDMs.
    s : dict
        A setting of :func:`settings_from`.

    Returns
    -------
    out : ndarray, shape (n_rdms, n_pairs)
        The transformed RDMs (``vec`` itself for raw).
    """
    from .topology import geodesic_transform, geotopological_transform

    if s["variant"] == "none":
        return vec
    out = geotopological_transform(vec, s["low"], s["up"])
    if s["variant"] == "geodesic":
        n = n_cond_from_length(vec.shape[1])
        out = geodesic_transform(out, disconnected=float(n - 1))
    return out


def constant_rows(vec: np.ndarray) -> np.ndarray:
    """True for RDMs whose entries are all equal (no information left to compare).

    Parameters
    ----------
    vec : ndarray, shape (n_rdms, n_pairs)
        Condensed RDMs.

    Returns
    -------
    constant : ndarray of bool, shape (n_rdms,)
        Whether each RDM is constant.
    """
    return np.ptp(vec, axis=1) <= 1e-12 * np.maximum(1.0, np.abs(vec).max(axis=1))


def compare_task(task: dict) -> dict:
    """One (setting, region) block of cells: every layer against the region's subject RDMs.

    Parameters
    ----------
    task : dict
        ``setting`` (see :func:`settings_from`), ``data`` ndarray (n_rdms, n_pairs) the
        region's brain RDMs, ``groups`` (n_rdms,) their subjects, ``models`` ndarray
        (n_layers, n_pairs), ``method``, ``n_boot``, ``seed``.

    Returns
    -------
    result : dict
        ``score``, ``ci_low``, ``ci_high`` (n_layers,) mean similarity and 95% bootstrap
        CI; ``nc`` (lower, upper) noise ceiling; ``best`` index of the best layer,
        ``best_freq`` share of bootstrap samples it wins, ``best_ci``; ``per_subject``
        (n_layers, n_rdms); ``degenerate`` flags (see the module docstring).
    """
    from .inference import eval_bootstrap, eval_bootstrap_pattern, eval_fixed

    s, method = task["setting"], task["method"]
    data = apply_setting(task["data"], s)
    models = apply_setting(task["models"], s)
    groups = task["groups"]
    deg_data = float(constant_rows(data).mean())
    deg_models = constant_rows(models)
    out = {"degenerate": bool(deg_data == 1.0), "degenerate_share": deg_data,
           "degenerate_layers": deg_models.tolist()}
    if out["degenerate"]:
        nan = [float("nan")] * len(models)
        return {**out, "score": nan, "ci_low": nan, "ci_high": nan, "nc": (np.nan, np.nan),
                "best": None, "best_freq": np.nan, "best_ci": (np.nan, np.nan), "per_subject": []}
    with np.errstate(invalid="ignore", divide="ignore"):
        fixed = eval_fixed(models, data, method, groups=groups if len(np.unique(groups)) > 1 else None)
        n_groups = len(np.unique(groups))
        if n_groups > 1:
            boot = eval_bootstrap(models, data, method, n_boot=task["n_boot"], groups=groups, seed=task["seed"])
        else:
            boot = eval_bootstrap_pattern(models, data, method, n_boot=task["n_boot"], seed=task["seed"])
    ev = boot.evaluations  # (n_boot, n_layers)
    ci = np.nanpercentile(ev, [2.5, 97.5], axis=0)
    score = np.asarray(fixed["mean"], float)
    best = int(np.nanargmax(score)) if np.isfinite(score).any() else None
    ok = np.isfinite(ev).all(axis=1)
    wins = np.nanargmax(np.where(np.isfinite(ev), ev, -np.inf), axis=1)[ok]
    best_freq = float(np.mean(wins == best)) if best is not None and ok.any() else np.nan
    best_ci = tuple(np.nanpercentile(ev[:, best], [2.5, 97.5])) if best is not None else (np.nan, np.nan)
    per_subject = compare_vectors(models, data, method)  # (n_layers, n_rdms)
    return {**out, "score": score.tolist(), "ci_low": ci[0].tolist(), "ci_high": ci[1].tolist(),
            "nc": tuple(float(v) for v in fixed["noise_ceiling"]), "best": best, "best_freq": best_freq,
            "best_ci": tuple(float(v) for v in best_ci), "per_subject": per_subject.tolist()}


def identify_task(task: dict) -> dict:
    """Leave-one-subject-out region identification for one setting.

    Parameters
    ----------
    task : dict
        ``data`` ndarray (n_rdms, n_pairs) all brain RDMs, ``subjects`` and ``regions``
        (n_rdms,), ``setting``, ``method``, ``n_boot``, ``seed``.

    Returns
    -------
    result : dict
        ``accuracy``, ``ci`` (bootstrap over subjects), ``n_test``, ``chance``, ``degenerate``.
    """
    from .identification import loso_identification

    s = task["setting"]
    data = task["data"]
    tdata = apply_setting(data, s)
    deg = constant_rows(tdata)
    if deg.all():
        return {"degenerate": True, "accuracy": np.nan, "ci": (np.nan, np.nan), "n_test": 0,
                "chance": 1 / len(np.unique(task["regions"]))}
    with np.errstate(invalid="ignore", divide="ignore"):
        res = loso_identification(data, task["subjects"], task["regions"], method=task["method"],
                                  transform=None if s["variant"] == "none" else (lambda v: apply_setting(v, s)),
                                  n_boot=task["n_boot"], seed=task["seed"])
    return {"degenerate": bool(deg.any()), "accuracy": res["accuracy"], "ci": tuple(res["ci"]),
            "n_test": len(res["correct"]), "chance": 1 / len(np.unique(task["regions"]))}


def run_task(task: dict) -> dict:
    """Task entry point for :func:`neurosig.parallel.run_tasks` (picklable, top level).

    Parameters
    ----------
    task : dict
        A task of :func:`build_tasks` (``type`` "compare" or "identify").

    Returns
    -------
    result : dict
        :func:`compare_task` or :func:`identify_task`'s result, with ``_time`` in seconds.
    """
    import time

    t0 = time.perf_counter()
    out = compare_task(task) if task["type"] == "compare" else identify_task(task)
    out["_time"] = time.perf_counter() - t0
    return out


def build_tasks(brain, layer_names: list[str], model_rdms: np.ndarray, settings: list[dict], method: str,
                n_boot: int, seed: int) -> list[dict]:
    """Compare tasks per (setting, region), then one identification task per setting (>= 2 subjects).

    Parameters
    ----------
    brain : object
        Brain RDMs with ``rdms`` (n_rdms, n_pairs), ``subjects`` and ``regions`` (n_rdms,)
        and ``region_order`` (list of regions).
    layer_names : list of str
        Name of each model RDM (n_layers).
    model_rdms : ndarray, shape (n_layers, n_pairs)
        Condensed model RDMs.
    settings : list of dict
        tRSA settings of :func:`settings_from`.
    method : str
        Comparison method.
    n_boot : int
        Bootstrap samples.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    tasks : list of dict
        The tasks, for :func:`run_task`.
    """
    tasks: list[dict[str, Any]] = []
    for s in settings:
        for r in brain.region_order:
            m = brain.regions == r
            tasks.append({"type": "compare", "setting": s, "region": r, "data": brain.rdms[m],
                          "groups": brain.subjects[m], "models": model_rdms, "layers": layer_names,
                          "method": method, "n_boot": n_boot, "seed": seed})
    if len(np.unique(brain.subjects)) >= 2 and len(brain.region_order) >= 2:
        for s in settings:
            tasks.append({"type": "identify", "setting": s, "data": brain.rdms, "subjects": brain.subjects,
                          "regions": brain.regions, "method": method, "n_boot": n_boot, "seed": seed})
    return tasks
