"""Arguments shared by several subcommands: where independent tasks run (local or Dask), and
former option names kept working for one release."""
from __future__ import annotations

import argparse
import sys


class _RenamedOption(argparse.Action):
    """A former option name: stores into the new option's destination and prints one
    deprecation line naming the new option."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: FutureWarning: the option {option_string} was renamed {self.new} (the name of "
              f"the Python parameter) and will be removed in the next release; use {self.new}.",
              file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_renamed_option(parser, old: str, new: str, **kwargs) -> None:
    """Keep ``old`` as a hidden alias of the option ``new`` (already added to ``parser``).

    Parameters
    ----------
    parser : argparse.ArgumentParser or argument group
        Where ``new`` was added.
    old, new : str
        Former and current option strings (``"--permutations"``, ``"--n-permutations"``).
    **kwargs
        ``type``, ``nargs``, ``metavar`` of the option (as given to ``new``).
    """
    dest = new.lstrip("-").replace("-", "_")
    parser.add_argument(old, dest=dest, action=_RenamedOption, new=new, help=argparse.SUPPRESS,
                        default=argparse.SUPPRESS, **kwargs)


def add_parallel_arguments(parser: argparse.ArgumentParser, n_jobs: bool = True) -> None:
    """Add ``--n-jobs`` (optional), ``--scheduler``, ``--dask-workers``, ``--connect-timeout``
    and ``--retries`` to ``parser``; :func:`parallel_kwargs` turns them into ``run_tasks`` keywords.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    n_jobs : bool
        Add ``--n-jobs`` too.
    """
    g = parser.add_argument_group("parallel execution")
    if n_jobs:
        g.add_argument("--n-jobs", type=int, default=1, help="local worker processes (default: 1; -1: all cores)")
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run the tasks on this Dask scheduler (workers load the data themselves: "
                        "use paths they can read)")
    g.add_argument("--dask-workers", type=int, default=None, metavar="N",
                   help="run the tasks on a local Dask cluster of N single-threaded workers")
    g.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                   help="seconds to wait for --scheduler before giving up (default: 10)")
    g.add_argument("--retries", type=int, default=1,
                   help="times a failing task is retried before it is recorded as failed (default: 1)")


def parallel_kwargs(args: argparse.Namespace) -> dict:
    """``backend``, ``n_jobs``, ``scheduler``, ``connect_timeout``, ``retries`` from parsed arguments.

    ``backend`` is None (the function picks sequential or processes from ``n_jobs``) unless
    ``--scheduler`` or ``--dask-workers`` asks for Dask; both at once are refused.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    dict
        Keywords of :func:`neurosig.parallel.run_tasks`.
    """
    scheduler = getattr(args, "scheduler", None)
    workers = getattr(args, "dask_workers", None)
    n_jobs = getattr(args, "n_jobs", 1)
    if scheduler is not None and workers is not None:
        raise ValueError(f"Give either --scheduler (an existing cluster) or --dask-workers (a local one), "
                         f"not both (got --scheduler {scheduler!r} and --dask-workers {workers}).")
    if workers is not None and workers < 1:
        raise ValueError(f"Invalid value for --dask-workers: expected a positive integer, but got {workers}.")
    retries = getattr(args, "retries", 1)
    if retries is None or retries < 0:
        raise ValueError(f"Invalid value for --retries: expected a non-negative integer, but got {retries}.")
    backend = None
    if scheduler is not None or workers is not None:
        backend = "dask"
        n_jobs = workers if workers is not None else 1
    return {"backend": backend, "n_jobs": n_jobs, "scheduler": scheduler,
            "connect_timeout": getattr(args, "connect_timeout", 10.0), "retries": retries}
