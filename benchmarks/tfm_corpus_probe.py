"""Does the tokenizer need a corpus? Tokens of a tokenizer learned on 48 windows of the subject
itself vs one learned, without labels, on a corpus of other subjects.

On the simulated motor-imagery dataset (left vs right hand), for every evaluated subject:
runs 1-2 of session 0train (48 windows) are the subject's training windows, runs 3-8
(144 windows) the test windows. Two tokenizers with the same settings:

* ``own``:    learned on the subject's 48 training windows (the per-fit tokenizer of
  ``benchmarks/tfm_eval.py`` without ``--tokenizer-corpus``),
* ``corpus``: learned once on the unlabelled windows of ``--corpus`` subjects (never an
  evaluated one), as the published tokenizer is learned on a large corpus.

For each: a linear probe (``tfm_probe.probe_auroc``: standardise, L2 logistic regression,
C by inner CV; fitted on the 48 training windows, AUROC on the 144 test windows) on the
encoder output averaged over patches and on the per-channel token counts, next to the same
probe on the per-channel log power in 4-40 Hz (the tokenizer-free reference), and the
per-(channel, code) token-class mutual information on the test windows against
``--n-shuffles`` label shuffles (permutation p).

    PYTHONPATH=$PWD python benchmarks/tfm_corpus_probe.py                  # subjects 6-10, ~5 min
    PYTHONPATH=$PWD python benchmarks/tfm_corpus_probe.py --quick          # seconds
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def probe_tokenizer(est, X_tr, y_tr, X_te, y_te, n_shuffles: int, inner_cv: bool = True,
                    fmin: float = 4.0, fmax: float = 40.0) -> dict:
    """Probe AUROC of the tokenizer-free log power (fmin..fmax Hz), the encoder output and the per-channel
    token counts (features of ``tfm_probe.stage_features``), token-class MI (per channel) and its permutation p."""
    from tfm_probe import probe_auroc, stage_features

    from neurosig.tokenizers.analysis import token_mutual_information
    freqs = np.fft.rfftfreq(est.n_fft, 1 / est.model_sfreq)
    fmask = (freqs >= fmin) & (freqs <= fmax)
    f_tr, f_te = stage_features(est, X_tr, fmask, est.n_codes), stage_features(est, X_te, fmask, est.n_codes)
    auc = {key: probe_auroc(f_tr[stage].reshape(len(X_tr), -1), y_tr, f_te[stage].reshape(len(X_te), -1), y_te,
                            inner_cv=inner_cv)
           for key, stage in (("log-power", "log-power"), ("encoder", "encoder"), ("counts", "counts/ch"))}
    mi = token_mutual_information(f_te["_ids"], y_te, est.n_codes, n_shuffles=n_shuffles, seed=0, per_channel=True)
    return {**auc, "mi": float(mi["mi"]), "shuffled": float(np.mean(mi["shuffled"])), "p": float(mi["p_value"])}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny tokenizer, 1 corpus subject, 1 evaluated (seconds)")
    ap.add_argument("--corpus", type=int, nargs="+", default=None, help="default 1-5 (--quick: 1)")
    ap.add_argument("--corpus-runs", type=int, default=8)
    ap.add_argument("--subjects", type=int, nargs="+", default=None, help="default 6-10 (--quick: 6)")
    ap.add_argument("--n-codes", type=int, default=64)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--scale", default="corpus", choices=["corpus", "p95", "none"])
    ap.add_argument("--codebook", default="cosine", choices=["cosine", "euclidean"])
    ap.add_argument("--own-epochs", type=int, default=5, help="epochs of the tokenizer on the 48 own windows")
    ap.add_argument("--corpus-epochs", type=int, default=20)
    ap.add_argument("--n-shuffles", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch
    from tfm_eval import load_simulated

    from neurosig.tokenizers import TFMTokenizerEstimator
    warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")
    torch.set_num_threads(args.threads)
    if args.quick:
        args.corpus, args.subjects = args.corpus or [1], args.subjects or [6]
        args.corpus_runs = 2
        args.n_codes, args.dim, args.own_epochs, args.corpus_epochs, args.n_shuffles = 16, 8, 1, 1, 20
    args.corpus, args.subjects = args.corpus or [1, 2, 3, 4, 5], args.subjects or [6, 7, 8, 9, 10]
    if set(args.corpus) & set(args.subjects):
        raise SystemExit(f"--corpus {args.corpus} overlaps --subjects {args.subjects}")
    classes = ["left_hand", "right_hand"]
    kw = dict(n_codes=args.n_codes, dim=args.dim, scale=args.scale, codebook=args.codebook, random_state=0)
    t0 = time.perf_counter()
    Xc, _, _, sfreq = load_simulated(args.corpus, ["0train"], classes, args.corpus_runs)
    corpus = TFMTokenizerEstimator(sfreq=sfreq, max_epochs=args.corpus_epochs, batch_size=32, **kw).fit(Xc)
    print(f"corpus tokenizer: subjects {args.corpus}, {len(Xc)} windows {Xc.shape[1:]}, {args.corpus_epochs} epochs, "
          f"{args.n_codes} codes x {args.dim} (scale {args.scale}, {args.codebook}): {corpus.usage_['n_used']} codes "
          f"used, perplexity {corpus.usage_['perplexity']:.1f} ({time.perf_counter() - t0:.0f} s)")
    print("| subject | tokenizer | log-power probe AUROC (no tokenizer) | encoder probe AUROC | token counts probe AUROC "
          "| MI (nats) | shuffled | p |")
    print("|---|---|---|---|---|---|---|---|")
    res = {}
    for subject in args.subjects:
        X, y, meta, _ = load_simulated([subject], ["0train"], classes, 8)
        runs = sorted(meta["run"].unique(), key=int)
        tr = meta["run"].isin(runs[:2]).to_numpy()
        yb = (y == classes[1]).astype(int)
        own = TFMTokenizerEstimator(sfreq=sfreq, max_epochs=args.own_epochs, batch_size=8, **kw).fit(X[tr])
        for name, est in (("own 48 windows", own), ("corpus", corpus)):
            r = probe_tokenizer(est, X[tr], yb[tr], X[~tr], yb[~tr], args.n_shuffles, inner_cv=not args.quick)
            res[(subject, name)] = r
            print(f"| {subject} | {name} | {r['log-power']:.3f} | {r['encoder']:.3f} | {r['counts']:.3f} | {r['mi']:.4f} | "
                  f"{r['shuffled']:.4f} | {r['p']:.3f} |", flush=True)
    for name in ("own 48 windows", "corpus"):
        rs = [res[(s, name)] for s in args.subjects]
        print(f"{name}: token counts probe AUROC mean {np.mean([r['counts'] for r in rs]):.3f}, MI p <= 0.01 on "
              f"{sum(r['p'] <= 0.01 for r in rs)} of {len(rs)} subjects")
    return res


if __name__ == "__main__":
    main()
