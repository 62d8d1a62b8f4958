"""get_dataset / data_folder / evaluation checks, with the real PhysionetMI subject 1 offline."""
from __future__ import annotations

import os
import socket

import pytest

from neurosig.datasets import SimulatedMotorImagery, get_dataset
from neurosig.datasets.moabb import (
    check_evaluation_supported,
    check_subjects,
    config_keys,
    data_folder,
    resolve_evaluation,
    resolve_name,
)


@pytest.mark.parametrize("given, expected", [
    ("BNCI2014_001", "BNCI2014_001"), ("bnci2014001", "BNCI2014_001"), ("BNCI2014-001", "BNCI2014_001"),
    ("PhysionetMI", "PhysionetMI"), ("physionetmotorimagery", "PhysionetMI"),
    ("simulated", "SimulatedMotorImagery"), ("SimulatedMotorImagery", "SimulatedMotorImagery"),
])
def test_resolve_name_aliases(given, expected):
    assert resolve_name(given) == expected


def test_unknown_dataset_lists_close_matches():
    with pytest.raises(ValueError, match=r"'name'.*Close matches: BNCI2014_001.*got 'BNCI2014_01'") as e:
        get_dataset("BNCI2014_01")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match=r"'name'.*got 'zzzz'"):
        get_dataset("zzzz")
    with pytest.raises(ValueError, match="neurosig.datasets.TUAB"):
        get_dataset("TUAB")


def test_get_dataset_simulated_with_params_and_subjects():
    ds = get_dataset("simulated", n_subjects=3, seed=1, subjects=[2, 3])
    assert isinstance(ds, SimulatedMotorImagery) and ds.subject_list == [2, 3] and ds.seed == 1
    with pytest.raises(ValueError, match=r"'subjects'.*integers from 1 to 3.*got 4"):
        get_dataset("simulated", n_subjects=3, subjects=[4])
    with pytest.raises(ValueError, match=r"'subjects'.*integers from 1 to 109.*got 110"):
        get_dataset("PhysionetMI", subjects=[1, 110])
    with pytest.raises(TypeError, match="Allowed parameters are"):
        get_dataset("simulated", n_subject=3)


def test_bad_path(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(NotADirectoryError, match="'path'.*file.txt"):
        get_dataset("PhysionetMI", path=f)
    with pytest.raises(TypeError, match="'path'"):
        get_dataset("PhysionetMI", path=3)


def test_data_folder_sets_and_restores_env(tmp_path, monkeypatch):
    monkeypatch.delenv("MOABB_DOWNLOAD_PROVIDER", raising=False)
    monkeypatch.setenv("MNE_DATA", "/somewhere/else")
    monkeypatch.delenv("NEUROSIG_DATA", raising=False)
    ds = get_dataset("PhysionetMI")
    assert "MNE_DATASETS_EEGBCI_PATH" in config_keys(ds)
    with data_folder(tmp_path, ds) as folder:
        assert folder == tmp_path
        assert os.environ["MNE_DATA"] == str(tmp_path)
        assert os.environ["MNE_DATASETS_EEGBCI_PATH"] == str(tmp_path)
        assert os.environ["MOABB_DOWNLOAD_PROVIDER"] == "upstream"
    assert os.environ["MNE_DATA"] == "/somewhere/else"
    assert "MNE_DATASETS_EEGBCI_PATH" not in os.environ and "MOABB_DOWNLOAD_PROVIDER" not in os.environ
    # NEUROSIG_DATA is the default folder
    monkeypatch.setenv("NEUROSIG_DATA", str(tmp_path / "ns"))
    with data_folder(None, ds) as folder:
        assert folder == tmp_path / "ns" and os.environ["MNE_DATA"] == str(tmp_path / "ns")
    # restored after an error too
    with pytest.raises(RuntimeError):
        with data_folder(tmp_path, ds):
            raise RuntimeError
    assert os.environ["MNE_DATA"] == "/somewhere/else"


def _link_physionet_subject1(shared_data, tmp_path):
    dest = tmp_path / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    dest.mkdir(parents=True)
    for f in (shared_data / "eegmmidb" / "S001").iterdir():
        (dest / f.name).symlink_to(f)
    return tmp_path


def test_physionet_subject1_loads_offline(shared_data, tmp_path, monkeypatch):
    from moabb.paradigms import LeftRightImagery

    root = _link_physionet_subject1(shared_data, tmp_path)
    monkeypatch.delenv("MOABB_DOWNLOAD_PROVIDER", raising=False)
    monkeypatch.delenv("MNE_DATASETS_EEGBCI_PATH", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    ds = get_dataset("PhysionetMI", path=root, subjects=[1])
    X, y, meta = LeftRightImagery().get_data(ds, subjects=[1])
    assert X.shape[1] == 64 and 40 <= X.shape[0] <= 50          # ~45 imagery trials
    assert X.shape[2] == 481                                        # [0, 3] s at 160 Hz
    assert sorted(set(y)) == ["left_hand", "right_hand"]
    assert meta.session.unique().tolist() == ["0"]
    # the environment is back as it was (no provider, no dataset key)
    assert "MOABB_DOWNLOAD_PROVIDER" not in os.environ
    assert "MNE_DATASETS_EEGBCI_PATH" not in os.environ
    # and nothing was written to the MNE config file
    import mne
    assert "MNE_DATASETS_EEGBCI_PATH" not in (mne.get_config(use_env=False) or {})


def test_evaluation_support(monkeypatch):
    phys = get_dataset("PhysionetMI")
    with pytest.raises(ValueError, match="'cross-session' needs at least 2 sessions per "
                                         "subject, but dataset 'PhysionetMotorImagery' has 1"):
        check_evaluation_supported("CrossSession", phys)
    assert check_evaluation_supported("WithinSession", phys) == "within-session"
    assert check_evaluation_supported("LOSO", phys) == "cross-subject"
    one = get_dataset("simulated", n_subjects=1)
    with pytest.raises(ValueError, match="'cross-subject' .* needs at least 2 subjects"):
        check_evaluation_supported("cross-subject", one)
    assert check_evaluation_supported("cross-session", one) == "cross-session"
    sel = SimulatedMotorImagery(n_subjects=2, sessions=["0train"])
    with pytest.raises(ValueError, match="has 1"):
        check_evaluation_supported("cross-session", sel)
    with pytest.raises(ValueError, match=r"'evaluation'.*'within-session'.*got 'sideways'"):
        resolve_evaluation("sideways")
    with pytest.raises(ValueError, match=r"'subjects'.*got 0"):
        check_subjects(one, [0])


def test_data_folder_without_any_folder_uses_mne_default_without_writing_config(tmp_path, monkeypatch):
    import mne
    monkeypatch.setenv("HOME", str(tmp_path))
    for key in ("NEUROSIG_DATA", "MNE_DATA", "MOABB_DOWNLOAD_PROVIDER"):
        monkeypatch.delenv(key, raising=False)
    before = mne.get_config(use_env=False)
    with data_folder(None) as folder:
        assert folder is None
        assert os.environ["MNE_DATA"] == str(tmp_path / "mne_data")
    assert "MNE_DATA" not in os.environ
    assert mne.get_config(use_env=False) == before
