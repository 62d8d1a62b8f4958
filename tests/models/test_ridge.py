"""FastRidgeCV against scikit-learn (GridSearchCV(Ridge), per-fold Ridge loops, Ridge fits) and himalaya."""
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, LeaveOneGroupOut, ShuffleSplit

from neurosig.models.ridge import (
    FastRidgeCV,
    _cv_scores,
    _Design,
    _eigh_centred,
    _fold_scores,
    _left_out_cheaper,
    _partitions,
    ridge_cv_scores,
    ridge_fit,
    select_alphas,
)

ALPHAS = np.logspace(-2, 4, 9)


def _data(n, p, t, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    Y = X @ rng.standard_normal((p, t)) / np.sqrt(p) + rng.standard_normal((n, t)) * rng.uniform(0.3, 3, t)
    return X, Y


@pytest.mark.parametrize("n,p", [(80, 20), (40, 70)])  # primal (p < n) and kernel (p > n) paths
def test_one_alpha_matches_gridsearchcv(n, p):
    X, Y = _data(n, p, 6)
    cv = KFold(4)
    g = GridSearchCV(Ridge(), {"alpha": list(ALPHAS)}, cv=cv).fit(X, Y)
    f = FastRidgeCV(ALPHAS, cv=cv, alpha_per_target=False).fit(X, Y)
    np.testing.assert_allclose(f.cv_scores_.mean(axis=1), g.cv_results_["mean_test_score"], atol=1e-8, rtol=0)
    assert f.alpha_[0] == g.best_params_["alpha"]
    np.testing.assert_allclose(f.coef_, g.best_estimator_.coef_, atol=1e-8)
    np.testing.assert_allclose(f.predict(X[:5]), g.predict(X[:5]), atol=1e-8)


@pytest.mark.parametrize("n,p", [(80, 20), (40, 70)])
def test_alpha_per_target_matches_loop_of_ridge(n, p):
    X, Y = _data(n, p, 12, seed=1)
    splits = list(KFold(5).split(X))
    ref = np.zeros((len(ALPHAS), Y.shape[1]))
    for tr, te in splits:
        for a, alpha in enumerate(ALPHAS):
            ref[a] += r2_score(Y[te], Ridge(alpha=alpha).fit(X[tr], Y[tr]).predict(X[te]),
                               multioutput="raw_values") / len(splits)
    f = FastRidgeCV(ALPHAS, cv=splits).fit(X, Y)
    np.testing.assert_allclose(f.cv_scores_, ref, atol=1e-8)
    np.testing.assert_array_equal(f.alpha_, ALPHAS[ref.argmax(0)])
    for j in (0, 5, 11):  # refit weights equal sklearn's with that target's alpha
        np.testing.assert_allclose(f.coef_[j], Ridge(alpha=f.alpha_[j]).fit(X, Y[:, j]).coef_, atol=1e-8)


def test_float32_and_pearson_and_groups():
    X, Y = _data(60, 15, 4, seed=2)
    s64 = ridge_cv_scores(X, Y, ALPHAS, list(KFold(3).split(X)))
    s32 = ridge_cv_scores(X, Y, ALPHAS, list(KFold(3).split(X)), dtype=np.float32)
    np.testing.assert_allclose(s32, s64, atol=1e-3)
    pr = ridge_cv_scores(X, Y, ALPHAS[:1], [(np.arange(40), np.arange(40, 60))], scoring="pearson")[0, 0]
    pred = Ridge(alpha=ALPHAS[0]).fit(X[:40], Y[:40]).predict(X[40:])
    np.testing.assert_allclose(pr, [np.corrcoef(pred[:, j], Y[40:, j])[0, 1] for j in range(4)], atol=1e-10)
    groups = np.repeat(np.arange(20), 3)
    f = FastRidgeCV(ALPHAS, cv=GroupKFold(4)).fit(X, Y[:, 0], groups=groups)
    assert np.ndim(f.coef_) == 1 and f.predict(X).shape == (60,)
    W, b = ridge_fit(X, Y, 3.0)
    np.testing.assert_allclose(W, Ridge(alpha=3.0).fit(X, Y).coef_, atol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n,p", [(60, 45), (60, 40)])  # fold sizes 45 and 48 around p
def test_dual_and_primal_solutions_equal_and_equal_sklearn(n, p, fit_intercept):
    """Both forms on the same folds (whichever the size would pick) give the same scores and
    weights, and both equal scikit-learn's Ridge fitted per alpha."""
    X, Y = _data(n, p, 7, seed=3)
    if fit_intercept:
        X += 5.0  # an offset: the intercept path must not depend on it
    alphas = np.array([1e-3, 0.5, 10.0, 1e4])
    splits = list(KFold(4).split(X))
    dual, primal = _Design(X, Y, fit_intercept, True), _Design(X, Y, fit_intercept, False)
    for scoring in ("r2", "neg_mean_squared_error", "pearson"):
        for tr, te in splits:
            sd = _fold_scores(dual, tr, te, alphas, scoring)
            sp = _fold_scores(primal, tr, te, alphas, scoring)
            np.testing.assert_allclose(sd, sp, atol=1e-9, rtol=1e-9)
            if scoring == "neg_mean_squared_error":
                for a, alpha in enumerate(alphas):
                    pred = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X[tr], Y[tr]).predict(X[te])
                    np.testing.assert_allclose(sd[a], -((Y[te] - pred) ** 2).mean(axis=0), atol=1e-9)
    per_target = np.resize(alphas, Y.shape[1])
    Wd, Wp = dual.refit_coef(per_target), primal.refit_coef(per_target)
    np.testing.assert_allclose(Wd, Wp, atol=1e-9)
    for j in range(Y.shape[1]):
        ref = Ridge(alpha=per_target[j], fit_intercept=fit_intercept).fit(X, Y[:, j])
        np.testing.assert_allclose(Wd[:, j], ref.coef_, atol=1e-9)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("cv", [KFold(5), KFold(9), GroupKFold(4), LeaveOneGroupOut()])
def test_left_out_route_equals_per_fold_route_and_sklearn(cv, fit_intercept):
    """Folds that partition the samples, dual form: the block leave-out identity on the eigen-system
    of all samples gives the per-fold eigendecompositions' scores, and scikit-learn's Ridge."""
    X, Y = _data(45, 80, 6, seed=5)
    X += 4.0  # an offset: the intercept direction must be removed exactly
    Y[:, 0] = 2.5  # a constant target
    groups = np.arange(45) % 6
    splits = list(cv.split(X, Y, groups if cv.__class__.__name__ != "KFold" else None))
    alphas = np.array([1e-3, 0.3, 10.0, 1e4])
    for scoring in ("r2", "neg_mean_squared_error", "pearson"):
        per_fold, _ = _cv_scores(X, Y, alphas, splits, scoring, fit_intercept, route="folds")
        left_out, _ = _cv_scores(X, Y, alphas, splits, scoring, fit_intercept, route="left_out")
        np.testing.assert_allclose(left_out, per_fold, atol=1e-9, rtol=1e-9)
    mse, _ = _cv_scores(X, Y, alphas, splits, "neg_mean_squared_error", fit_intercept, route="left_out")
    for f, (tr, te) in enumerate(splits[:3]):
        for a, alpha in enumerate(alphas):
            pred = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X[tr], Y[tr]).predict(X[te])
            np.testing.assert_allclose(mse[f, a], -((Y[te] - pred) ** 2).mean(axis=0), atol=1e-9)


def test_left_out_route_is_taken_only_where_it_applies():
    n = 60
    assert _partitions(list(KFold(5).split(np.zeros(n))), n)
    assert not _partitions(list(ShuffleSplit(3, test_size=0.2, random_state=0).split(np.zeros(n))), n)
    assert not _partitions([(np.arange(10, 40), np.arange(10))], n)  # some samples never used
    # operation counts: many targets and 5 folds favour it, 2 folds do not
    assert _left_out_cheaper(list(KFold(5).split(np.zeros(1000))), 1000, 8, 5000)
    assert not _left_out_cheaper(list(KFold(2).split(np.zeros(1000))), 1000, 8, 5000)


def test_eigh_centred_spans_the_complement_of_the_constant_vector():
    X, _ = _data(30, 50, 1, seed=6)
    Xc = X - X.mean(axis=0)
    K = Xc @ Xc.T
    s, U = _eigh_centred(K)
    assert U.shape == (30, 29)
    np.testing.assert_allclose(U.T @ U, np.eye(29), atol=1e-12)
    np.testing.assert_allclose(U.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose((U * s) @ U.T, K, atol=1e-10 * np.abs(K).max())
    np.testing.assert_allclose(s, np.linalg.eigvalsh(K)[1:], rtol=1e-10, atol=1e-10 * s.max())


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n,p", [(120, 40), (50, 150)])  # primal and dual folds
def test_alpha_choice_equals_himalaya(n, p, fit_intercept):
    """scoring='neg_mean_squared_error' is himalaya's criterion: same alpha on every target
    (constant targets included: ties go to the largest alpha in both) and the same weights."""
    himalaya_ridge = pytest.importorskip("himalaya.ridge")
    rng = np.random.default_rng(4)
    X = rng.standard_normal((n, p))
    Y = X @ rng.standard_normal((p, 300)) / np.sqrt(p) + rng.standard_normal((n, 300)) * rng.uniform(0.3, 5, 300)
    Y[:, :2] = 3.0  # constant targets: with an intercept every alpha scores the same
    alphas = np.logspace(-2, 5, 8)
    cv = KFold(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        h = himalaya_ridge.RidgeCV(alphas=alphas, fit_intercept=fit_intercept, cv=cv).fit(X, Y)
    f = FastRidgeCV(alphas, cv=cv, scoring="neg_mean_squared_error", fit_intercept=fit_intercept).fit(X, Y)
    np.testing.assert_allclose(f.alpha_, np.asarray(h.best_alphas_), rtol=1e-9)
    if fit_intercept:  # centred constant targets are 0: predictions 0 for every alpha, a tie
        assert np.all(f.alpha_[:2] == alphas[-1])
    np.testing.assert_allclose(f.coef_, np.asarray(h.coef_).T, atol=1e-9)
    # himalaya adds 1e-10 * log(alpha) to its mean scores (its tie-break towards large alphas)
    np.testing.assert_allclose(f.best_score_, np.asarray(h.cv_scores_), rtol=1e-9, atol=2e-9)
    # the default criterion (mean R^2 over folds) may rank two close alphas the other way round
    r2 = FastRidgeCV(alphas, cv=cv, fit_intercept=fit_intercept).fit(X, Y)
    for j in np.flatnonzero(r2.alpha_ != f.alpha_):
        a_r2, a_mse = np.searchsorted(alphas, [r2.alpha_[j], f.alpha_[j]])
        assert r2.cv_scores_[a_r2, j] >= r2.cv_scores_[a_mse, j]
        assert f.cv_scores_[a_mse, j] >= f.cv_scores_[a_r2, j]


def test_select_alphas_ties_go_to_largest_alpha():
    alphas = np.array([10.0, 0.1, 1.0])  # any order
    scores = np.array([[0.5, 0.2, 0.3], [0.5, 0.1, 0.7], [0.4, 0.2, 0.7 + 1e-17]])
    np.testing.assert_array_equal(select_alphas(scores, alphas), [0, 0, 2])
    np.testing.assert_array_equal(select_alphas(scores, alphas, per_target=False), [2, 2, 2])  # rows 1, 2 tie


@pytest.mark.slow
def test_ridge_benchmark_quick_runs():
    """The himalaya comparison of benchmarks/ridge_speed.py runs and its alphas agree (no timing checked)."""
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, str(root / "benchmarks" / "ridge_speed.py"), "--quick", "--parts", "h"],
                         capture_output=True, text=True, cwd=root, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("ridge: dual") and last.count("same alpha 100.00 %") == 2, last


def test_bad_input():
    X, Y = _data(30, 5, 2)
    with pytest.raises(ValueError, match="alphas"):
        FastRidgeCV(alphas=[-1.0, 1.0]).fit(X, Y)
    with pytest.raises(ValueError, match="scoring"):
        FastRidgeCV(scoring="mse").fit(X, Y)
    with pytest.raises(ValueError, match="dtype"):
        FastRidgeCV(dtype="float16").fit(X, Y)


from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402


@parametrize_with_checks([FastRidgeCV(cv=3)])
def test_sklearn_common_checks(estimator, check):
    check(estimator)
