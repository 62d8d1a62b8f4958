"""Task runner: turn a list of independent tasks into results.

One place used by the benchmark, TUAB preparation, fMRI decoding jobs and RSA
bootstraps. Backends: ``"sequential"``, ``"processes"`` (local, ``n_jobs``) and
``"dask"`` (a ``distributed.Client`` on an existing scheduler given by its address,
or a ``LocalCluster`` of ``n_jobs`` single-threaded workers; ``pip install neurosig[dask]``). The caller (the client) receives every
result through ``on_result`` as soon as it is ready, so it alone writes the
results store, row by row.

Groups of tasks (``run_tasks(..., group=)``): on Dask, tasks of one group prefer the same
worker (groups dealt round-robin over the workers; a loose restriction, so a task still
runs elsewhere when its worker is gone or busy); with ``"processes"``, a free process
takes the next whole group and runs its tasks in order. Tasks reading the same data then
share the worker's cache instead of loading it once per worker.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ._extras import require_extra
from ._logging import get_logger, progress
from ._validation import check_option

logger = get_logger(__name__)

#: how local worker processes start (the "processes" backend and neurosig's own Dask
#: clusters): forked from this process, so they begin with every module it has imported
LOCAL_START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"

BACKENDS = ("sequential", "processes", "dask")


@dataclass
class TaskResult:
    """Outcome of one task: ``value`` on success, ``error`` (a traceback string) on failure."""

    index: int
    task: Any
    value: Any = None
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


def _call(fn: Callable, task: Any) -> Any:
    return fn(task)


def resolve_n_jobs(n_jobs: int | None) -> int:
    """The number of worker processes a ``n_jobs`` value asks for.

    Parameters
    ----------
    n_jobs : int | None
        ``None`` or 1: one; ``-1``: all cores (``-2``: all but one, ...); ``k > 0``: k.

    Returns
    -------
    n : int
        At least 1.
    """
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    if n_jobs == 0:
        raise ValueError("Invalid value for the 'n_jobs' parameter. Allowed values are "
                         "None, -1 or a positive integer, but got 0 instead.")
    return int(n_jobs)


def resolve_backend(backend: str | None, n_jobs: int | None, scheduler: str | None = None,
                    connect_timeout: float = 10.0) -> str:
    """The backend a job runs on, checked before any work (shared by every batch job).

    ``scheduler`` implies ``"dask"`` (its address form and ``connect_timeout`` are checked
    here; an address that does not answer fails when the client connects); ``None`` means
    ``"sequential"`` for one job and ``"processes"`` otherwise. ``"dask"`` without the
    ``dask`` extra fails here, with the install command.

    Parameters
    ----------
    backend : {"sequential", "processes", "dask"} | None
        The backend asked for (None: chosen from ``n_jobs``).
    n_jobs : int | None
        Worker processes (see :func:`resolve_n_jobs`).
    scheduler : str | None
        Address of a running Dask scheduler.
    connect_timeout : float
        Seconds to wait for ``scheduler`` (checked to be positive here).

    Returns
    -------
    backend : str
        One of ``"sequential"``, ``"processes"``, ``"dask"``.
    """
    n = resolve_n_jobs(n_jobs)
    if scheduler is not None:
        backend = "dask"
    if backend is None:
        backend = "sequential" if n == 1 else "processes"
    check_option("backend", backend, BACKENDS)
    check_scheduler(scheduler, connect_timeout)
    if backend == "dask":
        require_extra("dask", "Running tasks on Dask (backend='dask', --dask-workers, --scheduler)")
    return backend


def run_tasks(fn: Callable[[Any], Any], tasks: Sequence[Any], *, backend: str = "sequential",
              n_jobs: int | None = None, on_result: Callable[[TaskResult], None] | None = None,
              retries: int = 0, raise_errors: bool = False, verbose: bool = True,
              desc: str = "tasks", scheduler: str | None = None,
              connect_timeout: float = 10.0, group: Callable[[Any], Any] | None = None) -> list[TaskResult]:
    """Run ``fn(task)`` for every task and return the results in task order.

    Parameters
    ----------
    fn : callable
        A picklable top-level function taking one task.
    tasks : sequence
        Picklable task descriptions (load data inside ``fn``, on the worker).
    backend : {"sequential", "processes", "dask"}
        Where tasks run.
    n_jobs : int | None
        Worker processes for ``"processes"`` (``-1``: all cores), or the number of
        single-threaded workers of the local Dask cluster when no ``scheduler`` is given.
    on_result : callable | None
        Called in the client process with each :class:`TaskResult` as it finishes.
    retries : int
        A task whose function raises is retried this many times before it is recorded
        as failed (with its traceback in :attr:`TaskResult.error`). On Dask, a task whose
        worker dies is also rescheduled (Dask's ``allowed-failures``, default 3).
    raise_errors : bool
        Re-raise the first failure instead of recording it.
    verbose : bool
        Progress bar over tasks.
    desc : str
        Label of the progress bar and of the task-phase log line.
    scheduler : str | None
        Dask scheduler address (``"tcp://host:8786"``); implies ``backend="dask"``.
    connect_timeout : float
        Seconds to wait for that scheduler before a clear error.
    group : callable | None
        ``group(task)`` -> hashable: tasks of one group run on one worker where possible,
        so that they share its cache of loaded data (see the module docstring).
    """
    backend = resolve_backend(backend, n_jobs, scheduler, connect_timeout)
    if not (isinstance(retries, int) and retries >= 0):
        raise ValueError(f"Invalid value for the 'retries' parameter: expected a non-negative integer, "
                         f"but got {retries!r} instead.")
    n_workers = resolve_n_jobs(n_jobs)
    tasks = list(tasks)
    results: list[TaskResult | None] = [None] * len(tasks)
    bar = progress(total=len(tasks), desc=desc, verbose=verbose)
    t_start = time.perf_counter()

    def finish(res: TaskResult) -> None:
        results[res.index] = res
        if not res.ok:
            logger.warning("task %s failed after %d attempt(s): %s", res.task, res.attempts,
                           res.error.strip().splitlines()[-1])
        if on_result is not None:
            on_result(res)
        bar.update(1)

    try:
        if backend == "dask":
            _run_dask(fn, tasks, n_workers, scheduler, connect_timeout, retries, raise_errors, finish, group)
        elif backend == "sequential" or n_workers == 1 or len(tasks) <= 1:
            for i, task in enumerate(tasks):
                finish(_run_here(fn, i, task, retries, raise_errors))
        elif _PRESTARTED:
            _run_with_prestarted(fn, tasks, retries, raise_errors, finish, group)
        else:
            _run_processes(fn, tasks, n_workers, retries, raise_errors, finish, group)
    finally:
        shutdown_prestarted(wait=False)  # the workers exit while the caller goes on
        bar.close()
    logger.log(logging.INFO if verbose else logging.DEBUG, "task phase: %d %s on %s in %.2f s", len(tasks),
               desc, _where(backend, n_workers, scheduler), time.perf_counter() - t_start)
    return [r for r in results if r is not None]


def _run_here(fn, index: int, task, retries: int, raise_errors: bool) -> TaskResult:
    """One task in this process, retried up to ``retries`` times."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return TaskResult(index, task, value=fn(task), attempts=attempt)
        except Exception:
            if raise_errors:
                raise
            if attempt > retries:
                return TaskResult(index, task, error=traceback.format_exc(), attempts=attempt)


def _settle(fut, i: int, attempt: int, tasks, retries: int, raise_errors: bool, finish, retry) -> None:
    """A worker's finished task: its result, another attempt (``retry()``) or its error recorded."""
    exc = fut.exception()
    if exc is None:
        finish(TaskResult(i, tasks[i], value=fut.result(), attempts=attempt))
    elif raise_errors:
        raise exc
    elif attempt <= retries:
        retry()
    else:
        err = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        finish(TaskResult(i, tasks[i], error=err, attempts=attempt))


def _task_groups(tasks, group) -> list[list[int]]:
    """Task indices by ``group(task)``, the groups in the order of their first task.

    Without ``group`` every task is a group of its own.
    """
    if group is None:
        return [[i] for i in range(len(tasks))]
    groups: dict = {}
    for i, t in enumerate(tasks):
        groups.setdefault(group(t), []).append(i)
    return list(groups.values())


def _where(backend: str, n_workers: int, scheduler: str | None) -> str:
    if backend == "dask":
        return f"Dask scheduler {scheduler}" if scheduler else f"a local Dask cluster of {n_workers} workers"
    if backend == "sequential" or n_workers == 1:
        return "this process"
    return f"{n_workers} local processes"


def _run_processes(fn, tasks, n_workers, retries, raise_errors, finish, group=None) -> None:
    """Local worker processes; tasks of one ``group`` run in order in one process.

    Without ``group``: one pool, tasks handed to whichever process is free. With it: one
    single-process pool per worker; a free worker takes the next whole group (in task
    order) and runs its tasks one after the other, so data a group's tasks share are
    loaded once (the process-level caches of the task function) instead of once per
    process; results still arrive task by task.
    """
    ctx = multiprocessing.get_context(LOCAL_START_METHOD)
    if group is None:
        pools = [ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx)]
        queue = [list(range(len(tasks)))]
    else:
        pools = [ProcessPoolExecutor(max_workers=1, mp_context=ctx) for _ in range(n_workers)]
        queue = _task_groups(tasks, group)
    pending: dict = {}  # future -> (task index, attempt, pool index)
    load = [0] * len(pools)

    def submit(i: int, attempt: int, p: int) -> None:
        pending[pools[p].submit(_call, fn, tasks[i])] = (i, attempt, p)
        load[p] += 1

    def feed() -> None:
        for p in range(len(pools)):
            while queue and (load[p] == 0 or group is None):
                for i in queue.pop(0):
                    submit(i, 1, p)

    try:
        feed()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: pending[f][0]):  # task order within a batch
                i, attempt, p = pending.pop(fut)
                load[p] -= 1
                _settle(fut, i, attempt, tasks, retries, raise_errors, finish,
                        retry=lambda i=i, attempt=attempt, p=p: submit(i, attempt + 1, p))
            feed()
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)


#: single-process pools started by :func:`prestart_workers`, used by the next local run
_PRESTARTED: list[ProcessPoolExecutor] = []


def _ready() -> None:
    """Nothing: submitted once so that a prestarted worker process starts at once."""


def prestart_workers(n_jobs: int | None, imports: Sequence[str] = ()) -> None:
    """Start the local workers of the next ``"processes"`` run now, this process being one of them.

    ``n_jobs - 1`` worker processes are forked at once, before this process imports the
    command's libraries, and import ``imports`` themselves: on a machine with a core per
    job the imports run side by side instead of one after the other, and each worker
    starts from a small process of its own (a worker forked later from a process that
    holds every library copies the pages it writes to). The next :func:`run_tasks` with
    the ``"processes"`` backend and ``n_jobs`` workers runs task groups in this process
    too and shuts the workers down when it ends; call :func:`shutdown_prestarted` when no
    run follows. With more jobs than this process may use cores, nothing is started (the
    imports would then compete for the cores and take longer than forking after them), and
    the run forks its workers as usual.

    Parameters
    ----------
    n_jobs : int | None
        Worker processes the run will ask for (see :func:`resolve_n_jobs`).
    imports : sequence of str
        Modules each worker imports first (with :func:`neurosig._startup.startup_imports`).
    """
    from ._startup import startup_imports

    n = resolve_n_jobs(n_jobs)
    if n > _usable_cores():
        return
    ctx = multiprocessing.get_context(LOCAL_START_METHOD)
    for _ in range(n - 1):
        pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=startup_imports,
                                   initargs=(tuple(imports),))
        pool.submit(_ready)
        _PRESTARTED.append(pool)


def _usable_cores() -> int:
    """Cores this process may run on (its affinity where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


#: prestarted pools told to stop without waiting; :func:`shutdown_prestarted` joins them
_STOPPING: list[ProcessPoolExecutor] = []


def shutdown_prestarted(wait: bool = True) -> None:
    """Stop the workers started by :func:`prestart_workers` that no run has used.

    Parameters
    ----------
    wait : bool
        Wait until they have ended (and join those stopped earlier without waiting).
    """
    while _PRESTARTED:
        pool = _PRESTARTED.pop()
        pool.shutdown(wait=wait, cancel_futures=True)
        if not wait:
            _STOPPING.append(pool)
    while wait and _STOPPING:
        _STOPPING.pop().shutdown(wait=True)


def _run_with_prestarted(fn, tasks, retries, raise_errors, finish, group=None) -> None:
    """This process and the prestarted workers take whole groups (in task order) in turn.

    A worker that finishes its group is handed the next one from its pool's callback
    thread; this process runs a group's tasks itself (as the sequential backend does) and
    records the workers' results between two of its own tasks.
    """
    import queue as queue_mod
    import threading

    todo = _task_groups(tasks, group)
    lock = threading.RLock()  # a future already done calls back at once, in the submitting thread
    finished: queue_mod.SimpleQueue = queue_mod.SimpleQueue()
    state = {"outstanding": 0}
    left = [0] * len(_PRESTARTED)

    def submit(i: int, attempt: int, p: int) -> None:
        fut = _PRESTARTED[p].submit(_call, fn, tasks[i])
        fut.add_done_callback(lambda f, i=i, attempt=attempt, p=p: done(f, i, attempt, p))

    def hand_out(p: int) -> None:  # called with the lock held
        if todo:
            batch = todo.pop(0)
            left[p] += len(batch)
            state["outstanding"] += len(batch)
            for i in batch:
                submit(i, 1, p)

    def done(fut, i: int, attempt: int, p: int) -> None:
        finished.put((fut, i, attempt, p))
        with lock:
            left[p] -= 1
            if left[p] == 0:
                hand_out(p)

    def retry(i: int, attempt: int, p: int) -> None:
        with lock:
            left[p] += 1
            state["outstanding"] += 1
        submit(i, attempt + 1, p)

    def record(item) -> None:
        fut, i, attempt, p = item
        _settle(fut, i, attempt, tasks, retries, raise_errors, finish,
                retry=lambda: retry(i, attempt, p))
        with lock:
            state["outstanding"] -= 1

    def drain(block: bool = False) -> None:
        while True:
            try:
                item = finished.get(block=block)
            except queue_mod.Empty:
                return
            record(item)
            block = False

    with lock:
        for p in range(len(_PRESTARTED)):
            hand_out(p)
    while True:
        with lock:
            batch = todo.pop(0) if todo else None
        if batch is None:
            break
        for i in batch:
            finish(_run_here(fn, i, tasks[i], retries, raise_errors))
            drain()
    while True:
        with lock:
            if state["outstanding"] == 0:
                break
        drain(block=True)


def connect_dask(scheduler: str | None = None, n_workers: int = 1, connect_timeout: float = 10.0):
    """A ``distributed.Client``: on ``scheduler`` if given, else on a new LocalCluster.

    Parameters
    ----------
    scheduler : str | None
        Address of a running Dask scheduler (``"tcp://host:8786"``).
    n_workers : int
        Single-threaded worker processes of the LocalCluster (no ``scheduler``).
    connect_timeout : float
        Seconds to wait for ``scheduler`` before a :class:`ConnectionError` naming it.

    Returns
    -------
    client, cluster
        ``cluster`` is None on an existing scheduler; close both when done.
    """
    require_extra("dask", "Running tasks on Dask (backend='dask', --dask-workers, --scheduler)")
    from distributed import Client

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{connect_timeout}s")
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"Invalid value for the 'scheduler' parameter: no Dask scheduler answered at "
                f"{scheduler!r} within {connect_timeout:g} s ({type(exc).__name__}: {exc}).") from None
        return client, None
    cluster = local_cluster(n_workers)
    return Client(cluster), cluster


def local_cluster(n_workers: int, **kwargs):
    """A ``distributed.LocalCluster`` of ``n_workers`` single-threaded worker processes.

    Parameters
    ----------
    n_workers : int
        Worker processes, one thread each.
    **kwargs
        Passed on to ``distributed.LocalCluster``.

    Notes
    -----
    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (glibc then gives
    freed memory back to the system almost at once). neurosig's tasks allocate and free
    large arrays all the time (signal generation, filtering, epoching): with that setting
    each allocation faults its pages in again, and generating a simulated subject took
    1.7 s of CPU in a worker against 0.9 s in a plain process. neurosig's own clusters
    therefore start workers with glibc's default threshold (``docs/scaling.md`` shows how
    to do the same on a cluster started elsewhere).

    Workers are forked from this process (:data:`LOCAL_START_METHOD`) where the platform
    allows it: Dask's default, ``spawn``, starts fresh interpreters that import NumPy,
    MNE, MOABB and scikit-learn again (seconds of CPU per worker, as much as a small
    benchmark's tasks), while a forked worker starts with every module this process
    has already imported.
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                          "distributed.worker.multiprocessing-method": LOCAL_START_METHOD}):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                            dashboard_address=None, **kwargs)


def check_scheduler(scheduler: Any, connect_timeout: float = 10.0) -> None:
    """Validate a scheduler address before any work (type and ``scheme://host:port`` form).

    Parameters
    ----------
    scheduler : str | None
        Dask scheduler address such as ``"tcp://host:8786"`` (None: nothing to check).
    connect_timeout : float
        Seconds a connection may take; must be positive.
    """
    if scheduler is None:
        return
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise TypeError(f"The 'scheduler' parameter must be an address string such as "
                        f"'tcp://host:8786', but got {scheduler!r} instead.")
    rest = scheduler.split("://", 1)[-1]
    if ":" not in rest.strip("[]") and "://" not in scheduler:
        raise ValueError(f"Invalid value for the 'scheduler' parameter: expected 'tcp://host:port' "
                         f"(or 'host:port'), but got {scheduler!r} instead.")
    if not (isinstance(connect_timeout, (int, float)) and connect_timeout > 0):
        raise ValueError(f"Invalid value for the 'connect_timeout' parameter: expected a positive number "
                         f"of seconds, but got {connect_timeout!r} instead.")


def _run_dask(fn, tasks, n_workers, scheduler, connect_timeout, retries, raise_errors, finish,
              group=None) -> None:
    """Submit every task at once (``Client.map``), collect them as they finish.

    Exceptions raised by ``fn`` are retried ``retries`` times by the scheduler; a task whose
    worker dies is rescheduled on another worker by Dask itself (up to the scheduler's
    ``distributed.scheduler.allowed-failures``, 3 by default) and then fails with
    ``KilledWorker``, recorded like any other error.
    """
    from distributed import as_completed

    if not tasks:
        return
    client, cluster = connect_dask(scheduler, n_workers, connect_timeout)
    run_id = uuid.uuid4().hex[:12]
    try:
        keys = [f"neurosig-task-{run_id}-{i}" for i in range(len(tasks))]
        workers = sorted(client.scheduler_info()["workers"]) if group is not None else []
        if len(workers) > 1:
            slot: dict = {}
            # priorities in task order: a worker runs a group's tasks one after the other (while
            # they are cached) instead of starting every group it holds and reloading them later
            futures = [client.submit(fn, t, key=k, pure=False, retries=retries, allow_other_workers=True,
                                     workers=[workers[slot.setdefault(group(t), len(slot)) % len(workers)]],
                                     priority=len(tasks) - i)
                       for i, (t, k) in enumerate(zip(tasks, keys))]
        else:
            futures = client.map(fn, tasks, key=keys, pure=False, retries=retries)
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            i = index[fut.key]
            if fut.status == "finished":
                value = fut.result()
                fut.release()  # free the worker's copy as soon as the client has it
                finish(TaskResult(i, tasks[i], value=value, attempts=1))
                continue
            exc = fut.exception()
            if raise_errors:
                client.cancel(futures)
                raise exc
            err = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            finish(TaskResult(i, tasks[i], error=err, attempts=retries + 1))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
