"""Grid pipelines with a shared prefix vs scikit-learn's GridSearchCV, as MOABB runs it.

MOABB's grid files ``TSSVM_grid.yml`` (6 candidates: ``svc__C`` x ``svc__kernel``) and
``CSP_SVM_grid.yml`` (42 candidates: ``csp__nfilter`` x ``svc__C`` x ``svc__kernel``) from
``../shared/data/moabb_pipelines/pipelines/``, on the simulated motor-imagery dataset
(subject 1, 2 sessions x 72 trials, 22 channels), within-session, left vs right hand.

Two comparisons, in one process on the same data:

1. Through the benchmark: the task that :func:`neurosig.benchmark` plans for each file is
   evaluated (``PROTOCOLS[evaluation](task, ...).run()``, what ``evaluate_task`` runs after
   loading the data, which is done once beforehand) with ``share_prefixes=False``, i.e.
   MOABB's inner search (``GridSearchCV``, 3-fold stratified, refit, every step refitted per
   candidate), and with the default shared prefix. Every outer fold score and every outer
   fold's best parameters must be equal.
2. One outer training fold, three searches side by side: ``GridSearchCV``,
   ``GridSearchCV`` over ``Pipeline(memory=...)`` (scikit-learn's cache of fitted
   transformers) and neurosig's ``PrefixGridSearchCV``; every inner score must be equal.

BLAS is pinned to 1 thread on every side. Run from the repository root::

    PYTHONPATH=$PWD python benchmarks/grid_prefix.py            # 3 repeats, both files
    PYTHONPATH=$PWD python benchmarks/grid_prefix.py --quick    # 1 repeat, 2 outer folds
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import tempfile
import warnings
from pathlib import Path
from time import perf_counter

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FILES = ("TSSVM_grid.yml", "CSP_SVM_grid.yml")
TARGET = 5.0


def _shared_data() -> Path:
    env = os.environ.get("NEUROSIG_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def _plan(spec_path: Path, n_folds: int):
    """The task neurosig.benchmark plans for this file on simulated subject 1, and its data."""
    from neurosig.evaluation import bci
    from neurosig.pipelines import load_pipeline_file

    spec = load_pipeline_file(spec_path)
    settings = bci.resolve_settings("within-session", "LeftRightImagery", 42, n_folds, 0, 0, None, None)
    plan = bci.resolve_plan(None, [1], None, settings)
    specs = bci.resolve_pipelines([spec_path], "LeftRightImagery")
    (task,) = bci.plan_tasks(settings, plan, specs)
    X, y, meta, key = bci.load_data(task.dataset, task.paradigm, task.load_subjects, return_key=True)
    return spec, task, X, y, meta, key


def _evaluate(task, X, y, meta, key, share: bool):
    from neurosig.evaluation.bci_data import clear_worker_caches
    from neurosig.evaluation.bci_protocols import PROTOCOLS

    t = dataclasses.replace(task, share_prefixes=share)
    clear_worker_caches()  # the shared first step is computed inside the timing
    t0 = perf_counter()
    rows = PROTOCOLS[t.evaluation](t, X, y, meta, data_key=key).run()
    return perf_counter() - t0, rows


def _timed(fn, repeats: int):
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeats):
        dt, out = fn()
        times.append(dt)
    return statistics.median(times), (min(times), max(times)), out


def through_benchmark(spec_path: Path, n_folds: int, repeats: int, max_folds: int | None):
    """(reference_s, neurosig_s, identical) for one grid file, through the benchmark's task."""
    spec, task, X, y, meta, key = _plan(spec_path, n_folds)
    if max_folds is not None:  # --quick: the first session only
        keep = (meta["session"] == meta["session"].iloc[0]).to_numpy()
        X, y, meta = X[keep], y[keep], meta[keep].reset_index(drop=True)
        key = f"{key}|first-session"
    ref_s, ref_rng, ref = _timed(lambda: _evaluate(task, X, y, meta, key, False), repeats)
    ns_s, ns_rng, ns = _timed(lambda: _evaluate(task, X, y, meta, key, True), repeats)
    same_scores = all(a.scores == b.scores for a, b in zip(ref, ns)) and len(ref) == len(ns)
    same_params = all(a.best_params == b.best_params for a, b in zip(ref, ns))
    n_folds_run = sum(len(r.scores) for r in ref)
    print(f"  {spec.name}: {len(list(__import__('sklearn.model_selection', fromlist=['x']).ParameterGrid(spec.param_grid)))} "
          f"candidates, {n_folds_run} outer folds")
    print(f"    reference_s (GridSearchCV, every step refitted): median {ref_s:.2f} "
          f"[{ref_rng[0]:.2f}, {ref_rng[1]:.2f}]")
    print(f"    neurosig_s (shared prefix):                       median {ns_s:.2f} "
          f"[{ns_rng[0]:.2f}, {ns_rng[1]:.2f}]")
    print(f"    outer fold scores identical: {same_scores}; best params identical: {same_params} "
          f"(e.g. {ns[0].best_params[0]})")
    return ref_s, ns_s, same_scores and same_params, (task, X, y, meta)


def one_fold(spec_path: Path, task, X, y, meta, repeats: int):
    """GridSearchCV vs Pipeline(memory=...) vs PrefixGridSearchCV on the first outer training fold."""
    from joblib import Memory
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from neurosig.evaluation.bci_protocols import PROTOCOLS, build_estimator
    from neurosig.evaluation.grid_prefix import PrefixGridSearchCV

    protocol = PROTOCOLS[task.evaluation](dataclasses.replace(task, share_prefixes=False), X, y, meta)
    _, folds, _ = next(iter(protocol.partitions()))
    Xtr, ytr = X[folds[0].train], y[folds[0].train]
    plain = build_estimator(task.spec, task.metric, task.seed, protocol.sfreq, np.unique(ytr), False)
    cv = StratifiedKFold(3, shuffle=True, random_state=task.seed)
    kw = dict(cv=cv, scoring=task.metric, refit=True, error_score="raise")
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        def run(name, make):
            def fn():
                search = make()
                t0 = perf_counter()
                search.fit(Xtr, ytr)
                return perf_counter() - t0, search
            results[name] = _timed(fn, repeats)

        def cached():
            Memory(cache, verbose=0).clear(warn=False)
            pipe = plain.estimator.set_params(memory=Memory(cache, verbose=0))
            return GridSearchCV(pipe, plain.param_grid, **kw)

        run("GridSearchCV", lambda: GridSearchCV(plain.estimator.set_params(memory=None),
                                                 plain.param_grid, **kw))
        run("GridSearchCV + Pipeline(memory)", cached)
        run("PrefixGridSearchCV", lambda: PrefixGridSearchCV(plain.estimator.set_params(memory=None),
                                                             plain.param_grid, **kw))
    ref = results["GridSearchCV"][2]
    for name, (med, rng, search) in results.items():
        same = all(np.array_equal(search.cv_results_[f"split{j}_test_score"],
                                  ref.cv_results_[f"split{j}_test_score"]) for j in range(3))
        print(f"    {name:32s} median {med:6.2f} s [{rng[0]:.2f}, {rng[1]:.2f}]  "
              f"{results['GridSearchCV'][0] / med:5.1f}x  inner scores identical: {same}, "
              f"best {search.best_params_}")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="1 repeat, first session only, 2 outer folds (about a minute)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (default 3; 1 with --quick)")
    args = ap.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    n_folds = 2 if args.quick else 5
    folder = _shared_data() / "moabb_pipelines" / "pipelines"
    if not folder.is_dir():
        sys.exit(f"MOABB's pipeline files not found at {folder} (set NEUROSIG_SHARED_DATA)")
    import numpy
    import sklearn
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; numpy {numpy.__version__}, "
          f"scikit-learn {sklearn.__version__}; BLAS 1 thread; {repeats} repeat(s) after a warm-up")
    warnings.simplefilter("ignore")
    ratios, ok = {}, True
    for name in FILES:
        print(f"== {name} through the benchmark (simulated subject 1, within-session, {n_folds} folds)")
        ref_s, ns_s, same, data = through_benchmark(folder / name, n_folds, repeats,
                                                    2 if args.quick else None)
        ratios[name], ok = ref_s / ns_s, ok and same
        print(f"    ratio: {ratios[name]:.1f}x")
        print("  one outer training fold, three searches:")
        one_fold(folder / name, *data, repeats=repeats)
    worst = min(ratios.values())
    print(f"grid prefix: {worst:.1f}x faster than GridSearchCV at worst ("
          + ", ".join(f"{k} {v:.1f}x" for k, v in ratios.items())
          + f"; target >= {TARGET:g}x), {'identical' if ok else 'DIFFERENT'} fold scores and best params")
    return {"ratios": ratios, "identical": ok}


if __name__ == "__main__":
    main()
