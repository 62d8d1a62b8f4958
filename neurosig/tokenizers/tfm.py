"""TFM tokenizer, scikit-learn shell: :class:`TFMTokenizerEstimator` (fit / transform /
inverse_transform, save / load) over the torch model of :mod:`neurosig.tokenizers.tfm_model`.

Single-channel EEG windows become discrete time-frequency motif tokens; see
:mod:`neurosig.tokenizers.tfm_model` for the pipeline (scaling, STFT, dual-path
encoder, vector quantisation) and the training objective. The model's names
(:class:`TFMConfig`, :class:`TFMTokenizer`, :func:`tf_mask`, :func:`scale_p95`,
:func:`corpus_scale`) are importable from here too.

Shapes used throughout: windows ``X`` (n_windows, n_channels, n_times); tokens
(n_windows, n_channels, n_patches) int64; token embeddings (n_windows, n_channels,
n_patches, dim).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._logging import get_logger, progress
from .._validation import (
    check_option,
    check_positive_float,
    check_positive_int,
    check_signal_array,
    declare_3d_input,
)
from ..models.training import (
    DEPRECATED,
    StepOutput,
    Trainer,
    TrainSettings,
    forked_rng,
    renamed_param,
    resolve_device,
    resolve_seed,
)
from ..preprocessing.stft import n_stft_frames
from ..preprocessing.tfm_resample import fft_resample, resampled_length
from .tfm_model import TFMConfig, TFMTokenizer, corpus_scale, scale_p95, tf_mask
from .vq import codebook_usage

logger = get_logger(__name__)

__all__ = ["TFMConfig", "TFMTokenizer", "TFMTokenizerEstimator", "tf_mask", "scale_p95", "corpus_scale"]

_MASKS = 3  # generator stream of the time-frequency masks and codebook updates (the loop uses 0, 2, 4)
_LOSSES = ("loss", "recon", "recon_masked", "vq")


class TFMTokenizerEstimator(TransformerMixin, BaseEstimator):
    """Scikit-learn style TFM tokenizer: ``fit(X)``, ``transform(X) -> token ids``.

    Parameters
    ----------
    sfreq : float | None
        Sampling rate of the X given to fit/transform. ``None`` means "already at
        ``model_sfreq``" (no resampling). Other rates are FFT-resampled to
        ``model_sfreq`` when ``resample=True``, refused otherwise.
    model_sfreq : float
        Rate the tokenizer works at (200 Hz in the published recipe).
    resample : bool
        Allow resampling.
    n_codes, dim, n_fft, hop, vq_update, time_mask_ratio, freq_mask_ratio, n_layers, scale :
        See :class:`TFMConfig`. With ``scale="corpus"`` the divisor is the median over
        the training windows and channels of the per-row 95th percentile of ``|x|``,
        estimated in one pass before training and stored in the checkpoint.
    codebook : {"cosine", "euclidean"}
        Nearest-code search on L2-normalised vectors (published recipe and default;
        the norm of the encoder vector is discarded) or plain Euclidean. Euclidean
        kept a little more of the class in the token ids with 64 codes x 16 dims on
        the simulated motor-imagery pilot, but was worse with 512 codes and used far
        fewer codes on a synthetic two-rhythm signal, so it is an option, not the default.
    max_epochs : int
        Passes over the windows.
    batch_size : int
        Windows per step (all their channels go in the step).
    lr : float
        AdamW learning rate.
    random_state : int
        Seeds weights, batch order and masks through local generators (same seed, same data ->
        same tokens; the global random state is left alone).
    device : str | None
        "cpu" (default) or "cuda".
    verbose : bool
        Progress bars over epochs and over the batches of each epoch.
    epochs, seed : int
        Former names of ``max_epochs`` and ``random_state``, accepted for one release with a
        FutureWarning.

    Attributes
    ----------
    tokenizer_ : TFMTokenizer
    history_ : list of dict
        Per-epoch mean losses and codebook usage.
    usage_ : dict
        Codebook usage (see :func:`codebook_usage`) of the tokens of the last epoch.
    n_patches_ : int
        Patches per channel for the fitted window length.
    """

    def __init__(self, sfreq: float | None = None, model_sfreq: float = 200.0, resample: bool = True,
                 n_codes: int = 8192, dim: int = 64, n_fft: int = 200, hop: int = 100,
                 vq_update: str = "ema", time_mask_ratio: float = 0.3, freq_mask_ratio: float = 0.3,
                 n_layers: int = 1, scale: str = "corpus", codebook: str = "cosine", max_epochs: int = 10,
                 batch_size: int = 32, lr: float = 1e-3, random_state: int = 0, device: str | None = None,
                 verbose: bool = False, epochs: int | str = DEPRECATED, seed: int | str = DEPRECATED):
        self.sfreq = sfreq
        self.model_sfreq = model_sfreq
        self.resample = resample
        self.n_codes = n_codes
        self.dim = dim
        self.n_fft = n_fft
        self.hop = hop
        self.vq_update = vq_update
        self.time_mask_ratio = time_mask_ratio
        self.freq_mask_ratio = freq_mask_ratio
        self.n_layers = n_layers
        self.scale = scale
        self.codebook = codebook
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.epochs = epochs
        self.seed = seed

    # -- helpers -------------------------------------------------------------------------
    def _config(self) -> TFMConfig:
        return TFMConfig(sfreq=float(self.model_sfreq), n_fft=self.n_fft, hop=self.hop, dim=self.dim,
                         n_codes=self.n_codes, vq_update=self.vq_update, n_layers=self.n_layers,
                         n_heads=4 if self.dim % 4 == 0 else 1, scale=self.scale,
                         normalize=check_option("codebook", self.codebook, ("cosine", "euclidean")) == "cosine",
                         time_mask_ratio=self.time_mask_ratio, freq_mask_ratio=self.freq_mask_ratio).validate()

    def _check_input_shape(self, X) -> tuple[int, int, int]:
        shape = getattr(X, "shape", None)
        if shape is None:
            X = np.asarray(X)
            shape = X.shape
        if len(shape) != 3:
            raise ValueError(f"The 'X' parameter must be a 3-D array of shape (n_windows, n_channels, n_times), "
                             f"but got an array of shape {tuple(shape)} instead.")
        if min(shape) == 0:
            raise ValueError(f"The 'X' parameter is empty (shape {tuple(shape)}).")
        if isinstance(X, np.ndarray) and not isinstance(X, np.memmap):
            # in memory: check finiteness before any work (streamed inputs are checked batch by batch)
            check_signal_array("X", X, ndim=3, dtype=X.dtype if np.issubdtype(X.dtype, np.floating) else np.float32)
        sf = self.model_sfreq if self.sfreq is None else self.sfreq
        check_positive_float("sfreq", sf)
        n = shape[2]
        if sf != self.model_sfreq:
            if not self.resample:
                raise ValueError(f"Invalid value for the 'sfreq' parameter: the tokenizer works at "
                                 f"{self.model_sfreq} Hz and resample=False, but got sfreq={sf}.")
            n = resampled_length(shape[2], sf, self.model_sfreq)
        if n < self.n_fft:
            raise ValueError(f"Invalid value for the 'X' parameter: windows of {shape[2]} samples at {sf} Hz "
                             f"({n} samples at {self.model_sfreq} Hz) are shorter than n_fft={self.n_fft}.")
        return int(shape[0]), int(shape[1]), n

    def _load_batch(self, X, idx) -> torch.Tensor:
        """Read windows ``idx`` (works on ndarray, np.memmap and h5py datasets), validate, resample."""
        xb = np.asarray(X[np.sort(idx)] if not isinstance(X, np.ndarray) else X[idx], dtype=np.float32)
        xb = check_signal_array("X", xb, ndim=3, dtype=np.float32)
        sf = self.model_sfreq if self.sfreq is None else self.sfreq
        if sf != self.model_sfreq:
            xb = fft_resample(xb, sf, self.model_sfreq)
        return torch.from_numpy(np.ascontiguousarray(xb))

    # -- fit / transform -----------------------------------------------------------------
    def fit(self, X, y=None):
        """Learn the tokenizer (stage 1) from windows.

        Parameters
        ----------
        X : ndarray | np.memmap | h5py.Dataset, shape (n_windows, n_channels, n_times)
            Read batch by batch, so training memory is bounded by ``batch_size``.
        y : ignored
        """
        max_epochs = renamed_param(self, "epochs", "max_epochs")
        check_positive_int("max_epochs", max_epochs)
        check_positive_int("batch_size", self.batch_size)
        check_positive_float("lr", self.lr)
        seed = resolve_seed(renamed_param(self, "seed", "random_state"), "random_state")
        cfg = self._config()
        n_win, n_ch, n_times = self._check_input_shape(X)
        device = resolve_device(self.device)
        with forked_rng(seed, device):  # initialisation, without touching the caller's RNG
            module = TFMTokenizer(cfg).to(device)
        if cfg.scale == "corpus":
            module.set_corpus_scale(self._corpus_scale(X, n_win))
        opt = torch.optim.AdamW(module.parameters(), lr=self.lr, weight_decay=1e-4)
        ids_epoch, usage = [], {}

        def step(model, batch):
            out = model.training_step(self._load_batch(X, batch.local).to(device), batch.generator(_MASKS))
            ids_epoch.append(out["ids"].cpu())
            return StepOutput(out["loss"], {k: float(out[k].detach()) for k in _LOSSES}, 1.0)

        def codebook_of_epoch(epoch, rec):
            usage.update(codebook_usage(torch.cat(ids_epoch), cfg.n_codes))
            ids_epoch.clear()
            rec.update(perplexity=usage["perplexity"], share_used=usage["share_used"])

        settings = TrainSettings(max_epochs=max_epochs, batch_size=self.batch_size, seed=seed, restore_best=False,
                                 monitor="loss", desc="TFM tokenizer", verbose=self.verbose)
        self.history_ = Trainer(module, step, opt, settings, device,
                                callbacks=[codebook_of_epoch]).run(np.arange(n_win)).history
        module.eval()
        self.tokenizer_ = module
        self.usage_ = usage
        self.n_channels_ = n_ch
        # channels are tokenized one by one: transform accepts any channel count
        self.n_features_in_ = n_ch
        self.n_patches_ = n_stft_frames(n_times, cfg.n_fft, cfg.hop)
        return self

    def __sklearn_tags__(self):
        return declare_3d_input(super().__sklearn_tags__())

    def _corpus_scale(self, X, n_win: int) -> float:
        """Median over windows and channels of the per-row 95th percentile of ``|x|`` (one streaming pass)."""
        value = corpus_scale(self._load_batch(X, np.arange(s, min(s + 256, n_win))) for s in range(0, n_win, 256))
        logger.debug("TFM corpus scale: %g", value)
        return value

    def _iter_tokens(self, X, fn, batch_size: int = 64):
        check_is_fitted(self, "tokenizer_")
        n_win, _, _ = self._check_input_shape(X)
        device = next(self.tokenizer_.parameters()).device
        out = []
        for s in progress(range(0, n_win, batch_size), desc="tokenize", verbose=self.verbose):
            xb = self._load_batch(X, np.arange(s, min(s + batch_size, n_win))).to(device)
            out.append(fn(xb).cpu())
        return torch.cat(out).numpy()

    def transform(self, X) -> np.ndarray:
        """Token ids.

        Parameters
        ----------
        X : ndarray | np.memmap | h5py.Dataset, shape (n_windows, n_channels, n_times)
            Windows at ``sfreq`` (resampled to the model rate; scaled by the tokenizer).

        Returns
        -------
        ndarray of int64, shape (n_windows, n_channels, n_patches)
            Code id of each patch of each channel.
        """
        return self._iter_tokens(X, lambda xb: self.tokenizer_.tokenize(xb))  # fitted check first

    def embed(self, X) -> np.ndarray:
        """Quantised token embeddings (the input of downstream / foundation models).

        Parameters
        ----------
        X : ndarray | np.memmap | h5py.Dataset, shape (n_windows, n_channels, n_times)
            Windows at ``sfreq``, as for :meth:`transform`.

        Returns
        -------
        ndarray of float32, shape (n_windows, n_channels, n_patches, dim)
            Code vector of each token.
        """
        return self._iter_tokens(X, lambda xb: self.tokenizer_.embed(self.tokenizer_.tokenize(xb)))

    def spectra(self, X) -> np.ndarray:
        """The tokenizer's spectrum features ``log1p(|STFT|)`` of the scaled windows.

        Parameters
        ----------
        X : ndarray | np.memmap | h5py.Dataset, shape (n_windows, n_channels, n_times)
            Windows at ``sfreq``, as for :meth:`transform`.

        Returns
        -------
        ndarray, shape (n_windows, n_channels, n_patches, n_freqs)
            Spectrum features of each patch.
        """
        def fn(xb):
            spec, _ = self.tokenizer_.features(xb.reshape(-1, xb.shape[-1]))
            return spec.reshape(xb.shape[0], xb.shape[1], *spec.shape[1:])
        return self._iter_tokens(X, fn)

    def inverse_transform(self, ids) -> np.ndarray:
        """Decode token ids to the spectrum features they stand for.

        The result is ``log1p(|STFT|)`` of the scaled signal (the phase is not modelled,
        so no waveform is returned).

        Parameters
        ----------
        ids : ndarray of int, shape (n_windows, n_channels, n_patches)
            Token ids in ``[0, n_codes)``.

        Returns
        -------
        ndarray, shape (n_windows, n_channels, n_freqs, n_patches)
            Decoded spectrum features.
        """
        check_is_fitted(self, "tokenizer_")
        ids = np.asarray(ids)
        if ids.ndim != 3 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"The 'ids' parameter must be an integer array (n_windows, n_channels, n_patches), "
                             f"got dtype {ids.dtype} and shape {ids.shape}.")
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_codes):
            raise ValueError(f"The 'ids' parameter holds ids outside [0, {self.n_codes}).")
        return self.tokenizer_.decode(torch.from_numpy(ids.astype(np.int64))).numpy()

    def usage(self, X) -> dict:
        """Codebook usage (perplexity, share used) of the tokens of X.

        Parameters
        ----------
        X : ndarray | np.memmap | h5py.Dataset, shape (n_windows, n_channels, n_times)
            Windows at ``sfreq``, as for :meth:`transform`.
        """
        return codebook_usage(self.transform(X), self.n_codes)

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Config + weights + estimator parameters, one file, atomic.

        Parameters
        ----------
        path : str | os.PathLike
            File to write (replaced atomically).
        """
        check_is_fitted(self, "tokenizer_")
        extra = {"params": self.get_params(), "n_channels": self.n_channels_, "n_patches": self.n_patches_,
                 "history": self.history_,
                 "usage": {k: v for k, v in self.usage_.items() if k != "counts"}}
        return self.tokenizer_.save(path, extra=extra)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None) -> TFMTokenizerEstimator:
        """Load a file written by :meth:`save` into a fitted estimator.

        Parameters
        ----------
        path : str | os.PathLike
            File written by :meth:`save`.
        device : str | None
            Device to put the tokenizer on (default: the saved estimator's ``device``).
        """
        module, extra = TFMTokenizer.load(path, return_extra=True)
        if "params" not in extra:
            raise ValueError(f"The checkpoint {str(path)!r} holds a bare TFMTokenizer module without estimator "
                             "parameters; load it with TFMTokenizer.load instead.")
        est = cls(**extra["params"])
        cfg = est._config()
        if dataclasses.asdict(cfg) != dataclasses.asdict(module.config):
            raise ValueError(f"The checkpoint {str(path)!r}: estimator parameters and stored config disagree "
                             f"({cfg} vs {module.config}).")
        if device is not None:
            est.device = device
        est.tokenizer_ = module.to(resolve_device(est.device))
        est.n_channels_ = est.n_features_in_ = extra["n_channels"]
        est.n_patches_ = extra["n_patches"]
        est.history_ = extra["history"]
        est.usage_ = extra["usage"]
        return est
