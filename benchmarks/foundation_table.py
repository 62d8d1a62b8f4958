"""Benchmark table: pretrained bi-Mamba (fine-tuned, linear probe) next to ACM and TS+SVM, same splits.

Everything runs through the evaluation harness (``neurosig.evaluation.bci.benchmark``,
the function behind ``neurosig benchmark``), so every row lands in the SQLite results
store next to the Riemannian pipelines, with the same folds:

1. Unlabelled pretraining windows: ``SimulatedMotorImagery(n_subjects=10)`` subjects
   7-10 through the MOABB ``MotorImagery`` paradigm (same 8-32 Hz band and 2-6 s window
   as ``LeftRightImagery``), labels thrown away. A subject's physiology depends only on
   (seed, subject), so subjects 1-6 of the benchmark dataset (the default 6-subject
   ``SimulatedMotorImagery``) are the same people as in any larger instance, and
   subjects 7-10 are other people: no test subject and no label is seen in pretraining.
2. Masked patch pretraining (60 % of patches, Smooth-L1) of a bi-Mamba encoder
   (``--size``; resumable checkpoints in ``OUT/pretrain``).
3. Pipeline YAMLs in ``OUT/pipelines`` (FoundationClassifier with ``checkpoint:``
   pointing at ``best.pt``; one file per seed and mode; with ``--scratch`` also the
   same architecture from random weights), plus the shipped ACM+TS+SVM (order 2, lag 2)
   and TS+SVM files, then one ``benchmark()`` call: ``--evaluation`` (default
   cross-session: train on one session, test on the other) on ``--subjects``,
   LeftRightImagery, ROC AUC.
4. Summary: per pipeline and seed the mean score over (subject, session); then mean
   and 95 % Student-t CI over seeds (deep pipelines) and the CI over subjects.

The same rows come from the CLI, e.g.
``neurosig benchmark --pipelines OUT/pipelines --evaluation cross-session --subjects 1 2 3 4
--results OUT/results.sqlite --out OUT/exports`` (already-finished rows are skipped).

    python benchmarks/foundation_table.py --quick          # about a minute
    python benchmarks/foundation_table.py                  # the table in the models report
Headline (last line): the fine-tuned pretrained model and its probe vs the best Riemannian pipeline.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RIEMANN = {"ACM+TS+SVM": ROOT / "pipelines" / "full" / "ACM_TS_SVM_fixed.yml",
           "TS+SVM": ROOT / "pipelines" / "default" / "ts_svm.yml"}


def pretraining_windows(subjects, n_subjects: int, seed: int = 42):
    """Unlabelled windows (n, 22, T) of other subjects, MotorImagery paradigm (8-32 Hz, 2-6 s)."""
    import numpy as np
    from moabb.paradigms import MotorImagery

    from neurosig.datasets import SimulatedMotorImagery

    ds = SimulatedMotorImagery(n_subjects=n_subjects, seed=seed)
    X, _, _ = MotorImagery(n_classes=4).get_data(ds, subjects=list(subjects))  # labels dropped
    keep = X.shape[2] - X.shape[2] % 16
    return np.ascontiguousarray(X[:, :, :keep], dtype=np.float32)


def write_pipelines(folder: Path, checkpoint: Path, size: str, seeds, fit_kw: dict, scratch: bool) -> dict:
    """One YAML per (variant, seed); returns {path: (variant, seed)}."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    variants = {"pretrained + fine-tune": dict(checkpoint=str(checkpoint), mode="finetune"),
                "pretrained + linear probe": dict(checkpoint=str(checkpoint), mode="linear_probe")}
    if scratch:
        variants["scratch (same model)"] = dict(mode="finetune", size=size)
    out = {}
    for variant, kw in variants.items():
        for seed in seeds:
            name = f"BiMamba-{size} {variant} (seed {seed})"
            params = {"encoder": "bimamba", "head": "linear", **kw, **fit_kw, "random_state": int(seed)}
            if kw["mode"] == "linear_probe":
                params.pop("encoder_lr", None)
            spec = {"name": name, "paradigms": ["LeftRightImagery", "MotorImagery"], "tags": ["foundation"],
                    "pipeline": [{"name": "FoundationClassifier", "from": "neurosig.models.foundation",
                                  "parameters": params}]}
            slug = variant.split(" (")[0].replace(" + ", "_").replace(" ", "_")
            path = folder / f"bimamba_{size}_{slug}_seed{seed}.yml"
            path.write_text(yaml.safe_dump(spec, sort_keys=False))
            out[str(path)] = (variant, int(seed))
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="1 subject, 1 pretraining subject, 2 seeds, few epochs (about a minute)")
    ap.add_argument("--out", default="foundation_table_runs", help="folder for checkpoints, YAMLs, results")
    ap.add_argument("--size", default="nano", help="bi-Mamba size preset (nano | tiny | ...)")
    ap.add_argument("--subjects", type=int, nargs="+", default=[1, 2, 3, 4], help="benchmark subjects (1-6)")
    ap.add_argument("--pretrain-subjects", type=int, nargs="+", default=[7, 8, 9, 10])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--evaluation", default="cross-session")
    ap.add_argument("--pretrain-epochs", type=int, default=15)
    ap.add_argument("--max-epochs", type=int, default=25)
    ap.add_argument("--scratch", action="store_true", help="also the same architecture from random weights")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.quick:
        args.subjects, args.pretrain_subjects, args.seeds = args.subjects[:1], args.pretrain_subjects[:1], args.seeds[:2]
        args.pretrain_epochs, args.max_epochs = 2, 3
    if set(args.subjects) & set(args.pretrain_subjects):
        raise ValueError(f"Invalid value for the 'pretrain_subjects' parameter: {sorted(args.pretrain_subjects)} "
                         f"overlaps the benchmark subjects {sorted(args.subjects)}; pretraining must not see "
                         "a test subject.")
    if max(args.subjects) > 6:
        raise ValueError(f"Invalid value for the 'subjects' parameter: the benchmark dataset "
                         f"(SimulatedMotorImagery) has subjects 1-6, but got {args.subjects}.")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import mne
    import numpy as np
    import torch

    from neurosig.evaluation.bci import benchmark
    from neurosig.models.femba import BiMambaEncoder
    from neurosig.models.foundation import summarize_seeds
    from neurosig.models.pretrain import PretrainConfig, pretrain

    mne.set_log_level("WARNING")
    torch.set_num_threads(args.threads)
    out = Path(args.out).resolve()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, numpy {np.__version__}, "
          f"{args.threads} thread(s)")

    # 1-2: pretraining on other subjects' unlabelled windows
    t0 = time.perf_counter()
    X = pretraining_windows(args.pretrain_subjects, n_subjects=max(args.pretrain_subjects))
    torch.manual_seed(0)
    enc = BiMambaEncoder(args.size, n_channels=X.shape[1], n_times=X.shape[2])
    n_par = sum(p.numel() for p in enc.parameters())
    cfg = PretrainConfig(max_epochs=args.pretrain_epochs, batch_size=32, lr=3e-3, warmup_steps=10, patience=5,
                         val_fraction=0.1, random_state=0)
    res = pretrain(enc, X, cfg, checkpoint_dir=out / "pretrain", resume=True, verbose=False)
    hist = res.history
    t_pre = time.perf_counter() - t0
    print(f"pretraining: BiMamba-{args.size} ({n_par:,} parameters), {len(X)} unlabelled windows {X.shape[1:]} of "
          f"subjects {args.pretrain_subjects}, {len(hist)} epochs, val loss {hist[0]['val_loss']:.4f} -> "
          f"{res.best_loss:.4f} (best epoch {res.best_epoch}); {t_pre:.0f} s", flush=True)

    # 3: the benchmark, deep and Riemannian pipelines on the same folds
    fit_kw = dict(max_epochs=args.max_epochs, patience=8, lr=3e-3, encoder_lr=1e-3, batch_size=16,
                  val_fraction=0.2)
    deep = write_pipelines(out / "pipelines", out / "pretrain" / "best.pt", args.size, args.seeds, fit_kw,
                           args.scratch)
    for _name, path in RIEMANN.items():
        (out / "pipelines" / path.name).write_text(path.read_text())
    t0 = time.perf_counter()
    df = benchmark(datasets="SimulatedMotorImagery", pipelines=str(out / "pipelines"), evaluation=args.evaluation,
                   paradigm="LeftRightImagery", subjects=args.subjects, results=out / "results.sqlite",
                   out=out / "exports", seed=42, verbose=False, n_permutations=200, plots=False)
    t_bench = time.perf_counter() - t0
    if df.attrs.get("failures"):
        raise RuntimeError("benchmark tasks failed: " + "; ".join(df.attrs["failures"]))
    print(f"benchmark: {args.evaluation}, LeftRightImagery, subjects {args.subjects}, metric "
          f"{df['metric'].iloc[0]}; {df.attrs.get('n_computed', 0)} task(s) computed, "
          f"{df.attrs.get('n_skipped', 0)} from {out / 'results.sqlite'}; {t_bench:.0f} s")

    # 4: summary
    from scipy import stats

    by_name = {}
    for variant, seed in deep.values():
        by_name[f"BiMamba-{args.size} {variant} (seed {seed})"] = (variant, seed)
    rows = {}
    for pipe, g in df.groupby("pipeline"):
        variant, seed = by_name.get(pipe, (pipe, None))
        subj = g.groupby("subject")["score"].mean()  # sessions averaged per subject
        rows.setdefault(variant, {"seed_means": [], "seeds": [], "subject_means": []})
        rows[variant]["seed_means"].append(float(g["score"].mean()))
        rows[variant]["seeds"].append(seed)
        rows[variant]["subject_means"].append(subj.values)
        rows[variant]["time"] = rows[variant].get("time", 0.0) + float(g["time"].sum())
    metric = df["metric"].iloc[0]
    print(f"\n{'pipeline':<36} {'mean ' + metric:>12} {'95% CI over seeds':>20} {'95% CI over subjects':>22} "
          f"{'seeds':>6} {'fit+predict s':>14}")
    summary = {}
    for variant, r in rows.items():
        subj = np.mean(np.vstack(r["subject_means"]), axis=0)  # per subject, seeds averaged
        m = float(np.mean(r["seed_means"]))
        if r["seeds"][0] is not None and len(r["seeds"]) > 1:
            s = summarize_seeds(r["seed_means"], r["seeds"], metric)
            ci_seeds = f"[{s.ci_low:.3f}, {s.ci_high:.3f}]"
        else:
            ci_seeds = "deterministic" if r["seeds"][0] is None else "1 seed"
        half = (stats.t.ppf(0.975, len(subj) - 1) * subj.std(ddof=1) / np.sqrt(len(subj))
                if len(subj) > 1 else float("nan"))
        summary[variant] = {"mean": m, "seed_means": r["seed_means"], "subject_means": subj.tolist()}
        print(f"{variant:<36} {m:>12.3f} {ci_seeds:>20} {f'[{m - half:.3f}, {m + half:.3f}]':>22} "
              f"{len([x for x in r['seeds'] if x is not None]) or '-':>6} {r['time']:>14.1f}")
    best_r = max((k for k, r in rows.items() if r["seeds"][0] is None), key=lambda k: summary[k]["mean"])
    riem = summary[best_r]
    ft, pr = summary["pretrained + fine-tune"]["mean"], summary["pretrained + linear probe"]["mean"]
    print(f"foundation table: BiMamba-{args.size} pretrained + fine-tune {metric} {ft:.3f}, linear probe {pr:.3f} "
          f"vs {best_r} {riem['mean']:.3f} ({args.evaluation}, {len(args.subjects)} subjects, "
          f"{len(args.seeds)} seeds)")
    return summary


if __name__ == "__main__":
    main()
