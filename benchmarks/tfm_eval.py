"""TFM token pipelines vs TS+SVM on the simulated motor-imagery dataset.

Compares, on the same splits (``neurosig.evaluation.token_eval``, the code path
``examples/tfm_eegmat.py`` uses too):

* TFM tokenizer + TokenTransformer WITH the masked-token pretraining stage,
* the same WITHOUT that stage,
* the same transformer on raw STFT patches (no quantisation),
* TS+SVM (OAS covariances, tangent space, linear SVM),

within-session (5-fold CV inside each session of each subject) and cross-subject
(leave one subject out), with balanced accuracy, Cohen's kappa, weighted F1, AUROC,
AUPR (mean and 95 % t-interval over sessions / held-out subjects) and the codebook
usage (share of codes used, perplexity) of the trained tokenizer on the training and
on the test windows.

    python benchmarks/tfm_eval.py --quick            # < 1 minute, tiny models, 2 subjects
    python benchmarks/tfm_eval.py --out DIR          # the reduced evaluation of the report
    python benchmarks/tfm_eval.py --tokenizer-corpus 5 6 7 8 9 --out DIR

By default every token pipeline learns its tokenizer on the training windows of its fit.
``--tokenizer-corpus`` learns it once on the unlabelled windows of other subjects (never an
evaluated one; written to DIR and reused by a rerun) and hands the file to every token
pipeline (``TokenTransformerClassifier(tokenizer=...)``), as the published tokenizer is
learned on a corpus; the STFT control then uses its front end (the same input scaling).

Rows are written to ``DIR/<evaluation>.json`` after every (pipeline, split) cell, so
an interrupted run resumes where it stopped. This is an accuracy evaluation, not a
speed benchmark: the timings printed are wall-clock seconds on whatever machine runs it.
The last line compares the pretrained token model with TS+SVM (AUROC).
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def load_simulated(subjects, sessions, classes, n_runs: int, seed: int = 42):
    """Epochs of the simulated MI dataset through the MOABB paradigm (default 8-32 Hz band-pass, [2, 6] s).

    Returns X (n, 22, n_times) float32 at 250 Hz, y (n,), metadata (DataFrame with subject, session).
    """
    from moabb.paradigms import LeftRightImagery, MotorImagery

    from neurosig.datasets import SimulatedMotorImagery
    ds = SimulatedMotorImagery(n_subjects=max(6, max(subjects)), n_runs=n_runs, seed=seed, sessions=sessions)
    paradigm = LeftRightImagery() if sorted(classes) == ["left_hand", "right_hand"] else \
        MotorImagery(events=list(classes), n_classes=len(classes))
    X, y, meta = paradigm.get_data(ds, subjects=list(subjects))
    return X.astype(np.float32), np.asarray(y), meta.reset_index(drop=True), ds.sfreq


def make_splits(evaluation: str, y, meta, n_folds: int):
    from neurosig.evaluation.splitters import CrossSubjectSplit, WithinSessionSplit
    from neurosig.evaluation.token_eval import Split
    subj, sess = meta["subject"].to_numpy(), meta["session"].to_numpy()
    out = []
    if evaluation == "within-session":
        fold = {}
        for tr, te in WithinSessionSplit(n_folds=n_folds, random_state=42).split(y=y, groups=meta):
            unit = f"s{subj[te[0]]}/{sess[te[0]]}"
            fold[unit] = fold.get(unit, -1) + 1
            out.append(Split(f"{unit}/fold{fold[unit]}", unit, tr, te,
                             {"subject": int(subj[te[0]]), "session": str(sess[te[0]]), "fold": fold[unit]}))
        # fold-major (fold 0 of every session first): a run cut short covers every session
        out.sort(key=lambda s: s.info["fold"])
    else:
        for tr, te in CrossSubjectSplit().split(y=y, groups=meta):
            unit = f"s{subj[te[0]]}"
            out.append(Split(unit, unit, tr, te, {"subject": int(subj[te[0]])}))
    return out


def complete_rows(path: Path, context: dict, pipelines: list, split_names: list) -> list:
    """Rows of ``path`` for ``context`` restricted to the splits every pipeline finished."""
    import json
    if not path.is_file():
        raise SystemExit(f"--report-only: no result file {path}")
    key = json.dumps(context, sort_keys=True, default=str)
    rows = [r for r in json.loads(path.read_text()) if json.dumps(r["context"], sort_keys=True) == key
            and r["pipeline"] in pipelines]
    done = {sp for sp in split_names if {r["pipeline"] for r in rows if r["split"] == sp} == set(pipelines)}
    if not done:
        raise SystemExit(f"--report-only: no split of {path} was finished by every pipeline")
    return [r for r in rows if r["split"] in done]


def corpus_tokenizer(args, out: Path) -> tuple[Path, dict]:
    """Fit (or reuse) the tokenizer of ``--tokenizer-corpus``: unlabelled windows of other subjects.

    Codebook size and dims are the preset's; scale is the package default ("corpus").
    Written atomically to ``out``; a rerun with the same settings reuses the file.
    Returns the checkpoint path and the settings stored in every row's context.
    """
    import json

    from neurosig.evaluation.token_eval import PRESETS
    from neurosig.tokenizers import TFMTokenizerEstimator
    preset = PRESETS[args.preset]
    info = {"subjects": sorted(args.tokenizer_corpus), "sessions": args.sessions, "runs": args.corpus_runs,
            "epochs": args.corpus_epochs, "codebook": args.corpus_codebook,
            "n_codes": args.n_codes or preset["n_codes"], "dim": preset["tokenizer_dim"], "batch_size": 32, "seed": 0}
    digest = hashlib.sha1(json.dumps(info, sort_keys=True).encode()).hexdigest()[:8]
    tag = "-".join(map(str, info["subjects"])) + f"_{digest}"
    path = out / f"tokenizer-corpus-s{tag}.pt"
    if path.is_file():
        print(f"tokenizer corpus: reusing {path}")
        return path, info
    t0 = time.perf_counter()
    Xc, _, _, sfreq = load_simulated(info["subjects"], args.sessions, args.classes, args.corpus_runs)
    est = TFMTokenizerEstimator(sfreq=sfreq, n_codes=info["n_codes"], dim=info["dim"], codebook=info["codebook"],
                                max_epochs=info["epochs"], batch_size=info["batch_size"], random_state=0,
                                device=args.device)
    est.fit(Xc)
    est.save(path)
    print(f"tokenizer corpus: subjects {info['subjects']}, {len(Xc)} unlabelled windows, {info['epochs']} epochs, "
          f"{info['n_codes']} codes x {info['dim']} ({info['codebook']}): {est.usage_['n_used']} codes used, "
          f"perplexity {est.usage_['perplexity']:.1f} ({time.perf_counter() - t0:.0f} s) -> {path}")
    return path, info


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="< 1 minute: 2 subjects, 1 session of 1 run, 2 folds, tiny models")
    ap.add_argument("--evaluation", nargs="+", default=["within-session", "cross-subject"],
                    choices=["within-session", "cross-subject"])
    ap.add_argument("--within-subjects", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--loso-subjects", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--sessions", nargs="+", default=["0train"],
                    help="sessions used (within-session: one unit each; cross-subject: pooled per subject)")
    ap.add_argument("--classes", nargs="+", default=["left_hand", "right_hand"])
    ap.add_argument("--n-runs", type=int, default=3, help="runs per session of the simulator (48 trials each)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--preset", default="reduced", choices=["quick", "reduced", "paper"])
    ap.add_argument("--n-codes", type=int, default=None, help="override the preset's codebook size")
    ap.add_argument("--pipelines", nargs="+", default=None, help="subset of the pipeline names")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--device", default=None, help="cpu (default) or cuda")
    ap.add_argument("--out", default=None, help="folder of the result JSON files (default: a temp folder)")
    ap.add_argument("--tokenizer-corpus", type=int, nargs="+", default=None, metavar="SUBJECT",
                    help="learn the tokenizer ONCE on the unlabelled windows of these simulated subjects (disjoint "
                         "from the evaluated ones) and give it, frozen, to every token pipeline (the published "
                         "design: a tokenizer learned on a corpus); default: a tokenizer per fit, on its "
                         "training windows")
    ap.add_argument("--corpus-runs", type=int, default=8, help="runs per corpus subject (24 windows each)")
    ap.add_argument("--corpus-epochs", type=int, default=20)
    ap.add_argument("--corpus-codebook", default="cosine", choices=["cosine", "euclidean"])
    ap.add_argument("--report-only", action="store_true",
                    help="fit nothing: summarize the rows already in --out, keeping the splits that every "
                         "pipeline finished (for a run stopped early)")
    args = ap.parse_args(argv)

    import torch

    from neurosig.evaluation.token_eval import (
        PIPELINE_NAMES,
        evaluate_pipelines,
        markdown_table,
        summarize,
        token_pipelines,
    )
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("neurosig.evaluation.token_eval").setLevel(logging.INFO)
    if args.quick:
        args.within_subjects, args.loso_subjects, args.n_runs, args.folds = [1, 2], [1, 2], 1, 2
        args.preset = "quick"
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="neurosig_tfm_eval_"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
          f"torch {torch.__version__} ({args.threads} threads), numpy {np.__version__}")
    overrides = {} if args.n_codes is None else {"n_codes": args.n_codes}
    if args.tokenizer_corpus:
        evaluated = set(args.within_subjects if "within-session" in args.evaluation else []) | \
            set(args.loso_subjects if "cross-subject" in args.evaluation else [])
        if evaluated & set(args.tokenizer_corpus):
            raise SystemExit(f"--tokenizer-corpus {args.tokenizer_corpus} overlaps the evaluated subjects "
                             f"{sorted(evaluated)}: the tokenizer must not see the test windows")
        path, info = corpus_tokenizer(args, out)
        overrides.update(tokenizer=str(path))
        corpus_ctx = {"tokenizer_corpus": info}
    else:
        corpus_ctx = {}
    results = {}
    for evaluation in args.evaluation:
        subjects = args.within_subjects if evaluation == "within-session" else args.loso_subjects
        t0 = time.perf_counter()
        X, y, meta, sfreq = load_simulated(subjects, args.sessions, args.classes, args.n_runs)
        print(f"\n== {evaluation}: subjects {subjects}, sessions {args.sessions}, classes {args.classes}: "
              f"X {X.shape} at {sfreq:.0f} Hz (loaded in {time.perf_counter() - t0:.1f} s)")
        splits = make_splits(evaluation, y, meta, args.folds)
        pipes = token_pipelines(sfreq, preset=args.preset, device=args.device, **overrides)
        if args.pipelines:
            unknown = sorted(set(args.pipelines) - set(PIPELINE_NAMES))
            if unknown:
                raise SystemExit(f"unknown pipeline names {unknown}; allowed: {list(PIPELINE_NAMES)}")
            pipes = {k: v for k, v in pipes.items() if k in args.pipelines}
        context = {"dataset": "SimulatedMotorImagery", "seed": 42, "n_runs": args.n_runs, "sessions": args.sessions,
                   "classes": args.classes, "evaluation": evaluation, "preset": args.preset,
                   **{k: v for k, v in overrides.items() if k != "tokenizer"}, **corpus_ctx}
        if args.report_only:
            rows = complete_rows(out / f"{evaluation}.json", context, list(pipes), [s.name for s in splits])
            print(f"report only: {len({r['split'] for r in rows})} of {len(splits)} splits finished by every pipeline")
        else:
            rows = evaluate_pipelines(X, y, splits, pipes, out=out / f"{evaluation}.json", context=context)
        summary = summarize(rows)
        results[evaluation] = summary
        print(markdown_table(summary))
        for _, r in summary.iterrows():
            extra = ""
            if np.isfinite(r.get("token_mi", np.nan)):
                extra = f", token-class MI on test {r['token_mi']:.4f} nats (shuffled {r['token_mi_shuffled']:.4f})"
            if np.isfinite(r.get("token_mi_ch", np.nan)):
                extra += (f", per (channel, code) {r['token_mi_ch']:.4f} (shuffled {r['token_mi_ch_shuffled']:.4f}; "
                          f"{sum(p <= 0.05 for p in r['token_mi_ch_p'])} of {len(r['token_mi_ch_p'])} fits p <= 0.05)")
            print(f"  {r['pipeline']}: {r['n_splits']} fits, {r['seconds']:.0f} s{extra}")
        print(f"rows: {out / f'{evaluation}.json'}")
    parts = []
    for evaluation, s in results.items():
        a = s.set_index("pipeline")["auroc"]
        if "TFM+TT (pretrained)" in a and "TS+SVM" in a:
            parts.append(f"{evaluation} AUROC TFM+TT (pretrained) {a['TFM+TT (pretrained)']:.3f} "
                         f"vs TS+SVM {a['TS+SVM']:.3f}")
    print("tfm eval: " + ("; ".join(parts) if parts else "done (TS+SVM or the pretrained token model not run)"))
    return results


if __name__ == "__main__":
    main()
