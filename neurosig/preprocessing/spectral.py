"""One-pass band-pass + notch + FFT resampling in the frequency domain (the fast engine).

The sequential MNE chain (``filter_data`` -> ``notch_filter`` -> ``resample``)
pads, transforms and inverse-transforms a recording three times. Here the
FIR kernels are still designed by MNE (:func:`mne.filter.create_filter`, the
same band-pass and notch kernels that ``raw.filter`` and ``raw.notch_filter``
use), composed into one zero-phase kernel, and applied together with the FFT
resampling in a single real FFT per channel block:

1. pad the recording once, by reflection about its end samples (MNE's
   ``"reflect_limited"`` rule), by at least half the composed kernel;
2. ``rfft``, multiply by the kernel's (real, zero-phase) frequency response;
3. keep the bins below the new Nyquist frequency (FFT resampling), ``irfft``
   at the new length, crop the padding.

Away from the recording's ends the result equals the sequential MNE chain to
floating-point precision; within about half a notch kernel (1.65 s) of each
end it differs slightly, because MNE pads each stage's own output while this
pads the input once. ``benchmarks/tuab_prepare.py`` prints both differences.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np

#: largest denominator of new_sfreq / sfreq that the one-pass engine accepts
MAX_RATIO_DENOMINATOR = 4096


def _notch_band_edges(freqs: np.ndarray) -> tuple[list[float], list[float]]:
    """Band-stop edges exactly as :func:`mne.filter.notch_filter` (FIR) sets them."""
    widths = freqs / 200.0
    tb_2 = 1.0 / 2.0  # trans_bandwidth=1 Hz, MNE's default
    lows = [f - w / 2.0 - tb_2 for f, w in zip(freqs, widths)]
    highs = [f + w / 2.0 + tb_2 for f, w in zip(freqs, widths)]
    return highs, lows


@lru_cache(maxsize=32)
def design_kernel(sfreq: float, l_freq: float | None, h_freq: float | None,
                  notch: float | None) -> np.ndarray:
    """Composed zero-phase FIR kernel: MNE's band-pass kernel convolved with its notch kernel.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    l_freq, h_freq : float | None
        Band-pass edges (MNE defaults for transition bands and length).
    notch : float | None
        Mains frequency; harmonics below ``min(h_freq, sfreq / 2)`` are included.

    Returns
    -------
    kernel : ndarray, shape (n_taps,)
        Odd length, symmetric. ``[1.0]`` when no filter is asked for.
    """
    import mne

    kernels = []
    if l_freq is not None or h_freq is not None:
        kernels.append(mne.filter.create_filter(None, sfreq, l_freq, h_freq, method="fir", phase="zero",
                                                fir_window="hamming", fir_design="firwin",
                                                verbose="error"))
    if notch is not None:
        top = min(sfreq / 2.0, h_freq if h_freq is not None else np.inf)
        freqs = np.arange(notch, top, notch)
        if freqs.size:
            highs, lows = _notch_band_edges(freqs)
            kernels.append(mne.filter.create_filter(None, sfreq, highs, lows, l_trans_bandwidth=0.5,
                                                    h_trans_bandwidth=0.5, method="fir", phase="zero",
                                                    fir_window="hamming", fir_design="firwin",
                                                    verbose="error"))
    kernel = np.array([1.0])
    for k in kernels:
        kernel = np.convolve(kernel, k)
    kernel.setflags(write=False)
    return kernel


def _reflect_limited(x: np.ndarray, left: int, right: int, out: np.ndarray | None = None) -> np.ndarray:
    """Pad the last axis by odd reflection about the end samples, zeros beyond the signal length.

    Same rule as MNE's ``pad="reflect_limited"``: ``2 * x[0] - x[k:0:-1]`` on the
    left, ``2 * x[-1] - x[-2:-k-2:-1]`` on the right. Written into ``out`` (shape
    ``x.shape[:-1] + (left + n + right,)``) when given.
    """
    n = x.shape[-1]
    nl, nr = min(left, n - 1), min(right, n - 1)
    if out is None:
        out = np.empty(x.shape[:-1] + (left + n + right,))
    out[..., : left - nl] = 0.0
    np.subtract(2 * x[..., :1], x[..., nl:0:-1], out=out[..., left - nl:left])
    out[..., left:left + n] = x
    np.subtract(2 * x[..., -1:], x[..., -2:-nr - 2:-1], out=out[..., left + n:left + n + nr])
    out[..., left + n + nr:] = 0.0
    return out


def _ratio(sfreq: float, new_sfreq: float) -> tuple[int, int] | None:
    r = Fraction(float(new_sfreq)).limit_denominator(10**6) / Fraction(float(sfreq)).limit_denominator(10**6)
    if r.denominator > MAX_RATIO_DENOMINATOR or r.numerator > MAX_RATIO_DENOMINATOR:
        return None
    return r.numerator, r.denominator


def supports(sfreq: float, new_sfreq: float) -> bool:
    """Whether the one-pass engine handles this pair of rates (a small rational ratio).

    Parameters
    ----------
    sfreq : float
        Input sampling rate in Hz.
    new_sfreq : float
        Output sampling rate in Hz.
    """
    return _ratio(sfreq, new_sfreq) is not None


def filter_resample(data: np.ndarray, sfreq: float, new_sfreq: float, kernel: np.ndarray,
                    block: int = 8) -> np.ndarray:
    """Apply a zero-phase FIR kernel and FFT-resample, in one real FFT per block of channels.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        Continuous signals.
    sfreq, new_sfreq : float
        Old and new sampling rates (their ratio must be a small fraction, see
        :func:`supports`).
    kernel : ndarray, shape (n_taps,)
        Odd-length symmetric kernel from :func:`design_kernel`.
    block : int
        Channels transformed together (bounds the memory of the spectra).

    Returns
    -------
    out : ndarray, shape (n_channels, round(n_times * new_sfreq / sfreq)), float64
    """
    from scipy import fft as sfft

    ratio = _ratio(sfreq, new_sfreq)
    if ratio is None:
        raise ValueError(f"The one-pass engine needs a small rational ratio new_sfreq / sfreq, but got "
                         f"{new_sfreq} / {sfreq}; use engine='mne'.")
    p, q = ratio
    x = np.asarray(data, dtype=np.float64)
    n_ch, n = x.shape
    half = (len(kernel) - 1) // 2
    new_len = max(int(round(n * p / q)), 1)
    left = -(-half // q) * q                       # >= half, a multiple of q (lands on the new grid)
    m = -(-(left + n + half) // q)
    while sfft.next_fast_len(m * q, real=True) != m * q:
        m += 1
    n_ext = m * q
    n_out = m * p
    # zero-phase kernel centred on sample 0 of a circular buffer -> real frequency response
    hk = np.zeros(n_ext)
    hk[: half + 1] = kernel[half:]
    if half:
        hk[-half:] = kernel[:half]
    H = sfft.rfft(hk).real
    keep = min(n_out, n_ext) // 2 + 1
    scale = n_out / n_ext
    Hk = H[:keep] * scale
    if min(n_out, n_ext) % 2 == 0 and n_out != n_ext:  # Nyquist bin: as MNE's _fft_resample
        Hk[-1] *= 2.0 if n_out < n_ext else 0.5
    start = left * p // q
    out = np.empty((n_ch, new_len))
    buf = np.empty((min(block, n_ch), n_ext))
    for b in range(0, n_ch, block):
        xb = x[b:b + block]
        xe = _reflect_limited(xb, left, n_ext - left - n, out=buf[: xb.shape[0]])
        X = sfft.rfft(xe, axis=-1)[:, :keep]
        X *= Hk
        y = sfft.irfft(X, n_out, axis=-1)
        out[b:b + block] = y[:, start:start + new_len]
    return out
