"""Local scale-out of the README's main job: ``neurosig benchmark`` whole commands.

Reference: the default ``neurosig benchmark`` (simulated motor imagery, default
pipelines, within-session), run sequentially. neurosig: the same command with
``--n-jobs 2`` (two local worker processes) and with ``--dask-workers 2`` (a local
Dask cluster of two single-threaded workers). Every command runs in a fresh process
with 1 BLAS/OpenMP thread (``OMP_NUM_THREADS`` and friends set in its environment),
writes to its own folder, and its stored rows (scores, fold scores, p-values) are
checked identical to the sequential run before any ratio is printed. Wall time is
the whole command (interpreter start, imports, data, tasks, summary, plots); the task
phase is read from the command's own log line (``task phase: ... in X s``).

Usage::

    PYTHONPATH=$PWD python benchmarks/scale_out.py --quick   # 2 subjects, 1 repeat
    PYTHONPATH=$PWD python benchmarks/scale_out.py           # the default job, median of 3
    PYTHONPATH=$PWD python benchmarks/scale_out.py --repeats 1 --job-args "--refit-permutations 2"

``--job-args`` adds options to every command: a heavier job (here three fits per fold
instead of one) shows how the ratio grows once the tasks outweigh the fixed start-up.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = {"sequential": [], "processes": ["--n-jobs", "2"], "dask": ["--dask-workers", "2"]}
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def run_command(mode: str, out: Path, extra: list[str], resume: bool = False) -> tuple[float, float]:
    """Run one whole command; return (wall seconds, task-phase seconds).

    ``resume``: the store already holds every row, so no task runs (task phase 0 s).
    """
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}}
    cmd = [sys.executable, "-m", "neurosig.cli.main", "benchmark", "--out", str(out),
           "--results", str(out / "results.sqlite"), *MODES[mode], *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    found = re.findall(r"task phase: .* in ([0-9.]+) s", proc.stderr)
    if resume:
        return wall, float(found[-1]) if found else 0.0
    if not found:
        raise RuntimeError(f"{mode} run printed no task-phase line:\n{proc.stderr[-2000:]}")
    return wall, float(found[-1])


def stored_rows(db: Path) -> list:
    """The rows that must not depend on where tasks ran (no timings)."""
    from neurosig.evaluation.results import ResultStore

    with ResultStore(db) as store:
        df = store.to_frame(kind="bci")
    df = df.sort_values(["dataset", "subject", "session", "pipeline"]).reset_index(drop=True)
    extra = [{k: v for k, v in e.items() if k not in ("time", "fit_time", "score_time")}
             for e in df["extra"]]
    return [df[["dataset", "subject", "session", "pipeline", "score"]].to_dict("records"),
            list(map(list, df["fold_scores"])), extra]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 subjects, 1 repeat, no plots")
    ap.add_argument("--repeats", type=int, default=None, help="commands per mode (median reported)")
    ap.add_argument("--job-args", default="", metavar="ARGS",
                    help="options added to every command, e.g. \"--refit-permutations 2\"")
    args = ap.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    extra = (["--subjects", "1", "2", "--no-plots"] if args.quick else []) + shlex.split(args.job_args)
    print(f"machine: {os.cpu_count()} CPUs, python {platform.python_version()}, 1 BLAS thread per process; "
          f"job: neurosig benchmark {' '.join(extra) or '(defaults)'}; median of {repeats}")
    walls = {m: [] for m in MODES}
    phases = {m: [] for m in MODES}
    serial = []  # the sequential command again on its filled store: everything but the tasks
    with tempfile.TemporaryDirectory() as tmp:
        reference = None
        for r in range(repeats):
            for mode in MODES:  # interleaved, so drift in machine load hits every mode alike
                out = Path(tmp) / f"{mode}-{r}"
                wall, phase = run_command(mode, out, extra)
                rows = stored_rows(out / "results.sqlite")
                if reference is None:
                    reference = rows
                elif rows != reference:
                    raise SystemExit(f"{mode} run {r} stored different rows than the sequential run")
                walls[mode].append(wall)
                phases[mode].append(phase)
                print(f"  {mode:<10} run {r}: whole command {wall:6.2f} s, task phase {phase:6.2f} s")
                if mode == "sequential":
                    serial.append(run_command(mode, out, extra, resume=True)[0])
                    print(f"  {'(no tasks)':<10} run {r}: whole command {serial[-1]:6.2f} s "
                          "(the same command on its filled store: start-up, checks, summary, plots)")
    med = {m: statistics.median(walls[m]) for m in MODES}
    pmed = {m: statistics.median(phases[m]) for m in MODES}
    print(f"{'mode':<12}{'whole s':>9}{'ratio':>8}{'tasks s':>9}{'ratio':>8}")
    for m in MODES:
        print(f"{m:<12}{med[m]:9.2f}{med['sequential'] / med[m]:8.2f}{pmed[m]:9.2f}"
              f"{pmed['sequential'] / pmed[m]:8.2f}")
    s_med = statistics.median(serial)
    work = med["sequential"] - s_med
    print(f"serial part (no-task rerun) {s_med:.2f} s of {med['sequential']:.2f} s: with 2 workers and perfect "
          f"task scaling the whole command could reach at most {med['sequential'] / (s_med + work / 2):.2f}x")
    print(f"local scale-out, whole commands: --n-jobs 2 {med['sequential'] / med['processes']:.2f}x, "
          f"--dask-workers 2 {med['sequential'] / med['dask']:.2f}x (target >= 1.5x), identical rows")


if __name__ == "__main__":
    main()
