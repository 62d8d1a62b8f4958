"""Simulated SSVEP / P300 datasets, SSVEP CCA estimators and the SSVEP / P300 pipeline files."""
from __future__ import annotations

import logging
import runpy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch
from scipy.stats import binom, norm

from neurosig.datasets import SimulatedP300, SimulatedSSVEP, get_dataset
from neurosig.features import SSVEPCCA, FilterBankCCA
from neurosig.features.cca import cca_references, max_canonical_correlations

ROOT = Path(__file__).resolve().parents[2]
SUBJECT = 4  # a strong responder in both simulators (seed 42); subject 1 is near chance
logging.getLogger("moabb").setLevel(logging.ERROR)


def _get(paradigm, ds, subjects):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return paradigm.get_data(ds, subjects=subjects)


@pytest.fixture(scope="module")
def ssvep_ds():
    return SimulatedSSVEP(n_subjects=4, seed=42)


@pytest.fixture(scope="module")
def p300_ds():
    return SimulatedP300(n_subjects=4, seed=42)


@pytest.fixture(scope="module")
def ssvep_data(ssvep_ds):
    from moabb.paradigms import SSVEP
    return _get(SSVEP(), ssvep_ds, [SUBJECT])


@pytest.fixture(scope="module")
def p300_data(p300_ds):
    from moabb.paradigms import P300
    return _get(P300(), p300_ds, [SUBJECT])


def _acc_threshold(n_trials: int, n_classes: int) -> float:
    """Accuracy that chance (1 / n_classes) exceeds with probability < 0.1 % for n_trials."""
    return binom.ppf(0.999, n_trials, 1.0 / n_classes) / n_trials


def _auc_threshold(n_pos: int, n_neg: int) -> float:
    """AUC that chance (0.5) exceeds with probability < 0.1 % (Mann-Whitney normal approximation)."""
    sd = np.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg))
    return 0.5 + norm.ppf(0.999) * sd


# ---------------------------------------------------------------------- SSVEP dataset
def test_ssvep_layout_events_and_moabb_paradigms(ssvep_ds, ssvep_data):
    from moabb.paradigms import SSVEP, FilterBankSSVEP
    assert ssvep_ds.paradigm == "ssvep"
    assert ssvep_ds.event_id == {"13": 1, "17": 2, "21": 3}
    assert SSVEP().is_valid(ssvep_ds) and FilterBankSSVEP().is_valid(ssvep_ds)
    X, y, meta = ssvep_data
    assert X.shape == (48, 8, 769)  # 2 runs x 24 trials, 3 s at 256 Hz
    assert sorted(set(y)) == ["13", "17", "21"] and np.all(np.unique(y, return_counts=True)[1] == 16)
    Xf, yf, _ = _get(FilterBankSSVEP(), ssvep_ds, [SUBJECT])
    assert Xf.shape == (48, 8, 769, 3) and np.array_equal(yf, y)
    raw = ssvep_ds.simulate_raw(1)
    assert raw.ch_names[:8] == ["PO7", "PO3", "POz", "PO4", "PO8", "O1", "Oz", "O2"]
    assert raw.get_montage() is not None
    ds_rest = SimulatedSSVEP(n_subjects=1, rest=True, n_trials_per_run=8, n_runs=1)
    assert ds_rest.event_id["rest"] == 4


def test_ssvep_peak_at_stimulation_frequency_on_oz(ssvep_data):
    X, y, _ = ssvep_data
    oz = 6
    f, pxx = welch(X[:, oz], fs=256.0, nperseg=768, axis=-1)  # 1/3 Hz resolution
    for label in ("13", "17", "21"):
        p = pxx[y == label].mean(0)
        i = int(np.argmin(np.abs(f - float(label))))
        neighbours = np.r_[p[i - 9:i - 2], p[i + 3:i + 10]]  # +-1 to 3 Hz, off the peak
        assert p[i] > 3.0 * neighbours.mean(), label
        # and larger than at this frequency in trials of the other classes
        assert p[i] > 3.0 * pxx[y != label].mean(0)[i], label


def test_ssvep_deterministic_and_seed_dependent():
    a = SimulatedSSVEP(n_subjects=2, seed=3, n_trials_per_run=6).simulate_raw(2, 0, 1).get_data()
    b = SimulatedSSVEP(n_subjects=5, seed=3, n_trials_per_run=6).simulate_raw(2, 0, 1).get_data()
    c = SimulatedSSVEP(n_subjects=2, seed=4, n_trials_per_run=6).simulate_raw(2, 0, 1).get_data()
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.allclose(a, c)


@pytest.mark.parametrize("kwargs, name", [
    (dict(freqs=[13, 200]), "freqs"), (dict(freqs=[]), "freqs"), (dict(sfreq=100), "sfreq"),
    (dict(n_trials_per_run=2), "n_trials_per_run"), (dict(rest="yes"), "rest"),
])
def test_ssvep_bad_arguments(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        SimulatedSSVEP(**kwargs)


# ---------------------------------------------------------------------- P300 dataset
def test_p300_layout_ratio_and_moabb_paradigm(p300_ds, p300_data):
    from moabb.paradigms import P300
    assert p300_ds.paradigm == "p300" and P300().is_valid(p300_ds)
    assert p300_ds.event_id == {"Target": 2, "NonTarget": 1}
    X, y, _ = p300_data
    assert X.shape == (240, 16, 206)  # 2 runs x 20 sequences x 6 flashes, [0, 0.8] s at 256 Hz
    n_t, n_nt = (y == "Target").sum(), (y == "NonTarget").sum()
    assert (n_t, n_nt) == (40, 200)  # 1 : 5
    flags = p300_ds._schedule(np.random.default_rng(0))
    assert not np.any(flags[1:] & flags[:-1])  # never two targets in a row


def test_p300_difference_peaks_at_pz_between_300_and_400_ms(p300_ds):
    from moabb.paradigms import P300
    X, y, _ = _get(P300(), p300_ds, [1, 2, 3, 4])
    diff = X[y == "Target"].mean(0) - X[y == "NonTarget"].mean(0)  # (16, 206), V
    t = np.arange(X.shape[-1]) / 256.0
    pz = 4
    t_peak = t[np.argmax(diff[pz])]
    assert 0.28 <= t_peak <= 0.42
    # centro-parietal maximum: Pz / CPz beat frontal (Fz) and occipital (Oz) sites
    i = np.argmax(diff[pz])
    amp = diff[:, i]
    assert max(amp[3], amp[4]) > 2 * max(amp[0], amp[5])
    # the simulated subjects' latencies are in the stated range
    lat = [p300_ds.subject_parameters(s)["p300_latency"] for s in range(1, 5)]
    assert all(0.3 <= v <= 0.4 for v in lat) and np.ptp(lat) > 0.01


def test_p300_deterministic():
    a = SimulatedP300(n_subjects=2, seed=3, n_sequences_per_run=4).simulate_raw(1, 0, 0).get_data()
    b = SimulatedP300(n_subjects=3, seed=3, n_sequences_per_run=4).simulate_raw(1, 0, 0).get_data()
    c = SimulatedP300(n_subjects=2, seed=4, n_sequences_per_run=4).simulate_raw(1, 0, 0).get_data()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("kwargs, name", [
    (dict(soa=5.0), "soa"), (dict(n_stimuli=1), "n_stimuli"), (dict(sfreq=50), "sfreq"),
    (dict(subjects=[9]), "subjects"),
])
def test_p300_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SimulatedP300(**kwargs)


def test_get_dataset_knows_the_simulators():
    ds = get_dataset("simulated-ssvep", n_subjects=2)
    assert isinstance(ds, SimulatedSSVEP) and ds.neurosig_name == "SimulatedSSVEP"
    assert isinstance(get_dataset("SimulatedP300", n_subjects=1), SimulatedP300)
    assert type(get_dataset("simulated")).__name__ == "SimulatedMotorImagery"


# ---------------------------------------------------------------------- CCA
def test_canonical_correlation_matches_sklearn_cca_and_direct_formula():
    from sklearn.cross_decomposition import CCA
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 4, 300))
    Y = cca_references([10.0, 13.0], 300, 100.0, n_harmonics=2)
    X[0, :2] += 1.0 * Y[0][:2]  # a trial that does correlate with the 10 Hz references
    rho = max_canonical_correlations(X, Y)
    for i in range(3):
        for j in range(2):
            cca = CCA(n_components=1, max_iter=5000, tol=1e-12).fit(X[i].T, Y[j].T)
            u, v = cca.transform(X[i].T, Y[j].T)
            assert rho[i, j] == pytest.approx(abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1]), abs=1e-6)
            # direct formula: largest eigenvalue of Cxx^-1 Cxy Cyy^-1 Cyx is rho^2
            a = X[i].T - X[i].T.mean(0)
            b = Y[j].T - Y[j].T.mean(0)
            cxx, cyy, cxy = a.T @ a, b.T @ b, a.T @ b
            m = np.linalg.solve(cxx, cxy) @ np.linalg.solve(cyy, cxy.T)
            assert rho[i, j] == pytest.approx(np.sqrt(np.max(np.linalg.eigvals(m).real)), abs=1e-8)
    assert rho[0, 0] > 0.5 > rho[0, 1]


def test_cca_classifies_pure_sinusoids_and_matches_moabb(ssvep_data):
    sf, n = 256.0, 512
    t = np.arange(n) / sf
    rng = np.random.default_rng(1)
    freqs = ["13", "17", "21"]
    y = np.array(freqs * 4)
    X = np.stack([np.outer(rng.standard_normal(4), np.sin(2 * np.pi * float(f) * t + rng.uniform(0, 6)))
                  + 0.5 * rng.standard_normal((4, n)) for f in y])
    clf = SSVEPCCA(sfreq=sf).fit(X, y)
    assert np.array_equal(clf.predict(X), y)
    assert list(clf.freqs_) == [13.0, 17.0, 21.0]
    # on the simulated subject: the class of the largest canonical correlation, computed
    # trial by trial with scikit-learn's iterative CCA (MOABB's SSVEP_CCA needs mne Epochs)
    from sklearn.cross_decomposition import CCA
    Xs, ys, _ = ssvep_data
    clf = SSVEPCCA(sfreq=256.0, n_harmonics=3).fit(Xs, ys)
    ours = clf.predict(Xs[:6])
    for k in range(6):
        r = []
        for Y in clf.references_:
            u, v = CCA(n_components=1, max_iter=5000, tol=1e-12).fit(Xs[k].T, Y.T).transform(Xs[k].T, Y.T)
            r.append(abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1]))
        assert ours[k] == clf.classes_[int(np.argmax(r))]


def test_cca_freqs_options_and_binary_decision_function():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 3, 256))
    y = np.array(["a", "b"] * 3)
    with pytest.raises(ValueError, match="freqs"):
        SSVEPCCA(sfreq=128.0).fit(X, y)
    with pytest.raises(ValueError, match="sfreq"):
        SSVEPCCA().fit(X, y)
    with pytest.raises(ValueError, match="freqs"):
        SSVEPCCA(sfreq=128.0, freqs=[10.0]).fit(X, y)
    with pytest.raises(ValueError, match="X"):
        SSVEPCCA(sfreq=128.0, freqs=[10.0, 12.0]).fit(X[..., None], y)
    clf = SSVEPCCA(sfreq=128.0, freqs={"a": 10.0, "b": 12.0}).fit(X, y)
    d = clf.decision_function(X)
    assert d.shape == (6,)
    np.testing.assert_allclose(d, np.diff(clf.correlations(X), axis=1)[:, 0])
    with pytest.raises(ValueError, match="n_bands"):
        FilterBankCCA(sfreq=128.0, freqs=[10.0, 12.0], n_bands=8).fit(X, y)


def test_fbcca_weights_and_scores_from_band_correlations():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5, 3, 512))
    y = np.array(["13", "17", "21", "13", "17"])
    clf = FilterBankCCA(sfreq=256.0).fit(X, y)
    np.testing.assert_allclose(clf.weights_, np.arange(1, 6) ** -1.25 + 0.25)
    np.testing.assert_allclose(clf.bands_[:, 0], [8, 16, 24, 32, 40])
    rho = clf.band_correlations(X)
    assert rho.shape == (5, 5, 3)
    # band 1 by hand: scipy filter then the CCA of SSVEPCCA
    from scipy.signal import cheby1, sosfiltfilt
    sos = cheby1(4, 0.5, [8.0, 88.0], btype="bandpass", fs=256.0, output="sos")
    ref = SSVEPCCA(sfreq=256.0).fit(X, y).correlations(sosfiltfilt(sos, X, axis=-1))
    np.testing.assert_allclose(rho[:, 0], ref, atol=1e-10)
    scores = (clf.weights_[None, :, None] * rho**2).sum(1)
    assert np.array_equal(clf.predict(X), clf.classes_[np.argmax(scores, 1)])


def test_cca_clone_and_pickle(ssvep_data):
    import pickle

    from sklearn.base import clone
    X, y, _ = ssvep_data
    clf = FilterBankCCA(sfreq=256.0, n_bands=3).fit(X[:9], y[:9])
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X[9:12]), clf.predict(X[9:12]))
    assert clone(clf).get_params() == clf.get_params() and not hasattr(clone(clf), "classes_")


# ---------------------------------------------------------------------- pipeline files + example
def test_example_runs_and_every_pipeline_beats_chance(capsys, monkeypatch):
    """The example scores every SSVEP / P300 pipeline with 5-fold CV on one simulated subject."""
    monkeypatch.setattr(sys, "argv", ["zoo_ssvep_p300.py", "--subject", str(SUBJECT)])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(ROOT / "examples" / "zoo_ssvep_p300.py"), run_name="__main__")
    assert exc.value.code == 0
    lines = [ln.split() for ln in capsys.readouterr().out.splitlines()[2:]]
    rows = {ln[0]: (ln[1], int(ln[2]), ln[3], float(ln[4].split("+-")[0]), float(ln[5])) for ln in lines}
    assert set(rows) == {"SSVEP-CCA", "SSVEP-FBCCA", "SSVEP-TS+SVM", "P300-XdawnCov+MDM", "P300-ERPCov+TS+LR"}
    for name, (_paradigm, n_trials, metric, score, chance) in rows.items():
        if metric == "accuracy":
            assert chance == pytest.approx(1 / 3, abs=1e-3)
            thr = _acc_threshold(n_trials, 3)   # 48 trials: 0.5625
        else:
            assert chance == 0.5 and n_trials == 240
            thr = _auc_threshold(40, 200)       # 40 targets / 200 non-targets: 0.656
        assert score > thr, (name, score, thr)
