"""Pipeline statistics and chance levels checked against MOABB, scipy and sklearn."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from moabb.analysis import meta_analysis as ma
from moabb.analysis.chance_level import adjusted_chance_level as moabb_adjusted
from sklearn.metrics import accuracy_score, roc_auc_score

from neurosig.evaluation import stats as st
from neurosig.evaluation.chance import (
    adjusted_chance_level,
    fixed_permutation_test,
    null_fold_scores,
)


def _scores(n_sub, seed, pipes=("A", "B", "C")):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.55, 0.85, n_sub)
    data = {p: np.clip(base + 0.03 * i + 0.04 * rng.standard_normal(n_sub), 0, 1)
            for i, p in enumerate(pipes)}
    return pd.DataFrame(data, index=pd.Index(range(1, n_sub + 1), name="subject"))


@pytest.mark.parametrize("n_sub,seed", [(5, 0), (9, 1), (12, 2)])
def test_permutation_pvalues_equal_moabb_exact(n_sub, seed):
    s = _scores(n_sub, seed)
    np.testing.assert_allclose(st.permutation_pvalues(s), ma.compute_pvals_perm(s), rtol=0, atol=0)


def test_permutation_pvalues_equal_moabb_on_rounding_ties():
    # 13 subjects, 8 pipelines: a sign pattern whose sum equals the observed one up to
    # rounding; counted as MOABB counts it, whatever the order of the summation
    rng = np.random.default_rng(0)
    rng.uniform(0.5, 0.9, (13, 4))
    s = pd.DataFrame(rng.uniform(0.5, 0.9, (13, 8)), columns=[f"p{i}" for i in range(8)])
    np.testing.assert_array_equal(st.permutation_pvalues(s), ma.compute_pvals_perm(s))
    np.testing.assert_array_equal(st.permutation_pvalues(s, order=["p7", "p0"]),
                                  ma.compute_pvals_perm(s[["p7", "p0"]], ["p7", "p0"]))
    # with the default 10000 random patterns and the same seed: MOABB's numbers exactly
    big = _scores(16, 4)
    np.testing.assert_array_equal(st.permutation_pvalues(big, seed=3), ma.compute_pvals_perm(big, seed=3))


def test_random_permutation_pvalues_close_to_moabb():
    s = _scores(25, 3)
    ours = st.permutation_pvalues(s, n_random=4000, seed=1)
    ref = ma.compute_pvals_perm(s, seed=2)  # 10000 random sign flips
    np.testing.assert_allclose(ours, ref, atol=0.03)


@pytest.mark.parametrize("n_sub,seed", [(8, 0), (30, 1)])
def test_wilcoxon_and_smd_equal_moabb(n_sub, seed):
    s = _scores(n_sub, seed)
    np.testing.assert_allclose(st.wilcoxon_pvalues(s), ma.compute_pvals_wilcoxon(s), rtol=1e-12)
    np.testing.assert_allclose(st.standardized_mean_difference(s), ma.compute_effect(s), rtol=1e-12)
    # identical pipelines: no effect, p 0.5 (as MOABB)
    same = s.assign(B=s["A"])
    assert st.standardized_mean_difference(same)[0, 1] == 0.0
    assert st.wilcoxon_pvalues(same)[0, 1] == 0.5


def _long(n_subs=(6, 25, 10), seed=0):
    rows = []
    for k, n in enumerate(n_subs):
        s = _scores(n, seed + k)
        for subj, r in s.iterrows():
            for sess in ("0", "1"):
                for p in s.columns:
                    rows.append({"dataset": f"D{k}", "subject": subj, "session": sess, "pipeline": p,
                                 "score": r[p] + (0.01 if sess == "1" else -0.01)})
    return pd.DataFrame(rows)


def test_dataset_statistics_and_stouffer_equal_moabb():
    df = _long()
    ours = st.dataset_statistics(df).set_index(["dataset", "pipe1", "pipe2"]).sort_index()
    ref = ma.compute_dataset_statistics(df).set_index(["dataset", "pipe1", "pipe2"]).sort_index()
    # D1 has 25 subjects (>= 20): Wilcoxon on both sides; D0/D2 exact permutations
    np.testing.assert_allclose(ours["p"], ref["p"], rtol=1e-12)
    np.testing.assert_allclose(ours["smd"], ref["smd"], rtol=1e-12)
    np.testing.assert_array_equal(ours["nsub"], ref["nsub"])
    meta = st.meta_analysis(st.dataset_statistics(df)).set_index(["pipe1", "pipe2"])
    P, T = ma.find_significant_differences(ma.compute_dataset_statistics(df))
    for (a, b), r in meta.iterrows():
        assert r["p"] == pytest.approx(P.loc[a, b], rel=1e-10)
        assert r["smd"] == pytest.approx(T.loc[a, b], rel=1e-10)
    # the pieces, on their own
    p, n = np.array([0.01, 0.2, 0.04]), np.array([10, 40, 9])
    assert st.stouffer(p, n) == pytest.approx(ma.combine_pvalues(p, n), rel=1e-12)
    assert st.combine_effects(p, n) == pytest.approx(ma.combine_effects(p, n), rel=1e-12)


def test_null_scores_equal_sklearn_metrics():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 15)
    resp = np.round(rng.standard_normal(30), 1)  # ties on purpose
    null = null_fold_scores(y, resp, "roc_auc", 50, np.random.default_rng(5))
    perms = np.argsort(np.random.default_rng(5).random((50, 30)), axis=1)
    ref = [roc_auc_score(y[p], resp) for p in perms]
    np.testing.assert_allclose(null, ref, rtol=1e-12)
    yk = rng.integers(0, 4, 40)
    pred = rng.integers(0, 4, 40)
    null = null_fold_scores(yk, pred, "accuracy", 30, np.random.default_rng(1))
    perms = np.argsort(np.random.default_rng(1).random((30, 40)), axis=1)
    np.testing.assert_allclose(null, [accuracy_score(yk[p], pred) for p in perms])


def test_adjusted_chance_level_equals_moabb():
    for k, n in [(2, 45), (4, 144), (2, 20)]:
        assert adjusted_chance_level(k, n) == pytest.approx(moabb_adjusted(k, n))
    # a 0.6 on 45 two-class trials is within chance at 5 %
    assert adjusted_chance_level(2, 45) > 0.6


def test_fixed_permutation_test_calibrated():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    # perfect separation: smallest possible p-value
    res = fixed_permutation_test([(y, y + 0.1 * rng.random(40))], "roc_auc", 1.0, n_perm=199, seed=0)
    assert res["p_value"] == pytest.approx(1 / 200)
    # pure noise: p-values roughly uniform -> about 5 % below 0.05
    ps = []
    for i in range(200):
        r = rng.standard_normal(40)
        obs = roc_auc_score(y, r)
        ps.append(fixed_permutation_test([(y, r)], "roc_auc", obs, n_perm=99, seed=i)["p_value"])
    frac = np.mean(np.array(ps) <= 0.05)
    assert 0.01 <= frac <= 0.10
    # the empirical chance level of 40 balanced trials is well above 0.5
    assert 0.58 < res["chance_level"] < 0.72
