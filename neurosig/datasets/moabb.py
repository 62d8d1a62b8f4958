"""MOABB adapter: any MOABB dataset (or the simulated default) by name, loaded from a chosen folder.

The data folder is chosen once: the ``path`` argument, else the ``NEUROSIG_DATA``
environment variable, else MNE's own configuration (``MNE_DATA``, or MNE's
default ``~/mne_data``). It reaches MNE and MOABB through environment variables
set only while data is read (:func:`data_folder`), never through
``mne.set_config`` (which would write the user's ``~/.mne``). Inside that
context ``MOABB_DOWNLOAD_PROVIDER=upstream``: MOABB 1.7 otherwise first asks a
remote index (NEMAR) and retries it five times when offline, which makes a
dataset that is already on disk take ~40 s per subject to load.
"""
from __future__ import annotations

import difflib
import inspect
import os
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from neurosig._evaluations import check_evaluation_supported, n_sessions_of, resolve_evaluation  # noqa: F401
from neurosig._logging import get_logger
from neurosig._validation import validate_type
from neurosig.datasets.simulated_base import check_subjects_in

logger = get_logger(__name__)

#: names that give the simulated default
SIMULATED_NAMES = ("simulated", "SimulatedMotorImagery", "sim")
#: the simulated datasets by canonical name, with their extra aliases
_SIMULATED = {
    "SimulatedMotorImagery": ("neurosig.datasets.simulated", SIMULATED_NAMES),
    "SimulatedSSVEP": ("neurosig.datasets.simulated_ssvep", ("simulated-ssvep", "sim-ssvep")),
    "SimulatedP300": ("neurosig.datasets.simulated_p300", ("simulated-p300", "sim-p300")),
}
#: neurosig loaders that are not MOABB datasets (named in errors)
_OTHER_LOADERS = {"tuab": "neurosig.datasets.TUAB", "nsd": "neurosig.datasets.NSD"}

class MissingDataError(FileNotFoundError):
    """Data files (or the data folder) are missing and downloading was not asked for."""


def _offline_message(folder: Path | None, missing: list[tuple[str, str]], name: str = "") -> str:
    what = f"dataset {name} " if name else ""
    shown = "; ".join(f"{f} (from {u})" if u else f for f, u in missing[:10])
    more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    return (f"Missing data files for {what}in the data folder {str(folder)!r} (the 'path' / --data-path "
            f"folder, looked for in MNE's layout under it): {shown}{more}. Nothing was downloaded: with a "
            "data folder given, neurosig loads offline. Copy the files there, or ask for the download "
            "(download=True, or --download on the command line).")


@contextmanager
def _no_network(folder: Path | None, name: str = ""):
    """Refuse every download while data is read: the first missing file raises MissingDataError.

    Patches pooch's downloader (MNE and MOABB fetch files through it) and, as a guard,
    ``requests`` and ``urllib``: nothing leaves the machine.
    """
    from unittest import mock

    import pooch.core
    import requests.sessions

    missing: list[tuple[str, str]] = []

    def refuse_download(url, output_file, *args, **kwargs):
        missing.append((str(output_file), str(url)))
        raise MissingDataError(_offline_message(folder, missing, name))

    def refuse_request(*args, **kwargs):
        url = kwargs.get("url") or next((a for a in args if isinstance(a, str) and "://" in a), "?")
        missing.append(("(a network request)", str(url)))
        raise MissingDataError(_offline_message(folder, missing, name))

    with mock.patch.object(pooch.core, "stream_download", refuse_download), \
            mock.patch.object(requests.sessions.Session, "request", refuse_request), \
            mock.patch("urllib.request.urlopen", refuse_request):
        try:
            yield missing
        except MissingDataError:
            raise
        except Exception:
            if missing:  # a loader that swallowed the refusal and failed later: name the files
                raise MissingDataError(_offline_message(folder, missing, name)) from None
            raise


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@lru_cache(maxsize=1)
def _moabb_classes() -> dict[str, type]:
    """MOABB dataset classes by class name (fake test datasets excluded)."""
    from moabb.datasets.utils import dataset_list
    return {cls.__name__: cls for cls in dataset_list if not cls.__name__.startswith("Fake")}


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    """Normalised alias -> canonical name (MOABB class name or a simulated dataset's name)."""
    out = {_norm(a): canon for canon, (_, aliases) in _SIMULATED.items() for a in (canon, *aliases)}
    for name in _moabb_classes():
        out.setdefault(_norm(name), name)
    # MOABB codes (e.g. "PhysionetMotorImagery", "BNCI2014-001") without instantiating
    for name, cls in _moabb_classes().items():
        try:
            src = inspect.getsource(cls.__init__)
        except (OSError, TypeError):
            continue
        m = re.search(r"code\s*=\s*[\"']([A-Za-z0-9\-]+)[\"']", src)
        if m:
            out.setdefault(_norm(m.group(1)), name)
    return out


def list_moabb_datasets() -> list[str]:
    """Names of every MOABB dataset class that :func:`get_dataset` accepts."""
    return sorted(_moabb_classes())


def resolve_name(name: str) -> str:
    """Canonical dataset name for ``name`` (case-insensitive, ``_``/``-`` ignored).

    Parameters
    ----------
    name : str
        A dataset name or alias.

    Raises
    ------
    ValueError
        One line naming the parameter, close matches and the given value.
    """
    validate_type("name", name, str)
    key = _norm(name)
    aliases = _aliases()
    if key in aliases:
        return aliases[key]
    if key in _OTHER_LOADERS:
        raise ValueError(f"Invalid value for the 'name' parameter: {name!r} is not a MOABB dataset; "
                         f"use {_OTHER_LOADERS[key]} instead.")
    canon = sorted(set(aliases.values()))
    close = difflib.get_close_matches(key, list(aliases), n=5, cutoff=0.6)
    close = list(dict.fromkeys(aliases[c] for c in close))
    hint = f"Close matches: {', '.join(close)}" if close else \
        (f"Known datasets: 'simulated', 'simulated-ssvep', 'simulated-p300' and the "
         f"{len(canon) - len(_SIMULATED)} MOABB datasets (neurosig datasets list)")
    raise ValueError(f"Invalid value for the 'name' parameter. {hint}; but got {name!r} instead.")


def resolve_data_folder(path=None) -> Path | None:
    """The data folder: ``path``, else ``$NEUROSIG_DATA``, else None (MNE's own configuration).

    Parameters
    ----------
    path : str | os.PathLike | None, optional
        The data folder (``~`` expanded); it may be missing but must not be a file.
    """
    if path is None:
        path = os.environ.get("NEUROSIG_DATA") or None
        name = "NEUROSIG_DATA"
    else:
        name = "path"
        validate_type("path", path, (str, os.PathLike), "str or pathlib.Path")
    if path is None:
        return None
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise NotADirectoryError(f"The '{name}' parameter must be a folder, but {str(p)!r} is a file.")
    return p


def check_data_folder(folder: Path, name: str = "") -> Path:
    """Raise :class:`MissingDataError` when an offline data folder does not exist (nothing created).

    Parameters
    ----------
    folder : Path
        The data folder; returned when it exists.
    name : str, optional
        Dataset name shown in the error message.
    """
    if not folder.is_dir():
        what = f" for dataset {name}" if name else ""
        raise MissingDataError(
            f"Invalid value for the 'path' parameter (--data-path): the data folder {str(folder)!r}{what} "
            "does not exist. Allowed is an existing folder holding the dataset in MNE's layout; nothing "
            "was created or downloaded. Create it and copy the files there, or ask for the download "
            "(download=True, or --download on the command line).")
    return folder


def _signs_of(dataset) -> set[str]:
    """MNE config "signs" a MOABB dataset's module reads (e.g. EEGBCI, BNCI)."""
    signs = set()
    try:
        src = inspect.getsource(inspect.getmodule(type(dataset)))
    except (OSError, TypeError):
        return signs
    for pat in (r"get_dataset_path\(\s*[\"']([A-Za-z0-9_\-]+)[\"']",
                r"data_dl\([^,()]+,\s*[\"']([A-Za-z0-9_\-]+)[\"']",
                r"\bsign\s*=\s*[\"']([A-Za-z0-9_\-]+)[\"']"):
        signs.update(re.findall(pat, src))
    return signs


def config_keys(dataset=None) -> list[str]:
    """The MNE config keys that point MNE/MOABB at a folder for ``dataset``.

    ``MNE_DATA`` plus ``MNE_DATASETS_<SIGN>_PATH`` for every sign the dataset's
    MOABB module uses and for every such key already in the user's MNE config
    (so that a configured path cannot win over the one asked for).

    Parameters
    ----------
    dataset : BaseDataset | None, optional
        The MOABB dataset; None gives ``MNE_DATA`` and the keys already in the user's config.
    """
    import mne
    keys = {"MNE_DATA"}
    if dataset is not None:
        keys.update(f"MNE_DATASETS_{s.upper()}_PATH" for s in _signs_of(dataset))
        keys.add(f"MNE_DATASETS_{_norm(getattr(dataset, 'code', '')).upper()}_PATH")
    try:
        user = mne.get_config(use_env=False) or {}
    except Exception:  # unreadable config: nothing to override
        user = {}
    keys.update(k for k in user if re.fullmatch(r"MNE_DATASETS_[A-Z0-9_\-]+_PATH", k))
    return sorted(keys)


@contextmanager
def data_folder(path=None, dataset=None, provider: str | None = "upstream", offline: bool = False):
    """Point MNE and MOABB at a data folder for the duration of a ``with`` block.

    Sets environment variables (restored afterwards, whatever happens):
    ``MNE_DATA`` and ``MNE_DATASETS_<SIGN>_PATH`` for ``dataset`` when a folder
    is given (``path`` or ``$NEUROSIG_DATA``), and ``MOABB_DOWNLOAD_PROVIDER``.
    When neither gives a folder and MNE has no ``MNE_DATA`` configured, MNE's
    default ``~/mne_data`` is set in the environment, so that MOABB does not
    write it into ``~/.mne`` itself.

    Parameters
    ----------
    path : str | Path | None
        The data folder (created if missing, unless ``offline``).
    dataset : moabb BaseDataset | None
        Dataset whose config keys to set.
    provider : str | None
        Value for ``MOABB_DOWNLOAD_PROVIDER`` ("upstream": files come from the
        dataset's own host and a local copy loads without asking NEMAR);
        None leaves it alone.
    offline : bool
        Never download, never create the folder: a missing folder or file raises
        :class:`MissingDataError` naming it and the folder.

    Yields
    ------
    folder : Path | None
        The folder in use (None: MNE's own configuration).
    """
    import mne
    folder = resolve_data_folder(path)
    changes: dict[str, str] = {}
    if folder is not None:
        if offline:
            check_data_folder(folder, getattr(dataset, "code", ""))
        else:
            folder.mkdir(parents=True, exist_ok=True)
        changes.update({k: str(folder) for k in config_keys(dataset)})
    elif mne.get_config("MNE_DATA") is None:
        changes["MNE_DATA"] = str(Path.home() / "mne_data")
        Path(changes["MNE_DATA"]).mkdir(parents=True, exist_ok=True)
    if provider is not None:
        changes["MOABB_DOWNLOAD_PROVIDER"] = str(provider)
    old = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        if offline:
            with _no_network(folder, getattr(dataset, "code", "")):
                yield folder
        else:
            yield folder
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _InFolder:
    """Picklable wrapper running one dataset method inside :func:`data_folder`."""

    def __init__(self, dataset, method: str, folder, offline: bool = False):
        self.dataset, self.method, self.folder, self.offline = dataset, method, folder, offline

    def __call__(self, *args, **kwargs):
        with data_folder(self.folder, self.dataset, offline=self.offline):
            return getattr(type(self.dataset), self.method)(self.dataset, *args, **kwargs)


def get_dataset(name: str, path=None, subjects=None, download: bool | None = None, **params):
    """A dataset by name: any MOABB dataset, or the simulated default.

    Parameters
    ----------
    name : str
        MOABB class name or alias, case-insensitive, ``_``/``-`` ignored
        (``"BNCI2014_001"``, ``"bnci2014001"``, ``"PhysionetMI"``,
        ``"PhysionetMotorImagery"``), ``"simulated"`` / ``"SimulatedMotorImagery"``,
        ``"SimulatedSSVEP"`` (``"simulated-ssvep"``), ``"SimulatedP300"`` (``"simulated-p300"``),
        or ``"bids"`` (then ``path`` is the BIDS root and ``params`` go to
        :class:`~neurosig.datasets.bids.BIDSDataset`, e.g. ``event_map``, ``task``, ``interval``).
    path : str | Path | None
        Data folder; default ``$NEUROSIG_DATA``, else MNE's configuration.
        The folder holds MNE's usual layout (e.g.
        ``<path>/MNE-eegbci-data/files/eegmmidb/1.0.0/S001/`` for PhysionetMI).
    subjects : list of int | None
        Keep only these subjects (checked against the dataset's subjects).
    download : bool | None
        Allow downloading missing files. None (default): not when a data folder is
        given (``path`` or ``$NEUROSIG_DATA``): then a missing folder or file raises
        :class:`MissingDataError` naming it, and the folder is never created; with no
        folder given, MOABB's own behaviour (download into MNE's data folder).
    **params
        Passed to the dataset class (e.g. ``n_subjects``, ``seed`` for the
        simulated dataset, ``imagined`` for PhysionetMI).

    Returns
    -------
    dataset : moabb.datasets.base.BaseDataset
        Its ``get_data``, ``data_path`` and ``download`` run inside
        :func:`data_folder` for ``path``; ``neurosig_data_folder`` holds the folder.
    """
    if isinstance(name, str) and _norm(name) in ("bids", "bidsdataset"):
        from neurosig.datasets.bids import BIDSDataset
        if path is None:
            raise ValueError("Invalid value for the 'path' parameter. A BIDS dataset needs path=<BIDS root>, "
                             "but got None instead.")
        return BIDSDataset(path, subjects=subjects, **params)
    canon = resolve_name(name)
    folder = resolve_data_folder(path)
    if download is not None and not isinstance(download, bool):
        raise TypeError(f"The 'download' parameter must be True, False or None, but got {download!r} instead.")
    offline = (folder is not None) if download is None else not download
    if canon in _SIMULATED:
        import importlib
        cls = getattr(importlib.import_module(_SIMULATED[canon][0]), canon)
    else:
        cls = _moabb_classes()[canon]
    try:
        dataset = cls(**params)
    except TypeError as exc:
        allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
        raise TypeError(f"Invalid parameters for dataset {canon}: {exc}. "
                        f"Allowed parameters are {', '.join(allowed)}.") from None
    if subjects is not None:
        subjects = check_subjects_in(subjects, dataset.subject_list, canon)
        dataset.subject_list = list(subjects)
    if canon not in _SIMULATED:
        if offline and folder is not None:
            check_data_folder(folder, canon)  # before any work: nothing created, nothing fetched
        for method in ("get_data", "data_path", "download", "_get_single_subject_data"):
            setattr(dataset, method, _InFolder(dataset, method, folder, offline))
    dataset.neurosig_data_folder = folder
    dataset.neurosig_name = canon
    return dataset


def check_subjects(dataset, subjects) -> list:
    """Return ``subjects`` as a list if the dataset has them all, else raise a one-line ValueError.

    Parameters
    ----------
    dataset : BaseDataset
        The dataset; its ``all_subjects`` (or ``subject_list``) are the allowed subjects.
    subjects : int | list of int
        Subjects asked for.
    """
    return check_subjects_in(subjects, getattr(dataset, "all_subjects", dataset.subject_list),
                             getattr(dataset, "neurosig_name", None) or type(dataset).__name__)


