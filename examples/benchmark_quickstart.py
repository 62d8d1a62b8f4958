"""Tiny BCI benchmark: 2 pipelines x 2 simulated subjects, within-session, left vs right hand.

Runs in well under a minute. Results go to a SQLite database (rerunning this script
skips what is already there), the summary table is printed, and results.csv/.parquet,
stats.csv and PNG plots are written to the output folder.

    python examples/benchmark_quickstart.py [OUTPUT_FOLDER]
"""
import sys
import tempfile
from pathlib import Path

from neurosig import benchmark
from neurosig.datasets import SimulatedMotorImagery
from neurosig.evaluation.bci import format_summary, summarize
from neurosig.pipelines import load_pipelines

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "quickstart"

# A small simulated dataset (22 channels, 250 Hz, 2 sessions), 2 of the shipped pipelines.
dataset = SimulatedMotorImagery(n_subjects=2, n_runs=1, n_trials_per_run=48, seed=7)
pipelines = [p for p in load_pipelines() if p.name in ("CSP+LDA", "MDM")]

df = benchmark(datasets=[dataset], pipelines=pipelines, evaluation="within-session",
               paradigm="LeftRightImagery", results=out / "results.sqlite", out=out,
               n_permutations=200, verbose=False)

print(format_summary(summarize(df)))
print(df[["subject", "session", "pipeline", "score", "chance_level", "p_value"]].to_string(index=False))
print(f"written to {out}: {sorted(p.name for p in out.iterdir())}")
