"""``neurosig finetune CONFIG.yml``: fine-tune and/or linear-probe an encoder over several seeds.

The job file (see ``examples/configs/finetune_nano.yml``)::

    data: {path: labelled.npz, ch_names: [...], sfreq: 128}  # .npz with X (n, C, T) and y
    split: {test_size: 0.25, seed: 0}                        # stratified hold-out
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


def schema() -> dict:
    from neurosig.models.foundation import FoundationClassifier

    from ._jobfile import DATA_KEYS
    model_keys = set(FoundationClassifier().get_params()) - {"mode", "seed", "random_state", "ch_names", "sfreq",
                                                             "preprocessing_hash"}
    return {"data": (True, DATA_KEYS), "split": (False, {"test_size", "seed"}), "model": (False, model_keys),
            "modes": (False, None), "seeds": (False, None), "scoring": (False, None), "output": (True, None),
            "results_db": (False, None)}


def run(args) -> int:
    import json
    from pathlib import Path

    from sklearn.model_selection import train_test_split

    from neurosig._io import atomic_path
    from neurosig._validation import check_option
    from neurosig.models.foundation import MODES, FoundationClassifier, evaluate_over_seeds

    from ._jobfile import load_arrays, read_job

    job = read_job(args.config, schema(), "finetune")
    base = Path(job["_base"])
    modes = job.get("modes") or ["finetune"]
    if not isinstance(modes, list):
        modes = [modes]
    for m in modes:
        check_option("modes", m, MODES)
    seeds = job.get("seeds") or [0, 1, 2]
    if not isinstance(seeds, list) or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ValueError(f"Invalid value for the 'seeds' parameter: a list of non-negative integers, got {seeds!r}.")
    scoring = job.get("scoring", "balanced_accuracy")
    from sklearn.metrics import get_scorer_names
    check_option("scoring", scoring, sorted(get_scorer_names()))
    data = job["data"]
    X, y = load_arrays(data, str(base), need_y=True)
    split = job.get("split") or {}
    model = dict(job.get("model") or {})
    if model.get("checkpoint") is not None and not Path(model["checkpoint"]).is_absolute():
        model["checkpoint"] = str(base / model["checkpoint"])
    ests = {m: FoundationClassifier(**model, mode=m, ch_names=data.get("ch_names"), sfreq=data.get("sfreq"),
                                    preprocessing_hash=data.get("preprocessing_hash", "")) for m in modes}
    for est in ests.values():
        est._check_params()  # refuse bad settings before any training
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=split.get("test_size", 0.25), stratify=y,
                                          random_state=split.get("seed", 0))
    out = Path(job["output"])
    out = out if out.is_absolute() else base / out
    if args.dry_run:
        print(f"finetune: {args.config} is valid: {len(Xtr)} train / {len(Xte)} test windows {X.shape[1:]}, "
              f"modes {modes}, seeds {seeds}, output {out}")
        return 0
    results = {}
    store = None
    if job.get("results_db"):
        from neurosig.evaluation.results import ResultStore
        db = Path(job["results_db"])
        store = ResultStore(db if db.is_absolute() else base / db)
    for m, est in ests.items():
        summary = evaluate_over_seeds(est, Xtr, ytr, Xte, yte, seeds=seeds, scoring=scoring)
        results[m] = summary.to_dict()
        print(f"finetune: {m:>12}: {summary}")
        if store is not None:
            for seed, score in zip(summary.seeds, summary.scores):
                store.add({"kind": "foundation", "dataset": str(data["path"]), "pipeline": f"FoundationClassifier-{m}",
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
