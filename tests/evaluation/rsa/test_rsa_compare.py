"""RDM comparisons: rsatoolbox on random and real 92-image RDMs, direct formulas, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from rsa_helpers import rdms_obj
from scipy import stats

from neurosig.evaluation.rsa import as_vectors, compare

TOL = 1e-10
METHODS = ["cosine", "corr", "spearman", "rho-a", "tau-a", "tau-b", "corr_cov", "cosine_cov"]


@pytest.fixture
def random_vectors():
    rng = np.random.default_rng(0)
    a = rng.random((3, 66))
    b = rng.random((4, 66))
    b[0] = np.round(b[0] * 3)  # many ties
    return a, b


@pytest.mark.parametrize("method", METHODS)
def test_compare_matches_rsatoolbox_random(rsatb, random_vectors, method):
    a, b = random_vectors
    ref = rsatb.rdm.compare(rdms_obj(rsatb, a), rdms_obj(rsatb, b), method)
    np.testing.assert_allclose(compare(a, b, method), ref, atol=TOL)


@pytest.mark.parametrize("method", ["corr_cov", "cosine_cov"])
def test_whitened_with_diagonal_sigma_matches_rsatoolbox(rsatb, random_vectors, method):
    a, b = random_vectors
    sk = np.random.default_rng(1).random(12) + 0.5
    ref = rsatb.rdm.compare(rdms_obj(rsatb, a), rdms_obj(rsatb, b), method, sigma_k=sk)
    np.testing.assert_allclose(compare(a, b, method, sigma_k=sk), ref, atol=TOL)


@pytest.mark.parametrize("method", METHODS)
def test_compare_matches_rsatoolbox_on_92_images(rsatb, rsa92, method):
    rdms, _, models, _ = rsa92
    data = rdms[:3] if method.startswith("tau") else rdms
    ref = rsatb.rdm.compare(rdms_obj(rsatb, as_vectors(models)), rdms_obj(rsatb, as_vectors(data)), method)
    np.testing.assert_allclose(compare(models, data, method), ref, atol=TOL)


def test_direct_formulas():
    rng = np.random.default_rng(2)
    x = rng.random(15)
    y = np.round(rng.random(15) * 4)  # ties in y
    # tau-a: (concordant - discordant) / (n (n-1) / 2), O(n^2) double loop
    s = 0.0
    for i in range(15):
        for j in range(i + 1, 15):
            s += np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    assert compare(x, y, "tau-a")[0, 0] == pytest.approx(s / (15 * 14 / 2), abs=TOL)
    assert compare(x, y, "spearman")[0, 0] == pytest.approx(stats.spearmanr(x, y).statistic, abs=TOL)
    assert compare(x, y, "corr")[0, 0] == pytest.approx(np.corrcoef(x, y)[0, 1], abs=TOL)
    rx, ry = stats.rankdata(x) - 8, stats.rankdata(y) - 8
    assert compare(x, y, "rho-a")[0, 0] == pytest.approx(12 * rx @ ry / (15 ** 3 - 15), abs=TOL)


def test_whitened_cosine_full_sigma_direct():
    """cosine_cov with a full pattern covariance: v1' V^-1 v2 / norms, V = (C S C')∘(C S C')."""
    rng = np.random.default_rng(3)
    n = 6
    a, b = rng.random((2, 15)), rng.random((1, 15))
    A = rng.normal(size=(n, n))
    S = A @ A.T + n * np.eye(n)
    iu = np.triu_indices(n, 1)
    C = np.zeros((len(iu[0]), n))
    C[np.arange(len(iu[0])), iu[0]] = 1
    C[np.arange(len(iu[0])), iu[1]] = -1
    xi = C @ S @ C.T
    Vi = np.linalg.inv(xi * xi)
    direct = np.array([[u @ Vi @ w / np.sqrt(u @ Vi @ u) / np.sqrt(w @ Vi @ w) for w in b] for u in a])
    np.testing.assert_allclose(compare(a, b, "cosine_cov", sigma_k=S), direct, atol=1e-9)


def test_bad_comparisons():
    rng = np.random.default_rng(4)
    a = rng.random((2, 10))
    with pytest.raises(ValueError, match="'rdm1' and 'rdm2'.*5 and 4"):
        compare(a, rng.random(6))
    with pytest.raises(ValueError, match="'method'"):
        compare(a, a, "kendall-z")
    inf = a.copy()
    inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="disconnected="):
        compare(inf, a)
    nan = a.copy()
    nan[1, 2] = np.nan
    with pytest.raises(ValueError, match="'rdm2'.*NaN"):
        compare(a, nan)


def test_whitened_full_sigma_close_to_rsatoolbox_cg(rsatb):
    """rsatoolbox solves the same system by conjugate gradients (rtol 1e-5): agreement to ~1e-5 only."""
    rng = np.random.default_rng(5)
    n = 7
    a, b = rng.random((2, 21)), rng.random((2, 21))
    A = rng.normal(size=(n, n))
    S = A @ A.T + n * np.eye(n)
    for method in ("cosine_cov", "corr_cov"):
        ref = rsatb.rdm.compare(rdms_obj(rsatb, a), rdms_obj(rsatb, b), method, sigma_k=S)
        np.testing.assert_allclose(compare(a, b, method, sigma_k=S), ref, atol=1e-4)
