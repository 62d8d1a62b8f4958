"""A simulated P300 (oddball ERP) dataset, shaped like MOABB's ``BNCI2014_009``.

A MOABB :class:`~moabb.datasets.base.BaseDataset` with paradigm ``"p300"`` and
events ``"Target"`` (code 2) / ``"NonTarget"`` (code 1), as MOABB's P300
datasets, so MOABB's ``P300`` paradigm accepts it. Runs are generated on
demand, deterministically from ``(seed, subject, session, run)``, with the
simulator core of :mod:`neurosig.datasets.simulated` (1/f background with
volume conduction, cap drift, blinks / muscle / line-noise artifacts).

Stimulation: a row/column-speller-like oddball. Flashes follow each other
every ``soa`` seconds in sequences of ``n_stimuli`` flashes, one of which is
the attended (target) item, so targets and non-targets come 1 : (n_stimuli - 1)
(1 : 5 by default); two targets never follow each other directly.

Generative model of the responses (Polich 2007; Patel & Azzam 2005):

* every flash evokes visual P1 (+, ~100 ms) and N1 (-, ~170 ms) over
  lateral parieto-occipital sites (PO7 / PO8);
* targets add an N200 (-, 200-260 ms, central) and a P300 (+, peak latency
  300-400 ms per subject, centro-parietal maximum near Pz, width 60-90 ms);
  non-targets carry a small P300 (10 % of the target amplitude);
* subject variability of latencies and amplitudes (the P300 amplitude
  relative to the background is log-normal over subjects, spread by a
  low-discrepancy sequence so that any few subjects include strong and weak
  responders); trial-to-trial latency jitter (sd 25 ms) and amplitude
  variability (x N(1, 0.3));
* responses are added to the continuous signal at every flash, so at short
  SOA they overlap, as they do in real speller data.

References
----------
Polich J (2007) Updating P300: an integrative theory of P3a and P3b.
Clin Neurophysiol 118:2128-2148.
Patel SH, Azzam PN (2005) Characterization of N200 and P300: selected studies
of the event-related potential. Int J Med Sci 2:147-154.
Arico P et al. (2014) Influence of P300 latency jitter on event related
potential-based brain-computer interface performance. J Neural Eng 11:035008
(BNCI2014_009).
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from neurosig._logging import get_logger
from neurosig._validation import check_positive_float, check_positive_int
from neurosig.datasets.simulated_base import SimulatedBase, cap_drift, subject_quantile
from neurosig.datasets.simulated_signals import _spread, site_positions

logger = get_logger(__name__)

#: the 16 EEG channels of BNCI2014_009
P300_CHANNELS: tuple[str, ...] = (
    "Fz", "FCz", "Cz", "CPz", "Pz", "Oz", "F3", "F4", "C3", "C4", "CP3", "CP4", "P3", "P4", "PO7", "PO8",
)
#: event codes as in MOABB's BNCI2014_009
EVENT_ID: dict[str, int] = {"Target": 2, "NonTarget": 1}
_PAD_S = 2.0
_EPOCH_S = 0.8  # MOABB interval [0, 0.8] s, as BNCI2014_009


def _gauss(t: np.ndarray, mu: np.ndarray, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - mu) / sd) ** 2)


class SimulatedP300(SimulatedBase):
    """Simulated P300 oddball ERPs, usable wherever MOABB expects a P300 dataset.

    16 EEG channels (BNCI2014_009 layout, standard 10-20 montage) at 256 Hz,
    events ``Target`` (2) and ``NonTarget`` (1) at every flash, MOABB
    interval ``[0, 0.8]`` s. See the module docstring for the model.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (1..n_subjects).
    n_sessions : int
        Sessions per subject (``"0"``, ``"1"``, ...).
    n_runs : int
        Runs per session.
    n_sequences_per_run : int
        Sequences per run; each has ``n_stimuli`` flashes, one of them a target.
    n_stimuli : int
        Flashes per sequence (target ratio 1 : ``n_stimuli - 1``).
    soa : float
        Stimulus onset asynchrony in seconds. At the default 0.5 s the P300
        of one flash stays out of its neighbours' epochs; at a speller-like
        0.25 s the responses overlap (non-target epochs next to a target
        carry its shifted P300), which changes single-trial scores.
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
    >>> from moabb.paradigms import P300
    >>> ds = SimulatedP300(n_subjects=2)
    >>> X, y, meta = P300().get_data(ds, subjects=[1])  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (240, 16, 206)
    """

    def __init__(self, n_subjects: int = 4, n_sessions: int = 1, n_runs: int = 2,
                 n_sequences_per_run: int = 20, n_stimuli: int = 6, soa: float = 0.5,
                 seed: int = 42, sfreq: float = 256.0, artifacts: bool = True, line_freq: float = 50.0,
                 subjects=None, sessions=None):
        n_sessions = self._store_common(n_subjects, n_sessions, n_runs, seed, sfreq, artifacts, line_freq)
        self.n_sequences_per_run = check_positive_int("n_sequences_per_run", n_sequences_per_run)
        self.n_stimuli = check_positive_int("n_stimuli", n_stimuli, minimum=2)
        self.soa = check_positive_float("soa", soa)
        if not 0.05 <= self.soa <= 2.0:
            raise ValueError(f"Invalid value for the 'soa' parameter. Allowed values are 0.05 to 2 s, "
                             f"but got {soa!r} instead.")
        self.session_names = [str(i) for i in range(n_sessions)]
        all_subjects, subjects = self._check_selection(subjects, sessions, "SimulatedP300")
        super().__init__(
            subjects=all_subjects, sessions_per_subject=n_sessions, events=dict(EVENT_ID),
            code="SimulatedP300", interval=[0.0, _EPOCH_S], paradigm="p300", doi=None,
            selected_subjects=subjects, selected_sessions=sessions,
        )

    @property
    def params(self) -> dict:
        """The arguments that determine the data (for result keys and caches)."""
        return dict(n_subjects=self.n_subjects, n_sessions=self.n_sessions, n_runs=self.n_runs,
                    n_sequences_per_run=self.n_sequences_per_run, n_stimuli=self.n_stimuli, soa=self.soa,
                    seed=self.seed, sfreq=self.sfreq, artifacts=self.artifacts, line_freq=self.line_freq)

    def subject_parameters(self, subject: int) -> dict:
        """The physiology of one subject (drawn from ``(seed, subject)`` only).

        Parameters
        ----------
        subject : int
            Subject number.

        Returns
        -------
        params : dict
            ``p300_snr`` (P300 peak amplitude over background RMS; low means
            hard), ``quantile``, ``p300_latency``, ``p300_width``,
            ``n200_latency``, ``n200_amp`` (relative to the P300), ``p1_amp``,
            ``n1_amp`` (relative to the background), ``nontarget_frac``,
            ``bg_uv``, ``blink_rate``, ``muscle_rate``.
        """
        subject = int(subject)
        rng = np.random.default_rng([self.seed, subject, 121])
        q = subject_quantile(self.seed, subject)
        return dict(
            p300_snr=float(0.7 * np.exp(0.5 * ndtri(q))), quantile=float(q),
            p300_latency=float(rng.uniform(0.30, 0.40)),
            p300_width=float(rng.uniform(0.06, 0.09)),
            n200_latency=float(rng.uniform(0.20, 0.26)),
            n200_amp=float(rng.uniform(0.2, 0.5)),
            p1_amp=float(rng.uniform(0.1, 0.25)),
            n1_amp=float(rng.uniform(0.2, 0.4)),
            nontarget_frac=0.1,
            bg_uv=float(rng.uniform(8.0, 15.0)),
            blink_rate=float(rng.uniform(8.0, 20.0)),
            muscle_rate=float(rng.uniform(1.0, 4.0)),
        )

    def session_parameters(self, subject: int, session: int) -> dict:
        """Per-session drift: cap shift, electrode jitter, gains (m), background and ERP levels.

        Parameters
        ----------
        subject : int
            Subject number.
        session : int
            Session index (0-based).
        """
        rng = np.random.default_rng([self.seed, int(subject), int(session), 222])
        return dict(**cap_drift(rng, len(P300_CHANNELS)), bg_scale=float(rng.uniform(0.9, 1.2)),
                    erp_scale=float(rng.uniform(0.85, 1.15)), line_uv=float(rng.uniform(0.5, 3.0)))

    def _schedule(self, rng: np.random.Generator) -> np.ndarray:
        """Target flags of all flashes, shape (n_sequences * n_stimuli,): one target per sequence,
        never two targets in a row."""
        n_seq, n_st = self.n_sequences_per_run, self.n_stimuli
        flags = np.zeros((n_seq, n_st), dtype=bool)
        prev_last = False
        for i in range(n_seq):
            lo = 1 if prev_last else 0
            flags[i, rng.integers(lo, n_st)] = True
            prev_last = bool(flags[i, -1])
        return flags.ravel()

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
            16 EEG channels + 1 stim channel ("STI"), shape (17, n_times),
            volts; every flash onset in the stim channel (2 = Target,
            1 = NonTarget).
        """
        p, sp, rng = self._run_setup(subject, session, run, salt=323)
        sf = self.sfreq

        target = self._schedule(rng)
        n_fl = target.size
        onsets_s = _PAD_S + self.soa * np.arange(n_fl)
        n_times = int(np.ceil((onsets_s[-1] + _EPOCH_S + _PAD_S) * sf))
        onsets = np.round(onsets_s * sf).astype(int)

        _, ch_pos, bg, x = self._sensors(rng, p, sp, P300_CHANNELS, n_times)

        # --- topographies (volume conduction from a few broad sources)
        def topo(sites, depth, sigma):
            a = _spread(np.array(site_positions(sites)) * depth, ch_pos, sigma).sum(1)
            return a / a.max()
        t_p300 = topo(("CPz", "Pz"), 0.8, 0.05)
        t_n200 = topo(("FCz", "Cz"), 0.8, 0.05)
        t_vis = topo(("PO7", "PO8"), 0.85, 0.04)

        # --- evoked responses, added at every flash (they overlap at short SOA)
        n_k = int(round(_EPOCH_S * 1.25 * sf))
        tk = np.arange(n_k) / sf
        erp = p["p300_snr"] * sp["erp_scale"] * bg
        amp = np.clip(rng.normal(1.0, 0.3, n_fl), 0.1, 2.0)
        jit = rng.normal(0.0, 0.025, n_fl)
        for k in range(n_fl):
            sl = slice(onsets[k], min(onsets[k] + n_k, n_times))
            t = tk[: sl.stop - sl.start]
            vis = p["p1_amp"] * _gauss(t, 0.10, 0.02) - p["n1_amp"] * _gauss(t, 0.17, 0.03)
            x[:, sl] += np.outer(t_vis, vis * bg)
            frac = 1.0 if target[k] else p["nontarget_frac"]
            p3 = _gauss(t, p["p300_latency"] + jit[k], p["p300_width"])
            n2 = _gauss(t, p["n200_latency"] + 0.5 * jit[k], 0.03)
            x[:, sl] += (erp * amp[k] * frac) * (np.outer(t_p300, p3) - p["n200_amp"] * np.outer(t_n200, n2))

        codes = np.where(target, EVENT_ID["Target"], EVENT_ID["NonTarget"])
        return self._finish_run(rng, p, sp, x, ch_pos, P300_CHANNELS, onsets, codes)
