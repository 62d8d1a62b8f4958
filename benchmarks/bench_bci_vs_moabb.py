"""neurosig.benchmark vs MOABB's WithinSessionEvaluation: same data, pipelines, folds.

Both sides run the shipped default pipelines (CSP+LDA, TS+SVM, MDM) within-session,
left vs right hand, on the simulated dataset, in this process, one after the other,
on data already generated (the simulated dataset is loaded once before timing).
neurosig runs with ``n_permutations=0`` (equal work: no chance-level permutations)
and a fresh results database each repeat. The scores must agree (float32, as MOABB
stores them) before any ratio is printed.

    python benchmarks/bench_bci_vs_moabb.py [--quick] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # 1 worker x 1 thread on both sides

import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 subjects, 1 run (about a minute)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (default 3; 2 with --quick)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.repeats is None:
        args.repeats = 2 if args.quick else 3

    import moabb
    import sklearn
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import LeftRightImagery

    from neurosig.datasets import SimulatedMotorImagery
    from neurosig.evaluation import bci
    from neurosig.pipelines import load_pipelines

    moabb.set_log_level("ERROR")
    n_sub, n_runs, n_trials = (2, 1, 24) if args.quick else (6, 3, 48)
    ds = SimulatedMotorImagery(n_subjects=n_sub, n_runs=n_runs, n_trials_per_run=n_trials, seed=42)
    specs = load_pipelines()
    paradigm = LeftRightImagery()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; numpy "
          f"{np.__version__}, scikit-learn {sklearn.__version__}, moabb {moabb.__version__}; "
          f"threads per side: 1; dataset: {n_sub} simulated subjects x 2 sessions x {n_runs} runs x {n_trials} trials")
    # Generate the data once outside the timings (both sides would pay for it).
    paradigm.get_data(ds, subjects=ds.subject_list)

    def run_moabb(tmp):
        ev = WithinSessionEvaluation(paradigm=paradigm, datasets=[ds], random_state=42,
                                     overwrite=True, hdf5_path=tmp)
        return ev.process({s.name: s.build() for s in specs})

    def run_neurosig(tmp):
        bci.clear_worker_caches()
        return bci.benchmark([ds], pipelines=specs, results=os.path.join(tmp, "r.sqlite"), out=None,
                             verbose=False, n_permutations=0, seed=42)

    # MOABB's own get_data caching is not used; load time is inside both timings.
    times = {"moabb": [], "neurosig": []}
    out = {}
    for rep in range(args.repeats + 1):  # first round = warm-up
        for name, fn in (("moabb", run_moabb), ("neurosig", run_neurosig)):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                out[name] = fn(tmp)
                dt = time.perf_counter() - t0
            if rep:
                times[name].append(dt)
    key = ["subject", "session", "pipeline"]
    a = out["neurosig"].assign(subject=lambda d: d.subject.astype(str)).set_index(key).sort_index()
    b = out["moabb"].assign(subject=lambda d: d.subject.astype(str),
                            session=lambda d: d.session.astype(str)).set_index(key).sort_index()
    same = list(a.index) == list(b.index) and np.array_equal(a.score.to_numpy(np.float32),
                                                             b.score.to_numpy(np.float32))
    print(f"scores identical (float32, {len(a)} rows): {same}")
    if not same:
        raise SystemExit("outputs differ: no ratio printed")
    ref, ns = np.median(times["moabb"]), np.median(times["neurosig"])
    print(f"reference_s (MOABB WithinSessionEvaluation): median {ref:.2f} "
          f"[{min(times['moabb']):.2f}-{max(times['moabb']):.2f}] over {args.repeats}")
    print(f"neurosig_s (neurosig.benchmark):              median {ns:.2f} "
          f"[{min(times['neurosig']):.2f}-{max(times['neurosig']):.2f}] over {args.repeats}")
    print(f"bci within-session: {ref / ns:.1f}x faster than MOABB (no target), identical scores")


if __name__ == "__main__":
    main()
