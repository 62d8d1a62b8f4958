"""Noise ceilings, bootstrap, permutation tests, corrections and identification."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from rsa_helpers import rdms_obj
from scipy import stats

from neurosig.evaluation.rsa import (
    as_vectors,
    boot_noise_ceiling,
    correct_pvalues,
    cv_noise_ceiling,
    eval_bootstrap_pattern,
    eval_bootstrap_rdm,
    identification_accuracy,
    loso_identification,
    permutation_test,
)

TOL = 1e-10
CEIL_METHODS = ["cosine", "corr", "spearman", "rho-a", "corr_cov", "cosine_cov", "tau-a"]


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    truth = rng.random(66)
    data = truth + 0.3 * rng.random((6, 66))
    models = np.stack([truth, rng.random(66), truth + rng.random(66)])
    return data, models, np.array([0, 0, 1, 1, 2, 2])


@pytest.mark.parametrize("method", CEIL_METHODS)
def test_boot_noise_ceiling_matches_rsatoolbox(rsatb, small, method):
    data, _, subj = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = rsatb.inference.boot_noise_ceiling(rdms_obj(rsatb, data, subj=subj), method=method,
                                                 rdm_descriptor="subj")
        ref1 = rsatb.inference.boot_noise_ceiling(rdms_obj(rsatb, data), method=method)
    np.testing.assert_allclose(boot_noise_ceiling(data, method, groups=subj), ref, atol=TOL)
    np.testing.assert_allclose(boot_noise_ceiling(data, method), ref1, atol=TOL)


@pytest.mark.parametrize("method", ["corr", "spearman", "cosine"])
def test_noise_ceiling_on_92_images(rsatb, rsa92, method):
    rdms, subj, _, _ = rsa92
    ref = rsatb.inference.boot_noise_ceiling(rdms_obj(rsatb, as_vectors(rdms), subj=subj), method=method,
                                             rdm_descriptor="subj")
    lo, up = boot_noise_ceiling(rdms, method, groups=subj)
    np.testing.assert_allclose([lo, up], ref, atol=TOL)
    assert lo < up


def test_cv_noise_ceiling_matches_rsatoolbox(rsatb, small):
    from rsatoolbox.inference import sets_k_fold

    data, _, _ = small
    R = rdms_obj(rsatb, data)
    np.random.seed(0)
    _, test_set, ceil_set = sets_k_fold(R, k_rdm=3, k_pattern=2, random=True)
    folds = []
    for te, ce in zip(test_set, ceil_set):
        te_idx = np.asarray(te[0].rdm_descriptors["index"])
        ce_idx = np.asarray(ce[0].rdm_descriptors["index"])
        folds.append((ce_idx, te_idx, np.asarray(te[1])))
    for method in ("corr", "spearman", "cosine"):
        ref = rsatb.inference.cv_noise_ceiling(R, ceil_set, test_set, method=method)
        np.testing.assert_allclose(cv_noise_ceiling(data, folds, method), ref, atol=TOL)


@pytest.mark.parametrize("method", ["corr", "spearman"])
def test_bootstrap_matches_rsatoolbox_given_same_samples(rsatb, small, method):
    from rsatoolbox.model import ModelFixed

    data, models, subj = small
    mods = [ModelFixed(f"m{i}", rdms_obj(rsatb, models[i:i + 1])) for i in range(len(models))]
    np.random.seed(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = rsatb.inference.eval_bootstrap_rdm(mods, rdms_obj(rsatb, data, subj=subj), method=method,
                                                 N=40, rdm_descriptor="subj")
    np.random.seed(3)
    samples = np.stack([np.random.randint(0, 3, size=3) for _ in range(40)])
    mine = eval_bootstrap_rdm(models, data, method, groups=subj, samples=samples)
    np.testing.assert_allclose(mine.evaluations, ref.evaluations, atol=TOL)
    np.testing.assert_allclose(mine.noise_ceiling, ref.noise_ceiling, atol=TOL)

    np.random.seed(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = rsatb.inference.eval_bootstrap_pattern(mods, rdms_obj(rsatb, data), method=method, N=40)
    np.random.seed(4)
    samples = np.stack([np.random.randint(0, 12, size=12) for _ in range(40)])
    mine = eval_bootstrap_pattern(models, data, method, samples=samples)
    np.testing.assert_allclose(mine.evaluations, ref.evaluations, atol=TOL)
    np.testing.assert_allclose(mine.noise_ceiling, ref.noise_ceiling, atol=TOL)


def test_bootstrap_reproducible_with_seed(small):
    data, models, subj = small
    a = eval_bootstrap_rdm(models, data, "corr", n_boot=50, groups=subj, seed=7)
    b = eval_bootstrap_rdm(models, data, "corr", n_boot=50, groups=subj, seed=7)
    c = eval_bootstrap_rdm(models, data, "corr", n_boot=50, groups=subj, seed=8)
    np.testing.assert_array_equal(a.evaluations, b.evaluations)
    assert not np.array_equal(a.evaluations, c.evaluations)
    p1 = eval_bootstrap_pattern(models, data, "spearman", n_boot=20, seed=1)
    p2 = eval_bootstrap_pattern(models, data, "spearman", n_boot=20, seed=1)
    np.testing.assert_array_equal(p1.evaluations, p2.evaluations)
    lo, hi = a.ci()
    assert np.all(lo <= hi) and a.evaluations.shape == (50, 3)
    # the true model beats the random one in every sample
    assert np.all(a.evaluations[:, 0] > a.evaluations[:, 1])


def test_permutation_test():
    rng = np.random.default_rng(1)
    model = rng.random(45)
    related = model + 0.2 * rng.random((3, 45))
    res = permutation_test(related, model, "spearman", n_perm=500, seed=0)
    assert res["p"] == pytest.approx(1 / 501)
    assert res["null"].shape == (500,)
    # under the null (unrelated data), p-values are roughly uniform
    ps = [permutation_test(rng.random(45), model, "corr", n_perm=99, seed=s)["p"] for s in range(40)]
    assert 0.25 < np.mean(ps) < 0.75
    r2 = permutation_test(related, model, "spearman", n_perm=500, seed=0)
    np.testing.assert_array_equal(res["null"], r2["null"])


def test_correct_pvalues():
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.005])
    np.testing.assert_allclose(correct_pvalues(p, "fdr_bh"), stats.false_discovery_control(p), atol=TOL)
    np.testing.assert_allclose(correct_pvalues(p, "fdr_by"),
                               stats.false_discovery_control(p, method="by"), atol=TOL)
    np.testing.assert_allclose(correct_pvalues(p, "bonferroni"), np.minimum(p * 5, 1))
    # Holm: step-down, direct loop
    order = np.argsort(p)
    holm = np.empty(5)
    run = 0.0
    for k, i in enumerate(order):
        run = max(run, min(1.0, (5 - k) * p[i]))
        holm[i] = run
    np.testing.assert_allclose(correct_pvalues(p, "holm"), holm, atol=TOL)
    with pytest.raises(ValueError, match="'method'"):
        correct_pvalues(p, "sidak")
    with pytest.raises(ValueError, match="'p'"):
        correct_pvalues([0.1, 1.5])


def test_identification_accuracy_synthetic():
    rng = np.random.default_rng(2)
    regions = {r: rng.random(45) for r in ("V1", "IT", "PFC")}
    subjects, labels, rdms = [], [], []
    for s in range(5):
        for r, base in regions.items():
            rdms.append(base + 0.2 * rng.random(45))
            subjects.append(s)
            labels.append(r)
    rdms = np.stack(rdms)
    res = loso_identification(rdms, subjects, labels, models=rng.random((2, 45)),
                              model_names=["m1", "m2"], method="spearman", n_boot=200, seed=0)
    assert res["accuracy"] == 1.0 and res["ci"] == (1.0, 1.0)
    assert res["sensitivity"]["IT"] == 1.0 and res["specificity"]["IT"] == 1.0
    assert res["distractor_rejection"] == 1.0
    # pure noise: near chance (1 / 5 candidates)
    noise = rng.random((15, 45))
    res0 = loso_identification(noise, subjects, labels, models=rng.random((2, 45)),
                               model_names=["m1", "m2"], method="corr", n_boot=100, seed=0)
    assert res0["accuracy"] < 0.7
    # ties share the credit
    one = identification_accuracy(np.ones((1, 3)) * [[1, 2, 3]], ["a"], np.array([[1, 2, 3], [1, 2, 3.0]]),
                                  ["a", "b"], method="corr", n_boot=10)
    assert one["accuracy"] == 0.5


def test_identification_bad_input():
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match="'candidate_labels'.*no candidate"):
        identification_accuracy(rng.random((2, 10)), ["a", "a"], rng.random((2, 10)), ["b", "c"])
    with pytest.raises(ValueError, match="'subjects'.*at least 2"):
        loso_identification(rng.random((2, 10)), [0, 0], ["a", "a"])
    with pytest.raises(ValueError, match="'model_names'.*reuses"):
        loso_identification(rng.random((2, 10)), [0, 1], ["a", "a"], models=rng.random((1, 10)),
                            model_names=["a"])
    with pytest.raises(ValueError, match="'groups'"):
        boot_noise_ceiling(rng.random((3, 10)), "corr", groups=[0, 1])


@pytest.mark.parametrize("method", ["corr", "spearman", "cosine"])
def test_eval_bootstrap_both_matches_rsatoolbox(rsatb, small, method):
    from rsatoolbox.model import ModelFixed

    from neurosig.evaluation.rsa import eval_bootstrap

    data, models, subj = small
    mods = [ModelFixed(f"m{i}", rdms_obj(rsatb, models[i:i + 1])) for i in range(len(models))]
    np.random.seed(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = rsatb.inference.eval_bootstrap(mods, rdms_obj(rsatb, data, subj=subj), method=method, N=30,
                                             rdm_descriptor="subj")
    np.random.seed(5)
    rs, ps = [], []
    for _ in range(30):  # rsatoolbox draws subjects, then conditions, in every sample
        rs.append(np.random.randint(0, 3, size=3))
        ps.append(np.random.randint(0, 12, size=12))
    mine = eval_bootstrap(models, data, method, groups=subj, rdm_samples=rs, pattern_samples=ps)
    np.testing.assert_allclose(mine.evaluations, ref.evaluations, atol=TOL)
    np.testing.assert_allclose(mine.noise_ceiling, ref.noise_ceiling, atol=TOL)
    again = eval_bootstrap(models, data, method, n_boot=10, groups=subj, seed=1)
    np.testing.assert_array_equal(again.evaluations,
                                  eval_bootstrap(models, data, method, n_boot=10, groups=subj, seed=1).evaluations)
