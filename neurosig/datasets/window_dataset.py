"""A ``torch.utils.data.Dataset`` over a prepared window store, reading windows lazily.

See :mod:`neurosig.datasets.window_store` for the store layout. Windows are read
from the per-recording HDF5 files on demand (one read per recording and batch
through ``__getitems__``), so the corpus never has to fit in memory.
"""
from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from .._validation import check_option, check_path
from ..contracts import SignalContract, stable_hash
from ..preprocessing.recipe import PreprocessingConfig
from ..preprocessing.resample import resample_windows
from ..preprocessing.scaling import percentile_scale
from .window_store import (
    DATASET_SPLITS,
    LABEL_IDS,
    REC_DIR,
    WINDOWS_FILE,
    read_store_meta,
    split_subjects,
)

_DEPRECATED = "deprecated"  # default of a parameter kept for one release under its former name


def _renamed(owner: str, old: str, old_value, new: str, new_value, new_default):
    """``new_value``, or ``old_value`` given under the former name (with a FutureWarning)."""
    if isinstance(old_value, str) and old_value == _DEPRECATED:
        return new_value
    if new_value != new_default:
        raise ValueError(f"{owner} got both '{new}' and its former name '{old}'; give only {new}={old_value!r}.")
    warnings.warn(f"The '{old}' parameter of {owner} was renamed '{new}' (the scikit-learn name) and will be "
                  f"removed in the next release; pass {new}={old_value!r} instead.", FutureWarning, stacklevel=3)
    return old_value


class WindowDataset(Dataset):
    """Windows of a prepared store, read lazily from disk (a ``torch.utils.data.Dataset``).

    Parameters
    ----------
    cache : path
        Store folder written by :func:`prepare_store` (``neurosig tuab prepare``).
    split : {"train", "val", "test", "all"}
        ``"test"`` is the official eval folder; ``"train"`` and ``"val"`` are a
        subject-disjoint split of the training folder.
    val_fraction : float
        Fraction of training-folder subjects held out for ``"val"``.
    random_state : int
        Seed of the subject split.
    scale : {None, "p95"}
        ``"p95"``: divide each channel of each window by the 95th percentile of
        its absolute value (TFM recipe), at read time. Stored data stay in microvolts.
    resample_sfreq : float | None
        FFT-resample each window to this rate at read time (e.g. 200 Hz from a
        store prepared at 256 Hz reproduces the TFM code).
    contract : SignalContract | None
        What the caller (a model, a tokenizer) expects; a mismatch with what
        this dataset yields raises ValueError at construction.
    max_open_files : int
        Open HDF5 files kept per process.
    seed : int
        Former name of ``random_state``, accepted for one release with a FutureWarning.

    Attributes
    ----------
    windows : pandas.DataFrame
        One row per window: recording, subject, label, split, window, start (s).
    labels : ndarray of int64, shape (n_windows,)
        0 = normal, 1 = abnormal.
    contract : SignalContract
        Channels, sampling rate, window length and preprocessing hash of the
        windows this dataset returns.

    Notes
    -----
    Items are ``(x, y)``: ``x`` a float32 tensor of shape (n_channels, n_times)
    and ``y`` an int64 label. ``windows["recording"]`` lets a model aggregate
    window predictions per recording.
    """

    def __init__(self, cache: str | Path, split: str = "train", val_fraction: float = 0.2, random_state: int = 0,
                 scale: str | None = None, resample_sfreq: float | None = None,
                 contract: SignalContract | None = None, max_open_files: int = 128, *,
                 seed: int | str = _DEPRECATED):
        random_state = _renamed("WindowDataset", "seed", seed, "random_state", random_state, 0)
        check_option("split", split, DATASET_SPLITS)
        check_option("scale", scale, (None, "p95"))
        self.cache = check_path("cache", cache, kind="dir")
        meta = read_store_meta(self.cache)
        if not meta.get("complete", False):
            raise ValueError(f"The window store at {str(self.cache)!r} is incomplete (a preparation run was "
                             f"interrupted or had errors); run `neurosig tuab prepare` again to finish it.")
        self.meta = meta
        self.config = PreprocessingConfig.from_dict(meta["config"])
        stored = SignalContract.from_dict(meta["contract"])
        self.split, self.scale, self.resample_sfreq = split, scale, resample_sfreq
        self.max_open_files = int(max_open_files)
        n_times = stored.n_times
        if resample_sfreq is not None:
            n_times = int(round(self.config.window_s * float(resample_sfreq)))
        phash = stored.preprocessing_hash
        if scale or resample_sfreq:
            phash = stable_hash({"store": phash, "scale": scale, "resample_sfreq": resample_sfreq})
        self.contract = SignalContract(ch_names=stored.ch_names,
                                       sfreq=float(resample_sfreq or stored.sfreq), n_times=n_times,
                                       reference=stored.reference, preprocessing_hash=phash,
                                       extra={"units": "uV" if scale is None else "scaled"})
        if contract is not None:
            contract.check(self.contract, what=f"window store {str(self.cache)!r}")

        table = pd.read_parquet(self.cache / WINDOWS_FILE)
        if split == "test":
            table = table[table["split"] == "eval"]
        elif split in ("train", "val"):
            train = table[table["split"] == "train"]
            val_subjects = split_subjects(train["subject"].unique(), val_fraction, random_state)
            in_val = train["subject"].isin(val_subjects)
            table = train[in_val] if split == "val" else train[~in_val]
        self.windows = table.reset_index(drop=True)
        self.labels = self.windows["label"].map(LABEL_IDS).to_numpy(dtype=np.int64)
        self._rec_codes, self._rec_names = pd.factorize(self.windows["recording"])
        self._win = self.windows["window"].to_numpy(dtype=np.int64)
        self._files: OrderedDict = OrderedDict()
        self._pid = None

    def __len__(self) -> int:
        return len(self.windows)

    def __getstate__(self):  # open HDF5 handles do not cross process boundaries
        state = dict(self.__dict__)
        state["_files"] = OrderedDict()
        state["_pid"] = None
        return state

    def _array(self, code: int):
        """Windows of one recording: a read-only memory map when the HDF5 dataset is
        contiguous and uncompressed (the layout :func:`prepare_store` writes), else the
        h5py dataset itself."""
        import h5py

        if self._pid != os.getpid():  # after a fork (DataLoader workers): fresh handles
            self._files = OrderedDict()
            self._pid = os.getpid()
        entry = self._files.get(code)
        if entry is not None:
            self._files.move_to_end(code)
            return entry[1]
        path = self.cache / REC_DIR / f"{self._rec_names[code]}.h5"
        f = h5py.File(path, "r")
        ds = f["X"]
        offset = ds.id.get_offset() if ds.chunks is None and ds.compression is None else None
        if offset is not None:
            arr = np.memmap(path, dtype=ds.dtype, mode="r", offset=offset, shape=ds.shape)
            f.close()
            entry = (None, arr)
        else:
            entry = (f, ds)
        self._files[code] = entry
        if len(self._files) > self.max_open_files:
            _, (old, _) = self._files.popitem(last=False)
            if old is not None:
                old.close()
        return entry[1]

    def _transform(self, x: np.ndarray) -> np.ndarray:
        if self.resample_sfreq is not None:
            x = resample_windows(x, self.contract.n_times)
        if self.scale == "p95":
            x = percentile_scale(x, 95.0)
        return x

    def get_windows(self, indices: Sequence[int]) -> np.ndarray:
        """Windows ``indices`` as one array, shape (len(indices), n_channels, n_times), float32.

        Parameters
        ----------
        indices : sequence of int
            Window indices into the dataset (negative indices count from the end, as for a list).
        """
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"window index out of range for a dataset of {len(self)} windows")
        idx = idx % max(len(self), 1)
        raw_n = self.config.window_samples
        out = np.empty((idx.size, len(self.contract.ch_names), raw_n), dtype=np.float32)
        codes = self._rec_codes[idx]
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        for grp in np.split(order, bounds):
            if grp.size == 0:
                continue
            arr = self._array(int(codes[grp[0]]))
            w = self._win[idx[grp]]
            if isinstance(arr, np.ndarray):  # memory map: plain copies
                out[grp] = arr[w]
                continue
            lo, hi = int(w.min()), int(w.max()) + 1
            if hi - lo <= 2 * grp.size:  # h5py: one contiguous read, then select
                out[grp] = arr[lo:hi][w - lo]
            else:
                for j, k in zip(grp, w):
                    arr.read_direct(out, np.s_[int(k)], np.s_[int(j)])
        return self._transform(out)

    def __getitem__(self, i):
        """``(x, y)`` for one window index; ``(X, y)`` batched for a list or array of indices.

        Returns
        -------
        x : torch.Tensor, shape (n_channels, n_times), float32  (or (n, n_channels, n_times))
        y : int  (or torch.Tensor of int64, shape (n,))
        """
        if np.ndim(i) == 0:
            x = self.get_windows([int(i)])[0]
            return torch.from_numpy(x), int(self.labels[int(i)])
        idx = np.asarray(i, dtype=np.int64)
        return torch.from_numpy(self.get_windows(idx)), torch.from_numpy(self.labels[idx])

    def __getitems__(self, indices: Sequence[int]) -> list:
        """Batched fetch used by ``torch.utils.data.DataLoader`` (one pass per recording)."""
        x = torch.from_numpy(self.get_windows(indices))
        y = self.labels[np.asarray(indices, dtype=np.int64)]
        return [(x[k], int(y[k])) for k in range(len(y))]

    def loader(self, batch_size: int = 64, shuffle: bool = True, random_state: int | None = 0,
               num_workers: int = 0, drop_last: bool = False, *,
               seed: int | None | str = _DEPRECATED) -> DataLoader:
        """A DataLoader that fetches whole batches (no per-window collation copy).

        Each batch is read in one :meth:`get_windows` call and returned as
        ``(X, y)``: X of shape (batch_size, n_channels, n_times) float32, y int64.

        Parameters
        ----------
        batch_size : int
            Windows per batch.
        shuffle : bool
            Random order (reproducible with ``random_state``).
        random_state : int | None
            Seed of the shuffling generator (None: a fresh order every time).
        num_workers : int
            DataLoader worker processes.
        drop_last : bool
            Drop the last incomplete batch.
        seed : int | None
            Former name of ``random_state``, accepted for one release with a FutureWarning.

        Returns
        -------
        DataLoader
            Yields ``(X, y)`` batches.
        """
        random_state = _renamed("WindowDataset.loader", "seed", seed, "random_state", random_state, 0)
        gen = (torch.Generator().manual_seed(random_state)
               if (shuffle and random_state is not None) else None)
        base = RandomSampler(self, generator=gen) if shuffle else SequentialSampler(self)
        return DataLoader(self, batch_size=None, sampler=BatchSampler(base, batch_size, drop_last),
                          num_workers=num_workers)

    def close(self) -> None:
        """Close the open HDF5 files and memory maps of this process."""
        for f, _ in self._files.values():
            if f is not None:
                f.close()
        self._files = OrderedDict()
