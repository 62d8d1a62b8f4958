"""How far the APPROXIMATE fast grid (a looser Riemannian-mean tolerance) drifts from the exact one.

``fast_grid_search(mean_tol=1e-8)`` (pyRiemann's tolerance) selects what ``GridSearchCV`` over
MOABB's pipeline selects, with the same fold scores (``benchmarks/acm_speed.py`` and the
tests check that against MOABB itself).  A looser ``mean_tol`` stops the Riemannian means
earlier: faster, but the tangent vectors move by about ``mean_tol`` and nothing guarantees the
same choice.  This script runs both on several subjects, in one process on the same folds,
and prints per subject the two choices, the largest fold-score difference, the difference of
the best inner score and the time ratio exact / approximate.

Data: the simulated motor-imagery dataset (the benchmark default; subjects 1-6, session
``0train``, left vs right, 72 trials x 22 channels) and, when ``../shared/data`` is there, the
real PhysionetMI subject 1 (45 trials x 64 channels).  One BLAS thread.

    python benchmarks/acm_mean_tol.py --quick          # < 1 min: 2 simulated subjects, small grid
    python benchmarks/acm_mean_tol.py                  # 6 simulated subjects + real subject
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _units(args):
    from moabb.paradigms import LeftRightImagery

    from neurosig.datasets import SimulatedMotorImagery
    ds = SimulatedMotorImagery()
    subjects = [1, 2] if args.quick else args.subjects
    for s in subjects:
        X, y, meta = LeftRightImagery().get_data(ds, [s])
        keep = (meta["session"] == "0train").to_numpy()
        yield f"simulated S{s}", X[keep], y[keep], args.sim_grid
    shared = Path(args.shared_data)
    if not args.quick and (shared / "MANIFEST.md").is_file():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from acm_speed import load_physionet
        X, y = load_physionet(shared)
        yield "PhysionetMI S1 (real)", X, y, args.real_grid


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--mean-tol", type=float, default=1e-5, help="tolerance of the approximate mode")
    ap.add_argument("--subjects", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    ap.add_argument("--shared-data", default=os.environ.get("NEUROSIG_SHARED_DATA",
                                                            str(ROOT.parent / "shared" / "data")))
    args = ap.parse_args(argv)
    C, K = [0.5, 1, 1.5], ["rbf", "linear"]
    args.sim_grid = ({"order": [1, 2], "lag": [1, 4], "C": C, "kernel": K} if args.quick else
                     {"order": [1, 2, 3, 4, 5, 6], "lag": [1, 4, 8], "C": C, "kernel": K})
    args.real_grid = {"order": [1, 2, 3, 4, 5], "lag": [2], "C": C, "kernel": K}
    from sklearn.model_selection import StratifiedKFold

    from neurosig.riemann.fast_grid import fast_grid_search
    cv = StratifiedKFold(3, shuffle=True, random_state=42)
    rows = []
    for name, X, y, grid in _units(args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            ex = fast_grid_search(X, y, grid, cv=cv)
            t_ex = time.perf_counter() - t0
            t0 = time.perf_counter()
            ap_ = fast_grid_search(X, y, grid, cv=cv, mean_tol=args.mean_tol)
            t_ap = time.perf_counter() - t0
        same = ex.best_params == ap_.best_params
        both = ~np.isnan(ex.split_scores) & ~np.isnan(ap_.split_scores)
        d = float(np.max(np.abs(ex.split_scores[both] - ap_.split_scores[both]))) if both.any() else 0.0
        nan_same = bool(np.array_equal(np.isnan(ex.split_scores), np.isnan(ap_.split_scores)))
        db = abs(ex.best_score - ap_.best_score)
        rows.append((name, same, d, db, t_ex / t_ap, nan_same))
        print(f"{name}: X {X.shape}, {len(ex.params)} candidates; exact {ex.best_params} ({ex.best_score:.4f}); "
              f"mean_tol={args.mean_tol:g} {ap_.best_params} ({ap_.best_score:.4f}); same choice {same}; "
              f"same NaNs {nan_same}; max |d fold score| {d:.2e}; |d best| {db:.4f}; "
              f"exact {t_ex:.1f} s / approximate {t_ap:.1f} s = {t_ex / t_ap:.2f}x", flush=True)
    n_same = sum(r[1] for r in rows)
    print(f"approximate fast grid (mean_tol={args.mean_tol:g}) vs exact: same choice in {n_same} of {len(rows)} "
          f"subjects, max |d fold score| {max(r[2] for r in rows):.2e}, max |d best inner score| "
          f"{max(r[3] for r in rows):.4f} (target <= 0.005), speed-up over the exact grid "
          f"{min(r[4] for r in rows):.2f}-{max(r[4] for r in rows):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
