"""Simulated motor-imagery dataset: determinism, physiology, difficulty, MOABB compatibility."""
from __future__ import annotations

import mne
import numpy as np
import pytest
from scipy.signal import welch

from neurosig.datasets import SimulatedMotorImagery
from neurosig.datasets.simulated import EEG_CHANNELS, EVENT_ID

SF = 250.0


def _band_power(raw, tmin, tmax, band, picks=("C3", "C4")):
    """Per-trial mean Welch power in ``band`` for each event, shape (n_trials, len(picks)); codes."""
    events = mne.find_events(raw, "STI", verbose=False)
    x = raw.get_data(picks=list(picks))
    a, b = int(tmin * SF), int(tmax * SF)
    segs = np.stack([x[:, s + a:s + b] for s in events[:, 0]])
    f, p = welch(segs, SF, nperseg=int(SF))
    m = (f >= band[0]) & (f <= band[1])
    return p[..., m].mean(-1), events[:, 2]


def test_same_seed_same_data_and_different_seed_differs():
    a = SimulatedMotorImagery(n_subjects=2, n_runs=1, n_trials_per_run=8, seed=3)
    b = SimulatedMotorImagery(n_subjects=2, n_runs=1, n_trials_per_run=8, seed=3)
    c = SimulatedMotorImagery(n_subjects=2, n_runs=1, n_trials_per_run=8, seed=4)
    ra, rb, rc = (d.simulate_raw(2, 1, 0) for d in (a, b, c))
    np.testing.assert_array_equal(ra.get_data(), rb.get_data())
    assert not np.allclose(ra.get_data(picks="eeg")[:, :1000], rc.get_data(picks="eeg")[:, :1000])
    # a subject's physiology does not depend on how many subjects the dataset has
    big = SimulatedMotorImagery(n_subjects=9, seed=3)
    assert big.subject_parameters(2) == a.subject_parameters(2)


def test_layout_channels_montage_events():
    ds = SimulatedMotorImagery(n_subjects=1, n_runs=2, n_trials_per_run=8)
    data = ds.get_data([1])
    assert list(data[1]) == ["0train", "1test"]
    assert list(data[1]["0train"]) == ["0", "1"]
    raw = data[1]["1test"]["1"]
    assert raw.info["sfreq"] == SF
    assert raw.copy().pick("eeg").ch_names == list(EEG_CHANNELS)
    assert len(EEG_CHANNELS) == 22
    assert raw.get_montage() is not None
    pos = raw.get_montage().get_positions()["ch_pos"]
    assert pos["C3"][0] < 0 < pos["C4"][0]  # left hemisphere has negative x
    events = mne.find_events(raw, "STI", verbose=False)
    assert len(events) == 8
    assert np.bincount(events[:, 2], minlength=5)[1:].tolist() == [2, 2, 2, 2]
    assert ds.event_id == EVENT_ID and ds.interval == [2, 6] and ds.paradigm == "imagery"
    # amplitudes are EEG-like: tens of microvolts, not volts
    rms = raw.get_data(picks="eeg").std(axis=1)
    assert np.all((rms > 3e-6) & (rms < 100e-6))


def test_mu_peak_measurable_at_c3():
    ds = SimulatedMotorImagery(n_subjects=4, n_runs=1, n_trials_per_run=12, artifacts=False)
    # subject 4 has strong rhythms, subject 1 weak ones (quantiles 0.95 and 0.17 at seed 42)
    for subject in (4, 1):
        raw = ds.simulate_raw(subject, 0, 0)
        f, p = welch(raw.get_data(picks=["C3"])[0], SF, nperseg=int(2 * SF))
        mu = p[(f >= 8) & (f <= 13)]
        peak_f = f[(f >= 8) & (f <= 13)][mu.argmax()]
        flank = np.mean([p[(f >= 4) & (f <= 6)].mean(), p[(f >= 15) & (f <= 17)].mean()])
        assert abs(peak_f - ds.subject_parameters(subject)["mu_freq"]) < 1.0
        assert mu.max() > 2.0 * flank, (subject, mu.max() / flank)


def test_contralateral_erd_measurable():
    ds = SimulatedMotorImagery(n_subjects=4, n_runs=2, n_trials_per_run=48)
    raws = [ds.simulate_raw(4, 0, r) for r in range(2)]
    act, base, codes = [], [], []
    for raw in raws:
        a, c = _band_power(raw, 2.5, 6.0, (8, 13))
        b, _ = _band_power(raw, 0.0, 2.0, (8, 13))
        act.append(a), base.append(b), codes.append(c)
    act, base, codes = np.concatenate(act), np.concatenate(base), np.concatenate(codes)
    left, right = codes == EVENT_ID["left_hand"], codes == EVENT_ID["right_hand"]
    c3, c4 = 0, 1
    # C3 (left hemisphere) mu power is lower for right-hand imagery, C4 for left-hand imagery
    assert act[right, c3].mean() < 0.85 * act[left, c3].mean()
    assert act[left, c4].mean() < 0.85 * act[right, c4].mean()
    # electrode-level ERD relative to the pre-cue baseline is in the published 20-40 % range (+-10 %)
    erd_c3_right = 1 - act[right, c3].mean() / base[right, c3].mean()
    erd_c4_left = 1 - act[left, c4].mean() / base[left, c4].mean()
    for erd in (erd_c3_right, erd_c4_left):
        assert 0.10 < erd < 0.50, erd


def test_scores_above_chance_below_perfect_and_subjects_differ():
    """CSP+LDA left vs right, 5-fold within the first session of the first 4 default subjects
    (rhythm-strength quantiles 0.17, 0.74, 0.38, 0.95): clearly above chance and below perfect on
    average, and some subjects harder than others."""
    from moabb.paradigms import LeftRightImagery
    from pyriemann.estimation import Covariances
    from pyriemann.spatialfilters import CSP
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    ds = SimulatedMotorImagery(subjects=[1, 2, 3, 4], sessions=["0train"])  # default size and seed
    X, y, meta = LeftRightImagery().get_data(ds)
    scores = []
    for s in ds.subject_list:
        m = (meta.subject == s).to_numpy()
        pipe = make_pipeline(Covariances("oas"), CSP(nfilter=6), LinearDiscriminantAnalysis())
        cv = StratifiedKFold(5, shuffle=True, random_state=42)
        scores.append(cross_val_score(pipe, X[m], y[m], cv=cv, scoring="roc_auc").mean())
    scores = np.array(scores)
    assert 0.65 < scores.mean() < 0.95, scores
    assert scores.max() < 0.995, scores
    assert scores.max() - scores.min() > 0.1, scores


def test_moabb_paradigms_accept_it():
    from moabb.paradigms import LeftRightImagery, MotorImagery

    ds = SimulatedMotorImagery(n_subjects=2, n_runs=1, n_trials_per_run=8)
    X, y, meta = LeftRightImagery().get_data(ds, subjects=[2])
    assert X.shape == (8, 22, 1001)  # 2 sessions x 4 left/right trials, [2, 6] s at 250 Hz
    assert sorted(set(y)) == ["left_hand", "right_hand"]
    assert sorted(meta.session.unique()) == ["0train", "1test"]
    assert (meta.subject == 2).all()
    X, y, meta = MotorImagery(n_classes=4).get_data(ds, subjects=[1])
    assert X.shape == (16, 22, 1001)
    assert sorted(set(y)) == sorted(EVENT_ID)


def test_moabb_evaluation_accepts_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MNE_DATA", str(tmp_path))
    monkeypatch.setenv("MOABB_RESULTS", str(tmp_path))
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import LeftRightImagery
    from pyriemann.classification import MDM
    from pyriemann.estimation import Covariances
    from sklearn.pipeline import make_pipeline

    ds = SimulatedMotorImagery(n_subjects=1, n_sessions=1, n_runs=1, n_trials_per_run=40)
    ev = WithinSessionEvaluation(paradigm=LeftRightImagery(), datasets=[ds], overwrite=True,
                                 hdf5_path=None, save_model=False)
    assert LeftRightImagery().is_valid(ds)
    res = ev.process({"MDM": make_pipeline(Covariances("oas"), MDM())})
    assert len(res) == 1 and 0.0 <= res.score.iloc[0] <= 1.0


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_subjects=0), "n_subjects"), (dict(n_runs=-1), "n_runs"), (dict(seed=-5), "seed"),
    (dict(sfreq=100.0), "sfreq"), (dict(n_trials_per_run=2), "n_trials_per_run"),
    (dict(subjects=[7]), "subjects"), (dict(sessions=["2x"]), "sessions"),
])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        SimulatedMotorImagery(**kwargs)


def test_session_selection_generates_only_selected():
    ds = SimulatedMotorImagery(n_subjects=1, n_runs=1, n_trials_per_run=4, sessions=[1])
    assert list(ds.get_data([1])[1]) == ["1test"]
    ds = SimulatedMotorImagery(n_subjects=1, n_runs=1, n_trials_per_run=4, sessions=["0train"])
    data = ds.get_data([1])[1]
    assert list(data) == ["0train"]
    full = SimulatedMotorImagery(n_subjects=1, n_runs=1, n_trials_per_run=4).get_data([1])[1]
    assert (data["0train"]["0"].get_data() == full["0train"]["0"].get_data()).all()


def test_subject_not_in_dataset():
    ds = SimulatedMotorImagery(n_subjects=3)
    with pytest.raises(ValueError, match=r"'subjects'.*integers from 1 to 3.*got 9"):
        ds.get_data([9])
    with pytest.raises(ValueError, match=r"'subjects'.*got 0"):
        ds.simulate_raw(0)
