"""TFM tokens on real EEG: rest vs mental arithmetic (PhysioNet eegmat), leave one subject out.

Compares, under the same split:

* TFM tokenizer + TokenTransformer with masked-token pretraining (the 3-stage recipe),
* the same without the pretraining stage,
* the same transformer on raw STFT patches (no quantisation),
* TS+SVM (OAS covariances, tangent space, linear SVM),

with balanced accuracy, Cohen's kappa, weighted F1, AUROC and AUPR ("arithmetic" is
the positive class), plus the tokenizer's codebook usage and the token analysis
(token-class MI on the held-out subject against a shuffled-label control).

    python examples/tfm_eegmat.py --quick          # seconds: 2 subjects, tiny models
    python examples/tfm_eegmat.py --threads 1      # the full evaluation: 3 subjects, "reduced" preset

The pipelines, metrics and loop are :mod:`neurosig.evaluation.token_eval`, shared with
``benchmarks/tfm_eval.py`` (simulated motor imagery).

Data: ``../shared/data/eegmat`` (or ``NEUROSIG_SHARED_DATA``); 19 EEG channels,
500 Hz -> 200 Hz, 10 s windows every 5 s. Only 3 subjects are staged: the
confidence intervals are wide and honest, not a benchmark.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def data_dir() -> Path:
    env = os.environ.get("NEUROSIG_SHARED_DATA")
    return Path(env) if env else HERE.parent.parent / "shared" / "data"


def load_subject(path: Path, subject: int, win_s: float = 10.0, step_s: float = 5.0):
    """Windows (n, 19, win_s*200) at 200 Hz and labels (0 rest, 1 arithmetic) of one subject."""
    import mne
    Xs, ys = [], []
    for cond, label in ((1, 0), (2, 1)):
        raw = mne.io.read_raw_edf(path / "eegmat" / f"Subject{subject:02d}_{cond}.edf", preload=True,
                                  verbose="error")
        raw.pick([c for c in raw.ch_names if c.startswith("EEG") and "A2-A1" not in c])
        raw.filter(0.5, 75.0, verbose="error")
        raw.resample(200.0, verbose="error")
        x = raw.get_data().astype(np.float32)
        n, step = int(win_s * 200), int(step_s * 200)
        starts = range(0, x.shape[1] - n + 1, step)
        Xs.append(np.stack([x[:, s:s + n] for s in starts]))
        ys.append(np.full(len(starts), label))
    return np.concatenate(Xs), np.concatenate(ys)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 subjects, one fold, tiny models (seconds)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--out", default=None, help="JSON file of the per-fold rows (a rerun resumes from it)")
    args = ap.parse_args(argv)
    import torch

    from neurosig.evaluation.token_eval import (
        Split,
        evaluate_pipelines,
        markdown_table,
        summarize,
        token_pipelines,
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    path = data_dir()
    if not (path / "eegmat").is_dir():
        raise SystemExit(f"eegmat data not found under {path} (set NEUROSIG_SHARED_DATA)")
    subjects = [0, 1] if args.quick else [0, 1, 2]
    # non-overlapping 10 s windows (overlap would double the compute of the deep pipelines)
    data = {s: load_subject(path, s, step_s=10.0) for s in subjects}
    if args.quick:  # a few windows per class
        data = {s: (np.concatenate([X[y == 0][:4], X[y == 1][:4]]), np.repeat([0, 1], 4))
                for s, (X, y) in data.items()}
    for s, (X, y) in data.items():
        print(f"subject {s}: {len(y)} windows ({(y == 0).sum()} rest, {(y == 1).sum()} arithmetic), shape {X.shape[1:]}")
    X = np.concatenate([data[s][0] for s in subjects])
    y = np.concatenate([data[s][1] for s in subjects])
    subj = np.concatenate([np.full(len(data[s][1]), s) for s in subjects])
    folds = subjects[-1:] if args.quick else subjects
    splits = [Split(f"s{t}", f"s{t}", np.flatnonzero(subj != t), np.flatnonzero(subj == t)) for t in folds]
    # windows are already at 200 Hz (sfreq=None: no resampling). The full run uses the
    # "reduced" preset (64 codes x 16 dims, corpus input scaling, Euclidean codebook, channel
    # pooling) with a short schedule that fits a shared 2-core machine: 3 tokenizer epochs,
    # 5 pretraining epochs, <= 12 fine-tuning epochs.
    if args.quick:
        pipes = token_pipelines(None, preset="quick")
    else:
        pipes = token_pipelines(None, preset="reduced", tokenizer_max_epochs=3, pretrain_max_epochs=5, max_epochs=12,
                                patience=4, verbose=True)  # epoch bars of the three stages
    context = {"dataset": "eegmat", "subjects": subjects, "quick": args.quick}
    print(f"fitting {len(pipes)} pipelines on {len(splits)} held-out subject(s); one line per fit ...", flush=True)
    rows = evaluate_pipelines(X, y, splits, pipes, out=args.out, context=context)
    summary = summarize(rows, pooled_bootstrap=True)
    print(markdown_table(summary))
    results = {}
    for _, r in summary.iterrows():
        mine = [row for row in rows if row["pipeline"] == r["pipeline"]]
        res = {"pooled": r["pooled"], "ci95_bootstrap": r["pooled_ci"],
               "per_fold": [{k: row[k] for k in ("bal_acc", "kappa", "f1_w", "auroc", "aupr")} for row in mine],
               "seconds": r["seconds"]}
        if "codebook_train" in mine[0]:
            res["codebook_usage"] = [row["codebook_train"] for row in mine]
            res["token_mi"] = [row["token_mi"] for row in mine]
            res["token_mi_ch"] = [row["token_mi_ch"] for row in mine]
        results[r["pipeline"]] = res
        print(f"{r['pipeline']:26s} pooled " + " ".join(f"{k} {v:.3f}" for k, v in r["pooled"].items())
              + f" | {r['seconds']:.0f}s")
        if "codebook_usage" in res:
            print(f"{'':26s} codebook usage per fold: "
                  + ", ".join(f"{u['n_used']} used ({100 * u['share_used']:.0f}%), perplexity {u['perplexity']:.0f}"
                              for u in res["codebook_usage"]))
    return results


if __name__ == "__main__":
    import logging

    logging.basicConfig(format="%(message)s")
    logging.getLogger("neurosig.evaluation.token_eval").setLevel(logging.INFO)  # the line per fit
    main()
