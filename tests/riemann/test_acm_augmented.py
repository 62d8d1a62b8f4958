"""AugmentedCovariances: parity with MOABB AugmentedDataset + pyRiemann Covariances, embeddings, rank."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from moabb.pipelines.features import AugmentedDataset
from pyriemann.estimation import Covariances, TimeDelayCovariances

from neurosig.riemann import AugmentedCovariances
from neurosig.riemann.augmented import (
    RankDeficiencyWarning,
    augmented_covariances,
    augmented_covariances_orders,
    spd_mask,
)
from neurosig.riemann.embedding import delay_embed


def _reference(X, order, lag, estimator):
    return Covariances(estimator=estimator).transform(AugmentedDataset(order=order, lag=lag).transform(X))


def _assert_rel(got, ref, rtol=1e-10):
    scale = np.abs(ref).max()
    assert np.abs(got - ref).max() <= rtol * scale


@pytest.mark.parametrize("estimator", ["cov", "scm", "lwf", "oas", "sch", "corr"])
def test_parity_random_all_orders_lags(estimator):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 3, 90)) + 2.0  # offset: centring matters
    for order in (1, 2, 3, 6):
        for lag in (1, 2, 5):
            got = AugmentedCovariances(order, lag, estimator).fit(X).transform(X)
            _assert_rel(got, _reference(X, order, lag, estimator))


def test_lagged_products_all_orders_match_reference():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 4, 120))
    for lag in (1, 3, 7):
        covs = augmented_covariances_orders(X, range(1, 9), lag, "cov")
        for order, C in covs.items():
            _assert_rel(C, _reference(X, order, lag, "cov"))


def test_textbook_embedding_matches_explicit_formula():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2, 3, 50))
    order, lag = 4, 3
    n = 50 - (order - 1) * lag
    explicit = np.concatenate([X[..., i * lag:i * lag + n] for i in range(order)], axis=1)
    np.testing.assert_array_equal(delay_embed(X, order, lag, "textbook"), explicit)
    ref = np.stack([np.cov(e) for e in explicit])
    _assert_rel(augmented_covariances(X, order, lag, "cov", "textbook"), ref)
    # MOABB convention drops lag more samples; order 1 keeps the whole trial in both
    assert delay_embed(X, order, lag, "moabb").shape[-1] == 50 - order * lag
    np.testing.assert_array_equal(delay_embed(X, 1, lag, "moabb"), X)


def test_differs_from_pyriemann_time_delay_covariances():
    """pyRiemann's TimeDelayCovariances wraps around (np.roll): documented difference."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((2, 3, 60))
    tdc = TimeDelayCovariances(delays=3, estimator="cov").transform(X)  # lags 0,1,2 with wrap-around
    ours = augmented_covariances(X, 3, 1, "cov", "textbook")
    assert tdc.shape == ours.shape
    assert not np.allclose(tdc, ours)


def test_parity_real_physionet(physionet_s1):
    X, _ = physionet_s1
    X = X[:12]
    for order in (1, 2, 3):
        for lag in (1, 4, 10):
            got = AugmentedCovariances(order, lag).fit(X).transform(X)
            _assert_rel(got, _reference(X, order, lag, "cov"))


def test_rank_deficient_warns_and_returns_spd():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((5, 8, 40))  # order 6: 48 dims > 40 - 6 - 1 samples
    est = AugmentedCovariances(order=6, lag=1).fit(X)
    with pytest.warns(RankDeficiencyWarning, match="rank deficient"):
        C = est.transform(X)
    assert spd_mask(C, rcond=1e-10).all()
    with pytest.raises(ValueError, match="rank deficient"):
        AugmentedCovariances(order=6, lag=1, on_rank_deficient="raise").fit(X).transform(X)


def test_numerically_singular_warns_and_shrinks():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((4, 3, 200))
    X[:, 2] = X[:, 0] + X[:, 1]  # exactly collinear channel: singular at every order
    est = AugmentedCovariances(order=2, lag=1).fit(X)
    with pytest.warns(RankDeficiencyWarning, match="not SPD"):
        C = est.transform(X)
    assert spd_mask(C, rcond=1e-10).all()


def test_full_rank_gives_no_warning():
    X = np.random.default_rng(7).standard_normal((3, 2, 100))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AugmentedCovariances(order=3, lag=2).fit(X).transform(X)
