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

import logging
import warnings
from functools import cache, lru_cache

import numpy as np
from moabb.datasets.base import BaseDataset
from scipy import fft as sp_fft
from scipy.special import ndtri

from neurosig._validation import (
    check_option,
    check_positive_float,
    check_positive_int,
    validate_type,
)

logger = logging.getLogger(__name__)

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
_GOLDEN = 0.6180339887498949

# Rhythm sources: name -> electrode it sits under.
_SOURCES = {"hand_L": "C3", "hand_R": "C4", "foot": "Cz", "face_L": "C5", "face_R": "C6"}
_SOURCE_NAMES = tuple(_SOURCES)


@lru_cache(maxsize=1)
def _montage_name() -> str:
    import mne
    # MNE 1.13 renamed "standard_1020" to "colin27_1020" (same positions).
    return "colin27_1020" if "colin27_1020" in mne.channels.get_builtin_montages() else "standard_1020"


@cache
def site_positions(names: tuple[str, ...]) -> np.ndarray:
    """Positions (m) of 10-20 / 10-10 sites in the standard montage, shape (len(names), 3).

    Shared by every simulator (motor imagery, SSVEP, P300). The returned array
    is cached: copy it before changing it in place.

    Parameters
    ----------
    names : tuple of str
        10-20 / 10-10 site names (a tuple, so that the result can be cached).
    """
    import mne
    pos = mne.channels.make_standard_montage(_montage_name()).get_positions()["ch_pos"]
    missing = [n for n in names if n not in pos]
    if missing:
        raise ValueError(f"Invalid channel names {missing}: not in the {_montage_name()} montage.")
    out = np.array([pos[c] for c in names], dtype=float)
    out.setflags(write=False)
    return out


#: extra sites used by the artifact model (eyes, temporal muscles) and the alpha source
_EXTRA_SITES = ("Fpz", "Fp1", "Fp2", "T7", "T8", "Oz")


@lru_cache(maxsize=1)
def _positions() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Electrode positions (m) of the 22 channels and of a few extra sites."""
    ch = np.array(site_positions(EEG_CHANNELS))
    extra = dict(zip(_EXTRA_SITES, np.array(site_positions(_EXTRA_SITES))))
    return ch, extra


def extra_sites() -> dict[str, np.ndarray]:
    """Positions (m) of the sites the artifact model needs (``Fpz``, ``T7``, ``T8``, ...)."""
    return dict(zip(_EXTRA_SITES, np.array(site_positions(_EXTRA_SITES))))


def _spread(src_pos: np.ndarray, ch_pos: np.ndarray, sigma: float) -> np.ndarray:
    """Volume-conduction gains, shape (n_channels, n_sources): Gaussian in distance."""
    d2 = ((ch_pos[:, None, :] - src_pos[None, :, :]) ** 2).sum(-1)
    return np.exp(-d2 / (2.0 * sigma**2))


def _white_spectrum(rng: np.random.Generator, n_series: int, n_freqs: int) -> np.ndarray:
    """Complex white spectra, E|X|^2 = 1, shape (n_series, n_freqs) (float32 draws for speed)."""
    re = rng.standard_normal((n_series, n_freqs), dtype=np.float32)
    im = rng.standard_normal((n_series, n_freqs), dtype=np.float32)
    return (re + 1j * im) * np.float32(np.sqrt(0.5))


def _to_time(spec: np.ndarray, gain: np.ndarray, n_fft: int, n_times: int) -> np.ndarray:
    """Inverse FFT of ``spec * gain`` scaled so that each series has unit expected variance."""
    g = np.broadcast_to(gain, spec.shape[:-1] + gain.shape[-1:])
    # for E|X_k|^2 = 1: var(irfft) = (2 * sum_k g_k^2) / n_fft^2 (ignoring DC / Nyquist)
    norm = n_fft / np.sqrt(2.0 * (g.astype(np.float64) ** 2).sum(-1, keepdims=True))
    return sp_fft.irfft(spec * (gain * norm).astype(np.float32), n=n_fft, axis=-1)[..., :n_times]


def _pink_gain(f: np.ndarray, exponent: float = 1.0, fmin: float = 0.5, floor: float = 0.0) -> np.ndarray:
    """Amplitude gain for power ~ 1/f**exponent (+ a white floor) above ``fmin`` Hz."""
    return np.where(f >= fmin, np.sqrt(np.maximum(f, fmin) ** (-exponent) + floor), 0.0)


def _colored_noise(rng: np.random.Generator, n_series: int, n_times: int, sfreq: float,
                   exponent: float = 1.0, fmin: float = 0.5) -> np.ndarray:
    """Unit-variance noise with power ~ 1/f**exponent above ``fmin``, shape (n_series, n_times)."""
    n_fft = sp_fft.next_fast_len(n_times, real=True)
    f = sp_fft.rfftfreq(n_fft, 1.0 / sfreq)
    return _to_time(_white_spectrum(rng, n_series, f.size), _pink_gain(f, exponent, fmin), n_fft, n_times)


def _narrowband(rng: np.random.Generator, n_series: int, n_times: int, sfreq: float,
                f0: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """Unit-variance narrow-band noise, Gaussian spectral peaks at ``f0`` (sd ``bw``) Hz."""
    n_fft = sp_fft.next_fast_len(n_times, real=True)
    f = sp_fft.rfftfreq(n_fft, 1.0 / sfreq)
    gain = np.exp(-0.5 * ((f[None, :] - np.asarray(f0)[:, None]) / np.asarray(bw)[:, None]) ** 2)
    # draw only the bins where some peak is non-negligible (> 6 sd away: gain < 1e-8)
    nz = np.flatnonzero(gain.max(0) > 1e-8)
    spec = np.zeros((n_series, f.size), dtype=np.complex64)
    spec[:, nz[0]:nz[-1] + 1] = _white_spectrum(rng, n_series, nz[-1] + 1 - nz[0])
    return _to_time(spec, gain, n_fft, n_times)


def _bandpass_noise(rng, n_times, sfreq, lo, hi) -> np.ndarray:
    """Unit-variance band-limited white noise in [lo, hi] Hz, shape (n_times,)."""
    n_fft = sp_fft.next_fast_len(n_times, real=True)
    f = sp_fft.rfftfreq(n_fft, 1.0 / sfreq)
    return _to_time(_white_spectrum(rng, 1, f.size), ((f >= lo) & (f <= hi)).astype(float),
                    n_fft, n_times)[0]


def background(rng: np.random.Generator, nominal_pos: np.ndarray, ch_pos: np.ndarray,
               n_times: int, sfreq: float, scale: float) -> np.ndarray:
    """Spatially coloured 1/f background EEG, shape (n_channels, n_times), volts.

    Pink latent sources under the nominal electrode sites (depth 0.85), spread
    to the actual sensor positions by a Gaussian volume-conduction matrix, plus
    independent sensor noise (20 %) and a common reference signal (30 %); drawn
    as one spatially coloured spectrum with covariance
    ``a a^T + 0.04 I + 0.09 11^T`` (unit diagonal), 1/f with a small white floor
    from 0.5 Hz (the recording high-pass).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source (one spectrum draw).
    nominal_pos : ndarray, shape (n_channels, 3)
        Electrode sites of the montage (m).
    ch_pos : ndarray, shape (n_channels, 3)
        Actual sensor positions (cap shift / jitter applied), m.
    n_times : int
        Number of samples.
    sfreq : float
        Sampling rate (Hz).
    scale : float
        RMS of each channel (V).
    """
    n_ch = ch_pos.shape[0]
    a_bg = _spread(nominal_pos * 0.85, ch_pos, 0.035)
    a_bg /= np.sqrt((a_bg**2).sum(1, keepdims=True))
    cov = a_bg @ a_bg.T + 0.04 * np.eye(n_ch) + 0.09
    chol = np.linalg.cholesky(cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov))))
    n_fft = sp_fft.next_fast_len(n_times, real=True)
    f = sp_fft.rfftfreq(n_fft, 1.0 / sfreq)
    spec = chol.astype(np.complex64) @ _white_spectrum(rng, n_ch, f.size)
    return _to_time(spec, _pink_gain(f, 1.0, 0.5, floor=2e-3), n_fft, n_times).astype(float) * scale


def artifacts(rng: np.random.Generator, n_times: int, sfreq: float, ch_pos: np.ndarray,
              blink_rate: float, muscle_rate: float, line_uv: float, line_freq: float,
              eog_weights=(1.0, 0.6, 0.6)) -> tuple[np.ndarray, np.ndarray]:
    """Eye blinks, muscle bursts and line noise (volts).

    Eye blinks (100-200 uV at Fpz, decaying with distance from the eyes,
    ``blink_rate`` per minute), muscle bursts (20-100 Hz near T7 / T8,
    ``muscle_rate`` per minute), line noise at ``line_freq`` with slowly
    varying amplitude (``line_uv`` microvolts, channel gains 0.3-1).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator drawing blink times, burst times and sites, and amplitudes.
    n_times : int
        Number of samples.
    sfreq : float
        Sampling rate in Hz.
    ch_pos : ndarray, shape (n_channels, 3)
        Positions (m) of the EEG sensors.
    blink_rate : float
        Mean number of eye blinks per minute (Poisson).
    muscle_rate : float
        Mean number of muscle bursts per minute (Poisson).
    line_uv : float
        Line-noise amplitude in microvolts, before the per-channel gains (0.3-1).
    line_freq : float
        Line-noise frequency in Hz.
    eog_weights : sequence of float
        Blink amplitude on each EOG channel, relative to Fpz; one per EOG channel.

    Returns
    -------
    x : ndarray, shape (n_channels, n_times)
        Artifacts on the EEG sensors at ``ch_pos``.
    eog : ndarray, shape (len(eog_weights), n_times)
        Blinks on the EOG channels (weights per EOG channel).
    """
    sf = sfreq
    extra = extra_sites()
    n_ch = ch_pos.shape[0]
    x = np.zeros((n_ch, n_times))
    eog = np.zeros((len(eog_weights), n_times))
    t = np.arange(n_times) / sf
    # eye blinks: ~100-200 uV at Fpz, decaying with distance from the eyes
    n_blinks = rng.poisson(blink_rate * n_times / sf / 60.0)
    if n_blinks:
        impulses = np.zeros(n_times)
        impulses[rng.integers(0, n_times, n_blinks)] = rng.uniform(100e-6, 200e-6, n_blinks)
        kt = np.arange(-int(0.4 * sf), int(0.4 * sf) + 1) / sf
        blink = np.convolve(impulses, np.exp(-0.5 * (kt / 0.08) ** 2), mode="same")
        d = np.linalg.norm(ch_pos - extra["Fpz"], axis=1)
        x += np.outer(np.exp(-d / 0.03), blink)
        eog += np.outer(list(eog_weights), blink)
    # muscle bursts: 20-100 Hz, lateral (temporal) sites
    n_bursts = rng.poisson(muscle_rate * n_times / sf / 60.0)
    for _ in range(n_bursts):
        dur = rng.uniform(0.2, 1.5)
        n = int(dur * sf)
        i = int(rng.integers(0, max(1, n_times - n)))
        site = extra["T7"] if rng.random() < 0.5 else extra["T8"]
        g = np.exp(-np.linalg.norm(ch_pos - site, axis=1) / 0.03)
        burst = _bandpass_noise(rng, n, sf, 20.0, min(100.0, 0.45 * sf)) * np.hanning(n)
        x[:, i:i + n] += np.outer(g * rng.uniform(20e-6, 50e-6), burst)
    # line noise with slowly varying amplitude
    slow = 1.0 + 0.3 * _colored_noise(rng, 1, n_times, sf, exponent=2.0, fmin=0.01)[0]
    line = np.sin(2 * np.pi * line_freq * t + rng.uniform(0, 2 * np.pi)) * slow
    x += np.outer(line_uv * 1e-6 * rng.uniform(0.3, 1.0, n_ch), line)
    return x, eog


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


def _ramp(x: np.ndarray) -> np.ndarray:
    """Raised-cosine step: 0 for x <= 0, 1 for x >= 1."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


#: numpydoc entries of the parameters shared by the SSVEP and P300 simulators
#: (indented for a class docstring's Parameters section)
SHARED_PARAMS_DOC = """seed : int
        Seed; a subject's physiology depends only on ``(seed, subject)``.
    sfreq : float
        Sampling rate in Hz (>= 128).
    artifacts : bool
        Add eye blinks, muscle bursts and line noise.
    line_freq : float
        Mains frequency in Hz.
    subjects, sessions : list | None
        MOABB's ``selected_subjects`` / ``selected_sessions``.
"""


class SimulatedBase(BaseDataset):
    """MOABB plumbing shared by the simulators: nothing on disk, runs generated on demand.

    Subclasses set ``session_names`` and ``n_runs`` and define
    ``simulate_raw(subject, session, run)``. A ``%(shared_params)s`` line in a
    subclass docstring is replaced by the documentation of the parameters every
    simulator shares (:data:`SHARED_PARAMS_DOC`).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__doc__ and "%(shared_params)s" in cls.__doc__:
            cls.__doc__ = cls.__doc__.replace("%(shared_params)s", SHARED_PARAMS_DOC.strip())

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
        sf = self.sfreq

        # --- trial schedule
        n_tr = self.n_trials_per_run
        classes = np.resize(np.arange(4), n_tr)
        rng.shuffle(classes)
        trial_len = _IMAGERY_END_S + rng.uniform(1.5, 2.5, n_tr)
        starts_s = _PAD_S + np.concatenate([[0.0], np.cumsum(trial_len)[:-1]])
        n_times = int(np.ceil((starts_s[-1] + trial_len[-1] + _PAD_S) * sf))
        starts = np.round(starts_s * sf).astype(int)
        t_trial = np.arange(int(round(9.0 * sf))) / sf  # modulation kernel support (s)

        # --- geometry (cap placement differs per session)
        ch_pos0, extra = _positions()
        ch_pos = ch_pos0 + sp["cap_shift"] + sp["electrode_jitter"]
        src_pos = np.array([ch_pos0[EEG_CHANNELS.index(e)] for e in _SOURCES.values()]) * 0.85
        a_src = _spread(src_pos, ch_pos, 0.03)
        a_src /= a_src.max(0, keepdims=True)
        alpha_pos = (extra["Oz"] * 0.85)[None]
        a_alpha = _spread(alpha_pos, ch_pos, 0.045)[:, 0]
        a_alpha /= a_alpha.max()

        n_ch = len(EEG_CHANNELS)
        bg = p["bg_uv"] * sp["bg_scale"] * 1e-6
        # --- background: pink sources under the electrodes, volume conduction, sensor noise
        x = background(rng, ch_pos0, ch_pos, n_times, sf, bg)

        # --- rhythms with class-dependent power modulation
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
        amp_mu = np.sqrt(np.clip(pow_mu, 0.02, None))
        amp_beta = np.sqrt(np.clip(pow_beta, 0.02, None))
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

        eog = 0.5 * bg * _colored_noise(rng, len(EOG_CHANNELS), n_times, sf, exponent=1.5)
        if self.artifacts:
            x_art, eog_art = self._artifacts(rng, p, sp, n_times, ch_pos, extra)
            x += x_art
            eog += eog_art
        x *= sp["gains"][:, None]

        stim = np.zeros((1, n_times))
        stim[0, starts] = [EVENT_ID[c] for c in np.array(list(EVENT_ID))[classes]]
        ch_names = list(EEG_CHANNELS) + list(EOG_CHANNELS) + ["STI"]
        ch_types = ["eeg"] * n_ch + ["eog"] * len(EOG_CHANNELS) + ["stim"]
        return make_raw(np.vstack([x, eog, stim]), ch_names, ch_types, sf, self.line_freq)

    def _artifacts(self, rng, p, sp, n_times, ch_pos, extra):
        """Eye blinks, muscle bursts and line noise: (EEG part, EOG part); see :func:`artifacts`."""
        return artifacts(rng, n_times, self.sfreq, ch_pos, p["blink_rate"], p["muscle_rate"],
                         sp["line_uv"], self.line_freq)


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
