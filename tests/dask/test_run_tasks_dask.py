"""run_tasks on Dask: bounded retries, then the error is recorded; results in task order."""
from __future__ import annotations

import os

import pytest

from neurosig.parallel import run_tasks


def _flaky(arg):
    """Raises the first time it runs for a task with a marker path (once per marker file)."""
    x, marker = arg
    if x < 0:
        raise ValueError(f"bad task {x}")
    if marker is not None and not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("transient failure")
    return x * x


@pytest.mark.parametrize("backend", ["sequential", "dask"])
def test_retries_are_bounded_then_errors_recorded(backend, dask_scheduler, tmp_path):
    kw = {"scheduler": dask_scheduler} if backend == "dask" else {}
    tasks = [(3, str(tmp_path / "m")), (-1, None), (2, None)]
    seen = []
    res = run_tasks(_flaky, tasks, retries=1, verbose=False, on_result=seen.append, **kw)
    assert [r.index for r in res] == [0, 1, 2] and sorted(r.index for r in seen) == [0, 1, 2]
    assert res[0].ok and res[0].value == 9  # failed once, retried, succeeded
    assert not res[1].ok and "ValueError: bad task -1" in res[1].error and res[1].attempts == 2
    assert res[2].value == 4
    # no retries: the transient failure is recorded
    res = run_tasks(_flaky, [(5, str(tmp_path / "m2"))], retries=0, verbose=False, **kw)
    assert not res[0].ok and "transient failure" in res[0].error and res[0].attempts == 1


def test_bad_parallel_arguments_refused_before_work():
    with pytest.raises(ValueError, match="'retries'.*-1"):
        run_tasks(_flaky, [(1, None)], retries=-1)
    with pytest.raises(TypeError, match="'scheduler'.*123"):
        run_tasks(_flaky, [(1, None)], scheduler=123)
    with pytest.raises(ValueError, match="'backend'.*'spark'"):
        run_tasks(_flaky, [(1, None)], backend="spark")


def _timed(task):
    import time

    start = time.monotonic()
    time.sleep(0.05)
    return task, os.getpid(), start


def test_a_worker_runs_a_group_to_the_end_before_the_next(dask_scheduler):
    """Groups go to workers round-robin and each worker runs its groups one after the other (task
    order gives the priorities), so a group's cached data are not evicted and loaded again."""
    tasks = [(g, k) for g in "abcdef" for k in range(3)]
    res = run_tasks(_timed, tasks, scheduler=dask_scheduler, group=lambda t: t[0], verbose=False)
    assert all(r.ok for r in res)
    runs = {}
    for (task, pid, _start) in sorted((r.value for r in res), key=lambda v: v[2]):
        runs.setdefault(pid, []).append(task[0])
    assert len(runs) == 2
    for order in runs.values():
        blocks = [g for i, g in enumerate(order) if i == 0 or order[i - 1] != g]
        assert len(blocks) == len(set(blocks)), order  # no group started twice

