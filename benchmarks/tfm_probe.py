"""Where do the TFM tokens lose the class? A linear probe at every stage of the tokenizer.

On one simulated motor-imagery subject (left vs right hand; by default subject 6, which
the evaluation in ``benchmarks/tfm_eval.py`` does not use, so settings chosen here are
not chosen on the test folds), with stratified K-fold splits, for each tokenizer
configuration and fold:

1. fit a TFM tokenizer on the training windows only;
2. build per-window features at each stage, averaged over the patches of a channel:

   * ``log-power``   log of the STFT power of the unscaled windows (no tokenizer),
   * ``spectra``     the tokenizer's input ``log1p(|STFT|)`` after its scaling,
   * ``encoder``     encoder output before quantisation (n_channels x dim),
   * ``quantised``   code vectors of the tokens (n_channels x dim),
   * ``counts/ch``   token counts per channel (n_channels x n_codes, share of patches),
   * ``counts``      token counts pooled over channels (n_codes);

   (frequency features use the bins ``--fmin``..``--fmax`` Hz);
3. fit the same linear probe (standardise, L2 logistic regression with C chosen by
   an inner 3-fold CV on the training windows) and score AUROC on the test windows;
4. on the test windows' tokens, the token-class mutual information against a
   permutation control (``--n-shuffles`` label shuffles), with the tokens of all channels
   pooled and per (channel, code).

Every stage is also probed on the channels of ``--channels`` only (C3 and C4 sit over
the simulated hand areas). Prints one table per configuration (AUROC mean over folds)
and the MI lines; the last line compares the quantised-token probe of the first and
the last configuration. ``--quick``: 2 folds, tiny tokenizer, seconds.

Example::

    PYTHONPATH=$PWD nice -n 5 python benchmarks/tfm_probe.py --configs published corpus-euclid
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: tokenizer settings compared (TFMTokenizerEstimator parameters)
CONFIGS = {
    "published": dict(scale="p95", codebook="cosine"),
    "p95-euclid": dict(scale="p95", codebook="euclidean"),
    "corpus-cosine": dict(scale="corpus", codebook="cosine"),
    "corpus-euclid": dict(scale="corpus", codebook="euclidean"),
}
STAGES = ("log-power", "spectra", "encoder", "quantised", "counts/ch", "counts")


def probe_auroc(F_tr, y_tr, F_te, y_te, seed: int = 0, inner_cv: bool = True) -> float:
    """AUROC on the test windows of a standardised L2 logistic regression (C by inner 3-fold CV).

    ``inner_cv=False`` (``--quick``): C = 1, no inner CV. NaN when no feature varies over
    the training windows.
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    keep = F_tr.std(0) > 0
    if not keep.any():  # e.g. every training window has the same tokens on these channels
        return float("nan")
    lr = LogisticRegressionCV(Cs=np.logspace(-4, 2, 7), cv=3, max_iter=3000, scoring="roc_auc") if inner_cv \
        else LogisticRegression(C=1.0, max_iter=3000)
    clf = make_pipeline(StandardScaler(), lr)
    clf.fit(F_tr[:, keep], y_tr)
    return float(roc_auc_score(y_te, clf.decision_function(F_te[:, keep])))


def stage_features(est, X, fmask, n_codes: int) -> dict:
    """Per-window features of every stage, each (n_windows, n_channels, n_features)."""
    import torch

    from neurosig.preprocessing.stft import stft_magnitude
    from neurosig.tokenizers.analysis import token_counts
    Xr = est._load_batch(X, np.arange(len(X)))                         # resampled to 200 Hz
    mag = stft_magnitude(Xr.reshape(-1, Xr.shape[-1]), est.n_fft, est.hop)  # (n*C, F, P)
    n, c = X.shape[:2]
    logpow = torch.log(mag.pow(2).mean(-1) + 1e-30).reshape(n, c, -1).numpy()
    spec = est.spectra(X).mean(2)                                      # (n, C, F)
    mod = est.tokenizer_
    with torch.no_grad():
        z = mod.encode(Xr)                                             # (n, C, P, dim)
        ids = mod.vq.codes(z)
        q = mod.embed(ids)
    ids = ids.numpy()
    per_ch = (token_counts(ids, n_codes, per_channel=True) / ids.shape[2]).reshape(n, c, n_codes)
    return {"log-power": logpow[:, :, fmask], "spectra": spec[:, :, fmask], "encoder": z.mean(2).numpy(),
            "quantised": q.mean(2).numpy(), "counts/ch": per_ch,
            "counts": token_counts(ids, n_codes)[:, None, :] / ids[0].size, "_ids": ids}


def run(X, y, sfreq, channels, ch_idx, configs, n_folds, tok_kw, fmin, fmax, n_shuffles, seed=0, log=print,
        inner_cv=True):
    from sklearn.model_selection import StratifiedKFold

    from neurosig.tokenizers import TFMTokenizerEstimator
    from neurosig.tokenizers.analysis import token_mutual_information
    freqs = np.fft.rfftfreq(tok_kw["n_fft"], 1 / 200.0)
    fmask = (freqs >= fmin) & (freqs <= fmax)
    yb = (y == np.unique(y)[1]).astype(int)
    folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(X, yb))
    results = {}
    for name in configs:
        auc = {(s, sub): [] for s in STAGES for sub in ("all", "sel")}
        mi = {"pooled": [], "per_channel": [], "per_channel_sel": []}
        usage = []
        t0 = time.perf_counter()
        for tr, te in folds:
            est = TFMTokenizerEstimator(sfreq=sfreq, random_state=seed, **tok_kw, **CONFIGS[name]).fit(X[tr])
            usage.append(est.usage_)
            f_tr, f_te = stage_features(est, X[tr], fmask, est.n_codes), stage_features(est, X[te], fmask, est.n_codes)
            for s in STAGES:
                for sub, idx in (("all", slice(None)), ("sel", ch_idx)):
                    if s == "counts" and sub == "sel":
                        continue
                    a, b = f_tr[s][:, idx].reshape(len(tr), -1), f_te[s][:, idx].reshape(len(te), -1)
                    auc[(s, sub)].append(probe_auroc(a, yb[tr], b, yb[te], seed, inner_cv))
            ids = f_te["_ids"]
            for key, tok, pc in (("pooled", ids, False), ("per_channel", ids, True),
                                 ("per_channel_sel", ids[:, ch_idx], True)):
                mi[key].append(token_mutual_information(tok, yb[te], est.n_codes, n_shuffles=n_shuffles,
                                                        seed=seed, per_channel=pc))
        log(f"\n## {name} {CONFIGS[name]} ({time.perf_counter() - t0:.0f} s, {len(folds)} folds)")
        log(f"codebook usage on training windows: share used {np.mean([u['share_used'] for u in usage]):.1%}, "
            f"perplexity {np.mean([u['perplexity'] for u in usage]):.1f} of {tok_kw['n_codes']} codes")
        log(f"| stage | AUROC all {len(ch_idx) and X.shape[1]} channels | AUROC {'+'.join(channels)} |")
        log("|---|---|---|")
        for s in STAGES:
            sel = f"{np.nanmean(auc[(s, 'sel')]):.3f}" if auc[(s, "sel")] else ""
            log(f"| {s} | {np.nanmean(auc[(s, 'all')]):.3f} | {sel} |")
        for key, vals in mi.items():
            log(f"token-class MI on test windows, {key}: observed {np.mean([v['mi'] for v in vals]):.4f} nats, "
                f"shuffled mean {np.mean([v['shuffled'].mean() for v in vals]):.4f}, 95th pct "
                f"{np.mean([np.percentile(v['shuffled'], 95) for v in vals]):.4f}; permutation p per fold "
                + " ".join(f"{v['p_value']:.3f}" for v in vals))
        results[name] = {"auroc": {f"{s}|{sub}": float(np.nanmean(v)) for (s, sub), v in auc.items() if v},
                         "mi": {k: [float(v["mi"]) for v in vals] for k, vals in mi.items()},
                         "p": {k: [float(v["p_value"]) for v in vals] for k, vals in mi.items()},
                         "usage": float(np.mean([u["share_used"] for u in usage]))}
    return results


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="2 folds, 1 run, tiny tokenizer, probe without inner CV (seconds)")
    ap.add_argument("--subject", type=int, default=6, help="pilot subject (the evaluation uses 1-4)")
    ap.add_argument("--session", default="0train")
    ap.add_argument("--n-runs", type=int, default=3)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--n-codes", type=int, default=512)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--channels", nargs="+", default=["C3", "C4"])
    ap.add_argument("--fmin", type=float, default=4.0)
    ap.add_argument("--fmax", type=float, default=40.0)
    ap.add_argument("--n-shuffles", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import warnings

    import torch

    from neurosig.datasets.simulated import EEG_CHANNELS
    warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")
    from tfm_eval import load_simulated
    torch.set_num_threads(args.threads)
    if args.quick:
        args.n_runs, args.folds, args.n_codes, args.dim, args.epochs, args.n_shuffles = 1, 2, 32, 16, 1, 20
    X, y, _, sfreq = load_simulated([args.subject], [args.session], ["left_hand", "right_hand"], args.n_runs)
    ch_idx = [EEG_CHANNELS.index(c) for c in args.channels]
    print(f"subject {args.subject} session {args.session}: X {X.shape} at {sfreq} Hz, classes "
          f"{dict(zip(*np.unique(y, return_counts=True)))}")
    tok_kw = dict(n_codes=args.n_codes, dim=args.dim, n_fft=200, hop=100, max_epochs=args.epochs,
                  batch_size=args.batch_size)
    res = run(X, y, sfreq, args.channels, ch_idx, args.configs, args.folds, tok_kw, args.fmin, args.fmax,
              args.n_shuffles, inner_cv=not args.quick)
    first, last = args.configs[0], args.configs[-1]
    print(f"quantised-token probe AUROC (all channels): {first} {res[first]['auroc']['quantised|all']:.3f} -> "
          f"{last} {res[last]['auroc']['quantised|all']:.3f}")
    return res


if __name__ == "__main__":
    main()
