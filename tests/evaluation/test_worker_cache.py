"""The per-process cache of the benchmark and fMRI workers."""
from __future__ import annotations

from neurosig.evaluation import bci_data, fmri
from neurosig.evaluation._worker_cache import WorkerCache


def test_least_recently_used_value_goes_first_and_before_the_next_load():
    cache, loads = WorkerCache(2), []

    def load(v):
        def f():
            loads.append((v, len(cache)))  # entries held while loading
            return v * 10
        return f

    assert cache.get("a", load(1)) == 10 and cache.get("b", load(2)) == 20
    assert cache.get("a", load(99)) == 10  # hit: not reloaded, now most recent
    assert cache.get("c", load(3)) == 30  # drops "b", the least recently used
    assert "a" in cache and "b" not in cache and len(cache) == 2
    assert loads == [(1, 0), (2, 1), (3, 1)]  # "b" was dropped before "c" was loaded
    cache.clear()
    assert len(cache) == 0


def test_workers_use_it():
    assert isinstance(bci_data._loads, WorkerCache) and bci_data._loads.maxsize == 2
    assert isinstance(bci_data._shared, WorkerCache) and bci_data._shared.maxsize == 4
    assert fmri._SOURCE.maxsize == fmri._ROI_DATA.maxsize == 1
    bci_data.clear_worker_caches()
    assert len(bci_data._loads) == len(bci_data._shared) == 0
