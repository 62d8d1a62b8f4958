"""ACMClassifier / AugmentedCovariances: bad input, sklearn checks, 3-D contract tests."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.fixes import parse_version

from neurosig.riemann import ACMClassifier, AugmentedCovariances

_TWO_D = ("sklearn's common checks feed 2-D (n_samples, n_features) data; these estimators "
          "need 3-D trials (n_trials, n_channels, n_times) and refuse 2-D input with a clear "
          "error; the 3-D contract is tested below")


# Every check below feeds 2-D (n_samples, n_features) data (dense, sparse, with NaN, empty,
# object dtype...); both estimators refuse it with "The 'X' parameter must be a 3-D array ...".
_COMMON_2D = [
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_complex_data",
    "check_dtype_object", "check_estimators_empty_data_messages", "check_pipeline_consistency",
    "check_estimators_nan_inf", "check_estimator_sparse_tag", "check_estimator_sparse_array",
    "check_estimator_sparse_matrix", "check_estimators_pickle", "check_f_contiguous_array_estimator",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_fit2d_1sample",
    "check_fit2d_1feature", "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
    "check_n_features_in", "check_fit2d_predict1d",
]
_TRANSFORMER_2D = ["check_transformer_data_not_an_array", "check_transformer_general",
                   "check_transformer_preserve_dtypes"]
_CLASSIFIER_2D = ["check_classifier_data_not_an_array", "check_classifiers_one_label",
                  "check_classifiers_classes", "check_classifiers_train",
                  "check_classifiers_regression_target", "check_supervised_y_2d", "check_requires_y_none"]


def _xfail(estimator):
    names = _COMMON_2D + (_CLASSIFIER_2D if isinstance(estimator, ACMClassifier) else _TRANSFORMER_2D)
    return {name: _TWO_D for name in names}


# scikit-learn >= 1.8 runs the expected failures strictly (a listed check that starts passing
# fails the test); on 1.6 and 1.7 such a check is reported as XPASS in the summary
_STRICT = ({"xfail_strict": True} if parse_version(sklearn.__version__) >= parse_version("1.8")
           else {})


@parametrize_with_checks([AugmentedCovariances(order=2, lag=1), ACMClassifier(order=1, lag=1, selection="fixed")],
                         expected_failed_checks=_xfail, **_STRICT)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- 3-D contract
@pytest.mark.parametrize("selection", ["fixed", "takens", "grid", "halving"])
def test_contract_fit_predict_attrs_clone_pickle(small_trials, selection):
    X, y = small_trials
    clf = ACMClassifier(order=2, lag=1, selection=selection,
                        param_grid={"order": [1, 2], "lag": [1, 2], "C": [1.0], "kernel": ["linear"]},
                        max_order=3, max_lag=4)
    c2 = clone(clf)
    assert c2.get_params() == clf.get_params()
    clf.fit(X, y)
    for attr in ("order_", "lag_", "C_", "kernel_", "classes_", "pipeline_"):
        assert hasattr(clf, attr)
    assert clf.predict(X).shape == (len(X),)
    assert clf.decision_function(X).shape == (len(X),)
    assert clf.score(X, y) > 0.5
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.decision_function(X), clf.decision_function(X))
    if selection in ("grid", "halving"):
        assert clf.grid_result_.best_params == {"order": clf.order_, "lag": clf.lag_, "C": clf.C_,
                                                "kernel": clf.kernel_}


def test_augmented_transform_shape_and_pickle(small_trials):
    X, _ = small_trials
    est = AugmentedCovariances(order=3, lag=2).fit(X)
    C = est.transform(X)
    assert C.shape == (len(X), 12, 12)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), C)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw, match", [
    ({"order": 0}, "'order' parameter.*positive integers.*got 0"),
    ({"order": 2.5}, "'order' parameter.*got 2.5"),
    ({"lag": -2}, "'lag' parameter.*positive integers.*got -2"),
    ({"order": 10, "lag": 8}, "order\\*lag = 80 must be shorter than the trial"),
])
def test_bad_order_lag(small_trials, kw, match):
    X, y = small_trials
    params = {"order": 2, "lag": 1, **kw}
    with pytest.raises(ValueError, match=match):
        ACMClassifier(selection="fixed", **params).fit(X, y)
    with pytest.raises(ValueError, match=match):
        AugmentedCovariances(**params).fit(X)


def test_bad_inputs(small_trials):
    X, y = small_trials
    clf = ACMClassifier(order=2, lag=1, selection="fixed")
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.zeros(len(X)))
    Xn = X.copy()
    Xn[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        clf.fit(Xn, y)
    Xi = X.copy()
    Xi[1, 1, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        AugmentedCovariances().fit(X).transform(Xi)
    with pytest.raises(ValueError, match="3-D array"):
        clf.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="3-D array"):
        AugmentedCovariances().fit(X).transform(X[:, 0])
    with pytest.raises(ValueError, match="'selection' parameter"):
        ACMClassifier(selection="random").fit(X, y)
    with pytest.raises(ValueError, match="needs the 'order' and 'lag'"):
        ACMClassifier(selection="fixed").fit(X, y)
    with pytest.raises(ValueError, match="'estimator' parameter"):
        AugmentedCovariances(estimator="bogus").fit(X)
    with pytest.raises(ValueError, match="'embedding' parameter"):
        AugmentedCovariances(embedding="wrap").fit(X)
    with pytest.raises(ValueError, match="order\\*lag"):
        ACMClassifier(selection="grid", param_grid={"order": [20], "lag": [5]}).fit(X, y)
    with pytest.raises(ValueError, match="'mean_tol' parameter"):
        ACMClassifier(selection="grid", mean_tol=-1.0).fit(X, y)
    fitted = ACMClassifier(order=1, lag=1, selection="fixed").fit(X, y)
    with pytest.raises(ValueError, match="channels"):
        fitted.predict(X[:, :3])


# ---------------------------------------------------------------- pipelines YAML
def test_acm_pipeline_files_build_and_run(small_trials):
    from neurosig._resources import resource_dir
    from neurosig.pipelines import load_pipelines
    specs = [s for s in load_pipelines(resource_dir("pipelines") / "full") if "ACM" in s.name]
    assert {s.name for s in specs} >= {"ACM+TS+SVM (Takens)", "ACM+TS+SVM (fast grid)",
                                       "ACM+TS+SVM (order 2, lag 2)", "ACM+MDM (order 2, lag 2)"}
    X, y = small_trials
    for spec in specs:
        est = spec.build()
        if spec.name == "ACM+TS+SVM (fast grid)":
            # the published grid on 4-channel, 80-sample trials: only check it is the MOABB grid
            assert len(est.steps[-1][1].param_grid["order"]) == 10
            continue
        assert est.fit(X, y).predict(X).shape == (len(X),)
