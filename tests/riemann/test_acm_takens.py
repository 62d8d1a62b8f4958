"""Takens estimates on signals with known delay (Gaussian AR(2)) and dimension (Lorenz)."""
from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.signal import lfilter

from neurosig.riemann.takens import (
    average_mutual_information,
    estimate_lag,
    estimate_order,
    false_nearest_neighbours,
    takens_parameters,
)


def _lorenz_x(n=5000, dt=0.01):
    def f(t, u):
        return [10 * (u[1] - u[0]), u[0] * (28 - u[2]) - u[1], u[0] * u[1] - 8 / 3 * u[2]]
    t = np.arange(n + 1000) * dt
    sol = solve_ivp(f, (0, t[-1]), [1.0, 1.0, 1.0], t_eval=t, rtol=1e-9, atol=1e-9)
    return sol.y[0, 1000:]


def test_fnn_gives_dimension_3_for_lorenz():
    x = _lorenz_x()
    lag = estimate_lag(x, max_lag=30)
    fnn = false_nearest_neighbours(x, lag, max_order=5)
    assert fnn[0] > 0.5 and fnn[2] <= 0.01  # false neighbours vanish at the known dimension 3
    assert estimate_order(x, lag, max_order=5) == 3


def test_ami_first_minimum_at_first_acf_zero_of_gaussian_ar2():
    """For a Gaussian process MI(tau) = -0.5 log(1 - rho(tau)^2): its first minimum is the
    first zero of the autocorrelation, known exactly from the AR(2) coefficients."""
    r, period = 0.97, 24.0
    a1, a2 = 2 * r * np.cos(2 * np.pi / period), -r ** 2
    rho = [1.0, a1 / (1 - a2)]
    while rho[-1] > 0:
        rho.append(a1 * rho[-1] + a2 * rho[-2])
    zero = len(rho) - 1 if abs(rho[-1]) < abs(rho[-2]) else len(rho) - 2  # nearest lag to the zero
    rng = np.random.default_rng(0)
    x = lfilter([1.0], [1.0, -a1, -a2], rng.standard_normal((40, 3000)), axis=-1)[:, 500:]
    lag = estimate_lag(x, max_lag=15)
    assert abs(lag - zero) <= 1, (lag, zero)
    ami = average_mutual_information(x, 15)
    assert ami[0] > ami[lag] and np.all(ami >= -1e-12)


def test_takens_parameters_on_trials_shape_and_range():
    rng = np.random.default_rng(1)
    X = lfilter([1.0], [1.0, -1.6, 0.9], rng.standard_normal((6, 3, 400)), axis=-1)
    order, lag = takens_parameters(X, max_lag=10, max_order=6)
    assert 1 <= order <= 6 and 1 <= lag <= 10
