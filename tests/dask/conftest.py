"""One small LocalCluster (2 single-threaded workers) shared by every Dask test of the session."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def dask_scheduler(tmp_path_factory):
    """Address of a running LocalCluster; tests pass it as ``scheduler=`` (as users do with a real one)."""
    from distributed import LocalCluster

    home = tmp_path_factory.getbasetemp() / "mne_home"  # as the autouse fixture does, for the workers
    home.mkdir(exist_ok=True)
    env = {"_MNE_FAKE_HOME_DIR": str(home), "MOABB_DOWNLOAD_PROVIDER": "upstream", "MPLBACKEND": "Agg",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # inherited by the worker processes spawned now
    try:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield cluster.scheduler_address
    cluster.close()
