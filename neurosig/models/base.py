"""One base class for every torch model that acts as a scikit-learn classifier.

Subclasses implement :meth:`TorchClassifier._build_module`; the base class owns
the fit path (AdamW on the shared :class:`~neurosig.models.training.Trainer`:
mini-batches, stratified validation split, early stopping on the validation
loss, best-weights restore), local seeding (the caller's global random state is
left alone), the device, ``predict`` /
``predict_proba`` and save/load (config + weights, ``weights_only=True``).
The TFM token model, the foundation-model classifier and the specialist CNNs
all derive from it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from .._io import atomic_path, load_torch_file
from .._logging import get_logger
from .._validation import (
    check_labels,
    check_n_features,
    check_positive_float,
    check_positive_int,
    check_signal_array,
    declare_3d_input,
)
from .training import (
    DEPRECATED,
    StepOutput,
    Trainer,
    TrainSettings,
    forked_rng,
    renamed_param,
    resolve_device,
    resolve_seed,
)

__all__ = ["TorchClassifier", "resolve_device"]

logger = get_logger(__name__)


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """Base scikit-learn classifier around a ``torch.nn.Module``.

    Subclasses add their architecture parameters to ``__init__`` (storing them
    only) and implement ``_build_module(n_channels, n_times, n_classes)``
    returning a module mapping (batch, n_channels, n_times) float32 to logits
    (batch, n_classes).

    Parameters
    ----------
    max_epochs, batch_size, lr, weight_decay : training settings (AdamW).
    patience : int
        Early stopping: epochs without validation-loss improvement.
    val_fraction : float
        Share of the training trials held out (stratified) for early stopping;
        0 trains on everything for ``max_epochs``.
    random_state : int | None
        Seeds weight initialisation, the split, batch order and dropout through local
        generators (the global numpy and torch random states are left alone); None: a
        different run every time.
    device : str | None
        "cpu" (default) or "cuda".
    verbose : bool
        Progress bars over epochs and over the batches of each epoch.
    seed : int | None
        Former name of ``random_state``, accepted for one release with a FutureWarning.
    """

    def __init__(self, max_epochs: int = 100, batch_size: int = 32, lr: float = 1e-3,
                 weight_decay: float = 1e-2, patience: int = 10, val_fraction: float = 0.2,
                 random_state: int | None = 0, device: str | None = None, verbose: bool = False,
                 seed: int | None | str = DEPRECATED):
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.seed = seed

    # -- to implement ------------------------------------------------------------------
    def _build_module(self, n_channels: int, n_times: int, n_classes: int) -> torch.nn.Module:
        raise NotImplementedError

    def _prepare_input(self, X: np.ndarray) -> np.ndarray:
        """Hook: transform (n_trials, n_channels, n_times) before the module sees it."""
        return X

    def _configure_optimizer(self, module: torch.nn.Module) -> torch.optim.Optimizer:
        """Hook: the optimizer (default AdamW(lr, weight_decay) on all parameters).

        Subclasses override it for parameter groups (e.g. a smaller encoder learning rate)."""
        return torch.optim.AdamW(module.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def _extra_state(self) -> dict:
        """Hook: extra JSON/tensor state that :meth:`save` stores and :meth:`load` hands back
        to :meth:`_set_extra_state` before ``_build_module`` runs."""
        return {}

    def _set_extra_state(self, state: dict) -> None:
        """Hook: receive what :meth:`_extra_state` returned at save time."""

    # -- fitting -----------------------------------------------------------------------
    def _check_params(self) -> None:
        check_positive_int("max_epochs", self.max_epochs)
        check_positive_int("batch_size", self.batch_size)
        check_positive_float("lr", self.lr)
        check_positive_float("weight_decay", self.weight_decay, allow_zero=True)
        check_positive_int("patience", self.patience)
        if not (0 <= self.val_fraction < 1):
            raise ValueError("Invalid value for the 'val_fraction' parameter. Allowed values are in "
                             f"[0, 1), but got {self.val_fraction!r} instead.")

    def fit(self, X, y):
        """Train the module on labelled trials.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            Training trials.
        y : array-like, shape (n_trials,)
            Their labels (at least two classes).

        Returns
        -------
        self : TorchClassifier
            The fitted estimator.
        """
        self._check_params()
        X = check_signal_array("X", X, ndim=3, dtype=np.float32)
        y = check_labels("y", y, len(X))
        self._le = LabelEncoder().fit(y)
        self.classes_ = self._le.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"Need at least 2 classes in y, but got {list(self.classes_)}.")
        yi = self._le.transform(y).astype(np.int64)
        device = resolve_device(self.device)
        seed = resolve_seed(renamed_param(self, "seed", "random_state"), "random_state")
        Xp = self._prepare_input(X)
        self.n_channels_, self.n_times_ = X.shape[1], X.shape[2]
        self.n_features_in_ = X.shape[1]
        with forked_rng(seed, device):  # weight initialisation, without touching the caller's RNG
            self.module_ = self._build_module(Xp.shape[1], Xp.shape[2], len(self.classes_)).to(device)
        self.history_ = self._train(torch.from_numpy(np.ascontiguousarray(Xp)).float(),
                                    torch.from_numpy(yi), seed, device)
        self.n_epochs_ = len(self.history_)
        return self

    def _split(self, yi: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Stratified (train, validation) indices; no validation set when classes are too small."""
        idx = np.arange(len(yi))
        counts = np.bincount(yi)
        if self.val_fraction > 0 and counts.min() >= 2 and len(yi) * self.val_fraction >= len(counts):
            return tuple(train_test_split(idx, test_size=self.val_fraction, stratify=yi, random_state=seed))
        return idx, np.array([], dtype=int)

    def _train(self, Xt: torch.Tensor, yt: torch.Tensor, seed: int, device: torch.device) -> list:
        """The shared :class:`~neurosig.models.training.Trainer` on cross-entropy; returns the history."""
        idx_tr, idx_va = self._split(yt.numpy(), seed)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step(model, batch):
            b = batch.local
            loss = loss_fn(model(Xt[b].to(device)), yt[b].to(device))
            return StepOutput(loss, {"train_loss": float(loss.detach()) * len(b)}, len(b))

        validate = (lambda m: self._loss(Xt[idx_va], yt[idx_va], loss_fn, device)) if len(idx_va) else None
        settings = TrainSettings(max_epochs=self.max_epochs, batch_size=self.batch_size, seed=seed,
                                 patience=self.patience if len(idx_va) else None, restore_best=bool(len(idx_va)),
                                 min_batch=2 if len(idx_tr) > 1 else 1,  # BatchNorm needs 2 samples
                                 desc=type(self).__name__, verbose=self.verbose)
        trainer = Trainer(self.module_, step, self._configure_optimizer(self.module_), settings, device,
                          validate=validate)
        return trainer.run(idx_tr).history

    @torch.no_grad()
    def _loss(self, X, y, loss_fn, device) -> float:
        self.module_.eval()
        out = torch.cat([self.module_(X[i:i + 256].to(device)) for i in range(0, len(X), 256)])
        return float(loss_fn(out, y.to(device)).item())

    # -- inference ---------------------------------------------------------------------
    @torch.no_grad()
    def decision_logits(self, X) -> np.ndarray:
        """Logits of the module.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            Trials of the fitted shape.

        Returns
        -------
        ndarray, shape (n_trials, n_classes)
        """
        X = self._check_predict_input(X)  # fitted first, then X
        return self._forward_in_batches(self.module_, X)

    @torch.no_grad()
    def _forward_in_batches(self, fn, X: np.ndarray, batch: int = 256) -> np.ndarray:
        """``fn`` (a method of the fitted module) on checked X, in batches on the module's device."""
        Xt = torch.from_numpy(np.ascontiguousarray(self._prepare_input(X))).float()
        device = next(self.module_.parameters()).device
        self.module_.eval()
        return torch.cat([fn(Xt[i:i + batch].to(device)).cpu() for i in range(0, len(Xt), batch)]).numpy()

    def _check_predict_input(self, X, times: bool = True) -> np.ndarray:
        """X of predict/transform: fitted first, then 3-D, finite, with the fitted trial shape.

        ``times=False`` checks the channel count only (``n_features_in_``).
        """
        check_is_fitted(self, "module_")
        X = check_signal_array("X", X, ndim=3, dtype=np.float32)
        if not times:
            check_n_features(self, X)
        elif X.shape[1:] != (self.n_channels_, self.n_times_):
            raise ValueError(
                f"Invalid value for the 'X' parameter: X has trials of shape {X.shape[1:]}, but "
                f"{type(self).__name__} was fitted on ({self.n_channels_}, {self.n_times_}) (n_channels, "
                f"n_times; n_features_in_ = {self.n_features_in_}); got X of shape {X.shape}.")
        return X

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (softmax of the logits).

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            Trials of the fitted shape.

        Returns
        -------
        ndarray, shape (n_trials, n_classes)
        """
        return torch.softmax(torch.from_numpy(self.decision_logits(X)), dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Predicted labels, shape (n_trials,).

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            Trials of the fitted shape.

        Returns
        -------
        y_pred : ndarray, shape (n_trials,)
        """
        logits = self.decision_logits(X)  # checks fitted state and X first
        return self.classes_[logits.argmax(axis=1)]

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write parameters, classes and weights to one file, atomically.

        Parameters
        ----------
        path : str | os.PathLike
            File to write (replaced atomically).

        Returns
        -------
        Path
            ``path``.
        """
        check_is_fitted(self, "module_")
        # paths are stored as strings (weights_only loading reads plain types only)
        params = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in self.get_params().items()}
        payload = {"class": type(self).__name__, "params": params,
                   "classes": self.classes_.tolist(), "shape": [self.n_channels_, self.n_times_],
                   "state_dict": self.module_.state_dict(), "extra": self._extra_state()}
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
        return Path(path)

    @classmethod
    def _load_shell(cls, path: str | os.PathLike) -> tuple[TorchClassifier, dict]:
        """Read a saved file (``weights_only=True``), check its class, and return an estimator
        with its parameters, classes and input shape set (no module yet) plus the payload."""
        payload = load_torch_file(path, "path", what=f"{cls.__name__} file")
        if not isinstance(payload, dict) or payload.get("class") != cls.__name__:
            got = payload.get("class") if isinstance(payload, dict) else type(payload).__name__
            raise ValueError(f"The file {str(path)!r} holds a {got!r}, not a {cls.__name__}.")
        est = cls(**payload["params"])
        est.classes_ = np.asarray(payload["classes"])
        est._le = LabelEncoder().fit(est.classes_)
        est.n_channels_, est.n_times_ = payload["shape"]
        est.n_features_in_ = est.n_channels_
        return est, payload

    @classmethod
    def load(cls, path: str | os.PathLike) -> TorchClassifier:
        """Load a file written by :meth:`save` (``weights_only=True``) into a fitted estimator.

        Parameters
        ----------
        path : str | os.PathLike
            File written by :meth:`save`.

        Returns
        -------
        TorchClassifier
            The fitted estimator.
        """
        est, payload = cls._load_shell(path)
        est._set_extra_state(payload.get("extra") or {})
        dummy = est._prepare_input(np.zeros((1, est.n_channels_, est.n_times_), np.float32))
        est.module_ = est._build_module(dummy.shape[1], dummy.shape[2], len(est.classes_))
        est.module_.load_state_dict(payload["state_dict"])
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None or self.seed is None
        return declare_3d_input(tags)
