"""Transfer baselines under a calibration protocol: cross-session on simulated motor imagery.

The simulated sessions differ by a cap shift and channel gains (as real sessions do). The
first 12 trials of each target session are given to every pipeline as unlabeled calibration
trials and removed from the test set; Euclidean alignment (EA) and Riemannian re-centering
(RC) use them to align the target session, the plain pipelines cannot use them. Every row
records the protocol; the per-subject report shows confusion matrices and the share of
epochs rejected (none here: no rejection threshold given).

    python examples/zoo_transfer_calibration.py [OUTPUT_FOLDER]
"""
import sys
import tempfile
from pathlib import Path

from neurosig import benchmark
from neurosig.datasets import SimulatedMotorImagery
from neurosig.evaluation.bci import format_subject_report, format_summary, summarize
from neurosig.pipelines import load_pipelines, resource_dir

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "transfer"

dataset = SimulatedMotorImagery(n_subjects=1, n_runs=2, n_trials_per_run=48, seed=7)  # 48 L/R trials per session
pipelines = [p for p in load_pipelines() if p.name in ("TS+SVM", "MDM")]
pipelines += load_pipelines(resource_dir("pipelines") / "transfer")  # EA+..., RC+...

df = benchmark(datasets=[dataset], pipelines=pipelines, evaluation="cross-session",
               paradigm="LeftRightImagery", results=out / "results.sqlite", out=out,
               calibration={"n_trials": 12, "labeled": False}, n_permutations=200, verbose=False)

print(format_summary(summarize(df)))
print(format_subject_report(df))
print(df[["subject", "session", "pipeline", "score", "calibration_trials"]].to_string(index=False))
