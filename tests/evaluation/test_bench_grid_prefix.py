"""Grid pipelines share the steps no param_grid key touches: the same inner scores, best
parameters and outer scores as scikit-learn's GridSearchCV refitting every step."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from neurosig.evaluation import bci
from neurosig.evaluation.bci_protocols import PROTOCOLS
from neurosig.evaluation.grid_prefix import PrefixGridSearchCV, shared_prefix_length
from neurosig.pipelines import load_pipeline_file, resource_dir


def _data(seed=0, n=48, n_channels=6, n_times=128):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    X = rng.standard_normal((n, n_channels, n_times))
    X[y == 1, 0] *= 1.6  # a variance difference on one channel: a learnable class
    return X, y


def _searches(spec, scoring="roc_auc", seed=42):
    cv = StratifiedKFold(3, shuffle=True, random_state=seed)
    pipe = spec.build().estimator
    plain = GridSearchCV(pipe, spec.param_grid, cv=cv, scoring=scoring, refit=True, error_score="raise")
    shared = PrefixGridSearchCV(pipe, spec.param_grid, cv=cv, scoring=scoring, refit=True,
                                error_score="raise")
    return plain, shared


def _assert_same_search(plain, shared, X):
    assert shared.n_shared_steps_ > 0
    assert shared.best_params_ == plain.best_params_
    assert shared.best_index_ == plain.best_index_
    assert shared.cv_results_["params"] == plain.cv_results_["params"]
    for key in ("mean_test_score", "std_test_score", "rank_test_score",
                *(f"split{j}_test_score" for j in range(plain.n_splits_))):
        np.testing.assert_array_equal(shared.cv_results_[key], plain.cv_results_[key], err_msg=key)
    np.testing.assert_array_equal(shared.decision_function(X), plain.decision_function(X))


def test_prefix_length_follows_the_grid_keys():
    pipe = make_pipeline(StandardScaler(), StandardScaler(), SVC())
    names = [n for n, _ in pipe.steps]
    assert shared_prefix_length(pipe, {"svc__C": [1, 2]}) == 2
    assert shared_prefix_length(pipe, [{"svc__C": [1]}, {f"{names[1]}__with_mean": [True]}]) == 1
    assert shared_prefix_length(pipe, {"svc": [SVC(), SVC(C=2)]}) == 2
    assert shared_prefix_length(pipe, {"memory": [None]}) == 0
    assert shared_prefix_length(SVC(), {"C": [1, 2]}) == 0


@pytest.mark.parametrize("name", ["TSSVM_grid.yml", "CSP_SVM_grid.yml"])
def test_moabb_grid_files_same_as_gridsearchcv(shared_data, name):
    spec = load_pipeline_file(shared_data / "moabb_pipelines" / "pipelines" / name)
    if name.startswith("CSP"):  # 6 channels: CSP keeps at most 6 filters
        spec = dataclasses.replace(spec, param_grid={**spec.param_grid, "csp__nfilter": [2, 4, 6]})
    X, y = _data()
    plain, shared = _searches(spec)
    plain.fit(X, y)
    shared.fit(X, y)
    _assert_same_search(plain, shared, X)


def test_shipped_grid_same_as_gridsearchcv_with_accuracy():
    spec = load_pipeline_file(resource_dir("pipelines") / "full" / "ts_svm_grid.yml")
    X, y = _data(seed=3)
    plain, shared = _searches(spec, scoring="accuracy", seed=7)
    plain.fit(X, y)
    shared.fit(X, y)
    _assert_same_search(plain, shared, X)


def test_nothing_to_share_is_plain_gridsearchcv():
    X, y = _data(seed=1)
    X2 = X.reshape(len(X), -1)[:, :20]
    kw = dict(cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring="roc_auc")
    pipe = make_pipeline(StandardScaler(), SVC())
    shared = PrefixGridSearchCV(pipe, {"standardscaler__with_mean": [True, False]}, **kw).fit(X2, y)
    plain = GridSearchCV(pipe, {"standardscaler__with_mean": [True, False]}, **kw).fit(X2, y)
    assert shared.n_shared_steps_ == 0 and "mean_fit_time" in shared.cv_results_
    assert shared.best_params_ == plain.best_params_


def test_benchmark_rows_and_best_params_equal_the_unshared_grid(fake_factory):
    """Through the benchmark's protocol: every fold's score and best parameters are those of the
    grid refitting every step in every candidate."""
    ds = fake_factory(n_subjects=1, n_sessions=1)
    settings = bci.resolve_settings("within-session", "LeftRightImagery", 42, 3, 0, 0, None, None)
    spec = load_pipeline_file(resource_dir("pipelines") / "full" / "ts_svm_grid.yml")
    (task,) = bci.plan_tasks(settings, [(ds, [1])], [spec])
    X, y, meta = bci.load_data(ds, task.paradigm, [1])
    runs = [PROTOCOLS["within-session"](dataclasses.replace(task, share_prefixes=share), X, y, meta).run()
            for share in (True, False)]
    (shared,), (plain,) = runs
    assert shared.scores == plain.scores and len(shared.scores) == 3
    assert shared.best_params == plain.best_params and all(p is not None for p in shared.best_params)

