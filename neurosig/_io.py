"""File helpers: atomic writes (temporary file in the same folder, then rename) and YAML reading."""
from __future__ import annotations

import os
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
