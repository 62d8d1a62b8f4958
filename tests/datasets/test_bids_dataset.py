"""BIDSDataset: a local BIDS EEG dataset with a user event map, accepted by MOABB paradigms."""
from __future__ import annotations

import numpy as np
import pytest
from _bids_data import bids_root_fixture  # noqa: F401 (the bids_root fixture)

from neurosig.datasets.bids import BIDSDataset
from neurosig.datasets.simulated import SimulatedMotorImagery


def test_bids_dataset_through_moabb_paradigm(bids_root):
    from moabb.paradigms import LeftRightImagery, MotorImagery

    ds = BIDSDataset(bids_root, event_map={"imagery/left": "left_hand", "imagery/right": "right_hand",
                                           "imagery/feet": "feet"}, task="mi", interval=(2, 6))
    assert ds.subject_list == [1, 2] and ds.subject_labels == {1: "01", 2: "02"}
    assert ds.n_sessions == 2
    assert ds.event_id == {"left_hand": 1, "right_hand": 2, "feet": 3}
    data = ds.get_data([2])
    assert list(data[2]) == ["0sesday1", "1sesday2"]
    X, y, meta = LeftRightImagery().get_data(ds, subjects=[1, 2])
    # 2 subjects x 2 sessions x (2 left + 2 right) trials, 22 EEG channels, [2, 6] s at 250 Hz
    assert X.shape == (16, 22, 1001)
    assert sorted(set(y)) == ["left_hand", "right_hand"]
    X3, y3, _ = MotorImagery(n_classes=3).get_data(ds, subjects=[1])
    assert sorted(set(y3)) == ["feet", "left_hand", "right_hand"] and len(y3) == 12
    # the signal is the one written (BrainVision stores float32 in uV resolution)
    sim = SimulatedMotorImagery(n_subjects=2, n_runs=1, n_trials_per_run=8, artifacts=False)
    orig = sim.simulate_raw(1, 0, 0).get_data(picks="eeg")
    back = ds.get_data([1])[1]["0sesday1"]["0run01"].get_data(picks="eeg")
    np.testing.assert_allclose(back, orig, atol=1e-7)


def test_bids_bad_inputs(bids_root, tmp_path):
    with pytest.raises(ValueError, match=r"'event_map'.*\['imagery/lef'\].*imagery/left"):
        BIDSDataset(bids_root, event_map={"imagery/lef": "left_hand"})
    with pytest.raises(FileNotFoundError, match="'root'"):
        BIDSDataset(tmp_path / "nope", event_map={"a": "b"})
    with pytest.raises(FileNotFoundError, match="dataset_description"):
        BIDSDataset(tmp_path, event_map={"a": "b"})
    with pytest.raises(FileNotFoundError, match="task 'rest'"):
        BIDSDataset(bids_root, event_map={"imagery/left": "left_hand"}, task="rest")
    with pytest.raises(ValueError, match="'subjects'.*1 to 2.*got 5"):
        BIDSDataset(bids_root, event_map={"imagery/left": "left_hand"}, subjects=[5])
    with pytest.raises(ValueError, match="'event_map'"):
        BIDSDataset(bids_root, event_map={})


def test_get_dataset_bids(bids_root):
    from neurosig.datasets import get_dataset
    ds = get_dataset("bids", path=bids_root, event_map={"imagery/left": "left_hand"}, task="mi", subjects=[2])
    assert isinstance(ds, BIDSDataset) and ds.subject_list == [2]
    with pytest.raises(ValueError, match="'path'.*BIDS root"):
        get_dataset("bids", event_map={"imagery/left": "left_hand"})
