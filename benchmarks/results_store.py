"""Results store at scale: resume lookup and summary of a large store, indexed vs full-table read.

A store of ``--rows`` BCI rows (2 sessions per task, MOABB-like JSON in ``params``/``extra``)
is written once. Then, in this process, on the same file:

* reference: what a resume and a summary cost when the task key lives only inside the JSON
  ``extra`` column: read the whole table, decode every row's JSON, count rows per task,
  then filter the table again to this run's tasks and summarise;
* neurosig: :meth:`ResultStore.done_tasks` (one ``GROUP BY`` over the indexed task column)
  and :meth:`ResultStore.summary_frame` with ``task_ids`` (the summary's columns only, the
  ``extra`` fields read by SQLite; the same summary table).

Both must find the same finished tasks and the same summary table. Export (CSV) is timed
for information. Usage: ``python benchmarks/results_store.py [--quick] [--rows N]``.
The last line is the headline (target: resume lookup and summary each under 1 s at 50,000 rows).
"""
from __future__ import annotations

import argparse
import json
import platform
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
    return out, float(np.median(times)), float(min(times)), float(max(times))


def build(path: Path, n_rows: int, seed: int = 0) -> list[str]:
    """Write ``n_rows`` rows (tasks of 2 sessions); return every task id."""
    from neurosig.evaluation.results import ResultStore

    rng = np.random.default_rng(seed)
    versions = {"neurosig": "0", "numpy": np.__version__}
    tasks, rows = [], []
    with ResultStore(path) as st:
        for t in range(n_rows // 2):
            tid = f"task{t:07d}"
            tasks.append(tid)
            subject, pipe = t // 10, f"pipe{t % 10}"
            for session in ("0", "1"):
                rows.append({
                    "kind": "bci", "dataset": "Sim", "subject": str(subject), "session": session,
                    "pipeline": pipe, "pipeline_hash": "h" + pipe, "evaluation": "within-session",
                    "metric": "roc_auc", "score": float(rng.uniform(0.5, 1.0)), "time": 0.1,
                    "samples": 100, "channels": 22, "n_sessions": 2, "seed": 42,
                    "fold_scores": rng.uniform(0.5, 1, 5).round(4).tolist(),
                    "params": {"paradigm": {"fmin": 8, "fmax": 32}, "n_folds": 5, "metric": "roc_auc"},
                    "extra": {"task_id": tid, "task_rows": 2, "chance_level": 0.6,
                              "p_value": float(rng.uniform()), "rejected_share": 0.0},
                    "versions": versions, "created": "2026-01-01T00:00:00+00:00"})
            if len(rows) >= 5000:
                st.add_many(rows)
                rows = []
        if rows:
            st.add_many(rows)
    return tasks


def reference(path: Path, task_ids: set):
    """Resume + summary reading the whole table and decoding every row's JSON."""
    import sqlite3

    import pandas as pd

    from neurosig.evaluation.report import summarize

    con = sqlite3.connect(str(path))
    try:
        def frame():
            df = pd.read_sql_query("SELECT * FROM results WHERE kind='bci' AND status='ok' "
                                   "ORDER BY created, rowid", con)
            for c in ("fold_scores", "params", "extra", "versions"):
                df[c] = [json.loads(v) if isinstance(v, str) else v for v in df[c]]
            return df

        t0 = time.perf_counter()
        df = frame()
        counts: dict[str, list] = {}
        for extra in df["extra"]:
            counts.setdefault(extra["task_id"], []).append(extra.get("task_rows"))
        done = {t: len(v) for t, v in counts.items() if all(n == len(v) for n in v)}
        t1 = time.perf_counter()
        df = frame()
        df = df[[e.get("task_id") in task_ids for e in df["extra"]]].reset_index(drop=True)
        return done, summarize(df), t1 - t0, time.perf_counter() - t1
    finally:
        con.close()


def ours(path: Path, task_ids: set):
    from neurosig.evaluation.report import summarize
    from neurosig.evaluation.results import ResultStore

    with ResultStore(path) as st:
        done = st.done_tasks("bci")
        lookup = time.perf_counter()
        df = st.summary_frame("bci", task_ids=task_ids)
        return done, summarize(df), lookup


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5,000 rows, 3 repeats")
    ap.add_argument("--rows", type=int, default=None, help="rows in the store (default 50,000)")
    ap.add_argument("--repeat", type=int, default=None)
    a = ap.parse_args(argv)
    n = a.rows or (5_000 if a.quick else 50_000)
    repeat = a.repeat or (3 if a.quick else 5)
    import pandas as pd

    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"numpy {np.__version__}, pandas {pd.__version__}; one process, one thread")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.sqlite"
        t0 = time.perf_counter()
        tasks = build(path, n)
        print(f"store: {n} rows, {len(tasks)} tasks, written in {time.perf_counter() - t0:.1f} s "
              f"({path.stat().st_size / 1e6:.1f} MB)")
        wanted = set(tasks)
        (ref_done, ref_sum, _, _), ref_s, ref_lo, ref_hi = timeit(lambda: reference(path, wanted), repeat)
        ref_parts = [reference(path, wanted)[2:] for _ in range(repeat)]
        ref_lookup = float(np.median([p[0] for p in ref_parts]))
        ref_summary = float(np.median([p[1] for p in ref_parts]))

        def run_ours():
            t = time.perf_counter()
            done, summ, lookup_end = ours(path, wanted)
            return done, summ, lookup_end - t, time.perf_counter() - lookup_end

        (our_done, our_sum, _, _), our_s, our_lo, our_hi = timeit(run_ours, repeat)
        parts = [run_ours()[2:] for _ in range(repeat)]
        lookup_s = float(np.median([p[0] for p in parts]))
        summary_s = float(np.median([p[1] for p in parts]))
        same_done = ref_done == our_done and len(our_done) == len(tasks)
        pd.testing.assert_frame_equal(ref_sum.reset_index(drop=True), our_sum.reset_index(drop=True))
        print(f"outputs: same finished tasks ({len(our_done)}): {same_done}; same summary table: True")
        if not same_done:
            raise SystemExit("the two resume lookups disagree: no ratio reported")
        from neurosig.evaluation.results import ResultStore

        with ResultStore(path) as st:
            _, exp_s, _, _ = timeit(lambda: st.export(Path(tmp) / "out.csv", kind="bci"), 1)
        print(f"export CSV of {n} rows: {exp_s:.2f} s (information)")
        print(f"reference_s (full-table read, JSON decode): median {ref_s:.3f} s [{ref_lo:.3f}, {ref_hi:.3f}]; "
              f"resume lookup {ref_lookup:.3f} s, summary {ref_summary:.3f} s")
        print(f"neurosig_s (task index): median {our_s:.3f} s [{our_lo:.3f}, {our_hi:.3f}]; "
              f"resume lookup {lookup_s:.4f} s, summary {summary_s:.3f} s")
    ok = lookup_s < 1 and summary_s < 1
    print(f"results store ({n} rows): resume lookup {lookup_s * 1e3:.0f} ms ({ref_lookup / lookup_s:.0f}x "
          f"faster than a full-table read), summary {summary_s:.2f} s ({ref_summary / summary_s:.1f}x); "
          f"target < 1 s each: {'met' if ok else 'NOT met'}; identical results")


if __name__ == "__main__":
    main()
