"""Helpers shared by the RSA tests (a uniquely named module, not conftest)."""
from __future__ import annotations

import numpy as np


def rdms_obj(rsatb, vectors, **descriptors):
    """An rsatoolbox RDMs object on a COPY of the vectors (rsatoolbox transforms mutate their input)."""
    return rsatb.rdm.RDMs(np.array(vectors, dtype=float, copy=True),
                          rdm_descriptors=descriptors or None)
