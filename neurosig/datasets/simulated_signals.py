"""The signal model shared by the simulators: sensor sites, volume conduction, noise, artifacts.

Plain functions on arrays, used by the motor-imagery, SSVEP and P300
simulators (:mod:`neurosig.datasets.simulated`,
:mod:`neurosig.datasets.simulated_ssvep`,
:mod:`neurosig.datasets.simulated_p300`):

* electrode sites of the standard 10-20 montage (:func:`site_positions`);
* volume conduction as a Gaussian of the source-sensor distance;
* spectrally shaped noise (1/f, narrow-band rhythms, band-limited bursts),
  drawn in the frequency domain;
* spatially coloured 1/f background EEG (:func:`background`) and eye blinks,
  muscle bursts and line noise (:func:`artifacts`). All amplitudes in volts.
"""
from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
from scipy import fft as sp_fft


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


def _ramp(x: np.ndarray) -> np.ndarray:
    """Raised-cosine step: 0 for x <= 0, 1 for x >= 1."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)

