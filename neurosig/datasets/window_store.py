"""Window store: one preprocessing pass over an EDF index, windows on disk, streamed to PyTorch.

Layout of a store folder ``CACHE``::

    CACHE/store.json          configuration, signal contract, preprocessing hash, completeness
    CACHE/index.parquet       the recording index (status, reason, n_windows per recording)
    CACHE/windows.parquet     one row per window: recording, subject, label, split, start
    CACHE/recordings/<id>.h5  windows of one recording: dataset "X", float32 microvolts,
                              shape (n_windows, n_channels, n_times), contiguous (memory-mappable)

The store is chunked by recording: one HDF5 file per recording is the unit of
writing, resuming and reading.
    CACHE/rejected/<id>.json  why a recording was skipped

Every recording file is written to a temporary name and renamed when complete,
so a crash leaves either a whole file or none; a rerun skips the recordings
whose file (or rejection note) carries the same preprocessing hash, and
finishes the rest. Rejections are cached the same way: delete
``CACHE/rejected/<id>.json`` (or the recording's ``.h5``) to have one recording
redone, e.g. after replacing its EDF file. Recordings run in parallel (one per worker process, so
memory is bounded by ``n_jobs`` recordings, not by the corpus).
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._io import atomic_path
from .._logging import get_logger
from .._validation import check_path
from ..parallel import resolve_backend, run_tasks
from ..preprocessing.channels import normalize_channel_names
from ..preprocessing.montage import missing_electrodes
from ..preprocessing.recipe import PreprocessingConfig, preprocess_recording

logger = get_logger(__name__)

STORE_FILE = "store.json"
INDEX_FILE = "index.parquet"
WINDOWS_FILE = "windows.parquet"
REC_DIR = "recordings"
REJ_DIR = "rejected"
LABEL_IDS = {"normal": 0, "abnormal": 1}
DATASET_SPLITS = ("train", "val", "test", "all")


# ---------------------------------------------------------------------------------------------
# preparation (worker side)
# ---------------------------------------------------------------------------------------------

def _write_recording(path: Path, windows: np.ndarray, attrs: dict) -> None:
    """Write one recording's windows atomically (temporary file, then rename)."""
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            # contiguous and uncompressed: readers memory-map it (EEG float32 barely compresses)
            f.create_dataset("X", data=windows)
            for k, v in attrs.items():
                f.attrs[k] = v


def _write_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))


def _reject(task: dict, reason: str, header: dict) -> dict:
    _write_json(Path(task["cache"]) / REJ_DIR / f"{task['recording']}.json",
                {"recording": task["recording"], "reason": reason, "config_hash": task["config_hash"],
                 "header": header})
    return {"recording": task["recording"], "status": "rejected", "reason": reason, "n_windows": 0,
            **header}


def _check_recording(header: dict, config: PreprocessingConfig) -> tuple[str | None, list[str]]:
    """Reason to reject (or None) and the original names of the montage electrodes, in order."""
    mapping = normalize_channel_names(header["ch_names"])
    missing = missing_electrodes(list(mapping.values()), config.montage)
    if missing:
        return f"missing electrodes: {', '.join(missing)}", []
    problem = config.sfreq_problem(float(header["sfreq"]))
    if problem:
        return problem, []
    if header["duration"] < config.window_s:
        return (f"shorter than one window: {header['duration']:.1f} s < {config.window_s:g} s"), []
    inverse = {canon: orig for orig, canon in mapping.items()}
    return None, [inverse[e] for e in config.electrodes()]


def process_recording(task: dict) -> dict:
    """Preprocess one recording into ``CACHE/recordings/<id>.h5`` (or a rejection note).

    Never raises for a bad file: the reason is returned and written to
    ``CACHE/rejected/<id>.json``. The EDF file is opened once, with
    ``mne.io.read_raw_edf(preload=False)``; only the montage's electrodes are read.

    Parameters
    ----------
    task : dict
        Keys ``recording, path, subject, label, split, config (dict), config_hash, cache``.

    Returns
    -------
    result : dict
        ``recording, status ("ok" | "rejected"), reason, n_windows`` and the header
        fields ``sfreq, n_times, duration, ch_names`` (None when unreadable).
    """
    import mne

    config = PreprocessingConfig.from_dict(task["config"])
    header = {"sfreq": None, "n_times": None, "duration": None, "ch_names": None}
    try:
        raw = mne.io.read_raw_edf(task["path"], preload=False, verbose="error")
        sfreq = float(raw.info["sfreq"])
        header = {"sfreq": sfreq, "n_times": int(raw.n_times), "duration": raw.n_times / sfreq,
                  "ch_names": list(raw.ch_names)}
    except Exception as exc:  # a corrupt header: reject, never stop the job
        return _reject(task, f"unreadable EDF header: {type(exc).__name__}: {exc}", header)
    reason, picks = _check_recording(header, config)
    if reason:
        return _reject(task, reason, header)
    try:
        pos = {n: i for i, n in enumerate(raw.ch_names)}
        data = raw.get_data(picks=[pos[n] for n in picks], units="uV")
        del raw
    except Exception as exc:  # corrupt data records
        return _reject(task, f"unreadable EDF data: {type(exc).__name__}: {exc}", header)
    windows = preprocess_recording(data, config.electrodes(), header["sfreq"], config)
    if windows.shape[0] == 0:
        return _reject(task, "shorter than one window after resampling", header)
    attrs = {"recording": task["recording"], "subject": task["subject"], "label": task["label"],
             "split": task["split"], "config_hash": task["config_hash"], "source": task["path"],
             "header": json.dumps(header)}
    _write_recording(Path(task["cache"]) / REC_DIR / f"{task['recording']}.h5", windows, attrs)
    return {"recording": task["recording"], "status": "ok", "reason": "",
            "n_windows": int(windows.shape[0]), **header}


def _done_result(cache: Path, recording: str, config_hash: str) -> dict | None:
    """Result of a recording finished by an earlier run with the same configuration, or None."""
    import h5py

    h5 = cache / REC_DIR / f"{recording}.h5"
    if h5.is_file():
        try:
            with h5py.File(h5, "r") as f:
                if f.attrs.get("config_hash") == config_hash:
                    return {"recording": recording, "status": "ok", "reason": "",
                            "n_windows": int(f["X"].shape[0]), **json.loads(f.attrs["header"])}
        except OSError:
            pass  # unreadable leftover: redo it
    rej = cache / REJ_DIR / f"{recording}.json"
    if rej.is_file():
        try:
            note = json.loads(rej.read_text())
            if note.get("config_hash") == config_hash:
                return {"recording": recording, "status": "rejected", "reason": note["reason"],
                        "n_windows": 0, **note.get("header", {})}
        except (OSError, ValueError, KeyError):
            pass
    return None


# ---------------------------------------------------------------------------------------------
# preparation (client side)
# ---------------------------------------------------------------------------------------------

def read_store_meta(cache: str | Path) -> dict:
    """The ``store.json`` of a window store (raises a clear error when there is none).

    Parameters
    ----------
    cache : str | Path
        Window store folder (written by :func:`prepare_store`).
    """
    cache = check_path("cache", cache, kind="dir")
    meta_path = cache / STORE_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"The 'cache' parameter points to {str(cache)!r}, which is not a window "
                                f"store (no {STORE_FILE}); run `neurosig tuab prepare ROOT --cache DIR` first.")
    return _read_manifest(meta_path)


def _read_manifest(meta_path: Path) -> dict:
    """Parse a store's ``store.json``; a corrupt file is an error naming it."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"The window store manifest {str(meta_path)!r} is corrupt (not valid JSON: {exc}); "
                         "expected the JSON object written by `neurosig tuab prepare`. Rebuild the store "
                         "(prepare with overwrite / --overwrite) or use another cache folder.") from None
    if not isinstance(meta, dict):
        raise ValueError(f"The window store manifest {str(meta_path)!r} is corrupt: expected a JSON object, "
                         f"but got {type(meta).__name__}. Rebuild the store (overwrite) or use another folder.")
    return meta


def prepare_store(index: pd.DataFrame, cache: str | Path, config: PreprocessingConfig | None = None,
                  n_jobs: int | None = 1, backend: str | None = None, overwrite: bool = False,
                  verbose: bool = True, root: str = "", scheduler: str | None = None,
                  connect_timeout: float = 10.0, retries: int = 0) -> dict:
    """Preprocess the usable recordings of ``index`` into a window store (resumable).

    Parameters
    ----------
    index : pandas.DataFrame
        Recording index from :func:`neurosig.datasets.tuab.scan_tuab`.
    cache : path
        Store folder (created). A folder prepared with another configuration
        raises unless ``overwrite=True``.
    config : PreprocessingConfig | None
        The recipe (default: ``PreprocessingConfig()``, 16-channel TCP, 200 Hz, 10 s).
    n_jobs : int | None
        Worker processes (``-1``: all cores).
    backend : {"sequential", "processes", "dask"} | None
        Default: ``"processes"`` when ``n_jobs != 1`` (``"dask"``: one task per recording
        on a Dask cluster, see :func:`neurosig.parallel.run_tasks`; workers read the EDF
        files and write their recording's files into ``cache``, so both paths must be on
        a filesystem the workers share).
    overwrite : bool
        Delete a store prepared with another configuration instead of raising.
    verbose : bool
        Progress bar.
    root : str
        Source folder, recorded in ``store.json``.
    scheduler : str | None
        Address of a running Dask scheduler (``"tcp://host:8786"``); implies ``"dask"``.
    connect_timeout : float
        Seconds to wait for ``scheduler`` before a :class:`ConnectionError`.
    retries : int
        Times a recording whose processing raises unexpectedly is retried.

    Returns
    -------
    summary : dict
        ``n_recordings, n_ok, n_rejected, n_windows, n_skipped_done, contract``.
    """
    config = (config or PreprocessingConfig()).validate()
    backend = resolve_backend(backend, n_jobs, scheduler, connect_timeout)
    missing_cols = [c for c in ("recording", "path", "subject", "label", "split", "status", "reason")
                    if c not in index.columns]
    if missing_cols:
        raise ValueError(f"The 'index' parameter lacks the columns {missing_cols}; build it with "
                         f"neurosig.datasets.tuab.scan_tuab.")
    cache = Path(cache).expanduser()
    meta = _open_store(cache, config, overwrite, root)
    index = index.reset_index(drop=True).copy()
    results, tasks = _pending_recordings(index, cache, config)
    n_done_before = len(results)
    if n_done_before:
        logger.info("resuming: %d recordings already prepared, %d to go", n_done_before, len(tasks))

    def on_result(res) -> None:
        if res.ok:
            results[res.task["recording"]] = res.value
        else:  # an unexpected error (a bug, not a bad file): not cached, so a rerun retries it
            results[res.task["recording"]] = {"recording": res.task["recording"], "status": "error",
                                             "reason": res.error.strip().splitlines()[-1], "n_windows": 0}

    run_tasks(process_recording, tasks, backend=backend, n_jobs=n_jobs, on_result=on_result,
              verbose=verbose, desc="TUAB recordings", scheduler=scheduler,
              connect_timeout=connect_timeout, retries=retries)
    n_windows = _finish_store(index, results, cache, config, meta)
    n_err = int((index["status"] == "error").sum())
    if n_err:
        logger.warning("%d recordings failed with an unexpected error; rerun prepare to retry them", n_err)
    return {"n_recordings": int(len(index)), "n_ok": int((index["status"] == "ok").sum()),
            "n_rejected": int((index["status"] == "rejected").sum()), "n_errors": n_err,
            "n_windows": n_windows, "n_skipped_done": n_done_before,
            "contract": config.contract()}


def _open_store(cache: Path, config: PreprocessingConfig, overwrite: bool, root: str) -> dict:
    """Make ``cache`` a store of ``config``: refuse (or, with ``overwrite``, clear) a store of another
    configuration, remove the temporary files of a killed run, write an incomplete ``store.json``
    and return its content."""
    if cache.exists() and not cache.is_dir():
        raise NotADirectoryError(f"The 'cache' parameter must be a folder, but {str(cache)!r} is a file.")
    chash = config.hash()
    meta_path = cache / STORE_FILE
    if meta_path.is_file():
        try:
            old = _read_manifest(meta_path)
        except ValueError:
            if not overwrite:
                raise
            old = {}  # corrupt: rebuilt from scratch with overwrite
        if old.get("preprocessing_hash") != chash:
            if not overwrite:
                raise ValueError(
                    f"The 'cache' folder {str(cache)!r} holds a store prepared with another configuration "
                    f"(hash {old.get('preprocessing_hash')}, {old.get('config')}); the requested one is "
                    f"{chash} ({config.to_dict()}). Use another folder or overwrite=True.")
            for sub in (REC_DIR, REJ_DIR):
                shutil.rmtree(cache / sub, ignore_errors=True)
            for name in (STORE_FILE, INDEX_FILE, WINDOWS_FILE):
                (cache / name).unlink(missing_ok=True)
    for sub in (REC_DIR, REJ_DIR):
        (cache / sub).mkdir(parents=True, exist_ok=True)
        for tmp in (cache / sub).glob(".*.tmp"):  # leftovers of a killed run
            tmp.unlink(missing_ok=True)
    meta = {"format": "neurosig-window-store", "version": 1, "source": "tuab", "root": root,
            "config": config.to_dict(), "preprocessing_hash": chash,
            "contract": config.contract().to_dict(), "complete": False}
    _write_json(meta_path, meta)
    return meta


def _pending_recordings(index: pd.DataFrame, cache: Path, config: PreprocessingConfig) -> tuple[dict, list]:
    """Split the usable recordings of ``index`` into those already in the store (their results, by
    recording) and the tasks still to run (one dict per recording, for :func:`process_recording`)."""
    chash, cfg = config.hash(), config.to_dict()
    results: dict[str, dict] = {}
    tasks = []
    for row in index.itertuples(index=False):
        if row.status != "ok":
            continue
        done = _done_result(cache, row.recording, chash)
        if done is not None:
            results[row.recording] = done
            continue
        tasks.append({"recording": row.recording, "path": row.path, "subject": row.subject,
                      "label": row.label, "split": row.split, "config": cfg,
                      "config_hash": chash, "cache": str(cache)})
    return results, tasks


def _finish_store(index: pd.DataFrame, results: dict, cache: Path, config: PreprocessingConfig,
                  meta: dict) -> int:
    """Write each recording's outcome into ``index`` (in place), then the index, the window table and
    the final ``store.json`` (complete when no recording failed unexpectedly); return the window count."""
    n_windows = np.zeros(len(index), dtype=np.int64)
    for i, row in enumerate(index.itertuples(index=False)):
        res = results.get(row.recording)
        if res is None:
            continue
        index.at[i, "status"] = res["status"]
        index.at[i, "reason"] = res["reason"]
        n_windows[i] = res["n_windows"]
        if res.get("sfreq") is not None:  # header read by the worker
            index.at[i, "sfreq"] = res["sfreq"]
            index.at[i, "n_times"] = res["n_times"]
            index.at[i, "duration"] = res["duration"]
            index.at[i, "ch_names"] = list(res["ch_names"])
    index["n_windows"] = n_windows
    with atomic_path(cache / INDEX_FILE) as tmp:
        index.to_parquet(tmp, index=False)
    windows = _window_table(index, config)
    with atomic_path(cache / WINDOWS_FILE) as tmp:
        windows.to_parquet(tmp, index=False)
    n_err = int((index["status"] == "error").sum())
    meta.update(complete=n_err == 0, n_windows=int(len(windows)),
                n_recordings=int((index["status"] == "ok").sum()))
    _write_json(cache / STORE_FILE, meta)
    return int(len(windows))


def _window_table(index: pd.DataFrame, config: PreprocessingConfig) -> pd.DataFrame:
    ok = index[index["status"] == "ok"]
    counts = ok["n_windows"].to_numpy()
    rep = np.repeat(np.arange(len(ok)), counts)
    pos = np.concatenate([np.arange(c) for c in counts]) if len(counts) else np.zeros(0, dtype=np.int64)
    return pd.DataFrame({
        "recording": ok["recording"].to_numpy()[rep].astype(str),
        "subject": ok["subject"].to_numpy()[rep].astype(str),
        "label": ok["label"].to_numpy()[rep].astype(str),
        "split": ok["split"].to_numpy()[rep].astype(str),
        "window": pos.astype(np.int64),
        "start": pos * float(config.window_s),
    })


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------

def split_subjects(subjects: Sequence[str], val_fraction: float = 0.2, seed: int = 0) -> set[str]:
    """Subjects of the training folder assigned to validation (deterministic from ``seed``).

    Parameters
    ----------
    subjects : sequence of str
        Subject ids (duplicates allowed; order does not matter).
    val_fraction : float
        Fraction of subjects held out, in [0, 1).
    seed : int
        Seed of the permutation.

    Returns
    -------
    val : set of str
        ``round(val_fraction * n_subjects)`` subjects (at least one when the
        fraction is positive and there are two or more subjects).
    """
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"Invalid value for the 'val_fraction' parameter. Allowed values are numbers "
                         f"in [0, 1), but got {val_fraction!r} instead.")
    uniq = sorted(set(map(str, subjects)))
    n_val = int(round(val_fraction * len(uniq)))
    if val_fraction > 0 and n_val == 0 and len(uniq) >= 2:
        n_val = 1
    perm = np.random.default_rng(seed).permutation(len(uniq))
    return {uniq[i] for i in perm[:n_val]}


def store_info(cache: str | Path) -> dict:
    """Summary of a window store: counts per split and label, hours, rejected files and why.

    Parameters
    ----------
    cache : str | Path
        Window store folder (written by :func:`prepare_store`).

    Returns
    -------
    info : dict
        ``table`` (DataFrame: split, label, recordings, windows, hours), ``rejected``
        (DataFrame: path, reason), ``contract`` (dict), ``complete`` (bool), ``config`` (dict).
    """
    meta = read_store_meta(cache)
    cache = Path(cache).expanduser()
    index = pd.read_parquet(cache / INDEX_FILE) if (cache / INDEX_FILE).is_file() else None
    if index is None:
        raise ValueError(f"The window store at {str(cache)!r} has no {INDEX_FILE} yet: the first "
                         f"preparation run was interrupted; run prepare again.")
    ok = index[index["status"] == "ok"]
    win_s = float(meta["config"]["window_s"])
    table = (ok.groupby(["split", "label"])
               .agg(recordings=("recording", "size"), windows=("n_windows", "sum"),
                    recorded_hours=("duration", lambda d: float(np.sum(d)) / 3600.0))
               .reset_index())
    table["window_hours"] = table["windows"] * win_s / 3600.0
    rejected = index.loc[index["status"] != "ok", ["path", "status", "reason"]].reset_index(drop=True)
    return {"table": table, "rejected": rejected, "contract": meta["contract"],
            "complete": bool(meta.get("complete")), "config": meta["config"]}
