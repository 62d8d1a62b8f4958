"""``neurosig info``: versions, device, threads and data folders, for bug reports."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="versions, torch device, BLAS threads and data folders",
                              description="Print what a bug report needs: the versions of neurosig and "
                                          "of every dependency, the torch device, BLAS threads and the "
                                          "data folders found.")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy  # noqa: F401  (loads the BLAS library that the report lists)

    from neurosig._sys_info import sys_info

    sys_info(show=True)
    return 0
