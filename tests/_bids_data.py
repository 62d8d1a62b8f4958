"""A small BIDS EEG folder written by mne-bids from simulated motor imagery (shared fixture)."""
from __future__ import annotations

import mne
import pytest

from neurosig.datasets.simulated import SimulatedMotorImagery

BIDS_NAMES = {1: "imagery/left", 2: "imagery/right", 3: "imagery/feet", 4: "imagery/tongue"}


@pytest.fixture(scope="module", name="bids_root")
def bids_root_fixture(tmp_path_factory):
    """Two subjects x two sessions of simulated data written as BIDS BrainVision (task 'mi')."""
    import mne_bids
    root = tmp_path_factory.mktemp("bids") / "mylab"
    sim = SimulatedMotorImagery(n_subjects=2, n_runs=1, n_trials_per_run=8, artifacts=False)
    for subject in (1, 2):
        for session in (0, 1):
            raw = sim.simulate_raw(subject, session, 0)
            events = mne.find_events(raw, "STI", verbose=False)
            raw = raw.copy().drop_channels(["STI"])
            raw.set_annotations(mne.annotations_from_events(
                events, raw.info["sfreq"], event_desc=BIDS_NAMES, orig_time=raw.info["meas_date"]))
            raw.set_meas_date(1_700_000_000 + session * 86400)
            bp = mne_bids.BIDSPath(subject=f"{subject:02d}", session=f"day{session + 1}", task="mi",
                                   run="01", datatype="eeg", root=root)
            mne_bids.write_raw_bids(raw, bp, allow_preload=True, format="BrainVision",
                                    overwrite=True, verbose=False)
    return root
