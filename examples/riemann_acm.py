"""ACM classifiers in a few seconds: augmented covariances, Takens selection, exact grid, halving.

Runs on generated two-class trials (an oscillation whose power differs between classes),
so it needs no download:

    python examples/riemann_acm.py
"""
import numpy as np
from scipy.signal import lfilter
from sklearn.model_selection import StratifiedKFold, cross_val_score

from neurosig.riemann import ACMClassifier, AugmentedCovariances

rng = np.random.default_rng(0)
n_trials, n_channels, n_times = 40, 4, 200
y = np.repeat([0, 1], n_trials // 2)
# AR(2) oscillator (~10 cycles per 100 samples), mixed into 4 channels; class 1 is weaker
a1, a2 = 2 * 0.95 * np.cos(2 * np.pi / 10), -0.95 ** 2
source = lfilter([1.0], [1.0, -a1, -a2], rng.standard_normal((n_trials, n_times)), axis=-1)
source[y == 1] *= 0.8
X = 2 * rng.standard_normal((n_trials, n_channels, n_times)) + np.einsum("c,nt->nct", [1.0, 0.5, 0.2, 0.0], source)

# 1. augmented covariance matrices (MOABB's convention): (n_trials, n_channels*order, n_channels*order)
C = AugmentedCovariances(order=3, lag=2).fit_transform(X)
print("augmented covariances:", C.shape)

# 2. Takens selection (AMI lag, FNN order) on the training data, then TS + SVM
cv = StratifiedKFold(5, shuffle=True, random_state=0)
takens = ACMClassifier(selection="takens", max_order=4, max_lag=6)
auc = cross_val_score(takens, X, y, cv=cv, scoring="roc_auc").mean()
print(f"Takens ACM ROC-AUC: {auc:.3f}")
takens.fit(X, y)
print(f"Takens choice: order={takens.order_} lag={takens.lag_}")

# 3. exact grid search (same choice as GridSearchCV over MOABB's pipeline, shared tangent spaces)
grid = ACMClassifier(selection="grid",
                     param_grid={"order": [1, 2, 3], "lag": [1, 2], "C": [0.5, 1.0], "kernel": ["linear", "rbf"]})
grid.fit(X, y)
print(f"grid choice: order={grid.order_} lag={grid.lag_} C={grid.C_:.1f} kernel={grid.kernel_} "
      f"(inner AUC {grid.grid_result_.best_score:.3f})")
res = grid.grid_result_
print("excluded (order, lag):", [(e["order"], e["lag"]) for e in res.excluded],
      "| means that met no tolerance:", len(res.not_converged))

# 4. successive halving over the same candidates: every candidate scored on centred matrix
#    logarithms, the best third at the closed-form log-Euclidean mean, then exactly on one
#    inner fold, then on all folds (the exact grid's own scores), chosen as GridSearchCV chooses
halving = ACMClassifier(selection="halving", param_grid=grid.param_grid, verbose=False).fit(X, y)
for i, r in enumerate(halving.grid_result_.rounds):
    print(f"halving round {i + 1}: {len(r.candidates)} candidates on {r.level!r} "
          f"({len(r.folds)} of 3 inner folds), {len(r.promoted)} kept")
print(f"halving choice: order={halving.order_} lag={halving.lag_} C={halving.C_:.1f} kernel={halving.kernel_} "
      f"(same as the exact grid: {halving.grid_result_.best_params == res.best_params})")

# 5. approximate mode: a looser Riemannian-mean tolerance (pyRiemann's is 1e-8), fewer
#    iterations; check that it chose what the exact grid chose before trusting it
approx = ACMClassifier(selection="grid", mean_tol=1e-5, param_grid=grid.param_grid, verbose=False).fit(X, y)
print("approximate grid (mean_tol=1e-5): same choice as exact:",
      approx.grid_result_.best_params == res.best_params)
