"""Memory of a many-subject benchmark over time: does the resident memory stay flat per subject?

Runs :func:`neurosig.benchmark` (sequential, the shipped default pipelines CSP+LDA, MDM and
TS+SVM, within-session) on the simulated motor-imagery dataset with 20 subjects, while a
thread samples the process's resident memory (``VmRSS`` of ``/proc/self/status``) every
0.1 s. Each task's end is recorded (the module's ``evaluate_task`` is wrapped to note the
subject; nothing else changes), so the peak resident memory of every subject's tasks is
known. The headline is the slope of a line fitted to those per-subject peaks (MB per
subject) after the first subject (imports and first-use caches): flat means no growth with
the number of subjects. The per-worker caches hold the last two loads and four shared
first-step outputs, so memory should not grow with subjects.

    PYTHONPATH=$PWD python benchmarks/bench_memory.py            # 20 subjects
    PYTHONPATH=$PWD python benchmarks/bench_memory.py --quick    # 4 subjects, 1 run per session
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
import warnings

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux ``/proc``; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Sampler(threading.Thread):
    """Samples :func:`rss_mb` every ``period`` seconds into ``samples`` [(t, MB)]."""

    def __init__(self, period: float = 0.1):
        super().__init__(daemon=True)
        self.period, self.samples, self._halt = period, [], threading.Event()
        self.t0 = time.perf_counter()

    def run(self):
        while not self._halt.is_set():
            self.samples.append((time.perf_counter() - self.t0, rss_mb()))
            self._halt.wait(self.period)

    def stop(self):
        self._halt.set()
        self.join()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 subjects, 1 run per session")
    ap.add_argument("--subjects", type=int, default=None, help="number of subjects (default 20; 4 quick)")
    args = ap.parse_args(argv)
    n_subjects = args.subjects or (4 if args.quick else 20)
    from neurosig.datasets.simulated import SimulatedMotorImagery
    from neurosig.evaluation import bci

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; numpy {np.__version__}; sequential, "
          f"BLAS 1 thread; {n_subjects} simulated subjects x 3 default pipelines, within-session")
    ds = SimulatedMotorImagery(n_subjects=n_subjects, **({"n_runs": 1} if args.quick else {}))
    ends: list[tuple[float, str]] = []
    sampler = Sampler()
    real = bci.evaluate_task

    def recording(task):
        rows = real(task)
        ends.append((time.perf_counter() - sampler.t0, str(task.subject)))
        return rows

    bci.evaluate_task = recording
    warnings.simplefilter("ignore")
    sampler.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            df = bci.benchmark([ds], results=os.path.join(tmp, "r.sqlite"), out=None, verbose=False,
                               n_permutations=100)
    finally:
        sampler.stop()
        bci.evaluate_task = real
    return report(sampler.samples, ends, len(df))


def report(samples: list, ends: list, n_rows: int) -> dict:
    """Per-subject peak resident memory, the fitted slope, and the headline."""
    t = np.array([s[0] for s in samples])
    mb = np.array([s[1] for s in samples])
    peaks, start = {}, 0.0
    for end, subject in ends:  # a subject's tasks are consecutive (sequential run, subject order)
        window = mb[(t >= start) & (t <= end)]
        peaks[subject] = max(peaks.get(subject, 0.0), float(window.max()) if len(window) else float(mb.max()))
        start = end
    subjects = list(peaks)
    values = np.array([peaks[s] for s in subjects])
    print(f"{n_rows} rows; {len(samples)} memory samples over {t[-1]:.1f} s; "
          f"start {mb[0]:.0f} MB, peak {mb.max():.0f} MB, end {mb[-1]:.0f} MB")
    print("subject  peak RSS (MB)")
    for s, v in zip(subjects, values):
        print(f"{s:>7}  {v:8.1f}")
    x = np.arange(1, len(values))
    slope = float(np.polyfit(x, values[1:], 1)[0]) if len(values) > 2 else float("nan")
    spread = float(values[1:].max() - values[1:].min()) if len(values) > 1 else float("nan")
    print(f"memory: peak RSS grows {slope:+.2f} MB per subject over subjects 2-{len(values)} "
          f"(range {spread:.1f} MB; first subject {values[0]:.0f} MB incl. imports; target: flat)")
    return {"peaks": peaks, "slope_mb_per_subject": slope, "range_mb": spread}


if __name__ == "__main__":
    main()
