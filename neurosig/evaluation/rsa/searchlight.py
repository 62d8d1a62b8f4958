"""Searchlight RSA on volumes: one RDM per sphere, crossnobis with a noise estimate.

Spheres are centred on every mask voxel and truncated at the mask boundary (only
in-mask voxels enter a neighbourhood). Centres are processed in chunks: a chunk
carries only the voxels its spheres touch, so memory stays bounded, and chunks can
run in worker processes (:func:`neurosig.parallel.run_tasks`). Inside a chunk,
spheres of equal size are computed as one batch (noise precision per sphere from
the residuals, with shrinkage, then batched crossnobis).
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from ..._logging import get_logger
from ..._validation import check_option, check_positive_float, check_positive_int
from .rdm import calc_rdm, noise_precision

logger = get_logger(__name__)


def sphere_neighbourhoods(mask: Any, radius: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """In-mask voxels within ``radius`` (in voxels) of every mask voxel.

    Parameters
    ----------
    mask : array-like of bool, shape (nx, ny, nz)
    radius : float
        Sphere radius in voxel units (Euclidean distance <= radius).

    Returns
    -------
    centres : ndarray, shape (n_centres, 3)
        Voxel coordinates of the centres (the mask voxels, C order).
    neighbours : list of ndarray
        For each centre, indices into the mask voxels (0..n_mask-1) of its sphere.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 3:
        raise ValueError(f"The 'mask' parameter must be a 3-D volume, but got shape {m.shape}.")
    if not m.any():
        raise ValueError("The 'mask' parameter selects no voxel.")
    radius = check_positive_float("radius", radius, allow_zero=True)
    r = int(np.floor(radius))
    offs = np.array([(i, j, k) for i in range(-r, r + 1) for j in range(-r, r + 1) for k in range(-r, r + 1)
                     if i * i + j * j + k * k <= radius * radius + 1e-9])
    centres = np.argwhere(m)
    index = np.full(m.shape, -1, dtype=np.int64)
    index[tuple(centres.T)] = np.arange(len(centres))
    cand = centres[:, None, :] + offs[None, :, :]  # (n_centres, n_offsets, 3)
    inside = np.all((cand >= 0) & (cand < np.array(m.shape)), axis=2)
    cand_c = np.where(inside[..., None], cand, 0)
    idx = index[cand_c[..., 0], cand_c[..., 1], cand_c[..., 2]]
    idx = np.where(inside, idx, -1)
    neighbours = [row[row >= 0] for row in idx]
    return centres, neighbours


def _chunk_rdms(task: tuple, conditions: np.ndarray, folds: np.ndarray | None, method: str,
                noise: str | None) -> np.ndarray:
    """RDMs for one chunk: task = (patterns (n_trials, n_chunk_vox), list of local index arrays)."""
    patterns, local = task
    sizes = np.array([len(ix) for ix in local])
    n_cond = len(np.unique(conditions))
    out = np.empty((len(local), n_cond * (n_cond - 1) // 2))
    for size in np.unique(sizes):
        sel = np.nonzero(sizes == size)[0]
        X = np.stack([patterns[:, local[i]] for i in sel])  # (n_spheres, n_trials, size)
        P = None
        if noise is not None:
            P = noise_precision(_residuals(X, conditions), method=noise,
                                dof=max(1, len(conditions) - n_cond))
        if method == "crossnobis":
            out[sel] = calc_rdm(X, "crossnobis", conditions=conditions, folds=folds, noise=P, squareform=False)
        else:
            out[sel] = calc_rdm(X, method, conditions=conditions, noise=P, squareform=False)
    return out


def _residuals(X: np.ndarray, conditions: np.ndarray) -> np.ndarray:
    """Trials minus their condition mean, X of shape (n_spheres, n_trials, n_voxels)."""
    R = X.copy()
    for c in np.unique(conditions):
        R[:, conditions == c] -= X[:, conditions == c].mean(axis=1, keepdims=True)
    return R


def searchlight_rdms(data: Any, mask: Any, conditions: Any, radius: float = 2.0, method: str = "crossnobis",
                     folds: Any = None, noise: str | None = "shrinkage_diag", chunk_size: int = 500,
                     backend: str = "sequential", n_jobs: int | None = None,
                     verbose: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One RDM per searchlight sphere.

    Parameters
    ----------
    data : array-like, shape (nx, ny, nz, n_trials) | nibabel image | str
        Trial-wise patterns (e.g. single-trial betas); a NIfTI image or path is loaded
        with nibabel.
    mask : array-like of bool, shape (nx, ny, nz) | nibabel image | str
        Voxels to use (sphere centres and members).
    conditions : array-like, shape (n_trials,)
        Condition of each trial.
    radius : float
        Sphere radius in voxels.
    method : str
        Distance (``"crossnobis"`` by default; see :func:`~neurosig.evaluation.rsa.calc_rdm`).
    folds : array-like, shape (n_trials,) | None
        Runs for crossnobis (every run must contain every condition).
    noise : {"shrinkage_diag", "shrinkage_eye", "diag", "full"} | None
        Noise covariance estimator from the residuals of each sphere (trials minus
        their condition mean, dof = n_trials - n_conditions); None uses no noise
        normalisation.
    chunk_size : int
        Sphere centres per chunk (bounds memory: a chunk holds the trials of the
        voxels its spheres touch).
    backend, n_jobs : str, int or None
        Passed to :func:`neurosig.parallel.run_tasks` (``"processes"`` for parallel chunks).
    verbose : bool
        Progress bar over the chunks.

    Returns
    -------
    rdms : ndarray, shape (n_centres, n_pairs)
        Condensed RDM of each sphere (conditions in sorted label order).
    centres : ndarray, shape (n_centres, 3)
        Voxel coordinates of the sphere centres.
    """
    from ...parallel import run_tasks

    D = _load_volume(data, "data", ndim=4)
    M = _load_volume(mask, "mask", ndim=3).astype(bool)
    if D.shape[:3] != M.shape:
        raise ValueError(f"The 'mask' parameter has shape {M.shape} but the 'data' volume is {D.shape[:3]}.")
    cond = np.asarray(conditions)
    n_trials = D.shape[3]
    if cond.shape != (n_trials,):
        raise ValueError(f"The 'conditions' parameter must have one label per volume ({n_trials}), "
                         f"but got shape {cond.shape}.")
    f = None if folds is None else np.asarray(folds)
    if f is not None and f.shape != (n_trials,):
        raise ValueError(f"The 'folds' parameter must have one label per volume ({n_trials}), but got {f.shape}.")
    if noise is not None:
        check_option("noise", noise, ("shrinkage_diag", "shrinkage_eye", "diag", "full", None))
    chunk_size = check_positive_int("chunk_size", chunk_size)
    centres, neigh = sphere_neighbourhoods(M, radius)
    V = D[M].T  # (n_trials, n_mask): mask voxels in C order, same as sphere_neighbourhoods
    if not np.all(np.isfinite(V)):
        raise ValueError("The 'data' parameter has NaN or infinite values inside the mask.")
    if noise is not None and np.any(V.std(axis=0) == 0):
        raise ValueError(f"The 'data' parameter has {int(np.sum(V.std(axis=0) == 0))} constant voxel(s) inside "
                         "the mask; their noise variance is 0 (remove them from 'mask' or use noise=None).")
    tasks = []
    for start in range(0, len(centres), chunk_size):
        chunk = neigh[start:start + chunk_size]
        used = np.unique(np.concatenate(chunk))
        pos = np.searchsorted(used, np.arange(V.shape[1]))
        tasks.append((V[:, used], [pos[ix] for ix in chunk]))
    fn = partial(_chunk_rdms, conditions=cond, folds=f, method=method, noise=noise)
    results = run_tasks(fn, tasks, backend=backend, n_jobs=n_jobs, raise_errors=True, verbose=verbose,
                        desc="searchlight")
    return np.concatenate([r.value for r in results]), centres


def searchlight_map(values: Any, centres: np.ndarray, shape: tuple[int, int, int], fill: float = np.nan) -> np.ndarray:
    """Put one value per sphere centre back into a volume of ``shape`` (``fill`` elsewhere).

    Parameters
    ----------
    values : array-like, shape (n_centres,)
        One value per sphere (e.g. a model comparison per searchlight RDM).
    centres : ndarray of int, shape (n_centres, 3)
        Voxel index of each sphere centre (as returned by :func:`searchlight_rdms`).
    shape : tuple of int
        Volume shape (nx, ny, nz).
    fill : float
        Value of the voxels that are no sphere centre.

    Returns
    -------
    volume : ndarray, shape (nx, ny, nz)
        The map.
    """
    vol = np.full(shape, fill, dtype=float)
    vol[tuple(np.asarray(centres).T)] = np.asarray(values, dtype=float)
    return vol


def _load_volume(x: Any, name: str, ndim: int) -> np.ndarray:
    if isinstance(x, str) or hasattr(x, "__fspath__"):
        import nibabel as nib

        from ..._validation import check_path

        x = nib.load(str(check_path(name, x, kind="file")))
    if hasattr(x, "get_fdata"):
        x = x.get_fdata()
    arr = np.asarray(x, dtype=float)
    if arr.ndim != ndim:
        raise ValueError(f"The '{name}' parameter must be a {ndim}-D volume, but got shape {arr.shape}.")
    return arr
