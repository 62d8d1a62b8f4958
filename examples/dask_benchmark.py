"""The BCI benchmark on a Dask cluster: a tiny LocalCluster here, any cluster in practice.

One task per (dataset, subject, pipeline) runs on a worker, which generates/loads its
own data; this process (the client) writes every result row to the SQLite store as the
task finishes, so the run resumes after any interruption. On a real cluster, pass its
address instead (``scheduler="tcp://host:8786"``, or ``--scheduler`` on the CLI).

    python examples/dask_benchmark.py [SCHEDULER_ADDRESS]
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # 1 BLAS thread per worker (inherited by the workers)

import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from neurosig import benchmark  # noqa: E402
from neurosig.datasets import SimulatedMotorImagery  # noqa: E402
from neurosig.evaluation.bci import format_summary, summarize  # noqa: E402
from neurosig.pipelines import load_pipelines  # noqa: E402

if __name__ == "__main__":  # the guard matters: Dask starts worker processes that import this file
    out = Path(tempfile.mkdtemp()) / "dask_benchmark"
    dataset = SimulatedMotorImagery(n_subjects=2, n_sessions=1, n_runs=1, n_trials_per_run=24, seed=7)
    pipelines = [p for p in load_pipelines() if p.name in ("CSP+LDA", "MDM")]
    if len(sys.argv) > 1:  # an existing cluster
        where = dict(scheduler=sys.argv[1])
    else:  # a LocalCluster of 2 single-threaded workers, started and closed by neurosig
        where = dict(backend="dask", n_jobs=2)
    df = benchmark(datasets=[dataset], pipelines=pipelines, results=out / "results.sqlite", out=None,
                   n_permutations=100, verbose=False, **where)
    print(format_summary(summarize(df)))
    print(f"{len(df)} rows in {out / 'results.sqlite'}; failures: {df.attrs['failures']}")
