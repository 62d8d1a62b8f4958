"""Generator of a small TUAB-shaped folder of EDF files, for tests, examples and benchmarks.

The files carry the real TUH channel names of the ``01_tcp_ar`` montage folder
(``"EEG FP1-REF"`` ... ``"EEG T2-REF"``) plus TUH's non-EEG extras
(``"EEG EKG1-REF"``, ``"PHOTIC-REF"``, ``"IBI"``, ``"BURSTS"``, ``"SUPPR"``),
so that channel normalisation and picking are exercised as on the real corpus.
Signals are coloured noise with an alpha rhythm (normal) or added
high-amplitude delta activity (abnormal), in microvolt ranges typical of
scalp EEG. This is not real EEG: it checks plumbing, not science.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from .._logging import get_logger
from .._validation import check_option, check_positive_float, check_positive_int

logger = get_logger(__name__)

#: referential electrodes of a TUH ``01_tcp_ar`` recording, as spelled in the EDF header
TUH_AR_CHANNELS: tuple[str, ...] = tuple(
    f"EEG {e}-REF" for e in ("FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2",
                             "F7", "F8", "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ",
                             "PZ", "T1", "T2"))
#: non-EEG channels that TUH recordings carry next to the electrodes
TUH_EXTRA_CHANNELS: tuple[str, ...] = ("EEG EKG1-REF", "PHOTIC-REF", "IBI", "BURSTS", "SUPPR")

LAYOUTS = ("v3", "v2")
BAD_KINDS = ("truncated", "short", "missing_electrodes", "low_sfreq", "bad_name")


def _signals(rng: np.random.Generator, n_ch: int, n_times: int, sfreq: float,
             abnormal: bool) -> np.ndarray:
    """Coloured noise + alpha (+ delta when abnormal), in volts, shape (n_ch, n_times)."""
    white = rng.standard_normal((n_ch, n_times))
    spec = np.fft.rfft(white, axis=-1)
    f = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    spec /= np.sqrt(np.maximum(f, 0.5))  # 1/f power
    x = np.fft.irfft(spec, n=n_times, axis=-1)
    x *= 10.0 / x.std(axis=-1, keepdims=True)
    t = np.arange(n_times) / sfreq
    x += 15.0 * np.sin(2 * np.pi * rng.uniform(8.5, 11.5) * t + rng.uniform(0, 2 * np.pi, (n_ch, 1)))
    if abnormal:
        x += 40.0 * np.sin(2 * np.pi * rng.uniform(1.5, 3.0) * t + rng.uniform(0, 2 * np.pi, (n_ch, 1)))
    x += 5.0 * np.sin(2 * np.pi * 60.0 * t)  # mains hum, as in US recordings
    return x * 1e-6


def write_edf(path: str | Path, data: np.ndarray, ch_names: list[str], sfreq: float) -> Path:
    """Write ``data`` (volts, shape (n_channels, n_times)) to an EDF file with MNE's exporter.

    Parameters
    ----------
    path : str | Path
        EDF file to write (parent folders are created; an existing file is overwritten).
    data : ndarray, shape (n_channels, n_times)
        Signals in volts.
    ch_names : list of str
        Channel names, one per row of ``data`` (all typed ``eeg``).
    sfreq : float
        Sampling rate in Hz.
    """
    import mne

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = mne.create_info(list(ch_names), sfreq, ch_types="eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    mne.export.export_raw(path, raw, fmt="edf", physical_range="channelwise", overwrite=True,
                          verbose="error")
    return path


def _rel_path(layout: str, split: str, label: str, subject: str, session: int, token: int) -> Path:
    name = f"{subject}_s{session:03d}_t{token:03d}.edf"
    base = Path("edf") / split / label / "01_tcp_ar"
    if layout == "v3":
        return base / name
    # older releases: .../01_tcp_ar/<3-digit group>/<subject>/s<session>_<date>/<file>
    return base / subject[-3:] / subject / f"s{session:03d}_2015_01_01" / name


def make_synthetic_tuab(root: str | Path, n_subjects: int = 6, recordings_per_subject: int = 1,
                        duration: float = 60.0, sfreq: float = 256.0, n_eval_subjects: int = 2,
                        layout: str = "v3", seed: int = 0, bad: tuple[str, ...] = ()) -> Path:
    """Write a TUAB-shaped folder of small EDF files.

    Parameters
    ----------
    root : path
        Folder to create (the TUAB root; files go under ``root/edf/...``).
    n_subjects : int
        Training-folder subjects; half normal, half abnormal (alternating).
    recordings_per_subject : int
        Sessions per subject (``_s001_t000``, ``_s002_t000``, ...).
    duration : float
        Seconds per recording.
    sfreq : float
        Sampling rate in Hz.
    n_eval_subjects : int
        Subjects in the ``eval`` folder (the official test set).
    layout : {"v3", "v2"}
        ``"v3"``: ``edf/{train,eval}/{normal,abnormal}/01_tcp_ar/*.edf``;
        ``"v2"``: the older, deeper layout with per-subject and per-session folders.
    seed : int
        Seed of the signals.
    bad : tuple of str
        Add one bad file of each kind named here, to the training folder:
        ``"truncated"`` (EDF cut in the middle of its data), ``"short"``
        (shorter than one 10 s window), ``"missing_electrodes"`` (no C3),
        ``"low_sfreq"`` (100 Hz), ``"bad_name"`` (a file name that is not
        ``<subject>_s<session>_t<token>.edf``).

    Returns
    -------
    root : pathlib.Path
    """
    check_positive_int("n_subjects", n_subjects)
    check_positive_int("recordings_per_subject", recordings_per_subject)
    check_positive_int("n_eval_subjects", n_eval_subjects, minimum=0)
    duration = check_positive_float("duration", duration)
    sfreq = check_positive_float("sfreq", sfreq)
    check_option("layout", layout, LAYOUTS)
    for kind in bad:
        check_option("bad", kind, BAD_KINDS)
    root = Path(root)
    rng = np.random.default_rng(seed)
    names = list(TUH_AR_CHANNELS) + list(TUH_EXTRA_CHANNELS)
    n_times = int(round(duration * sfreq))
    k = 0
    for split, n in (("train", n_subjects), ("eval", n_eval_subjects)):
        for s in range(n):
            label = "abnormal" if s % 2 else "normal"
            subject = f"aaaa{k:04d}"
            k += 1
            for r in range(recordings_per_subject):
                data = _signals(rng, len(names), n_times, sfreq, label == "abnormal")
                write_edf(root / _rel_path(layout, split, label, subject, r + 1, 0), data, names, sfreq)
    good = root / _rel_path(layout, "train", "normal", "aaaa0000", 1, 0)
    for i, kind in enumerate(bad):
        subject = f"zzzz{i:04d}"
        target = root / _rel_path(layout, "train", "normal", subject, 1, 0)
        if kind == "truncated":
            target.parent.mkdir(parents=True, exist_ok=True)
            blob = good.read_bytes()
            target.write_bytes(blob[: len(blob) // 2])
        elif kind == "short":
            write_edf(target, _signals(rng, len(names), int(5 * sfreq), sfreq, False), names, sfreq)
        elif kind == "missing_electrodes":
            keep = [n for n in names if n != "EEG C3-REF"]
            write_edf(target, _signals(rng, len(keep), n_times, sfreq, False), keep, sfreq)
        elif kind == "low_sfreq":
            write_edf(target, _signals(rng, len(names), int(duration * 100), 100.0, False), names, 100.0)
        elif kind == "bad_name":
            target = target.with_name("recording_01.edf")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(good, target)
    logger.info("wrote a synthetic TUAB folder at %s", root)
    return root
