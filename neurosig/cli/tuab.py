"""``neurosig tuab index|prepare|info``: housekeeping of a local TUAB copy and its window store."""
from __future__ import annotations

import argparse

from ._common import add_parallel_arguments, add_renamed_option, parallel_kwargs


def register(subparsers) -> None:
    p = subparsers.add_parser("tuab", help="TUH Abnormal EEG: index a local copy, prepare and inspect "
                                           "a window store")
    sub = p.add_subparsers(dest="tuab_command", metavar="VERB")

    pi = sub.add_parser("index", help="scan a TUAB folder (EDF headers only) and summarise it")
    pi.add_argument("root", help="TUAB release folder (holding edf/) or its edf folder")
    pi.add_argument("--out", default=None, help="write the index table to this Parquet file")
    pi.set_defaults(func=_index)

    pp = sub.add_parser("prepare", help="preprocess every usable recording into a window store "
                                        "(resumable)")
    pp.add_argument("root", help="TUAB release folder (holding edf/) or its edf folder")
    pp.add_argument("--cache", required=True, help="store folder (created; reruns resume)")
    pp.add_argument("--montage", default="tcp16", help="tcp16 (TFM/BIOT, default) or tcp22 (FEMBA)")
    pp.add_argument("--sfreq", type=float, default=200.0, help="stored sampling rate in Hz (default 200)")
    pp.add_argument("--notch", type=float, default=60.0, help="mains frequency, 60 (default) or 50 Hz")
    pp.add_argument("--no-notch", action="store_true", help="no notch filter")
    pp.add_argument("--l-freq", type=float, default=0.1, help="high-pass edge in Hz (default 0.1)")
    pp.add_argument("--h-freq", type=float, default=75.0, help="low-pass edge in Hz (default 75)")
    pp.add_argument("--window-s", type=float, default=10.0, help="window length in seconds (default 10)")
    add_renamed_option(pp, "--window", "--window-s", type=float)
    pp.add_argument("--accepted-sfreqs", type=float, nargs="+", default=None, metavar="HZ",
                    help="reject recordings at any other sampling rate (default: any rate >= 2 x h-freq)")
    add_renamed_option(pp, "--accept-sfreq", "--accepted-sfreqs", type=float, nargs="+", metavar="HZ")
    pp.add_argument("--engine", default="fft", help="fft (one pass, default) or mne (sequential MNE calls)")
    pp.add_argument("--overwrite", action="store_true",
                    help="replace a store prepared with another configuration")
    add_parallel_arguments(pp)
    pp.set_defaults(func=_prepare)

    pf = sub.add_parser("info", help="counts per split and label, hours, rejected files and why")
    pf.add_argument("cache", help="store folder written by `neurosig tuab prepare`")
    pf.set_defaults(func=_info)

    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _quiet(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "quiet", False))


def _index(args: argparse.Namespace) -> int:
    from neurosig.datasets.tuab import TUAB, save_index

    tuab = TUAB(args.root, verbose=not _quiet(args))
    index = tuab.index
    ok = index[index["status"] == "ok"]
    print(f"{len(index)} EDF files under {tuab.edf_root}: {len(ok)} usable, "
          f"{len(index) - len(ok)} rejected")
    if len(ok):
        summary = ok.groupby(["split", "label"]).agg(recordings=("recording", "size"),
                                                     subjects=("subject", "nunique"),
                                                     hours=("duration", lambda d: d.sum() / 3600))
        print(summary.round(2).to_string())
        rates = ok["sfreq"].value_counts().sort_index()
        print("sampling rates (Hz: files): " + ", ".join(f"{k:g}: {v}" for k, v in rates.items()))
    _print_rejected(index)
    if args.out:
        save_index(index, args.out)
        print(f"index written to {args.out}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from neurosig.datasets.tuab import TUAB
    from neurosig.preprocessing.recipe import PreprocessingConfig

    config = PreprocessingConfig(montage=args.montage, l_freq=args.l_freq, h_freq=args.h_freq,
                                 notch=None if args.no_notch else args.notch, sfreq=args.sfreq,
                                 window_s=args.window_s, engine=args.engine,
                                 accepted_sfreqs=tuple(args.accepted_sfreqs) if args.accepted_sfreqs else None,
                                 ).validate()
    par = parallel_kwargs(args)
    tuab = TUAB(args.root, verbose=not _quiet(args))
    summary = tuab.prepare(args.cache, config=config, overwrite=args.overwrite, **par)
    print(f"prepared {summary['n_ok']} recordings ({summary['n_windows']} windows) into {args.cache}; "
          f"{summary['n_rejected']} rejected, {summary['n_errors']} errors, "
          f"{summary['n_skipped_done']} already done before this run")
    print(f"contract: {len(summary['contract'].ch_names)} channels ({summary['contract'].reference}), "
          f"{summary['contract'].sfreq:g} Hz, {summary['contract'].n_times} samples per window, "
          f"hash {summary['contract'].preprocessing_hash}")
    return 1 if summary["n_errors"] else 0


def _info(args: argparse.Namespace) -> int:
    from neurosig.datasets.window_store import store_info

    info = store_info(args.cache)
    c = info["contract"]
    print(f"window store {args.cache} ({'complete' if info['complete'] else 'INCOMPLETE: rerun prepare'})")
    print(f"contract: {len(c['ch_names'])} channels ({c['reference']}), {c['sfreq']:g} Hz, "
          f"{c['n_times']} samples per window, hash {c['preprocessing_hash']}")
    print(f"config: {info['config']}")
    table = info["table"]
    if len(table):
        print(table.round(3).to_string(index=False))
        print(f"total: {int(table['recordings'].sum())} recordings, {int(table['windows'].sum())} windows, "
              f"{table['window_hours'].sum():.2f} h in windows")
    else:
        print("no usable recordings")
    _print_rejected(info["rejected"])
    return 0


def _print_rejected(frame) -> None:
    bad = frame[frame["status"] != "ok"] if "status" in frame else frame
    if len(bad) == 0:
        print("rejected: none")
        return
    print(f"rejected ({len(bad)}):")
    for row in bad.itertuples(index=False):
        print(f"  {row.path}: {row.reason}")
