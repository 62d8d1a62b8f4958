"""Job-file helpers shared by ``neurosig pretrain`` and ``neurosig finetune``: YAML, schema, data."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def read_job(path: str, schema: dict[str, Any], command: str) -> dict:
    """Read a YAML job file with ``yaml.safe_load`` and check it against ``schema``.

    ``schema`` maps section -> (required, allowed keys or None for a scalar). Unknown
    sections or keys are refused, naming the file and the allowed keys.
    """
    from .._io import read_yaml

    p = Path(path)
    data = read_yaml(p, "config", f"{command} file", mapping=False)
    if not isinstance(data, dict):
        raise ValueError(f"{command} file {str(p)!r}: expected a mapping with sections {sorted(schema)}.")
    unknown = sorted(set(data) - set(schema))
    if unknown:
        raise ValueError(f"{command} file {str(p)!r}: unknown keys {unknown}; allowed keys are {sorted(schema)}.")
    for section, (required, keys) in schema.items():
        if section not in data:
            if required:
                raise ValueError(f"{command} file {str(p)!r}: missing the required key {section!r}.")
            continue
        if keys is None:
            continue
        if not isinstance(data[section], dict):
            raise ValueError(f"{command} file {str(p)!r}: {section!r} must be a mapping with keys "
                             f"from {sorted(keys)}.")
        bad = sorted(set(data[section]) - set(keys))
        if bad:
            raise ValueError(f"{command} file {str(p)!r}: unknown keys {bad} in {section!r}; allowed keys "
                             f"are {sorted(keys)}.")
    data["_base"] = str(p.parent)
    return data


DATA_KEYS = {"path", "x_key", "y_key", "ch_names", "sfreq", "reference", "preprocessing_hash"}


def load_arrays(section: dict, base: str, need_y: bool):
    """X (n, C, T) float32 and y (or None) from a ``.npy`` (X only) or ``.npz`` file."""
    import numpy as np

    if "path" not in section:
        raise ValueError("The 'data' section needs a 'path' to a .npy (windows) or .npz (X and y) file.")
    p = Path(section["path"])
    if not p.is_absolute():
        p = Path(base) / p
    if not p.is_file():
        raise FileNotFoundError(f"Invalid value for the 'data.path' parameter: {str(p)!r} does not exist.")
    if p.suffix == ".npy":
        X, y = np.load(p, allow_pickle=False), None
    elif p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            xk, yk = section.get("x_key", "X"), section.get("y_key", "y")
            if xk not in z:
                raise KeyError(f"{str(p)!r} has no array {xk!r} (arrays: {sorted(z.files)}).")
            X = z[xk]
            y = z[yk] if yk in z else None
    else:
        raise ValueError(f"Invalid value for the 'data.path' parameter: allowed file types are .npy and "
                         f".npz, but got {str(p)!r}.")
    if X.ndim != 3:
        raise ValueError(f"{str(p)!r}: windows must have shape (n_windows, n_channels, n_times), got {X.shape}.")
    if need_y and y is None:
        raise ValueError(f"{str(p)!r}: fine-tuning needs labels: an .npz with arrays X and y.")
    return X.astype("float32", copy=False), y


def contract_of(section: dict, n_times: int):
    from neurosig.contracts import SignalContract

    if section.get("ch_names") is None or section.get("sfreq") is None:
        return None
    return SignalContract(ch_names=tuple(section["ch_names"]), sfreq=float(section["sfreq"]), n_times=n_times,
                          reference=section.get("reference", "unknown"),
                          preprocessing_hash=section.get("preprocessing_hash", ""))
