"""SSVEP and P300 pipelines on one simulated subject, with scikit-learn's cross_val_score.

Loads the shipped YAML pipelines of ``pipelines/ssvep`` and ``pipelines/p300``,
gets each simulated subject's epochs through the MOABB paradigm the pipeline
lists (SSVEP, FilterBankSSVEP or P300), and prints one row per pipeline: the
5-fold cross-validated score (accuracy for SSVEP, ROC AUC for P300, as MOABB
scores them) and chance level.

Run:  PYTHONPATH=$PWD python examples/zoo_ssvep_p300.py [--subject 4]
"""
from __future__ import annotations

import argparse
import logging
import warnings

import numpy as np


def run(subject: int = 4, n_splits: int = 5, seed: int = 42) -> list[dict]:
    """Score every SSVEP / P300 pipeline on one simulated subject; returns one dict per pipeline."""
    from moabb.paradigms import P300, SSVEP, FilterBankSSVEP
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from neurosig._resources import resource_dir
    from neurosig.datasets import SimulatedP300, SimulatedSSVEP
    from neurosig.pipelines import fill_sfreq, load_pipelines

    logging.getLogger("moabb").setLevel(logging.ERROR)
    ssvep = SimulatedSSVEP(n_subjects=max(4, subject), seed=seed)
    p300 = SimulatedP300(n_subjects=max(4, subject), seed=seed)
    paradigms = {"SSVEP": (SSVEP(), ssvep), "FilterBankSSVEP": (FilterBankSSVEP(), ssvep),
                 "P300": (P300(), p300)}
    specs = load_pipelines([resource_dir("pipelines") / "ssvep", resource_dir("pipelines") / "p300"])
    rows, cache = [], {}
    for spec in specs:
        name = spec.paradigms[0]
        paradigm, dataset = paradigms[name]
        if name not in cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                X, y, meta = paradigm.get_data(dataset, subjects=[subject])
            cache[name] = (X, y, float(dataset.sfreq))
        X, y, sfreq = cache[name]
        scoring = "roc_auc" if name == "P300" else "accuracy"
        chance = 0.5 if scoring == "roc_auc" else 1.0 / np.unique(y).size
        est = fill_sfreq(spec.build(), sfreq)
        cv = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        scores = cross_val_score(est, X, y, cv=cv, scoring=scoring)
        rows.append(dict(pipeline=spec.name, paradigm=name, n_trials=len(y), metric=scoring,
                         score=float(scores.mean()), std=float(scores.std()), chance=chance))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", type=int, default=4)
    args = parser.parse_args(argv)
    rows = run(args.subject)
    print(f"simulated subject {args.subject}, 5-fold cross-validation")
    print(f"{'pipeline':<20} {'paradigm':<16} {'trials':>6} {'metric':<9} {'score':>12} {'chance':>6}")
    for r in rows:
        print(f"{r['pipeline']:<20} {r['paradigm']:<16} {r['n_trials']:>6} {r['metric']:<9} "
              f"{r['score']:.3f}+-{r['std']:.3f} {r['chance']:>6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
