"""Specialist convolutional networks for EEG, in plain PyTorch, as scikit-learn classifiers.

Architectures follow the publications:

- EEGNet-8,2 (Lawhern et al. 2018): temporal conv (F1=8, kernel fs/2: the paper's 64 samples
  at 128 Hz, half a second, so that the filters reach down to 2 Hz), depthwise spatial conv
  (D=2, max-norm 1), average pooling 4, separable conv (F2=16, kernel 16), pooling 8, dropout.
- ShallowConvNet (Schirrmeister et al. 2017): temporal conv 40 x 25, spatial conv 40, BN,
  square, average pooling 75 / stride 15, log, dropout, dense.
- DeepConvNet (Schirrmeister et al. 2017): 25-50-100-200 filters, kernel 10, max pooling 3,
  ELU, BN, dropout.

The ShallowConvNet and DeepConvNet kernel lengths are given in samples at 250 Hz (their
paper's rate) and scaled to the input's sampling rate when ``sfreq`` is set, so short
epochs at 128-160 Hz still fit; EEGNet's temporal kernel is half a second at ``sfreq``
(the nearest even number of samples). Without ``sfreq``, 250 Hz is assumed.
All three derive from :class:`neurosig.models.base.TorchClassifier` (fit loop, early
stopping, seeds, device, save/load).
"""
from __future__ import annotations

import torch
from torch import nn

from .base import TorchClassifier
from .training import DEPRECATED


def _scaled(n: int, sfreq: float | None) -> int:
    return max(1, int(round(n * (sfreq or 250.0) / 250.0)))


class _Square(nn.Module):
    def forward(self, x):
        return x * x


class _SafeLog(nn.Module):
    def forward(self, x):
        return torch.log(torch.clamp(x, min=1e-6))


class _MaxNorm:
    """Mixin: renormalise each output unit's weights to at most ``max_norm`` before every forward."""

    def __init__(self, *args, max_norm: float = 1.0, **kw):
        super().__init__(*args, **kw)
        self.max_norm = max_norm

    def forward(self, x):
        with torch.no_grad():
            self.weight.data = torch.renorm(self.weight.data, 2, 0, self.max_norm)
        return super().forward(x)


class _MaxNormLinear(_MaxNorm, nn.Linear):
    """Dense layer with EEGNet's max-norm constraint."""


class _Conv2dMaxNorm(_MaxNorm, nn.Conv2d):
    """Convolution with EEGNet's max-norm constraint (depthwise spatial filters)."""


def eegnet_kernel(sfreq: float | None) -> int:
    """EEGNet's temporal kernel: half a second (fs/2) in samples, rounded to an even number.

    Parameters
    ----------
    sfreq : float | None
        Sampling rate in Hz (None: 250 Hz).

    Returns
    -------
    int
        64 at 128 Hz (the published layout), 124 at 250 Hz.
    """
    return max(2, 2 * int(round((sfreq or 250.0) / 4)))


def _flat_size(module: nn.Module, n_channels: int, n_times: int) -> int:
    with torch.no_grad():
        return int(module(torch.zeros(1, 1, n_channels, n_times)).numel())


class EEGNetModule(nn.Module):
    """EEGNet: (batch, n_channels, n_times) -> logits (batch, n_classes).

    Parameters
    ----------
    n_channels, n_times : int
        Input shape of one trial.
    n_classes : int
        Number of outputs (logits).
    F1, D, F2 : int
        Temporal filters, depth multiplier of the spatial convolution, separable filters.
    kernel : int
        Temporal kernel length in samples (fs/2 in the published layout, see :func:`eegnet_kernel`).
    dropout : float
        Dropout rate.
    pool1, pool2 : int
        Average pooling after the spatial and the separable convolution (shortened for short trials).
    """

    def __init__(self, n_channels, n_times, n_classes, F1=8, D=2, F2=16, kernel=64, dropout=0.5,
                 pool1=4, pool2=8):
        super().__init__()
        pool1 = min(pool1, max(1, n_times // 4))
        pool2 = min(pool2, max(1, n_times // (4 * pool1)))
        self.features = nn.Sequential(
            nn.Conv2d(1, F1, (1, kernel), padding=(0, kernel // 2), bias=False),
            nn.BatchNorm2d(F1),
            _Conv2dMaxNorm(F1, F1 * D, (n_channels, 1), groups=F1, bias=False, max_norm=1.0),
            nn.BatchNorm2d(F1 * D), nn.ELU(), nn.AvgPool2d((1, pool1)), nn.Dropout(dropout),
            nn.Conv2d(F1 * D, F1 * D, (1, 16), padding=(0, 8), groups=F1 * D, bias=False),
            nn.Conv2d(F1 * D, F2, 1, bias=False),
            nn.BatchNorm2d(F2), nn.ELU(), nn.AvgPool2d((1, pool2)), nn.Dropout(dropout),
            nn.Flatten(),
        )
        self.classifier = _MaxNormLinear(_flat_size(self.features, n_channels, n_times), n_classes,
                                         max_norm=0.25)

    def forward(self, x):
        return self.classifier(self.features(x.unsqueeze(1)))


class ShallowConvNetModule(nn.Module):
    """ShallowConvNet: (batch, n_channels, n_times) -> logits (batch, n_classes).

    Parameters
    ----------
    n_channels, n_times : int
        Input shape of one trial.
    n_classes : int
        Number of outputs (logits).
    n_filters : int
        Temporal and spatial filters.
    kernel : int
        Temporal kernel length in samples.
    pool, stride : int
        Average pooling length and stride in samples.
    dropout : float
        Dropout rate.
    """

    def __init__(self, n_channels, n_times, n_classes, n_filters=40, kernel=25, pool=75, stride=15,
                 dropout=0.5):
        super().__init__()
        kernel = min(kernel, n_times // 2)
        pool = min(pool, max(1, n_times - kernel))
        self.features = nn.Sequential(
            nn.Conv2d(1, n_filters, (1, kernel)),
            nn.Conv2d(n_filters, n_filters, (n_channels, 1), bias=False),
            nn.BatchNorm2d(n_filters), _Square(), nn.AvgPool2d((1, pool), stride=(1, stride)),
            _SafeLog(), nn.Dropout(dropout), nn.Flatten(),
        )
        self.classifier = nn.Linear(_flat_size(self.features, n_channels, n_times), n_classes)

    def forward(self, x):
        return self.classifier(self.features(x.unsqueeze(1)))


class DeepConvNetModule(nn.Module):
    """DeepConvNet: (batch, n_channels, n_times) -> logits (batch, n_classes).

    Parameters
    ----------
    n_channels, n_times : int
        Input shape of one trial.
    n_classes : int
        Number of outputs (logits).
    kernel : int
        Temporal kernel length in samples.
    pool : int
        Max pooling length.
    dropout : float
        Dropout rate.
    filters : tuple of int
        Filters of the four blocks (the last blocks are left out when trials are too short).
    """

    def __init__(self, n_channels, n_times, n_classes, kernel=10, pool=3, dropout=0.5,
                 filters=(25, 50, 100, 200)):
        super().__init__()
        layers = [nn.Conv2d(1, filters[0], (1, kernel)),
                  nn.Conv2d(filters[0], filters[0], (n_channels, 1), bias=False),
                  nn.BatchNorm2d(filters[0]), nn.ELU(), nn.MaxPool2d((1, pool))]
        width = (n_times - kernel + 1) // pool
        for f_in, f_out in zip(filters[:-1], filters[1:]):
            if width - kernel + 1 < pool:  # short epochs: stop before the time axis vanishes
                break
            layers += [nn.Dropout(dropout), nn.Conv2d(f_in, f_out, (1, kernel), bias=False),
                       nn.BatchNorm2d(f_out), nn.ELU(), nn.MaxPool2d((1, pool))]
            width = (width - kernel + 1) // pool
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(_flat_size(self.features, n_channels, n_times), n_classes)

    def forward(self, x):
        return self.classifier(self.features(x.unsqueeze(1)))


class _CNNClassifier(TorchClassifier):
    """Shared parameters of the CNN classifiers (input scaling to microvolt-sized values)."""

    def __init__(self, sfreq=None, scale=1e6, dropout=0.5, max_epochs=100, batch_size=32, lr=1e-3,
                 weight_decay=0.0, patience=15, val_fraction=0.2, random_state=0, device=None, verbose=False,
                 seed=DEPRECATED):
        super().__init__(max_epochs=max_epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                         patience=patience, val_fraction=val_fraction, random_state=random_state, device=device,
                         verbose=verbose, seed=seed)
        self.sfreq = sfreq
        self.scale = scale
        self.dropout = dropout

    def _prepare_input(self, X):
        # MOABB epochs are in volts; networks train best on values of order 1.
        return X * self.scale


class EEGNet(_CNNClassifier):
    """EEGNet-8,2 classifier. X: (n_trials, n_channels, n_times) in volts (``scale`` = 1e6 -> uV)."""

    def _build_module(self, n_channels, n_times, n_classes):
        return EEGNetModule(n_channels, n_times, n_classes, kernel=eegnet_kernel(self.sfreq),
                            dropout=self.dropout)


class ShallowConvNet(_CNNClassifier):
    """ShallowConvNet classifier. X: (n_trials, n_channels, n_times)."""

    def _build_module(self, n_channels, n_times, n_classes):
        return ShallowConvNetModule(n_channels, n_times, n_classes, kernel=_scaled(25, self.sfreq),
                                    pool=_scaled(75, self.sfreq), stride=_scaled(15, self.sfreq),
                                    dropout=self.dropout)


class DeepConvNet(_CNNClassifier):
    """DeepConvNet classifier. X: (n_trials, n_channels, n_times)."""

    def _build_module(self, n_channels, n_times, n_classes):
        return DeepConvNetModule(n_channels, n_times, n_classes, kernel=_scaled(10, self.sfreq),
                                 dropout=self.dropout)
