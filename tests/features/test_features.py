"""Feature transformers against direct computations (scipy), and the filter bank."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, coherence, sosfiltfilt, welch

from neurosig.features import BandPower, Connectivity, FilterBank, PowerAndConnectivity

SF = 250.0


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 4, 750))
    X[:, 1] += 0.6 * X[:, 0]
    return X


def test_band_power_matches_scipy_welch(X):
    bands = [(8, 12), (18, 26)]
    F = BandPower(sfreq=SF, bands=bands, log=False).fit(X).transform(X)
    f, P = welch(X[2, 3], fs=SF, nperseg=250)
    expected = [P[(f >= lo) & (f <= hi)].mean() for lo, hi in bands]
    np.testing.assert_allclose(F.reshape(6, 4, 2)[2, 3], expected, rtol=1e-12)
    Flog = BandPower(sfreq=SF, bands=bands).fit_transform(X)
    np.testing.assert_allclose(Flog, np.log(F), rtol=1e-12)


def test_coherence_matches_scipy(X):
    M = Connectivity(sfreq=SF, fmin=8, fmax=30, measure="coh", vectorize="matrix").fit(X)._matrices(X)
    f, c = coherence(X[3, 0], X[3, 1], fs=SF, nperseg=250)
    sel = (f >= 8) & (f <= 30)
    assert M[3, 0, 1] == pytest.approx(c[sel].mean(), rel=1e-10)
    np.testing.assert_allclose(M, M.transpose(0, 2, 1), atol=1e-12)


def test_imaginary_coherence_ignores_zero_lag_mixing():
    rng = np.random.default_rng(2)
    s = rng.standard_normal((4, 1, 2000))
    zero_lag = np.concatenate([s, s + 0.1 * rng.standard_normal(s.shape)], axis=1)
    lagged = np.concatenate([s, np.roll(s, 3, axis=-1)], axis=1)
    est = Connectivity(sfreq=SF, fmin=8, fmax=30, measure="imcoh", vectorize="upper")
    assert est.fit_transform(zero_lag).mean() < 0.05 < est.fit_transform(lagged).mean()


def test_plv_matches_direct_formula(X):
    from scipy.signal import hilbert
    M = Connectivity(sfreq=SF, fmin=8, fmax=13, measure="plv", vectorize="matrix").fit(X)._matrices(X)
    sos = butter(4, [8, 13], btype="bandpass", fs=SF, output="sos")
    ph = np.angle(hilbert(sosfiltfilt(sos, X[0], axis=-1), axis=-1))
    direct = abs(np.mean(np.exp(1j * (ph[0] - ph[1]))))
    assert M[0, 0, 1] == pytest.approx(direct, rel=1e-10)
    np.testing.assert_allclose(np.diagonal(M, axis1=1, axis2=2), 1.0)


@pytest.mark.parametrize("fn", ["plv_matrices", "coherence_matrices"])
def test_connectivity_functions_refuse_a_bad_band_as_the_estimator_does(X, fn):
    from neurosig.features import connectivity

    for fmin, fmax in [(30, 8), (8, 200)]:
        with pytest.raises(ValueError, match=r"Invalid band: need 0 <= fmin < fmax <= 125 Hz"):
            getattr(connectivity, fn)(X, SF, fmin, fmax)
        with pytest.raises(ValueError, match=r"Invalid band: need 0 <= fmin < fmax <= 125 Hz"):
            Connectivity(sfreq=SF, fmin=fmin, fmax=fmax).fit(X)
    with pytest.raises(ValueError, match="'sfreq'"):
        getattr(connectivity, fn)(X, -1.0, 8, 12)


def test_filter_bank_applies_one_transformer_per_band(X):
    y = np.array([0, 1] * 3)
    bands = [(8, 12), (16, 24)]
    fb = FilterBank(transformer=BandPower(sfreq=SF, bands=[(1, 100)], log=False), sfreq=SF, bands=bands)
    F = fb.fit(X, y).transform(X)
    assert F.shape == (6, 4 * 2)
    sos = butter(4, [16, 24], btype="bandpass", fs=SF, output="sos")
    direct = BandPower(sfreq=SF, bands=[(1, 100)], log=False).fit_transform(sosfiltfilt(sos, X, axis=-1))
    np.testing.assert_allclose(F[:, 4:], direct, rtol=1e-10)
    assert FilterBank(sfreq=SF, transformer="tangent-space", bands=bands).fit(X, y).transform(X).shape == (6, 20)


def test_combined_features_shape(X):
    F = PowerAndConnectivity(sfreq=SF, bands=[(8, 12), (12, 30)]).fit_transform(X)
    assert F.shape == (6, 4 * 3) and np.all(np.isfinite(F))


@pytest.mark.parametrize("est,match", [
    (BandPower(), "'sfreq' parameter is None"),
    (BandPower(sfreq=SF, bands=[(30, 8)]), "'bands' parameter"),
    (Connectivity(sfreq=SF, measure="pli"), "'measure' parameter"),
    (FilterBank(sfreq=SF, transformer="xdawn"), "'transformer' parameter"),
])
def test_bad_parameters_are_named(X, est, match):
    with pytest.raises(ValueError, match=match):
        est.fit(X, np.array([0, 1] * 3))
