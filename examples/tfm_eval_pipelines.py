"""Compare the TFM token pipelines with TS+SVM on your own splits (neurosig.evaluation.token_eval).

Run:  python examples/tfm_eval_pipelines.py

One simulated subject (left vs right hand, one run of 24 trials, 12 of them left or right), 2-fold CV, tiny
models (``preset="quick"``): prints the per-fold metrics, the mean with a 95 %
t-interval over units, and the codebook usage of the tokenizer. The full evaluation is
``benchmarks/tfm_eval.py``.
"""
from __future__ import annotations

import numpy as np


def main(argv=None):
    from moabb.paradigms import LeftRightImagery
    from sklearn.model_selection import StratifiedKFold

    from neurosig.datasets import SimulatedMotorImagery
    from neurosig.evaluation.token_eval import (
        Split,
        evaluate_pipelines,
        markdown_table,
        summarize,
        token_pipelines,
    )

    ds = SimulatedMotorImagery(n_subjects=2, n_runs=1, n_trials_per_run=24, sessions=["0train"])
    X, y, _ = LeftRightImagery().get_data(ds, subjects=[1])          # (12, 22, 1001) at 250 Hz
    folds = StratifiedKFold(2, shuffle=True, random_state=0).split(X, y)
    splits = [Split(f"fold{k}", "s1", tr, te) for k, (tr, te) in enumerate(folds)]
    pipes = token_pipelines(ds.sfreq, preset="quick")                # 4 pipelines, tiny models
    pipes = {k: pipes[k] for k in ("TS+SVM", "TFM+TT (pretrained)")}
    rows = evaluate_pipelines(X, y, splits, pipes, verbose=False)
    for r in rows:
        print(f"{r['pipeline']:20s} {r['split']}: AUROC {r['auroc']:.2f}, balanced accuracy {r['bal_acc']:.2f}"
              + (f", codes used {r['codebook_train']['n_used']}" if "codebook_train" in r else ""))
    summary = summarize(rows)   # one unit here, so no interval
    print(markdown_table(summary))
    return summary


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
