"""Transfer aligners against direct formulas and pyRiemann's transfer module."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from scipy.linalg import fractional_matrix_power
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from neurosig.riemann.transfer import EuclideanAlignment, RiemannianRecentering, fit_transfer


def _domains_data(seed=0, n=30, c=5, t=120):
    """Two domains with different mixing (a 'session shift'), two classes with a power effect."""
    rng = np.random.default_rng(seed)
    X, y, d = [], [], []
    for dom, scale in (("s0", 1.0), ("s1", 3.0)):
        A = np.eye(c) + 0.4 * rng.standard_normal((c, c))
        for i in range(n):
            label = i % 2
            src = rng.standard_normal((c, t))
            src[label] *= 1.3  # class effect on one source
            X.append(scale * A @ src)
            y.append(label)
            d.append(dom)
    return np.asarray(X), np.asarray(y), np.asarray(d, dtype=object)


def _covs(X):
    from pyriemann.estimation import Covariances

    return Covariances("scm").fit_transform(X)


def test_euclidean_alignment_equals_direct_formula():
    X, _, d = _domains_data()
    ea = EuclideanAlignment()
    Xa = ea.fit_transform(X, domains=d, target_domain="s1")
    for dom in ("s0", "s1"):
        Xd = X[d == dom]
        R = np.mean([x @ x.T / x.shape[1] for x in Xd], axis=0)     # He & Wu's reference
        P = np.real(fractional_matrix_power(R, -0.5))                 # scipy, not eigh
        direct = np.stack([P @ x for x in Xd])
        assert np.allclose(Xa[d == dom], direct, atol=1e-10)
        # the defining property: mean covariance of every aligned domain is the identity
        Ra = np.mean([x @ x.T / x.shape[1] for x in Xa[d == dom]], axis=0)
        assert np.allclose(Ra, np.eye(X.shape[1]), atol=1e-10)
    # test time: everything aligned with the target's reference
    assert ea.target_domain_ == "s1" and ea.n_domains_ == 2
    assert np.allclose(ea.transform(X[d == "s1"]), Xa[d == "s1"], atol=1e-12)
    assert not np.allclose(ea.transform(X[d == "s0"]), Xa[d == "s0"])


def test_euclidean_alignment_on_real_eeg(shared_data):
    """Two runs of the real PhysionetMI subject as two domains: each aligned run has mean
    covariance identity (2-s windows of 1-40 Hz band-passed EEG)."""
    import mne

    runs = []
    for r in ("R04", "R08"):
        raw = mne.io.read_raw_edf(shared_data / "eegmmidb" / "S001" / f"S001{r}.edf", preload=True,
                                  verbose="error")
        raw.filter(1.0, 40.0, verbose="error")
        data = raw.get_data()[:16, : 20 * 320]
        runs.append(data.reshape(16, 20, 320).transpose(1, 0, 2))
    X = np.concatenate(runs)
    d = np.repeat(["R04", "R08"], 20).astype(object)
    Xa = EuclideanAlignment().fit_transform(X, domains=d)
    for dom in ("R04", "R08"):
        Ra = np.einsum("ict,idt->cd", Xa[d == dom], Xa[d == dom]) / (20 * 320)
        assert np.allclose(Ra, np.eye(16), atol=1e-8)


def test_recentering_equals_pyriemann_tlcenter():
    from pyriemann.transfer import TLCenter, encode_domains

    X, y, d = _domains_data(seed=1)
    C = _covs(X)
    rc = RiemannianRecentering()
    Ca = rc.fit_transform(C, domains=d, target_domain="s1")
    _, y_enc = encode_domains(C, y, d)
    tl = TLCenter(target_domain="s1")
    ref = tl.fit_transform(C, y_enc)
    assert np.allclose(Ca, ref, atol=1e-12)
    assert np.allclose(rc.transform(C[d == "s1"]), tl.transform(C[d == "s1"]), atol=1e-12)
    # direct property: the Riemannian mean of every re-centred domain is the identity
    from pyriemann.geometry.mean import mean_riemann

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for dom in ("s0", "s1"):
            assert np.allclose(mean_riemann(Ca[d == dom]), np.eye(C.shape[1]), atol=1e-6)


@pytest.mark.parametrize("labeled", [True, False])
def test_recentered_mdm_equals_pyriemann_pipeline(labeled):
    """fit_transfer(Covariances -> re-centering -> MDM) predicts as pyRiemann's TLCenter +
    TLClassifier(MDM) with the target's calibration trials (weight 0 when unlabeled)."""
    from pyriemann.classification import MDM
    from pyriemann.estimation import Covariances
    from pyriemann.transfer import TLCenter, TLClassifier, encode_domains

    X, y, d = _domains_data(seed=2, n=40)
    tgt = np.flatnonzero(d == "s1")
    cal, test = tgt[:12], tgt[12:]
    train = np.flatnonzero(d == "s0")
    idx = np.concatenate([train, cal])
    ours = make_pipeline(Covariances("scm"), RiemannianRecentering(), MDM())
    lab = np.r_[np.ones(len(train), bool), np.full(len(cal), labeled)]
    y_fit = y[idx].copy()
    if not labeled:
        y_fit[len(train):] = 1 - y_fit[len(train):]  # wrong labels must not matter
    fit_transfer(ours, X[idx], y_fit, d[idx], "s1", lab)

    C = Covariances("scm").fit_transform(X)
    _, y_enc = encode_domains(C[idx], y[idx], d[idx])
    weight = {"s0": 1.0, "s1": 1.0 if labeled else 0.0}
    theirs = make_pipeline(TLCenter(target_domain="s1"),
                           TLClassifier(target_domain="s1", estimator=MDM(), domain_weight=weight))
    theirs.fit(C[idx], y_enc)
    pred = ours.predict(X[test])
    assert np.array_equal(pred, theirs.predict(C[test]).astype(int))
    assert 0 < np.mean(pred == y[test]) < 1  # a non-trivial problem
    dist_ours = ours[-1].transform(ours[:-1].transform(X[test]))
    dist_theirs = theirs[-1].estimator.transform(theirs[0].transform(C[test]))
    assert np.allclose(dist_ours, dist_theirs, rtol=1e-8)


def test_fit_transfer_ignores_unlabeled_calibration_labels():
    from pyriemann.estimation import Covariances
    from pyriemann.spatialfilters import CSP
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis as LDA

    X, y, d = _domains_data(seed=3)
    lab = d == "s0"
    pipe = make_pipeline(EuclideanAlignment(), Covariances("oas"), CSP(4), LDA())
    a = fit_transfer(clone(pipe), X, y, d, "s1", lab)
    y2 = y.copy()
    y2[~lab] = 1 - y2[~lab]
    b = fit_transfer(clone(pipe), X, y2, d, "s1", lab)
    assert np.allclose(a.decision_function(X[~lab]), b.decision_function(X[~lab]))
    # ... while labeled calibration trials do change the classifier
    c = fit_transfer(clone(pipe), X, y2, d, "s1", None)
    assert not np.allclose(a.decision_function(X[~lab]), c.decision_function(X[~lab]))


def test_contract_and_bad_input():
    X, _, d = _domains_data()
    for est in (EuclideanAlignment(shrinkage=0.1), RiemannianRecentering(metric="logeuclid")):
        Z = X if isinstance(est, EuclideanAlignment) else _covs(X)
        c = clone(est)
        assert c.get_params() == est.get_params() and not hasattr(c, "references_")
        out = c.fit_transform(Z)  # no domains: one domain, aligned with itself
        assert out.shape == Z.shape and c.n_domains_ == 1
        again = pickle.loads(pickle.dumps(c))
        assert np.allclose(again.transform(Z), c.transform(Z))
    with pytest.raises(ValueError, match="'shrinkage' parameter.*got 1.5"):
        EuclideanAlignment(shrinkage=1.5).fit(X)
    with pytest.raises(ValueError, match=r"shape \(n_trials, n_channels, n_times\)"):
        EuclideanAlignment().fit(X[0])
    with pytest.raises(ValueError, match="'target_domain' parameter.*\\['s0', 's1'\\].*got 'x'"):
        EuclideanAlignment().fit(X, domains=d, target_domain="x")
    with pytest.raises(ValueError, match="'domains' parameter"):
        EuclideanAlignment().fit(X, domains=d[:3])
    with pytest.raises(ValueError, match="'metric' parameter"):
        RiemannianRecentering(metric="nope").fit(_covs(X))
    with pytest.raises(ValueError, match="SPD matrices"):
        RiemannianRecentering().fit(X)
    Xr = X.copy()
    Xr[:, -1] = Xr[:, :-1].sum(axis=1)  # rank deficient (like an average reference)
    with pytest.raises(ValueError, match="not positive definite.*'shrinkage'"):
        EuclideanAlignment().fit(Xr)
    assert EuclideanAlignment(shrinkage=0.05).fit(Xr).n_domains_ == 1
