"""Fast exact grid search for ACM + tangent space + SVM (MOABB's published grid).

``GridSearchCV`` over MOABB's pipeline (``AugmentedDataset`` -> ``Covariances`` ->
``TangentSpace`` -> ``SVC``) refits the whole pipeline for every candidate, so every
(order, lag, fold) recomputes the covariances and the tangent space (the iterative
Riemannian mean and the log-map, i.e. eigendecompositions of (C*order)-sized
matrices) once per SVM setting, and again for the training score.  Here, with the
same candidates, the same inner folds and the same scorer:

* augmented covariances are computed once per (order, lag) for all trials, from
  lagged products shared by all orders of a lag (:class:`~.augmented.LaggedProducts`);
* each (order, lag, fold) tangent space is computed once and reused for every
  (C, kernel); the training set's vectors come from the last iteration of the mean;
* the Riemannian mean is found by Anderson-accelerated steps to the same fixed point
  under pyRiemann's stopping rule (``mean_solver="pyriemann"`` runs pyRiemann's own
  iterates instead); the mean of the logs is one matrix product;
* eigendecompositions are batched, and (lag, order, fold) triples run in parallel (``n_jobs``).

The mean solvers: ``"pyriemann"`` runs pyRiemann's iterates; ``"anderson"`` (default)
reaches the same fixed point under the same stopping rule (``||J||_F <= 1e-8``, checked at
the returned point) in fewer iterations. Numerically singular (order, lag) (relative
smallest eigenvalue <= ``NEAR_SINGULAR``) always follow pyRiemann's iterates, so that they
fail (NaN) where MOABB's do. Both agree with pyRiemann's mean to ~1e-10 (relative) on the
tested data; the grid's scores and choice are compared with ``GridSearchCV`` in the tests
and benchmark. Where the tolerance cannot be met (numerical noise floor of ``||J||``, e.g.
order >= 4 augmented covariances of band-passed EEG, condition numbers ~1e12), pyRiemann's
iteration runs its 50 iterations and ``"anderson"`` stops when ``||J||`` stops decreasing;
both points are listed in ``not_converged``. A ``mean_tol`` above pyRiemann's 1e-8 (e.g.
1e-5) is an APPROXIMATE acceleration: fewer iterations, tangent vectors that differ from
MOABB's by about ``mean_tol``; choices and scores are then no longer guaranteed identical
(compare with ``benchmarks/acm_speed.py --mean-tol``).

Candidates whose matrices are not SPD (MOABB's pipeline scores them NaN: the
logarithm of a non-positive eigenvalue) are excluded the same way (score NaN,
ranked last) and listed in :attr:`GridResult.excluded`.  The ranking replicates
``GridSearchCV``: candidates in ``ParameterGrid`` order of MOABB's step keys (lag,
order, C, kernel), mean test score over folds, ``rankdata(method="min")``, first
best index wins.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from itertools import product

import numpy as np
from scipy.stats import rankdata

from neurosig._logging import get_logger
from neurosig._validation import (
    check_option,
    check_positive_float,
    check_positive_int,
    check_signal_array,
)
from neurosig.parallel import run_tasks

from .augmented import (
    FAST_ESTIMATORS,
    LaggedProducts,
    augmented_covariances,
    rank_deficient,
    spd_mask,
)
from .embedding import EMBEDDINGS, embedded_n_times
from .tangent import MEAN_SOLVERS, NotSPDError, riemann_mean_logs, tangent_vectors, upper

logger = get_logger(__name__)

#: MOABB's published ACM grid (pipelines/AUG_TANG_SVM_grid.yml in MOABB).
MOABB_GRID = {"order": list(range(1, 11)), "lag": list(range(1, 11)), "C": [0.5, 1, 1.5],
              "kernel": ["rbf", "linear"]}
#: neurosig key -> MOABB pipeline key; GridSearchCV sorts the latter, so candidates are
#: enumerated in the order lag, order, C, kernel (kernel fastest).
MOABB_KEYS = {"lag": "augmenteddataset__lag", "order": "augmenteddataset__order",
              "C": "svc__C", "kernel": "svc__kernel"}
_ENUM_ORDER = ("lag", "order", "C", "kernel")
KERNELS = ("linear", "rbf", "poly", "sigmoid")
#: Relative smallest eigenvalue below which an (order, lag)'s matrices count as numerically
#: singular (about 50 machine epsilons): the grid then runs pyRiemann's own iterates.
NEAR_SINGULAR = 1e-14


def normalize_grid(param_grid: dict | None) -> dict:
    """Check a grid with keys order, lag, C, kernel (or MOABB's step keys).

    Parameters
    ----------
    param_grid : dict | None
        Values (a list or a single value) per key; None: MOABB's published grid.

    Returns
    -------
    grid : dict
        ``{"lag": [...], "order": [...], "C": [...], "kernel": [...]}``; missing keys
        take MOABB's published values.
    """
    if param_grid is None:
        param_grid = MOABB_GRID
    if not isinstance(param_grid, dict):
        raise TypeError(f"The 'param_grid' parameter must be a dict with keys among "
                        f"{sorted(MOABB_KEYS)}, but got {type(param_grid).__name__} instead.")
    back = {v: k for k, v in MOABB_KEYS.items()}
    grid = {}
    for key, values in param_grid.items():
        k = back.get(key, key)
        check_option("param_grid key", k, list(MOABB_KEYS) + list(MOABB_KEYS.values()))
        values = list(values) if isinstance(values, (list, tuple, range, np.ndarray)) else [values]
        if not values:
            raise ValueError(f"Invalid value for param_grid[{key!r}]: an empty list.")
        grid[k] = values
    for k in ("order", "lag"):
        grid[k] = [check_positive_int(f"param_grid['{k}']", v) for v in grid.get(k, MOABB_GRID[k])]
    grid["C"] = [check_positive_float("param_grid['C']", v) for v in grid.get("C", MOABB_GRID["C"])]
    grid["kernel"] = [check_option("param_grid['kernel']", v, KERNELS)
                      for v in grid.get("kernel", MOABB_GRID["kernel"])]
    return {k: grid[k] for k in _ENUM_ORDER}


@dataclass
class GridResult:
    """Outcome of :func:`fast_grid_search` (``GridSearchCV``-like).

    Attributes
    ----------
    params : list of dict
        Candidates ``{"order", "lag", "C", "kernel"}`` in ``GridSearchCV``'s order.
    split_scores : ndarray, shape (n_candidates, n_splits)
        Test score of every candidate on every inner fold (NaN: excluded).
    mean_test_score, rank_test_score : ndarray, shape (n_candidates,)
    best_index, best_params, best_score
        The selected candidate, chosen as ``GridSearchCV`` chooses.
    excluded : list of dict
        ``{"order", "lag", "reason"}`` for every (order, lag) that could not be scored.
    n_mean_iter : dict
        ``(order, lag) -> list`` of Riemannian-mean iterations per fold (diagnostics).
    not_converged : list of dict
        ``{"order", "lag", "fold", "crit"}`` for every Riemannian mean whose criterion
        ``||J||_F <= mean_tol`` was not met (``crit`` = the value reached), e.g. where the
        tolerance lies below the numerical noise floor of very ill-conditioned matrices.
    mean_tol : float
        The tolerance used (pyRiemann's 1e-8 by default).
    """

    params: list
    split_scores: np.ndarray
    mean_test_score: np.ndarray
    rank_test_score: np.ndarray
    best_index: int
    best_params: dict
    best_score: float
    excluded: list = field(default_factory=list)
    n_mean_iter: dict = field(default_factory=dict)
    not_converged: list = field(default_factory=list)
    mean_tol: float = 1e-8

    def to_frame(self):
        """Results as a pandas DataFrame (one row per candidate)."""
        import pandas as pd
        df = pd.DataFrame(self.params)
        for k in range(self.split_scores.shape[1]):
            df[f"split{k}_test_score"] = self.split_scores[:, k]
        df["mean_test_score"] = self.mean_test_score
        df["rank_test_score"] = self.rank_test_score
        return df


def _covariances_for_lag(X, lag, orders, estimator, embedding):
    if estimator in FAST_ESTIMATORS:
        lp = LaggedProducts(X, orders, lag, estimator, embedding)
        return lp.covariances
    return lambda p: augmented_covariances(X, p, lag, estimator, embedding)


def lag_covariances(X, lag, orders, estimator, embedding):
    """Augmented covariances of every scorable order of one lag, as the grid computes them.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    lag : int
    orders : list of int
        The grid's orders (the lagged products are shared by all of them: the same list
        gives bit-identical matrices wherever they are computed).
    estimator, embedding : str

    Returns
    -------
    covs : dict
        ``order -> ndarray, shape (n_trials, n_channels*order, n_channels*order)``, only for
        orders whose matrices are SPD.
    excluded : list of dict
        ``{"order", "lag", "reason"}`` for the rank-deficient and non-SPD orders.
    """
    n_ch, n_times = X.shape[1], X.shape[2]
    excluded = []
    full_rank = []
    for p in orders:
        n_emb = embedded_n_times(n_times, p, lag, embedding)
        if (p > 1 and n_emb < 2) or rank_deficient(n_ch, p, n_emb, estimator):
            excluded.append({"order": p, "lag": lag, "reason":
                             f"rank deficient: {p * n_ch} dimensions > {n_emb - 1} (samples - 1)"})
        else:
            full_rank.append(p)
    covs = {}
    covs_of = _covariances_for_lag(X, lag, full_rank, estimator, embedding) if full_rank else None
    for p in full_rank:
        C = covs_of(p)
        bad = ~spd_mask(C)
        if bad.any():
            excluded.append({"order": p, "lag": lag, "reason":
                             f"{int(bad.sum())} of {len(C)} matrices not SPD (numerically singular)"})
            continue
        covs[p] = C
    return covs, excluded


def mean_path(C, solver):
    """Which Riemannian-mean solver the grid runs for one (order, lag).

    Numerically singular matrices (smallest eigenvalue within ~50 rounding errors of zero):
    whether MOABB's pipeline scores them or gives NaN depends on the exact path of
    pyRiemann's iteration (a whitened eigenvalue may round to <= 0), so follow it.

    Parameters
    ----------
    C : ndarray, shape (n_trials, n, n)
        SPD matrices of one (order, lag).
    solver : {"anderson", "pyriemann"}
        The solver asked for.

    Returns
    -------
    path : {"anderson", "pyriemann"}
        ``"pyriemann"`` where the matrices are numerically singular, else ``solver``.
    """
    w = np.linalg.eigvalsh(C)
    return "pyriemann" if np.any(w[:, 0] <= NEAR_SINGULAR * w[:, -1]) else solver


def exact_fold_vectors(C, train, test, path, mean_tol):
    """Tangent vectors of one (order, lag, fold) at the exact Riemannian mean of its training set.

    One Riemannian mean per (order, lag, fold); the training vectors are the logs of its
    last iteration, the test vectors one batched eigendecomposition.

    Parameters
    ----------
    C : ndarray, shape (n_trials, n, n)
    train, test : ndarray of int
    path : {"anderson", "pyriemann"}
        See :func:`mean_path`.
    mean_tol : float

    Returns
    -------
    T_train : ndarray, shape (n_train, n*(n+1)/2)
    T_test : ndarray, shape (n_test, n*(n+1)/2)
    mean : MeanResult
        (``logs`` dropped).

    Raises
    ------
    NotSPDError
        Where the tangent space cannot be computed (MOABB's pipeline gives NaN there).
    """
    with warnings.catch_warnings():  # reported once, in the parent
        warnings.simplefilter("ignore", UserWarning)
        mr = riemann_mean_logs(C[train], solver=path, tol=mean_tol)
    return upper(mr.logs), tangent_vectors(C[test], mr.isqrt), mr._replace(logs=None)


def svm_fold_scores(T_train, y_train, T_test, y_test, settings, scorer):
    """Test score of ``SVC(C, kernel)`` for every ``(C, kernel)`` in ``settings``.

    Parameters
    ----------
    T_train : ndarray, shape (n_train, n_features)
        Training tangent vectors.
    y_train : ndarray, shape (n_train,)
    T_test : ndarray, shape (n_test, n_features)
        Test tangent vectors.
    y_test : ndarray, shape (n_test,)
    settings : list of (float, str)
        ``(C, kernel)`` pairs.
    scorer : callable
        sklearn scorer, ``scorer(estimator, X, y)``.

    Returns
    -------
    scores : ndarray, shape (len(settings),)
    """
    from sklearn.svm import SVC
    return np.array([scorer(SVC(C=c, kernel=k).fit(T_train, y_train), T_test, y_test) for c, k in settings])


def _lag_task(task) -> dict:
    """Score every (order, C, kernel) of one lag, some orders and some folds (runs in a worker)."""
    from sklearn.metrics import get_scorer
    from threadpoolctl import threadpool_limits

    (X, y, lag, orders, folds, Cs, kernels, splits, estimator, embedding, scoring, blas_threads, solver,
     mean_tol) = task
    scorer = get_scorer(scoring)
    settings = list(product(Cs, kernels))
    scores = {}
    n_iter = {}
    not_converged = []
    with threadpool_limits(limits=blas_threads):
        covs, excluded = lag_covariances(X, lag, orders, estimator, embedding)
        for p, C in covs.items():
            fold_scores = {}
            iters = {}
            path = mean_path(C, solver)
            try:
                for f in folds:
                    tr, te = splits[f]
                    T_tr, T_te, mr = exact_fold_vectors(C, tr, te, path, mean_tol)
                    iters[f] = mr.n_iter
                    if not mr.converged:
                        not_converged.append({"order": p, "lag": lag, "fold": f, "crit": mr.crit})
                    s = svm_fold_scores(T_tr, y[tr], T_te, y[te], settings, scorer)
                    fold_scores[f] = s.reshape(len(Cs), len(kernels))
            except NotSPDError as exc:
                excluded.append({"order": p, "lag": lag, "reason": f"tangent space failed: {exc}"})
                continue
            scores[p] = fold_scores
            n_iter[p] = iters
    return {"lag": lag, "scores": scores, "excluded": excluded, "n_iter": n_iter, "not_converged": not_converged}


def fast_grid_search(X, y, param_grid: dict | None = None, cv=None, estimator: str = "cov",
                     embedding: str = "moabb", scoring: str | None = None, n_jobs: int | None = None,
                     verbose: bool = False, mean_solver: str = "anderson",
                     mean_tol: float = 1e-8) -> GridResult:
    """Exact grid search over (order, lag, C, kernel) with shared tangent spaces.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    y : ndarray, shape (n_trials,)
    param_grid : dict | None
        Keys ``order``, ``lag``, ``C``, ``kernel`` (or MOABB's step keys
        ``augmenteddataset__order`` ...); None: MOABB's published grid.
    cv : int | CV splitter | iterable of (train, test) | None
        Inner folds, as ``GridSearchCV`` takes them; None uses MOABB's inner split,
        ``StratifiedKFold(3, shuffle=True, random_state=42)``.
    estimator : str
        Covariance estimator ("cov" in MOABB's pipeline).
    embedding : {"moabb", "textbook"}
    scoring : str | None
        sklearn scorer name; None: "roc_auc" for two classes, else "accuracy" (MOABB).
    n_jobs : int | None
        Worker processes (each gets one BLAS thread when ``n_jobs > 1``).  In parallel,
        one task per (lag, order, fold), largest orders first; sequentially, one per lag
        (the lagged products are then shared by all orders of a lag).
    verbose : bool, default=False
        A progress bar over the tasks.
    mean_solver : {"anderson", "pyriemann"}
        How the Riemannian mean of each (order, lag, fold) is found (see the module
        docstring and :func:`~.tangent.riemann_mean_logs`).
    mean_tol : float
        Stopping tolerance of the Riemannian mean, ``||J||_F <= mean_tol``: 1e-8, pyRiemann's
        (the exact mode); a larger value is an APPROXIMATE acceleration (module docstring).

    Returns
    -------
    result : GridResult
    """
    X, y, grid, splits, scoring, mean_tol = prepare_search(X, y, param_grid, cv, embedding, scoring,
                                                           mean_solver, mean_tol)
    from neurosig.parallel import resolve_n_jobs
    workers = resolve_n_jobs(n_jobs)
    blas = 1 if workers > 1 else None
    all_folds = list(range(len(splits)))
    if workers > 1:  # one task per (lag, order, fold), largest orders first (longest task first)
        units = sorted(((lag, [p], [f]) for lag in grid["lag"] for p in grid["order"] for f in all_folds),
                       key=lambda u: -u[1][0])
    else:
        units = [(lag, grid["order"], all_folds) for lag in grid["lag"]]
    tasks = [(X, y, lag, orders, folds, grid["C"], grid["kernel"], splits, estimator, embedding,
              scoring, blas, mean_solver, mean_tol) for lag, orders, folds in units]
    results = run_tasks(_lag_task, tasks, backend="processes" if workers > 1 else "sequential",
                        n_jobs=workers, raise_errors=True, verbose=verbose, desc="ACM grid (lags)")
    by_lag, not_converged = _merge_lag_results(grid, [r.value for r in results])
    params, split_scores, excluded, n_iter = _assemble(grid, by_lag, all_folds)
    mean = np.average(split_scores, axis=1)
    if np.all(np.isnan(mean)):
        raise ValueError("No candidate of the grid could be scored: every (order, lag) gave "
                         "non-SPD matrices. Use smaller orders/lags or a shrinkage estimator.")
    # GridSearchCV's ranking (sklearn.model_selection._search._format_results)
    filled = np.nan_to_num(mean, nan=np.nanmin(mean) - 1)
    rank = rankdata(-filled, method="min").astype(np.int32)
    best = int(rank.argmin())
    not_converged.sort(key=lambda e: (e["lag"], e["order"], e["fold"]))
    if not_converged:
        logger.warning("ACM grid: the Riemannian mean did not reach ||J|| <= %.2g for %d (order, lag, "
                       "fold) triples (ill-conditioned matrices: noise floor of ||J||; pyRiemann's "
                       "iteration does not reach it either); ||J|| reached (worst fold): %s", mean_tol, len(not_converged),
                       {k: max(e["crit"] for e in not_converged if (e["order"], e["lag"]) == k)
                        for k in sorted({(e["order"], e["lag"]) for e in not_converged})})
    warn_excluded("ACM grid", excluded)
    return GridResult(params=params, split_scores=split_scores, mean_test_score=mean,
                      rank_test_score=rank, best_index=best, best_params=dict(params[best]),
                      best_score=float(mean[best]), excluded=excluded, n_mean_iter=n_iter,
                      not_converged=not_converged, mean_tol=mean_tol)


def prepare_search(X, y, param_grid, cv, embedding, scoring, mean_solver, mean_tol):
    """The checks and inputs every ACM search starts from (the grid and halving share them).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    y : ndarray, shape (n_trials,)
    param_grid, cv, embedding, scoring, mean_solver, mean_tol
        As :func:`fast_grid_search`.

    Returns
    -------
    X : ndarray, shape (n_trials, n_channels, n_times)
    y : ndarray, shape (n_trials,)
    grid : dict
        Normalised grid (keys order, lag, C, kernel).
    splits : list of (train, test)
        Inner folds (MOABB's ``StratifiedKFold(3, shuffle=True, random_state=42)`` for None).
    scoring : str
        ``scoring``, or "roc_auc" for two classes and "accuracy" otherwise (MOABB).
    mean_tol : float
    """
    from sklearn.model_selection import StratifiedKFold, check_cv

    check_option("embedding", embedding, EMBEDDINGS)
    check_option("mean_solver", mean_solver, MEAN_SOLVERS)
    mean_tol = check_positive_float("mean_tol", mean_tol)
    X = check_signal_array("X", X, ndim=3)
    grid = normalize_grid(param_grid)
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        raise ValueError(f"The 'y' parameter must contain at least 2 classes, but got {np.unique(y).tolist()}.")
    if cv is None:
        cv = StratifiedKFold(3, shuffle=True, random_state=42)
    splits = list(check_cv(cv, y, classifier=True).split(X, y))
    if scoring is None:
        scoring = "roc_auc" if len(np.unique(y)) == 2 else "accuracy"
    return X, y, grid, splits, scoring, mean_tol


def warn_excluded(what: str, excluded: list) -> None:
    """One warning listing the (order, lag) pairs a search could not score.

    Parameters
    ----------
    what : str
        The search, for the message ("ACM grid", "ACM halving").
    excluded : list of dict
        ``{"order", "lag", "reason"}`` records.
    """
    if excluded:
        logger.warning("%s: %d (order, lag) pairs could not be scored (not SPD) and were "
                       "excluded: %s", what, len(excluded), [(e["order"], e["lag"]) for e in excluded])


def _merge_lag_results(grid, values):
    """Merge the (lag, order, fold) pieces of the tasks into one record per lag."""
    by_lag = {lag: {"scores": {}, "excluded": [], "n_iter": {}} for lag in grid["lag"]}
    not_converged = []
    for v in values:
        part = by_lag[v["lag"]]
        not_converged.extend(v["not_converged"])
        for p, per_fold in v["scores"].items():
            part["scores"].setdefault(p, {}).update(per_fold)
        for p, per_fold in v["n_iter"].items():
            part["n_iter"].setdefault(p, {}).update(per_fold)
        for e in v["excluded"]:  # an order fails as a whole (as in GridSearchCV: NaN mean)
            if all(e["order"] != x["order"] for x in part["excluded"]):
                part["excluded"].append(e)
    return by_lag, not_converged


def _assemble(grid, by_lag, all_folds):
    """Candidates in ``GridSearchCV``'s order with their fold scores (NaN where excluded)."""
    params, rows, excluded, n_iter = [], [], [], {}
    for lag in grid["lag"]:
        part = by_lag[lag]
        part["excluded"].sort(key=lambda e: grid["order"].index(e["order"]))
        excluded.extend(part["excluded"])
        bad = {e["order"] for e in part["excluded"]}
        part["scores"] = {p: np.stack([v[f] for f in all_folds]) for p, v in part["scores"].items()
                          if p not in bad}
        for p, its in part["n_iter"].items():
            if p not in bad:
                n_iter[(p, lag)] = [its[f] for f in all_folds]
    for lag, p, (ci, c), (ki, k) in product(grid["lag"], grid["order"], enumerate(grid["C"]),
                                            enumerate(grid["kernel"])):
        params.append({"order": p, "lag": lag, "C": c, "kernel": k})
        s = by_lag[lag]["scores"].get(p)
        rows.append(s[:, ci, ki] if s is not None else np.full(len(all_folds), np.nan))
    return params, np.array(rows), excluded, n_iter
