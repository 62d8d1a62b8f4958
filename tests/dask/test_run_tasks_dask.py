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
