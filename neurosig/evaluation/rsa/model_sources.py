"""Model sources of an RSA job: one pattern matrix per model layer, over the brain's conditions.

Each source returns ``{"model:layer": patterns}`` with patterns of shape
(n_conditions, n_features), rows in the order of the brain source's conditions
(trials are fed one by one and their activations averaged per condition).

* ``encoder``: a neurosig encoder, from a checkpoint (``checkpoint:``, a file written by
  :func:`~neurosig.models.checkpoints.save_encoder`, by pretraining, or a FEMBA
  ``.safetensors``) or built fresh (``arch: bimamba|transformer``, ``size``, ``seed``,
  ``settings``); fed the brain source's epochs, z-scored per window as in fine-tuning.
* ``torch``: a module class from :data:`ALLOWED_MODULES` with ``params`` and a
  ``weights`` state dict read with ``torch.load(weights_only=True)``; fed the epochs or
  a ``stimuli`` ``.npy`` (rows = conditions or ids).
* ``tfm``: TFM tokenizer token embeddings of the epochs (a tokenizer file, or one fitted
  on the epochs with the given ``settings``), pooled over tokens.
* ``features``: a feature array, ``.npy`` (rows = conditions in order, or with
  ``rows: ids`` row ``i`` = condition ``i``) or ``.npz`` (``features`` + ``conditions``).
"""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from ..._io import load_torch_file
from ..._logging import get_logger

logger = get_logger(__name__)

KINDS = ("encoder", "torch", "tfm", "features")

#: Torch module classes a job file may name (``module: "package.module:Class"``).
ALLOWED_MODULES = {
    "neurosig.models.femba:BiMambaEncoder",
    "neurosig.models.transformer:PatchTransformer",
    "neurosig.models.token_transformer:TokenTransformer",
    "torch.nn:Linear",
    "torch.nn:Conv1d",
    "torch.nn:Conv2d",
    "torchvision.models:alexnet",
    "torchvision.models:resnet18",
    "torchvision.models:resnet50",
    "torchvision.models:vgg16",
}


def _err(source: str, param: str, msg: str) -> ValueError:
    return ValueError(f"Invalid value for the '{param}' parameter of the model source {source!r}: {msg}")


def _condition_means(A: np.ndarray, trial_cond: np.ndarray, conditions: np.ndarray) -> np.ndarray:
    """(n_trials, n_features) -> (n_conditions, n_features) in the order of ``conditions``."""
    index = {c: i for i, c in enumerate(conditions.tolist())}
    inv = np.array([index[c] for c in trial_cond.tolist()])
    out = np.zeros((len(conditions), A.shape[1]))
    np.add.at(out, inv, A)
    return out / np.bincount(inv, minlength=len(conditions))[:, None]


def _features(cfg: dict, base: Path, name: str, conditions: np.ndarray) -> dict[str, np.ndarray]:
    path = base / cfg["path"]
    if not path.is_file():
        raise FileNotFoundError(f"The 'path' file {str(path)!r} of the model source {name!r} does not exist.")
    rows = cfg.get("rows", "conditions")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if not {"features", "conditions"} <= set(z.files):
                raise _err(name, "path", f"a .npz feature file needs 'features' and 'conditions'; it has {z.files}.")
            F, fc = np.asarray(z["features"], float), z["conditions"].astype(str)
        missing = sorted(set(conditions.astype(str)) - set(fc))
        extra = sorted(set(fc) - set(conditions.astype(str)))
        if missing:
            raise _err(name, "path", f"the model source and the brain source have different condition sets: "
                                     f"{len(missing)} brain conditions are missing (e.g. {missing[:5]}), "
                                     f"{len(extra)} are extra.")
        pos = {c: i for i, c in enumerate(fc.tolist())}
        F = F[[pos[c] for c in conditions.astype(str).tolist()]]
    else:
        F = np.asarray(np.load(path, allow_pickle=False), float)
        F = F.reshape(len(F), -1)
        if rows == "ids":
            ids = np.asarray(conditions)
            if not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= len(F):
                raise _err(name, "rows", f"rows: ids needs integer conditions in [0, {len(F)}), but the brain "
                                         f"conditions are {ids[:5].tolist()}...")
            F = F[ids]
        elif rows == "conditions":
            if len(F) != len(conditions):
                raise _err(name, "path", f"the model source and the brain source have different condition sets: "
                                         f"{len(F)} rows but {len(conditions)} brain conditions.")
        else:
            raise _err(name, "rows", f"allowed values are 'conditions', 'ids', but got {rows!r}.")
    if not np.all(np.isfinite(F)):
        raise _err(name, "path", "the features contain NaN or infinite values (allowed: finite numbers).")
    return {f"{name}:features": F}


def _encoder(cfg: dict, base: Path, name: str, stimuli: np.ndarray | None):

    from ...models.checkpoints import build_encoder, load_encoder
    from ...models.training import forked_rng

    if stimuli is None:
        raise _err(name, "kind", "an encoder needs epochs to be fed; the brain source has none (use an eeg source).")
    n_ch, n_t = stimuli.shape[1:]
    if "checkpoint" in cfg:
        enc, info = load_encoder(base / cfg["checkpoint"])
        scaling = info.get("scaling", "zscore")
    else:
        with forked_rng(int(cfg.get("seed", 0))):  # seeded initialisation; the caller's RNG is left alone
            enc = build_encoder(cfg.get("arch", "bimamba"), cfg.get("size", "nano"), n_channels=n_ch, n_times=n_t,
                                **cfg.get("settings", {}))
        scaling = "zscore"
    c = enc.config
    if (c.n_channels, c.n_times) != (n_ch, n_t):
        raise _err(name, "stimuli", f"the model takes (n_channels, n_times) = ({c.n_channels}, {c.n_times}) "
                                    f"windows, but the epochs have ({n_ch}, {n_t}).")
    return enc, scaling


def _torch_module(cfg: dict, base: Path, name: str):

    path = cfg.get("module", "")
    if path not in ALLOWED_MODULES:
        raise _err(name, "module", f"allowed values are {sorted(ALLOWED_MODULES)}, but got {path!r}.")
    mod, cls = path.split(":")
    try:
        factory = getattr(importlib.import_module(mod), cls)
    except ImportError as exc:
        raise _err(name, "module", f"{path!r} cannot be imported ({exc}).") from None
    model = factory(**cfg.get("params", {}))
    if "weights" in cfg:
        wpath = base / cfg["weights"]
        if not wpath.is_file():
            raise FileNotFoundError(f"The 'weights' file {str(wpath)!r} of the model source {name!r} does not exist.")
        state = load_torch_file(wpath, "weights", what=f"weights file of the model source {name!r}")
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise _err(name, "weights", f"{str(wpath)!r} does not fit {path}: {first}") from None
    return model


def _stimuli(cfg: dict, base: Path, name: str, conditions: np.ndarray, stimuli, stim_cond):
    if "stimuli" not in cfg:
        if stimuli is None:
            raise _err(name, "stimuli", "the brain source has no stimuli to feed; give a .npy of model inputs.")
        return stimuli, stim_cond
    path = base / cfg["stimuli"]
    if not path.is_file():
        raise FileNotFoundError(f"The 'stimuli' file {str(path)!r} of the model source {name!r} does not exist.")
    S = np.load(path, allow_pickle=False)
    if cfg.get("rows", "conditions") == "ids":
        S = S[np.asarray(conditions)]
    elif len(S) != len(conditions):
        raise _err(name, "stimuli", f"{len(S)} stimuli but {len(conditions)} brain conditions.")
    return S, np.asarray(conditions)


def _check_input(model, x, name: str) -> None:
    """One stimulus through the model, so a wrong stimulus shape fails before the work."""
    import torch

    model.eval()
    try:
        with torch.no_grad():
            model(torch.as_tensor(np.asarray(x[:1])).float())
    except Exception as exc:  # the model's own message says what it expected
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _err(name, "stimuli", f"stimuli of shape {tuple(np.shape(x)[1:])} do not fit the model's input "
                                    f"({first}).") from None


def _tfm(cfg: dict, base: Path, name: str, stimuli, stim_cond, conditions, sfreq):
    from ...tokenizers.tfm import TFMTokenizer, TFMTokenizerEstimator
    from .sources import embedding_patterns

    if stimuli is None:
        raise _err(name, "kind", "TFM embeddings need epochs; the brain source has none (use an eeg source).")
    settings = dict(cfg.get("settings", {}))
    if "tokenizer" in cfg:
        tok = TFMTokenizer.load(base / cfg["tokenizer"])
        c = tok.config
        est = TFMTokenizerEstimator(sfreq=sfreq, model_sfreq=c.sfreq, n_fft=c.n_fft, hop=c.hop, dim=c.dim,
                                    n_codes=c.n_codes)
        est.tokenizer_ = tok
    else:
        est = TFMTokenizerEstimator(sfreq=sfreq, **settings).fit(stimuli)
    E = est.embed(stimuli)  # (n, ch, patches, dim)
    pool = cfg.get("pool", "mean")
    P = embedding_patterns(E.reshape(len(E), -1, E.shape[-1]), pool=pool)
    return {f"{name}:tokens-{pool}": _condition_means(P, stim_cond, conditions)}


def model_patterns(cfg: dict, base: Path | str, conditions: np.ndarray, stimuli: np.ndarray | None = None,
                   stimulus_conditions: np.ndarray | None = None, sfreq: float | None = None,
                   verbose: bool = False) -> dict[str, np.ndarray]:
    """Patterns of every layer of one model source.

    Parameters
    ----------
    cfg : dict
        One entry of the job's ``models`` list (``kind``, ``name``, kind-specific keys).
    base : path-like
        Folder the paths are relative to.
    conditions : ndarray, shape (n_conditions,)
        The brain source's conditions (RDM order).
    stimuli : ndarray, shape (n_trials, ...) | None
        What the brain source saw (EEG epochs: (n_trials, n_channels, n_times)).
    stimulus_conditions : ndarray, shape (n_trials,) | None
        Condition of each stimulus.
    sfreq : float | None
        Sampling rate of the epochs (TFM tokenizer).
    verbose : bool
        Progress bars.

    Returns
    -------
    patterns : dict of str -> ndarray, shape (n_conditions, n_features)
        Keys ``"<name>:<layer>"``.
    """
    from .sources import layer_activations

    base = Path(base)
    kind = cfg.get("kind")
    name = cfg.get("name", kind)
    if kind not in KINDS:
        raise ValueError(f"Invalid value for 'models[].kind' of {name!r}. Allowed values are {list(KINDS)}, "
                         f"but got {kind!r}.")
    conditions = np.asarray(conditions)
    if kind == "features":
        return _features(cfg, base, name, conditions)
    if kind == "tfm":
        return _tfm(cfg, base, name, stimuli, stimulus_conditions, conditions, sfreq)
    if kind == "encoder":
        model, scaling = _encoder(cfg, base, name, stimuli)
        x, xc = stimuli, stimulus_conditions
        if scaling != "none":
            import torch

            from ...models._patch import scale_windows
            x = scale_windows(torch.as_tensor(np.asarray(x, dtype=np.float32)), scaling).numpy()
    else:
        model = _torch_module(cfg, base, name)
        x, xc = _stimuli(cfg, base, name, conditions, stimuli, stimulus_conditions)
        _check_input(model, x, name)
    if "layers" not in cfg:
        raise _err(name, "layers", "give layer names or patterns (names from model.named_modules()).")
    acts = layer_activations(model, np.asarray(x, dtype=np.float32), cfg["layers"],
                             batch_size=int(cfg.get("batch_size", 32)), verbose=verbose, source=name)
    xc = np.asarray(xc)
    return {f"{name}:{layer or 'output'}": _condition_means(a, xc, conditions) for layer, a in acts.items()}


def preflight(cfg: dict, base: Path | str) -> None:
    """Checks of one model source that need no brain data, run before the brain RDMs are computed.

    Files exist, torch modules are allowed and their weights fit, layer names or patterns
    match layers of the model (an encoder built from a size has the same layer names
    whatever its window shape).

    Parameters
    ----------
    cfg : dict
        One entry of the job's ``models`` list.
    base : path-like
        Folder the paths are relative to.
    """
    import torch

    from ...models.checkpoints import build_encoder, load_encoder
    from .sources import resolve_layers

    base = Path(base)
    kind = cfg.get("kind")
    name = cfg.get("name", kind)
    for key in ("path", "checkpoint", "weights", "stimuli", "tokenizer"):
        if key in cfg and not (base / cfg[key]).is_file():
            raise FileNotFoundError(f"The '{key}' file {str(base / cfg[key])!r} of the model source {name!r} "
                                    "does not exist.")
    if kind not in ("encoder", "torch"):
        return
    if "layers" not in cfg:
        raise _err(name, "layers", "give layer names or patterns (names from model.named_modules()).")
    if kind == "torch":
        model = _torch_module(cfg, base, name)
    elif "checkpoint" in cfg:
        model = load_encoder(base / cfg["checkpoint"])[0]
    else:
        with torch.random.fork_rng(devices=[]):
            model = build_encoder(cfg.get("arch", "bimamba"), cfg.get("size", "nano"), **cfg.get("settings", {}))
    resolve_layers(model, cfg["layers"], name)
