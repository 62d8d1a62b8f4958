"""MOABB plumbing shared by the simulators, and the frame of a simulated run.

:class:`SimulatedBase` makes a simulator a MOABB
:class:`~moabb.datasets.base.BaseDataset` whose runs are generated in memory on
demand. The functions here draw what every simulator draws the same way
(subject quantile, cap drift, trial schedule) and wrap the signals as an MNE
``Raw`` with a stim channel.
"""
from __future__ import annotations

import warnings

import numpy as np
from moabb.datasets.base import BaseDataset

from neurosig._validation import (
    check_option,
    check_positive_float,
    check_positive_int,
    validate_type,
)
from neurosig.datasets.simulated_signals import _montage_name, artifacts, background, site_positions

_GOLDEN = 0.6180339887498949


def make_raw(data: np.ndarray, ch_names, ch_types, sfreq: float, line_freq: float):
    """An ``mne.io.RawArray`` with the standard 10-20 montage and ``line_freq`` set.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        Signals in volts (stim channel included).
    ch_names, ch_types : list of str
        One per row of ``data``.
    sfreq : float
        Sampling rate in Hz.
    line_freq : float
        Power-line frequency in Hz, stored in ``raw.info["line_freq"]``.
    """
    import mne
    info = mne.create_info(list(ch_names), sfreq, list(ch_types))
    raw = mne.io.RawArray(data, info, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        raw.set_montage(_montage_name(), on_missing="ignore", verbose=False)
    with raw.info._unlock():
        raw.info["line_freq"] = line_freq
    return raw


def subject_quantile(seed: int, subject: int) -> float:
    """Low-discrepancy quantile (0.04..0.96) of a subject's signal strength in the population.

    Consecutive subjects spread over the range (golden-ratio sequence), so
    that any few subjects include easy and hard ones.

    Parameters
    ----------
    seed : int
        Dataset seed; it sets the start of the sequence.
    subject : int
        Subject number.
    """
    u0 = np.random.default_rng([int(seed), 7]).random()
    return 0.04 + 0.92 * ((u0 + int(subject) * _GOLDEN) % 1.0)


def cap_drift(rng: np.random.Generator, n_channels: int) -> dict:
    """Per-session cap placement: ``cap_shift`` (3,), ``electrode_jitter`` (n_channels, 3), m,
    and per-channel amplifier ``gains`` (n_channels,) (0.75-1.25).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator of the session.
    n_channels : int
        Number of EEG channels.
    """
    return dict(
        cap_shift=rng.normal(0.0, 0.004, 3),
        electrode_jitter=rng.normal(0.0, 0.002, (n_channels, 3)),
        gains=rng.normal(1.0, 0.07, n_channels).clip(0.75, 1.25),
    )



def trial_schedule(rng: np.random.Generator, n_classes: int, n_trials: int, trial_s: float,
                   pause_s: tuple[float, float], pad_s: float, sfreq: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Balanced, shuffled classes and trial onsets of one run.

    Each trial lasts ``trial_s`` seconds plus a pause drawn uniformly from
    ``pause_s``; the run has ``pad_s`` seconds of rest before the first and
    after the last trial.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator of the run (one shuffle, one uniform draw per trial).
    n_classes : int
        Number of classes (0..n_classes - 1, repeated to ``n_trials``).
    n_trials : int
        Trials in the run.
    trial_s : float
        Trial length in seconds before the pause.
    pause_s : (float, float)
        Range of the pause after each trial, in seconds.
    pad_s : float
        Rest before the first and after the last trial, in seconds.
    sfreq : float
        Sampling rate in Hz.

    Returns
    -------
    classes : ndarray, shape (n_trials,)
        Class index of each trial.
    starts : ndarray, shape (n_trials,)
        Trial onsets in samples.
    n_times : int
        Length of the run in samples.
    """
    classes = np.resize(np.arange(n_classes), n_trials)
    rng.shuffle(classes)
    trial_len = trial_s + rng.uniform(pause_s[0], pause_s[1], n_trials)
    starts_s = pad_s + np.concatenate([[0.0], np.cumsum(trial_len)[:-1]])
    n_times = int(np.ceil((starts_s[-1] + trial_len[-1] + pad_s) * sfreq))
    starts = np.round(starts_s * sfreq).astype(int)
    return classes, starts, n_times


class SimulatedBase(BaseDataset):
    """MOABB plumbing shared by the simulators: nothing on disk, runs generated on demand.

    Subclasses set ``session_names`` and ``n_runs`` and define
    ``simulate_raw(subject, session, run)``.
    """

    def _store_common(self, n_subjects, n_sessions, n_runs, seed, sfreq, artifacts, line_freq) -> int:
        """Validate and store the arguments every simulator shares; returns ``n_sessions`` as an int."""
        self.n_subjects = check_positive_int("n_subjects", n_subjects)
        n_sessions = check_positive_int("n_sessions", n_sessions)
        self.n_runs = check_positive_int("n_runs", n_runs)
        self.seed = check_positive_int("seed", seed, minimum=0)
        self.sfreq = check_positive_float("sfreq", sfreq)
        if self.sfreq < 128:
            raise ValueError(f"Invalid value for the 'sfreq' parameter. Allowed values are numbers >= 128 Hz "
                             f"(the simulation has rhythms up to 30 Hz and muscle up to 100 Hz), "
                             f"but got {sfreq!r} instead.")
        self.artifacts = bool(validate_type("artifacts", artifacts, (bool, np.bool_)))
        self.line_freq = check_positive_float("line_freq", line_freq)
        return n_sessions

    def _run_setup(self, subject, session, run, salt: int):
        """Check (subject, session, run) and return the subject and session parameters and the
        run's random generator, seeded from ``(seed, subject, session, run, salt)``; ``salt``
        differs per simulator so their runs never share a stream."""
        check_subjects_in([subject], self._all_subjects, self.code)
        check_option("session", session, list(range(self.n_sessions)))
        check_option("run", run, list(range(self.n_runs)))
        rng = np.random.default_rng([self.seed, int(subject), int(session), int(run), salt])
        return self.subject_parameters(subject), self.session_parameters(subject, session), rng

    def _sensors(self, rng, p: dict, sp: dict, channels, n_times: int):
        """Nominal sensor sites, their session positions (cap shift and jitter applied), the
        background RMS (V) and the background EEG, shape (n_channels, n_times); see :func:`background`."""
        ch_pos0 = np.array(site_positions(tuple(channels)))
        ch_pos = ch_pos0 + sp["cap_shift"] + sp["electrode_jitter"]
        bg = p["bg_uv"] * sp["bg_scale"] * 1e-6
        return ch_pos0, ch_pos, bg, background(rng, ch_pos0, ch_pos, n_times, self.sfreq, bg)

    def _finish_run(self, rng, p: dict, sp: dict, x, ch_pos, channels, onsets, codes,
                    eog=None, eog_channels=(), eog_weights=()):
        """Add the artifacts (when enabled), apply the channel gains, write ``codes`` at ``onsets``
        into a stim channel ``"STI"`` and return the run as a Raw: EEG, EOG (when ``eog`` is given,
        shape (len(eog_channels), n_times)), stim. ``x`` and ``eog`` are changed in place."""
        n_times = x.shape[1]
        if self.artifacts:
            x_art, eog_art = artifacts(rng, n_times, self.sfreq, ch_pos, p["blink_rate"], p["muscle_rate"],
                                       sp["line_uv"], self.line_freq, eog_weights=eog_weights)
            x += x_art
            if eog is not None:
                eog += eog_art
        x *= sp["gains"][:, None]
        stim = np.zeros((1, n_times))
        stim[0, onsets] = codes
        eog_rows = [] if eog is None else [eog]
        ch_names = list(channels) + list(eog_channels) + ["STI"]
        ch_types = ["eeg"] * len(channels) + ["eog"] * len(eog_channels) + ["stim"]
        return make_raw(np.vstack([x, *eog_rows, stim]), ch_names, ch_types, self.sfreq, self.line_freq)

    def _check_selection(self, subjects, sessions, code: str):
        """Validate MOABB's ``selected_subjects`` / ``selected_sessions`` (names or indices);
        returns ``(all_subjects, subjects)``."""
        all_subjects = list(range(1, self.n_subjects + 1))
        if subjects is not None:
            subjects = check_subjects_in(subjects, all_subjects, code)
        if sessions is not None:
            allowed = list(dict.fromkeys(self.session_names + [str(i) for i in range(len(self.session_names))]))
            for s in sessions:
                check_option("sessions", str(s), allowed)
        return all_subjects, subjects

    def get_data(self, subjects=None, cache_config=None, process_pipeline=None, n_jobs=1):
        """MOABB's ``get_data``, with a clear error for subjects the dataset does not have.

        Parameters
        ----------
        subjects : list of int | None
            Subject numbers (default: every subject of the dataset).
        cache_config : dict | moabb.datasets.base.CacheConfig | None
            MOABB's cache configuration, passed on.
        process_pipeline : sklearn.pipeline.Pipeline | None
            MOABB processing pipeline applied to each raw, passed on.
        n_jobs : int
            Number of subjects processed in parallel (MOABB's joblib parallelism).
        """
        if subjects is not None:
            check_subjects_in(subjects, self.subject_list, self.code)
        return super().get_data(subjects, cache_config=cache_config,
                                process_pipeline=process_pipeline, n_jobs=n_jobs)

    def data_path(self, subject, path=None, force_update=False, update_path=None, verbose=None):
        """Nothing is stored on disk: returns an empty list.

        Parameters
        ----------
        subject : int
            Subject number; checked to exist in the dataset.
        path : str | None
            Unused (the data are generated in memory). Kept for MOABB's
            ``BaseDataset.data_path`` signature, as are the next three parameters.
        force_update : bool
            Unused.
        update_path : bool | None
            Unused.
        verbose : bool | str | int | None
            Unused.
        """
        check_subjects_in([subject], self.subject_list, self.code)
        return []

    def _get_single_subject_data(self, subject):
        check_subjects_in([subject], self.subject_list, self.code)
        wanted = self._selected_sessions  # generate only the sessions that will be kept
        wanted = None if wanted is None else {str(w) for w in wanted}
        return {name: {str(run): self.simulate_raw(subject, s, run) for run in range(self.n_runs)}
                for s, name in enumerate(self.session_names)
                if wanted is None or name in wanted or str(s) in wanted}


def check_subjects_in(subjects, allowed, dataset_name: str) -> list:
    """Return ``subjects`` as a list if all are in ``allowed``, else raise a one-line ValueError.

    Parameters
    ----------
    subjects : int | list of int
        Subjects asked for.
    allowed : list of int
        Subjects the dataset has.
    dataset_name : str
        Named in the message.
    """
    if isinstance(subjects, (int, np.integer)) and not isinstance(subjects, bool):
        subjects = [subjects]
    try:
        subjects = list(subjects)
    except TypeError:
        raise TypeError(f"The 'subjects' parameter must be a list of subject numbers, "
                        f"but got {type(subjects).__name__} ({subjects!r:.80}) instead.") from None
    allowed = list(allowed)
    bad = [s for s in subjects if s not in allowed]
    if bad:
        if allowed and all(isinstance(a, (int, np.integer)) for a in allowed) and \
                list(allowed) == list(range(min(allowed), max(allowed) + 1)):
            what = f"integers from {min(allowed)} to {max(allowed)}"
        else:
            what = ", ".join(map(repr, allowed[:20])) + (", ..." if len(allowed) > 20 else "")
        raise ValueError(f"Invalid value for the 'subjects' parameter. {dataset_name} has subjects "
                         f"{what}, but got {bad if len(bad) > 1 else bad[0]!r} instead.")
    return subjects
