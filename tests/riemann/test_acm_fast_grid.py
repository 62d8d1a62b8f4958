"""Fast grid: same candidates, folds, scores and choice as GridSearchCV over MOABB's pipeline."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from moabb.pipelines.features import AugmentedDataset
from pyriemann.estimation import Covariances
from pyriemann.geometry.distance import distance_riemann
from pyriemann.geometry.mean import mean_riemann
from pyriemann.tangentspace import TangentSpace
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from neurosig.riemann.fast_grid import MOABB_KEYS, fast_grid_search, normalize_grid
from neurosig.riemann.tangent import riemann_mean, riemann_mean_logs, tangent_vectors, upper


def _moabb_grid_search(X, y, grid, cv):
    """MOABB's published pipeline under GridSearchCV, as MOABB's evaluation wraps it."""
    pipe = make_pipeline(AugmentedDataset(), Covariances(estimator="cov"),
                         TangentSpace(metric="riemann"), SVC(kernel="rbf"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GridSearchCV(pipe, {MOABB_KEYS[k]: v for k, v in grid.items()}, cv=cv, scoring="roc_auc",
                            refit=True, return_train_score=True).fit(X, y)


def _check_same(gs, res, n_splits):
    ref = np.array([gs.cv_results_[f"split{k}_test_score"] for k in range(n_splits)]).T
    # candidates in the same order
    for p, q in zip(gs.cv_results_["params"], res.params):
        assert {k: p[MOABB_KEYS[k]] for k in q} == q
    np.testing.assert_allclose(res.split_scores, ref, rtol=0, atol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(res.rank_test_score, gs.cv_results_["rank_test_score"])
    assert res.best_index == gs.best_index_
    assert {MOABB_KEYS[k]: v for k, v in res.best_params.items()} == gs.best_params_


def _random_spd(seed, n_mat=20, n=6, n_times=50):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n_mat, n, n_times))
    A[:, 0] *= 10.0  # spread the eigenvalues a little
    return A @ A.transpose(0, 2, 1) / n_times


def _real_augmented(physionet_s1, order, lag):
    from neurosig.riemann.augmented import augmented_covariances
    X, _ = physionet_s1
    return augmented_covariances(X[:30, ::4], order, lag)  # 16 channels, 30 trials


@pytest.mark.parametrize("seed", [0, 1])
def test_riemann_mean_is_pyriemanns_iteration(seed):
    """Same update, step-size rule, tolerance and maxiter: pyRiemann's returned point."""
    C = _random_spd(seed)
    M = riemann_mean(C)
    np.testing.assert_allclose(M, mean_riemann(C), rtol=0, atol=1e-10 * np.abs(M).max())


def test_riemann_mean_is_pyriemanns_iteration_real(physionet_s1):
    for order, lag in [(1, 1), (3, 2)]:
        C = _real_augmented(physionet_s1, order, lag)
        M = riemann_mean(C)
        np.testing.assert_allclose(M, mean_riemann(C), rtol=0, atol=1e-10 * np.abs(M).max())


def _check_solver(C, solver, tol=10e-9):
    """The returned point meets pyRiemann's criterion there, and is the same fixed point."""
    from pyriemann.geometry.base import invsqrtm, logm
    M, isq, L = riemann_mean_logs(C, solver=solver, tol=tol)[:3]
    Mi = invsqrtm(M)
    J = logm(Mi @ C @ Mi).mean(axis=0)          # pyRiemann's own functions
    assert np.linalg.norm(J) <= tol
    # both points are within ~tol of the fixed point J = 0 (in the affine-invariant distance)
    assert distance_riemann(M, mean_riemann(C, tol=tol)) <= 3 * tol
    ts = TangentSpace(metric="riemann").fit(C)
    np.testing.assert_allclose(upper(L), ts.transform(C), atol=1e-7)
    np.testing.assert_allclose(tangent_vectors(C, isq), ts.transform(C), atol=1e-7)
    np.testing.assert_allclose(isq, Mi, atol=1e-12 * np.abs(Mi).max())


@pytest.mark.parametrize("solver", ["pyriemann", "anderson"])
@pytest.mark.parametrize("seed", [0, 1])
def test_tangent_space_matches_pyriemann(solver, seed):
    _check_solver(_random_spd(seed), solver)


@pytest.mark.parametrize("solver", ["pyriemann", "anderson"])
def test_tangent_space_matches_pyriemann_real(physionet_s1, solver):
    for order, lag in [(1, 1), (3, 2)]:
        _check_solver(_real_augmented(physionet_s1, order, lag), solver)


def test_mean_solver_validation():
    with pytest.raises(ValueError, match="'solver'.*'newton'"):
        riemann_mean_logs(_random_spd(0), solver="newton")
    with pytest.raises(ValueError, match="mean_solver"):
        fast_grid_search(np.zeros((6, 2, 20)) + np.arange(20), np.repeat([0, 1], 3), mean_solver="newton")


def test_parity_with_gridsearchcv_real_subset(physionet_s1):
    X, y = physionet_s1
    X = X[:, ::8]  # 8 of the 64 channels keep the test fast
    grid = normalize_grid({"order": [1, 2, 3], "lag": [1, 4], "C": [1.0], "kernel": ["rbf", "linear"]})
    cv = StratifiedKFold(3, shuffle=True, random_state=7)
    gs = _moabb_grid_search(X, y, grid, cv)
    for solver in ("anderson", "pyriemann"):
        res = fast_grid_search(X, y, grid, cv=cv, mean_solver=solver)
        _check_same(gs, res, 3)
        assert res.excluded == []
    # in parallel: one task per (lag, order), same result
    par = fast_grid_search(X, y, grid, cv=cv, n_jobs=2)
    _check_same(gs, par, 3)


def test_parity_and_exclusion_on_rank_deficient_candidates():
    """Orders whose matrices are singular: GridSearchCV scores them NaN, the fast grid
    excludes them, lists them, and ranks the rest identically."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((24, 6, 40))
    y = np.repeat([0, 1], 12)
    X[y == 1, :2] *= 1.5
    grid = normalize_grid({"order": [1, 2, 6], "lag": [1, 2], "C": [1.0], "kernel": ["linear", "rbf"]})
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    res = fast_grid_search(X, y, grid, cv=cv)
    gs = _moabb_grid_search(X, y, grid, cv)
    _check_same(gs, res, 3)
    assert sorted((e["order"], e["lag"]) for e in res.excluded) == [(6, 1), (6, 2)]
    par = fast_grid_search(X, y, grid, cv=cv, n_jobs=2)  # (lag, order, fold) tasks merged
    _check_same(gs, par, 3)
    assert par.excluded == res.excluded
    assert np.isnan(res.mean_test_score[[p["order"] == 6 for p in res.params]]).all()


def test_grid_validation_errors():
    with pytest.raises(ValueError, match="param_grid key"):
        normalize_grid({"degree": [1]})
    with pytest.raises(ValueError, match="'param_grid\\['lag'\\]'"):
        normalize_grid({"lag": [0]})
    with pytest.raises(ValueError, match="kernel"):
        normalize_grid({"kernel": ["cubic"]})


def test_anderson_stops_at_the_noise_floor_and_says_so():
    """A tolerance below the rounding level of ||J|| (~1e-14 for these 6 x 6 matrices)
    cannot be met: the accelerated solver stops once ||J|| stalls within 100 x tol (not
    after maxiter), flags it, and its point is still pyRiemann's mean."""
    C = _random_spd(2)
    tol = 1e-15
    with pytest.warns(UserWarning, match="convergence not reached"):
        res = riemann_mean_logs(C, solver="anderson", tol=tol, maxiter=50)
    assert not res.converged and res.n_iter < 50
    assert res.crit <= 100 * tol  # the bound the stall rule guarantees
    assert distance_riemann(res.mean, mean_riemann(C)) <= 1e-8
    # pyRiemann's iterates cannot meet it either and run their full course
    with pytest.warns(UserWarning, match="convergence not reached"):
        ref = riemann_mean_logs(C, solver="pyriemann", tol=tol, maxiter=50)
    assert not ref.converged and ref.n_iter == 50
    # far below the floor (more than 100 x), the solver does not stall-stop: it runs to maxiter
    with pytest.warns(UserWarning, match="convergence not reached"):
        assert riemann_mean_logs(C, solver="anderson", tol=1e-30, maxiter=30).n_iter == 30


def test_mean_tol_is_honoured_and_validated():
    """A looser tolerance (the approximate mode) is met at every mean with fewer or equal
    iterations; it is checked before any work."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((24, 4, 60))
    y = np.repeat([0, 1], 12)
    X[y == 1, 0] *= 1.4
    grid = {"order": [1, 2], "lag": [1, 3], "C": [1.0], "kernel": ["linear"]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    exact = fast_grid_search(X, y, grid, cv=cv)
    loose = fast_grid_search(X, y, grid, cv=cv, mean_tol=1e-4)
    assert exact.mean_tol == 1e-8 and loose.mean_tol == 1e-4
    assert exact.not_converged == [] and loose.not_converged == []
    for key, its in exact.n_mean_iter.items():
        assert all(a <= b for a, b in zip(loose.n_mean_iter[key], its))
    with pytest.raises(ValueError, match="mean_tol"):
        fast_grid_search(X, y, grid, cv=cv, mean_tol=0.0)


def test_numerically_singular_candidates_follow_pyriemanns_path():
    """Matrices that pass Cholesky but whose smallest eigenvalue is rounding noise: MOABB's
    pipeline scores them or gives NaN depending on pyRiemann's exact iterates; the grid
    follows those iterates there, so scores and NaNs agree with GridSearchCV."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((24, 5, 80))
    X[:, 4] = X[:, 3] + 1e-7 * rng.standard_normal((24, 80))  # near-duplicate channel
    y = np.repeat([0, 1], 12)
    X[y == 1, 0] *= 1.5
    grid = normalize_grid({"order": [1, 2], "lag": [1], "C": [1.0], "kernel": ["linear", "rbf"]})
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    from neurosig.riemann.augmented import augmented_covariances
    from neurosig.riemann.fast_grid import NEAR_SINGULAR
    w = np.linalg.eigvalsh(augmented_covariances(X, 2, 1))
    assert np.all(w[:, 0] <= NEAR_SINGULAR * w[:, -1])  # the case this test is about
    gs = _moabb_grid_search(X, y, grid, cv)
    _check_same(gs, fast_grid_search(X, y, grid, cv=cv), 3)


@pytest.mark.parametrize("seed", [0, 1])
def test_riemann_tangent_space_transformer_matches_pyriemann(seed):
    """The final-fit tangent space gives pyRiemann's TangentSpace(metric='riemann') vectors."""
    from sklearn.base import clone

    from neurosig.riemann.tangent import RiemannTangentSpace
    C = _random_spd(seed)
    ref = TangentSpace(metric="riemann").fit(C)
    ours = clone(RiemannTangentSpace()).fit(C[:15])
    np.testing.assert_allclose(ours.transform(C), TangentSpace(metric="riemann").fit(C[:15]).transform(C),
                               atol=1e-7)
    np.testing.assert_allclose(RiemannTangentSpace().fit_transform(C), ref.transform(C), atol=1e-7)
    assert ours.converged_ and ours.n_iter_ >= 1
    with pytest.raises(ValueError, match="not fitted"):
        RiemannTangentSpace().transform(C)
