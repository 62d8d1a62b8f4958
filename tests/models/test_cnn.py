"""Specialist CNNs: output shapes, a short training beating chance, save/load."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neurosig.models.cnn import DeepConvNet, EEGNet, ShallowConvNet


def _data(n=80, C=6, T=250, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    t = np.arange(T) / 250
    X = rng.standard_normal((n, C, T)) * 1e-6
    X[y == 1, 0] += 1.5e-6 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 2 * np.pi, (n // 2, 1)))
    return X, y


@pytest.mark.parametrize("cls", [EEGNet, ShallowConvNet, DeepConvNet])
def test_cnn_shapes_and_learning(cls, tmp_path):
    torch.set_num_threads(1)
    X, y = _data()
    perm = np.random.default_rng(1).permutation(len(y))
    tr, te = perm[:50], perm[50:]
    est = cls(sfreq=250, max_epochs=25, patience=25, random_state=0).fit(X[tr], y[tr])
    proba = est.predict_proba(X[te])
    assert proba.shape == (len(te), 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    acc = (est.predict(X[te]) == y[te]).mean()
    # 30 held-out trials: chance is 0.5; 0.75 is beyond the binomial 99th percentile (~0.73)
    assert acc >= 0.75, acc
    path = est.save(tmp_path / "m.pt")
    again = cls.load(path)
    np.testing.assert_allclose(again.predict_proba(X[te]), proba, atol=1e-6)


def test_cnn_rejects_wrong_shape():
    X, y = _data(n=20)
    est = ShallowConvNet(sfreq=250, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"fitted on \(6, 250\)"):
        est.predict(X[:, :5])


@pytest.mark.parametrize(("sfreq", "kernel"), [(128, 64), (250, 124), (160, 80), (None, 124)])
def test_eegnet_temporal_kernel_is_half_a_second(sfreq, kernel):
    """The published EEGNet-8,2 uses a 64-sample temporal kernel at 128 Hz: fs/2."""
    X, y = _data(n=8, T=256)
    est = EEGNet(sfreq=sfreq, max_epochs=1, val_fraction=0.0).fit(X, y)
    assert est.module_.features[0].kernel_size == (1, kernel)
