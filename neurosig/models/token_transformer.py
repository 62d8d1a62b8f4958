"""Token transformer: the light downstream model over TFM tokens (three-stage recipe).

* :class:`TokenTransformer` (``nn.Module``): token (or continuous patch) embedding +
  channel embedding + patch-position embedding, a transformer encoder over all
  (channel, patch) positions, a masked-token-prediction head and a
  classification head. Defaults: width 64, 4 layers, 8 heads.
* :func:`pretrain_masked_tokens`: stage 2, masked-token prediction on token
  sequences (no labels).
* :class:`TokenTransformerClassifier`: scikit-learn classifier on raw windows
  (n_trials, n_channels, n_times) running stage 1 (TFM tokenizer learning),
  stage 2 (masked-token pretraining, skipped with ``pretrain_max_epochs=0``) and
  stage 3 (fine-tuning, the shared :class:`~neurosig.models.base.TorchClassifier`
  loop). ``input="stft"`` feeds the same transformer the raw STFT patches (no
  quantisation) as a control.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._logging import get_logger
from .._validation import (
    check_labels,
    check_option,
    check_positive_float,
    check_positive_int,
    check_signal_array,
)
from ..tokenizers.vq import codebook_usage
from .base import TorchClassifier
from .token_pretrain import pretrain_masked_tokens
from .training import (
    DEPRECATED,
    forked_rng,
    renamed_param,
    resolve_device,
    resolve_seed,
)
from .transformer import BlockStack

logger = get_logger(__name__)

__all__ = ["TokenTransformer", "pretrain_masked_tokens", "TokenTransformerClassifier"]

class TokenTransformer(nn.Module):
    """Transformer over (channel, patch) token grids.

    Parameters
    ----------
    n_codes : int
        Vocabulary size (tokenizer codebook); id ``n_codes`` is the [MASK] token.
        Ignored with ``in_features``.
    n_channels, n_patches : int
        Grid size; channel and position embeddings are learned per index.
    n_classes : int
        Outputs of the classification head (0: no head).
    dim, n_layers, n_heads : int
        Width (64), depth (4) and heads (8).
    dropout : float
        Dropout of the residual branches and feed-forward layers.
    in_features : int | None
        ``None``: inputs are token ids (batch, n_channels, n_patches). An integer:
        inputs are continuous patches (batch, n_channels, n_patches, in_features),
        projected linearly (the "no quantisation" control).
    attn_dropout : float
        Dropout of the attention weights (0 by default: torch then runs the fused
        attention kernel; on the 2-core CPU a training step was 1.6x faster than with
        0.1).
    pooling : {"mean", "channel"}
        Read-out of the classification head. ``"mean"``: the mean of all contextual
        embeddings (any number of channels up to ``n_channels``). ``"channel"``: the mean
        over patches of each channel, concatenated (n_channels * dim): which channel a
        pattern sits on stays linearly readable (a left- vs right-hand class is the *side*
        of a change); needs exactly ``n_channels`` channels.
    """

    def __init__(self, n_codes: int, n_channels: int, n_patches: int, n_classes: int = 0, dim: int = 64,
                 n_layers: int = 4, n_heads: int = 8, dropout: float = 0.1, in_features: int | None = None,
                 attn_dropout: float = 0.0, pooling: str = "mean"):
        super().__init__()
        self.pooling = check_option("pooling", pooling, ("mean", "channel"))
        self.n_codes, self.n_channels, self.n_patches = n_codes, n_channels, n_patches
        self.dim, self.in_features = dim, in_features
        if in_features is None:
            self.token_emb = nn.Embedding(n_codes + 1, dim)
        else:
            self.in_proj = nn.Linear(in_features, dim)
            self.mask_emb = nn.Parameter(torch.zeros(dim))
        self.chan_emb = nn.Embedding(n_channels, dim)
        self.pos_emb = nn.Embedding(n_patches, dim)
        self.encoder = BlockStack(n_layers, dim, n_heads, 2, "relu", dropout, attn_dropout)
        self.norm = nn.LayerNorm(dim)
        self.mlm_head = nn.Linear(dim, n_codes) if in_features is None else None
        head_in = dim * (n_channels if pooling == "channel" else 1)
        self.cls_head = nn.Linear(head_in, n_classes) if n_classes else None
        # small embeddings (BERT / ViT: N(0, 0.02)). torch's nn.Embedding default N(0, 1) gives
        # channel and position vectors of norm ~sqrt(dim) = 8 that swamp the unit-norm code
        # vectors the token embedding starts from (and the projected STFT patches).
        for emb in (self.chan_emb, self.pos_emb) + ((self.token_emb,) if in_features is None else ()):
            nn.init.normal_(emb.weight, std=0.02)

    @property
    def mask_id(self) -> int:
        return self.n_codes

    def init_token_embedding(self, codebook: torch.Tensor) -> None:
        """Start the token embedding from the tokenizer's code vectors.

        Parameters
        ----------
        codebook : Tensor, shape (n_codes, dim)
            The tokenizer's (effective) code vectors.
        """
        if self.in_features is not None or codebook.shape != (self.n_codes, self.dim):
            raise ValueError(f"codebook of shape {tuple(codebook.shape)} does not fit a token embedding of "
                             f"({self.n_codes}, {self.dim}).")
        with torch.no_grad():
            self.token_emb.weight[: self.n_codes] = codebook

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Contextual embeddings.

        Parameters
        ----------
        x : Tensor
            Token ids (batch, n_channels, n_patches) or patches (batch, n_channels,
            n_patches, in_features).
        mask : BoolTensor, shape (batch, n_channels, n_patches) | None
            Positions replaced by the [MASK] token / embedding.

        Returns
        -------
        h : Tensor, shape (batch, n_channels, n_patches, dim)
        """
        b, c, p = x.shape[:3]
        if c > self.n_channels or p > self.n_patches:
            raise ValueError(f"Input grid ({c} channels, {p} patches) is larger than the model's "
                             f"({self.n_channels}, {self.n_patches}).")
        if self.in_features is None:
            ids = x.long()
            if mask is not None:
                ids = ids.masked_fill(mask, self.mask_id)
            h = self.token_emb(ids)
        else:
            h = self.in_proj(x)
            if mask is not None:
                h = torch.where(mask[..., None], self.mask_emb.expand_as(h), h)
        h = h + self.chan_emb.weight[:c, None, :] + self.pos_emb.weight[None, :p, :]
        h = self.norm(self.encoder(h.reshape(b, c * p, self.dim)))
        return h.reshape(b, c, p, self.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits from the pooled contextual embeddings (see ``pooling``).

        Parameters
        ----------
        x : Tensor
            Token ids (batch, n_channels, n_patches) or patches (batch, n_channels,
            n_patches, in_features).

        Returns
        -------
        Tensor, shape (batch, n_classes)
        """
        if self.cls_head is None:
            raise RuntimeError("This TokenTransformer has no classification head (n_classes=0).")
        if self.pooling == "mean":
            return self.cls_head(self.encode(x).mean(dim=(1, 2)))
        if x.shape[1] != self.n_channels:
            raise ValueError(f"pooling='channel' needs all {self.n_channels} channels, got {x.shape[1]}.")
        return self.cls_head(self.encode(x).mean(dim=2).flatten(1))

    def mlm_logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked-token logits at the masked positions.

        Parameters
        ----------
        ids : Tensor of int, shape (batch, n_channels, n_patches)
            Token ids.
        mask : BoolTensor, shape (batch, n_channels, n_patches)
            Positions replaced by the [MASK] token and predicted.

        Returns
        -------
        Tensor, shape (n_masked, n_codes)
        """
        if self.mlm_head is None:
            raise RuntimeError("Masked-token prediction needs token inputs (in_features=None).")
        return self.mlm_head(self.encode(ids, mask)[mask])


class _TokenPipelineModule(nn.Module):
    """Holds the (frozen) tokenizer for persistence and the transformer that is trained."""

    def __init__(self, tokenizer: nn.Module, transformer: TokenTransformer):
        super().__init__()
        self.tokenizer = tokenizer
        for p in self.tokenizer.parameters():
            p.requires_grad_(False)
        self.transformer = transformer

    def train(self, mode: bool = True):
        super().train(mode)
        self.tokenizer.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.transformer(x)


class TokenTransformerClassifier(TorchClassifier):
    """TFM tokenizer + TokenTransformer as one scikit-learn classifier.

    ``fit(X, y)`` with X (n_trials, n_channels, n_times) runs

    1. tokenizer learning (:class:`neurosig.tokenizers.tfm.TFMTokenizerEstimator`,
       unsupervised, on the training windows),
    2. masked-token-prediction pretraining of the transformer on their tokens
       (``pretrain_max_epochs`` > 0),
    3. fine-tuning with labels (the :class:`TorchClassifier` loop: AdamW, early
       stopping on a stratified validation split).

    Parameters
    ----------
    sfreq : float | None
        Sampling rate of X; resampled (FFT) to ``model_sfreq`` when different.
        ``None``: X is used as is (no resampling; frequency bins are then
        ``sfreq / n_fft`` wide instead of 1 Hz).
    model_sfreq : float
    input : {"tokens", "stft"}
        ``"stft"``: the same transformer on the raw log-magnitude STFT patches
        (no tokenizer training, no quantisation, no pretraining).
    n_codes, tokenizer_dim, n_fft, hop, tokenizer_max_epochs, tokenizer_batch_size :
        Stage 1 settings.
    tokenizer_scale, tokenizer_codebook : str
        The tokenizer's ``scale`` and ``codebook`` (see
        :class:`neurosig.tokenizers.tfm.TFMTokenizerEstimator`); ``input="stft"``
        uses the same input scaling.
    tokenizer : path-like | None
        A tokenizer learned beforehand (a file written by
        :meth:`neurosig.tokenizers.tfm.TFMTokenizerEstimator.save` or ``neurosig tokenize
        fit``), e.g. on unlabelled windows of other subjects, as the published tokenizer is
        learned on a corpus: stage 1 is skipped and this tokenizer is used frozen. Its file
        then sets the codebook and front end (``n_codes``, ``tokenizer_dim``, ``n_fft``,
        ``hop``, ``tokenizer_scale``, ``tokenizer_codebook`` and the tokenizer epochs given
        here are not used; ``tokenizer_config_`` holds what is); its sampling rate must be
        ``model_sfreq``. ``input="stft"`` then uses its front end (the same input scaling).
    pretrain_max_epochs : int
        Stage 2 epochs (0 skips the stage).
    mask_ratio : float
        Share of tokens masked in stage 2.
    dim, n_layers, n_heads, dropout, pooling : transformer settings (see :class:`TokenTransformer`).
    max_epochs, batch_size, lr, weight_decay, patience, val_fraction, random_state, device, verbose, seed :
        Stage 3 settings (see :class:`TorchClassifier`); ``random_state`` also seeds stages 1
        and 2 (None: 0 for them); ``seed`` is its former name.
    tokenizer_epochs, pretrain_epochs : int
        Former names of ``tokenizer_max_epochs`` and ``pretrain_max_epochs``, accepted for one
        release with a FutureWarning.

    Attributes
    ----------
    tokenizer_usage_ : dict
        Codebook usage of the training tokens (``perplexity``, ``share_used``,
        ``n_used``); empty for ``input="stft"``.
    tokenizer_config_ : TFMConfig
        The tokenizer's configuration (from ``tokenizer`` when given).
    n_codes_ : int
        Vocabulary size of the token ids (``tokenizer_config_.n_codes``).
    pretrain_history_ : list of dict
    """

    def __init__(self, sfreq: float | None = None, model_sfreq: float = 200.0, input: str = "tokens",
                 n_codes: int = 8192, tokenizer_dim: int = 64, n_fft: int = 200, hop: int = 100,
                 tokenizer_max_epochs: int = 10, tokenizer_batch_size: int = 32, tokenizer_scale: str = "corpus",
                 tokenizer_codebook: str = "cosine", tokenizer: str | os.PathLike | None = None,
                 pretrain_max_epochs: int = 20, mask_ratio: float = 0.5, dim: int = 64, n_layers: int = 4,
                 n_heads: int = 8, dropout: float = 0.1, pooling: str = "mean", max_epochs: int = 100,
                 batch_size: int = 32, lr: float = 1e-3,
                 weight_decay: float = 1e-2, patience: int = 10, val_fraction: float = 0.2,
                 random_state: int | None = 0, device: str | None = None, verbose: bool = False,
                 seed: int | None | str = DEPRECATED, tokenizer_epochs: int | str = DEPRECATED,
                 pretrain_epochs: int | str = DEPRECATED):
        super().__init__(max_epochs=max_epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                         patience=patience, val_fraction=val_fraction, random_state=random_state, device=device,
                         verbose=verbose, seed=seed)
        self.sfreq = sfreq
        self.model_sfreq = model_sfreq
        self.input = input
        self.n_codes = n_codes
        self.tokenizer_dim = tokenizer_dim
        self.n_fft = n_fft
        self.hop = hop
        self.tokenizer_max_epochs = tokenizer_max_epochs
        self.tokenizer_batch_size = tokenizer_batch_size
        self.tokenizer_scale = tokenizer_scale
        self.tokenizer_codebook = tokenizer_codebook
        self.tokenizer = tokenizer
        self.pretrain_max_epochs = pretrain_max_epochs
        self.mask_ratio = mask_ratio
        self.dim = dim
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dropout = dropout
        self.pooling = pooling
        self.tokenizer_epochs = tokenizer_epochs
        self.pretrain_epochs = pretrain_epochs

    # -- helpers -------------------------------------------------------------------------
    def _tokenizer_estimator(self, max_epochs: int = 1):
        from ..tokenizers.tfm import TFMTokenizerEstimator
        return TFMTokenizerEstimator(sfreq=None, model_sfreq=self.model_sfreq, n_codes=self.n_codes,
                                     dim=self.tokenizer_dim, n_fft=self.n_fft, hop=self.hop,
                                     max_epochs=max_epochs, batch_size=self.tokenizer_batch_size,
                                     scale=self.tokenizer_scale, codebook=self.tokenizer_codebook,
                                     random_state=self._stage_seed(), device=self.device,
                                     verbose=self.verbose)

    def _resample(self, X: np.ndarray) -> np.ndarray:
        if self.sfreq is None or float(self.sfreq) == float(self.model_sfreq):
            return X
        from ..preprocessing.tfm_resample import fft_resample
        return fft_resample(X, self.sfreq, self.model_sfreq)

    def _config(self):
        """The tokenizer's TFMConfig: from the fit (or the ``tokenizer`` file), else from the parameters."""
        cfg = getattr(self, "tokenizer_config_", None)
        return cfg if cfg is not None else self._fresh_tokenizer()

    def _grid(self, n_times: int) -> tuple[int, int]:
        from ..preprocessing.stft import n_stft_frames
        cfg = self._config()
        return n_stft_frames(n_times, cfg.n_fft, cfg.hop), cfg.n_fft // 2 + 1

    def _load_tokenizer(self):
        """The frozen tokenizer of the ``tokenizer`` file (checked before any work)."""
        from ..tokenizers.tfm import TFMTokenizer
        path = Path(self.tokenizer)
        if not path.is_file():
            raise FileNotFoundError(f"The 'tokenizer' parameter points to {str(path)!r}, which does not exist "
                                    "(write one with TFMTokenizerEstimator.save or `neurosig tokenize fit`).")
        return TFMTokenizer.load(path, expect={"sfreq": float(self.model_sfreq)})

    def _tokenizer_module(self):
        mod = getattr(self, "module_", None)
        return mod.tokenizer if mod is not None else self._stage1_tokenizer

    def _prepare_input(self, X: np.ndarray) -> np.ndarray:
        """Raw windows (n, C, T) -> token ids as float32 (n, C, P) or STFT patches (n, C, P, F)."""
        return self._model_input(self._resample(X))

    def _model_input(self, X: np.ndarray) -> np.ndarray:
        """:meth:`_prepare_input` of windows already at ``model_sfreq``."""
        tok = self._tokenizer_module()
        dev = next(tok.parameters()).device
        out = []
        with torch.no_grad():
            for s in range(0, len(X), 64):
                xb = torch.from_numpy(np.ascontiguousarray(X[s:s + 64], dtype=np.float32)).to(dev)
                if self.input == "tokens":
                    out.append(tok.tokenize(xb).float().cpu())
                else:
                    spec, _ = tok.features(xb.reshape(-1, xb.shape[-1]))
                    out.append(spec.reshape(xb.shape[0], xb.shape[1], *spec.shape[1:]).cpu())
        return torch.cat(out).numpy()

    def _build_transformer(self, n_channels: int, n_patches: int, n_classes: int) -> TokenTransformer:
        cfg = self._config()
        in_features = None if self.input == "tokens" else cfg.n_fft // 2 + 1
        return TokenTransformer(cfg.n_codes, n_channels, n_patches, n_classes=n_classes, dim=self.dim,
                                n_layers=self.n_layers, n_heads=self.n_heads, dropout=self.dropout,
                                in_features=in_features, pooling=self.pooling)

    def _build_module(self, n_channels: int, n_patches: int, n_classes: int) -> nn.Module:
        pre = getattr(self, "_stage2_transformer", None)
        transformer = self._build_transformer(n_channels, n_patches, n_classes)
        if pre is not None:
            state = {k: v for k, v in pre.state_dict().items() if not k.startswith("cls_head")}
            transformer.load_state_dict(state, strict=False)
        elif self.input == "tokens" and getattr(self, "_stage1_tokenizer", None) is not None \
                and self._config().dim == self.dim:
            transformer.init_token_embedding(self._stage1_tokenizer.vq.effective_codebook().detach())
        return _TokenPipelineModule(self._stage1_tokenizer, transformer)

    def _stage_seed(self) -> int:
        """Seed of stages 1 and 2 (``random_state``, or 0 when it is None)."""
        value = self.random_state if isinstance(self.seed, str) and self.seed == DEPRECATED else self.seed
        return 0 if value is None else resolve_seed(value, "random_state")

    def _fresh_tokenizer(self):
        return self._tokenizer_estimator()._config()

    def _stage_epochs(self) -> tuple[int, int]:
        """Epochs of stages 1 and 2, checked (the former parameter names warn and are named in errors)."""
        out = []
        for old, new, minimum in (("tokenizer_epochs", "tokenizer_max_epochs", 1),
                                  ("pretrain_epochs", "pretrain_max_epochs", 0)):
            former = not (isinstance(getattr(self, old), str) and getattr(self, old) == DEPRECATED)
            out.append(check_positive_int(old if former else new, renamed_param(self, old, new), minimum=minimum))
        return out[0], out[1]

    # -- stages --------------------------------------------------------------------------
    def fit(self, X, y):
        """Run the three stages.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            Raw windows at ``sfreq``.
        y : array-like, shape (n_trials,)
            Labels.

        Returns
        -------
        self : TokenTransformerClassifier
            The fitted classifier.
        """
        from ..tokenizers.tfm import TFMTokenizer
        check_option("input", self.input, ("tokens", "stft"))
        tokenizer_epochs, pretrain_epochs = self._stage_epochs()
        if self.input == "stft" and pretrain_epochs:
            raise ValueError("Invalid value for the 'pretrain_max_epochs' parameter: masked-token pretraining "
                             f"needs input='tokens', but got input='stft' and pretrain_max_epochs={pretrain_epochs};"
                             " set pretrain_max_epochs=0.")
        if self.sfreq is not None:
            check_positive_float("sfreq", self.sfreq)
        given = self._load_tokenizer() if self.tokenizer is not None else None
        X = check_signal_array("X", X, ndim=3, dtype=np.float32)
        check_labels("y", y, len(X))  # before the tokenizer and pretraining stages
        if hasattr(self, "module_"):  # refit: stage 1 must not see the previous fit's tokenizer
            del self.module_
        self.tokenizer_config_ = given.config if given is not None else self._fresh_tokenizer()
        self.n_codes_ = int(self.tokenizer_config_.n_codes)
        Xr = self._resample(X)
        n_patches, _ = self._grid(Xr.shape[2])
        self._stage2_transformer = None
        self.tokenizer_usage_, self.pretrain_history_ = {}, []
        if given is not None:  # frozen; the STFT control sees its front end too
            self._stage1_tokenizer = given.to(resolve_device(self.device))
        if self.input == "tokens":
            if given is None:
                self._stage1_tokenizer = self._tokenizer_estimator(tokenizer_epochs).fit(Xr).tokenizer_
            tokens = self._model_input(Xr).astype(np.int64)
            self.tokenizer_usage_ = {k: v for k, v in codebook_usage(tokens, self.n_codes_).items() if k != "counts"}
            if pretrain_epochs:
                self._stage2_transformer = self._stage2(tokens, X.shape[1], n_patches, pretrain_epochs)
        elif given is None:
            with forked_rng(self._stage_seed()):
                self._stage1_tokenizer = TFMTokenizer(self._fresh_tokenizer()).eval()
            if self._stage1_tokenizer.config.scale == "corpus":  # the STFT control sees the same input scaling
                est = self._tokenizer_estimator()
                self._stage1_tokenizer.set_corpus_scale(est._corpus_scale(Xr, len(Xr)))
        super().fit(X, y)
        self._stage2_transformer = None
        self._stage1_tokenizer = None
        return self

    def _stage2(self, tokens: np.ndarray, n_channels: int, n_patches: int, epochs: int) -> TokenTransformer:
        """Masked-token pretraining of a fresh transformer on the training tokens."""
        seed = self._stage_seed()
        device = resolve_device(self.device)
        with forked_rng(seed, device):  # initialisation, without touching the caller's RNG
            tr = self._build_transformer(n_channels, n_patches, 0)
        if self.tokenizer_config_.dim == self.dim:
            tr.init_token_embedding(self._stage1_tokenizer.vq.effective_codebook().detach())
        tr = tr.to(device)
        self.pretrain_history_ = pretrain_masked_tokens(
            tr, tokens, self.mask_ratio, epochs, self.batch_size, self.lr, self.weight_decay,
            random_state=seed, verbose=self.verbose)
        return tr

    def tokens(self, X) -> np.ndarray:
        """Token ids of the fitted tokenizer (``input="tokens"`` only).

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
            Windows at ``sfreq``.

        Returns
        -------
        ndarray of int64, shape (n_trials, n_channels, n_patches)
        """
        X = self._check_predict_input(X, times=False)
        if self.input != "tokens":
            raise ValueError(f"tokens() needs input='tokens', but this classifier has input={self.input!r}.")
        return self._prepare_input(X).astype(np.int64)

    # -- persistence ---------------------------------------------------------------------
    def _extra_state(self) -> dict:
        """The tokenizer's config, so that :meth:`load` does not need the ``tokenizer`` file."""
        import dataclasses
        return {"tokenizer_config": dataclasses.asdict(self.tokenizer_config_)}

    @classmethod
    def load(cls, path: str | os.PathLike) -> TokenTransformerClassifier:
        """Load a file written by :meth:`save` (``weights_only=True``; tokenizer included).

        Parameters
        ----------
        path : str | os.PathLike
            File written by :meth:`save`.

        Returns
        -------
        TokenTransformerClassifier
            The fitted classifier.
        """
        from ..tokenizers.tfm import TFMConfig, TFMTokenizer
        est, payload = cls._load_shell(path)
        cfg = payload.get("extra", {}).get("tokenizer_config")
        est.tokenizer_config_ = TFMConfig(**cfg) if cfg is not None else est._fresh_tokenizer()
        est.n_codes_ = int(est.tokenizer_config_.n_codes)
        n_times = est.n_times_ if est.sfreq is None else \
            est._resample(np.zeros((1, 1, est.n_times_), np.float32)).shape[-1]
        n_patches, _ = est._grid(n_times)     # the tokenizer's n_fft and hop
        est._stage1_tokenizer = TFMTokenizer(est.tokenizer_config_)
        est.module_ = est._build_module(est.n_channels_, n_patches, len(est.classes_))
        try:
            est.module_.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise ValueError(f"The file {str(path)!r} does not match its stored parameters: {exc}") from None
        est.module_.eval()
        est._stage1_tokenizer = None
        return est
