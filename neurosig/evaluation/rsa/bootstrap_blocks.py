"""Bootstrap samples cut into blocks that run as parallel tasks (local processes or Dask).

The samples are drawn first, in the calling process; every block runs the same
bootstrap function on its rows, so the joined result equals one sequential call.
"""
from __future__ import annotations

import numpy as np

from ..._validation import check_positive_int


def _where_to_run(n_jobs, backend, scheduler, retries=0, connect_timeout=10.0) -> dict | None:
    """``run_tasks`` keywords when the bootstrap is distributed, None to run it here."""
    from ...parallel import resolve_backend, resolve_n_jobs

    backend = resolve_backend(backend, n_jobs, scheduler, connect_timeout)
    if backend == "sequential" or (backend == "processes" and resolve_n_jobs(n_jobs) == 1):
        return None
    return {"backend": backend, "n_jobs": n_jobs, "scheduler": scheduler, "retries": retries,
            "connect_timeout": connect_timeout}


def _bootstrap_block(task: dict):
    """One block of bootstrap samples (runs on a worker): the named bootstrap function, run here."""
    from . import bootstrap

    return getattr(bootstrap, task["function"])(**task["kwargs"])


def _in_blocks(function: str, where: dict, block_size: int | None, samples: dict, **common):
    """Run ``function`` on blocks of the given samples as parallel tasks; join the blocks.

    ``samples`` maps the function's sample parameters to arrays of shape (n_boot, ...),
    all cut at the same rows, so the joined result equals one sequential call.
    """
    from ...parallel import resolve_n_jobs, run_tasks

    n_boot = len(next(iter(samples.values())))
    if block_size is None:
        n_tasks = 16 if where["scheduler"] is not None else 4 * resolve_n_jobs(where["n_jobs"])
        block_size = max(1, -(-n_boot // n_tasks))
    block_size = check_positive_int("block_size", block_size)
    tasks = [{"function": function,
              "kwargs": dict(common, **{k: v[start:start + block_size] for k, v in samples.items()})}
             for start in range(0, n_boot, block_size)]
    parts = [r.value for r in run_tasks(_bootstrap_block, tasks, raise_errors=True, verbose=False,
                                        desc=f"{function} blocks", **where)]
    first = parts[0]
    nc = first.noise_ceiling
    if nc.ndim == 2:
        nc = np.concatenate([p.noise_ceiling for p in parts], axis=1)
    joined = {k: np.concatenate([p.samples[k] for p in parts]) for k in first.samples}
    return type(first)(np.concatenate([p.evaluations for p in parts]), nc, first.method, first.kind, joined)
