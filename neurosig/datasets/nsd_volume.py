"""NSD volume betas: streaming ROIs out of ``.nii.gz`` sessions and reading them from HDF5 sessions.

Both return float32 percent signal change (NSD stores int16 = percent signal change x 300).
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

#: NSD betas are stored as int16 = percent signal change x 300
BETA_SCALE = 300.0


def _fortran_index(mask: np.ndarray) -> np.ndarray:
    """Flat on-disk (x fastest) positions of the mask voxels, in nilearn's (C) voxel order."""
    return np.ravel_multi_index(np.nonzero(mask), mask.shape, order="F")


def _stream_nifti_rois(path: Path, masks: list[np.ndarray], chunk: int = 8) -> list[np.ndarray]:
    """Decompress a 4-D ``.nii.gz`` once, volume by volume, and cut out every mask.

    Returns a list of float32 arrays, shape (n_trials, n_voxels_of_mask), in percent
    signal change (int16 / 300, after the header's scaling if any).
    """
    import nibabel as nib

    proxy = nib.load(path).dataobj  # the ArrayProxy knows the true data offset, dtype and scaling
    shape = proxy.shape
    dtype = np.dtype(proxy.dtype)
    slope, inter = float(proxy.slope), float(proxy.inter)
    offset = int(proxy.offset)
    n_vol_vox = int(np.prod(shape[:3]))
    n_trials = int(shape[3])
    idx = [_fortran_index(m) for m in masks]
    out = [np.empty((n_trials, len(i)), dtype=np.float32) for i in idx]
    vol_bytes = n_vol_vox * dtype.itemsize
    with gzip.open(path, "rb") as fh:
        fh.read(offset)
        t = 0
        while t < n_trials:
            k = min(chunk, n_trials - t)
            buf = fh.read(vol_bytes * k)
            if len(buf) != vol_bytes * k:
                raise ValueError(f"{str(path)!r} is truncated: trial {t + 1} of {n_trials} is incomplete.")
            vols = np.frombuffer(buf, dtype=dtype).reshape(k, n_vol_vox)
            for i, o in zip(idx, out):
                v = vols[:, i].astype(np.float32)
                if slope != 1.0 or inter != 0.0:
                    v = v * np.float32(slope) + np.float32(inter)
                o[t:t + k] = v / np.float32(BETA_SCALE)
            t += k
    return out


def _read_hdf5_roi(path: Path, mask: np.ndarray, out: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Read the ROI of an NSD HDF5 session (dataset ``betas``: trial, z, y, x) in slabs of trials."""
    import h5py

    nz = np.nonzero(mask)
    lo = [int(a.min()) for a in nz]
    hi = [int(a.max()) + 1 for a in nz]
    local = tuple(a - lo_ for a, lo_ in zip(nz, lo))
    with h5py.File(path, "r") as fh:
        d = fh["betas"]
        for t in range(0, d.shape[0], chunk):
            slab = d[t:t + chunk, lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]]  # (k, z, y, x)
            out[t:t + slab.shape[0]] = slab[:, local[2], local[1], local[0]].astype(np.float32) / np.float32(BETA_SCALE)
    return out
