"""Shared fixtures. Real data lives in ../shared/data next to the checkout (never committed)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("NEUROSIG_SHARED_DATA")
    return Path(env) if env else _ROOT.parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    """Tests that read ../shared/data are the ``realdata`` tier (second CI stage), marked here once."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.realdata)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real reference data (../shared/data); skips the test when it is absent."""
    path = _shared_data_dir()
    if not (path / "MANIFEST.md").is_file():
        pytest.skip(f"real reference data not found at {path} (set NEUROSIG_SHARED_DATA to its folder)")
    return path


@pytest.fixture(autouse=True)
def _no_network_mne(monkeypatch, tmp_path_factory):
    """Keep MNE/MOABB from writing to ~/mne_data or asking the network during tests."""
    home = tmp_path_factory.getbasetemp() / "mne_home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("_MNE_FAKE_HOME_DIR", str(home))
    monkeypatch.setenv("MOABB_DOWNLOAD_PROVIDER", "upstream")
    monkeypatch.setenv("MPLBACKEND", "Agg")


# -- a miniature NSD folder shared by the NSD loader, fMRI decoding and ridge tests ------------
MINI_NSD = dict(subjects=(1,), n_sessions_present=3, trials_per_session=60, n_sessions_total=10,
                images_per_subject=200, n_images_total=700, n_shared=40, shape=(10, 14, 8),
                effect=0.6, seed=0)


@pytest.fixture(scope="session")
def mini_nsd(tmp_path_factory):
    """A generated mini-NSD tree (NIfTI betas), made once per session."""
    from neurosig.datasets.synthetic_nsd import make_synthetic_nsd

    return make_synthetic_nsd(tmp_path_factory.mktemp("mini_nsd"), **MINI_NSD)


@pytest.fixture(scope="session")
def mini_nsd_h5(tmp_path_factory):
    """The same mini-NSD tree with HDF5 betas."""
    from neurosig.datasets.synthetic_nsd import make_synthetic_nsd

    return make_synthetic_nsd(tmp_path_factory.mktemp("mini_nsd_h5"), betas_format="hdf5", **MINI_NSD)

