"""RSA bootstraps cut into blocks that run as tasks (local processes or Dask): identical to one sequential call."""
from __future__ import annotations

import numpy as np
import pytest

from neurosig.evaluation.rsa.inference import (
    eval_bootstrap,
    eval_bootstrap_pattern,
    eval_bootstrap_rdm,
)


def _data():
    rng = np.random.default_rng(0)
    n = 16
    k = n * (n - 1) // 2
    return rng.random((3, k)), rng.random((6, k)), [0, 0, 1, 1, 2, 2]


def _same(a, b):
    assert np.array_equal(a.evaluations, b.evaluations, equal_nan=True)
    assert np.array_equal(a.noise_ceiling, b.noise_ceiling, equal_nan=True)
    assert set(a.samples) == set(b.samples)
    for k in a.samples:
        assert np.array_equal(a.samples[k], b.samples[k])


@pytest.mark.parametrize("fn", [eval_bootstrap_rdm, eval_bootstrap_pattern, eval_bootstrap])
def test_blocks_on_dask_equal_sequential(fn, dask_scheduler):
    models, data, groups = _data()
    ref = fn(models, data, "corr", n_boot=90, groups=groups, seed=4)
    got = fn(models, data, "corr", n_boot=90, groups=groups, seed=4, scheduler=dask_scheduler, block_size=40)
    assert got.evaluations.shape == (90, 3)
    _same(ref, got)


def test_blocks_on_local_processes_equal_sequential():
    models, data, groups = _data()
    ref = eval_bootstrap_rdm(models, data, "spearman", n_boot=60, groups=groups, seed=1, noise_ceiling=False)
    got = eval_bootstrap_rdm(models, data, "spearman", n_boot=60, groups=groups, seed=1, noise_ceiling=False,
                             n_jobs=2, block_size=25)
    _same(ref, got)


def test_bad_parallel_arguments_name_the_parameter():
    models, data, groups = _data()
    with pytest.raises(ValueError, match="backend"):
        eval_bootstrap_rdm(models, data, n_boot=10, groups=groups, backend="threads")
    with pytest.raises(ValueError, match="block_size"):
        eval_bootstrap_pattern(models, data, n_boot=10, groups=groups, n_jobs=2, block_size=0)
