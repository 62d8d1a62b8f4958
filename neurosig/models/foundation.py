"""Downstream use of the encoders: a scikit-learn classifier with fine-tuning or linear probing.

:class:`FoundationClassifier` puts a classification head (mean over tokens, then
a linear layer or a small MLP) on a bi-Mamba or transformer encoder, optionally
initialised from a pretraining checkpoint or a published FEMBA safetensors file,
and trains either everything (``mode="finetune"``, with its own encoder learning
rate) or the head alone on frozen features (``mode="linear_probe"``). It derives
from the shared :class:`~neurosig.models.base.TorchClassifier` (fit loop, early
stopping, seeds, device, save/load), so it runs in the benchmark next to ACM and
TS+SVM.

:func:`evaluate_over_seeds` reports a score as mean and confidence interval over
several seeds, with the head type, learning rates, checkpoint and preprocessing
hash stored next to it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from sklearn.base import TransformerMixin
from torch import nn

from .._logging import get_logger
from .._validation import check_option, check_positive_float
from ..contracts import SignalContract, stable_hash
from ._patch import SCALINGS, scale_windows
from .base import TorchClassifier
from .checkpoints import ARCHS, build_encoder, encoder_from_dict, load_encoder
from .training import DEPRECATED

logger = get_logger(__name__)

MODES = ("finetune", "linear_probe")
HEADS = ("linear", "mlp")


class FoundationNet(nn.Module):
    """Scaling -> encoder -> mean over tokens -> head. (batch, C, T) -> logits (batch, n_classes).

    Parameters
    ----------
    encoder : torch.nn.Module
        Patch encoder with a ``config.d_model`` (BiMamba or PatchTransformer).
    n_classes : int
        Outputs of the head.
    head : {"linear", "mlp"}
        LayerNorm + linear layer, or a small two-layer MLP.
    scaling : str
        Per-window input scaling (see :func:`neurosig.models._patch.scale_windows`).
    frozen : bool
        Keep the encoder's weights fixed (linear probe).
    """

    def __init__(self, encoder: nn.Module, n_classes: int, head: str = "linear", scaling: str = "zscore",
                 frozen: bool = False):
        super().__init__()
        self.encoder, self.scaling, self.frozen = encoder, scaling, frozen
        d = encoder.config.d_model
        if head == "linear":
            self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, n_classes))
        else:
            self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 4 * n_classes + 32), nn.GELU(),
                                      nn.Linear(4 * n_classes + 32, n_classes))
        if frozen:
            for p in self.encoder.parameters():
                p.requires_grad_(False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled encoder features.

        Parameters
        ----------
        x : Tensor, shape (batch, n_channels, n_times)
            Windows.

        Returns
        -------
        Tensor, shape (batch, d_model)
        """
        if self.frozen:
            self.encoder.eval()
            with torch.no_grad():
                return self.encoder(scale_windows(x, self.scaling)).mean(dim=1)
        return self.encoder(scale_windows(x, self.scaling)).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class FoundationClassifier(TransformerMixin, TorchClassifier):
    """Bi-Mamba / transformer encoder + classification head as a scikit-learn classifier.

    Parameters
    ----------
    encoder : str
        "bimamba" (FEMBA-style) or "transformer" (:class:`PatchTransformer`).
    size : str
        Size preset when no checkpoint is given ("nano", "tiny", ...).
    checkpoint : str | None
        Pretrained weights: a ``best.pt`` / ``last.pt`` from pretraining, an encoder file
        from :func:`~neurosig.models.checkpoints.save_encoder`, or a FEMBA ``.safetensors``
        file. Architecture and window shape must match (clear error otherwise).
    mode : str
        "finetune" (train encoder and head) or "linear_probe" (frozen encoder).
    head : str
        "linear" or "mlp".
    encoder_lr : float | None
        Encoder learning rate in fine-tuning (default: ``lr / 10`` with a checkpoint,
        ``lr`` without).
    scaling : str
        Per-window input scaling, "zscore" or "none" (must match pretraining).
    crop : bool
        Drop trailing samples so the window length is a multiple of the 16-sample patch
        (logged); False makes such windows an error.
    ch_names : list of str | None
        Channel names of X, checked against the checkpoint's contract when it records one.
    sfreq : float | None
        Sampling rate of X, checked against the checkpoint's contract.
    preprocessing_hash : str
        Hash of the preprocessing that produced X (stored with results and checked
        against the checkpoint's contract when both are set).
    max_epochs, batch_size, lr, weight_decay, patience, val_fraction, random_state, device, verbose, seed
        See :class:`~neurosig.models.base.TorchClassifier` (``seed`` is the former name of
        ``random_state``).

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
    module_ : FoundationNet
    checkpoint_info_ : dict | None
        What the checkpoint file recorded (arch, config, contract).
    """

    def __init__(self, encoder: str = "bimamba", size: str = "nano", checkpoint: str | None = None,
                 mode: str = "finetune", head: str = "linear", encoder_lr: float | None = None,
                 scaling: str = "zscore", crop: bool = True, ch_names: list | None = None,
                 sfreq: float | None = None, preprocessing_hash: str = "", max_epochs: int = 50,
                 batch_size: int = 32, lr: float = 1e-3, weight_decay: float = 1e-2, patience: int = 10,
                 val_fraction: float = 0.2, random_state: int | None = 0, device: str | None = None,
                 verbose: bool = False, seed: int | None | str = DEPRECATED):
        super().__init__(max_epochs=max_epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                         patience=patience, val_fraction=val_fraction, random_state=random_state, device=device,
                         verbose=verbose, seed=seed)
        self.encoder = encoder
        self.size = size
        self.checkpoint = checkpoint
        self.mode = mode
        self.head = head
        self.encoder_lr = encoder_lr
        self.scaling = scaling
        self.crop = crop
        self.ch_names = ch_names
        self.sfreq = sfreq
        self.preprocessing_hash = preprocessing_hash

    # -- hooks of TorchClassifier ------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        check_option("encoder", self.encoder, list(ARCHS))
        check_option("mode", self.mode, MODES)
        check_option("head", self.head, HEADS)
        check_option("scaling", self.scaling, SCALINGS)
        if self.encoder_lr is not None:
            check_positive_float("encoder_lr", self.encoder_lr)
        if self.sfreq is not None:
            check_positive_float("sfreq", self.sfreq)

    def _prepare_input(self, X: np.ndarray) -> np.ndarray:
        n_times = X.shape[2]
        if self.crop and n_times % 16 and n_times > 16:
            keep = n_times - n_times % 16
            if not getattr(self, "_crop_logged", False):
                logger.info("FoundationClassifier: cropping windows from %d to %d samples (multiple of the "
                            "16-sample patch).", n_times, keep)
                self._crop_logged = True
            return X[:, :, :keep]
        return X

    def _build_module(self, n_channels: int, n_times: int, n_classes: int) -> nn.Module:
        if self.ch_names is not None and len(self.ch_names) != n_channels:
            raise ValueError(f"Invalid value for the 'ch_names' parameter: {len(self.ch_names)} names for "
                             f"X with {n_channels} channels.")
        stored = getattr(self, "_stored_encoder", None)
        if stored is not None:  # rebuilding inside load(): weights come from the saved estimator
            enc = encoder_from_dict(stored["arch"], stored["config"])
        elif self.checkpoint is not None:
            info_contract = None
            if self.ch_names is not None and self.sfreq is not None:
                info_contract = self._contract_for_check(n_times)
            enc, info = load_encoder(self.checkpoint, arch=self.encoder, n_channels=n_channels,
                                     n_times=n_times, contract=info_contract)
            if info.get("scaling") not in (None, self.scaling) and info.get("scaling") != "none":
                raise ValueError(f"The checkpoint {self.checkpoint!r} was pretrained with scaling="
                                 f"{info['scaling']!r}, but scaling={self.scaling!r} was given.")
            self.checkpoint_info_ = {k: v for k, v in info.items() if k != "ignored_keys"}
        else:
            enc = build_encoder(self.encoder, self.size, n_channels=n_channels, n_times=n_times)
            self.checkpoint_info_ = None
        self._stored_encoder = None
        self.encoder_config_ = {"arch": enc.arch, "config": enc.config.to_dict()}
        return FoundationNet(enc, n_classes, head=self.head, scaling=self.scaling,
                             frozen=self.mode == "linear_probe")

    def _contract_for_check(self, n_times: int) -> SignalContract:
        """The contract of X; the reference is taken from the checkpoint so only names/sfreq/length count."""
        if str(self.checkpoint).endswith(".safetensors"):
            ref = "bipolar-tcp"
        else:
            ref = _peek_reference(self.checkpoint) or "unknown"
        return SignalContract(ch_names=tuple(self.ch_names), sfreq=float(self.sfreq), n_times=n_times,
                              reference=ref, preprocessing_hash=self.preprocessing_hash)

    def _configure_optimizer(self, module: nn.Module) -> torch.optim.Optimizer:
        head = [p for p in module.head.parameters()]
        groups = [{"params": head, "lr": self.lr}]
        if self.mode == "finetune":
            enc_lr = self.encoder_lr if self.encoder_lr is not None else (
                self.lr / 10 if self.checkpoint is not None else self.lr)
            groups.append({"params": list(module.encoder.parameters()), "lr": enc_lr})
        return torch.optim.AdamW(groups, lr=self.lr, weight_decay=self.weight_decay)

    def _extra_state(self) -> dict:
        return {"encoder": self.encoder_config_}

    def _set_extra_state(self, state: dict) -> None:
        self._stored_encoder = state.get("encoder")

    # -- extras --------------------------------------------------------------------------
    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """Pooled encoder features.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            Trials of the fitted shape.

        Returns
        -------
        ndarray, shape (n_trials, d_model)
        """
        X = self._check_predict_input(X)  # fitted first, then X
        return self._forward_in_batches(self.module_.features, X)

    def describe(self) -> dict:
        """What identifies a result of this estimator: head, mode, learning rates, checkpoint, preprocessing."""
        enc_lr = self.encoder_lr if self.encoder_lr is not None else (
            self.lr / 10 if self.checkpoint is not None else self.lr)
        return {"encoder": self.encoder, "size": self.size, "mode": self.mode, "head": self.head,
                "lr": self.lr, "encoder_lr": enc_lr if self.mode == "finetune" else None,
                "checkpoint": self.checkpoint, "scaling": self.scaling,
                "preprocessing_hash": self.preprocessing_hash, "max_epochs": self.max_epochs,
                "batch_size": self.batch_size, "weight_decay": self.weight_decay}


def _peek_reference(path) -> str | None:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    c = payload.get("contract") if isinstance(payload, dict) else None
    return c.get("reference") if c else None


# -- several seeds ------------------------------------------------------------------------
@dataclass
class SeedSummary:
    """Score over seeds: mean, t-based confidence interval, per-seed scores and what produced them."""

    metric: str
    scores: list
    seeds: list
    mean: float
    ci_low: float | None   # None with one seed (no interval)
    ci_high: float | None
    confidence: float
    settings: dict = field(default_factory=dict)

    @property
    def settings_hash(self) -> str:
        return stable_hash(self.settings)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["settings_hash"] = self.settings_hash
        return d

    def __str__(self) -> str:
        if self.ci_low is None:
            return (f"{self.metric} {self.mean:.3f} (one seed: no confidence interval; "
                    "run at least 2 seeds for one)")
        return (f"{self.metric} {self.mean:.3f} [{self.ci_low:.3f}, {self.ci_high:.3f}] "
                f"({int(self.confidence * 100)}% CI over {len(self.seeds)} seeds)")


def summarize_seeds(scores, seeds, metric: str, settings: dict | None = None,
                    confidence: float = 0.95) -> SeedSummary:
    """Mean and Student-t confidence interval of per-seed scores.

    Parameters
    ----------
    scores : array-like, shape (n_seeds,)
        One score per seed.
    seeds : sequence of int
        The seeds, in the order of ``scores``.
    metric : str
        Name of the score.
    settings : dict | None
        What produced the scores (stored in the summary).
    confidence : float
        Level of the interval.

    Returns
    -------
    SeedSummary
    """
    from scipy import stats

    s = np.asarray(scores, dtype=float)
    mean = float(s.mean())
    if len(s) < 2:  # one seed: no spread to estimate, so no interval (not [nan, nan])
        return SeedSummary(metric=metric, scores=s.tolist(), seeds=list(seeds), mean=mean, ci_low=None,
                           ci_high=None, confidence=confidence, settings=settings or {})
    half = float(stats.t.ppf(0.5 + confidence / 2, len(s) - 1) * s.std(ddof=1) / np.sqrt(len(s)))
    return SeedSummary(metric=metric, scores=s.tolist(), seeds=list(seeds), mean=mean, ci_low=mean - half,
                       ci_high=mean + half, confidence=confidence, settings=settings or {})


def evaluate_over_seeds(estimator: FoundationClassifier, X_train, y_train, X_test, y_test,
                        seeds=(0, 1, 2), scoring: str = "balanced_accuracy",
                        confidence: float = 0.95) -> SeedSummary:
    """Fit a clone of ``estimator`` once per seed and score it on the test set.

    Parameters
    ----------
    estimator : FoundationClassifier
        The settings to fit; a clone is fitted per seed.
    X_train : ndarray, shape (n_trials, n_channels, n_times)
        Training trials.
    y_train : ndarray, shape (n_trials,)
        Training labels.
    X_test : ndarray, shape (n_test, n_channels, n_times)
        Test trials.
    y_test : ndarray, shape (n_test,)
        Test labels.
    seeds : sequence of int
        At least 2 for a confidence interval.
    scoring : str
        A scikit-learn scorer name ("balanced_accuracy", "roc_auc", "accuracy", ...).
    confidence : float
        Level of the Student-t interval over seeds.

    Returns
    -------
    SeedSummary
        ``settings`` holds :meth:`FoundationClassifier.describe` (head, lrs, checkpoint,
        preprocessing hash).
    """
    from sklearn.base import clone
    from sklearn.metrics import get_scorer

    seeds = list(seeds)
    if not seeds:
        raise ValueError("Invalid value for the 'seeds' parameter: give at least one seed.")
    scorer = get_scorer(scoring)
    scores = []
    for seed in seeds:
        est = clone(estimator).set_params(random_state=int(seed))
        est.fit(X_train, y_train)
        scores.append(float(scorer(est, X_test, y_test)))
    settings = estimator.describe() if hasattr(estimator, "describe") else estimator.get_params()
    return summarize_seeds(scores, seeds, scoring, settings, confidence)
