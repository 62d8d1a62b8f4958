"""Fixtures for the ACM tests: the real PhysionetMI subject 1 (offline) and small random trials."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def physionet_s1(shared_data, tmp_path_factory):
    """(X, y) of PhysionetMI subject 1, left vs right hand imagery, via MOABB offline.

    The shared EDF files are linked into the layout MNE's eegbci loader expects, in a
    temporary folder; nothing is downloaded.
    """
    root = tmp_path_factory.mktemp("mne_data")
    dest = root / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0"
    dest.mkdir(parents=True)
    os.symlink(Path(shared_data) / "eegmmidb" / "S001", dest / "S001")
    old = {k: os.environ.get(k) for k in ("MNE_DATASETS_EEGBCI_PATH", "MNE_DATA", "MOABB_DOWNLOAD_PROVIDER")}
    os.environ.update(MNE_DATASETS_EEGBCI_PATH=str(root), MNE_DATA=str(root), MOABB_DOWNLOAD_PROVIDER="upstream")
    try:
        import mne
        from moabb.datasets import PhysionetMI
        from moabb.paradigms import LeftRightImagery
        mne.set_log_level("ERROR")
        X, y, _ = LeftRightImagery().get_data(PhysionetMI(imagined=True), [1])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return X, y


@pytest.fixture
def small_trials():
    """Random two-class trials: (X, y), X shape (24, 4, 80)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 4, 80))
    y = np.repeat([0, 1], 12)
    X[y == 1, 0] *= 2.0  # a variance difference to classify
    return X, y


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small eigendecompositions: extra BLAS threads only add overhead (and oversubscribe a
    shared CI machine), so these tests run with one; library code never sets this."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1):
        yield
