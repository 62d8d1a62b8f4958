"""``neurosig finetune CONFIG.yml``: fine-tune and/or linear-probe an encoder over several seeds.

The job file (see ``examples/configs/finetune_nano.yml``)::

    data: {path: labelled.npz, ch_names: [...], sfreq: 128}  # .npz with X (n, C, T) and y
    split: {test_size: 0.25, random_state: 0}                # stratified hold-out
    model: {checkpoint: runs/pretrain-nano/best.pt, ...}     # FoundationClassifier parameters
    modes: [finetune, linear_probe]
    seeds: [0, 1, 2]
    scoring: balanced_accuracy
    output: runs/finetune.json                               # mean, CI, per-seed scores, settings
    results_db: runs/results.sqlite                          # optional: one row per seed

Each result carries the head type, learning rates, checkpoint and preprocessing hash.
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("finetune", help="fine-tune / linear-probe a (pretrained) encoder over seeds",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="YAML job file")
    p.add_argument("--dry-run", action="store_true", help="validate the job file and data, then stop")
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    from pathlib import Path

    from sklearn.model_selection import train_test_split

    from neurosig._io import atomic_path
    from neurosig._schema import fail
    from neurosig.models.foundation import FoundationClassifier, evaluate_over_seeds

    from ._jobfile import FinetuneFileSchema, check_model, check_split, load_arrays, read_job

    job, base = read_job(args.config, FinetuneFileSchema, "finetune")
    modes = job.modes if isinstance(job.modes, list) else [job.modes]
    from sklearn.metrics import get_scorer_names
    if job.scoring not in get_scorer_names():
        raise fail("finetune file", args.config, "scoring", "scikit-learn scorer names (e.g. 'balanced_accuracy', "
                   "'roc_auc', 'f1_macro')", job.scoring)
    model = check_model(job, args.config)
    split = check_split(job, args.config)
    data = job.data
    X, y = load_arrays(data, base, need_y=True)
    if model.get("checkpoint") is not None and not Path(model["checkpoint"]).is_absolute():
        model["checkpoint"] = str(base / model["checkpoint"])
    ests = {m: FoundationClassifier(**model, mode=m, ch_names=data.ch_names, sfreq=data.sfreq,
                                    preprocessing_hash=data.preprocessing_hash or "") for m in modes}
    for est in ests.values():
        est._check_params()  # refuse bad settings before any training
    seeds, scoring = job.seeds, job.scoring
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=split["test_size"], stratify=y,
                                          random_state=split["random_state"])
    out = Path(job.output)
    out = out if out.is_absolute() else base / out
    if args.dry_run:
        print(f"finetune: {args.config} is valid: {len(Xtr)} train / {len(Xte)} test windows {X.shape[1:]} "
              f"(opened and checked: finite, channel names match, labels), modes {modes}, seeds {seeds}, "
              f"output {out}")
        return 0
    results = {}
    store = None
    if job.results_db:
        from neurosig.evaluation.results import ResultStore
        db = Path(job.results_db)
        store = ResultStore(db if db.is_absolute() else base / db)
    for m, est in ests.items():
        summary = evaluate_over_seeds(est, Xtr, ytr, Xte, yte, seeds=seeds, scoring=scoring)
        results[m] = summary.to_dict()
        print(f"finetune: {m:>12}: {summary}")
        if store is not None:
            for seed, score in zip(summary.seeds, summary.scores):
                store.add({"kind": "foundation", "dataset": str(data.path), "pipeline": f"FoundationClassifier-{m}",
                           "pipeline_hash": summary.settings_hash, "evaluation": "holdout", "metric": scoring,
                           "score": score, "seed": int(seed), "samples": int(len(Xtr)),
                           "channels": int(X.shape[1]), "params": summary.settings,
                           "extra": {"mean": summary.mean, "ci_low": summary.ci_low, "ci_high": summary.ci_high}})
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(results, indent=1, default=str))
    if store is not None:
        store.close()
    print(f"finetune: results written to {out}")
    return 0
