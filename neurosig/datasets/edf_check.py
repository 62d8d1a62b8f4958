"""Cheap integrity check of an EDF file from its fixed-size header (no signal data read).

MNE reads a truncated EDF without error (it warns and returns fewer samples),
so a loader that must reject truncated files checks the size the header
declares against the size on disk.
"""
from __future__ import annotations

import os
from pathlib import Path


def edf_problem(path: str | os.PathLike) -> str | None:
    """Why an EDF file cannot be trusted, or None when its header and size agree.

    Reads the 256-byte main header and the per-signal "samples per record"
    fields (EDF specification: 16-bit samples, header of 256 x (n_signals + 1)
    bytes, then n_records records).

    Parameters
    ----------
    path : path-like
        EDF file.

    Returns
    -------
    problem : str | None
        A one-line reason (``"truncated EDF: ..."``, ``"not an EDF file: ..."``) or None.
    """
    path = Path(path)
    size = path.stat().st_size
    if size < 256:
        return f"not an EDF file: {size} bytes, shorter than the 256-byte EDF header"
    with open(path, "rb") as f:
        head = f.read(256)
        try:
            version = head[0:8].decode("ascii").strip()
            header_bytes = int(head[184:192].decode("ascii").strip())
            n_records = int(head[236:244].decode("ascii").strip())
            n_signals = int(head[252:256].decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            return "not an EDF file: the header fields are not ASCII numbers"
        if version != "0" or n_signals <= 0 or header_bytes != 256 * (n_signals + 1):
            return (f"not an EDF file: version {version!r}, {n_signals} signals, "
                    f"header of {header_bytes} bytes")
        if size < header_bytes:
            return f"truncated EDF: {size} bytes, shorter than its {header_bytes}-byte header"
        f.seek(256 + 216 * n_signals)
        field = f.read(8 * n_signals)
    try:
        per_record = sum(int(field[8 * i: 8 * i + 8].decode("ascii").strip()) for i in range(n_signals))
    except (UnicodeDecodeError, ValueError):
        return "not an EDF file: unreadable 'samples per record' fields"
    if n_records < 0:  # -1: recording not closed properly; MNE infers the count from the size
        return None
    expected = header_bytes + n_records * per_record * 2
    if size < expected:
        return (f"truncated EDF: the header declares {n_records} data records ({expected} bytes) "
                f"but the file holds {size} bytes")
    return None
