"""Successive halving over the ACM grid: round bookkeeping, the exact last round, progress output."""
from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from neurosig.riemann import ACMClassifier
from neurosig.riemann.fast_grid import fast_grid_search
from neurosig.riemann.halving import LEVELS, halving_search, n_rounds

GRID54 = {"order": [1, 2, 3], "lag": [1, 2, 3], "C": [0.5, 1.0, 1.5], "kernel": ["rbf", "linear"]}


def _trials(seed=0, n=36, ch=4, t=120):
    """Two classes: an AR(2) rhythm whose power differs, mixed into ``ch`` noisy channels."""
    from scipy.signal import lfilter
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    a1, a2 = 2 * 0.9 * np.cos(2 * np.pi / 8), -0.81
    s = lfilter([1.0], [1.0, -a1, -a2], rng.standard_normal((n, t)), axis=-1)
    s[y == 1] *= 0.7
    X = rng.standard_normal((n, ch, t)) + np.einsum("c,nt->nct", rng.uniform(0.2, 1.0, ch), s)
    return X, y


def _expected_top(cands, mean, k):
    """Best k by mean score, ties to the earlier grid index, unscored never (written out here)."""
    items = sorted((-m, int(c)) for c, m in zip(cands, mean) if not np.isnan(m))
    return [c for _, c in items[:k]]


@pytest.fixture(scope="module")
def run54():
    X, y = _trials()
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return X, y, cv, halving_search(X, y, GRID54, cv=cv), fast_grid_search(X, y, GRID54, cv=cv)


def test_rounds_candidates_and_promotion(run54):
    _, _, _, res, grid = run54
    assert [p for p in res.params] == grid.params  # same candidates, same (GridSearchCV) order
    assert [r.level for r in res.rounds] == list(LEVELS)
    assert [len(r.candidates) for r in res.rounds] == [54, 18, 6, 2]  # ceil(54 / 3**i)
    assert [len(r.folds) for r in res.rounds] == [3, 3, 1, 3]
    np.testing.assert_array_equal(res.rounds[0].candidates, np.arange(54))
    for r, nxt in zip(res.rounds[:-1], res.rounds[1:]):
        assert r.split_scores.shape == (len(r.candidates), len(r.folds))
        np.testing.assert_allclose(r.mean_test_score, r.split_scores.mean(axis=1))
        assert r.promoted.tolist() == _expected_top(r.candidates, r.mean_test_score, len(nxt.candidates))
        np.testing.assert_array_equal(nxt.candidates, np.sort(r.promoted))
    # each round needs one tangent space per (order, lag) of its candidates
    for r in res.rounds:
        assert r.n_pairs == len({(res.params[c]["order"], res.params[c]["lag"]) for c in r.candidates})
    assert res.to_frame().groupby("iter").size().tolist() == [54, 18, 6, 2]
    assert res.to_frame()["promoted"].sum() == 18 + 6 + 2 + 1


def test_last_round_is_the_exact_grid_for_the_survivors(run54):
    _, _, _, res, grid = run54
    last = res.rounds[-1]
    # identical fold scores, not merely close: the same computation
    np.testing.assert_array_equal(last.split_scores, grid.split_scores[last.candidates])
    # the exact:1 round's scores are the exact grid's first fold
    mid = res.rounds[2]
    assert mid.level == "exact:1"
    np.testing.assert_array_equal(mid.split_scores[:, 0], grid.split_scores[mid.candidates, 0])
    # chosen among the survivors as GridSearchCV chooses: best mean, first in grid order
    best = _expected_top(last.candidates, grid.mean_test_score[last.candidates], 1)[0]
    assert res.best_index == best and res.best_params == grid.params[best]
    assert res.best_score == pytest.approx(grid.mean_test_score[best], abs=0)
    if grid.best_index in last.candidates:  # the grid's own choice survived: the same choice
        assert res.best_params == grid.best_params
    assert set(res.n_mean_iter) == {(res.params[c]["order"], res.params[c]["lag"]) for c in mid.candidates}


def _assert_round_scores(res, rnd, pair, X, y, cv, vectors):
    """Each fold score of ``rnd`` for the candidates of ``pair`` = SVC on ``vectors(tr, te)``, ROC-AUC."""
    from sklearn.metrics import roc_auc_score
    from sklearn.svm import SVC

    for f, (tr, te) in enumerate(cv.split(X, y)):
        T_tr, T_te = vectors(tr, te)
        for j, c in enumerate(rnd.candidates):
            p = res.params[c]
            if (p["order"], p["lag"]) == pair:
                svc = SVC(C=p["C"], kernel=p["kernel"]).fit(T_tr, y[tr])
                assert rnd.split_scores[j, f] == pytest.approx(
                    roc_auc_score(y[te], svc.decision_function(T_te)), abs=1e-9)


def test_first_round_is_svm_on_centred_matrix_logarithms(run54):
    """Round-0 scores recomputed with scipy's logm and SVC on the vectors for two (order, lag)."""
    from scipy.linalg import logm

    from neurosig.riemann.augmented import augmented_covariances
    from neurosig.riemann.tangent import upper
    X, y, cv, res, _ = run54
    r0 = res.rounds[0]
    assert r0.level == "logm"
    for order, lag in [(1, 2), (3, 2)]:
        C = augmented_covariances(X, order, lag)
        L = np.array([logm(c).real for c in C])

        def vectors(tr, te, L=L):
            mu = L[tr].mean(axis=0)
            return upper(L[tr] - mu), upper(L[te] - mu)
        _assert_round_scores(res, r0, (order, lag), X, y, cv, vectors)


def test_second_round_is_the_tangent_space_at_the_log_euclidean_mean(run54):
    """Round-1 scores recomputed with pyRiemann's own functions for the (order, lag) it kept."""
    from pyriemann.geometry.mean import mean_logeuclid
    from pyriemann.tangentspace import tangent_space

    from neurosig.riemann.augmented import augmented_covariances
    X, y, cv, res, _ = run54
    r0 = res.rounds[1]
    assert r0.level == "logeuclid"
    pairs = sorted({(res.params[c]["order"], res.params[c]["lag"]) for c in r0.candidates})
    for order, lag in pairs[:2]:
        C = augmented_covariances(X, order, lag)

        def vectors(tr, te, C=C):
            M = mean_logeuclid(C[tr])
            return tangent_space(C[tr], M, metric="riemann"), tangent_space(C[te], M, metric="riemann")
        _assert_round_scores(res, r0, (order, lag), X, y, cv, vectors)


def test_number_of_rounds_follows_halving_grid_search():
    assert n_rounds(54, 3, 3) == 3      # 1 + floor(log3 54) = 4 possible, 3 levels
    assert n_rounds(8, 3, 3) == 2       # few candidates: start higher, end exact
    assert n_rounds(2, 3, 3) == 1
    assert n_rounds(27, 3, 5) == 4      # 27 = 3**3 exactly
    X, y = _trials(1, n=24, t=80)
    res = halving_search(X, y, {"order": [1, 2], "lag": [1, 2], "C": [1.0], "kernel": ["linear", "rbf"]})
    assert [r.level for r in res.rounds] == ["exact:1", "exact"]
    assert [len(r.candidates) for r in res.rounds] == [8, 3]


def test_unscorable_pairs_are_never_promoted():
    """Rank-deficient orders score NaN in the first round and are listed, as in the grid."""
    X, y = _trials(2, n=24, ch=6, t=40)
    grid = {"order": [1, 2, 6], "lag": [1, 2], "C": [1.0], "kernel": ["linear", "rbf"]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    res = halving_search(X, y, grid, cv=cv, levels=("logeuclid", "exact"))
    assert sorted((e["order"], e["lag"]) for e in res.excluded) == [(6, 1), (6, 2)]
    r0 = res.rounds[0]
    bad = [res.params[c]["order"] == 6 for c in r0.candidates]
    assert np.isnan(r0.mean_test_score[bad]).all()
    assert all(res.params[c]["order"] != 6 for c in r0.promoted)


@pytest.mark.parametrize("kw, match", [
    ({"factor": 1}, "'factor' parameter.*>= 2.*got 1"),
    ({"levels": ("logeuclid", "exact:1")}, "'levels' parameter.*ending with 'exact'"),
    ({"levels": ("exact:3", "exact")}, "'levels' parameter.*n_splits=3.*'exact:3'"),
    ({"levels": ("riemann", "exact")}, "'levels' parameter.*got 'riemann'"),
    ({"mean_solver": "newton"}, "mean_solver"),
])
def test_bad_arguments_are_refused_before_work(kw, match):
    X, y = _trials(3, n=12, t=40)
    with pytest.raises(ValueError, match=match):
        halving_search(X, y, {"order": [1], "lag": [1]}, **kw)


def test_classifier_halving_factor_validated():
    X, y = _trials(3, n=12, t=40)
    with pytest.raises(ValueError, match="'halving_factor' parameter.*>= 2.*got 1"):
        ACMClassifier(selection="halving", halving_factor=1).fit(X, y)
    with pytest.raises(ValueError, match="metric"):
        ACMClassifier(selection="halving", metric="logeuclid").fit(X, y)


SMALL = {"order": [1, 2], "lag": [1, 2], "C": [1.0], "kernel": ["linear", "rbf"]}


@pytest.mark.parametrize("selection", ["halving", "grid", "takens"])
def test_fit_says_what_it_is_doing(selection, caplog, capsys):
    X, y = _trials(4, n=24, t=80)
    with caplog.at_level(logging.INFO, logger="neurosig"):
        ACMClassifier(selection=selection, param_grid=SMALL, max_order=3, max_lag=4).fit(X, y)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"ACM: {selection} selection" in text if selection != "takens" else "Takens selection" in text
    assert "final fit on 24 trials" in text and "fit done" in text
    if selection == "halving":  # one line per round, with its resource and candidate count
        assert "round 1/2: 8 candidates, 4 (order, lag), level 'exact:1'" in text
        assert "round 2/2: 3 candidates" in text
        assert "ACM halving 1/2 (exact:1)" in capsys.readouterr().err  # the progress bar
    if selection == "grid":
        assert "ACM grid (lags)" in capsys.readouterr().err


@pytest.mark.parametrize("selection", ["halving", "grid", "takens"])
def test_verbose_false_is_silent(selection, caplog, capsys):
    X, y = _trials(4, n=24, t=80)
    with caplog.at_level(logging.INFO, logger="neurosig"):
        ACMClassifier(selection=selection, param_grid=SMALL, max_order=3, max_lag=4, verbose=False).fit(X, y)
    assert [r for r in caplog.records if r.levelno < logging.WARNING] == []
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_memory_cap_recomputes_identically(run54, monkeypatch):
    """Past the covariance cache cap, cheap-level matrices are dropped and recomputed for the
    survivors: every round is unchanged."""
    import neurosig.riemann.halving as halving
    X, y, cv, res, _ = run54
    monkeypatch.setattr(halving, "COV_CACHE_BYTES", 0)
    capped = halving.halving_search(X, y, GRID54, cv=cv)
    for a, b in zip(res.rounds, capped.rounds):
        np.testing.assert_array_equal(a.split_scores, b.split_scores)
        np.testing.assert_array_equal(a.promoted, b.promoted)
    assert capped.best_params == res.best_params
