"""Encoder factory, encoder checkpoints and published FEMBA safetensors files.

Three kinds of file load into an encoder, each with a strict check of what it
was trained on (architecture, size, window shape and, where recorded, the
signal contract: channel names, sampling rate, window length):

- a pretraining checkpoint written by :func:`neurosig.models.pretrain.pretrain`
  (``last.pt`` / ``best.pt``: torch file, read with ``weights_only=True``);
- an encoder file written by :func:`save_encoder`;
- a FEMBA checkpoint in safetensors format (:func:`load_femba_safetensors`),
  the format of the published FEMBA weights. Nothing is downloaded: the user
  supplies the file.

A mismatch is an error that names the file, what it holds and what was asked;
no silent padding, cropping or partial loading.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._io import atomic_path, load_torch_file
from .._logging import get_logger
from .._validation import check_option, check_path
from ..contracts import SignalContract
from .femba import FEMBA_SIZES, BiMambaEncoder, FEMBAConfig
from .transformer import PatchTransformer, TransformerConfig

logger = get_logger(__name__)

ARCHS = {"bimamba": (BiMambaEncoder, FEMBAConfig), "transformer": (PatchTransformer, TransformerConfig)}

#: The 22-channel TCP bipolar montage of the TUH corpus (order of the TUAB/TUAR pipelines).
TCP_MONTAGE = ("FP1-F7", "F7-T3", "T3-T5", "T5-O1", "FP2-F8", "F8-T4", "T4-T6", "T6-O2",
               "A1-T3", "T3-C3", "C3-CZ", "CZ-C4", "C4-T4", "T4-A2", "FP1-F3", "F3-C3",
               "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2")

#: What the published FEMBA models were pretrained on (FEMBA paper: 22 channels, 256 Hz, 5 s).
FEMBA_CONTRACT = SignalContract(ch_names=TCP_MONTAGE, sfreq=256.0, n_times=1280, reference="bipolar-tcp")


def build_encoder(arch: str = "bimamba", size: str = "nano", **overrides) -> nn.Module:
    """A fresh encoder: ``arch`` in {"bimamba", "transformer"}, a size name and config overrides.

    Parameters
    ----------
    arch : {"bimamba", "transformer"}, default="bimamba"
        Encoder architecture.
    size : str, default="nano"
        Size preset of the architecture's config.
    **overrides
        Config fields that replace the size preset's values; unknown fields are refused.

    Returns
    -------
    encoder : nn.Module
    """
    from dataclasses import fields

    check_option("arch", arch, list(ARCHS))
    cls, cfg_cls = ARCHS[arch]
    allowed = sorted(f.name for f in fields(cfg_cls) if f.init and f.name != "size")
    bad = sorted(set(overrides) - set(allowed))
    if bad:
        raise ValueError(f"Invalid encoder settings {bad} for arch={arch!r}: allowed settings are {allowed}.")
    return cls(size, **overrides)


def encoder_from_dict(arch: str, config: dict) -> nn.Module:
    """Rebuild an encoder from ``(arch, config.to_dict())`` as stored in checkpoints.

    Parameters
    ----------
    arch : {"bimamba", "transformer"}
        Encoder architecture.
    config : dict
        The encoder config as written by its ``to_dict()``.

    Returns
    -------
    encoder : nn.Module
        A freshly initialised encoder (weights not loaded).
    """
    check_option("arch", arch, list(ARCHS))
    cls, cfg_cls = ARCHS[arch]
    return cls(cfg_cls.from_dict(config))


def save_encoder(encoder: nn.Module, path: str | os.PathLike, contract: SignalContract | None = None,
                 scaling: str = "zscore", extra: dict | None = None) -> Path:
    """Write an encoder (architecture, config, weights, contract) atomically to ``path``.

    Parameters
    ----------
    encoder : nn.Module
        Encoder with ``arch`` and ``config`` attributes.
    path : str | os.PathLike
        File to write (a ``torch.save`` payload).
    contract : SignalContract | None
        The signal the encoder was trained on; stored as a dict.
    scaling : str, default="zscore"
        Input scaling recorded with the encoder.
    extra : dict | None
        Further entries stored under ``"extra"``.

    Returns
    -------
    path : Path
    """
    payload = {"format": "neurosig-encoder", "arch": encoder.arch, "config": encoder.config.to_dict(),
               "encoder": encoder.state_dict(), "contract": contract.to_dict() if contract else None,
               "scaling": scaling, "extra": extra or {}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_encoder(path: str | os.PathLike, arch: str | None = None, n_channels: int | None = None,
                 n_times: int | None = None, contract: SignalContract | None = None) -> tuple[nn.Module, dict]:
    """Load an encoder from a neurosig encoder file, a pretraining checkpoint or a FEMBA safetensors file.

    Parameters
    ----------
    path : path-like
        ``.pt`` written by :func:`save_encoder` or :func:`~neurosig.models.pretrain.pretrain`,
        or a ``.safetensors`` FEMBA checkpoint.
    arch : str | None
        Expected architecture ("bimamba" / "transformer"); a file of another one is refused.
    n_channels, n_times : int | None
        Expected window shape; a different one is refused.
    contract : SignalContract | None
        The signal the encoder will see; checked against the one the file records.

    Returns
    -------
    encoder : nn.Module
    info : dict
        "arch", "config", "contract" (dict or None), "scaling", "path".
    """
    path = check_path("checkpoint", path, kind="file")
    if path.suffix == ".safetensors":
        if arch not in (None, "bimamba"):
            raise ValueError(f"The checkpoint {str(path)!r} is a FEMBA (bimamba) safetensors file, but "
                             f"arch={arch!r} was asked for.")
        enc, info = load_femba_safetensors(path, contract=contract)
    else:
        payload = load_torch_file(path, "checkpoint")
        fmt = payload.get("format") if isinstance(payload, dict) else None
        if fmt not in ("neurosig-encoder", "neurosig-pretrain"):
            raise ValueError(f"The checkpoint {str(path)!r} is not a neurosig encoder or pretraining "
                             f"checkpoint (format {fmt!r}); expected 'neurosig-encoder' or "
                             "'neurosig-pretrain', or a FEMBA '.safetensors' file.")
        file_arch = payload["arch"]
        if arch is not None and file_arch != arch:
            raise ValueError(f"The checkpoint {str(path)!r} holds a {file_arch!r} encoder, but arch={arch!r} "
                             "was asked for.")
        enc = encoder_from_dict(file_arch, payload["config"])
        if fmt == "neurosig-encoder":
            state = payload["encoder"]
        else:
            state = {k[len("encoder."):]: v for k, v in payload["model"].items() if k.startswith("encoder.")}
        _load_strict(enc, state, path)
        info = {"arch": file_arch, "config": payload["config"], "contract": payload.get("contract"),
                "scaling": payload.get("scaling", "zscore")}
        if contract is not None and info["contract"] is not None:
            SignalContract.from_dict(info["contract"]).check(contract, what=f"signal given for {str(path)!r}")
    info["path"] = str(path)
    c = enc.config
    if n_channels is not None and n_channels != c.n_channels or n_times is not None and n_times != c.n_times:
        raise ValueError(f"The checkpoint {str(path)!r} was trained on windows of (n_channels, n_times) = "
                         f"({c.n_channels}, {c.n_times}), but the data have ({n_channels}, {n_times}).")
    return enc, info


def _load_strict(module: nn.Module, state: dict, path: Path) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(f"The checkpoint {str(path)!r} does not match the {type(module).__name__} "
                         f"architecture: missing keys {missing[:6]}{'...' if len(missing) > 6 else ''}, "
                         f"unexpected keys {unexpected[:6]}{'...' if len(unexpected) > 6 else ''}.")
    bad = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}" for k, v in own.items()
           if tuple(state[k].shape) != tuple(v.shape)]
    if bad:
        raise ValueError(f"The checkpoint {str(path)!r} has tensors of other shapes than the "
                         f"{type(module).__name__} config: " + "; ".join(bad[:4]))
    module.load_state_dict(state)


# -- published FEMBA safetensors ----------------------------------------------------------
_FEMBA_BLOCK = re.compile(r"^mamba_blocks\.(\d+)\.")
_FEMBA_ENCODER_PREFIXES = ("patch_embed.", "pos_embed", "mamba_blocks.", "norm_layers.")
_FEMBA_HEAD_PREFIXES = ("decoder.", "classifier.")


def infer_femba_config(tensors: dict[str, torch.Tensor], path: str = "") -> FEMBAConfig:
    """Read the architecture of a FEMBA state dict from its tensor shapes.

    Parameters
    ----------
    tensors : dict of str to torch.Tensor
        FEMBA state dict (safetensors key naming).
    path : str, default=""
        File the tensors come from, named in error messages.

    Returns
    -------
    config : FEMBAConfig
    """
    need = ["patch_embed.proj.weight", "pos_embed", "mamba_blocks.0.mamba_fwd.A_log",
            "mamba_blocks.0.mamba_fwd.in_proj.weight", "mamba_blocks.0.mamba_fwd.conv1d.weight"]
    missing = [k for k in need if k not in tensors]
    if missing:
        sample = sorted(tensors)[:5]
        raise ValueError(f"The checkpoint {path!r} is not a FEMBA (bidirectional Mamba) checkpoint: it lacks "
                         f"{missing} (its first keys are {sample}).")
    w = tensors["patch_embed.proj.weight"]  # (embed_dim, 1, pc, pt)
    if w.ndim != 4 or w.shape[1] != 1:
        raise ValueError(f"The checkpoint {path!r}: 'patch_embed.proj.weight' has shape {tuple(w.shape)}, "
                         "expected (embed_dim, 1, 2, 16) for FEMBA.")
    embed_dim, pc, pt = int(w.shape[0]), int(w.shape[2]), int(w.shape[3])
    _, n_tokens, d_model = tensors["pos_embed"].shape
    n_pairs = d_model // embed_dim
    d_inner, d_state = tensors["mamba_blocks.0.mamba_fwd.A_log"].shape
    n_blocks = 1 + max(int(m.group(1)) for k in tensors if (m := _FEMBA_BLOCK.match(k)))
    size = next((name for name, p in FEMBA_SIZES.items()
                 if p["n_blocks"] == n_blocks and p["embed_dim"] == embed_dim
                 and p.get("expand", 4) == d_inner // d_model), "custom")
    return FEMBAConfig(n_channels=n_pairs * pc, n_times=int(n_tokens) * pt, embed_dim=embed_dim,
                       n_blocks=n_blocks, expand=int(d_inner) // int(d_model), d_state=int(d_state),
                       d_conv=int(tensors["mamba_blocks.0.mamba_fwd.conv1d.weight"].shape[-1]),
                       patch_size=(pc, pt), size=size)


def load_femba_safetensors(path: str | os.PathLike, contract: SignalContract | None = None,
                           expected: SignalContract | None = None) -> tuple[BiMambaEncoder, dict]:
    """Load a published FEMBA checkpoint (safetensors) into a :class:`BiMambaEncoder`.

    Parameters
    ----------
    path : path-like
        A ``.safetensors`` file in FEMBA's key naming (``patch_embed.proj.weight``,
        ``pos_embed``, ``mamba_blocks.{i}.mamba_fwd|mamba_rev.*``, ``norm_layers.{i}.*``;
        ``decoder.*`` / ``classifier.*`` heads are ignored and reported).
    contract : SignalContract | None
        The signal the encoder will see. It must match the pretraining contract
        (channel names and order, sampling rate, window length, reference), else ValueError.
    expected : SignalContract | None
        The pretraining contract; default: the file's metadata keys ``ch_names`` (comma
        separated), ``sfreq``, ``n_times``, ``reference`` when present, else
        :data:`FEMBA_CONTRACT` (22 TCP bipolar channels, 256 Hz, 1280 samples).

    Returns
    -------
    encoder : BiMambaEncoder
    info : dict
        "arch", "config", "contract", "ignored_keys", "scaling".
    """
    try:
        from safetensors import safe_open
    except ImportError as exc:  # pragma: no cover - safetensors is a dependency
        raise ImportError("Reading FEMBA checkpoints needs the 'safetensors' package "
                          "(pip install safetensors).") from exc
    path = check_path("checkpoint", path, kind="file")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise ValueError(f"The checkpoint {str(path)!r} could not be read as a safetensors file: {exc}") from None
    # some exports prefix every key (e.g. "model." from a Lightning module)
    for prefix in ("model.", "module.", "encoder."):
        if tensors and all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    config = infer_femba_config(tensors, str(path))
    if expected is None:
        expected = _contract_from_metadata(metadata, config) or FEMBA_CONTRACT
    if (len(expected.ch_names), expected.n_times) != (config.n_channels, config.n_times):
        raise ValueError(f"The checkpoint {str(path)!r} has weights for ({config.n_channels} channels, "
                         f"{config.n_times} samples), but its declared contract has "
                         f"({len(expected.ch_names)}, {expected.n_times}).")
    if contract is not None:
        expected.check(contract, what=f"signal given for the FEMBA checkpoint {str(path)!r}")
    enc_state = {k: v for k, v in tensors.items() if k.startswith(_FEMBA_ENCODER_PREFIXES)}
    ignored = sorted(k for k in tensors if k not in enc_state)
    unknown = [k for k in ignored if not k.startswith(_FEMBA_HEAD_PREFIXES)]
    if unknown:
        raise ValueError(f"The checkpoint {str(path)!r} has keys that are not part of FEMBA: {unknown[:6]}.")
    enc = BiMambaEncoder(config)
    _load_strict(enc, enc_state, path)
    if ignored:
        logger.info("FEMBA checkpoint %s: ignored %d head tensors (%s...)", path, len(ignored), ignored[0])
    return enc, {"arch": "bimamba", "config": config.to_dict(), "contract": expected.to_dict(),
                 "ignored_keys": ignored, "scaling": metadata.get("scaling", "none")}


def _contract_from_metadata(metadata: dict, config: FEMBAConfig) -> SignalContract | None:
    if "ch_names" not in metadata:
        return None
    try:
        return SignalContract(ch_names=tuple(metadata["ch_names"].split(",")),
                              sfreq=float(metadata.get("sfreq", 256.0)),
                              n_times=int(metadata.get("n_times", config.n_times)),
                              reference=metadata.get("reference", "bipolar-tcp"))
    except ValueError as exc:
        raise ValueError(f"The checkpoint metadata is malformed: {exc}") from None


def save_femba_safetensors(encoder: BiMambaEncoder, path: str | os.PathLike,
                           contract: SignalContract | None = None, extra_tensors: dict | None = None) -> Path:
    """Write an encoder in FEMBA's safetensors key naming (for tests and for exchange), atomically.

    Parameters
    ----------
    encoder : BiMambaEncoder
        Encoder whose state dict is written.
    path : str | os.PathLike
        ``.safetensors`` file to write.
    contract : SignalContract | None
        Recorded in the file's metadata (channel names, sfreq, n_times, reference).
    extra_tensors : dict | None
        Further tensors written next to the encoder's (e.g. a classifier head).

    Returns
    -------
    path : Path
    """
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {k: v.detach().contiguous() for k, v in encoder.state_dict().items()}
    tensors.update(extra_tensors or {})
    meta = {}
    if contract is not None:
        meta = {"ch_names": ",".join(contract.ch_names), "sfreq": str(contract.sfreq),
                "n_times": str(contract.n_times), "reference": contract.reference}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)
