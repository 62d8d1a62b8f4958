"""TCP bipolar montages: the 16-channel TUAB chain and the 22-channel FEMBA variant.

The electrodes a montage needs are picked (by canonical name, see
:mod:`neurosig.preprocessing.channels`) *before* any re-referencing, so that an
average or other reference computed over a recording's extra channels can never
leak into the derivations. A recording that lacks one of them is rejected with
the missing names as the reason.

Notes
-----
The montages:

``"tcp16"``
    The 16 derivations of the TFM-Tokenizer / BIOT TUAB recipe:
    FP1-F7, F7-T3, T3-T5, T5-O1, FP2-F8, F8-T4, T4-T6, T6-O2,
    FP1-F3, F3-C3, C3-P3, P3-O1, FP2-F4, F4-C4, C4-P4, P4-O2.
``"tcp22"``
    The 22-channel TCP montage FEMBA pretrains on (pulp-bio/BioFoundation,
    ``make_datasets/make_tueg_bipolar.py``, ``standard_order``): the 20-channel
    TCP chain (the 16 above plus the transverse T3-C3, C3-CZ, CZ-C4, C4-T4)
    and the ear derivations A1-T3 and T4-A2, which need A1 and A2 as separate
    electrodes. Order: FP1-F7, F7-T3, T3-T5, T5-O1, FP2-F8, F8-T4, T4-T6,
    T6-O2, T3-C3, C3-CZ, CZ-C4, C4-T4, FP1-F3, F3-C3, C3-P3, P3-O1, FP2-F4,
    F4-C4, C4-P4, P4-O2, A1-T3, T4-A2. (FEMBA's TUAB fine-tuning script
    ``make_tuab.py`` uses the same 22 pairs in a left-then-right order; we
    keep the pretraining order.)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validation import check_option

_TCP16 = (
    ("Fp1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"),
    ("Fp2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
)
_TCP22 = (
    ("Fp1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"),
    ("Fp2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("T3", "C3"), ("C3", "Cz"), ("Cz", "C4"), ("C4", "T4"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
    ("A1", "T3"), ("T4", "A2"),
)

#: montage name -> tuple of (anode, cathode) electrode pairs, in channel order
MONTAGES: dict[str, tuple[tuple[str, str], ...]] = {"tcp16": _TCP16, "tcp22": _TCP22}
#: montage name -> the ``reference`` field of its :class:`~neurosig.contracts.SignalContract`
REFERENCES: dict[str, str] = {"tcp16": "bipolar-tcp16", "tcp22": "bipolar-tcp22"}


def montage_pairs(montage: str) -> tuple[tuple[str, str], ...]:
    """The (anode, cathode) pairs of a montage, in channel order.

    Parameters
    ----------
    montage : {"tcp16", "tcp22"}
        Montage name (a key of :data:`MONTAGES`).
    """
    check_option("montage", montage, MONTAGES)
    return MONTAGES[montage]


def montage_channel_names(montage: str) -> list[str]:
    """Derivation names in TUH spelling, e.g. ``"FP1-F7"``, in channel order.

    Parameters
    ----------
    montage : {"tcp16", "tcp22"}
        Montage name (a key of :data:`MONTAGES`).
    """
    return [f"{a.upper()}-{b.upper()}" for a, b in montage_pairs(montage)]


def montage_electrodes(montage: str) -> list[str]:
    """Electrodes a montage needs (canonical names), in order of first use.

    Parameters
    ----------
    montage : {"tcp16", "tcp22"}
        Montage name (a key of :data:`MONTAGES`).
    """
    return list(dict.fromkeys(e for pair in montage_pairs(montage) for e in pair))


def missing_electrodes(electrodes: Sequence[str], montage: str) -> list[str]:
    """Electrodes of ``montage`` that are not in ``electrodes`` (canonical names).

    Parameters
    ----------
    electrodes : sequence of str
        Canonical electrode names of the recording, in row order.
    montage : {"tcp16", "tcp22"}
        Montage name (a key of :data:`MONTAGES`).
    """
    have = set(electrodes)
    return [e for e in montage_electrodes(montage) if e not in have]


def bipolar_indices(electrodes: Sequence[str], montage: str) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the anodes and cathodes of ``montage`` in ``electrodes``.

    Parameters
    ----------
    electrodes : sequence of str
        Canonical electrode names of the recording, in row order.
    montage : {"tcp16", "tcp22"}
        Montage name (a key of :data:`MONTAGES`).

    Raises
    ------
    ValueError
        If an electrode of the montage is missing (the message names them).
    """
    missing = missing_electrodes(electrodes, montage)
    if missing:
        raise ValueError(f"The recording lacks the electrodes {missing} that the {montage!r} "
                         f"montage needs (it has {list(electrodes)}).")
    pos = {e: i for i, e in enumerate(electrodes)}
    pairs = montage_pairs(montage)
    return (np.array([pos[a] for a, _ in pairs], dtype=np.intp),
            np.array([pos[b] for _, b in pairs], dtype=np.intp))


def apply_bipolar(data: np.ndarray, electrodes: Sequence[str], montage: str) -> np.ndarray:
    """Bipolar derivations ``data[anode] - data[cathode]`` for every pair of ``montage``.

    Parameters
    ----------
    data : ndarray, shape (n_electrodes, n_times)
        Referential signals, rows ordered like ``electrodes``.
    electrodes : sequence of str
        Canonical electrode names of the rows of ``data``.
    montage : {"tcp16", "tcp22"}
        Montage name.

    Returns
    -------
    bipolar : ndarray, shape (n_pairs, n_times)
        Same dtype as ``data``.
    """
    if data.ndim != 2 or data.shape[0] != len(electrodes):
        raise ValueError(f"The 'data' parameter must have shape (n_electrodes={len(electrodes)}, "
                         f"n_times), but got shape {data.shape} instead.")
    anode, cathode = bipolar_indices(electrodes, montage)
    return data[anode] - data[cathode]
