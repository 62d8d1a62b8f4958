"""``neurosig`` command line: one module per subcommand in ``neurosig.cli``.

Each subcommand module defines ``register(subparsers)``, which adds its parser and
sets ``func`` (a callable taking the parsed namespace and returning an exit code).
Subcommand modules import heavy libraries inside ``func``, so ``neurosig --help``
stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

#: subcommand module names under neurosig.cli, in the order shown by --help
SUBCOMMANDS: tuple[str, ...] = (
    "benchmark",
    "rsa",
    "tuab",
    "tokenize",
    "decode-fmri",
    "datasets",
    "pretrain",
    "finetune",
    "pipelines",
    "report",
    "info",
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("neurosig")
    except PackageNotFoundError:  # running from a source tree that is not installed
        from neurosig import __version__
        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurosig", description="EEG and fMRI signal processing: benchmark, decode, compare.")
    parser.add_argument("--version", action="version", version=f"neurosig {_version()}",
                        help="print the version and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"neurosig.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    from neurosig._extras import MissingExtraError
    from neurosig._startup import startup_imports
    from neurosig.parallel import prestart_workers, shutdown_prestarted

    try:
        imports = getattr(args, "imports", ())
        if imports:  # local workers (if any) import while this process does
            prestart_workers(_local_workers(args), imports)
        startup_imports(imports)  # the libraries the command needs
        return int(args.func(args) or 0)
    except (MissingExtraError, ValueError, TypeError, FileNotFoundError, NotADirectoryError, KeyError, ConnectionError) as exc:
        # Input errors: one clear line, no traceback (set NEUROSIG_DEBUG=1 for one).
        import os
        if os.environ.get("NEUROSIG_DEBUG"):
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"neurosig {args.command}: error: {msg}", file=sys.stderr)
        return 2
    finally:
        shutdown_prestarted()


def _local_workers(args) -> int:
    """Local worker processes the command will run (1 on Dask or with invalid parallel options)."""
    from neurosig.cli._common import parallel_kwargs
    from neurosig.parallel import resolve_n_jobs

    try:
        kw = parallel_kwargs(args)
        return resolve_n_jobs(kw["n_jobs"]) if kw["backend"] is None else 1
    except ValueError:
        return 1  # refused with its message by the command itself


def run() -> None:
    """Console entry point: :func:`main`, then a prompt end of the process.

    Once the command is done (its files closed, its worker processes stopped) the exit
    handlers run and the process ends without tearing down every imported module object
    by object, which takes a few tenths of a second with MNE, MOABB, scikit-learn and
    torch loaded. While a non-daemon thread is still running, the ordinary exit (which
    joins it) is kept.
    """
    import atexit
    import os
    import threading

    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
