"""FastRidgeCV against scikit-learn (GridSearchCV(Ridge), per-fold Ridge loops, Ridge fits)."""
import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold

from neurosig.models.ridge import FastRidgeCV, ridge_cv_scores, ridge_fit

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
