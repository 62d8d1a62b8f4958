"""Difficulty check of the simulated dataset: within-session left vs right ROC-AUC per subject.

Run:  python examples/datasets_simulated_scores.py [--subjects 1 2 ...] [--runs 3] [--seed 42]

CSP+LDA and TS+SVM (pyRiemann tangent space + linear SVM), 5-fold stratified
cross-validation within each session, MOABB's LeftRightImagery (8-32 Hz,
[2, 6] s). This is the check used once to confirm that the physiology set from
published ranges gives scores clearly above chance and below perfect; nothing
in the simulator is fitted to these numbers.
"""
from __future__ import annotations

import argparse
import warnings

import numpy as np


def main(argv=None) -> dict:
    import mne
    from moabb.paradigms import LeftRightImagery
    from pyriemann.estimation import Covariances
    from pyriemann.spatialfilters import CSP
    from pyriemann.tangentspace import TangentSpace
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from neurosig.datasets import SimulatedMotorImagery

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs="+", type=int, default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--runs", type=int, default=3, help="runs of 48 trials per session")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    mne.set_log_level("ERROR")
    warnings.filterwarnings("ignore", category=FutureWarning)

    ds = SimulatedMotorImagery(n_subjects=max(args.subjects), n_runs=args.runs, seed=args.seed,
                               subjects=args.subjects)
    pipes = {
        "CSP+LDA": lambda: make_pipeline(Covariances("oas"), CSP(nfilter=6), LinearDiscriminantAnalysis()),
        "TS+SVM": lambda: make_pipeline(Covariances("oas"), TangentSpace(metric="riemann"),
                                        SVC(kernel="linear")),
    }
    paradigm = LeftRightImagery()
    scores = {}
    print(f"{'subject':>7} {'smr_q':>5} {'session':>8} " + " ".join(f"{p:>8}" for p in pipes))
    for s in args.subjects:
        X, y, meta = paradigm.get_data(ds, subjects=[s])
        q = ds.subject_parameters(s)["smr_quantile"]
        for sess in sorted(meta.session.unique()):
            m = (meta.session == sess).to_numpy()
            cv = StratifiedKFold(5, shuffle=True, random_state=42)
            row = {p: float(cross_val_score(f(), X[m], y[m], cv=cv, scoring="roc_auc").mean())
                   for p, f in pipes.items()}
            scores[(s, sess)] = row
            print(f"{s:>7} {q:>5.2f} {sess:>8} " + " ".join(f"{row[p]:>8.3f}" for p in pipes), flush=True)
    for p in pipes:
        v = np.array([r[p] for r in scores.values()])
        inside = np.mean((v >= 0.65) & (v <= 0.95))
        print(f"{p}: mean AUC {v.mean():.3f} (min {v.min():.3f}, max {v.max():.3f}); "
              f"{inside:.0%} of subject-sessions in [0.65, 0.95]")
    return scores


if __name__ == "__main__":
    main()
