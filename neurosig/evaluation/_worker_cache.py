"""Per-process cache of loaded data, keyed by the task inputs that determine them.

A worker process keeps what its last tasks loaded (a benchmark subject's epochs, an fMRI
ROI's betas, a shared first pipeline step's output) so that the next task with the same
inputs reuses it. The scheduler sends tasks with the same inputs to the same worker.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class WorkerCache:
    """At most ``maxsize`` values, the least recently used dropped first.

    An entry is dropped *before* a new value is loaded, so a worker never holds more
    than ``maxsize`` values (with ``maxsize=1`` the previous ROI is freed before the
    next one is read).

    Parameters
    ----------
    maxsize : int
        Number of values kept.
    """

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: OrderedDict = OrderedDict()

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The value of ``key``, from ``load()`` on a miss.

        Parameters
        ----------
        key : hashable
            Identifies the task inputs (e.g. a hash of dataset, subject and parameters).
        load : callable
            Called without arguments on a miss; its return value is cached.

        Returns
        -------
        value : object
            The cached or newly loaded value.
        """
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        while len(self._items) >= self.maxsize:
            self._items.popitem(last=False)
        value = load()
        self._items[key] = value
        return value

    def clear(self) -> None:
        """Forget every value."""
        self._items.clear()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
