"""ACM hyper-parameter selection: MOABB's published grid vs neurosig's fast grid vs Takens.

In one process, on the same trials and the same inner folds:

* reference: MOABB's ``AugmentedDataset`` -> pyRiemann ``Covariances("cov")`` ->
  ``TangentSpace("riemann")`` -> ``SVC`` under sklearn ``GridSearchCV`` (3-fold
  shuffled ``StratifiedKFold``, ``scoring="roc_auc"``, ``refit=True``,
  ``return_train_score=True``), as MOABB's WithinSessionEvaluation wraps it;
* neurosig fast grid (:func:`neurosig.riemann.fast_grid.fast_grid_search`) on the same grid,
  with its default Anderson-accelerated Riemannian mean (timed ``--repeats`` times) and with
  pyRiemann's own mean iterates (``mean_solver="pyriemann"``, timed once);
* neurosig Takens selection (AMI lag + FNN order) + one fit.

Data: the real PhysionetMI subject 1 (``../shared/data``, loaded offline through MOABB's
LeftRightImagery paradigm: 8-32 Hz, 0-3 s, 45 trials x 64 channels x 481 samples) and a
quick synthetic two-class set made here (the project's simulator was not merged when this
was written; see ``_synthetic``).

BLAS is pinned to one thread per worker; "1 core" = 1 process, "2 cores" = 2 worker
processes on both sides.  The reference is timed once per setting (it takes minutes);
neurosig is timed as the median of ``--repeats`` runs.  The last line is the headline.

    python benchmarks/acm_speed.py --quick               # < 1 min: real subject, tiny grid, 1 core
    python benchmarks/acm_speed.py                       # reduced grid, real + synthetic, 1 and 2 cores
    python benchmarks/acm_speed.py --full-neurosig       # also neurosig on MOABB's full 600-candidate grid
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUICK_GRID = {"order": [1, 2], "lag": [1, 2], "C": [1.0], "kernel": ["rbf", "linear"]}
REDUCED_GRID = {"order": [1, 2, 3], "lag": [1, 2, 3], "C": [0.5, 1, 1.5], "kernel": ["rbf", "linear"]}


def load_physionet(shared: Path):
    """PhysionetMI subject 1, left vs right imagery, offline through MOABB."""
    tmp = Path(tempfile.mkdtemp(prefix="acm_bench_"))
    dest = tmp / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0"
    dest.mkdir(parents=True)
    os.symlink(shared / "eegmmidb" / "S001", dest / "S001")
    os.environ.update(MNE_DATASETS_EEGBCI_PATH=str(tmp), MNE_DATA=str(tmp), MOABB_DOWNLOAD_PROVIDER="upstream")
    import mne
    from moabb.datasets import PhysionetMI
    from moabb.paradigms import LeftRightImagery
    mne.set_log_level("ERROR")
    X, y, _ = LeftRightImagery().get_data(PhysionetMI(imagined=True), [1])
    return X, y


def _synthetic(n_trials=48, n_channels=16, n_times=481, sfreq=160.0, seed=0):
    """Two-class motor-imagery-like trials (NOT the project's simulator).

    Each channel is a random mixture of 6 sources: AR(2) oscillators at 10 and 20 Hz and
    broadband noise; class 1 attenuates the 10 Hz source of one hemisphere by 30%
    (event-related desynchronisation).  Nothing here was tuned to favour any pipeline.
    """
    from scipy.signal import butter, lfilter, sosfiltfilt
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n_trials // 2)
    mix = rng.standard_normal((n_channels, 6))

    def ar(freq, r=0.98, size=None):
        a1, a2 = 2 * r * np.cos(2 * np.pi * freq / sfreq), -r * r
        return lfilter([1.0], [1.0, -a1, -a2], rng.standard_normal(size), axis=-1)

    X = np.empty((n_trials, n_channels, n_times))
    for k in range(n_trials):
        s = np.stack([ar(10, size=n_times + 200), ar(10, size=n_times + 200), ar(20, size=n_times + 200),
                      ar(20, size=n_times + 200), rng.standard_normal(n_times + 200),
                      rng.standard_normal(n_times + 200)])[:, 200:]
        if y[k] == 1:
            s[0] *= 0.7
        X[k] = mix @ s + 0.5 * rng.standard_normal((n_channels, n_times))
    sos = butter(5, [8, 32], btype="band", fs=sfreq, output="sos")
    return sosfiltfilt(sos, X, axis=-1), np.where(y == 1, "right_hand", "left_hand")


def moabb_grid_search(X, y, grid, cv, n_jobs):
    from moabb.pipelines.features import AugmentedDataset
    from pyriemann.estimation import Covariances
    from pyriemann.tangentspace import TangentSpace
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from neurosig.riemann.fast_grid import MOABB_KEYS
    pipe = make_pipeline(AugmentedDataset(), Covariances(estimator="cov"), TangentSpace(metric="riemann"),
                         SVC(kernel="rbf"))
    gs = GridSearchCV(pipe, {MOABB_KEYS[k]: v for k, v in grid.items()}, cv=cv, scoring="roc_auc",
                      refit=True, return_train_score=True, n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs.fit(X, y)
    return gs


def run_setting(name, X, y, grid, n_cores, repeats, seed, mean_tol=None):
    from sklearn.model_selection import StratifiedKFold

    from neurosig.riemann import ACMClassifier
    from neurosig.riemann.fast_grid import MOABB_KEYS, fast_grid_search
    cv = StratifiedKFold(3, shuffle=True, random_state=seed)
    n_jobs = None if n_cores == 1 else n_cores
    n_cand = int(np.prod([len(v) for v in grid.values()]))
    print(f"\n== {name}: X {X.shape}, grid {n_cand} candidates {grid}, {n_cores} core(s) ==", flush=True)
    t0 = time.perf_counter()
    gs = moabb_grid_search(X, y, grid, cv, n_jobs)
    ref_s = time.perf_counter() - t0
    tiny = {"order": [1], "lag": [1], "C": [1.0], "kernel": ["linear"]}
    fast_grid_search(X, y, tiny, cv=cv, n_jobs=n_jobs)  # warm-up (imports)
    times = []
    for _ in range(repeats):  # selection + final fit, as GridSearchCV(refit=True) does
        t0 = time.perf_counter()
        clf = ACMClassifier(selection="grid", param_grid=grid, cv=cv, n_jobs=n_jobs).fit(X, y)
        times.append(time.perf_counter() - t0)
    res = clf.grid_result_  # mean_solver="anderson", mean_tol=1e-8 (pyRiemann's)
    ns_s = float(np.median(times))
    approx = None
    if mean_tol is not None:  # approximate acceleration: a looser tolerance of the mean
        t0 = time.perf_counter()
        res_tol = fast_grid_search(X, y, grid, cv=cv, n_jobs=n_jobs, mean_tol=mean_tol)
        tol_s = time.perf_counter() - t0
        approx = (tol_s, res_tol)
    # pyRiemann's own iterates for the mean (same update and step rule), timed once
    t0 = time.perf_counter()
    res_pyr = fast_grid_search(X, y, grid, cv=cv, n_jobs=n_jobs, mean_solver="pyriemann")
    pyr_s = time.perf_counter() - t0
    from neurosig.riemann.takens import takens_parameters
    t0 = time.perf_counter()
    takens_parameters(X)
    tk_sel_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tk = ACMClassifier(selection="takens").fit(X, y)
    tk_s = time.perf_counter() - t0
    # MOABB's full 600-candidate grid, extrapolated from this run's measured per-candidate
    # cost of each order (fit + score, x n_splits): each order has 10 lags x 6 SVM settings
    # there; orders not in this grid count 0 s, so this is a lower bound (orders 6-10 are
    # rank deficient or not SPD for 64-channel PhysionetMI and fail fast)
    cr = gs.cv_results_
    per_order = {}
    for prm, ft, st in zip(cr["params"], cr["mean_fit_time"], cr["mean_score_time"]):
        per_order.setdefault(prm[MOABB_KEYS["order"]], []).append((ft + st) * cv.get_n_splits())
    # fit times are per worker: GridSearchCV spreads them over n_cores processes
    full_est = sum(60 * float(np.mean(v)) for p, v in per_order.items() if p <= 10) / n_cores
    ref_split = np.array([gs.cv_results_[f"split{k}_test_score"] for k in range(3)]).T
    same_scores = np.allclose(res.split_scores, ref_split, rtol=0, atol=1e-9, equal_nan=True)
    same_pyr = (np.allclose(res_pyr.split_scores, ref_split, rtol=0, atol=1e-9, equal_nan=True)
                and res_pyr.best_params == {k: gs.best_params_[MOABB_KEYS[k]] for k in ("order", "lag", "C", "kernel")})
    ref_best = {k: gs.best_params_[MOABB_KEYS[k]] for k in ("order", "lag", "C", "kernel")}
    same_choice = ref_best == res.best_params
    print(f"reference (MOABB + GridSearchCV): best {ref_best} inner AUC {gs.best_score_:.4f}")
    print(f"neurosig fast grid             : best {res.best_params} inner AUC {res.best_score:.4f}; "
          f"excluded (not SPD) {[(e['order'], e['lag']) for e in res.excluded]}")
    print(f"identical choice: {same_choice}; split scores equal to 1e-9: {same_scores}; "
          f"max |d score| {np.nanmax(np.abs(res.split_scores - ref_split)) if n_cand else 0:.2e}")
    ref_nan = sorted({(p["augmenteddataset__order"], p["augmenteddataset__lag"])
                      for p, m in zip(gs.cv_results_["params"], gs.cv_results_["mean_test_score"]) if np.isnan(m)})
    print(f"(order, lag) scored NaN by the reference: {ref_nan}; excluded by neurosig: "
          f"{sorted({(e['order'], e['lag']) for e in res.excluded})}")
    if res.not_converged:
        print(f"Riemannian means that met no tolerance (noise floor; pyRiemann runs 50 iterations there): "
              f"{[(e['order'], e['lag'], e['fold'], round(e['crit'], 10)) for e in res.not_converged]}")
    print(f"mean iterations per (order, lag): anderson { {f'{o},{lag}': v for (o, lag), v in res.n_mean_iter.items()} }; "
          f"pyriemann { {f'{o},{lag}': v for (o, lag), v in res_pyr.n_mean_iter.items()} }")
    print(f"neurosig fast grid with pyRiemann's own mean iterates (mean_solver='pyriemann', one run): "
          f"{pyr_s:.2f} s, ratio {ref_s / pyr_s:.1f}x; identical choice and split scores: {same_pyr}")
    if approx is not None:
        tol_s, res_tol = approx
        d = np.nanmax(np.abs(res_tol.split_scores - ref_split))
        dbest = abs(res_tol.best_score - gs.best_score_)
        print(f"APPROXIMATE (mean_tol={mean_tol:g}, selection only): {tol_s:.2f} s, ratio {ref_s / tol_s:.1f}x; "
              f"best {res_tol.best_params}, same choice {res_tol.best_params == ref_best}, "
              f"|d best inner AUC| {dbest:.4f}, max |d split score| {d:.2e}; iterations "
              f"{ {f'{o},{lag}': v for (o, lag), v in res_tol.n_mean_iter.items()} }")
    print(f"Takens selection: order {tk.order_}, lag {tk.lag_}: selection alone {tk_sel_s:.2f} s, "
          f"selection + final fit {tk_s:.2f} s")
    print(f"MOABB full 600-candidate grid extrapolated from this run: >= {full_est:.0f} s (60 candidates "
          f"per order x this run's per-candidate time of orders {sorted(per_order)}, / {n_cores} core(s); other "
          f"orders 0 s: a lower bound) -> Takens selection {full_est / tk_sel_s:.0f}x, selection + fit {full_est / tk_s:.0f}x")
    print(f"reference_s {ref_s:.2f}  neurosig_s {ns_s:.2f} (median of {repeats}, spread "
          f"{min(times):.2f}-{max(times):.2f})  ratio {ref_s / ns_s:.1f}x  "
          f"takens_s {tk_s:.2f} ratio {ref_s / tk_s:.1f}x", flush=True)
    return {"name": name, "cores": n_cores, "ref_s": ref_s, "ns_s": ns_s, "pyr_s": pyr_s, "same_pyr": same_pyr, "tk_s": tk_s, "tk_sel_s": tk_sel_s,
            "full_est": full_est,
            "same": same_choice and same_scores, "auc_diff": abs(gs.best_score_ - res.best_score),
            "approx": None if approx is None else (approx[0], approx[1].best_params == ref_best,
                                                   abs(approx[1].best_score - gs.best_score_))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="real subject, 8-candidate grid, 1 core (< 1 min)")
    ap.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--data", choices=["real", "synthetic", "both"], default="both")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--orders", type=int, nargs="+", help="orders of the reduced grid (default 1 2 3)")
    ap.add_argument("--lags", type=int, nargs="+", help="lags of the reduced grid (default 1 2 3)")
    ap.add_argument("--mean-tol", type=float,
                    help="also time the APPROXIMATE fast grid with this Riemannian-mean tolerance "
                         "(e.g. 1e-5; the exact mode uses pyRiemann's 1e-8) and compare its choice")
    ap.add_argument("--full-neurosig", action="store_true",
                    help="also time neurosig alone on MOABB's full 600-candidate grid (real data)")
    ap.add_argument("--shared-data", default=os.environ.get("NEUROSIG_SHARED_DATA",
                                                            str(ROOT.parent / "shared" / "data")))
    args = ap.parse_args(argv)
    import numpy
    import pyriemann
    import sklearn
    print(f"machine: {os.cpu_count()} CPUs; numpy {numpy.__version__}, sklearn {sklearn.__version__}, "
          f"pyriemann {pyriemann.__version__}; BLAS threads per worker: 1")
    shared = Path(args.shared_data)
    datasets = {}
    if args.data in ("real", "both") or args.quick:
        if (shared / "MANIFEST.md").is_file():
            datasets["PhysionetMI S1 (real)"] = load_physionet(shared)
        else:
            print(f"real data not found at {shared}: skipped")
    if args.data in ("synthetic", "both") and not args.quick:
        datasets["synthetic (this script)"] = _synthetic()
    grid = dict(QUICK_GRID if args.quick else REDUCED_GRID)
    if args.orders:
        grid["order"] = args.orders
    if args.lags:
        grid["lag"] = args.lags
    cores = [1] if args.quick else args.cores
    repeats = 1 if args.quick else args.repeats
    rows = [run_setting(n, X, y, grid, c, repeats, seed=42, mean_tol=args.mean_tol)
            for n, (X, y) in datasets.items() for c in cores]
    if args.full_neurosig and "PhysionetMI S1 (real)" in datasets:
        from sklearn.model_selection import StratifiedKFold

        from neurosig.riemann.fast_grid import MOABB_GRID, fast_grid_search
        X, y = datasets["PhysionetMI S1 (real)"]
        t0 = time.perf_counter()
        res = fast_grid_search(X, y, MOABB_GRID, cv=StratifiedKFold(3, shuffle=True, random_state=42),
                               n_jobs=max(cores))
        full_s = time.perf_counter() - t0
        print(f"\n== neurosig on MOABB's full grid (600 candidates), real data, {max(cores)} core(s): "
              f"{full_s:.1f} s; best {res.best_params} inner AUC {res.best_score:.4f}; "
              f"{len(res.excluded)} of 100 (order, lag) excluded as not SPD "
              f"(orders {sorted({e['order'] for e in res.excluded})})")
    if not rows:
        print("no data: nothing measured")
        return 1
    worst = min(rows, key=lambda r: r["ref_s"] / r["ns_s"])
    all_same = all(r["same"] for r in rows)
    tk = min(r["full_est"] / r["tk_s"] for r in rows)
    print(f"acm grid: {worst['ref_s'] / worst['ns_s']:.1f}x faster than MOABB (worst setting; target >= 20x), "
          f"{'identical choices and scores' if all_same else 'CHOICES OR SCORES DIFFER'}; "
          f"Takens (selection + fit) {tk:.0f}x vs the extrapolated full grid (target >= 500x); "
          f"with pyRiemann's mean iterates {min(r['ref_s'] / r['pyr_s'] for r in rows):.1f}x")
    if args.mean_tol is not None:
        wa = min(rows, key=lambda r: r["ref_s"] / r["approx"][0])
        print(f"approximate fast grid (mean_tol={args.mean_tol:g}): {wa['ref_s'] / wa['approx'][0]:.1f}x "
              f"(worst setting), same choice in all settings: {all(r['approx'][1] for r in rows)}, "
              f"max |d best inner AUC| {max(r['approx'][2] for r in rows):.4f} (target: same choice, <= 0.005)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
