"""TUH channel-name normalisation: ``"EEG FP1-REF"``, ``"EEG FP1-LE"``, ``"EEG Fp1"`` -> ``"Fp1"``.

TUH EDF files name referential EEG channels ``EEG <ELECTRODE>-<REF>`` where the
reference suffix is ``REF`` (average-reference montage, folders ``01_tcp_ar``)
or ``LE`` (linked ears, ``02_tcp_le``); other clinical EDF files write
``EEG Fp1`` or plain ``Fp1``. Non-EEG channels (``EEG EKG1-REF``,
``PHOTIC-REF``, ``ECG ECG``, ...) and derived bipolar channels (``EEG A2-A1``)
are not electrodes and normalise to ``None``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

#: 10-20 electrodes (old temporal names T3/T4/T5/T6 as TUH uses them), plus
#: the ear electrodes A1/A2 and the extra temporal T1/T2, in canonical spelling.
ELECTRODES: tuple[str, ...] = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4",
    "T5", "P3", "Pz", "P4", "T6", "O1", "Oz", "O2", "A1", "A2", "T1", "T2", "Fpz",
)

#: modern names mapped to the old temporal names used by TUH and the TCP montage
ALIASES: dict[str, str] = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6", "M1": "A1", "M2": "A2"}

_CANONICAL = {e.upper(): e for e in ELECTRODES}
_CANONICAL.update({k.upper(): v for k, v in ALIASES.items()})
#: reference suffixes that mark a referential recording of one electrode
_REF_SUFFIXES = ("REF", "LE", "AR", "AVG", "AV", "CAR", "RF")
_PREFIX = re.compile(r"^(EEG|EEG:|E)\s+", re.IGNORECASE)


def normalize_channel_name(name: str) -> str | None:
    """Canonical electrode name of one TUH/clinical EDF channel, or None.

    Parameters
    ----------
    name : str
        Channel name as written in the EDF header, e.g. ``"EEG FP1-REF"``.

    Returns
    -------
    electrode : str | None
        ``"Fp1"`` for ``"EEG FP1-REF"``, ``"EEG FP1-LE"``, ``"EEG Fp1"`` or
        ``"FP1"``; ``None`` for anything that is not a single referential
        electrode (``"EEG EKG1-REF"``, ``"PHOTIC-REF"``, ``"EEG A2-A1"``).
    """
    s = str(name).strip()
    s = _PREFIX.sub("", s)
    s = s.replace(" ", "")
    if "-" in s:
        head, _, tail = s.rpartition("-")
        if tail.upper() not in _REF_SUFFIXES:
            return None  # a bipolar derivation such as A2-A1, or an unknown suffix
        s = head
    return _CANONICAL.get(s.upper())


def normalize_channel_names(names: Iterable[str]) -> dict[str, str]:
    """Map every electrode channel of a recording to its canonical name.

    Parameters
    ----------
    names : iterable of str
        Channel names of one recording.

    Returns
    -------
    mapping : dict
        ``{original_name: canonical_name}`` for the channels that are
        electrodes, in header order. When two channels normalise to the same
        electrode (``"EEG FP1-REF"`` and ``"EEG FP1-LE"``), the first one wins.
    """
    mapping: dict[str, str] = {}
    seen: set[str] = set()
    for n in names:
        canon = normalize_channel_name(n)
        if canon is None or canon in seen:
            continue
        mapping[n] = canon
        seen.add(canon)
    return mapping
