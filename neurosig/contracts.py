"""Signal contract: what a store, a tokenizer or a model expects of its input.

A prepared window store records its contract (channel names and order,
reference or bipolar montage, sampling rate, window length, preprocessing hash);
a model or tokenizer trained on it keeps a copy and refuses input that does not
match, instead of silently padding or reordering channels.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hash of a JSON-serialisable object, independent of dict order and of object reprs.

    Parameters
    ----------
    obj : object
        JSON-serialisable object (dicts, lists, numbers, str); numpy scalars and arrays
        and sets are converted to plain numbers and sorted lists before hashing.
    length : int
        Number of hexadecimal characters of the SHA-256 digest to keep.

    Returns
    -------
    str
        The first ``length`` hex characters of the digest.
    """
    payload = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serialisable for hashing: {o!r:.80}")


@dataclass(frozen=True)
class SignalContract:
    """The shape and meaning of a windowed multichannel signal.

    Attributes
    ----------
    ch_names : tuple of str
        Channel names, in the order of the channel axis.
    sfreq : float
        Sampling rate in Hz.
    n_times : int
        Samples per window.
    reference : str
        ``"average"``, ``"linked-ears"``, ``"bipolar-tcp"``, ...
    preprocessing_hash : str
        :func:`stable_hash` of the preprocessing configuration ("" when unknown).
    """

    ch_names: tuple[str, ...]
    sfreq: float
    n_times: int
    reference: str = "unknown"
    preprocessing_hash: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ch_names"] = list(self.ch_names)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SignalContract:
        d = dict(d)
        d["ch_names"] = tuple(d["ch_names"])
        return cls(**d)

    def check(self, other: SignalContract, what: str = "input") -> None:
        """Raise ValueError naming every field of ``other`` that differs from this contract.

        Parameters
        ----------
        other : SignalContract
            Contract of the data being checked.
        what : str
            What the data is, used in the error message ("The {what} does not match ...").
        """
        problems = []
        if tuple(other.ch_names) != tuple(self.ch_names):
            missing = [c for c in self.ch_names if c not in other.ch_names]
            extra = [c for c in other.ch_names if c not in self.ch_names]
            if missing or extra:
                problems.append(f"channels differ (missing {missing}, unexpected {extra})")
            else:
                problems.append("channels are in a different order")
        if abs(float(other.sfreq) - float(self.sfreq)) > 1e-6:
            problems.append(f"sampling rate {other.sfreq} Hz instead of {self.sfreq} Hz")
        if int(other.n_times) != int(self.n_times):
            problems.append(f"{other.n_times} samples per window instead of {self.n_times}")
        if other.reference != self.reference:
            problems.append(f"reference {other.reference!r} instead of {self.reference!r}")
        if self.preprocessing_hash and other.preprocessing_hash and \
                other.preprocessing_hash != self.preprocessing_hash:
            problems.append(f"preprocessing hash {other.preprocessing_hash} instead of "
                            f"{self.preprocessing_hash}")
        if problems:
            raise ValueError(f"The {what} does not match the expected signal contract: "
                             + "; ".join(problems) + ".")
