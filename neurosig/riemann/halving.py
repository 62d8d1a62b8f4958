"""Successive halving over the ACM grid (scikit-learn's ``HalvingGridSearchCV`` semantics).

All candidates of the grid (order, lag, C, kernel) are scored on a cheap resource, the
best ``1 / factor`` are promoted to a more expensive one, and so on; the last round runs
the exact grid's own computation (:func:`~.fast_grid.fast_grid_search`) for the survivors
and picks among them as ``GridSearchCV`` picks.

The resource is the precision of each (order, lag, fold) tangent space, not the number
of trials: with the 45 trials of a PhysionetMI session a trial-count resource allows at
most two rounds, and nearly all of the grid's time goes to the Riemannian means (one
eigendecomposition of every training matrix per iteration, 10-20 iterations), while the
SVM settings are almost free once a tangent space exists.  The levels are:

``"logm"``
    The matrix logarithms ``logm(C_k)`` centred at their training mean (the log-Euclidean
    vector space of Arsigny et al.): one eigendecomposition per matrix, shared by all
    folds, and no whitening; the SVMs run on precomputed kernels.  About a fiftieth of the
    exact means' cost.
``"logeuclid"``
    The log-Euclidean mean of the training matrices, ``expm(mean_k logm(C_k))`` (closed
    form from the same logarithms), as the reference point of pyRiemann's
    affine-invariant log map: one whitened eigendecomposition per matrix and fold.  About
    a tenth of the exact means' cost, and ranks candidates much as they do.
``"exact:k"``
    The exact grid's computation on the first ``k`` inner folds only.
``"exact"``
    The exact grid's computation on every inner fold: pyRiemann's Riemannian mean at
    ``mean_tol`` from the Euclidean mean, tangent vectors, SVM; fold scores identical to
    the exact grid's for the same candidates.  Folds already computed at an ``"exact:k"``
    level are reused (each fold is computed independently, so nothing changes).

The cheap levels (``"logm"``, ``"logeuclid"``) score the SVMs through precomputed linear
and RBF kernels (RBF ``gamma="scale"`` as ``SVC`` computes it) and ROC-AUC by ranks: the
same scores as ``SVC`` on the vectors up to rounding; the exact levels use ``SVC`` on the
vectors, as ``GridSearchCV`` does.

Each (order, lag, fold) tangent space is computed once per level and reused by every
(C, kernel) of that (order, lag).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from neurosig._logging import get_logger, progress
from neurosig._validation import check_positive_int

from .fast_grid import (
    _ENUM_ORDER,
    exact_fold_vectors,
    lag_covariances,
    mean_path,
    prepare_search,
    svm_fold_scores,
    warn_excluded,
)
from .tangent import NotSPDError, logs_from_eigh, tangent_vectors, upper

logger = get_logger(__name__)

#: Default schedule: log-Euclidean vectors for all candidates, the affine-invariant map at
#: the log-Euclidean mean for the best third, the exact grid on one fold for the best ninth
#: and on every fold for the best 27th.
LEVELS = ("logm", "logeuclid", "exact:1", "exact")
#: Levels that are not the exact grid's computation.
CHEAP_LEVELS = ("logm", "logeuclid")
#: Augmented covariances kept between rounds (bytes); beyond, they are recomputed when needed.
COV_CACHE_BYTES = 512 * 2**20


@dataclass
class HalvingRound:
    """One round of :func:`halving_search`.

    Attributes
    ----------
    level : str
        Resource of the round (``"logeuclid"``, ``"exact:k"`` or ``"exact"``).
    folds : list of int
        Inner folds scored.
    candidates : ndarray, shape (n_round,)
        Indices into :attr:`HalvingResult.params`, in grid order.
    split_scores : ndarray, shape (n_round, len(folds))
        Test score of each candidate on each fold (NaN: could not be scored).
    mean_test_score : ndarray, shape (n_round,)
    promoted : ndarray
        Candidates promoted to the next round, best first (last round: the chosen one).
    n_pairs : int
        Distinct (order, lag) whose tangent spaces this round needed.
    seconds : float
        Wall time of the round.
    """

    level: str
    folds: list
    candidates: np.ndarray
    split_scores: np.ndarray
    mean_test_score: np.ndarray
    promoted: np.ndarray
    n_pairs: int
    seconds: float


@dataclass
class HalvingResult:
    """Outcome of :func:`halving_search`.

    Attributes
    ----------
    params : list of dict
        Every candidate ``{"order", "lag", "C", "kernel"}`` in ``GridSearchCV``'s order.
    rounds : list of HalvingRound
    factor : int
    best_index, best_params, best_score
        The chosen candidate and its mean score in the last (exact) round.
    split_scores, mean_test_score : ndarray
        Those of the last round (its candidates: ``rounds[-1].candidates``).
    excluded : list of dict
        ``{"order", "lag", "reason"}`` for every (order, lag) that could not be scored.
    n_mean_iter : dict
        ``(order, lag) -> {fold: iterations}`` of the exact Riemannian means.
    not_converged : list of dict
        Exact means that stopped at the numerical noise floor (as in ``GridResult``).
    mean_tol : float
    """

    params: list
    rounds: list
    factor: int
    best_index: int
    best_params: dict
    best_score: float
    excluded: list = field(default_factory=list)
    n_mean_iter: dict = field(default_factory=dict)
    not_converged: list = field(default_factory=list)
    mean_tol: float = 1e-8

    @property
    def split_scores(self) -> np.ndarray:
        return self.rounds[-1].split_scores

    @property
    def mean_test_score(self) -> np.ndarray:
        return self.rounds[-1].mean_test_score

    def to_frame(self):
        """One row per (round, candidate), like ``HalvingGridSearchCV.cv_results_``."""
        import pandas as pd
        rows = []
        for i, r in enumerate(self.rounds):
            promoted = set(r.promoted.tolist())
            for j, c in enumerate(r.candidates):
                rows.append({"iter": i, "level": r.level, "n_folds": len(r.folds), "candidate": int(c),
                             **self.params[c], "mean_test_score": r.mean_test_score[j],
                             "promoted": int(c) in promoted})
        return pd.DataFrame(rows)


def check_levels(levels, n_splits: int) -> list:
    """Check a schedule of resource levels (see the module docstring); it must end with ``"exact"``.

    Parameters
    ----------
    levels : str | sequence of str
        Levels among ``"logm"``, ``"logeuclid"``, ``"exact:k"`` and ``"exact"``.
    n_splits : int
        Number of folds; ``"exact:k"`` needs ``1 <= k < n_splits``.

    Returns
    -------
    levels : list of str
    """
    allowed = "'logm', 'logeuclid', 'exact:k' (1 <= k < n_splits) or 'exact'"
    levels = list(levels) if isinstance(levels, (list, tuple)) else [levels]
    if not levels or levels[-1] != "exact":
        raise ValueError(f"Invalid value for the 'levels' parameter. Allowed values are sequences of "
                         f"{allowed} ending with 'exact', but got {levels!r} instead.")
    for lv in levels:
        ok = lv in (*CHEAP_LEVELS, "exact")
        if isinstance(lv, str) and lv.startswith("exact:"):
            k = lv.split(":", 1)[1]
            ok = k.isdigit() and 1 <= int(k) < n_splits
        if not ok:
            raise ValueError(f"Invalid value for the 'levels' parameter. Allowed values are "
                             f"{allowed} with n_splits={n_splits}, but got {lv!r} instead.")
    return levels


def n_rounds(n_candidates: int, factor: int, n_levels: int) -> int:
    """``min(n_levels, 1 + floor(log_factor(n_candidates)))`` (``HalvingGridSearchCV``'s count).

    Parameters
    ----------
    n_candidates : int
        Number of candidates of the first round.
    factor : int
        Each round keeps ``1 / factor`` of its candidates.
    n_levels : int
        Number of resource levels available.

    Returns
    -------
    n : int
        Number of rounds.
    """
    k = 0
    while factor ** (k + 1) <= n_candidates:
        k += 1
    return min(n_levels, 1 + k)


def _logm_stack(C: np.ndarray, chunk: int = 16) -> np.ndarray:
    out = np.empty_like(C)
    for s in range(0, len(C), chunk):
        w, V = np.linalg.eigh(C[s:s + chunk])
        if not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise NotSPDError("matrix logarithm of a non-SPD matrix")
        out[s:s + chunk] = logs_from_eigh(w, V)
    return out


def logeuclid_fold_vectors(C, logs, train, test):
    """Tangent vectors at the log-Euclidean mean of the training matrices.

    Parameters
    ----------
    C : ndarray, shape (n_trials, n, n)
    logs : ndarray, shape (n_trials, n, n)
        ``logm(C_k)``.
    train, test : ndarray of int

    Returns
    -------
    T_train, T_test : ndarray, shape (n_train or n_test, n*(n+1)/2)
        ``upper(logm(M^-1/2 C_k M^-1/2))`` with ``M = expm(mean_train logm(C_k))``.
    """
    w, V = np.linalg.eigh(logs[train].mean(axis=0))
    isqrt = (V * np.exp(-w / 2)) @ V.T  # M^-1/2 from the same eigendecomposition
    idx = np.concatenate([train, test])
    T = tangent_vectors(C[idx], isqrt)
    return T[:len(train)], T[len(train):]


def logm_fold_vectors(logs, train, test):
    """Log-Euclidean vectors ``upper(logm(C_k) - mean_train logm(C))`` of one fold.

    Parameters
    ----------
    logs : ndarray, shape (n_trials, n, n)
        ``logm(C_k)``.
    train, test : ndarray of int

    Returns
    -------
    T_train, T_test : ndarray, shape (n_train or n_test, n*(n+1)/2)
    """
    mu = logs[train].mean(axis=0)
    return upper(logs[train] - mu), upper(logs[test] - mu)


def _rank_auc(d: np.ndarray, positive: np.ndarray) -> float:
    """ROC-AUC of decision values ``d`` by ranks (Mann-Whitney; ties count one half)."""
    diff = d[positive][:, None] - d[~positive][None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def kernel_svm_scores(T_train, y_train, T_test, y_test, settings, scorer, scoring):
    """:func:`~.fast_grid.svm_fold_scores` through precomputed kernels (cheap levels).

    Each kernel is computed once for all ``C``, with ``SVC``'s defaults (``gamma="scale"``:
    ``1 / (n_features * T_train.var())``; poly degree 3, coef0 0).  Scores equal ``SVC`` on the
    vectors up to rounding; ROC-AUC is computed by ranks.

    Parameters
    ----------
    T_train : ndarray, shape (n_train, n_features)
    y_train : ndarray, shape (n_train,)
    T_test : ndarray, shape (n_test, n_features)
    y_test : ndarray, shape (n_test,)
    settings : list of (float, str)
        ``(C, kernel)`` pairs, kernel ``"linear"``, ``"rbf"``, ``"poly"`` or ``"sigmoid"``.
    scorer : callable
        sklearn scorer (used unless ``scoring == "roc_auc"``).
    scoring : str
        The scoring name.

    Returns
    -------
    scores : ndarray, shape (len(settings),)
    """
    from sklearn.svm import SVC
    G, H = T_train @ T_train.T, T_test @ T_train.T
    var = T_train.var()
    gamma = 1.0 / (T_train.shape[1] * var) if var != 0 else 1.0  # SVC's gamma="scale"
    kernels = {}
    for k in {k for _, k in settings}:
        if k == "linear":
            kernels[k] = (G, H)
        elif k == "poly":  # SVC's defaults: degree 3, coef0 0
            kernels[k] = ((gamma * G) ** 3, (gamma * H) ** 3)
        elif k == "sigmoid":
            kernels[k] = (np.tanh(gamma * G), np.tanh(gamma * H))
        else:  # rbf
            sq_tr, sq_te = np.einsum("ij,ij->i", T_train, T_train), np.einsum("ij,ij->i", T_test, T_test)
            kernels[k] = (np.exp(-gamma * np.maximum(sq_tr[:, None] + sq_tr[None] - 2 * G, 0)),
                          np.exp(-gamma * np.maximum(sq_te[:, None] + sq_tr[None] - 2 * H, 0)))
    out = np.empty(len(settings))
    for i, (c, k) in enumerate(settings):
        K_train, K_test = kernels[k]
        svc = SVC(C=c, kernel="precomputed").fit(K_train, y_train)
        if scoring == "roc_auc" and len(svc.classes_) == 2:
            out[i] = _rank_auc(svc.decision_function(K_test), y_test == svc.classes_[1])
        else:
            out[i] = scorer(svc, K_test, y_test)
    return out


class _Scorer:
    """Scores candidates at a level, keeping exact fold vectors and scores for later rounds."""

    def __init__(self, X, y, grid, params, splits, estimator, embedding, scoring, solver, mean_tol):
        from sklearn.metrics import get_scorer
        self.X, self.y, self.grid, self.params, self.splits = X, y, grid, params, splits
        self.estimator, self.embedding, self.solver, self.mean_tol = estimator, embedding, solver, mean_tol
        self.scorer, self.scoring = get_scorer(scoring), scoring
        self.covs: dict = {}       # (order, lag) -> matrices (dropped once a pair is out)
        self.logs: dict = {}       # (order, lag) -> logm of the matrices (cheap levels)
        self.bad: dict = {}        # (order, lag) -> exclusion record
        self.exact: dict = {}      # (order, lag, fold) -> (T_train, T_test)
        self.exact_scores: dict = {}  # (candidate, fold) -> score
        self.n_iter: dict = {}
        self.not_converged: list = []

    def _covariances(self, pairs):
        needed = {q for q in pairs if q not in self.covs and q not in self.bad}
        for lag in sorted({lag for _, lag in needed}):
            covs, excluded = lag_covariances(self.X, lag, self.grid["order"], self.estimator, self.embedding)
            for e in excluded:
                self.bad.setdefault((e["order"], lag), e)
            for p, C in covs.items():
                if (p, lag) in pairs and (p, lag) not in self.bad:
                    self.covs[(p, lag)] = C

    def keep_only(self, pairs):
        self.covs = {k: v for k, v in self.covs.items() if k in pairs}
        self.logs = {k: v for k, v in self.logs.items() if k in pairs}
        self.exact = {k: v for k, v in self.exact.items() if k[:2] in pairs}

    def _pair_scores(self, pair, cands, level, folds):
        """Scores of the candidates ``cands`` of one (order, lag), shape (len(cands), len(folds))."""
        C, y = self.covs[pair], self.y
        settings = [(self.params[c]["C"], self.params[c]["kernel"]) for c in cands]
        out = np.empty((len(cands), len(folds)))
        if level in CHEAP_LEVELS:
            if pair not in self.logs:
                self.logs[pair] = _logm_stack(C)
            logs = self.logs[pair]
            for j, f in enumerate(folds):
                tr, te = self.splits[f]
                if level == "logm":
                    T_tr, T_te = logm_fold_vectors(logs, tr, te)
                else:
                    T_tr, T_te = logeuclid_fold_vectors(C, logs, tr, te)
                out[:, j] = kernel_svm_scores(T_tr, y[tr], T_te, y[te], settings, self.scorer, self.scoring)
            return out
        path = None
        for j, f in enumerate(folds):
            tr, te = self.splits[f]
            key = (*pair, f)
            if key not in self.exact:
                path = path or mean_path(C, self.solver)
                T_tr, T_te, mr = exact_fold_vectors(C, tr, te, path, self.mean_tol)
                self.exact[key] = (T_tr, T_te)
                self.n_iter.setdefault(pair, {})[f] = mr.n_iter
                if not mr.converged:
                    self.not_converged.append({"order": pair[0], "lag": pair[1], "fold": f, "crit": mr.crit})
            todo = [i for i, c in enumerate(cands) if (c, f) not in self.exact_scores]
            if todo:
                T_tr, T_te = self.exact[key]
                s = svm_fold_scores(T_tr, y[tr], T_te, y[te], [settings[i] for i in todo], self.scorer)
                for i, v in zip(todo, s):
                    self.exact_scores[(cands[i], f)] = v
            out[:, j] = [self.exact_scores[(c, f)] for c in cands]
        return out

    def score(self, cands, level, folds, bar):
        """Fold scores of the candidates ``cands`` (grid order), shape (len(cands), len(folds)).

        Parameters
        ----------
        cands : ndarray of int
            Candidate indices into ``params``, in grid order.
        level : str
            Resource level: ``"logeuclid"``, ``"exact:k"`` or ``"exact"``.
        folds : list of int
            Indices of the folds (into ``splits``) to score.
        bar : progress bar
            Advanced by one step per (order, lag).

        Returns
        -------
        scores : ndarray, shape (len(cands), len(folds))
            NaN for candidates that could not be scored.
        n_pairs : int
            Number of (order, lag) pairs among the candidates.
        """
        by_pair: dict = {}
        for c in cands:
            by_pair.setdefault((self.params[c]["order"], self.params[c]["lag"]), []).append(c)
        scores = {}
        done = set()
        for pair, cs in by_pair.items():  # candidates come lag by lag (grid order)
            self._covariances({q for q in by_pair if q[1] == pair[1] and q not in done})
            done.add(pair)
            if pair in self.covs:
                try:
                    scores.update(zip(cs, self._pair_scores(pair, cs, level, folds)))
                except NotSPDError as exc:
                    self.bad[pair] = {"order": pair[0], "lag": pair[1], "reason": f"tangent space failed: {exc}"}
                    self.covs.pop(pair)
                    self.logs.pop(pair, None)
                # bounded memory on large grids: past the cap, the matrices of a pair scored at a
                # cheap level are dropped and recomputed (identically) if it is promoted
                if pair in self.covs and level in CHEAP_LEVELS and \
                        sum(a.nbytes for d in (self.covs, self.logs) for a in d.values()) > COV_CACHE_BYTES:
                    self.covs.pop(pair)
                    self.logs.pop(pair, None)
            bar.update(1)
        nan = np.full(len(folds), np.nan)
        return np.array([scores.get(c, nan) for c in cands]).reshape(len(cands), len(folds)), len(by_pair)


def _top(cands, mean, k):
    """The ``k`` best scored candidates, best first; ties go to the earlier candidate (grid order)."""
    ok = np.flatnonzero(~np.isnan(mean))
    order = ok[np.lexsort((cands[ok], -mean[ok]))]
    return cands[order[:k]]


def _run_round(sc, cands, level, keep, label, verbose) -> HalvingRound:
    """Score ``cands`` at ``level`` and promote the best ``keep`` (one halving round)."""
    t0 = time.perf_counter()
    params = sc.params
    folds = list(range(len(sc.splits) if level in (*CHEAP_LEVELS, "exact") else int(level.split(":")[1])))
    n_pairs = len({(params[c]["order"], params[c]["lag"]) for c in cands})
    if verbose:
        logger.info("ACM halving round %s: %d candidates, %d (order, lag), level %r, %d inner fold(s)",
                    label, len(cands), n_pairs, level, len(folds))
    bar = progress(total=n_pairs, desc=f"ACM halving {label} ({level})", verbose=verbose, unit="(order, lag)")
    try:
        split, n_pairs = sc.score(cands, level, folds, bar)
    finally:
        bar.close()
    mean = np.full(len(cands), np.nan)
    ok = ~np.isnan(split).any(axis=1)
    mean[ok] = split[ok].mean(axis=1)
    promoted = _top(cands, mean, keep)
    if len(promoted) == 0:
        raise ValueError("No candidate of the grid could be scored: every (order, lag) gave "
                         "non-SPD matrices. Use smaller orders/lags or a shrinkage estimator.")
    rnd = HalvingRound(level, folds, cands, split, mean, promoted, n_pairs, time.perf_counter() - t0)
    if verbose:
        logger.info("ACM halving round %s done in %.1f s: best %s (mean score %.4f); %s", label, rnd.seconds,
                    params[promoted[0]], np.nanmax(mean), "chosen" if keep == 1 else f"{len(promoted)} promoted")
    return rnd


def halving_search(X, y, param_grid: dict | None = None, cv=None, estimator: str = "cov",
                   embedding: str = "moabb", scoring: str | None = None, factor: int = 3,
                   levels=LEVELS, mean_solver: str = "anderson", mean_tol: float = 1e-8,
                   verbose: bool = False) -> HalvingResult:
    """Successive halving over (order, lag, C, kernel), the last round exact.

    Round ``i`` scores ``ceil(n_candidates / factor**i)`` candidates at resource level
    ``levels[i]`` and promotes the best ``1 / factor`` of them (by mean test score over the
    round's folds; ties go to the earlier candidate in grid order; candidates that could
    not be scored are never promoted).  As in ``HalvingGridSearchCV``, there are
    ``min(len(levels), 1 + floor(log_factor(n_candidates)))`` rounds, taken from the end
    of ``levels``, so the last round is always ``"exact"``: the fold scores of its
    candidates are those of :func:`~.fast_grid.fast_grid_search`, and the choice among
    them is ``GridSearchCV``'s (best mean, first in grid order).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    y : ndarray, shape (n_trials,)
    param_grid, cv, estimator, embedding, scoring
        As :func:`~.fast_grid.fast_grid_search` (``cv`` None: MOABB's inner
        ``StratifiedKFold(3, shuffle=True, random_state=42)``).
    factor : int, default=3
        Each round keeps ``ceil(n / factor)`` of its ``n`` candidates.
    levels : sequence of str, default=("logm", "logeuclid", "exact:1", "exact")
        Resource of each round (see the module docstring); must end with ``"exact"``.
    mean_solver, mean_tol
        As :func:`~.fast_grid.fast_grid_search`.
    verbose : bool
        A progress bar per round (one step per (order, lag)) and a log line per round.

    Returns
    -------
    result : HalvingResult
    """
    factor = check_positive_int("factor", factor)
    if factor < 2:
        raise ValueError(f"Invalid value for the 'factor' parameter. Allowed values are integers >= 2, "
                         f"but got {factor} instead.")
    X, y, grid, splits, scoring, mean_tol = prepare_search(X, y, param_grid, cv, embedding, scoring,
                                                           mean_solver, mean_tol)
    levels = check_levels(levels, len(splits))
    from itertools import product
    params = [dict(zip(_ENUM_ORDER, v)) for v in product(*(grid[k] for k in _ENUM_ORDER))]
    params = [{k: q[k] for k in ("order", "lag", "C", "kernel")} for q in params]
    used = levels[-n_rounds(len(params), factor, len(levels)):]
    sc = _Scorer(X, y, grid, params, splits, estimator, embedding, scoring, mean_solver, mean_tol)
    cands = np.arange(len(params))
    rounds = []
    for i, level in enumerate(used):
        keep = 1 if i == len(used) - 1 else -(-len(cands) // factor)
        rounds.append(_run_round(sc, cands, level, keep, f"{i + 1}/{len(used)}", verbose))
        cands = np.sort(rounds[-1].promoted)
        sc.keep_only({(params[c]["order"], params[c]["lag"]) for c in cands})
    best = int(rounds[-1].promoted[0])
    excluded = sorted(sc.bad.values(), key=lambda e: (grid["lag"].index(e["lag"]), grid["order"].index(e["order"])))
    warn_excluded("ACM halving", excluded)
    return HalvingResult(params=params, rounds=rounds, factor=factor, best_index=best,
                         best_params=dict(params[best]), best_score=float(np.nanmax(rounds[-1].mean_test_score)),
                         excluded=excluded, n_mean_iter=sc.n_iter,
                         not_converged=sorted(sc.not_converged, key=lambda e: (e["lag"], e["order"], e["fold"])),
                         mean_tol=mean_tol)
