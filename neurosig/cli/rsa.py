"""``neurosig rsa CONFIG.yml``: compare brain data or RDMs with models (tables + figures)."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "rsa", help="compare brain data with model layers (RSA / tRSA) from a YAML job file",
        description="Run an RSA job: brain RDMs (EEG epochs by time window, NSD ROI betas, RDM files) "
                    "against model layers (neurosig encoders, torch modules, TFM embeddings, feature "
                    "arrays) with bootstrap CIs, noise ceilings, tRSA settings, best layer per region "
                    "and region identification; writes the SQLite results store (kind 'rsa'), CSV "
                    "tables and figures. The job file's keys are listed in docs/schemas.md (RSA job, "
                    "RSA grid job).")
    p.add_argument("config", help="YAML job file")
    from ._common import add_parallel_arguments

    add_parallel_arguments(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from neurosig.evaluation.rsa.job import load_config, run_config

    from ._common import parallel_kwargs

    par = parallel_kwargs(args)  # refuses bad options before the job is read
    cfg, base = load_config(args.config)
    table = run_config(cfg, base=base, **par, verbose=not getattr(args, "quiet", False), source=args.config)
    if hasattr(table, "cells"):  # a brain x model grid
        print("layer x region similarity (raw RDMs):")
        print(table.table("raw").round(3).to_string())
        print("\nbest layer per region (raw):")
        print(table.best[table.best["setting"] == "raw"].drop(columns="setting").round(3).to_string(index=False))
        if len(table.identification):
            print("\nregion identification (leave one subject out):")
            print(table.identification.round(3).to_string(index=False))
        return 0
    cols = [c for c in ("model", "pipeline", "score", "ci_low", "ci_high", "nc_lower", "nc_upper") if c in table]
    print(table[cols].to_string(index=False))
    return 0
