"""neurosig.evaluation.rsa vs rsatoolbox, side by side on the same inputs (one process).

(a) crossnobis RDMs: 100 subjects x 92 conditions x 1,000 voxels (4 runs, identity noise,
    rsatoolbox's default), and the same with a shared noise precision (reported, not a target);
(b) geo-topological + geodesic transforms of 1,000 RDMs of 92 conditions;
(c) 1,000 bootstrap samples (over subjects, noise ceiling in every sample) of the
    comparison of 8 model RDMs with 20 subjects' RDMs (92 conditions, Pearson).

Each part checks that both outputs agree (max abs difference) before printing times.
Both sides run single-threaded (BLAS pinned to 1 thread). rsatoolbox definitions are
used on the neurosig side where they differ (pooled quantiles, min-max rescaling,
0 = no edge), so that the outputs are comparable; neurosig's own defaults
(per-RDM quantiles, zero-length edges kept) are timed too.

    PYTHONPATH=$PWD python benchmarks/rsa_speed.py --quick     # < 1 minute
    PYTHONPATH=$PWD python benchmarks/rsa_speed.py             # full sizes (several minutes)
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

TARGET = 20.0


def timeit(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, np.median(times), (min(times), max(times))


def report(name, ref_t, ref_spread, ns_t, ns_spread, diff, tol=1e-8):
    ok = "agree" if diff <= tol else "DISAGREE"
    print(f"{name}: reference_s={ref_t:.3f} [{ref_spread[0]:.3f}, {ref_spread[1]:.3f}]  "
          f"neurosig_s={ns_t:.4f} [{ns_spread[0]:.4f}, {ns_spread[1]:.4f}]  ratio={ref_t / ns_t:.1f}x  "
          f"max|diff|={diff:.2e} ({ok})", flush=True)
    if diff > tol:
        raise SystemExit(f"{name}: outputs disagree (max abs difference {diff:.3g}); no ratio reported.")
    return ref_t / ns_t


def bench_crossnobis(n_subj, n_cond, n_vox, n_runs, repeats, noise):
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm as ref_calc

    from neurosig.evaluation.rsa import calc_rdm, noise_precision

    rng = np.random.default_rng(0)
    cond = np.tile(np.arange(n_cond), n_runs)
    runs = np.repeat(np.arange(n_runs), n_cond)
    X = rng.normal(size=(n_subj, n_cond * n_runs, n_vox))
    P = noise_precision(rng.normal(size=(3 * n_vox // 2, n_vox)), "shrinkage_diag") if noise else None

    def ref():
        return np.stack([ref_calc(Dataset(x, obs_descriptors={"c": cond, "r": runs}), method="crossnobis",
                                  descriptor="c", cv_descriptor="r", noise=P).get_vectors()[0] for x in X])

    def ns():
        return calc_rdm(X, "crossnobis", conditions=cond, folds=runs, noise=P, squareform=False)

    ns()  # warm-up
    r, rt, rs = timeit(ref, repeats)
    m, mt, ms = timeit(ns, repeats)
    diff = float(np.abs(r - m).max())
    tag = "shared noise precision" if noise else "identity noise"
    return report(f"(a) crossnobis {n_subj} subj x {n_cond} cond x {n_vox} vox, {n_runs} runs, {tag}",
                  rt, rs, mt, ms, diff)


def bench_topology(n_rdms, n_cond, low, up, repeats):
    from rsatoolbox.rdm import RDMs
    from rsatoolbox.rdm.transform import geodesic_transform as ref_geo
    from rsatoolbox.rdm.transform import geotopological_transform as ref_gt

    from neurosig.evaluation.rsa import geodesic_transform, geotopological_transform

    rng = np.random.default_rng(1)
    # RDMs of random patterns; distances shifted >= 1 so that rsatoolbox's in-place
    # threshold update (which clobbers linear values above the upper threshold) is exact
    pats = rng.normal(size=(n_rdms, n_cond, 20))
    from neurosig.evaluation.rsa import calc_rdm
    V = 1.0 + calc_rdm(pats, "euclidean", squareform=False)

    def ref():
        gt = ref_gt(RDMs(V.copy()), low, up)
        return ref_geo(gt).get_vectors()

    def ns():
        gt = geotopological_transform(V, low, up, pooled=True)
        return geodesic_transform(gt, rescale=True, zero_edges=False)

    def ns_default():
        return geodesic_transform(geotopological_transform(V, low, up))

    ns()
    r, rt, rs = timeit(ref, repeats)
    m, mt, ms = timeit(ns, repeats)
    _, dt, ds = timeit(ns_default, repeats)
    same_inf = np.array_equal(np.isinf(r), np.isinf(m))
    diff = float(np.abs(np.where(np.isinf(r), 0, r) - np.where(np.isinf(m), 0, m)).max()) if same_inf else np.inf
    ratio = report(f"(b) geotopological({low}, {up}) + geodesic, {n_rdms} RDMs x {n_cond} cond "
                   "(rsatoolbox conventions)", rt, rs, mt, ms, diff)
    print(f"    neurosig defaults (per-RDM quantiles, zero-length edges kept): {dt:.4f} s "
          f"[{ds[0]:.4f}, {ds[1]:.4f}] -> {rt / dt:.1f}x", flush=True)
    return ratio


def bench_bootstrap(n_subj, n_cond, n_models, n_boot, repeats, method="corr"):
    from rsatoolbox.inference import eval_bootstrap_rdm as ref_boot
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs

    from neurosig.evaluation.rsa import calc_rdm, eval_bootstrap_rdm

    rng = np.random.default_rng(2)
    truth = rng.normal(size=(n_cond, 30))
    data = calc_rdm(truth[None] + rng.normal(size=(n_subj, n_cond, 30)), "euclidean", squareform=False)
    models = calc_rdm(truth[None] + 2 * rng.normal(size=(n_models, n_cond, 30)), "euclidean", squareform=False)
    mods = [ModelFixed(f"m{i}", RDMs(models[i:i + 1].copy())) for i in range(n_models)]

    def ref():
        np.random.seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ref_boot(mods, RDMs(data.copy()), method=method, N=n_boot)
        return res.evaluations, res.noise_ceiling

    np.random.seed(0)
    samples = np.stack([np.random.randint(0, n_subj, size=n_subj) for _ in range(n_boot)])

    def ns():
        res = eval_bootstrap_rdm(models, data, method, samples=samples)
        return res.evaluations, res.noise_ceiling

    import rsatoolbox.inference.evaluate as ev

    ev.tqdm.trange = range  # no progress bar in the reference loop (it would only add time)
    ns()
    r, rt, rs = timeit(ref, repeats)
    m, mt, ms = timeit(ns, repeats)
    diff = max(float(np.abs(r[0] - m[0]).max()), float(np.abs(r[1] - m[1]).max()))
    return report(f"(c) eval_bootstrap_rdm, {n_boot} samples, {n_models} models x {n_subj} subjects x "
                  f"{n_cond} cond ({method}, noise ceiling per sample)", rt, rs, mt, ms, diff)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--parts", default="abc", help="which parts to run, e.g. 'a' or 'bc' (default: all)")
    ap.add_argument("--method", default="corr", help="comparison method of part (c) (default: corr)")
    args = ap.parse_args(argv)
    from importlib.metadata import version

    import rsatoolbox  # noqa: F401  (fail early when the reference is missing)

    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"numpy {np.__version__}, scipy {version('scipy')}, rsatoolbox {version('rsatoolbox')}; "
          "BLAS/OpenMP threads pinned to 1 on both sides", flush=True)
    if args.quick:
        sizes = dict(a=(10, 92, 1000, 4), a_noise=(5, 92, 300, 4), b=(60, 92), c=(10, 92, 8, 100))
    else:
        sizes = dict(a=(100, 92, 1000, 4), a_noise=(20, 92, 1000, 4), b=(1000, 92), c=(20, 92, 8, 1000))
    ratios = {}
    if "a" in args.parts:
        ratios["crossnobis"] = bench_crossnobis(*sizes["a"], args.repeats, noise=False)
        bench_crossnobis(*sizes["a_noise"], args.repeats, noise=True)
    if "b" in args.parts:
        ratios["tRSA transforms"] = bench_topology(*sizes["b"], 0.1, 0.5, args.repeats)
    if "c" in args.parts:
        ratios["bootstrap"] = bench_bootstrap(*sizes["c"], args.repeats, method=args.method)
    worst = min(ratios.values())
    verdict = "met" if worst >= TARGET else "NOT met"
    print("rsa speed: " + ", ".join(f"{k} {v:.1f}x" for k, v in ratios.items()) + " faster than rsatoolbox; "
          f"slowest {worst:.1f}x (target >= {TARGET:.0f}x each: {verdict}), outputs agree"
          + (" [--quick sizes]" if args.quick else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
