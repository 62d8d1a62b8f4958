"""Job files of ``neurosig pretrain`` and ``neurosig finetune``: their schemas, reading and data checks.

The layouts are :class:`~neurosig._schema.Schema` classes (documented in ``docs/schemas.md``);
:func:`read_job` reads a file through the one schema mechanism, :func:`load_arrays` opens the
data and :func:`check_arrays` checks what was opened (shape, finiteness, channel names and
count, labels) before any training, so ``--dry-run`` reports what a run would meet.
"""
from __future__ import annotations

import typing
import warnings
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Lt, MinLen
from pydantic import Field, create_model

from neurosig._schema import Schema, SchemaError, check_estimator_params, fail, load, reword
from neurosig.models.foundation import MODES, FoundationClassifier
from neurosig.models.pretrain import PretrainConfig

PosInt = Annotated[int, Ge(1)]


class DataSchema(Schema):
    path: str = Field(description="`.npy` windows (n_windows, n_channels, n_times) or `.npz` with X (and y).")
    x_key: str = Field("X", description="Array name of the windows in an `.npz`.")
    y_key: str = Field("y", description="Array name of the labels in an `.npz`.")
    ch_names: Annotated[list[str], MinLen(1)] | None = Field(
        None, description="Channel names, one per channel of the windows.")
    sfreq: Annotated[float, Gt(0)] | None = Field(None, description="Sampling rate in Hz.")
    reference: str | None = Field(None, description="Reference of the signals (signal contract).")
    preprocessing_hash: str | None = Field(None, description="Hash of the preprocessing (signal contract).")


class EncoderSchema(Schema):
    arch: Literal["bimamba", "transformer"] = Field("bimamba", description="Encoder architecture.")
    size: Literal["nano", "tiny", "base", "large", "huge"] = Field(
        "nano", description="Size preset (transformer: nano, tiny, base).")
    embed_dim: PosInt | None = Field(None, description="Override of the preset.")
    n_blocks: PosInt | None = Field(None, description="bimamba: number of blocks.")
    n_layers: PosInt | None = Field(None, description="transformer: number of layers.")
    n_heads: PosInt | None = Field(None, description="transformer: attention heads.")
    mlp_ratio: PosInt | None = Field(None, description="transformer: MLP width ratio.")
    expand: PosInt | None = Field(None, description="bimamba: inner expansion.")
    d_state: PosInt | None = Field(None, description="bimamba: state size.")
    d_conv: PosInt | None = Field(None, description="bimamba: convolution width.")
    chunk_size: PosInt | None = Field(None, description="bimamba: scan chunk length.")
    recompute: bool | None = Field(None, description="bimamba: recompute activations (less memory).")


#: former key of the ``training`` section -> its PretrainConfig field (accepted for one release)
RENAMED_TRAINING_KEYS = {"epochs": "max_epochs", "seed": "random_state"}


def _training_schema() -> type[Schema]:
    """The ``training`` section: :class:`~neurosig.models.pretrain.PretrainConfig`'s fields
    (and, for one release, their former names)."""
    hints = typing.get_type_hints(PretrainConfig)
    keys = {f.name: (hints[f.name], Field(f.default, description="See PretrainConfig."))
            for f in fields(PretrainConfig)}
    keys.update({old: (int | None, Field(None, description=f"Former name of `{new}` (deprecated)."))
                 for old, new in RENAMED_TRAINING_KEYS.items()})
    return create_model("TrainingSchema", __base__=Schema, __doc__="PretrainConfig fields.", **keys)


TrainingSchema = _training_schema()


class PretrainFileSchema(Schema):
    data: DataSchema = Field(description="The windows (see the data section).")
    encoder: EncoderSchema = Field(description="The encoder to pretrain.")
    training: TrainingSchema = Field(TrainingSchema(), description="PretrainConfig fields (max_epochs, lr, ...).")
    output: str = Field(description="Checkpoint folder (last.pt, best.pt, history.json).")
    resume: bool = Field(True, description="Resume from output/last.pt when it exists.")


#: former key of the ``split`` section -> its current name (accepted for one release)
RENAMED_SPLIT_KEYS = {"seed": "random_state"}


class SplitSchema(Schema):
    test_size: Annotated[float, Gt(0), Lt(1)] = Field(0.25, description="Share of windows held out.")
    random_state: Annotated[int, Ge(0)] = Field(0, description="Seed of the stratified split.")
    seed: Annotated[int, Ge(0)] | None = Field(None, description="Former name of `random_state` (deprecated).")


#: FoundationClassifier parameters the finetune job sets itself (not in ``model``)
JOB_SET = ("mode", "seed", "random_state", "ch_names", "sfreq", "preprocessing_hash")


class FinetuneFileSchema(Schema):
    data: DataSchema = Field(description="`.npz` with X and y (see the data section).")
    split: SplitSchema = Field(SplitSchema(), description="Stratified hold-out.")
    model: dict[str, Any] = Field({}, description="FoundationClassifier parameters (checked against it).")
    modes: Annotated[list[Literal[MODES]], MinLen(1)] | Literal[MODES] = Field(
        ["finetune"], description="Training modes.")
    seeds: Annotated[list[Annotated[int, Ge(0)]], MinLen(1)] = Field([0, 1, 2], description="Seeds.")
    scoring: str = Field("balanced_accuracy", description="A scikit-learn scorer name.")
    output: str = Field(description="JSON file of the results.")
    results_db: str | None = Field(None, description="Optional SQLite results store (one row per seed).")


def read_job(path: str, schema: type[Schema], command: str) -> tuple[Schema, Path]:
    """Read a YAML job file and check it against ``schema``.

    Parameters
    ----------
    path : str
        The job file.
    schema : type of Schema
        Its layout.
    command : str
        The command ("pretrain", "finetune"), named in messages.

    Returns
    -------
    job : Schema
        The checked job.
    base : Path
        The file's folder (relative paths are resolved against it).
    """
    job, _ = load(schema, path, what=f"{command} file", top=command)
    return job, Path(path).parent


def check_training(job, path) -> PretrainConfig:
    """The ``training`` section as a validated PretrainConfig (errors name the file and key).

    Parameters
    ----------
    job : PretrainFileSchema
        The checked job.
    path : str
        The job file.

    Returns
    -------
    cfg : PretrainConfig
        The validated settings.
    """
    params, written = renamed_keys(job.training, "training", RENAMED_TRAINING_KEYS, "pretrain file", path)
    try:
        return PretrainConfig(**params).validate()
    except ValueError as exc:
        reworded = reword(" ".join(str(exc).split()), params, what="pretrain file", source=path,
                          key_of=lambda name: f"training.{written.get(name, name)}")
        if reworded is None:
            raise
        raise reworded from None


def renamed_keys(section: Schema, name: str, renamed: dict[str, str], what: str, path) -> tuple[dict, dict]:
    """A section's values with its former keys moved to their current names (a FutureWarning each).

    Parameters
    ----------
    section : Schema
        The checked section; a former key is None unless the file wrote it.
    name : str
        The section's key in the file ("training", "split"), named in messages.
    renamed : dict of str to str
        Former key -> current key.
    what : str
        The kind of file ("pretrain file", "finetune file"), named in messages.
    path : str
        The job file.

    Returns
    -------
    params : dict
        The section's values under the current keys only.
    written : dict
        Current key -> the former key the file used for it.
    """
    params = section.model_dump()
    written = {}
    for old, new in renamed.items():
        value = params.pop(old)
        if value is None:
            continue
        if new in section.model_fields_set:
            raise fail(what, path, f"{name}.{old}", f"only one of '{name}.{new}' and its former "
                       f"name '{name}.{old}'", value)
        warnings.warn(f"{what} {str(path)!r}: the key '{name}.{old}' was renamed '{name}.{new}' "
                      f"and will be refused in the next release; write {name}.{new} instead.",
                      FutureWarning, stacklevel=3)
        params[new], written[new] = value, old
    return params, written


def check_split(job, path) -> dict:
    """The ``split`` section as ``train_test_split`` settings (``split.seed`` read as ``random_state``).

    Parameters
    ----------
    job : FinetuneFileSchema
        The checked job.
    path : str
        The job file.

    Returns
    -------
    split : dict
        ``test_size`` and ``random_state``.
    """
    return renamed_keys(job.split, "split", RENAMED_SPLIT_KEYS, "finetune file", path)[0]


def check_model(job, path) -> dict:
    """The ``model`` section checked against FoundationClassifier's signature and checks.

    Parameters
    ----------
    job : FinetuneFileSchema
        The checked job.
    path : str
        The job file.

    Returns
    -------
    model : dict
        FoundationClassifier keyword arguments.
    """
    given = sorted(set(job.model) & set(JOB_SET))
    if given:
        raise fail("finetune file", path, f"model.{given[0]}", "FoundationClassifier parameters other than "
                   f"{list(JOB_SET)} (the job sets those: data, seeds, modes)", given[0])
    check_estimator_params(FoundationClassifier, dict(job.model), what="finetune file", source=path,
                           key="model")
    return dict(job.model)


def load_arrays(section: DataSchema, base: Path, need_y: bool):
    """X (n, C, T) float32 and y (or None) from a ``.npy`` (X only) or ``.npz`` file, checked.

    Parameters
    ----------
    section : DataSchema
        The job's ``data`` section.
    base : Path
        Folder a relative ``path`` is resolved against.
    need_y : bool
        Labels are required (fine-tuning).

    Returns
    -------
    X : ndarray, shape (n_windows, n_channels, n_times)
        The windows, float32.
    y : ndarray, shape (n_windows,) or None
        The labels.
    """

    p = Path(section.path)
    if not p.is_absolute():
        p = Path(base) / p
    if not p.is_file():
        raise FileNotFoundError(f"Invalid value for the 'data.path' parameter: {str(p)!r} does not exist.")
    if p.suffix not in (".npy", ".npz"):
        raise ValueError(f"Invalid value for the 'data.path' parameter: allowed file types are .npy and "
                         f".npz, but got {str(p)!r}.")
    try:
        X, y = _read_arrays(p, section)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, SchemaError):
            raise
        said = " ".join(str(exc).split())
        raise fail("data file", p, "data.path", "a .npy / .npz file of numeric arrays (read without pickle)",
                   f"a file numpy cannot read that way ({said})") from None
    check_arrays(X, y, section, p, need_y)
    return X.astype("float32", copy=False), y


def _read_arrays(p: Path, section: DataSchema):
    import numpy as np

    if p.suffix == ".npy":
        return np.load(p, allow_pickle=False), None
    with np.load(p, allow_pickle=False) as z:
        if section.x_key not in z:
            raise fail("data file", p, "data.x_key", f"array names in the file ({sorted(z.files)})",
                       section.x_key)
        return z[section.x_key], (z[section.y_key] if section.y_key in z else None)


def check_arrays(X, y, section: DataSchema, path: Path, need_y: bool) -> None:
    """Refuse data a run would fail on or silently misuse: shape, dtype, NaN/inf, channel names, labels.

    Parameters
    ----------
    X : ndarray
        The windows as read, expected shape (n_windows, n_channels, n_times).
    y : ndarray or None
        The labels as read.
    section : DataSchema
        The job's ``data`` section (channel names).
    path : Path
        The data file, named in errors.
    need_y : bool
        Labels are required.
    """
    import numpy as np

    w = "data file"
    if X.ndim != 3:
        raise fail(w, path, "X", "arrays of shape (n_windows, n_channels, n_times)", f"shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0 or X.shape[2] == 0:
        raise fail(w, path, "X", "at least one window, channel and sample", f"shape {X.shape}")
    if not np.issubdtype(X.dtype, np.floating) and not np.issubdtype(X.dtype, np.integer):
        raise fail(w, path, "X", "real numbers", f"dtype {X.dtype}")
    bad = ~np.isfinite(X).all(axis=(1, 2))
    if bad.any():
        idx = np.flatnonzero(bad)
        raise fail(w, path, "X", "finite values", f"NaN or inf in {len(idx)} window(s), first {idx[:5].tolist()}")
    names = section.ch_names
    if names is not None and len(names) != X.shape[1]:
        raise fail("data section", path, "data.ch_names", f"{X.shape[1]} names (one per channel of X)",
                   f"{len(names)} names")
    if names is not None and len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise fail("data section", path, "data.ch_names", "unique channel names", f"duplicates {dup}")
    if need_y:
        if y is None:
            raise fail(w, path, "data.y_key", "the name of a label array in the .npz (fine-tuning needs labels)",
                       section.y_key)
        if y.ndim != 1 or len(y) != len(X):
            raise fail(w, path, "y", f"one label per window ({len(X)})", f"shape {y.shape}")
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2 or counts.min() < 2:
            raise fail(w, path, "y", "at least 2 classes with 2 windows each",
                       dict(zip(classes.tolist(), counts.tolist())))


def contract_of(section: DataSchema, n_times: int):
    """The signal contract of the data section (None without channel names and sampling rate).

    Parameters
    ----------
    section : DataSchema
        The job's ``data`` section.
    n_times : int
        Samples per window.

    Returns
    -------
    contract : SignalContract or None
        What checkpoints record about the signals.
    """
    from neurosig.contracts import SignalContract

    if section.ch_names is None or section.sfreq is None:
        return None
    return SignalContract(ch_names=tuple(section.ch_names), sfreq=float(section.sfreq), n_times=n_times,
                          reference=section.reference or "unknown",
                          preprocessing_hash=section.preprocessing_hash or "")
