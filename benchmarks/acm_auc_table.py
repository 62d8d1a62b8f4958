"""Within-session ROC-AUC: ACM (fast grid, Takens, fixed) vs TS+SVM vs CSP+LDA.

Same outer split for every pipeline (5-fold shuffled StratifiedKFold, seed 42, as
MOABB's WithinSessionEvaluation); the ACM grid uses its own 3-fold inner split on the
training part only.  Data as in ``acm_speed.py``: the real PhysionetMI subject 1 and
the script's synthetic set (not the project's simulator, which was not merged).

    python benchmarks/acm_auc_table.py            # reduced ACM grid (orders/lags 1..3)
    python benchmarks/acm_auc_table.py --quick    # tiny ACM grid (orders/lags 1..2, C 1)

The last line says whether ACM (fast grid) beats TS+SVM on each dataset.  No timing here.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acm_speed import QUICK_GRID, REDUCED_GRID, ROOT, _synthetic, load_physionet  # noqa: E402


def pipelines(grid):
    from pyriemann.estimation import Covariances
    from pyriemann.spatialfilters import CSP
    from pyriemann.tangentspace import TangentSpace
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from neurosig.riemann import ACMClassifier
    return {
        "CSP+LDA": make_pipeline(Covariances("oas"), CSP(nfilter=6), LinearDiscriminantAnalysis()),
        "TS+SVM": make_pipeline(Covariances("oas"), TangentSpace(metric="riemann"), SVC(kernel="linear")),
        "ACM fixed (2,2)": ACMClassifier(order=2, lag=2, selection="fixed"),
        "ACM Takens": ACMClassifier(selection="takens"),
        "ACM fast grid": ACMClassifier(selection="grid", param_grid=grid),
    }


def main(argv=None) -> int:
    from sklearn.model_selection import StratifiedKFold, cross_validate
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--shared-data", default=os.environ.get("NEUROSIG_SHARED_DATA",
                                                            str(ROOT.parent / "shared" / "data")))
    args = ap.parse_args(argv)
    data = {}
    shared = Path(args.shared_data)
    if (shared / "MANIFEST.md").is_file():
        data["PhysionetMI S1 (real)"] = load_physionet(shared)
    data["synthetic (acm_speed.py)"] = _synthetic()
    grid = QUICK_GRID if args.quick else REDUCED_GRID
    cv = StratifiedKFold(5, shuffle=True, random_state=42)
    summary = {}
    print(f"within-session 5-fold ROC-AUC (mean +- s.e. over folds); ACM grid {grid}")
    for dname, (X, y) in data.items():
        print(f"\n{dname}: X {X.shape}")
        for pname, pipe in pipelines(grid).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = cross_validate(pipe, X, y, cv=cv, scoring="roc_auc", return_estimator=True)
            s = res["test_score"]
            extra = ""
            if pname.startswith("ACM") and pname != "ACM fixed (2,2)":
                extra = "  chosen (order, lag): " + ", ".join(f"({e.order_},{e.lag_})" for e in res["estimator"])
            print(f"  {pname:16s} {s.mean():.3f} +- {s.std(ddof=1) / np.sqrt(len(s)):.3f}{extra}", flush=True)
            summary[(dname, pname)] = s.mean()
    verdict = "; ".join(f"{d}: ACM grid {summary[(d, 'ACM fast grid')]:.3f} vs TS+SVM {summary[(d, 'TS+SVM')]:.3f} "
                        f"({'ACM wins' if summary[(d, 'ACM fast grid')] > summary[(d, 'TS+SVM')] else 'ACM does not win'})"
                        for d in data)
    print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
