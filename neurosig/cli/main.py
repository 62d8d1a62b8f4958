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

    try:
        startup_imports(getattr(args, "imports", ()))  # the libraries the command needs
        return int(args.func(args) or 0)
    except (MissingExtraError, ValueError, TypeError, FileNotFoundError, NotADirectoryError, KeyError, ConnectionError) as exc:
        # Input errors: one clear line, no traceback (set NEUROSIG_DEBUG=1 for one).
        import os
        if os.environ.get("NEUROSIG_DEBUG"):
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"neurosig {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
