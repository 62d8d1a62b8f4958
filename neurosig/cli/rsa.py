"""``neurosig rsa CONFIG.yml``: compare brain RDMs with model RDMs (tables + figures)."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "rsa", help="compare brain RDMs with model RDMs (RSA / tRSA) from a YAML job file",
        description="Run an RSA job: bootstrap model comparison with noise ceiling; writes the SQLite "
                    "results store (kind 'rsa'), a CSV table and figures. See "
                    "neurosig.evaluation.rsa.job for the YAML schema.")
    p.add_argument("config", help="YAML job file")
    from ._common import add_parallel_arguments

    add_parallel_arguments(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from neurosig.evaluation.rsa.job import load_config, run_config

    from ._common import parallel_kwargs

    par = parallel_kwargs(args)  # refuses bad options before the job is read
    cfg, base = load_config(args.config)
    table = run_config(cfg, base=base, n_jobs=par["n_jobs"], backend=par["backend"],
                       scheduler=par["scheduler"])
    cols = [c for c in ("model", "pipeline", "score", "ci_low", "ci_high", "nc_lower", "nc_upper") if c in table]
    print(table[cols].to_string(index=False))
    return 0
