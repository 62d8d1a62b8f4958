"""Simulated windows shared by the model tests (a uniquely named module, not conftest)."""


def simulated_windows(n=48, n_channels=4, n_times=128, sfreq=128.0, seed=0, noise=0.2):
    """Windows of two oscillatory sources seen through a fixed mixing matrix (volume conduction) + noise.

    Class 0 has a strong 10 Hz source, class 1 a strong 20 Hz source. Returns
    X (n, n_channels, n_times) float32 and y (n,).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(1234).standard_normal((n_channels, 2))
    t = np.arange(n_times) / sfreq
    y = np.arange(n) % 2
    X = np.empty((n, n_channels, n_times))
    for i in range(n):
        amps = (1.5, 0.4) if y[i] == 0 else (0.4, 1.5)
        src = np.stack([a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
                        for a, f in zip(amps, (10.0, 20.0))])
        X[i] = mixing @ src + noise * rng.standard_normal((n_channels, n_times))
    return X.astype(np.float32), y
