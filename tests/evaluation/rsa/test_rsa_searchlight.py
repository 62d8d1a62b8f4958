"""Searchlight RSA: neighbourhoods truncated at the mask, RDMs equal direct computation, chunking."""
from __future__ import annotations

import numpy as np
import pytest

from neurosig.evaluation.rsa import calc_rdm, noise_precision
from neurosig.evaluation.rsa.searchlight import (
    searchlight_map,
    searchlight_rdms,
    sphere_neighbourhoods,
)


@pytest.fixture
def volume():
    rng = np.random.default_rng(0)
    mask = np.zeros((6, 5, 4), bool)
    mask[1:5, 1:4, :3] = True
    mask[2, 2, 1] = False  # a hole
    cond = np.tile(np.arange(4), 3)
    runs = np.repeat(np.arange(3), 4)
    data = rng.normal(size=(6, 5, 4, 12))
    return data, mask, cond, runs


def test_neighbourhoods_truncated_at_mask(volume):
    _, mask, _, _ = volume
    centres, neigh = sphere_neighbourhoods(mask, 1.5)
    vox = np.argwhere(mask)
    for c, nb in zip(centres, neigh):
        brute = np.nonzero(np.sum((vox - c) ** 2, axis=1) <= 1.5 ** 2)[0]
        np.testing.assert_array_equal(np.sort(nb), brute)
    assert len({len(n) for n in neigh}) > 1  # boundary spheres are smaller


def test_searchlight_equals_direct_and_chunking(volume):
    data, mask, cond, runs = volume
    rdms, centres = searchlight_rdms(data, mask, cond, radius=1.5, folds=runs, chunk_size=7)
    whole, _ = searchlight_rdms(data, mask, cond, radius=1.5, folds=runs, chunk_size=1000)
    np.testing.assert_allclose(rdms, whole, atol=1e-12)
    vox = np.argwhere(mask)
    for k in (0, 5, len(centres) - 1):
        sel = vox[np.sum((vox - centres[k]) ** 2, axis=1) <= 1.5 ** 2]
        X = data[sel[:, 0], sel[:, 1], sel[:, 2]].T  # (trials, voxels)
        res = X.copy()
        for c in range(4):
            res[cond == c] -= X[cond == c].mean(0)
        P = noise_precision(res, "shrinkage_diag", dof=12 - 4)
        ref = calc_rdm(X, "crossnobis", conditions=cond, folds=runs, noise=P, squareform=False)
        np.testing.assert_allclose(rdms[k], ref, atol=1e-10)
    vol = searchlight_map(rdms[:, 0], centres, mask.shape)
    assert np.isnan(vol[~mask]).all() and np.isfinite(vol[mask]).all()


def test_searchlight_processes_backend(volume):
    data, mask, cond, runs = volume
    a, _ = searchlight_rdms(data, mask, cond, radius=1.0, folds=runs, chunk_size=20, noise=None)
    b, _ = searchlight_rdms(data, mask, cond, radius=1.0, folds=runs, chunk_size=20, noise=None,
                            backend="processes", n_jobs=2)
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_searchlight_on_real_nifti(shared_data):
    """I/O on a real BOLD crop (20 volumes; arbitrary labels: this checks plumbing, not science)."""
    import nibabel as nib

    img = nib.load(shared_data / "fmri_small" / "nipy_testing" / "functional.nii.gz")
    data = img.get_fdata()
    mask = data.mean(axis=3) > np.percentile(data.mean(axis=3), 90)
    cond = np.tile(np.arange(4), 5)
    runs = np.repeat(np.arange(5), 4)
    rdms, centres = searchlight_rdms(img, mask, cond, radius=1.0, folds=runs, method="crossnobis")
    assert rdms.shape == (mask.sum(), 6) and np.all(np.isfinite(rdms))


def test_searchlight_bad_input(volume):
    data, mask, cond, runs = volume
    with pytest.raises(ValueError, match="'mask'.*shape"):
        searchlight_rdms(data, mask[:5], cond)
    with pytest.raises(ValueError, match="'conditions'"):
        searchlight_rdms(data, mask, cond[:5])
    with pytest.raises(ValueError, match="'noise'"):
        searchlight_rdms(data, mask, cond, folds=runs, noise="ledoit")
