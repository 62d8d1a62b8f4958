"""TUH Abnormal EEG corpus (TUAB): index of a local copy, and preparation of a window cache.

Users download TUAB themselves under the TUH data-use agreement. :class:`TUAB`
scans that folder (headers only) into an index table; :meth:`TUAB.prepare`
runs the preprocessing recipe of :mod:`neurosig.preprocessing.recipe` over it
and writes a window store (:mod:`neurosig.datasets.window_store`), from which
:class:`~neurosig.datasets.window_store.WindowDataset` streams windows to PyTorch.

Layouts accepted (``ROOT`` may be the release folder or its ``edf`` folder):

- v3.x: ``edf/{train,eval}/{normal,abnormal}/01_tcp_ar/<subject>_s<session>_t<token>.edf``
- v2.x and older: the same folders, then ``<group>/<subject>/s<session>_<date>/<file>.edf``
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .._io import atomic_path
from .._logging import get_logger, progress
from .._validation import check_path
from .edf_check import edf_problem

logger = get_logger(__name__)

SPLITS = ("train", "eval")
LABELS = ("normal", "abnormal")
#: file names of TUH recordings: ``aaaaamye_s001_t000.edf`` (v3) or ``00000021_s004_t000.edf`` (v2)
FILE_RE = re.compile(r"^(?P<subject>[A-Za-z0-9]+)_s(?P<session>\d+)_t(?P<token>\d+)\.edf$", re.IGNORECASE)
MONTAGE_DIR_RE = re.compile(r"^\d\d_tcp_(ar|le)(_a)?$")

INDEX_COLUMNS = ("recording", "subject", "session", "token", "split", "label", "path", "duration",
                 "sfreq", "n_times", "ch_names", "montage_type", "status", "reason")


def find_edf_root(root: str | Path) -> Path:
    """The folder that holds ``train/`` and/or ``eval/`` of a TUAB copy.

    Parameters
    ----------
    root : str | Path
        The release folder (holding ``edf/``) or its ``edf`` folder.

    Raises
    ------
    NotADirectoryError, FileNotFoundError, ValueError
        If ``root`` is not a TUAB folder (before any work).
    """
    root = check_path("root", root, kind="dir")
    for cand in (root / "edf", root):
        splits = [s for s in SPLITS if (cand / s).is_dir()]
        if splits and any((cand / s / lab).is_dir() for s in splits for lab in LABELS):
            return cand
    raise ValueError(
        f"The 'root' parameter must be a TUAB folder, with edf/{{train,eval}}/{{normal,abnormal}}/"
        f"01_tcp_ar/*.edf inside (or the edf folder itself), but {str(root)!r} has no "
        f"train/ or eval/ folder with normal/ or abnormal/ in it.")


def _header_row(path: Path, edf_root: Path, read_headers: bool = True) -> dict:
    rel = path.relative_to(edf_root)
    parts = rel.parts
    split = parts[0] if parts[0] in SPLITS else None
    label = parts[1] if len(parts) > 1 and parts[1] in LABELS else None
    montage_type = next((p for p in parts[2:-1] if MONTAGE_DIR_RE.match(p)), "")
    row = dict(recording=path.stem, subject="", session=-1, token=-1, split=split, label=label,
               path=str(path), duration=np.nan, sfreq=np.nan, n_times=-1, ch_names=[],
               montage_type=montage_type, status="ok", reason="")
    m = FILE_RE.match(path.name)
    if split is None or label is None:
        row.update(status="rejected", reason=f"not under {{train,eval}}/{{normal,abnormal}}: {rel}")
        return row
    if m is None:
        row.update(status="rejected", reason=f"unparsable file name {path.name!r} (expected "
                                             f"<subject>_s<session>_t<token>.edf)")
        return row
    row.update(subject=m["subject"], session=int(m["session"]), token=int(m["token"]))
    problem = edf_problem(path)
    if problem is not None:
        row.update(status="rejected", reason=problem)
        return row
    if not read_headers:
        return row
    try:
        import mne

        raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
        sfreq = float(raw.info["sfreq"])
        row.update(sfreq=sfreq, n_times=int(raw.n_times), duration=raw.n_times / sfreq,
                   ch_names=list(raw.ch_names))
    except Exception as exc:  # a corrupt header must not stop the scan
        row.update(status="rejected", reason=f"unreadable EDF header: {type(exc).__name__}: {exc}")
    return row


def scan_tuab(root: str | Path, verbose: bool = True, read_headers: bool = True) -> pd.DataFrame:
    """Index every ``.edf`` file under a TUAB folder, reading headers only.

    Parameters
    ----------
    root : path
        TUAB release folder (or its ``edf`` folder).
    verbose : bool
        Progress bar.
    read_headers : bool
        Read each header with MNE (sampling rate, duration, channel names). With
        False only the file names and the EDF size check are done, and the header
        columns are left empty: :func:`~neurosig.datasets.window_store.prepare_store`
        then reads each header in its worker, in parallel, with the same MNE call
        it uses for the data, and fills them in.

    Returns
    -------
    index : pandas.DataFrame
        One row per file, columns :data:`INDEX_COLUMNS`; ``status`` is ``"ok"``
        or ``"rejected"`` with the ``reason`` (unparsable name, truncated or
        unreadable EDF, duplicate recording id).
    """
    edf_root = find_edf_root(root)
    files = sorted(p for s in SPLITS if (edf_root / s).is_dir()
                   for p in (edf_root / s).rglob("*") if p.suffix.lower() == ".edf" and p.is_file())
    rows = [_header_row(p, edf_root, read_headers)
            for p in progress(files, desc="TUAB headers", verbose=verbose, unit="file")]
    index = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    # recording ids must be unique: they name the cache files
    dup = index["recording"].duplicated(keep="first") & (index["status"] == "ok")
    for i in np.flatnonzero(dup.to_numpy()):
        first = index.loc[index["recording"] == index.at[i, "recording"], "path"].iloc[0]
        index.loc[i, ["status", "reason"]] = ["rejected", f"duplicate recording id (first: {first})"]
    ok = index[index["status"] == "ok"]
    both = set(ok.loc[ok["split"] == "train", "subject"]) & set(ok.loc[ok["split"] == "eval", "subject"])
    if both:
        logger.warning("%d subjects have recordings in both train and eval (e.g. %s): the official "
                       "test set is then not subject-disjoint from training", len(both), sorted(both)[:3])
    logger.info("indexed %d EDF files under %s (%d rejected)", len(index), edf_root,
                int((index["status"] != "ok").sum()))
    return index


def save_index(index: pd.DataFrame, path: str | Path) -> Path:
    """Write an index table atomically (Parquet).

    Parameters
    ----------
    index : pandas.DataFrame
        Index table, one row per EDF file (columns ``INDEX_COLUMNS``).
    path : str | Path
        Parquet file to write (replaced atomically).
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        index.to_parquet(tmp, index=False)
    return path


def load_index(path: str | Path) -> pd.DataFrame:
    """Read an index table written by :func:`save_index`.

    Parameters
    ----------
    path : str | Path
        Parquet file written by :func:`save_index`.
    """
    index = pd.read_parquet(check_path("path", path, kind="file"))
    index["ch_names"] = index["ch_names"].map(list)
    return index


class TUAB:
    """A local copy of the TUH Abnormal EEG corpus.

    Parameters
    ----------
    root : path
        The release folder (holding ``edf/``) or its ``edf`` folder. Checked
        at construction: a folder that is not a TUAB copy raises at once.
    verbose : bool
        Progress bars.

    Examples
    --------
    >>> tuab = TUAB("~/data/tuh_eeg_abnormal/v3.0.1")          # doctest: +SKIP
    >>> tuab.index.groupby(["split", "label"]).size()          # doctest: +SKIP
    >>> tuab.prepare("~/neurosig_data/tuab_tcp16", n_jobs=2)   # doctest: +SKIP
    """

    def __init__(self, root: str | Path, verbose: bool = True):
        self.root = Path(root).expanduser()
        self.edf_root = find_edf_root(self.root)
        self.verbose = verbose
        self._index: pd.DataFrame | None = None

    @property
    def index(self) -> pd.DataFrame:
        """The index table (built on first access, headers only); see :func:`scan_tuab`."""
        if self._index is None:
            self._index = scan_tuab(self.edf_root, verbose=self.verbose)
        return self._index

    def prepare(self, cache: str | Path | None = None, config=None, n_jobs: int | None = 1,
                backend: str | None = None, overwrite: bool = False, scheduler: str | None = None,
                connect_timeout: float = 10.0, retries: int = 0):
        """Preprocess every usable recording into a window store at ``cache``.

        Parameters
        ----------
        cache : path | None
            Store folder. Default: ``$NEUROSIG_DATA/tuab_<montage>_<preprocessing hash>``
            (``NEUROSIG_DATA`` defaults to ``~/neurosig_data``).
        config : PreprocessingConfig | None
            The recipe (default 16-channel TCP, 0.1-75 Hz, notch 60 Hz, 200 Hz, 10 s).
        n_jobs, backend, overwrite, scheduler, connect_timeout, retries
            See :func:`neurosig.datasets.window_store.prepare_store`.

        Returns
        -------
        summary : dict
            See :func:`neurosig.datasets.window_store.prepare_store`; ``summary["cache"]``
            is the store folder.
        """
        from ..preprocessing.recipe import PreprocessingConfig
        from .window_store import prepare_store

        config = (config or PreprocessingConfig()).validate()
        if cache is None:
            base = Path(os.environ.get("NEUROSIG_DATA", "~/neurosig_data")).expanduser()
            cache = base / f"tuab_{config.montage}_{config.hash()}"

        # without a built index, the workers read the headers (one MNE parse per file, in parallel)
        index = self._index if self._index is not None else scan_tuab(
            self.edf_root, verbose=self.verbose, read_headers=False)
        summary = prepare_store(index, cache, config=config, n_jobs=n_jobs, backend=backend,
                                overwrite=overwrite, verbose=self.verbose, root=str(self.root),
                                scheduler=scheduler, connect_timeout=connect_timeout, retries=retries)
        summary["cache"] = Path(cache)
        return summary
