"""A lab's own BIDS EEG recordings as a MOABB dataset (read through mne-bids).

The user maps the event names found in the BIDS ``events.tsv`` files
(``trial_type``) to class names, in Python or in a YAML/JSON event-map file
(:func:`read_event_map`); the result is a MOABB
:class:`~moabb.datasets.base.BaseDataset` that paradigms, evaluations and the
neurosig benchmark (``neurosig benchmark --datasets bids:PATH --event-map FILE``)
accept like any MOABB dataset.
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Annotated

import numpy as np
from annotated_types import MinLen
from moabb.datasets.base import BaseDataset
from pydantic import Field

from neurosig._logging import get_logger
from neurosig._schema import Schema, validate
from neurosig._validation import check_path, validate_type
from neurosig.datasets.simulated_base import check_subjects_in

logger = get_logger(__name__)

_RAW_EXTENSIONS = (".vhdr", ".edf", ".bdf", ".set", ".fif", ".cnt", ".mff")
_KEEP = re.compile(r"^(bad|edge)", re.IGNORECASE)


_Name = Annotated[str, MinLen(1)]


class EventMapSchema(Schema):
    """An event-map file: its top level is the mapping itself (YAML or JSON)."""

    event_map: Annotated[dict[_Name, _Name], MinLen(1)] = Field(
        description="The whole file: BIDS event name (`trial_type` in events.tsv) -> class name, e.g. "
                    "`imagery/left: left_hand`; several names may map to one class; numeric names are "
                    "read as text.")


def read_event_map(path: str | os.PathLike) -> dict[str, str]:
    """Read an event-map file (YAML or JSON): BIDS event name -> class name.

    Parameters
    ----------
    path : str | os.PathLike
        The file; its top level is a mapping such as ``{"imagery/left": "left_hand"}``.

    Returns
    -------
    event_map : dict of str to str
        The mapping, checked against :class:`EventMapSchema` (errors name the file and key).
    """
    from neurosig._io import read_yaml

    what = "Event map file"
    data = read_yaml(path, "event_map", what, mapping=False)
    if isinstance(data, dict):  # YAML reads `1: left_hand` with an int key; events.tsv names are text
        data = {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v for k, v in data.items()}
    return dict(validate(EventMapSchema, {"event_map": data}, what=what, source=Path(path),
                         top="event map").event_map)


def _label_name(index: int, label: str | None, prefix: str) -> str:
    """MOABB session/run name: an index then letters/digits (e.g. ``"0ses01"``)."""
    if label is None:
        return str(index)
    if re.fullmatch(r"[0-9]+[a-zA-Z]+[a-zA-Z0-9]*", label):
        return label
    return f"{index}{prefix}{re.sub(r'[^A-Za-z0-9]', '', label)}"


class BIDSDataset(BaseDataset):
    """A local BIDS EEG dataset, with the user's mapping from event names to classes.

    Parameters
    ----------
    root : str | Path
        Root of the BIDS dataset (holds ``dataset_description.json`` and ``sub-*``).
    event_map : dict of str to str | str | Path
        BIDS event name (``trial_type`` in ``events.tsv``) -> class name, e.g.
        ``{"imagery/left": "left_hand", "imagery/right": "right_hand"}``, or a YAML/JSON
        file holding that mapping (read with :func:`read_event_map`).
        Several event names may map to one class; events not in the map are ignored.
    task : str | None
        Only recordings of this BIDS task (default: all).
    interval : tuple of float
        Start and end (s) of the trial window relative to the event onset.
    paradigm : str
        MOABB paradigm family: ``"imagery"``, ``"p300"`` or ``"ssvep"``.
    datatype : str
        BIDS datatype folder (``"eeg"``).
    code : str | None
        Dataset code used in results (default ``"BIDSDataset-<root folder name>"``).
    subjects : list of int | None
        Restrict to these subjects (numbers as listed in ``subject_labels``).

    Attributes
    ----------
    subject_labels : dict of int to str
        Subject number -> BIDS label (``1 -> "01"``).
    event_id : dict of str to int
        Class name -> code (1, 2, ... in order of first appearance in ``event_map``).
    """

    def __init__(self, root, event_map: dict, task: str | None = None, interval=(0.0, 4.0),
                 paradigm: str = "imagery", datatype: str = "eeg", code: str | None = None,
                 subjects=None):
        import mne_bids

        self.root = check_path("root", root, kind="dir")
        if not (self.root / "dataset_description.json").is_file():
            raise FileNotFoundError(f"The 'root' parameter must be the root of a BIDS dataset (with "
                                    f"dataset_description.json), but {str(self.root)!r} has none.")
        self._event_map_file = None  # private: not part of the dataset's identity in result keys
        if isinstance(event_map, (str, os.PathLike)):
            self._event_map_file = Path(event_map)
            event_map = read_event_map(event_map)
        validate_type("event_map", event_map, dict, "dict or path of an event-map file")
        if not event_map or not all(isinstance(k, str) and isinstance(v, str) for k, v in event_map.items()):
            raise ValueError(f"Invalid value for the 'event_map' parameter. Allowed values are non-empty "
                             f"dicts from BIDS event names to class names, but got {event_map!r} instead.")
        if task is not None:
            validate_type("task", task, str)
        interval = list(interval)
        if len(interval) != 2 or not interval[0] < interval[1]:
            raise ValueError(f"Invalid value for the 'interval' parameter. Allowed values are "
                             f"[start, end] with start < end (s), but got {interval!r} instead.")
        self.event_map = dict(event_map)
        self.task = task
        self.datatype = datatype
        classes = list(dict.fromkeys(event_map.values()))
        events = {c: i + 1 for i, c in enumerate(classes)}

        paths = [p for p in mne_bids.find_matching_paths(
            self.root, tasks=task, datatypes=datatype, suffixes=datatype,
            extensions=list(_RAW_EXTENSIONS)) if p.extension in _RAW_EXTENSIONS]
        if not paths:
            what = f" for task {task!r}" if task else ""
            raise FileNotFoundError(f"No {datatype} recordings{what} found under the BIDS root {str(self.root)!r}.")
        labels = sorted({p.subject for p in paths})
        if all(lab.isdigit() for lab in labels) and len({int(lab) for lab in labels}) == len(labels):
            self.subject_labels = {int(lab): lab for lab in labels}
        else:
            self.subject_labels = {i + 1: lab for i, lab in enumerate(labels)}
        self._paths = {s: sorted((p for p in paths if p.subject == lab), key=lambda p: (p.session or "", p.run or ""))
                       for s, lab in self.subject_labels.items()}
        self._check_events(paths)
        n_sessions = min(len({p.session for p in ps}) for ps in self._paths.values())
        all_subjects = sorted(self.subject_labels)
        if subjects is not None:
            subjects = check_subjects_in(subjects, all_subjects, f"BIDS dataset {self.root.name}")
        # MOABB wants the class name to abbreviate the code: "BIDSDataset-<lowercase root name>"
        code = code or "BIDSDataset-" + (re.sub(r"[^a-z0-9]", "", self.root.name.lower()) or "local")
        super().__init__(subjects=all_subjects, sessions_per_subject=n_sessions, events=events,
                         code=code, interval=interval, paradigm=paradigm,
                         selected_subjects=subjects)

    def _check_events(self, paths) -> None:
        """Every mapped event name must occur in some events.tsv (catches typos before any work)."""
        import pandas as pd
        found: set[str] = set()
        for p in paths:
            tsv = p.copy().update(suffix="events", extension=".tsv", check=False).fpath
            if Path(tsv).is_file():
                found.update(pd.read_csv(tsv, sep="\t")["trial_type"].dropna().astype(str))
        missing = [k for k in self.event_map if k not in found]
        if missing:
            where = (f"event map file {str(self._event_map_file)!r}" if self._event_map_file is not None
                     else "the 'event_map' parameter")
            raise ValueError(f"Invalid value in {where}: event names {missing} do not occur in the "
                             f"events.tsv files under {str(self.root)!r}; the recordings have {sorted(found)}.")

    def data_path(self, subject, path=None, force_update=False, update_path=None, verbose=None):
        """The raw files of one subject (list of Path).

        Parameters
        ----------
        subject : int
            Subject number, one of ``self.all_subjects``.
        path : str | None
            Unused: the files are read in place from the BIDS root. Kept for MOABB's
            ``BaseDataset.data_path`` signature, as are the next three parameters.
        force_update : bool
            Unused (nothing is downloaded).
        update_path : bool | None
            Unused.
        verbose : bool | str | int | None
            Unused.

        Returns
        -------
        list of Path
            The subject's raw recording files, sorted by session and run.
        """
        check_subjects_in([subject], self.all_subjects, self.code)
        return [p.fpath for p in self._paths[subject]]

    def _get_single_subject_data(self, subject):
        import mne
        import mne_bids

        check_subjects_in([subject], self.all_subjects, self.code)
        data: dict = {}
        sessions = list(dict.fromkeys(p.session for p in self._paths[subject]))
        for bp in self._paths[subject]:
            with warnings.catch_warnings():  # EOG/misc channels without positions are expected
                warnings.filterwarnings("ignore", "There are channels without locations", RuntimeWarning)
                warnings.filterwarnings("ignore", "Not setting positions of", RuntimeWarning)
                raw = mne_bids.read_raw_bids(bp, verbose=False)
            raw.load_data()
            ann = raw.annotations
            keep, desc = [], []
            for i, d in enumerate(ann.description):
                if d in self.event_map:
                    keep.append(i), desc.append(self.event_map[d])
                elif _KEEP.match(d):
                    keep.append(i), desc.append(d)
            new = mne.Annotations(ann.onset[keep], ann.duration[keep], np.array(desc, dtype=object),
                                  orig_time=ann.orig_time)
            raw.set_annotations(new, verbose=False)
            session = _label_name(sessions.index(bp.session), bp.session, "ses")
            runs = data.setdefault(session, {})
            runs[_label_name(len(runs), bp.run, "run")] = raw
        return data
