"""Dataset cards (``datasets/*.yml``) and local completeness checks.

A card names a dataset, where it comes from, its licence and citation, the
expected folder layout and which paradigms need which files. For MOABB
datasets the descriptive fields (source, licence, citation, channels,
sampling rate, subjects, sessions, classes) are generated from the class's
``METADATA`` rather than retyped; the YAML only adds the layout. The
simulated card is filled from :class:`SimulatedMotorImagery` itself.

:func:`check_dataset` verifies a local copy: every expected file present,
sha256 checksums where MNE/MOABB know them (MNE ships
``mne/data/eegbci_checksums.txt`` for PhysionetMI), and which paradigms can
still run with what is there.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from neurosig._io import read_yaml
from neurosig._logging import get_logger
from neurosig._resources import resource_dir

logger = get_logger(__name__)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@lru_cache(maxsize=1)
def _cards() -> dict[str, dict]:
    out = {}
    for f in sorted(resource_dir("datasets").glob("*.yml")):
        card = read_yaml(f, "card", "Dataset card", mapping=False)
        if not isinstance(card, dict) or "name" not in card:
            raise ValueError(f"Dataset card {f} is not a mapping with a 'name' key.")
        card["_file"] = str(f)
        out[card["name"]] = card
    return out


def list_cards() -> list[str]:
    """Names of the datasets that have a card."""
    return list(_cards())


def load_card(name: str) -> dict:
    """The card of ``name`` (card name, alias or MOABB name; case-insensitive), with generated fields.

    Parameters
    ----------
    name : str
        Card name, one of its aliases or its MOABB class name; case and punctuation
        are ignored.

    Returns
    -------
    card : dict
        YAML fields plus ``source``, ``licence``, ``citation``, ``doi``,
        ``n_subjects``, ``sessions_per_subject``, ``runs_per_session``,
        ``sampling_rate``, ``channels``, ``classes`` (generated for MOABB and
        simulated datasets).
    """
    cards = _cards()
    key = _norm(name)
    for card in cards.values():
        names = [card["name"], *card.get("aliases", []), card.get("moabb") or ""]
        if key in {_norm(n) for n in names if n}:
            return _complete(dict(card))
    import difflib
    close = difflib.get_close_matches(key, [_norm(n) for n in cards], n=3, cutoff=0.5)
    close = [n for n in cards if _norm(n) in close]
    raise ValueError(f"Invalid value for the 'name' parameter. Datasets with a card are "
                     f"{', '.join(cards)}{' (close: ' + ', '.join(close) + ')' if close else ''}, "
                     f"but got {name!r} instead.")


def _complete(card: dict) -> dict:
    """Fill the descriptive fields from MOABB METADATA or the simulated class."""
    if card.get("moabb"):
        from neurosig.datasets.moabb import _moabb_classes
        cls = _moabb_classes()[card["moabb"]]
        md = getattr(cls, "METADATA", None)
        if md is None:
            return card
        doc, acq, exp = md.documentation, md.acquisition, md.experiment
        authors = list(doc.investigators or [])
        who = (authors[0] + (" et al." if len(authors) > 1 else "")) if authors else doc.institution
        title = doc.description or card["name"]
        card.setdefault("source", doc.data_url or doc.repository or f"MOABB {card['moabb']}")
        card.setdefault("licence", doc.license or "not stated in MOABB metadata")
        card.setdefault("doi", doc.doi)
        card.setdefault("citation", f"{who} ({doc.publication_year}). {title}."
                        + (f" doi:{doc.doi}" if doc.doi else ""))
        card.setdefault("n_subjects", md.participants.n_subjects)
        card.setdefault("sessions_per_subject", md.sessions_per_subject)
        card.setdefault("runs_per_session", md.runs_per_session)
        card.setdefault("sampling_rate", acq.sampling_rate)
        card.setdefault("channel_types", dict(acq.channel_types or {}))
        card.setdefault("channels", list(acq.sensors or []))
        card.setdefault("classes", list(exp.class_labels or (exp.events or {}).keys()))
        card.setdefault("file_format", md.file_format)
    elif card.get("neurosig") == "SimulatedMotorImagery":
        from neurosig.datasets.simulated import (
            EEG_CHANNELS,
            EOG_CHANNELS,
            EVENT_ID,
            SimulatedMotorImagery,
        )
        ds = SimulatedMotorImagery()
        card.setdefault("n_subjects", f"{ds.n_subjects} by default (any number)")
        card.setdefault("sessions_per_subject", ds.n_sessions)
        card.setdefault("runs_per_session", f"{ds.n_runs} by default, {ds.n_trials_per_run} trials each")
        card.setdefault("sampling_rate", ds.sfreq)
        card.setdefault("channel_types", {"eeg": len(EEG_CHANNELS), "eog": len(EOG_CHANNELS)})
        card.setdefault("channels", list(EEG_CHANNELS) + list(EOG_CHANNELS))
        card.setdefault("classes", list(EVENT_ID))
    return card


# ---------------------------------------------------------------------- local copies
def data_root(card: dict, path=None) -> Path:
    """Folder where the card's files live: ``<data folder>/MNE-<sign>-data`` or ``<data folder>/<root>``.

    Parameters
    ----------
    card : dict
        Dataset card, as returned by :func:`load_card`.
    path : str | Path | None
        Data folder (default ``$NEUROSIG_DATA``, else MNE's configuration for the
        dataset's sign, else ``MNE_DATA``, else ``~/mne_data``).

    Returns
    -------
    Path
        The dataset's folder (it need not exist).
    """
    import mne

    from neurosig.datasets.moabb import resolve_data_folder
    layout = card.get("layout") if isinstance(card.get("layout"), dict) else {}
    folder = resolve_data_folder(path)
    if folder is None:
        sign = layout.get("sign")
        cfg = mne.get_config(f"MNE_DATASETS_{sign.upper()}_PATH") if sign else None
        folder = Path(cfg or mne.get_config("MNE_DATA") or Path.home() / "mne_data").expanduser()
    if layout.get("sign"):
        return folder / f"MNE-{layout['sign'].lower()}-data"
    return folder / layout.get("root", card["name"].lower())


def _local_path(url: str, root: Path) -> Path:
    """Where MOABB's downloader stores ``url`` under ``root`` (MOABB's own mapping)."""
    try:
        from moabb.datasets.download import _normalize_destination
        return Path(_normalize_destination(url, root))
    except ImportError:  # older MOABB
        from mne.datasets.utils import _url_to_local_path
        return Path(_url_to_local_path(url, str(root)))


@lru_cache(maxsize=4)
def _mne_checksums(fname: str) -> dict[str, str]:
    import mne
    table = {}
    f = Path(mne.__file__).parent / "data" / fname
    if f.is_file():
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                table[parts[0]] = parts[1]
    return table


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class FileStatus:
    """One expected file of a local copy."""

    subject: int
    group: str
    path: Path
    status: str  # "ok", "missing", "checksum mismatch", "present (no checksum known)"


@dataclass
class CheckReport:
    """Result of :func:`check_dataset`."""

    name: str
    root: Path
    subjects: list
    files: list[FileStatus] = field(default_factory=list)
    runnable: dict[str, bool] = field(default_factory=dict)
    message: str = ""

    @property
    def complete(self) -> bool:
        return bool(self.files) and all(f.status in ("ok", "present (no checksum known)") for f in self.files)

    def missing(self) -> list[FileStatus]:
        return [f for f in self.files if f.status not in ("ok", "present (no checksum known)")]

    def format(self) -> str:
        """Human-readable summary: counts, each missing/bad file, runnable paradigms."""
        lines = [f"{self.name}: {self.root}"]
        if self.message:
            lines.append(self.message)
        if self.files:
            n_ok = sum(f.status == "ok" for f in self.files)
            n_nock = sum(f.status.startswith("present") for f in self.files)
            scope = f"subjects checked: {self.subjects}; " if self.subjects else ""
            lines.append(f"{scope}{len(self.files)} expected files: "
                         f"{n_ok} verified by sha256, {n_nock} present without a known checksum, "
                         f"{len(self.missing())} missing or bad.")
            for f in self.missing():
                who = f"subject {f.subject}, {f.group}" if f.subject else f"needed by: {f.group}"
                lines.append(f"  {f.status.upper()}: {f.path} ({who})")
            lines.append("COMPLETE" if self.complete else "INCOMPLETE")
        for what, ok in self.runnable.items():
            lines.append(f"  {'can run' if ok else 'cannot run'}: {what}")
        return "\n".join(lines)


def _expected(card: dict, root: Path, subject: int):
    """(group, needed_by, path, checksum key or None) for one subject."""
    layout = card["layout"]
    ck = card.get("checksums") or {}
    for g in layout.get("groups", []):
        for item in g.get("runs", g.get("parts", [None])):
            fmt = dict(subject=subject, run=item, part=item)
            url = layout["url"].format(**fmt)
            key = ck["key"].format(**fmt) if ck.get("source") == "mne" else None
            yield g["name"], g.get("needed_by", []), _local_path(url, root), key


def present_subjects(card: dict, path=None) -> list[int]:
    """Subjects with at least one expected file in the local copy (MOABB cards only).

    Parameters
    ----------
    card : dict
        Dataset card, as returned by :func:`load_card`.
    path : str | Path | None
        Data folder (default ``$NEUROSIG_DATA``, else MNE's configuration).

    Returns
    -------
    list of int
        Subject numbers with at least one file on disk; empty for cards without a
        download layout or when the folder is absent.
    """
    layout = card.get("layout")
    if not isinstance(layout, dict) or "url" not in layout:
        return []
    root = data_root(card, path)
    if not root.is_dir():
        return []
    n = card.get("n_subjects") or 0
    return [s for s in range(1, int(n) + 1)
            if any(p.is_file() for _, _, p, _ in _expected(card, root, s))]


def check_dataset(name: str, path=None, subjects=None, verify=True) -> CheckReport:
    """Check that a local copy of ``name`` is complete.

    Parameters
    ----------
    name : str
        Dataset name or alias with a card.
    path : str | Path | None
        Data folder (default ``$NEUROSIG_DATA``, else MNE's configuration).
    subjects : list of int | None
        Subjects to check (default: every subject with at least one file present).
    verify : bool
        Compute sha256 checksums where they are known.

    Returns
    -------
    report : CheckReport
        ``complete``, ``missing()``, ``runnable`` (paradigm -> bool) and ``format()``.
    """
    card = load_card(name)
    layout = card.get("layout")
    if layout == "generated" or layout is None:
        return CheckReport(card["name"], Path("-"), [], message="generated on demand: nothing to check.",
                           runnable={"everything (generated)": True})
    root = data_root(card, path)
    if "required" in layout:  # glob-based layout (TUAB, NSD)
        rep = CheckReport(card["name"], root, [])
        for req in layout["required"]:
            hits = list(root.glob(req["glob"])) if root.is_dir() else []
            rep.files.append(FileStatus(0, ", ".join(req.get("needed_by", [])), root / req["glob"],
                                        "present (no checksum known)" if hits else "missing"))
            for what in req.get("needed_by", []):
                rep.runnable[what] = rep.runnable.get(what, True) and bool(hits)
        if not root.is_dir():
            rep.message = f"no local copy: {root} does not exist. {card.get('obtain', '')}"
        return rep
    all_subjects = list(range(1, int(card.get("n_subjects") or 0) + 1))
    if subjects is None:
        subjects = present_subjects(card, path)
        if not subjects:
            return CheckReport(card["name"], root, [], message=f"no local copy: no file of {card['name']} "
                               f"under {root}. {card.get('obtain', '')}")
    else:
        from neurosig.datasets.simulated_base import check_subjects_in
        subjects = check_subjects_in(subjects, all_subjects, card["name"])
    sums = _mne_checksums(card["checksums"]["file"]) if (card.get("checksums") or {}).get("source") == "mne" else {}
    rep = CheckReport(card["name"], root, list(subjects))
    group_ok: dict[str, bool] = {}
    needs: dict[str, list[str]] = {}
    for s in subjects:
        for group, needed_by, p, key in _expected(card, root, s):
            if not p.is_file():
                st = "missing"
            elif key and key in sums:
                st = "ok" if not verify or _sha256(p) == sums[key] else "checksum mismatch"
            else:
                st = "present (no checksum known)"
            rep.files.append(FileStatus(s, group, p, st))
            group_ok[group] = group_ok.get(group, True) and st in ("ok", "present (no checksum known)")
            for what in needed_by:
                needs.setdefault(what, [])
                if group not in needs[what]:
                    needs[what].append(group)
    rep.runnable = {what: all(group_ok[g] for g in groups) for what, groups in needs.items()}
    return rep
