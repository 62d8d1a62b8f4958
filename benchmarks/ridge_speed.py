"""Many-alpha ridge: neurosig's eigendecomposition path vs himalaya and scikit-learn, and NSD loader memory.

(h) ``FastRidgeCV`` vs himalaya's ``RidgeCV`` (numpy backend), same ``KFold`` folds, same alphas, an
    intercept on both sides, one alpha per target, on two shapes: fewer samples than features
    (1,000 x 1,500, 5,000 targets; neurosig solves the dual: the folds partition the samples, so one
    eigendecomposition of all samples serves every fold, through the block leave-out identity, and
    the refit) and more samples than features (600 x 300, 1,000 targets; primal, one per fold). Runs alternate (himalaya, neurosig, himalaya, ...)
    after one warm-up each; the ratio is of the medians. Before timing, the chosen alphas are
    compared: with ``scoring="neg_mean_squared_error"`` (himalaya's criterion, the mean over folds of
    minus the mean squared error) they must be the same on every target and the weights equal; with
    the default ``scoring="r2"`` (mean over folds of R^2, scikit-learn's criterion) the script counts
    the targets whose alpha differs and checks that each of them is the one where the two criteria
    rank the alphas differently.

(a) ``FastRidgeCV(alpha_per_target=False)`` vs ``GridSearchCV(Ridge)`` over the same alphas and
    folds (one alpha for all targets): cross-validated scores must agree to 1e-8 (float64).
(b) ``FastRidgeCV(alpha_per_target=True)`` vs a per-fold loop of scikit-learn ``Ridge`` fits that
    picks one alpha per target (``RidgeCV`` refuses ``alpha_per_target`` with explicit folds):
    identical choices.
(c) Memory: a generated NSD subject (HDF5 betas) with an ROI of ``--roi-voxels`` voxels and
    ``--trials`` trials is loaded (z-scored) in a subprocess; the increase of its peak RSS (VmHWM) over the
    interpreter's baseline (after imports) is compared with the ROI's float32 betas. With
    ``--space fsaverage`` the subject has surface betas (``lh./rh.betas_sessionSS.mgh``, float32) on an
    icosphere big enough for the ROI (``nsdgeneral``, both hemispheres), read once and cached per ROI.

Usage: ``python benchmarks/ridge_speed.py [--quick] [--parts habc]``. The last line is the headline.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timeit(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times)), float(np.min(times)), float(np.max(times))


def make_data(n, p, t, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    W = rng.standard_normal((p, t)) * (rng.random(t) < 0.7)
    Y = X @ W / np.sqrt(p) + rng.standard_normal((n, t)) * rng.uniform(0.5, 5.0, t)
    return X, Y


def bench_grid(X, Y, alphas, folds, repeat):
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, KFold

    from neurosig.models.ridge import FastRidgeCV

    cv = KFold(folds)
    def ref():
        return GridSearchCV(Ridge(), {"alpha": list(alphas)}, cv=cv).fit(X, Y)
    def ours():
        return FastRidgeCV(alphas, cv=cv, alpha_per_target=False).fit(X, Y)
    g, ref_s, ref_lo, ref_hi = timeit(ref, repeat)
    f, our_s, our_lo, our_hi = timeit(ours, repeat)
    diff = float(np.max(np.abs(g.cv_results_["mean_test_score"] - f.cv_scores_.mean(axis=1))))
    same = g.best_params_["alpha"] == f.alpha_[0]
    coef_diff = float(np.max(np.abs(g.best_estimator_.coef_ - f.coef_)))
    return dict(reference_s=ref_s, ref_spread=(ref_lo, ref_hi), neurosig_s=our_s, ours_spread=(our_lo, our_hi),
                ratio=ref_s / our_s, max_score_diff=diff, same_alpha=bool(same), max_coef_diff=coef_diff)


def _alternate(fns, repeat):
    """Warm each function once, then run them in turn ``repeat`` times; medians and spreads."""
    outs = [fn() for fn in fns]
    times = [[] for _ in fns]
    cpu = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t, c = time.perf_counter(), time.process_time()
            outs[i] = fn()
            times[i].append(time.perf_counter() - t)
            cpu[i].append(time.process_time() - c)
    return outs, [(float(np.median(x)), float(np.min(x)), float(np.max(x)), float(np.median(c)))
                  for x, c in zip(times, cpu)]


def bench_himalaya(X, Y, alphas, folds, repeat):
    """FastRidgeCV vs himalaya's RidgeCV: alpha agreement under both criteria, then alternating timings."""
    import warnings

    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    from sklearn.model_selection import KFold

    from neurosig.models.ridge import FastRidgeCV

    set_backend("numpy")
    cv = KFold(folds)

    def ref():
        with warnings.catch_warnings():  # "n_samples < n_features: use KernelRidgeCV" (kept as users run it)
            warnings.simplefilter("ignore", UserWarning)
            return RidgeCV(alphas=alphas, fit_intercept=True, cv=cv).fit(X, Y)

    def ours(scoring="neg_mean_squared_error"):
        return FastRidgeCV(alphas, cv=cv, scoring=scoring).fit(X, Y)

    (h, f), stats = _alternate([ref, ours], repeat)
    # himalaya stores exp(-log(alpha)): compare indices into the alpha grid
    h_idx = np.abs(np.log(np.asarray(h.best_alphas_))[None] - np.log(alphas)[:, None]).argmin(0)
    f_idx = np.searchsorted(alphas, f.alpha_)
    same = h_idx == f_idx
    coef_diff = float(np.max(np.abs(np.asarray(h.coef_).T - f.coef_) / (np.abs(f.coef_).max() + 1e-300)))
    # default criterion (R^2 averaged over folds): which targets differ, and why
    r2 = ours("r2")
    r2_idx = np.searchsorted(alphas, r2.alpha_)
    differ = r2_idx != h_idx
    # each differing target: the MSE criterion prefers himalaya's alpha over the R^2 choice and the
    # R^2 criterion the reverse (the two averages rank the two alphas differently)
    t_idx = np.flatnonzero(differ)
    mse_prefers_h = f.cv_scores_[h_idx[t_idx], t_idx] >= f.cv_scores_[r2_idx[t_idx], t_idx]
    r2_prefers_own = r2.cv_scores_[r2_idx[t_idx], t_idx] >= r2.cv_scores_[h_idx[t_idx], t_idx]
    explained = int(np.sum(mse_prefers_h & r2_prefers_own))
    return dict(reference_s=stats[0][0], ref_spread=stats[0][1:3], neurosig_s=stats[1][0],
                ours_spread=stats[1][1:3], ratio=stats[0][0] / stats[1][0], cpu_ratio=stats[0][3] / stats[1][3], same_frac=float(same.mean()),
                n_same=int(same.sum()), coef_rel_diff=coef_diff, r2_same_frac=float(1 - differ.mean()),
                r2_n_differ=int(differ.sum()), r2_explained=explained)


def run_himalaya(cases, alphas, folds, repeat):
    heads = []
    for case, (n, p, t, target) in cases.items():
        X, Y = make_data(n, p, t)
        form = "dual" if p > n * (folds - 1) / folds else "primal"
        print(f"[{case}] (h) himalaya RidgeCV vs FastRidgeCV: X {X.shape}, {t} targets, {len(alphas)} alphas, "
              f"{folds}-fold KFold, float64, intercept, neurosig solves the folds in the {form}", flush=True)
        h = bench_himalaya(X, Y, alphas, folds, repeat)
        ok = h["same_frac"] >= 0.995 and h["coef_rel_diff"] < 1e-8
        print(f"[{case}] (h) reference_s={h['reference_s']:.3f} (himalaya, min/max {h['ref_spread'][0]:.3f}/"
              f"{h['ref_spread'][1]:.3f})  neurosig_s={h['neurosig_s']:.3f} (min/max {h['ours_spread'][0]:.3f}/"
              f"{h['ours_spread'][1]:.3f})  ratio={h['ratio']:.2f}x (target >= {target:g}x); CPU-time ratio "
              f"{h['cpu_ratio']:.2f}x")
        print(f"[{case}] (h) scoring='neg_mean_squared_error' (himalaya's criterion): same alpha on "
              f"{h['n_same']}/{t} targets ({100 * h['same_frac']:.2f} %), max |coef diff| / max |coef| = "
              f"{h['coef_rel_diff']:.1e}")
        print(f"[{case}] (h) scoring='r2' (default, mean R^2 over folds): same alpha on "
              f"{100 * h['r2_same_frac']:.2f} % of targets; {h['r2_n_differ']} differ, of which "
              f"{h['r2_explained']} rank the two alphas in opposite order under the two criteria", flush=True)
        heads.append(f"{case} {h['ratio']:.2f}x himalaya (target >= {target:g}x: "
                     f"{'met' if h['ratio'] >= target else 'NOT met'}), same alpha {100 * h['same_frac']:.2f} %"
                     f"{'' if ok else ' (DISAGREE)'}")
    return heads


def bench_per_target(X, Y, alphas, folds, repeat):
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold

    from neurosig.models.ridge import FastRidgeCV

    cv = KFold(folds)

    def ref():
        scores = np.zeros((len(alphas), Y.shape[1]))
        for tr, te in cv.split(X):
            for a, alpha in enumerate(alphas):
                m = Ridge(alpha=alpha).fit(X[tr], Y[tr])
                scores[a] += r2_score(Y[te], m.predict(X[te]), multioutput="raw_values") / folds
        best = scores.argmax(0)
        return scores, np.asarray(alphas)[best]

    def ours():
        return FastRidgeCV(alphas, cv=cv, alpha_per_target=True).fit(X, Y)
    (scores, ref_alpha), ref_s, ref_lo, ref_hi = timeit(ref, repeat)
    f, our_s, our_lo, our_hi = timeit(ours, repeat)
    identical = bool(np.array_equal(ref_alpha, f.alpha_))
    n_diff = int(np.sum(ref_alpha != f.alpha_))
    diff = float(np.max(np.abs(scores - f.cv_scores_)))
    return dict(reference_s=ref_s, ref_spread=(ref_lo, ref_hi), neurosig_s=our_s, ours_spread=(our_lo, our_hi),
                ratio=ref_s / our_s, identical_choices=identical, n_different=n_diff, max_score_diff=diff)


_MEM_CHILD = r"""
import json, resource, sys, numpy as np


def peak_bytes():
    # VmHWM: peak resident set of this process image (Linux; ru_maxrss would include the parent's
    # peak inherited through fork+exec)
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


sys.path.insert(0, sys.argv[3])
from neurosig.datasets.nsd import NSD
import nilearn.maskers, h5py, pandas, scipy.sparse  # imports belong to the baseline
ds = NSD(sys.argv[1], 1, space=sys.argv[4], cache_dir=sys.argv[2], verbose=False)
ds.masker("nsdgeneral")
base = peak_bytes()
X, info = ds.get_betas("nsdgeneral", zscore=True)
peak = peak_bytes()
print(json.dumps({"base": base, "peak": peak, "shape": list(X.shape), "nbytes": X.nbytes,
                  "finite": bool(np.isfinite(X).all())}))
"""


def bench_memory(n_voxels, n_trials, tmp, betas_format="hdf5", space="func1pt8mm"):
    from neurosig.datasets.synthetic_nsd import make_synthetic_nsd

    tps = 750 if n_trials >= 750 else n_trials
    n_ses = int(np.ceil(n_trials / tps))
    n_total = max(n_ses, 4)
    side = int(np.ceil((n_voxels / 0.42) ** (1 / 3)))  # the labelled part of the ball fills ~42% of the box
    shape = (side, side, side)
    ico = None
    if space == "fsaverage":  # nsdgeneral = posterior cap (y < -0.3, 35% of each sphere) of both hemispheres
        ico = next(k for k in range(1, 9) if 0.7 * (10 * 4 ** k + 2) >= n_voxels)
        shape = (6, 6, 6)
    t0 = time.perf_counter()
    make_synthetic_nsd(tmp, subjects=(1,), n_sessions_present=n_ses, trials_per_session=tps,
                       n_sessions_total=n_total, images_per_subject=tps * n_total // 3,
                       n_images_total=max(2000, tps * n_total), n_shared=100, shape=shape,
                       betas_format=betas_format, annotate=False, n_features=4, surface_ico=ico)
    gen_s = time.perf_counter() - t0
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", _MEM_CHILD, str(tmp), str(Path(tmp) / "cache"), str(root), space],
                         capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["increase"] = res["peak"] - res["base"]
    res["ratio"] = res["increase"] / res["nbytes"]
    res["gen_s"] = gen_s
    res["format"] = "fsaverage .mgh" if space == "fsaverage" else betas_format
    return res


def _print_memory(m):
    print(f"(c) memory: ROI betas {m['shape']} float32 = {m['nbytes'] / 2**20:.0f} MiB (z-scored per session); "
          f"peak RSS {m['base'] / 2**20:.0f} -> {m['peak'] / 2**20:.0f} MiB (VmHWM of a fresh subprocess), increase "
          f"{m['increase'] / 2**20:.0f} MiB = {m['ratio']:.2f}x the betas (target <= 2x)  "
          f"[generation {m['gen_s']:.0f} s, {m['format']} sessions]")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    ap.add_argument("--skip-memory", action="store_true", help="skip (c)")
    ap.add_argument("--memory-only", action="store_true", help="run (c) only")
    ap.add_argument("--betas-format", default="hdf5", choices=("hdf5", "nii.gz"),
                    help="session file format of the generated subject in (c)")
    ap.add_argument("--space", default="func1pt8mm", choices=("func1pt8mm", "fsaverage"),
                    help="betas space of the generated subject in (c): volume or fsaverage surface")
    ap.add_argument("--case", default="both", choices=("primal", "kernel", "both"),
                    help="problem shape for (a) and (b)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads for both sides (default 1)")
    ap.add_argument("--parts", default="habc",
                    help="h: vs himalaya, a/b: vs scikit-learn, c: loader memory (default: habc)")
    args = ap.parse_args(argv)
    import sklearn
    import threadpoolctl

    threadpoolctl.threadpool_limits(args.threads)

    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"numpy {np.__version__}, scikit-learn {sklearn.__version__}")
    print(f"BLAS threads: {[i.get('num_threads') for i in threadpoolctl.threadpool_info()]}")
    # two shapes: "primal" (features < trials: X^T X eigendecomposition, e.g. encoding from
    # a few hundred stimulus features) and "kernel" (voxels > trials: X X^T, e.g. decoding from an ROI)
    if args.quick:
        cases = {"primal": (300, 100), "kernel": (150, 400)}
        t, n_alphas, folds, repeat = 1000, 10, 3, 3
        mem_vox, mem_trials = 6000, 2250
    else:
        cases = {"primal": (1000, 300), "kernel": (600, 1500)}
        t, n_alphas, folds, repeat = 1000, 20, 5, 3
        mem_vox, mem_trials = 15000, 10000
    if args.case != "both":
        cases = {args.case: cases[args.case]}
    if args.memory_only or set(args.parts) == {"c"}:
        with tempfile.TemporaryDirectory() as tmp:
            m = bench_memory(mem_vox, mem_trials, tmp, args.betas_format, args.space)
        _print_memory(m)
        print(f"nsd loader memory: peak increase {m['ratio']:.2f}x the ROI's float32 betas (target <= 2x)")
        return
    heads = []
    if "h" in args.parts:
        if args.quick:
            h_cases = {"dual": (200, 300, 500, 3.0), "primal": (300, 100, 500, 2.0)}
        else:
            h_cases = {"dual": (1000, 1500, 5000, 3.0), "primal": (600, 300, 1000, 2.0)}
        if args.case != "both":
            h_cases = {k: v for k, v in h_cases.items() if k == {"kernel": "dual"}.get(args.case, args.case)}
        heads += run_himalaya(h_cases, np.logspace(-2, 5, 8), 5, repeat)
    alphas = np.logspace(-2, 5, n_alphas)
    for case, (n, p) in (cases.items() if set("ab") & set(args.parts) else ()):
        X, Y = make_data(n, p, t)
        print(f"[{case}] data: X {X.shape}, Y {Y.shape} ({t} targets), {n_alphas} alphas, {folds}-fold KFold, "
              f"float64, {repeat} repeats after a warm-up (median)")
        a = bench_grid(X, Y, alphas, folds, repeat)
        print(f"[{case}] (a) one alpha for all targets: reference_s={a['reference_s']:.3f} (GridSearchCV(Ridge), "
              f"min/max {a['ref_spread'][0]:.3f}/{a['ref_spread'][1]:.3f})  neurosig_s={a['neurosig_s']:.3f} "
              f"(min/max {a['ours_spread'][0]:.3f}/{a['ours_spread'][1]:.3f})  ratio={a['ratio']:.1f}x  "
              f"max |mean_test_score diff|={a['max_score_diff']:.2e}  same alpha={a['same_alpha']}  "
              f"max |coef diff|={a['max_coef_diff']:.2e}")
        b = bench_per_target(X, Y, alphas, folds, repeat)
        print(f"[{case}] (b) one alpha per target: reference_s={b['reference_s']:.3f} (per-fold loop of Ridge, "
              f"min/max {b['ref_spread'][0]:.3f}/{b['ref_spread'][1]:.3f})  neurosig_s={b['neurosig_s']:.3f}  "
              f"ratio={b['ratio']:.1f}x  identical choices={b['identical_choices']} "
              f"({b['n_different']} of {t} differ)  max |score diff|={b['max_score_diff']:.2e}")
        ok_a = a["max_score_diff"] <= 1e-8 and a["same_alpha"]
        heads.append(f"{case} {a['ratio']:.1f}x vs GridSearchCV (target >= 10x, scores agree: {ok_a}) / "
                     f"{b['ratio']:.1f}x vs Ridge loop (target >= 3x, identical choices: {b['identical_choices']})")
    mem = ""
    if not args.skip_memory and "c" in args.parts:
        with tempfile.TemporaryDirectory() as tmp:
            m = bench_memory(mem_vox, mem_trials, tmp, args.betas_format, args.space)
        _print_memory(m)
        mem = f"; memory {m['ratio']:.2f}x the ROI betas (target <= 2x)"
    print("ridge: " + "; ".join(heads) + mem)


if __name__ == "__main__":
    main()
