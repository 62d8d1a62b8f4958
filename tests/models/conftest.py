"""Model tests run single-threaded: on a shared 2-core machine intra-op threads only contend."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def simulated_windows(n=48, n_channels=4, n_times=128, sfreq=128.0, seed=0):
    """Two classes of noisy oscillations (alpha 10 Hz vs beta 20 Hz on the first channels)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / sfreq
    y = np.arange(n) % 2
    X = 0.5 * rng.standard_normal((n, n_channels, n_times))
    for i in range(n):
        f = 10.0 if y[i] == 0 else 20.0
        phase = rng.uniform(0, 2 * np.pi, (n_channels, 1))
        amp = np.linspace(1.5, 0.3, n_channels)[:, None]
        X[i] += amp * np.sin(2 * np.pi * f * t[None] + phase)
    return X.astype(np.float32), y
