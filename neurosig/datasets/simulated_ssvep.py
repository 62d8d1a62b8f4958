"""A simulated SSVEP dataset, shaped like MOABB's ``Kalunga2016`` / ``Nakanishi2015``.

A MOABB :class:`~moabb.datasets.base.BaseDataset` with paradigm ``"ssvep"``:
event names are the stimulation frequencies as strings (``"13"``, ``"17"``,
``"21"``, optionally ``"rest"``), so MOABB's ``SSVEP`` and ``FilterBankSSVEP``
paradigms accept it. Runs are generated on demand, deterministically from
``(seed, subject, session, run)``, with the simulator core of
:mod:`neurosig.datasets.simulated` (1/f background with volume conduction,
cap drift, blinks / muscle / line-noise artifacts).

Generative model of the response (Regan 1989; Herrmann 2001; Norcia et al. 2015):

* a steady-state response at the stimulation frequency ``f`` and its
  harmonics ``2f``, ``3f`` (amplitude ratios drawn per subject, 0.3-0.6 and
  0.1-0.3 of the fundamental), from three occipital sources (under O1, Oz,
  O2; the Oz source strongest), spread to the sensors by volume conduction;
* amplitude decreasing with frequency (``(f / 10) ** -0.5``), and a
  subject-specific strength relative to the background (log-normal over
  subjects, spread by a low-discrepancy sequence so that any few subjects
  include strong and weak responders);
* an apparent latency of 120-160 ms per subject (phase ``-2 pi h f latency``)
  plus a phase per frequency, harmonic and source; the response builds up
  over 200 ms after the latency and lasts until the stimulus ends (+ latency);
* trial-to-trial amplitude variability (x N(1, 0.2)) and a small phase jitter;
* an occipital alpha rhythm (9-11 Hz) that is attenuated during stimulation.

References
----------
Regan D (1989) Human brain electrophysiology. Elsevier.
Herrmann CS (2001) Human EEG responses to 1-100 Hz flicker. Exp Brain Res 137:346-353.
Norcia AM et al. (2015) The steady-state visual evoked potential in vision research:
a review. J Vis 15(6):4.
Kalunga EK et al. (2016) Online SSVEP-based BCI using Riemannian geometry.
Neurocomputing 191:55-68.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from neurosig._logging import get_logger
from neurosig._validation import check_positive_float, check_positive_int, validate_type
from neurosig.datasets.simulated_base import (
    SimulatedBase,
    cap_drift,
    subject_quantile,
    trial_schedule,
)
from neurosig.datasets.simulated_signals import _narrowband, _ramp, _spread, site_positions

logger = get_logger(__name__)

#: the 8 occipital / parieto-occipital channels of Nakanishi2015 and Kalunga2016
SSVEP_CHANNELS: tuple[str, ...] = ("PO7", "PO3", "POz", "PO4", "PO8", "O1", "Oz", "O2")
_SOURCE_SITES = ("O1", "Oz", "O2")
_PAD_S = 2.0


def freq_name(f: float) -> str:
    """Event name of a stimulation frequency, as MOABB's SSVEP datasets write it ("13", "8.57").

    Parameters
    ----------
    f : float
        Stimulation frequency in Hz.
    """
    return f"{float(f):g}"


class SimulatedSSVEP(SimulatedBase):
    """Simulated SSVEP (steady-state visual evoked potentials), usable wherever MOABB expects a dataset.

    8 occipital EEG channels (``PO7 PO3 POz PO4 PO8 O1 Oz O2``, standard
    10-20 montage) at 256 Hz, one class per stimulation frequency (event
    names ``"13"``, ``"17"``, ``"21"`` by default, codes 1, 2, 3) and an
    optional ``"rest"`` class without stimulation. Each trial: stimulus
    onset (event in the stim channel), ``trial_duration`` s of flicker, then
    1-1.5 s of pause. MOABB's interval is ``[0, trial_duration]``. See the
    module docstring for the generative model.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (1..n_subjects).
    n_sessions : int
        Sessions per subject (``"0"``, ``"1"``, ...).
    n_runs : int
        Runs per session.
    n_trials_per_run : int
        Trials per run (classes balanced, shuffled).
    freqs : sequence of float
        Stimulation frequencies in Hz (each below 0.45 x ``sfreq``).
    rest : bool
        Add a ``"rest"`` class (no stimulation).
    trial_duration : float
        Stimulation length in seconds.
    seed : int
        Seed; a subject's physiology depends only on ``(seed, subject)``.
    sfreq : float
        Sampling rate in Hz (>= 128).
    artifacts : bool
        Add eye blinks, muscle bursts and line noise.
    line_freq : float
        Mains frequency in Hz.
    subjects, sessions : list | None
        MOABB's ``selected_subjects`` / ``selected_sessions``.

    Examples
    --------
    >>> from moabb.paradigms import SSVEP
    >>> ds = SimulatedSSVEP(n_subjects=2)
    >>> X, y, meta = SSVEP().get_data(ds, subjects=[1])  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (48, 8, 769)
    """

    def __init__(self, n_subjects: int = 4, n_sessions: int = 1, n_runs: int = 2,
                 n_trials_per_run: int = 24, freqs=(13.0, 17.0, 21.0), rest: bool = False,
                 trial_duration: float = 3.0, seed: int = 42, sfreq: float = 256.0,
                 artifacts: bool = True, line_freq: float = 50.0, subjects=None, sessions=None):
        n_sessions = self._store_common(n_subjects, n_sessions, n_runs, seed, sfreq, artifacts, line_freq)
        validate_type("freqs", freqs, (list, tuple, np.ndarray), "list of frequencies in Hz")
        freqs = [float(f) for f in freqs]
        bad = [f for f in freqs if not 1.0 <= f < 0.45 * self.sfreq]
        if not freqs or bad or len(set(map(freq_name, freqs))) != len(freqs):
            raise ValueError(f"Invalid value for the 'freqs' parameter. Allowed values are distinct "
                             f"frequencies between 1 Hz and 0.45 x sfreq ({0.45 * self.sfreq:g} Hz), "
                             f"but got {freqs!r} instead.")
        self.freqs = tuple(freqs)
        self.rest = bool(validate_type("rest", rest, (bool, np.bool_)))
        n_classes = len(freqs) + self.rest
        self.n_trials_per_run = check_positive_int("n_trials_per_run", n_trials_per_run, minimum=n_classes)
        self.trial_duration = check_positive_float("trial_duration", trial_duration)
        self.session_names = [str(i) for i in range(n_sessions)]
        all_subjects, subjects = self._check_selection(subjects, sessions, "SimulatedSSVEP")
        event_id = {freq_name(f): i + 1 for i, f in enumerate(freqs)}
        if self.rest:
            event_id["rest"] = len(freqs) + 1
        super().__init__(
            subjects=all_subjects, sessions_per_subject=n_sessions, events=event_id,
            code="SimulatedSSVEP", interval=[0.0, self.trial_duration], paradigm="ssvep", doi=None,
            selected_subjects=subjects, selected_sessions=sessions,
        )

    @property
    def params(self) -> dict:
        """The arguments that determine the data (for result keys and caches)."""
        return dict(n_subjects=self.n_subjects, n_sessions=self.n_sessions, n_runs=self.n_runs,
                    n_trials_per_run=self.n_trials_per_run, freqs=list(self.freqs), rest=self.rest,
                    trial_duration=self.trial_duration, seed=self.seed, sfreq=self.sfreq,
                    artifacts=self.artifacts, line_freq=self.line_freq)

    def subject_parameters(self, subject: int) -> dict:
        """The physiology of one subject (drawn from ``(seed, subject)`` only).

        Parameters
        ----------
        subject : int
            Subject number.

        Returns
        -------
        params : dict
            ``snr`` (fundamental amplitude at 10 Hz over background RMS; low
            means hard), ``quantile`` (its population quantile), ``latency``
            (s), ``harmonics`` (relative amplitudes of f, 2f, 3f),
            ``phases`` (rad, shape (n_freqs, 3 harmonics, 3 sources)),
            ``source_gain`` (O1, Oz, O2), ``bg_uv``, ``alpha_freq``,
            ``alpha_snr``, ``alpha_block``, ``blink_rate``, ``muscle_rate``.
        """
        subject = int(subject)
        rng = np.random.default_rng([self.seed, subject, 111])
        q = subject_quantile(self.seed, subject)
        return dict(
            snr=float(0.13 * np.exp(0.7 * ndtri(q))), quantile=float(q),
            latency=float(rng.uniform(0.12, 0.16)),
            harmonics=np.array([1.0, rng.uniform(0.3, 0.6), rng.uniform(0.1, 0.3)]),
            phases=rng.uniform(0, 2 * np.pi, (len(self.freqs), 3, 1)) + rng.normal(0, 0.4, (len(self.freqs), 3, 3)),
            source_gain=np.array([rng.uniform(0.4, 0.8), 1.0, rng.uniform(0.4, 0.8)]),
            bg_uv=float(rng.uniform(10.0, 20.0)),
            alpha_freq=float(rng.uniform(9.0, 11.0)),
            alpha_snr=float(rng.uniform(0.5, 1.5)),
            alpha_block=float(rng.uniform(0.3, 0.7)),
            blink_rate=float(rng.uniform(8.0, 20.0)),
            muscle_rate=float(rng.uniform(1.0, 4.0)),
        )

    def session_parameters(self, subject: int, session: int) -> dict:
        """Per-session drift: cap shift, electrode jitter, gains (m), background and response levels.

        Parameters
        ----------
        subject : int
            Subject number.
        session : int
            Session index (0-based).
        """
        rng = np.random.default_rng([self.seed, int(subject), int(session), 212])
        return dict(**cap_drift(rng, len(SSVEP_CHANNELS)), bg_scale=float(rng.uniform(0.9, 1.2)),
                    snr_scale=float(rng.uniform(0.85, 1.15)), line_uv=float(rng.uniform(0.5, 3.0)))

    def simulate_raw(self, subject: int, session: int = 0, run: int = 0):
        """Generate one run.

        Parameters
        ----------
        subject : int
            Subject number (1..n_subjects).
        session : int
            Session index (0..n_sessions - 1).
        run : int
            Run index (0..n_runs - 1).

        Returns
        -------
        raw : mne.io.RawArray
            8 EEG channels + 1 stim channel ("STI"), shape (9, n_times), volts;
            trial onsets in the stim channel with the codes of ``event_id``.
        """
        p, sp, rng = self._run_setup(subject, session, run, salt=313)
        sf, dur = self.sfreq, self.trial_duration

        n_tr = self.n_trials_per_run
        classes, starts, n_times = trial_schedule(rng, len(self.freqs) + self.rest, n_tr, dur, (1.0, 1.5),
                                                  _PAD_S, sf)
        _, ch_pos, bg, x = self._sensors(rng, p, sp, SSVEP_CHANNELS, n_times)
        a_src = _spread(np.array(site_positions(_SOURCE_SITES)) * 0.85, ch_pos, 0.035)
        a_src /= a_src.max(0, keepdims=True)

        # --- steady-state responses
        amp0 = p["snr"] * sp["snr_scale"] * bg
        trial_amp = np.clip(rng.normal(1.0, 0.2, n_tr), 0.3, 1.7)
        phase_jit = rng.normal(0.0, 0.2, n_tr)
        n_seg = int(round((dur + p["latency"] + 0.3) * sf))
        tt = np.arange(n_seg) / sf
        env = _ramp((tt - p["latency"]) / 0.2) * (1.0 - _ramp((tt - dur - p["latency"]) / 0.05))
        stim_on = np.zeros(n_times)  # for alpha blocking
        for k in range(n_tr):
            c = classes[k]
            sl = slice(starts[k], min(starts[k] + n_seg, n_times))
            m = sl.stop - sl.start
            stim_on[sl] = np.maximum(stim_on[sl], env[:m])
            if c >= len(self.freqs):
                continue  # rest: no stimulation
            f = self.freqs[c]
            t_rel = tt[:m]  # the flicker starts in phase 0 at the onset
            s = np.zeros((len(_SOURCE_SITES), m))
            for h in range(3):
                if (h + 1) * f >= 0.45 * sf:
                    break
                ph = p["phases"][c, h][:, None] + phase_jit[k]
                arg = 2 * np.pi * (h + 1) * f * (t_rel - p["latency"]) + ph
                s += p["harmonics"][h] * np.cos(arg)
            g = amp0 * (f / 10.0) ** -0.5 * trial_amp[k]
            x[:, sl] += a_src @ (p["source_gain"][:, None] * s * env[None, :m]) * g

        # --- occipital alpha, attenuated during stimulation
        alpha = _narrowband(rng, 1, n_times, sf, np.array([p["alpha_freq"]]), np.array([0.8]))[0]
        alpha *= 1.0 - p["alpha_block"] * stim_on
        x += np.outer(a_src[:, 1], alpha) * p["alpha_snr"] * bg

        return self._finish_run(rng, p, sp, x, ch_pos, SSVEP_CHANNELS, starts, classes + 1)
