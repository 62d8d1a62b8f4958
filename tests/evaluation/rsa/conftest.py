"""Fixtures for the RSA tests: the real 92-image RDMs (via shared_data) and rsatoolbox."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def rsa92(shared_data):
    """hIT RDMs (8 = 4 subjects x 2 sessions), subject labels, the 8 model RDMs and their names."""
    import scipy.io as sio

    d = shared_data / "rsa_92images"
    R = sio.loadmat(d / "92_brainRDMs.mat")["RDMs"]
    M = sio.loadmat(d / "92_modelRDMs.mat")["Models"]
    rdms = np.stack([np.asarray(R[0, s, k]["RDM"], dtype=float) for s in range(4) for k in range(2)])
    subjects = np.repeat(np.arange(4), 2)
    models = np.stack([np.asarray(M[0, i]["RDM"], dtype=float) for i in range(M.shape[1])])
    names = [str(M[0, i]["name"][0]) for i in range(M.shape[1])]
    return rdms, subjects, models, names


@pytest.fixture(scope="session")
def rsatb():
    """rsatoolbox (the reference implementation; part of the test install)."""
    import rsatoolbox

    return rsatoolbox


