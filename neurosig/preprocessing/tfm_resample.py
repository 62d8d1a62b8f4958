"""FFT resampling of windows to the TFM tokenizer's rate (the published recipe resamples
each window with an FFT when it is loaded).

The functions live in :mod:`neurosig.preprocessing.resample` (one FFT resampler for all
windows); this module keeps the TFM import path.
"""
from __future__ import annotations

from .resample import fft_resample, resampled_length

__all__ = ["fft_resample", "resampled_length"]
