"""Loggers and progress bars (silenced with ``verbose=False``)."""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def get_logger(name: str) -> logging.Logger:
    """Module logger under the ``neurosig`` namespace."""
    return logging.getLogger(name)


def progress(iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str = "",
             verbose: bool = True, unit: str = "it"):
    """A tqdm progress bar written to stderr, or a silent one when ``verbose`` is False."""
    return tqdm(iterable, total=total, desc=desc, disable=not verbose, unit=unit,
                file=sys.stderr, dynamic_ncols=True, leave=False)
