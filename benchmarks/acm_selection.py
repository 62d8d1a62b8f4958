"""ACM hyper-parameter selection as a user meets it: successive halving vs the exact grid vs Takens.

For every subject-session (6 simulated subjects x 2 sessions of neurosig's simulated
motor-imagery dataset, left vs right hand, and the real PhysionetMI subject 1 from
``../shared/data``), on the 54-candidate grid (order 1-3, lag 1-3, C 0.5/1/1.5, kernel
rbf/linear):

* the configuration each selection picks on the whole session:
  ``ACMClassifier(selection="halving")``, ``ACMClassifier(selection="grid")`` (the exact
  fast grid, which picks what ``GridSearchCV`` over MOABB's pipeline picks) and
  ``ACMClassifier(selection="takens")``;
* the outer-CV ROC-AUC of each (5-fold stratified CV within the session, MOABB's
  within-session protocol; each selection runs on the training folds only, with MOABB's
  inner 3-fold split) and the paired outer-fold differences halving - grid and
  Takens - grid with their 95 % t-interval.

On the real subject only, MOABB's pipeline (``AugmentedDataset`` -> ``Covariances`` ->
``TangentSpace`` -> ``SVC``) under ``GridSearchCV`` (refit=True, as MOABB runs it) is timed
against halving (selection + final fit) in this process, on the same trials and inner
folds; the script checks that the grid's choice and fold scores are MOABB's and that the
halving's last round has MOABB's fold scores for its candidates.  BLAS runs on one thread.

    python benchmarks/acm_selection.py --quick      # < 1 min: 1 simulated session, 8 candidates
    python benchmarks/acm_selection.py              # 13 subject-sessions, MOABB timed on the real one
    python benchmarks/acm_selection.py --units sim  # only the simulated sessions (or: real)
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

GRID = {"order": [1, 2, 3], "lag": [1, 2, 3], "C": [0.5, 1, 1.5], "kernel": ["rbf", "linear"]}
QUICK_GRID = {"order": [1, 2], "lag": [1, 2], "C": [1.0], "kernel": ["rbf", "linear"]}
METHODS = ("grid", "halving", "takens")


def units(args):
    """(name, X, y) of every subject-session asked for."""
    from moabb.paradigms import LeftRightImagery

    from neurosig.datasets import SimulatedMotorImagery
    if args.units in ("all", "sim"):
        ds = SimulatedMotorImagery()
        for s in ([1] if args.quick else args.subjects):
            X, y, meta = LeftRightImagery().get_data(ds, [s])
            for sess in sorted(meta["session"].unique())[:1 if args.quick else None]:
                keep = (meta["session"] == sess).to_numpy()
                yield f"simulated S{s} {sess}", X[keep], y[keep]
    shared = Path(args.shared_data)
    if args.units in ("all", "real") and not args.quick:
        if (shared / "MANIFEST.md").is_file():
            from acm_speed import load_physionet
            yield "PhysionetMI S1 (real)", *load_physionet(shared)
        else:
            print(f"real data not found at {shared}: skipped", flush=True)


def _clf(method, grid):
    from neurosig.riemann import ACMClassifier
    return ACMClassifier(selection=method, param_grid=grid, verbose=False)


def _config(clf):
    return (clf.order_, clf.lag_, float(clf.C_), clf.kernel_)


def paired_interval(d):
    """Mean and 95 % t-interval of paired differences."""
    from scipy.stats import t
    d = np.asarray(d, dtype=float)
    m = float(d.mean())
    if len(d) < 2 or np.all(d == d[0]):
        return m, m, m
    h = float(t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return m, m - h, m + h


def evaluate(X, y, grid, n_outer):
    """Whole-session choices and nested outer-CV AUCs of every method."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    row = {"session": {}, "auc": {m: [] for m in METHODS}, "fold_configs": {m: [] for m in METHODS},
           "seconds": {}}
    for m in METHODS:
        t0 = time.perf_counter()
        clf = _clf(m, grid).fit(X, y)
        row["seconds"][m] = time.perf_counter() - t0
        row["session"][m] = _config(clf)
    for tr, te in StratifiedKFold(n_outer, shuffle=True, random_state=42).split(X, y):
        for m in METHODS:
            clf = _clf(m, grid).fit(X[tr], y[tr])
            row["auc"][m].append(roc_auc_score(y[te], clf.decision_function(X[te])))
            row["fold_configs"][m].append(_config(clf))
    return row


def moabb_timing(X, y, grid):
    """MOABB's GridSearchCV vs halving and the exact grid on the same trials and folds."""
    from acm_speed import moabb_grid_search
    from sklearn.model_selection import StratifiedKFold

    from neurosig.riemann.fast_grid import MOABB_KEYS
    cv = StratifiedKFold(3, shuffle=True, random_state=42)
    _clf("halving", {"order": [1], "lag": [1], "C": [1.0], "kernel": ["linear"]}).fit(X, y)  # warm-up
    times = {"halving": [], "grid": []}
    cpu = {"halving": [], "grid": []}
    fits = {}

    def timed(m):
        t0, c0 = time.perf_counter(), time.process_time()
        fits[m] = _clf(m, grid).fit(X, y)
        times[m].append(time.perf_counter() - t0)
        cpu[m].append(time.process_time() - c0)
        print(f"  {m}: {times[m][-1]:.1f} s wall, {cpu[m][-1]:.1f} s CPU", flush=True)

    # halving three times around the reference (the machine's load drifts over minutes);
    # CPU time of this process too: on a shared machine it tracks the work, not the load
    timed("halving")
    t0, c0 = time.perf_counter(), time.process_time()
    gs = moabb_grid_search(X, y, grid, cv, None)
    ref_s, ref_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"  MOABB: {ref_s:.1f} s wall, {ref_cpu:.1f} s CPU", flush=True)
    timed("halving")
    timed("grid")
    timed("halving")
    for m in ("grid", "halving"):
        c = float(np.median(cpu[m]))
        print(f"CPU time: MOABB {ref_cpu:.1f} s / neurosig {m} {c:.1f} s (median) = {ref_cpu / c:.1f}x")
    spread = {m: f"{min(v):.1f}-{max(v):.1f}" for m, v in times.items()}
    times = {m: float(np.median(v)) for m, v in times.items()}
    ref_split = np.array([gs.cv_results_[f"split{k}_test_score"] for k in range(3)]).T
    ref_best = {k: gs.best_params_[MOABB_KEYS[k]] for k in ("order", "lag", "C", "kernel")}
    g, h = fits["grid"].grid_result_, fits["halving"].grid_result_
    last = h.rounds[-1]
    checks = {
        "grid choice = MOABB's": g.best_params == ref_best,
        "grid fold scores = MOABB's (1e-9)": bool(np.allclose(g.split_scores, ref_split, atol=1e-9, equal_nan=True)),
        "halving last-round fold scores = MOABB's (1e-9)": bool(np.allclose(
            last.split_scores, ref_split[last.candidates], atol=1e-9, equal_nan=True)),
    }
    print(f"\n== timing on the real subject, {len(g.params)} candidates, 1 BLAS thread, 1 process ==")
    print(f"MOABB GridSearchCV (refit=True): {ref_s:.1f} s, best {ref_best} (inner AUC {gs.best_score_:.4f})")
    for m in ("grid", "halving"):
        print(f"neurosig {m} (selection + final fit): {times[m]:.1f} s (median, spread {spread[m]}) = "
              f"{ref_s / times[m]:.1f}x; best "
              f"{fits[m].grid_result_.best_params} (inner AUC {fits[m].grid_result_.best_score:.4f})")
    print("halving rounds: " + "; ".join(
        f"{r.level}: {len(r.candidates)} candidates, {r.n_pairs} (order, lag), {len(r.folds)} fold(s), "
        f"{r.seconds:.1f} s" for r in h.rounds))
    print("checks: " + ", ".join(f"{k}: {v}" for k, v in checks.items())
          + f"; halving chose MOABB's choice: {h.best_params == ref_best}", flush=True)
    return ref_s, times, all(checks.values())


def _fmt(cfg):
    o, lag, c, k = cfg
    return f"o{o} l{lag} C{c:g} {k[:3]}"


def report(name, row):
    """One line per subject-session; returns whether halving meets the selection target there."""
    auc = {m: np.array(v) for m, v in row["auc"].items()}
    dh = paired_interval(auc["halving"] - auc["grid"])
    dt = paired_interval(auc["takens"] - auc["grid"])
    same = row["session"]["halving"] == row["session"]["grid"]
    same_folds = sum(a == b for a, b in zip(row["fold_configs"]["halving"], row["fold_configs"]["grid"]))
    ok = same or dh[1] <= 0 <= dh[2]
    print(f"| {name} | {_fmt(row['session']['grid'])} | {_fmt(row['session']['halving'])} | "
          f"{_fmt(row['session']['takens'])} | {auc['grid'].mean():.3f} | {auc['halving'].mean():.3f} | "
          f"{auc['takens'].mean():.3f} | {dh[0]:+.3f} [{dh[1]:+.3f}, {dh[2]:+.3f}] | "
          f"{dt[0]:+.3f} [{dt[1]:+.3f}, {dt[2]:+.3f}] | {same_folds}/{len(auc['grid'])} | "
          f"{row['seconds']['grid']:.1f} / {row['seconds']['halving']:.1f} / {row['seconds']['takens']:.1f} | "
          f"{'yes' if ok else 'NO'} |", flush=True)
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 simulated session, 8 candidates, 3 outer folds")
    ap.add_argument("--units", choices=["all", "sim", "real"], default="all")
    ap.add_argument("--outer", type=int, default=5, help="outer CV folds (default 5)")
    ap.add_argument("--subjects", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6],
                    help="simulated subjects (default 1-6, two sessions each)")
    ap.add_argument("--timing-only", action="store_true", help="only the MOABB timing on the real subject")
    ap.add_argument("--no-timing", action="store_true", help="skip the MOABB timing on the real subject")
    ap.add_argument("--shared-data", default=os.environ.get("NEUROSIG_SHARED_DATA",
                                                            str(ROOT.parent / "shared" / "data")))
    args = ap.parse_args(argv)
    import pyriemann
    import sklearn
    print(f"machine: {os.cpu_count()} CPUs; numpy {np.__version__}, sklearn {sklearn.__version__}, "
          f"pyriemann {pyriemann.__version__}; BLAS threads: 1")
    grid = QUICK_GRID if args.quick else GRID
    n_outer = 3 if args.quick else args.outer
    n_cand = int(np.prod([len(v) for v in grid.values()]))
    print(f"grid: {n_cand} candidates {grid}; outer CV: {n_outer}-fold stratified; inner: 3-fold (MOABB's)")
    header = ("| subject-session | grid choice | halving choice | Takens choice | AUC grid | AUC halving | "
              "AUC Takens | halving - grid [95 % CI] | Takens - grid [95 % CI] | same choice in outer folds | "
              "session fit s (grid / halving / Takens) | halving OK |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|")
    ok, timing = [], None
    shared = Path(args.shared_data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if (shared / "MANIFEST.md").is_file() and (args.quick or args.units in ("all", "real")) \
                and not args.no_timing:
            from acm_speed import load_physionet
            X, y = load_physionet(shared)
            # the headline first; --quick: 8 of the 64 channels (seconds, not minutes)
            timing = moabb_timing(X[:, ::8] if args.quick else X, y, grid)
            print(flush=True)
        for i, (name, X, y) in enumerate([] if args.timing_only else units(args)):
            if i == 0:
                print(header, flush=True)
            ok.append(report(name, evaluate(X, y, grid, n_outer)))
    if not ok and timing is None:
        print("no data: nothing measured")
        return 1
    sel = f"same configuration as the exhaustive grid or paired 95 % interval containing 0 on {sum(ok)} of {len(ok)} " \
          f"subject-sessions (target >= 11 of 13)"
    if timing is None:
        print(f"acm halving: no MOABB timing in this run (--no-timing, --units sim or --quick); {sel}")
        return 0
    ref_s, times, agree = timing
    print(f"acm halving: {ref_s / times['halving']:.1f}x faster than MOABB's GridSearchCV on the real subject "
          f"(target >= 40x; exact grid {ref_s / times['grid']:.1f}x), "
          f"{'outputs agree' if agree else 'OUTPUTS DIFFER'}; {sel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
