"""Small data helpers for the TFM tests (real eegmat windows, a synthetic two-class signal)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module", autouse=False)
def one_thread():
    """Tiny models: torch's intra-op threads only add overhead (and contention on a shared
    2-core machine), so the TFM tests run single-threaded; restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def eegmat_windows(shared_data: Path, name: str = "Subject00_1", win_s: float = 10.0,
                   max_windows: int | None = None) -> np.ndarray:
    """Real EEG: eegmat EDF -> 19 EEG channels, resampled to 200 Hz, non-overlapping windows.

    Returns float32 (n_windows, 19, win_s * 200), in volts.
    """
    import mne
    raw = mne.io.read_raw_edf(shared_data / "eegmat" / f"{name}.edf", preload=True, verbose="error")
    raw.pick([c for c in raw.ch_names if c.startswith("EEG") and "A2-A1" not in c])
    raw.resample(200.0, verbose="error")
    x = raw.get_data().astype(np.float32)
    n = int(win_s * 200)
    k = x.shape[1] // n
    if max_windows is not None:
        k = min(k, max_windows)
    return np.ascontiguousarray(x[:, : k * n].reshape(x.shape[0], k, n).transpose(1, 0, 2))


def two_class_band_power(n_per_class: int = 30, n_channels: int = 2, n_times: int = 2000, sfreq: float = 200.0,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pink-ish noise; class 1 has a strong 10 Hz (alpha) burst component, class 0 a 20 Hz one."""
    rng = np.random.default_rng(seed)
    n = 2 * n_per_class
    y = np.repeat([0, 1], n_per_class)
    white = rng.standard_normal((n, n_channels, n_times))
    spec = np.fft.rfft(white, axis=-1)
    f = np.fft.rfftfreq(n_times, 1 / sfreq)
    spec /= np.maximum(f, 1.0) ** 0.5
    X = np.fft.irfft(spec, n_times, axis=-1)
    t = np.arange(n_times) / sfreq
    freq = np.where(y == 1, 10.0, 20.0)[:, None, None]
    env = 1 + np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 2 * np.pi, (n, n_channels, 1)))
    X += 1.0 * env * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi, (n, n_channels, 1)))
    return X.astype(np.float32), y
