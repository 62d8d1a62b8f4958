"""Dask scaling of the simulated BCI benchmark: sequential vs a LocalCluster of 2 workers.

Reference: ``benchmark(...)`` sequentially in this process (1 BLAS thread).
neurosig: the same ``benchmark(..., scheduler=ADDRESS)`` on a LocalCluster of 2
single-threaded worker processes (1 BLAS thread each: ``OMP_NUM_THREADS`` and friends are
set before numpy is imported and inherited by the workers, threadpoolctl pins this process).
Both runs compute the same tasks (one per (subject, pipeline)) on the same simulated data;
the stored rows (scores, fold scores, p-values) are checked equal before any ratio is printed.
Each repeat uses a new dataset seed on both sides, so no side reuses cached data.

Control: the same benchmark on a local ProcessPoolExecutor of 2 processes (no Dask), to
separate what the machine gives 2 processes from what Dask costs.

Also measured: the per-task overhead of ``run_tasks`` on Dask (N trivial tasks on the
running cluster vs the same tasks sequentially; fixed cost of one call = client connection).

Usage::

    PYTHONPATH=$PWD python benchmarks/dask_scaling.py --quick   # about a minute
    PYTHONPATH=$PWD python benchmarks/dask_scaling.py           # 8 subjects, 3 repeats
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def _noop(x):
    return x


def _cpu_s() -> float:
    """CPU seconds (user + system) used so far by the calling process."""
    t = os.times()
    return t.user + t.system


def _workers_cpu(client) -> float:
    return float(sum(client.run(_cpu_s).values()))


def _rows(df):
    d = df.sort_values(["subject", "session", "pipeline"]).reset_index(drop=True)
    extra = [{k: v for k, v in e.items() if k != "time"} for e in d["extra"]]
    return (d[["subject", "session", "pipeline", "score", "samples"]].to_dict("records"),
            list(d["fold_scores"]), extra)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 subjects, 1 repeat (about a minute)")
    ap.add_argument("--subjects", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--trivial-tasks", type=int, default=None)
    ap.add_argument("--sessions", type=int, default=None,
                    help="sessions per subject (default 2; 1 with --quick): more work per task")
    ap.add_argument("--pipelines", nargs="+", default=None,
                    help="pipeline names from the default set (default: CSP+LDA TS+SVM MDM; "
                         "CSP+LDA MDM with --quick)")
    args = ap.parse_args()
    n_sub = args.subjects or (4 if args.quick else 8)
    repeats = args.repeats or (1 if args.quick else 3)
    n_triv = args.trivial_tasks or (100 if args.quick else 500)
    n_ses = args.sessions or (1 if args.quick else 2)
    names = args.pipelines or (["CSP+LDA", "MDM"] if args.quick else ["CSP+LDA", "TS+SVM", "MDM"])

    import mne
    import torch
    from distributed import Client
    from threadpoolctl import threadpool_limits

    from neurosig.datasets import SimulatedMotorImagery
    from neurosig.evaluation.bci import benchmark
    from neurosig.parallel import local_cluster, run_tasks
    from neurosig.pipelines import load_pipelines

    warnings.filterwarnings("ignore")
    mne.set_log_level("ERROR")
    threadpool_limits(1)
    torch.set_num_threads(1)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, python "
          f"{platform.python_version()}, numpy {np.__version__}; BLAS threads 1 on both sides")
    pipes = [p for p in load_pipelines() if p.name in names]
    if len(pipes) != len(names):
        raise SystemExit(f"--pipelines: unknown name among {names}; "
                         f"known: {[p.name for p in load_pipelines()]}")
    tmp = Path(tempfile.mkdtemp(prefix="dask_scaling_"))

    def run(seed, scheduler=None, n=n_sub, tag="", **kw):
        ds = SimulatedMotorImagery(n_subjects=n, n_sessions=n_ses, n_runs=3, n_trials_per_run=48, seed=seed)
        t0 = time.perf_counter()
        df = benchmark(datasets=[ds], pipelines=pipes, results=tmp / f"{tag}{seed}.sqlite", out=None,
                       n_permutations=1000, verbose=False, scheduler=scheduler, **kw)
        return time.perf_counter() - t0, df

    cluster = local_cluster(2)  # neurosig's LocalCluster (glibc's default malloc trim threshold)
    addr = cluster.scheduler_address
    probe = Client(addr)  # reads the workers' CPU counters
    try:
        run(1000, None, n=1, tag="warm-seq")      # warm-up: imports, pipelines
        run(1000, addr, n=2, tag="warm-dask")     # warm-up: imports in both workers
        ref_t, dask_t, ref_cpu, dask_cpu, proc_t = [], [], [], [], []
        for r in range(repeats):
            c0 = _cpu_s()
            ts, a = run(r, None, tag="seq")
            c1 = _cpu_s()
            w0 = _workers_cpu(probe)
            td, b = run(r, addr, tag="dask")
            w1, c2 = _workers_cpu(probe), _cpu_s()
            tp, c = run(r, None, tag="proc", backend="processes", n_jobs=2)  # machine control, no Dask
            if _rows(a) != _rows(c):
                raise SystemExit("MISMATCH: the processes run's rows differ from the sequential run's")
            proc_t.append(tp)
            ref_cpu.append(c1 - c0)
            dask_cpu.append((w1 - w0, c2 - c1))
            if _rows(a) != _rows(b):
                raise SystemExit("MISMATCH: the Dask run's rows differ from the sequential run's")
            ref_t.append(ts)
            dask_t.append(td)
            print(f"repeat {r}: {len(a)} rows identical; sequential {ts:.2f} s wall ({c1 - c0:.2f} CPU s), "
                  f"dask {td:.2f} s wall ({w1 - w0:.2f} CPU s in the 2 workers, {c2 - c1:.2f} in the "
                  f"client + scheduler); control: local processes n_jobs=2 {tp:.2f} s")

        # per-task overhead: N trivial tasks through run_tasks on the running cluster
        tasks = list(range(n_triv))
        t0 = time.perf_counter()
        run_tasks(_noop, tasks, verbose=False)
        seq_triv = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_tasks(_noop, [0], scheduler=addr, verbose=False)
        one = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = run_tasks(_noop, tasks, scheduler=addr, verbose=False)
        many = time.perf_counter() - t0
        assert [o.value for o in out] == tasks
    finally:
        probe.close()
        cluster.close()

    ref, neu = float(np.median(ref_t)), float(np.median(dask_t))
    n_tasks = n_sub * len(pipes)
    per_task = (many - one) / max(1, n_triv - 1)
    print(f"\nworkload: {n_sub} subjects x {len(pipes)} pipelines = {n_tasks} tasks "
          f"({n_ses} session(s) of 144 trials each, 1000 permutations), {repeats} repeat(s)")
    print(f"reference_s (sequential, 1 process x 1 thread): {ref:.2f}  (runs: {', '.join(f'{t:.2f}' for t in ref_t)})")
    print(f"neurosig_s  (Dask LocalCluster, 2 workers x 1 thread): {neu:.2f}  "
          f"(runs: {', '.join(f'{t:.2f}' for t in dask_t)})")
    print(f"control (no Dask): local ProcessPoolExecutor, 2 processes x 1 thread: "
          f"{float(np.median(proc_t)):.2f} s, {ref / float(np.median(proc_t)):.2f}x vs sequential "
          f"(what 2 processes get from this machine now)")
    print(f"per-task overhead on Dask: {1e3 * per_task:.2f} ms/task marginal ({n_triv} trivial tasks: "
          f"{many:.2f} s; sequential {seq_triv * 1e3:.1f} ms in all); one call (client connection + "
          f"1 task): {one:.2f} s")
    wcpu = float(np.median([w for w, _ in dask_cpu]))
    print(f"CPU seconds (median): sequential {np.median(ref_cpu):.2f}, Dask workers {wcpu:.2f} "
          f"(+ client/scheduler {np.median([c for _, c in dask_cpu]):.2f}); "
          f"(an idle worker uses about 0.03 CPU s per s); sequential share of a core during its run: "
          f"{np.median(ref_cpu) / ref:.2f}, Dask workers' share: {wcpu / neu:.2f} of the 2 cores asked for")
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (shared machine: "
          f"the speed-up is bounded by the idle cores)")
    print(f"dask scaling: {ref / neu:.2f}x faster on 2 workers than sequential (target: close to 2x), "
          f"identical rows")


if __name__ == "__main__":
    main()
