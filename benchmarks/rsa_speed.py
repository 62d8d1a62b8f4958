"""neurosig.evaluation.rsa vs rsatoolbox, side by side on the same inputs (one process).

(a) crossnobis RDMs: 100 subjects x 92 conditions x 1,000 voxels (4 runs, identity noise,
    rsatoolbox's default), and the same with a shared noise precision (reported, not a target);
(b) geo-topological (pooled quantiles 0.1, 0.5) + geodesic transforms of 1,000 RDMs of 92 conditions,
    in two layouts: square matrices (as an rsatoolbox ``RDMs`` object is usually built) and condensed
    vectors. Every timed run is a fresh interpreter (inputs, including the rsatoolbox ``RDMs`` object,
    built before the clock starts, then a warm-up on 4 RDMs); rsatoolbox and neurosig alternate.
    rsatoolbox builds one networkx graph per RDM, edge by edge: repeated in one process its runs
    get slower (the interpreter's heap grows), which inflates a same-process median; a fresh process
    per run measures what one call costs a user. The values must be identical (max |diff| = 0);
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
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

TARGET = 20.0
ROOT = Path(__file__).resolve().parents[1]


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


TOPOLOGY_LAYOUTS = {
    "square": "square RDMs (n, 92, 92) of squared Euclidean distances, as rsatoolbox's RDMs are built "
              "from matrices",
    "condensed": "condensed vectors (n, 4186) of distances shifted by +1",
}


def _topology_data(layout, n_rdms, n_cond):
    from neurosig.evaluation.rsa import calc_rdm

    rng = np.random.default_rng(1)
    pats = rng.normal(size=(n_rdms, n_cond, 20))
    if layout == "square":
        return calc_rdm(pats, "euclidean", squareform=True)
    return 1.0 + calc_rdm(pats, "euclidean", squareform=False)


def topology_child(side, layout, n_rdms, n_cond, low, up, out):
    """One timed run in a fresh interpreter: inputs built first, a small warm-up, then the full stack."""
    data = _topology_data(layout, n_rdms, n_cond)
    if side == "rsatoolbox":
        from rsatoolbox.rdm import RDMs
        from rsatoolbox.rdm.transform import (
            geodesic_transform as ref_geo,
            geotopological_transform as ref_gt,
        )

        ref_geo(ref_gt(RDMs(data[:4].copy()), low, up))
        rdms = RDMs(data.copy())  # construction not timed (rsatoolbox's transforms mutate it: a copy)
        t, c = time.perf_counter(), time.process_time()
        res = ref_geo(ref_gt(rdms, low, up)).get_vectors()
    else:
        from neurosig.evaluation.rsa import geodesic_transform, geotopological_transform

        if side == "neurosig":  # rsatoolbox's conventions: pooled quantiles, min-max rescaling, 0 = no edge
            def run(x):
                return geodesic_transform(geotopological_transform(x, low, up, pooled=True),
                                          rescale=True, zero_edges=False)
        else:  # neurosig's defaults: per-RDM quantiles, zero-length edges kept
            def run(x):
                return geodesic_transform(geotopological_transform(x, low, up))
        run(data[:4])  # compiles (or loads) the shortest-path kernel
        t, c = time.perf_counter(), time.process_time()
        res = run(data)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    if side != "rsatoolbox":
        from neurosig.evaluation.rsa import as_vectors

        res = as_vectors(res, allow_inf=True)
    np.save(out, res)
    print(json.dumps({"wall": wall, "cpu": cpu}))


def _run_child(side, layout, n_rdms, n_cond, low, up, out):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--topology-child", side, layout, str(n_rdms),
           str(n_cond), str(low), str(up), str(out)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(f"{side} child failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_topology(n_rdms, n_cond, low, up, repeats, layout):
    """rsatoolbox vs neurosig, each run in its own fresh interpreter, alternating; values compared first."""
    import tempfile

    times = {"rsatoolbox": [], "neurosig": [], "neurosig-defaults": []}
    with tempfile.TemporaryDirectory() as tmp:
        outs = {k: Path(tmp) / f"{k}.npy" for k in times}
        for _ in range(repeats):
            for side in times:
                times[side].append(_run_child(side, layout, n_rdms, n_cond, low, up, outs[side]))
        r, m = np.load(outs["rsatoolbox"]), np.load(outs["neurosig"])
    same_inf = np.array_equal(np.isinf(r), np.isinf(m))
    diff = float(np.abs(np.where(np.isinf(r), 0, r) - np.where(np.isinf(m), 0, m)).max()) if same_inf else np.inf
    med = {k: (float(np.median([x["wall"] for x in v])), float(np.min([x["wall"] for x in v])),
               float(np.max([x["wall"] for x in v])), float(np.median([x["cpu"] for x in v])))
           for k, v in times.items()}
    rt, mt, dt = med["rsatoolbox"], med["neurosig"], med["neurosig-defaults"]
    ratio = report(f"(b) geotopological({low}, {up}) pooled + geodesic, {n_rdms} RDMs x {n_cond} cond, "
                   f"{TOPOLOGY_LAYOUTS[layout]}; each run in a fresh interpreter (rsatoolbox conventions)",
                   rt[0], rt[1:3], mt[0], mt[1:3], diff, tol=0.0)
    print(f"    identical values: {diff == 0.0}; CPU-time ratio {rt[3] / mt[3]:.1f}x; neurosig defaults "
          f"(per-RDM quantiles, zero-length edges kept): {dt[0]:.4f} s -> {rt[0] / dt[0]:.1f}x", flush=True)
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
    ap.add_argument("--topology-child", nargs=7, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.topology_child:
        side, layout, n_rdms, n_cond, low, up, out = args.topology_child
        topology_child(side, layout, int(n_rdms), int(n_cond), float(low), float(up), out)
        return 0
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
        for layout in TOPOLOGY_LAYOUTS:
            ratios[f"tRSA transforms ({layout})"] = bench_topology(*sizes["b"], 0.1, 0.5, args.repeats, layout)
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
