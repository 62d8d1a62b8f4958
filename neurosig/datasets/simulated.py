"""A realistic simulated motor-imagery dataset, shaped like BNCI2014_001.

The dataset is a MOABB :class:`~moabb.datasets.base.BaseDataset`, so MOABB
paradigms (``LeftRightImagery``, ``MotorImagery``) and evaluations accept it
like any downloaded dataset. Nothing is read from disk: every run is
generated on demand, deterministically from ``(seed, subject, session, run)``.

Generative model (all amplitudes in volts; ranges from the literature cited
below, drawn once per subject, then perturbed per session):

* **Background**: 1/f ("pink") noise on one latent source under each electrode,
  spread to the sensors by a distance-based volume-conduction matrix, plus a
  little independent sensor noise and a common reference signal.
* **Rhythms**: mu (peak 8.5-12.5 Hz) and beta (peak 17-26 Hz) narrow-band
  sources under the left and right hand areas (near C3 / C4), the foot area
  (Cz) and the lateral face / tongue areas (near C5 / C6), and an unmodulated
  occipital alpha source (near POz) that leaks into the central channels.
* **Event-related desynchronisation** (power decrease, Pfurtscheller & Lopes da
  Silva 1999): 20-40 % over the hand area contralateral to the imagined hand,
  a weaker ipsilateral ERD, focal ERD at Cz for feet and bilateral lateral ERD
  for the tongue, with "surround" ERS over the hand areas for feet and tongue
  (Pfurtscheller et al. 2006); onset 0.3-0.7 s after the cue, lasting to the
  end of imagery; a post-imagery beta rebound (ERS); trial-to-trial variability
  of ERD strength and attentional lapses (trials without ERD).
* **Subject variability**: peak frequencies, ERD strength, lapse rate and
  above all the strength of the sensorimotor rhythm relative to the background
  (the "SMR predictor" of Blankertz et al. 2010), spread over subjects by a
  low-discrepancy sequence so that any few subjects include easy and hard ones
  (some near chance).
* **Session drift**: cap placement shift (moves the mixing), per-channel gain
  changes, background level, rhythm strength and ERD strength change between
  sessions.
* **Artifacts**: eye blinks (large on EOG, decaying towards the back of the
  head; 8-20 per minute), muscle bursts (20-100 Hz, lateral channels), 50 Hz
  line noise with slowly varying amplitude.

Trial timing follows BNCI2014_001: a trial starts (event in the stim channel)
with a fixation cross, the cue comes at 2 s, imagery lasts until 6 s, then a
break of 1.5-2.5 s. MOABB's imagery interval is ``[2, 6]`` s, as for
BNCI2014_001.

References
----------
Pfurtscheller G, Lopes da Silva FH (1999) Event-related EEG/MEG synchronization
and desynchronization: basic principles. Clin Neurophysiol 110:1842-1857.
Pfurtscheller G, Brunner C, Schloegl A, Lopes da Silva FH (2006) Mu rhythm
(de)synchronization and EEG single-trial classification of different motor
imagery tasks. NeuroImage 31:153-159.
Blankertz B et al. (2010) Neurophysiological predictor of SMR-based BCI
performance. NeuroImage 51:1303-1309.
Tangermann M et al. (2012) Review of the BCI competition IV. Front Neurosci 6:55.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from neurosig._logging import get_logger
from neurosig._validation import check_positive_int
from neurosig.datasets.simulated_base import (
    SimulatedBase,
    cap_drift,
    check_subjects_in,
    make_raw,
    subject_quantile,
    trial_schedule,
)
from neurosig.datasets.simulated_signals import (
    _colored_noise,
    _narrowband,
    _ramp,
    _spread,
    artifacts,
    background,
    extra_sites,
    site_positions,
)

#: names defined in :mod:`~neurosig.datasets.simulated_base` and
#: :mod:`~neurosig.datasets.simulated_signals`, importable from here too
__all__ = [
    "EEG_CHANNELS", "EOG_CHANNELS", "EVENT_ID", "SimulatedBase",
    "SimulatedMotorImagery", "artifacts", "background", "cap_drift", "check_subjects_in",
    "extra_sites", "make_raw", "site_positions", "subject_quantile", "trial_schedule",
]

logger = get_logger(__name__)

#: the 22 EEG channels of BNCI2014_001 (10-20 names)
EEG_CHANNELS: tuple[str, ...] = (
    "Fz", "FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
    "CP3", "CP1", "CPz", "CP2", "CP4", "P1", "Pz", "P2", "POz",
)
EOG_CHANNELS: tuple[str, ...] = ("EOG1", "EOG2", "EOG3")
#: event codes as in MOABB's BNCI2014_001
EVENT_ID: dict[str, int] = {"left_hand": 1, "right_hand": 2, "feet": 3, "tongue": 4}

_CUE_S = 2.0          # cue onset after the trial start
_IMAGERY_END_S = 6.0  # end of imagery after the trial start
_PAD_S = 3.0          # rest before the first and after the last trial of a run

# Rhythm sources: name -> electrode it sits under.
_SOURCES = {"hand_L": "C3", "hand_R": "C4", "foot": "Cz", "face_L": "C5", "face_R": "C6"}
_SOURCE_NAMES = tuple(_SOURCES)


class SimulatedMotorImagery(SimulatedBase):
    """Simulated four-class motor imagery, BNCI2014_001-like, usable wherever MOABB expects a dataset.

    22 EEG channels (10-20 names, ``colin27_1020`` / ``standard_1020`` montage)
    and 3 EOG channels at 250 Hz, classes ``left_hand``, ``right_hand``,
    ``feet``, ``tongue`` (event ids as BNCI2014_001), sessions ``"0train"``
    and ``"1test"``, runs ``"0"``, ``"1"``, ... of ``n_trials_per_run``
    trials each (balanced classes, shuffled). See the module docstring for the
    generative model.

    The default size (6 subjects x 2 sessions x 3 runs x 48 trials) is chosen
    so that ``neurosig benchmark`` with the three default pipelines finishes in
    one to two minutes on two cores; BNCI2014_001 itself has 9 subjects and 6
    runs per session.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (numbered 1..n_subjects).
    n_sessions : int
        Number of sessions per subject (named ``"0train"``, ``"1test"``, ``"2test"``, ...).
    n_runs : int
        Runs per session.
    n_trials_per_run : int
        Trials per run (48 in BNCI2014_001, 12 per class).
    seed : int
        Seed; the same seed gives identical data. A subject's physiology
        depends only on ``(seed, subject)``, so the first subjects are the same
        whatever ``n_subjects`` is.
    sfreq : float
        Sampling rate in Hz.
    artifacts : bool
        Add eye blinks, muscle bursts and line noise.
    line_freq : float
        Mains frequency in Hz (50 in Europe, 60 in America).
    subjects : list of int | None
        Restrict the dataset to these subjects (MOABB's ``selected_subjects``).
    sessions : list of str | None
        Restrict the dataset to these sessions (MOABB's ``selected_sessions``).
    return_all_modalities : bool
        Keep the EOG channels in MOABB paradigms (default: EEG only).

    Examples
    --------
    >>> from moabb.paradigms import LeftRightImagery
    >>> ds = SimulatedMotorImagery(n_subjects=2, seed=1)
    >>> X, y, meta = LeftRightImagery().get_data(ds, subjects=[1])  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (96, 22, 1001)
    """

    def __init__(self, n_subjects: int = 6, n_sessions: int = 2, n_runs: int = 3,
                 n_trials_per_run: int = 48, seed: int = 42, sfreq: float = 250.0,
                 artifacts: bool = True, line_freq: float = 50.0, subjects=None, sessions=None,
                 return_all_modalities: bool = False):
        n_sessions = self._store_common(n_subjects, n_sessions, n_runs, seed, sfreq, artifacts, line_freq)
        self.n_trials_per_run = check_positive_int("n_trials_per_run", n_trials_per_run, minimum=4)
        self.session_names = [f"{i}{'train' if i == 0 else 'test'}" for i in range(n_sessions)]
        all_subjects, subjects = self._check_selection(subjects, sessions, "SimulatedMotorImagery")
        super().__init__(
            subjects=all_subjects,
            sessions_per_subject=n_sessions,
            events=dict(EVENT_ID),
            code="SimulatedMotorImagery",
            interval=[_CUE_S, _IMAGERY_END_S],
            paradigm="imagery",
            doi=None,
            selected_subjects=subjects,
            selected_sessions=sessions,
            return_all_modalities=return_all_modalities,
        )

    # ------------------------------------------------------------------ physiology
    @property
    def params(self) -> dict:
        """The arguments that determine the data (for result keys and caches)."""
        return dict(n_subjects=self.n_subjects, n_sessions=self.n_sessions, n_runs=self.n_runs,
                    n_trials_per_run=self.n_trials_per_run, seed=self.seed, sfreq=self.sfreq,
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
            ``smr_snr`` (rhythm-to-background ratio; low means hard),
            ``smr_quantile`` (its quantile in the population, 0..1),
            ``mu_freq``, ``beta_freq`` (Hz), ``erd`` (contralateral mu power
            decrease for hand imagery, 0..1), ``erd_feet``, ``erd_tongue``,
            ``ipsi_frac``, ``beta_erd_frac``, ``rebound`` (beta power increase
            after imagery), ``lapse`` (probability of a trial without ERD),
            ``bg_uv`` (background RMS in microvolts), ``alpha_snr``,
            ``blink_rate`` (per minute), ``muscle_rate`` (per minute).
        """
        subject = int(subject)
        rng = np.random.default_rng([self.seed, subject, 101])
        # Low-discrepancy quantile of rhythm strength: any consecutive subjects span the range.
        q = subject_quantile(self.seed, subject)
        # rhythm-to-background amplitude ratio: log-normal, median 0.55, spread x/÷ 1.9
        smr = float(0.8 * np.exp(0.65 * ndtri(q)))
        return dict(
            smr_snr=smr, smr_quantile=float(q),
            mu_freq=float(np.clip(rng.normal(10.5, 1.0), 8.5, 12.5)),
            beta_freq=float(rng.uniform(17.0, 26.0)),
            erd=float(rng.uniform(0.45, 0.75)),
            erd_feet=float(rng.uniform(0.35, 0.6)),
            erd_tongue=float(rng.uniform(0.3, 0.55)),
            ipsi_frac=float(rng.uniform(0.0, 0.3)),
            beta_erd_frac=float(rng.uniform(0.5, 1.0)),
            rebound=float(rng.uniform(0.2, 0.6)),
            lapse=float(rng.uniform(0.0, 0.15)),
            onset=float(rng.uniform(0.3, 0.7)),
            bg_uv=float(rng.uniform(10.0, 20.0)),
            alpha_snr=float(rng.uniform(0.5, 1.5)),
            asym=float(rng.uniform(0.8, 1.2)),
            blink_rate=float(rng.uniform(8.0, 20.0)),
            muscle_rate=float(rng.uniform(1.0, 4.0)),
        )

    def session_parameters(self, subject: int, session: int) -> dict:
        """Per-session drift of a subject: cap shift (m), channel gains, level changes.

        Parameters
        ----------
        subject : int
            Subject number.
        session : int
            Session index (0-based).
        """
        rng = np.random.default_rng([self.seed, int(subject), int(session), 202])
        return dict(
            **cap_drift(rng, len(EEG_CHANNELS)),
            bg_scale=float(rng.uniform(0.9, 1.2)),
            smr_scale=float(rng.uniform(0.85, 1.15)),
            erd_scale=float(rng.uniform(0.85, 1.1)),
            line_uv=float(rng.uniform(0.5, 3.0)),
        )

    def _erd_table(self, p: dict) -> tuple[np.ndarray, np.ndarray]:
        """Power change per (class, source) for mu and for beta; positive = decrease (ERD)."""
        erd, ipsi = p["erd"], p["erd"] * p["ipsi_frac"]
        surround = -0.10  # ERS over the hand areas during foot / tongue imagery
        #                  hand_L  hand_R  foot        face_L        face_R
        mu = np.array([
            [ipsi,  erd,    0.1 * erd,  0.0,          0.0],          # left_hand -> right hemisphere
            [erd,   ipsi,   0.1 * erd,  0.0,          0.0],          # right_hand -> left hemisphere
            [surround, surround, p["erd_feet"], 0.0,  0.0],          # feet -> Cz
            [surround, surround, 0.0, p["erd_tongue"], p["erd_tongue"]],  # tongue -> lateral, bilateral
        ])
        return mu, mu * p["beta_erd_frac"]

    # ------------------------------------------------------------------ generation
    def simulate_raw(self, subject: int, session: int = 0, run: int = 0):
        """Generate one run.

        Parameters
        ----------
        subject : int
            Subject number (1..n_subjects).
        session : int
            Session index (0 for ``"0train"``).
        run : int
            Run index within the session.

        Returns
        -------
        raw : mne.io.RawArray
            22 EEG + 3 EOG + 1 stim channel ("STI"), shape (26, n_times), volts;
            events (trial starts) in the stim channel with the codes of ``event_id``.
        """
        p, sp, rng = self._run_setup(subject, session, run, salt=303)
        classes, starts, n_times = trial_schedule(rng, len(EVENT_ID), self.n_trials_per_run, _IMAGERY_END_S,
                                                  (1.5, 2.5), _PAD_S, self.sfreq)
        # background: pink sources under the electrodes, volume conduction, sensor noise
        ch_pos0, ch_pos, bg, x = self._sensors(rng, p, sp, EEG_CHANNELS, n_times)
        self._add_rhythms(rng, p, sp, x, classes, starts, ch_pos0, ch_pos, bg)
        eog = 0.5 * bg * _colored_noise(rng, len(EOG_CHANNELS), n_times, self.sfreq, exponent=1.5)
        codes = [EVENT_ID[c] for c in np.array(list(EVENT_ID))[classes]]
        return self._finish_run(rng, p, sp, x, ch_pos, EEG_CHANNELS, starts, codes, eog=eog,
                                eog_channels=EOG_CHANNELS, eog_weights=(1.0, 0.6, 0.6))

    def _add_rhythms(self, rng, p, sp, x, classes, starts, ch_pos0, ch_pos, bg) -> None:
        """Add the mu / beta sources (class-dependent power modulation) and the occipital alpha
        to ``x`` (n_channels, n_times) in place; the cap placement differs per session."""
        sf, n_times = self.sfreq, x.shape[1]
        src_pos = np.array([ch_pos0[EEG_CHANNELS.index(e)] for e in _SOURCES.values()]) * 0.85
        a_src = _spread(src_pos, ch_pos, 0.03)
        a_src /= a_src.max(0, keepdims=True)
        alpha_pos = (extra_sites()["Oz"] * 0.85)[None]
        a_alpha = _spread(alpha_pos, ch_pos, 0.045)[:, 0]
        a_alpha /= a_alpha.max()

        n_src = len(_SOURCE_NAMES)
        amp_mu, amp_beta = self._power_envelopes(rng, p, sp, classes, starts, n_times)
        rel = np.array([p["asym"], 1.0 / p["asym"], 0.7, 0.5, 0.5])  # source strengths
        smr = p["smr_snr"] * sp["smr_scale"] * bg
        f_mu = p["mu_freq"] + rng.normal(0, 0.3, n_src)
        f_beta = p["beta_freq"] + rng.normal(0, 1.0, n_src)
        mu = _narrowband(rng, n_src, n_times, sf, f_mu, np.full(n_src, 1.0))
        beta = _narrowband(rng, n_src, n_times, sf, f_beta, np.full(n_src, 2.5))
        s = smr * rel[:, None] * (mu * amp_mu + 0.4 * beta * amp_beta)
        x += a_src @ s
        alpha = _narrowband(rng, 1, n_times, sf, np.array([p["mu_freq"] - 0.5]), np.array([0.8]))[0]
        x += np.outer(a_alpha, alpha) * p["alpha_snr"] * bg

    def _power_envelopes(self, rng, p, sp, classes, starts, n_times) -> tuple[np.ndarray, np.ndarray]:
        """Amplitude envelopes of the mu and beta sources, shape (n_sources, n_times) each: ERD
        during imagery (per-trial strength, lapses without ERD), beta rebound after it."""
        sf, n_tr = self.sfreq, len(classes)
        t_trial = np.arange(int(round(9.0 * sf))) / sf  # modulation kernel support (s)
        n_src = len(_SOURCE_NAMES)
        mu_tab, beta_tab = self._erd_table(p)
        erd_scale = sp["erd_scale"]
        # per-trial ERD weights: lapses (no ERD) and trial-to-trial variability
        w = np.clip(rng.normal(1.0, 0.25, n_tr), 0.3, 1.7) * (rng.random(n_tr) >= p["lapse"])
        onset = _CUE_S + p["onset"] + rng.uniform(-0.15, 0.15, n_tr)
        h_on = lambda t, on: _ramp((t - on) / 0.6) * (1 - _ramp((t - _IMAGERY_END_S) / 0.4))  # noqa: E731
        reb = lambda t: _ramp((t - 6.2) / 0.4) * (1 - _ramp((t - 7.0) / 0.8))  # noqa: E731
        pow_mu = np.ones((n_src, n_times))
        pow_beta = np.ones((n_src, n_times))
        for k in range(n_tr):
            sl = slice(starts[k], min(starts[k] + t_trial.size, n_times))
            tt = t_trial[: sl.stop - sl.start]
            h = h_on(tt, onset[k]) * w[k] * erd_scale
            c = classes[k]
            pow_mu[:, sl] -= mu_tab[c][:, None] * h[None]
            pow_beta[:, sl] -= beta_tab[c][:, None] * h[None]
            # post-imagery beta rebound where there was ERD
            gain = np.clip(beta_tab[c], 0, None) / max(p["erd"], 1e-9)
            pow_beta[:, sl] += (p["rebound"] * w[k] * gain)[:, None] * reb(tt)[None]
        return np.sqrt(np.clip(pow_mu, 0.02, None)), np.sqrt(np.clip(pow_beta, 0.02, None))
