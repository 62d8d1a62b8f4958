"""Short-time Fourier transform front end (the TFM tokenizer's input).

Functional core on torch tensors (numpy arrays are accepted and converted).
The frames are ``x[..., t * hop : t * hop + n_fft]`` (no centring, no padding),
multiplied by a periodic Hann window and transformed with a real FFT, so

    stft_magnitude(x) == torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft),
                                    center=False, return_complex=True).abs()

and ``scipy.signal.stft(x, nperseg=n_fft, noverlap=n_fft - hop, boundary=None,
padded=False)`` equals it divided by ``window.sum()`` (scipy's "spectrum" scaling).
The tests check both.
"""
from __future__ import annotations

import numpy as np
import torch

from .._validation import check_positive_int

__all__ = ["frame_signal", "stft_magnitude", "n_stft_frames", "hann_window"]


def hann_window(n_fft: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """Periodic Hann window, shape (n_fft,) (same as ``torch.hann_window`` / scipy ``get_window('hann')``).

    Parameters
    ----------
    n_fft : int
        Window length in samples.
    dtype : torch.dtype
        Data type of the window.
    device : torch.device | str | None
        Device of the window (default: torch's default device).
    """
    return torch.hann_window(n_fft, periodic=True, dtype=dtype, device=device)


def n_stft_frames(n_times: int, n_fft: int, hop: int) -> int:
    """Number of frames of a signal of ``n_times`` samples: ``1 + (n_times - n_fft) // hop``.

    Parameters
    ----------
    n_times : int
        Samples of the signal (at least ``n_fft``).
    n_fft : int
        Frame length in samples.
    hop : int
        Frame step in samples.
    """
    if n_times < n_fft:
        raise ValueError(f"Invalid value for the 'n_times' parameter: windows of {n_times} samples are "
                         f"shorter than n_fft={n_fft}; use longer windows or a smaller n_fft.")
    return 1 + (n_times - n_fft) // hop


def _as_tensor(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.float()
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def frame_signal(x, n_fft: int = 200, hop: int = 100) -> torch.Tensor:
    """Cut the last axis into overlapping frames.

    Parameters
    ----------
    x : Tensor or ndarray, shape (..., n_times)
    n_fft, hop : int
        Frame length and step in samples.

    Returns
    -------
    frames : Tensor, shape (..., n_frames, n_fft)
        A view (no copy) when ``x`` is a contiguous tensor.
    """
    n_fft = check_positive_int("n_fft", n_fft, minimum=2)
    hop = check_positive_int("hop", hop)
    x = _as_tensor(x)
    n_stft_frames(x.shape[-1], n_fft, hop)
    return x.unfold(-1, n_fft, hop)


def stft_magnitude(x, n_fft: int = 200, hop: int = 100, window: torch.Tensor | None = None,
                   return_frames: bool = False):
    """Magnitude STFT of the last axis.

    Parameters
    ----------
    x : Tensor or ndarray, shape (..., n_times)
    n_fft : int
        FFT length = frame length (200 at 200 Hz: 1 Hz bins).
    hop : int
        Step between frames (100 at 200 Hz: 0.5 s).
    window : Tensor, shape (n_fft,) | None
        Defaults to the periodic Hann window.
    return_frames : bool
        Also return the raw (unwindowed) frames, shape (..., n_frames, n_fft),
        i.e. the raw-signal segment behind each spectrum column.

    Returns
    -------
    mag : Tensor, shape (..., n_fft // 2 + 1, n_frames)
        Same layout as ``torch.stft(...).abs()``.
    frames : Tensor, shape (..., n_frames, n_fft)
        Only when ``return_frames``.
    """
    frames = frame_signal(x, n_fft, hop)
    if window is None:
        window = hann_window(n_fft, dtype=frames.dtype, device=frames.device)
    elif window.shape != (n_fft,):
        raise ValueError(f"Invalid value for the 'window' parameter: expected shape ({n_fft},), "
                         f"got {tuple(window.shape)}.")
    mag = torch.fft.rfft(frames * window, dim=-1).abs().transpose(-1, -2)
    if return_frames:
        return mag, frames
    return mag
