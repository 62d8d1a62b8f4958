"""Resume: a benchmark interrupted half-way finishes on rerun without recomputing finished
rows and without duplicates; overwrite and edited pipeline files recompute."""
from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest

from neurosig.evaluation import bci
from neurosig.evaluation.results import ResultStore


@pytest.fixture
def counting(monkeypatch):
    """Count evaluate_task calls; optionally raise KeyboardInterrupt on call number ``stop_at``."""
    real = bci.evaluate_task
    state = {"calls": 0, "stop_at": None}

    def wrapped(task):
        state["calls"] += 1
        if state["stop_at"] is not None and state["calls"] == state["stop_at"]:
            raise KeyboardInterrupt  # as Ctrl-C in the middle of a task
        return real(task)

    monkeypatch.setattr(bci, "evaluate_task", wrapped)
    return state


def _db(path):
    with ResultStore(path) as st:
        return st.to_frame(kind="bci")


def test_interrupted_run_resumes(fake_dataset, counting, tmp_path):
    db = tmp_path / "r.sqlite"
    kw = dict(datasets=[fake_dataset], results=db, out=None, verbose=False, n_permutations=20)
    counting["stop_at"] = 4  # 3 pipelines x 3 subjects = 9 tasks; dies in the 4th
    with pytest.raises(KeyboardInterrupt):
        bci.benchmark(**kw)
    first = _db(db)
    assert len(first) == 3 * 2  # 3 finished tasks x 2 sessions, committed as they came
    counting.update(calls=0, stop_at=None)
    df = bci.benchmark(**kw)
    assert counting["calls"] == 9 - 3  # only the unfinished tasks ran
    assert df.attrs["n_skipped"] == 3 and df.attrs["n_computed"] == 6
    final = _db(db)
    assert len(final) == 9 * 2 == len(df)
    assert not final.duplicated(["dataset", "subject", "session", "pipeline", "evaluation"]).any()
    # the rows of the first run were kept as they were (same key, same creation time)
    kept = final.set_index("row_key").loc[first["row_key"]]
    assert list(kept["created"]) == list(first["created"])
    assert list(kept["score"]) == list(first["score"])

    # a third run computes nothing; overwrite recomputes everything, still no duplicates
    counting["calls"] = 0
    bci.benchmark(**kw)
    assert counting["calls"] == 0
    bci.benchmark(overwrite=True, **kw)
    assert counting["calls"] == 9
    again = _db(db)
    assert len(again) == 18 and set(again["row_key"]) == set(final["row_key"])
    assert sorted(again["score"]) == sorted(final["score"])  # deterministic


def test_edited_pipeline_file_is_recomputed(fake_dataset, counting, tmp_path):
    db = tmp_path / "r.sqlite"
    pipe = tmp_path / "mdm.yml"
    text = ("name: MDM\nparadigms: [LeftRightImagery]\npipeline:\n"
            "  - {name: Covariances, from: pyriemann.estimation, parameters: {estimator: %s}}\n"
            "  - {name: MDM, from: pyriemann.classification}\n")
    pipe.write_text(text % "oas")
    kw = dict(datasets=[fake_dataset], pipelines=[pipe], subjects=[1], results=db, out=None,
              verbose=False, n_permutations=0)
    bci.benchmark(**kw)
    pipe.write_text(text % "lwf")  # same name, different configuration
    df = bci.benchmark(**kw)
    assert counting["calls"] == 2  # recomputed, not skipped
    rows = _db(db)
    assert len(rows) == 4 and rows["pipeline_hash"].nunique() == 2  # old rows kept, not mixed
    assert len(df) == 2 and df["pipeline_hash"].nunique() == 1


def _child(db: str) -> None:
    """The benchmark run that gets killed (a forked copy of this process: no import cost)."""
    import warnings

    from neurosig.datasets.simulated import SimulatedMotorImagery

    warnings.simplefilter("ignore")
    ds = SimulatedMotorImagery(n_subjects=2, n_runs=1, n_trials_per_run=24, seed=3)
    bci.benchmark([ds], results=db, out=None, verbose=False, n_permutations=20)


def test_killed_process_resumes(tmp_path):
    """SIGKILL a real benchmark process once rows are committed; the rerun completes it."""
    import multiprocessing

    db = tmp_path / "r.sqlite"
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(str(db),))
    proc.start()
    deadline = time.time() + 120
    n_first = 0
    while time.time() < deadline and proc.is_alive():
        if db.exists():
            try:  # read-only peek: never take the writer's lock
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                n_first = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
                con.close()
            except sqlite3.Error:  # the writer may be creating the schema
                n_first = 0
            if n_first >= 2:
                break
        time.sleep(0.1)
    assert proc.is_alive(), "the benchmark finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert proc.exitcode == -signal.SIGKILL
    first = _db(db)
    assert 2 <= len(first) < 12
    # rerun in this process, with 2 worker processes (the "processes" backend)
    from neurosig.datasets.simulated import SimulatedMotorImagery

    ds = SimulatedMotorImagery(n_subjects=2, n_runs=1, n_trials_per_run=24, seed=3)
    df = bci.benchmark([ds], results=db, out=None, verbose=False, n_permutations=20, n_jobs=2)
    computed, skipped = df.attrs["n_computed"], df.attrs["n_skipped"]
    assert skipped >= len(first) // 2 and computed + skipped == 6 and len(df) == 12
    final = _db(db)
    assert len(final) == 12
    assert not final.duplicated(["subject", "session", "pipeline", "evaluation"]).any()
    kept = final.set_index("row_key").loc[first["row_key"]]
    assert list(kept["created"]) == list(first["created"])
