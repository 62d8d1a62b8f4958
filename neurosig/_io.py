"""File helpers: atomic writes (temporary file in the same folder, then rename) and YAML reading."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any


class atomic_path:
    """Context manager yielding a temporary path next to ``path``; renamed onto it on success."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def read_yaml(path: str | os.PathLike, parameter: str, what: str, error: type = ValueError,
              mapping: bool = True) -> Any:
    """Read a YAML file with ``yaml.safe_load``, with errors that name the parameter and file.

    The one place in the package that parses YAML. A ``!!python/...`` (or any other
    non-data) tag is refused with a one-line error naming the file.

    Parameters
    ----------
    path : path-like
        The file.
    parameter : str
        Name of the argument that gave ``path`` (named when the file does not exist).
    what : str
        What the file is ("Pipeline file", "pretrain file", ...), starts the parse errors.
    error : type
        Exception class for unparsable content (a ``ValueError`` subclass).
    mapping : bool
        Require a mapping at the top level.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"Invalid value for the {parameter!r} parameter: {str(p)!r} does not exist.")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.constructor.ConstructorError as exc:
        tag = str(getattr(exc, "problem", "")).rpartition("tag ")[2].strip("'\" ") or "?"
        tag = tag.replace("tag:yaml.org,2002:", "!!")
        line = f" (line {exc.problem_mark.line + 1})" if getattr(exc, "problem_mark", None) else ""
        raise error(f"{what} {str(p)!r}: the YAML tag {tag!r}{line} is not allowed: files are read as plain "
                    "data (mappings, lists, strings, numbers), and Python tags would run code.") from None
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise error(f"{what} {str(p)!r}: not valid YAML: {detail}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{what} {str(p)!r}: not a text (UTF-8) file: {exc.reason} at byte {exc.start}.") from None
    if mapping and not isinstance(data, dict):
        raise error(f"{what} {str(p)!r}: expected a mapping (key: value) at the top level, "
                    f"got {type(data).__name__}.")
    return data


def _first_existing(p: Path) -> Path:
    """``p`` or its nearest existing ancestor."""
    q = p
    while not q.exists() and q != q.parent:
        q = q.parent
    return q


def _writable_folder(folder: Path) -> bool:
    """True when a file can be created in ``folder`` (a real probe: permissions, read-only mounts)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        fd, tmp = tempfile.mkstemp(prefix=".neurosig-probe.", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(tmp)
    return True


class OutputNotWritableError(PermissionError, ValueError):
    """An output path that cannot be written (a ``PermissionError`` and a ``ValueError``)."""


class OutputIsAFolderError(IsADirectoryError, ValueError):
    """An output file path that is an existing folder."""


class OutputIsAFileError(NotADirectoryError, ValueError):
    """An output folder path that is an existing file (or lies under one)."""


def check_output_path(name: str, path: Any, kind: str = "file", suffixes: tuple[str, ...] = ()) -> Path:
    """Check an output path before any work: right kind, and writable; create nothing.

    Parameters
    ----------
    name : str
        The parameter that gave ``path`` (``"out"``, ``"results"``, ``"output_dir"``...),
        named in the messages.
    path : str | Path
        A file (``kind="file"``) or a folder (``kind="dir"``) that will be written; it may
        not exist yet (its folders are then created by the writer).
    kind : {"file", "dir"}
        What ``path`` must be.
    suffixes : tuple of str
        Allowed file suffixes (``kind="file"``), e.g. ``(".sqlite", ".db")``; empty: any.

    Returns
    -------
    path : Path
        ``path`` with ``~`` expanded.

    Raises
    ------
    TypeError
        ``path`` is not a str or path.
    OutputIsAFolderError, OutputIsAFileError
        ``path`` (or one of its parents) exists with the wrong kind (subclasses of
        ``IsADirectoryError`` / ``NotADirectoryError`` and of ``ValueError``).
    OutputNotWritableError
        The file, or the folder that would hold it, cannot be written (a
        ``PermissionError`` and a ``ValueError``).
    """
    if kind not in ("file", "dir"):
        raise ValueError(f"Invalid value for the 'kind' parameter. Allowed values are 'file', 'dir', "
                         f"but got {kind!r} instead.")
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes) or str(path) == "":
        raise TypeError(f"The {name!r} parameter must be a non-empty str or path, but got "
                        f"{type(path).__name__} ({path!r:.80}) instead.")
    p = Path(path).expanduser()
    shown = str(p)
    want = "a file" if kind == "file" else "a folder"
    if kind == "file" and suffixes and p.suffix.lower() not in suffixes:
        raise ValueError(f"Invalid value for the {name!r} parameter. Allowed file suffixes are "
                         f"{', '.join(repr(s) for s in suffixes)}, but got {shown!r} instead.")
    if p.exists():
        if kind == "file" and p.is_dir():
            raise OutputIsAFolderError(f"Invalid value for the {name!r} parameter: {shown!r} is an existing "
                                    f"folder, but {want} is expected here; give a file path.")
        if kind == "dir" and not p.is_dir():
            raise OutputIsAFileError(f"Invalid value for the {name!r} parameter: {shown!r} is an existing "
                                     f"file, but {want} is expected here; give a folder path.")
    anchor = _first_existing(p if kind == "dir" else p.parent)
    if not anchor.is_dir():
        raise OutputIsAFileError(f"Invalid value for the {name!r} parameter: {shown!r} cannot be created "
                                 f"because {str(anchor)!r} is a file, not a folder.")
    folder = p if (kind == "dir" and p.is_dir()) else anchor
    if not _writable_folder(folder) or (p.is_file() and not os.access(p, os.W_OK)):
        where = shown if p.exists() else str(folder)
        raise OutputNotWritableError(f"Invalid value for the {name!r} parameter: {shown!r} is not writable "
                              f"({where!r} does not allow writing); expected {want} in a writable "
                              "folder. Nothing was computed.")
    return p


_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


def safe_filename(value: Any, name: str = "name", max_length: int = 120) -> str:
    """A name made safe to use as one file name inside an output folder.

    Characters other than letters, digits and ``._+=-`` become ``_`` (so ``/``, ``\\``
    and ``..`` can never leave the folder); leading dots are dropped (no hidden files).

    Parameters
    ----------
    value : str
        The name (e.g. a job or pipeline name).
    name : str
        The parameter that gave it, named in the message.
    max_length : int
        Longest result; longer names are cut.

    Raises
    ------
    ValueError
        Nothing usable is left (empty, only dots or separators).
    """
    if not isinstance(value, str):
        raise TypeError(f"The {name!r} parameter must be a str, but got {type(value).__name__} "
                        f"({value!r:.80}) instead.")
    out = _UNSAFE.sub("_", value.strip()).lstrip(".")[:max_length]
    if not out.strip("._-"):
        raise ValueError(f"Invalid value for the {name!r} parameter. Allowed are names with letters or "
                         f"digits (used as a file name), but got {value!r} instead.")
    return out


def check_inside(path: str | os.PathLike, folder: str | os.PathLike, name: str = "name") -> Path:
    """Return ``path`` if it resolves inside ``folder``, else raise ValueError naming ``name``."""
    p, root = Path(path).resolve(), Path(folder).resolve()
    if p != root and root not in p.parents:
        raise ValueError(f"Invalid value for the {name!r} parameter: it makes the file {str(p)!r}, "
                         f"outside the output folder {str(root)!r}; allowed are files inside it.")
    return Path(path)


class UnsafeCheckpointError(ValueError):
    """A torch file that only loads by running pickled code (refused, never executed)."""


def load_torch_file(path: str | os.PathLike, parameter: str = "checkpoint", what: str = "checkpoint") -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file and the safe formats.

    Parameters
    ----------
    path : path-like
        The file.
    parameter : str
        Argument that gave ``path`` (named when the file does not exist).
    what : str
        What the file should be ("checkpoint", "TFM tokenizer"...), in the messages.

    Raises
    ------
    FileNotFoundError
        No such file.
    UnsafeCheckpointError
        The file holds pickled Python objects (code would run to load them): refused.
    ValueError
        Any other unreadable content.
    """
    import pickle

    import torch

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"Invalid value for the {parameter!r} parameter: {str(p)!r} does not exist.")
    safe = ("neurosig torch files of tensors and plain values (written by neurosig's save functions and "
            "pretraining, read with weights_only=True) or '.safetensors' files")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsafeCheckpointError(
            f"The {what} {str(p)!r} holds Python objects that only load by running pickled code, so it "
            f"was refused and nothing in it was executed. Allowed are {safe}; torch said: {first[:300]}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any other failure is an unreadable file
        raise ValueError(f"The {what} {str(p)!r} could not be read as a torch file ({type(exc).__name__}: "
                         f"{str(exc).strip()[:300]}). Allowed are {safe}.") from None
