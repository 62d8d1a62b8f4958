"""``neurosig benchmark``: run BCI pipelines on datasets, print a summary, write results.

With no options it runs the shipped default pipelines (CSP+LDA, TS+SVM, MDM) on the
embedded simulated motor-imagery dataset, within-session, left vs right hand.
"""
from __future__ import annotations

from ._common import add_parallel_arguments, add_renamed_option, parallel_kwargs


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "benchmark", help="benchmark BCI pipelines on datasets (MOABB-compatible scores)",
        description="Run pipelines x datasets x subjects; results go to a SQLite database "
                    "(resumable: rerunning skips finished rows), CSV/Parquet exports, "
                    "statistics and PNG plots go to --out.")
    p.add_argument("--datasets", nargs="+", default=None, metavar="NAME",
                   help="dataset names (MOABB names/aliases, SimulatedMotorImagery, or bids:PATH for a "
                        "local BIDS folder, with --event-map); default: SimulatedMotorImagery")
    p.add_argument("--event-map", default=None, metavar="FILE",
                   help="bids:PATH datasets: YAML or JSON file mapping BIDS event names (trial_type) to "
                        "class names, e.g. 'imagery/left: left_hand'")
    p.add_argument("--bids-task", default=None, metavar="TASK",
                   help="bids:PATH datasets: only the recordings of this BIDS task (default: all)")
    p.add_argument("--subjects", nargs="+", default=None, metavar="ID",
                   help="subjects to run (default: all of each dataset)")
    p.add_argument("--pipelines", nargs="+", default=None, metavar="PATH",
                   help="YAML pipeline files or folders (default: the shipped pipelines/default)")
    p.add_argument("--skip-unsupported", action="store_true",
                   help="skip (and list) pipeline files that cannot be used, e.g. Python files or classes "
                        "outside the allow-list, instead of refusing the run")
    p.add_argument("--evaluation", default="within-session",
                   help="within-session (default), cross-session or cross-subject (aliases: WithinSession, "
                        "CrossSession, CrossSubject, LOSO)")
    p.add_argument("--paradigm", default="LeftRightImagery",
                   help="LeftRightImagery (default) or MotorImagery (aliases: left-right-imagery, imagery)")
    p.add_argument("--results", default="neurosig_results/results.sqlite", metavar="DB",
                   help="SQLite results database (default: neurosig_results/results.sqlite)")
    p.add_argument("--out", default="neurosig_results", metavar="DIR",
                   help="folder for results.csv/.parquet, stats.csv and PNG plots (default: neurosig_results)")
    p.add_argument("--overwrite", action="store_true", help="recompute rows already in the database")
    p.add_argument("--seed", type=int, default=42, help="seed of the CV folds and permutations (default: 42)")
    p.add_argument("--n-permutations", type=int, default=1000,
                   help="label permutations on fixed out-of-fold predictions (chance level, p-value; default: 1000)")
    add_renamed_option(p, "--permutations", "--n-permutations", type=int)
    p.add_argument("--refit-permutations", type=int, default=0,
                   help="opt-in permutations that refit every fold on shuffled labels (slow)")
    p.add_argument("--data-path", default=None, metavar="DIR",
                   help="data folder for MOABB datasets (default: NEUROSIG_DATA, then MNE's config)")
    p.add_argument("--download", action="store_true",
                   help="download missing dataset files (default with --data-path: load offline and name "
                        "any missing file)")
    p.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    p.add_argument("--calibration-trials", type=int, default=0, metavar="K",
                   help="calibration protocol (cross-session / cross-subject): the first K trials of the "
                        "target session/subject are shown to the pipelines before scoring and removed from "
                        "the test set; transfer pipelines (e.g. pipelines/transfer) run only with it "
                        "(default: 0, no calibration)")
    p.add_argument("--calibration-labeled", action="store_true",
                   help="the calibration trials come with their labels (default: unlabeled)")
    p.add_argument("--reject-ptp", type=float, default=None, metavar="VOLTS",
                   help="reject epochs whose peak-to-peak amplitude exceeds VOLTS on any channel "
                        "(e.g. 150e-6); the share rejected is stored per subject (default: no rejection)")
    add_parallel_arguments(p)
    p.set_defaults(func=run, imports=("moabb.paradigms", "neurosig.evaluation.bci"))


def _subjects(values):
    if values is None:
        return None
    return [int(v) if v.lstrip("-").isdigit() else v for v in values]


def _usable_pipelines(args) -> list | None:
    """The usable pipeline files of ``--pipelines``; the refused ones are listed as skipped."""
    from ..pipelines import check_pipeline_files

    if args.pipelines is None:
        return None
    verdicts = check_pipeline_files(args.pipelines)
    skipped = [v for v in verdicts if v.spec is None]
    for v in skipped:
        print(f"skipped: {v.reason}")
    # files found in a folder that do not list the paradigm are left out here, as a folder would
    keep = [str(v.path) for v in verdicts
            if v.spec is not None and (not v.in_folder or args.paradigm in v.spec.paradigms)]
    if not keep:
        raise ValueError(f"Invalid value for the 'pipelines' parameter: none of the {len(verdicts)} pipeline "
                         f"file(s) in {args.pipelines} is usable with paradigm {args.paradigm!r}.")
    return keep


def run(args) -> int:
    import time

    import mne

    from ..evaluation.bci import benchmark, format_subject_report, format_summary, summarize
    from ..evaluation.bci_inputs import resolve_bids_names
    from ..evaluation.splitters import resolve_evaluation

    mne.set_log_level("WARNING")  # MNE's per-file INFO lines would bury the progress bar
    par = parallel_kwargs(args)
    t0 = time.perf_counter()
    pipelines = _usable_pipelines(args) if args.skip_unsupported else args.pipelines
    datasets = resolve_bids_names(args.datasets, args.event_map, args.bids_task)  # checked before any work
    df = benchmark(datasets=datasets, pipelines=pipelines, evaluation=args.evaluation,
                   paradigm=args.paradigm, subjects=_subjects(args.subjects), results=args.results,
                   out=args.out, overwrite=args.overwrite, seed=args.seed,
                   verbose=not args.quiet, n_permutations=args.n_permutations,
                   refit_permutations=args.refit_permutations, data_path=args.data_path,
                   plots=not args.no_plots,
                   calibration={"n_trials": args.calibration_trials, "labeled": args.calibration_labeled},
                   reject_ptp=args.reject_ptp, download=True if args.download else None, **par)
    elapsed = time.perf_counter() - t0
    print(f"\nneurosig benchmark: {resolve_evaluation(args.evaluation)}, {args.paradigm}; "
          f"{df.attrs.get('n_computed', 0)} task(s) computed, {df.attrs.get('n_skipped', 0)} already "
          f"in {args.results}; {elapsed:.1f} s")
    if args.calibration_trials:
        print(f"calibration: first {args.calibration_trials} trials of each target "
              f"{'session' if 'session' in resolve_evaluation(args.evaluation) else 'subject'}, "
              f"{'labeled' if args.calibration_labeled else 'unlabeled'} (removed from the test set)")
    print(format_summary(summarize(df)))
    if len(df):
        print("\nper subject:")
        print(format_subject_report(df))
    n_sub = df.groupby("dataset")["subject"].nunique().min() if len(df) else 0
    if len(df) and df["pipeline"].nunique() > 1 and n_sub < 2:
        print("\n(paired statistics between pipelines need at least 2 subjects per dataset)")
    elif len(df) and df["pipeline"].nunique() > 1:
        from ..evaluation.stats import dataset_statistics, meta_analysis

        st = dataset_statistics(df)
        meta = meta_analysis(st)
        meta = meta[meta["pipe1"] < meta["pipe2"]]
        print("\npaired comparisons (one-tailed p that pipe1 > pipe2; Stouffer across datasets):")
        print(meta.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.out:
        print(f"\nresults: {args.results}; exports, stats and plots: {args.out}/")
    failures = df.attrs.get("failures") or []
    if failures:
        print(f"{len(failures)} task(s) failed; rerun the same command to retry them:")
        for f in failures:
            print(f"  {f}")
        return 1
    return 0
