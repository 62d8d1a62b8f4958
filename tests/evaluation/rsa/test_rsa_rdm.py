"""RDM distances: direct formulas, rsatoolbox cross-checks, batching and bad input."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from neurosig.evaluation.rsa import as_square, as_vectors, calc_rdm, noise_precision

TOL = 1e-10


def _direct(X, method, P=None):
    """Slow double loop over condition pairs."""
    n, p = X.shape
    D = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            d = X[i] - X[j]
            if method == "euclidean":
                D[i, j] = d @ d / p
            elif method == "mahalanobis":
                D[i, j] = d @ P @ d / p
            elif method == "correlation":
                D[i, j] = 1 - np.corrcoef(X[i], X[j])[0, 1]
            elif method == "cosine":
                D[i, j] = 1 - X[i] @ X[j] / np.linalg.norm(X[i]) / np.linalg.norm(X[j])
    return D


@pytest.fixture
def patterns():
    return np.random.default_rng(0).normal(size=(3, 10, 25))


@pytest.mark.parametrize("method", ["euclidean", "correlation", "cosine", "mahalanobis"])
def test_distances_match_direct_formula(patterns, method):
    rng = np.random.default_rng(1)
    P = noise_precision(rng.normal(size=(60, 25)), method="shrinkage_diag")
    out = calc_rdm(patterns, method, noise=P if method == "mahalanobis" else None)
    assert out.shape == (3, 10, 10)
    for b in range(3):
        np.testing.assert_allclose(out[b], _direct(patterns[b], method, P), atol=TOL)
    # 2-D input gives one matrix, equal to the batch member
    np.testing.assert_allclose(calc_rdm(patterns[1], method, noise=P if method == "mahalanobis" else None),
                               out[1], atol=1e-12)


def test_cosine_matches_scipy(patterns):
    np.testing.assert_allclose(calc_rdm(patterns[0], "cosine"), cdist(patterns[0], patterns[0], "cosine"),
                               atol=TOL)


@pytest.mark.parametrize("method", ["euclidean", "correlation", "mahalanobis"])
def test_distances_match_rsatoolbox(rsatb, patterns, method):
    from rsatoolbox.data import Dataset

    P = noise_precision(np.random.default_rng(2).normal(size=(60, 25)))
    mine = calc_rdm(patterns, method, noise=P if method == "mahalanobis" else None, squareform=False)
    for b in range(3):
        ref = rsatb.rdm.calc_rdm(Dataset(patterns[b]), method=method,
                                 noise=P if method == "mahalanobis" else None).get_vectors()[0]
        np.testing.assert_allclose(mine[b], ref, atol=TOL)


def test_trials_are_averaged_per_condition(rsatb):
    from rsatoolbox.data import Dataset

    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 12))
    cond = rng.permutation(np.repeat(np.array(["b", "a", "d", "c"]), 10))
    mine = calc_rdm(X, "euclidean", conditions=cond, squareform=False)
    ref = rsatb.rdm.calc_rdm(Dataset(X, obs_descriptors={"c": cond}), method="euclidean",
                             descriptor="c").get_vectors()[0]
    np.testing.assert_allclose(mine, ref, atol=TOL)


@pytest.mark.parametrize("noise_kind", [None, "shared", "per_subject", "balanced"])
def test_crossnobis_matches_rsatoolbox(rsatb, noise_kind):
    from rsatoolbox.data import Dataset

    rng = np.random.default_rng(4)
    n_cond, n_runs, p = 8, 3, 15
    cond = np.tile(np.arange(n_cond), n_runs)
    runs = np.repeat(np.arange(n_runs), n_cond)
    X = rng.normal(size=(2, n_cond * n_runs, p))
    if noise_kind == "balanced":  # 2 trials per condition and run, shuffled (fast Gram path)
        cond, runs = np.tile(cond, 2), np.tile(runs, 2)
        perm = rng.permutation(len(cond))
        cond, runs = cond[perm], runs[perm]
        X = rng.normal(size=(2, len(cond), p))
    else:  # unbalanced: one extra trial of condition 0 in run 1
        X = np.concatenate([X, rng.normal(size=(2, 1, p))], axis=1)
        cond = np.append(cond, 0)
        runs = np.append(runs, 1)
    P = None
    if noise_kind == "shared":
        P = noise_precision(rng.normal(size=(50, p)), method="shrinkage_eye")
    elif noise_kind == "per_subject":
        P = noise_precision(rng.normal(size=(2, 50, p)))
    mine = calc_rdm(X, "crossnobis", conditions=cond, folds=runs, noise=P, squareform=False)
    for b in range(2):
        Pb = None if P is None else (P if P.ndim == 2 else P[b])
        ds = Dataset(X[b], obs_descriptors={"c": cond, "r": runs})
        ref = rsatb.rdm.calc_rdm(ds, method="crossnobis", descriptor="c", cv_descriptor="r",
                                 noise=Pb).get_vectors()[0]
        np.testing.assert_allclose(mine[b], ref, atol=TOL)


def test_crossnobis_direct_formula_and_unbiased():
    rng = np.random.default_rng(5)
    n_cond, n_runs, p = 5, 4, 30
    cond = np.tile(np.arange(n_cond), n_runs)
    runs = np.repeat(np.arange(n_runs), n_cond)
    X = rng.normal(size=(n_cond * n_runs, p))
    out = calc_rdm(X, "crossnobis", conditions=cond, folds=runs)
    # direct: leave one run out, (a_i - a_j) . (b_i - b_j) / p averaged over runs
    D = np.zeros((n_cond, n_cond))
    for f in range(n_runs):
        a = np.stack([X[(cond == c) & (runs != f)].mean(0) for c in range(n_cond)])
        b = np.stack([X[(cond == c) & (runs == f)].mean(0) for c in range(n_cond)])
        for i in range(n_cond):
            for j in range(n_cond):
                D[i, j] += (a[i] - a[j]) @ (b[i] - b[j]) / p / n_runs
    np.testing.assert_allclose(out, D, atol=TOL)
    # unbiased: pure noise gives distances centred on 0 (the plain euclidean one is biased upward)
    Xs = rng.normal(size=(200, n_cond * n_runs, p))
    xn = calc_rdm(Xs, "crossnobis", conditions=cond, folds=runs, squareform=False)
    eu = calc_rdm(Xs, "euclidean", conditions=cond, squareform=False)
    assert abs(xn.mean()) < 4 * xn.std() / np.sqrt(xn.size)
    assert eu.mean() > 0.3


@pytest.mark.parametrize("method", ["full", "diag", "shrinkage_eye", "shrinkage_diag"])
def test_noise_precision_matches_rsatoolbox(rsatb, method):
    from rsatoolbox.data.noise import prec_from_residuals

    R = np.random.default_rng(6).normal(size=(2, 40, 12))
    mine = noise_precision(R, method=method)
    for b in range(2):
        np.testing.assert_allclose(mine[b], prec_from_residuals(R[b].copy(), method=method), atol=TOL)


def test_square_and_condensed_roundtrip():
    rng = np.random.default_rng(7)
    sq = calc_rdm(rng.normal(size=(4, 6, 3)))
    v = as_vectors(sq)
    assert v.shape == (4, 15)
    np.testing.assert_array_equal(as_square(v), sq)
    np.testing.assert_array_equal(as_vectors(v[0]), v[:1])


# ------------------------------------------------------------------ bad input
def test_bad_inputs():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(6, 4))
    with pytest.raises(ValueError, match="'method'.*'crossnobis'"):
        calc_rdm(X, "manhattan")
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="'data'.*NaN"):
        calc_rdm(bad)
    with pytest.raises(ValueError, match="'conditions'"):
        calc_rdm(X, conditions=[0, 1])
    with pytest.raises(ValueError, match="'conditions' parameter is required"):
        calc_rdm(X, "crossnobis")
    with pytest.raises(ValueError, match="'noise'"):
        calc_rdm(X, "mahalanobis", noise=np.eye(3))
    # a fold without one of the conditions
    cond = np.array([0, 1, 2, 0, 1, 0])
    runs = np.array([0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="'folds'.*fold 1.*condition 2"):
        calc_rdm(X, "crossnobis", conditions=cond, folds=runs)


def test_bad_rdms():
    D = calc_rdm(np.random.default_rng(9).normal(size=(5, 3)))
    asym = D.copy()
    asym[0, 1] += 0.5
    with pytest.raises(ValueError, match="'rdms'.*symmetric"):
        as_vectors(asym)
    nan = D.copy()
    nan[0, 1] = nan[1, 0] = np.nan
    with pytest.raises(ValueError, match="'rdms'.*NaN"):
        as_vectors(nan)
    with pytest.raises(ValueError, match="'rdms'.*zero diagonal"):
        as_vectors(1 - D)
    with pytest.raises(ValueError, match="'rdms'.*length 7"):
        as_vectors(np.zeros((2, 7)))
    with pytest.raises(ValueError, match="'rdms'.*shape"):
        as_vectors(np.zeros((2, 3, 4)))


def test_public_names_resolve_to_callables():
    """Every exported name resolves (guards against a submodule shadowing a function, e.g. `compare`)."""
    import importlib

    import neurosig.evaluation.rsa as rsa

    importlib.import_module("neurosig.evaluation.rsa.comparison")  # importing a submodule must not shadow

    for name in rsa.__all__:
        obj = getattr(rsa, name)
        assert callable(obj), name
    assert rsa.compare.__module__.endswith("comparison")
