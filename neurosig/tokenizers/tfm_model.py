"""TFM tokenizer: single-channel EEG -> discrete time-frequency motif tokens.

Pipeline for every channel of every window (so the montage does not matter):

1. scale: ``scale="p95"`` divides every channel of every window by its own 95th
   percentile of ``|x|`` (published recipe; removes the band-power *level* of each
   window); ``scale="corpus"`` divides by one constant estimated once on the
   training corpus (median over training windows and channels of that percentile,
   stored in the checkpoint), which keeps level differences between windows and
   channels -- the event-related (de)synchronisation of motor imagery is such a
   level change; ``scale="none"`` leaves the signal as it is;
2. STFT (:func:`neurosig.preprocessing.stft.stft_magnitude`, n_fft 200, hop 100
   at 200 Hz): one *patch* per STFT frame; the spectrum feature is
   ``log1p(|STFT|)``, shape (n_patches, n_freqs) with n_freqs = n_fft // 2 + 1;
3. dual-path encoder: a frequency path over each patch's spectrum (sub-bands
   embedded with a shared projection + band position, then mixed) and a time path
   over the matching raw segment (``x[t*hop : t*hop + n_fft]``), fused and then
   mixed across the patches of the channel by a small transformer;
4. vector quantisation (:class:`neurosig.tokenizers.vq.VectorQuantizer`) -> one
   token id per (channel, patch).

Training (:meth:`TFMTokenizer.training_step`) masks random time spans and frequency
bands of the input (:func:`tf_mask`) and reconstructs the unmasked spectrum from the
quantised tokens (masked-reconstruction objective) plus the VQ loss.

Shapes used throughout: windows ``X`` (n_windows, n_channels, n_times); tokens
(n_windows, n_channels, n_patches) int64; token embeddings (n_windows, n_channels,
n_patches, dim) -- the model-agnostic interface for downstream models.

:class:`neurosig.tokenizers.tfm.TFMTokenizerEstimator` is the scikit-learn style
shell (fit / transform / inverse_transform, save / load); this module holds the
torch model and its functions.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._io import atomic_path, load_torch_file
from .._logging import get_logger
from .._validation import check_option, check_positive_float, check_positive_int
from ..models.transformer import Block
from ..preprocessing.scaling import percentile_scale
from ..preprocessing.stft import hann_window, n_stft_frames, stft_magnitude
from .vq import VectorQuantizer

logger = get_logger(__name__)

__all__ = ["TFMConfig", "TFMTokenizer", "tf_mask", "scale_p95", "corpus_scale"]

_FORMAT = 1


@dataclass
class TFMConfig:
    """Architecture of a :class:`TFMTokenizer` (stored in every checkpoint).

    Attributes
    ----------
    sfreq : float
        Rate the model works at (Hz); input at other rates is FFT-resampled first.
    n_fft, hop : int
        STFT frame length and step (samples at ``sfreq``).
    freq_band_size : int
        Frequency bins per sub-band in the frequency path.
    dim : int
        Motif embedding and code dimension.
    n_codes : int
        Codebook size.
    vq_update : {"ema", "straight_through"}
    beta : float
        Commitment weight.
    ema_decay : float
    dead_threshold : float
        Relative EMA assignment count below which a code is restarted.
    normalize : bool
        Cosine (L2-normalised) codebook: the search ignores the norm of the
        encoder vectors. ``False``: plain Euclidean codebook.
    n_heads, n_layers : int
        Temporal transformer (over the patches of one channel) of the encoder.
    time_mask_ratio, freq_mask_ratio : float
        Share of patches / frequency bins masked (one contiguous span / band per
        channel) during training.
    scale : {"p95", "corpus", "none"}
        Input scaling: ``"p95"`` each channel of each window by its own 95th
        percentile of ``|x|`` (published recipe); ``"corpus"`` one constant fitted on
        the training corpus (:meth:`TFMTokenizer.set_corpus_scale`); ``"none"``.
    chunk_size : int
        Rows per matrix product in the nearest-code search.
    """

    sfreq: float = 200.0
    n_fft: int = 200
    hop: int = 100
    freq_band_size: int = 10
    dim: int = 64
    n_codes: int = 8192
    vq_update: str = "ema"
    beta: float = 0.25
    ema_decay: float = 0.99
    dead_threshold: float = 0.05
    normalize: bool = True
    n_heads: int = 4
    n_layers: int = 1
    time_mask_ratio: float = 0.3
    freq_mask_ratio: float = 0.3
    scale: str = "corpus"
    chunk_size: int = 256

    def validate(self) -> TFMConfig:
        check_positive_float("sfreq", self.sfreq)
        check_positive_int("n_fft", self.n_fft, minimum=4)
        check_positive_int("hop", self.hop)
        check_positive_int("freq_band_size", self.freq_band_size)
        check_positive_int("dim", self.dim)
        check_positive_int("n_codes", self.n_codes, minimum=2)
        check_option("vq_update", self.vq_update, ("ema", "straight_through"))
        check_positive_int("n_heads", self.n_heads)
        check_positive_int("n_layers", self.n_layers, minimum=0)
        if self.dim % self.n_heads:
            raise ValueError(f"Invalid value for the 'n_heads' parameter: dim={self.dim} must be divisible by "
                             f"n_heads, but got n_heads={self.n_heads}.")
        for name in ("time_mask_ratio", "freq_mask_ratio"):
            v = getattr(self, name)
            if not 0 <= v < 1:
                raise ValueError(f"Invalid value for the '{name}' parameter. Allowed values are in [0, 1), "
                                 f"but got {v!r} instead.")
        check_option("scale", self.scale, ("p95", "corpus", "none"))
        return self

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1


def corpus_scale(batches) -> float:
    """The divisor of ``scale="corpus"``: median over windows and channels of the per-row
    95th percentile of ``|x|``.

    Parameters
    ----------
    batches : iterable of Tensor, each shape (batch, n_channels, n_times)
        The training windows, batch by batch (one streaming pass).

    Returns
    -------
    value : float
    """
    q = [torch.quantile(xb.abs().reshape(-1, xb.shape[-1]), 0.95, dim=1) for xb in batches]
    return float(np.median(torch.cat(q).numpy()))  # (torch's median is the lower middle value)


def scale_p95(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Divide each row by its 95th percentile of ``|x|`` (linear interpolation, as ``np.quantile``).

    The ``scale="p95"`` input scaling: :func:`neurosig.preprocessing.scaling.percentile_scale`
    with ``q=95`` (a partial sort, on the tensor's device).

    Parameters
    ----------
    x : Tensor, shape (..., n_times)
        Signals.
    eps : float
        Added to the percentile before dividing (guards against all-zero rows).

    Returns
    -------
    Tensor, shape (..., n_times)
        The scaled signals.
    """
    return percentile_scale(x, 95.0, eps)


def tf_mask(spec: torch.Tensor, frames: torch.Tensor, time_ratio: float, freq_ratio: float,
            generator: torch.Generator | None = None):
    """Time-frequency masking: one random span of patches and one random band of bins per row.

    Parameters
    ----------
    spec : Tensor, shape (batch, n_patches, n_freqs)
    frames : Tensor, shape (batch, n_patches, n_fft)
        Raw segments behind the patches.
    time_ratio, freq_ratio : float
        Span length = ``round(time_ratio * n_patches)`` patches, band width =
        ``round(freq_ratio * n_freqs)`` bins; starts drawn uniformly.
    generator : torch.Generator | None

    Returns
    -------
    spec_m : Tensor, shape (batch, n_patches, n_freqs)
        ``spec`` with the masked patches (all bins) and the masked band (all
        patches) set to 0.
    frames_m : Tensor, shape (batch, n_patches, n_fft)
        ``frames`` with the masked patches set to 0.
    time_mask : BoolTensor, shape (batch, n_patches)
    freq_mask : BoolTensor, shape (batch, n_freqs)
    """
    b, p, f = spec.shape
    lt, lf = int(round(time_ratio * p)), int(round(freq_ratio * f))
    t0 = torch.randint(0, p - lt + 1, (b, 1), generator=generator).to(spec.device)
    f0 = torch.randint(0, f - lf + 1, (b, 1), generator=generator).to(spec.device)
    ar_p = torch.arange(p, device=spec.device)[None]
    ar_f = torch.arange(f, device=spec.device)[None]
    time_mask = (ar_p >= t0) & (ar_p < t0 + lt)
    freq_mask = (ar_f >= f0) & (ar_f < f0 + lf)
    keep = ~(time_mask[:, :, None] | freq_mask[:, None, :])
    return spec * keep, frames * (~time_mask)[:, :, None], time_mask, freq_mask


def _sinusoid(n: int, d: int, device=None) -> torch.Tensor:
    pos = torch.arange(n, dtype=torch.float32, device=device)[:, None]
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d, device=device)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: d // 2])
    return pe


class TFMTokenizer(nn.Module):
    """TFM tokenizer module (dual-path encoder + VQ codebook + spectrum decoder).

    Parameters
    ----------
    config : TFMConfig | None
        Architecture; defaults to ``TFMConfig()`` (8192 codes x 64 dims).

    Notes
    -----
    Inputs are windows already at ``config.sfreq`` (the estimator resamples).
    Inference methods (:meth:`tokenize`, :meth:`encode`, :meth:`embed`) never
    update the codebook; only :meth:`training_step` does.
    """

    def __init__(self, config: TFMConfig | None = None):
        super().__init__()
        self.config = cfg = (config or TFMConfig()).validate()
        d, nf = cfg.dim, cfg.n_freqs
        self.n_bands = -(-nf // cfg.freq_band_size)
        eb = 16
        # frequency path: shared sub-band projection + band embedding, then mixing of the bands
        self.band_proj = nn.Linear(cfg.freq_band_size, eb)
        self.band_pos = nn.Parameter(torch.randn(self.n_bands, eb) * 0.02)
        self.freq_mix = nn.Sequential(nn.GELU(), nn.Linear(self.n_bands * eb, d), nn.GELU(), nn.Linear(d, d))
        # time path: raw segment behind the patch
        self.time_path = nn.Sequential(nn.Linear(cfg.n_fft, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.fuse = nn.Sequential(nn.Linear(2 * d, d), nn.LayerNorm(d))
        self.temporal = nn.ModuleList(Block.like_torch_layer(d, cfg.n_heads, 2) for _ in range(cfg.n_layers))
        self.pre_vq = nn.Linear(d, d)
        # standardise the pre-VQ vectors over the batch (no affine): removes the direction
        # shared by all patches, so the cosine codebook sees the variation between motifs
        self.pre_vq_norm = nn.BatchNorm1d(d, affine=False, momentum=0.05)
        self.vq = VectorQuantizer(cfg.n_codes, d, update=cfg.vq_update, beta=cfg.beta, decay=cfg.ema_decay,
                                  dead_threshold=cfg.dead_threshold, normalize=cfg.normalize, chunk_size=cfg.chunk_size)
        # decoder: quantised tokens -> spectrum of every patch
        self.dec_mix = Block.like_torch_layer(d, cfg.n_heads, 2)
        self.dec_out = nn.Linear(d, nf)
        self.register_buffer("window", hann_window(cfg.n_fft), persistent=False)
        # input divisor of scale="corpus" (1 until set_corpus_scale; stored in checkpoints)
        self.register_buffer("corpus_scale", torch.ones(()))

    def set_corpus_scale(self, value: float) -> None:
        """Set the constant divisor of ``scale="corpus"`` (positive, finite).

        Parameters
        ----------
        value : float
            Divisor (positive and finite); :class:`TFMTokenizerEstimator` sets the median over
            training windows and channels of the per-row 95th percentile of ``|x|``.
        """
        value = float(value)
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"Invalid value for the 'corpus_scale' parameter: it must be positive and finite, "
                             f"but got {value!r} (are the training windows all zero?).")
        self.corpus_scale.fill_(value)

    # -- front end -----------------------------------------------------------------------
    def features(self, x: torch.Tensor):
        """Spectrum features and raw segments of single-channel signals.

        Parameters
        ----------
        x : Tensor, shape (batch, n_times)

        Returns
        -------
        spec : Tensor, shape (batch, n_patches, n_freqs)
            ``log1p(|STFT|)`` of the scaled signal.
        frames : Tensor, shape (batch, n_patches, n_fft)
            Scaled raw segments.
        """
        cfg = self.config
        n_stft_frames(x.shape[-1], cfg.n_fft, cfg.hop)
        if cfg.scale == "p95":
            x = scale_p95(x)
        elif cfg.scale == "corpus":
            if not getattr(self, "_warned_unset_scale", False) and float(self.corpus_scale) == 1.0:
                self._warned_unset_scale = True  # a fitted divisor is never exactly 1
                warnings.warn("TFMTokenizer(scale='corpus') has no corpus divisor yet: the input is not "
                              "scaled. Call set_corpus_scale() (TFMTokenizerEstimator.fit does) or use "
                              "scale='p95' or 'none'.", UserWarning, stacklevel=2)
            x = x / self.corpus_scale
        mag, frames = stft_magnitude(x, cfg.n_fft, cfg.hop, window=self.window, return_frames=True)
        return torch.log1p(mag.transpose(-1, -2)), frames

    def encode_features(self, spec: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Dual-path encoder: (batch, n_patches, n_freqs), (batch, n_patches, n_fft) -> (batch, n_patches, dim).

        Parameters
        ----------
        spec : Tensor, shape (batch, n_patches, n_freqs)
            Spectrum features of each patch (from :meth:`features`).
        frames : Tensor, shape (batch, n_patches, n_fft)
            Raw samples of each patch (from :meth:`features`).
        """
        cfg = self.config
        b, p, nf = spec.shape
        pad = self.n_bands * cfg.freq_band_size - nf
        if pad:
            spec = nn.functional.pad(spec, (0, pad))
        bands = self.band_proj(spec.reshape(b, p, self.n_bands, cfg.freq_band_size)) + self.band_pos
        hf = self.freq_mix(bands.reshape(b, p, -1))
        ht = self.time_path(frames)
        h = self.fuse(torch.cat([hf, ht], dim=-1)) + _sinusoid(p, cfg.dim, spec.device)
        for layer in self.temporal:
            h = layer(h)
        z = self.pre_vq(h)
        return self.pre_vq_norm(z.reshape(-1, cfg.dim)).reshape(z.shape)

    def _flat(self, X: torch.Tensor) -> torch.Tensor:
        if X.ndim != 3:
            raise ValueError(f"X must have shape (n_windows, n_channels, n_times), got {tuple(X.shape)}.")
        return X.reshape(-1, X.shape[-1])

    # -- inference -----------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, X: torch.Tensor) -> torch.Tensor:
        """Continuous motif embeddings before quantisation.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Windows at the model's sampling rate (scaled inside, as ``config.scale`` says).

        Returns
        -------
        Tensor, shape (n_windows, n_channels, n_patches, dim)
            Embedding of each patch of each channel.
        """
        spec, frames = self.features(self._flat(X))
        z = self.encode_features(spec, frames)
        return z.reshape(X.shape[0], X.shape[1], *z.shape[1:])

    @torch.no_grad()
    def tokenize(self, X: torch.Tensor) -> torch.Tensor:
        """Token ids.

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times)
            Windows at the model's sampling rate (scaled inside, as ``config.scale`` says).

        Returns
        -------
        Tensor of int64, shape (n_windows, n_channels, n_patches)
            Code id of each patch of each channel.
        """
        return self.vq.codes(self.encode(X))

    @torch.no_grad()
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Code vectors of token ids: (..., ) -> (..., dim); for tokens (n_windows, n_channels,
        n_patches) this gives the documented embedding tensor (n_windows, n_channels, n_patches, dim).

        Parameters
        ----------
        ids : Tensor of int, shape (...)
            Token ids in ``[0, n_codes)``.
        """
        return self.vq.embed(ids)

    @torch.no_grad()
    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        """Reconstructed spectrum features ``log1p(|STFT|)`` of tokens.

        Parameters
        ----------
        ids : Tensor of int, shape (n_windows, n_channels, n_patches)
            Token ids in ``[0, n_codes)``.

        Returns
        -------
        Tensor, shape (n_windows, n_channels, n_freqs, n_patches)
            Decoded spectrum features.
        """
        e = self.vq.embed(ids.reshape(-1, ids.shape[-1]))
        rec = self._decode(e)
        return rec.reshape(*ids.shape, -1).transpose(-1, -2)

    def _decode(self, zq: torch.Tensor) -> torch.Tensor:
        p = zq.shape[1]
        return self.dec_out(self.dec_mix(zq + _sinusoid(p, self.config.dim, zq.device)))

    # -- training ------------------------------------------------------------------------
    def training_step(self, X: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        """Masked-reconstruction loss on a batch of windows (updates the EMA codebook when training).

        Parameters
        ----------
        X : Tensor, shape (n_windows, n_channels, n_times) or (batch, n_times)
            Windows at the model's sampling rate, or single-channel segments (scaled
            inside, as ``config.scale`` says).
        generator : torch.Generator | None
            Random generator of the time/frequency masks and of the codebook updates.

        Returns
        -------
        out : dict
            ``loss`` (scalar to backpropagate), ``recon`` (MSE on all spectrum
            entries), ``recon_masked`` (MSE on the masked entries), ``vq``,
            ``ids`` (flattened token ids of the batch).
        """
        x = self._flat(X) if X.ndim == 3 else X
        spec, frames = self.features(x)
        cfg = self.config
        spec_m, frames_m, tm, fm = tf_mask(spec, frames, cfg.time_mask_ratio, cfg.freq_mask_ratio, generator)
        z = self.encode_features(spec_m, frames_m)
        zq, ids, vq_loss = self.vq(z, generator)
        rec = self._decode(zq)
        err = (rec - spec) ** 2
        masked = (tm[:, :, None] | fm[:, None, :]).to(err.dtype)
        recon = err.mean()
        recon_masked = (err * masked).sum() / masked.sum().clamp_min(1.0)
        loss = recon + recon_masked + vq_loss
        return {"loss": loss, "recon": recon.detach(), "recon_masked": recon_masked.detach(),
                "vq": vq_loss.detach(), "ids": ids.detach().reshape(-1)}

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike, extra: dict | None = None) -> Path:
        """Write config + weights (+ ``extra`` plain-python metadata) to one file, atomically.

        Parameters
        ----------
        path : str | os.PathLike
            File to write (replaced atomically).
        extra : dict | None
            Plain-Python metadata stored with the weights (returned by :meth:`load` with
            ``return_extra=True``).
        """
        payload = {"class": "TFMTokenizer", "format": _FORMAT, "config": dataclasses.asdict(self.config),
                   "state_dict": self.state_dict(), "extra": extra or {}}
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike, expect: dict | None = None, return_extra: bool = False):
        """Load a checkpoint written by :meth:`save` (``torch.load(weights_only=True)``).

        Parameters
        ----------
        path : path-like
        expect : dict | None
            Config values the caller relies on (e.g. ``{"sfreq": 200.0}``); a
            different stored value raises ValueError naming the file and field.
        return_extra : bool
            Also return the stored ``extra`` dict.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"The 'checkpoint' parameter points to {str(path)!r}, which does not exist.")
        payload = load_torch_file(path, "checkpoint", what="TFM tokenizer checkpoint")
        if not isinstance(payload, dict) or payload.get("class") != "TFMTokenizer":
            got = payload.get("class") if isinstance(payload, dict) else type(payload).__name__
            raise ValueError(f"The checkpoint {str(path)!r} does not hold a TFMTokenizer (it holds {got!r}).")
        if payload.get("format") != _FORMAT:
            raise ValueError(f"The checkpoint {str(path)!r} has format {payload.get('format')!r}; this version "
                             f"of neurosig reads format {_FORMAT}.")
        fields = {f.name for f in dataclasses.fields(TFMConfig)}
        stored = payload["config"]
        unknown = sorted(set(stored) - fields)
        if unknown:
            raise ValueError(f"The checkpoint {str(path)!r} has config keys {unknown} that TFMConfig does not know.")
        config = TFMConfig(**stored)
        for key, value in (expect or {}).items():
            if key not in fields:
                raise ValueError(f"Invalid expected config key {key!r}; allowed keys are {sorted(fields)}.")
            if value is not None and stored.get(key) != value and not (
                    isinstance(value, (int, float)) and math.isclose(float(stored.get(key)), float(value))):
                raise ValueError(f"The checkpoint {str(path)!r} was trained with {key}={stored.get(key)!r}, "
                                 f"but {key}={value!r} was asked for.")
        module = cls(config)
        try:
            state = dict(payload["state_dict"])
            if "corpus_scale" not in state and config.scale != "corpus":
                state["corpus_scale"] = torch.ones(())  # checkpoints written before scale="corpus" existed
            module.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"The checkpoint {str(path)!r} does not match its own config "
                             f"({config}): {exc}") from None
        module.eval()
        return (module, payload.get("extra", {})) if return_extra else module
