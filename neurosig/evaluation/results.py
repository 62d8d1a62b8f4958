"""The results store: one SQLite file for every kind of result neurosig produces.

One row per result, committed the moment it is computed. Every row has a
``kind`` (``"bci"``, ``"fmri-decoding"``, ``"rsa"``, ``"foundation"``,
``"transfer"``, ...) and a ``row_key``: the :func:`~neurosig.contracts.stable_hash`
of everything that changes the result (kind, dataset, subject, session,
pipeline name and configuration hash, evaluation, seed, and the kind-specific
identity in ``params``: calibration settings, learning rates, ROI, target...).
A rerun skips keys already present, so a killed job resumes; a changed
pipeline file has a new hash, hence a new key, and is recomputed.

Columns follow MOABB's result table (score, time, samples, subject, session,
channels, n_sessions, dataset, pipeline) plus neurosig's own.
"""
from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from .._io import atomic_path
from ..contracts import stable_hash

SCHEMA_VERSION = "1"
_MAGIC = "neurosig-results"

#: (column, SQL type) in table order. JSON columns hold serialised dicts/lists.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("row_key", "TEXT PRIMARY KEY"),
    ("kind", "TEXT NOT NULL"),
    ("dataset", "TEXT"),
    ("subject", "TEXT"),
    ("session", "TEXT"),
    ("pipeline", "TEXT"),
    ("evaluation", "TEXT"),
    ("metric", "TEXT"),
    ("score", "REAL"),
    ("time", "REAL"),
    ("samples", "INTEGER"),
    ("channels", "INTEGER"),
    ("n_sessions", "INTEGER"),
    ("fold_scores", "TEXT"),   # JSON list
    ("seed", "INTEGER"),
    ("pipeline_hash", "TEXT"),
    ("params", "TEXT"),        # JSON dict: identity beyond the named columns (part of the key)
    ("extra", "TEXT"),         # JSON dict: outputs that are not identity (chance level, p-value, ...)
    ("versions", "TEXT"),      # JSON dict: package versions
    ("status", "TEXT"),        # "ok" or "error"
    ("error", "TEXT"),
    ("created", "TEXT"),
)
COLUMN_NAMES = tuple(c for c, _ in COLUMNS)
JSON_COLUMNS = ("fold_scores", "params", "extra", "versions")
IDENTITY = ("kind", "dataset", "subject", "session", "pipeline", "pipeline_hash", "evaluation",
            "seed", "params")


def make_key(kind: str, dataset: Any = None, subject: Any = None, session: Any = None,
             pipeline: Any = None, pipeline_hash: Any = None, evaluation: Any = None,
             seed: Any = None, params: dict | None = None) -> str:
    """Row key: hash of everything that changes a result."""
    ident = dict(kind=kind, dataset=dataset, subject=None if subject is None else str(subject),
                 session=None if session is None else str(session), pipeline=pipeline,
                 pipeline_hash=pipeline_hash, evaluation=evaluation, seed=seed,
                 params=params or {})
    return stable_hash(ident, length=32)


def package_versions(names: Iterable[str] = ("neurosig", "numpy", "scipy", "scikit-learn", "mne",
                                              "moabb", "pyriemann", "torch")) -> dict:
    """Installed versions of the packages that shape a result (missing ones omitted)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            pass
    return out


class NotAResultStoreError(ValueError):
    """Raised when a file exists but is not a neurosig results database."""


class ResultStore:
    """SQLite results store (single writer: the client process).

    Parameters
    ----------
    path : str | Path
        Database file; created (with its folder) when absent. An existing file
        that is not a neurosig database is refused, never modified.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()
        if self.path.exists():
            self._check_existing()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._create()

    # -- setup -------------------------------------------------------------------------
    def _check_existing(self) -> None:
        if self.path.is_dir():
            raise NotAResultStoreError(
                f"Invalid value for the 'results' parameter: {str(self.path)!r} is a folder, "
                "expected a neurosig SQLite results file (e.g. results.sqlite).")
        with open(self.path, "rb") as fh:
            head = fh.read(16)
        if head and head != b"SQLite format 3\x00":
            raise NotAResultStoreError(
                f"Invalid value for the 'results' parameter: {str(self.path)!r} is not a SQLite "
                "database, so it is not a neurosig results store; choose another path.")
        if not head:
            return
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            magic = None
            if "neurosig_meta" in tables:
                row = conn.execute("SELECT value FROM neurosig_meta WHERE key='magic'").fetchone()
                magic = row[0] if row else None
        finally:
            conn.close()
        if magic != _MAGIC:
            raise NotAResultStoreError(
                f"Invalid value for the 'results' parameter: {str(self.path)!r} is a SQLite "
                f"database but not a neurosig results store (tables: {sorted(tables)}); "
                "it was left untouched: choose another path.")

    def _create(self) -> None:
        cols = ", ".join(f"{c} {t}" for c, t in COLUMNS)
        with self._conn:
            self._conn.execute("CREATE TABLE IF NOT EXISTS neurosig_meta (key TEXT PRIMARY KEY, value TEXT)")
            self._conn.execute("INSERT OR IGNORE INTO neurosig_meta VALUES ('magic', ?)", (_MAGIC,))
            self._conn.execute("INSERT OR IGNORE INTO neurosig_meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            self._conn.execute(f"CREATE TABLE IF NOT EXISTS results ({cols})")
            self._conn.execute("CREATE INDEX IF NOT EXISTS results_kind ON results(kind)")

    # -- rows --------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        """True if a row with this key exists (with status "ok" unless errors are kept)."""
        row = self._conn.execute("SELECT status FROM results WHERE row_key=?", (key,)).fetchone()
        return row is not None and row[0] == "ok"

    def keys(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT row_key FROM results WHERE status='ok'")}

    def add(self, row: dict) -> str:
        """Insert (or replace) one row and commit it at once. Returns its key.

        ``row`` holds column values; identity columns that are missing are None.
        ``row_key`` is computed from the identity when absent.
        """
        unknown = set(row) - set(COLUMN_NAMES)
        if unknown:
            raise ValueError(f"Unknown result columns {sorted(unknown)}; allowed are {list(COLUMN_NAMES)}.")
        if not row.get("kind"):
            raise ValueError("A result row needs a 'kind' (e.g. 'bci', 'fmri-decoding', 'rsa').")
        values = dict(row)
        values.setdefault("row_key", make_key(**{k: values.get(k) for k in IDENTITY}))
        values.setdefault("status", "ok" if not values.get("error") else "error")
        values.setdefault("versions", package_versions())
        values.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        for c in JSON_COLUMNS:
            if values.get(c) is not None and not isinstance(values[c], str):
                values[c] = json.dumps(values[c], sort_keys=True, default=_to_builtin)
        for c in ("subject", "session"):
            if values.get(c) is not None:
                values[c] = str(values[c])
        cols = list(values)
        with self._conn:
            self._conn.execute(
                f"INSERT OR REPLACE INTO results ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [_to_builtin(values[c]) for c in cols])
        return values["row_key"]

    def delete(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        with self._conn:
            self._conn.executemany("DELETE FROM results WHERE row_key=?", [(k,) for k in keys])
        return len(keys)

    def to_frame(self, kind: str | None = None, parse_json: bool = True, include_errors: bool = False) -> pd.DataFrame:
        """All rows (of one ``kind``) as a DataFrame, JSON columns decoded."""
        sql = "SELECT * FROM results"
        conds, args = [], []
        if kind is not None:
            conds.append("kind=?")
            args.append(kind)
        if not include_errors:
            conds.append("status='ok'")
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        df = pd.read_sql_query(sql + " ORDER BY created, rowid", self._conn, params=args)
        if parse_json:
            for c in JSON_COLUMNS:
                df[c] = [json.loads(v) if isinstance(v, str) else v for v in df[c]]
        return df

    def __len__(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def export(self, path: str | os.PathLike, kind: str | None = None) -> Path:
        """Write rows to ``.csv`` or ``.parquet`` atomically (temporary file, then rename)."""
        path = Path(path)
        fmt = path.suffix.lower()
        if fmt not in (".csv", ".parquet"):
            raise ValueError(f"Invalid value for the 'path' parameter. Allowed suffixes are '.csv' "
                             f"and '.parquet', but got {path.name!r} instead.")
        df = self.to_frame(kind=kind, parse_json=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            if fmt == ".csv":
                df.to_csv(tmp, index=False)
            else:
                df.to_parquet(tmp, index=False)
        return path

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _to_builtin(v: Any) -> Any:
    import numpy as np

    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v
