"""A miniature NSD folder shared by the NSD / fMRI decoding tests (generated once per session)."""
import pytest

from neurosig.datasets.synthetic_nsd import make_synthetic_nsd

MINI = dict(subjects=(1,), n_sessions_present=3, trials_per_session=60, n_sessions_total=10,
            images_per_subject=200, n_images_total=700, n_shared=40, shape=(10, 14, 8),
            effect=0.6, seed=0)


@pytest.fixture(scope="session")
def mini_nsd(tmp_path_factory):
    root = tmp_path_factory.mktemp("mini_nsd")
    return make_synthetic_nsd(root, **MINI)


@pytest.fixture(scope="session")
def mini_nsd_h5(tmp_path_factory):
    root = tmp_path_factory.mktemp("mini_nsd_h5")
    return make_synthetic_nsd(root, betas_format="hdf5", **MINI)
