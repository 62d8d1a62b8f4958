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
import random
import re
import sqlite3
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from .._io import atomic_path
from .._logging import get_logger
from ..contracts import stable_hash

logger = get_logger(__name__)

#: Version of the table layout, stored in ``neurosig_meta`` ("schema"). Version 1 lacked
#: the task columns; version 0 (no "schema" entry) also lacked ``status``/``error``.
SCHEMA_VERSION = 2
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
    ("task_id", "TEXT"),       # the job task that produced the row (indexed: resume lookups)
    ("task_rows", "INTEGER"),  # how many rows that task produces
)
COLUMN_NAMES = tuple(c for c, _ in COLUMNS)
JSON_COLUMNS = ("fold_scores", "params", "extra", "versions")
IDENTITY = ("kind", "dataset", "subject", "session", "pipeline", "pipeline_hash", "evaluation",
            "seed", "params")
#: columns every neurosig store had since its first version (without them a file is refused)
_CORE_COLUMNS = ("row_key", "kind")
#: seconds a connection waits for another process's lock, then retries of a locked write
BUSY_TIMEOUT_S = 60.0
_LOCK_RETRIES = 5


def make_key(kind: str, dataset: Any = None, subject: Any = None, session: Any = None,
             pipeline: Any = None, pipeline_hash: Any = None, evaluation: Any = None,
             seed: Any = None, params: dict | None = None) -> str:
    """Row key: hash of everything that changes a result.

    Parameters
    ----------
    kind : str
        Result kind (e.g. ``"bci"``, ``"fmri-decoding"``, ``"rsa"``).
    dataset : object, optional
        Dataset name.
    subject : object, optional
        Subject identifier (hashed as a string).
    session : object, optional
        Session identifier (hashed as a string).
    pipeline : object, optional
        Pipeline name.
    pipeline_hash : object, optional
        Hash of the pipeline definition.
    evaluation : object, optional
        Evaluation protocol name.
    seed : object, optional
        Random seed of the evaluation.
    params : dict | None, optional
        Any other settings that change the result (None is the same as ``{}``).
    """
    ident = dict(kind=kind, dataset=dataset, subject=None if subject is None else str(subject),
                 session=None if session is None else str(session), pipeline=pipeline,
                 pipeline_hash=pipeline_hash, evaluation=evaluation, seed=seed,
                 params=params or {})
    return stable_hash(ident, length=32)


def package_versions(names: Iterable[str] = ("neurosig", "numpy", "scipy", "scikit-learn", "mne",
                                              "moabb", "pyriemann", "torch")) -> dict:
    """Installed versions of the packages that shape a result (missing ones omitted).

    Parameters
    ----------
    names : iterable of str
        Distribution names to look up.
    """
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            pass
    return out


@lru_cache(maxsize=1)
def _default_versions() -> dict:
    """:func:`package_versions` of the default packages, read once per process."""
    return package_versions()


class NotAResultStoreError(ValueError):
    """Raised when a file exists but is not a neurosig results database."""


class ResultStoreVersionError(NotAResultStoreError):
    """Raised for a neurosig results database this version cannot use (newer, or not migrated)."""


def inspect_store(path: str | os.PathLike) -> dict:
    """Read-only look at an existing file: is it a neurosig store, of which schema version?

    Parameters
    ----------
    path : str | os.PathLike
        An existing file.

    Returns
    -------
    info : dict
        ``{"empty": bool, "version": int, "columns": list[str]}``.

    Raises
    ------
    NotAResultStoreError
        For anything that is not a neurosig store this version can use (a folder, a
        foreign or corrupt file, a newer schema). Nothing is written.
    """
    path = Path(path)
    shown = str(path)
    if path.is_dir():
        raise NotAResultStoreError(
            f"Invalid value for the 'results' parameter: {shown!r} is a folder, "
            "expected a neurosig SQLite results file (e.g. results.sqlite).")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        return {"empty": True, "version": SCHEMA_VERSION, "columns": []}
    if head != b"SQLite format 3\x00":
        raise NotAResultStoreError(
            f"Invalid value for the 'results' parameter: {shown!r} is not a SQLite "
            "database, so it is not a neurosig results store; choose another path.")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        meta = {}
        if "neurosig_meta" in tables:
            meta = dict(conn.execute("SELECT key, value FROM neurosig_meta").fetchall())
        columns = ([r[1] for r in conn.execute("PRAGMA table_info(results)")]
                   if "results" in tables else [])
    except sqlite3.DatabaseError as exc:
        raise NotAResultStoreError(
            f"Invalid value for the 'results' parameter: {shown!r} starts like a SQLite database "
            f"but cannot be read ({exc}); it was left untouched: choose another path.") from None
    finally:
        conn.close()
    if meta.get("magic") != _MAGIC:
        raise NotAResultStoreError(
            f"Invalid value for the 'results' parameter: {shown!r} is a SQLite "
            f"database but not a neurosig results store (tables: {sorted(tables)}); "
            "it was left untouched: choose another path.")
    raw = meta.get("schema", "0")
    try:
        version = int(str(raw))
    except ValueError:
        raise ResultStoreVersionError(
            f"Invalid value for the 'results' parameter: {shown!r} declares the schema version "
            f"{raw!r}; allowed are integers up to {SCHEMA_VERSION}. It was left untouched.") from None
    if version > SCHEMA_VERSION:
        raise ResultStoreVersionError(
            f"Invalid value for the 'results' parameter: {shown!r} was written by a newer neurosig "
            f"(schema version {version}; this neurosig reads versions 0 to {SCHEMA_VERSION}). "
            "It was left untouched: upgrade neurosig or choose another path.")
    missing = [c for c in _CORE_COLUMNS if columns and c not in columns]
    if missing:
        raise NotAResultStoreError(
            f"Invalid value for the 'results' parameter: {shown!r} has a results table without the "
            f"columns {missing} (found {columns}); it cannot be migrated and was left untouched.")
    return {"empty": False, "version": version, "columns": columns}


def _backup(path: Path, version: int) -> Path:
    """Copy a store (consistently, through SQLite's backup API) before it is migrated."""
    target = path.with_name(f"{path.name}.schema{version}.bak")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.schema{version}.{n}.bak")
        n += 1
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        with atomic_path(target) as tmp:
            dst = sqlite3.connect(str(tmp))
            try:
                src.backup(dst)
            finally:
                dst.close()
    finally:
        src.close()
    return target


def _retry_locked(fn, *args):
    """Run ``fn(*args)``; when SQLite still reports a lock after its busy timeout, retry."""
    for attempt in range(_LOCK_RETRIES + 1):
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or attempt == _LOCK_RETRIES:
                raise
            time.sleep(0.05 * 2 ** attempt + random.random() * 0.05)
    raise AssertionError("unreachable")


class ResultStore:
    """SQLite results store, safe for several writer processes (busy timeout, retry on lock).

    Parameters
    ----------
    path : str | Path
        Database file; created (with its folder) when absent. An existing file that is
        not a neurosig database, or one of a newer neurosig, is refused and never
        modified. A store of an older neurosig is migrated in place (in one transaction,
        its rows kept) after a copy is written next to it (``<name>.schema<N>.bak``);
        ``migrate=False`` refuses it instead.
    migrate : bool
        Allow migrating an older store.
    """

    def __init__(self, path: str | os.PathLike, migrate: bool = True):
        from .._io import check_output_path

        self.path = check_output_path("results", path, kind="file")
        self.migrated_from: int | None = None
        self.backup: Path | None = None
        info = inspect_store(self.path) if self.path.exists() else None
        if info is not None and not info["empty"] and info["version"] < SCHEMA_VERSION:
            if not migrate:
                raise ResultStoreVersionError(
                    f"Invalid value for the 'results' parameter: {str(self.path)!r} is a store of an "
                    f"older neurosig (schema version {info['version']}; this neurosig writes version "
                    f"{SCHEMA_VERSION}). It was left untouched: allow its migration (migrate=True; "
                    "a backup copy is written first) or choose another path.")
            self.backup = _backup(self.path, info["version"])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            _retry_locked(self._setup)
        except BaseException:
            self._conn.close()
            raise

    # -- setup -------------------------------------------------------------------------
    def _setup(self) -> None:
        """Create or migrate the tables in one write transaction, then switch to WAL."""
        cur = self._conn
        cur.execute("BEGIN IMMEDIATE")
        try:
            tables = {r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "neurosig_meta" in tables:  # another process may have migrated it meanwhile
                row = cur.execute("SELECT value FROM neurosig_meta WHERE key='schema'").fetchone()
                version = int(row[0]) if row else 0
            else:
                version = SCHEMA_VERSION
            cols = ", ".join(f"{c} {t}" for c, t in COLUMNS)
            cur.execute("CREATE TABLE IF NOT EXISTS neurosig_meta (key TEXT PRIMARY KEY, value TEXT)")
            cur.execute("INSERT OR IGNORE INTO neurosig_meta VALUES ('magic', ?)", (_MAGIC,))
            cur.execute(f"CREATE TABLE IF NOT EXISTS results ({cols})")
            if version < SCHEMA_VERSION:
                self._migrate(version)
            cur.execute("INSERT OR REPLACE INTO neurosig_meta VALUES ('schema', ?)",
                        (str(SCHEMA_VERSION),))
            cur.execute("CREATE INDEX IF NOT EXISTS results_kind ON results(kind)")
            cur.execute("CREATE INDEX IF NOT EXISTS results_task ON results(kind, task_id)")
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA temp_store=MEMORY")  # the wanted-task list of a lookup

    def _migrate(self, version: int) -> None:
        """Bring an older table to :data:`SCHEMA_VERSION` (inside the caller's transaction)."""
        have = {r[1] for r in self._conn.execute("PRAGMA table_info(results)")}
        for col, typ in COLUMNS:
            if col not in have:
                self._conn.execute(f"ALTER TABLE results ADD COLUMN {col} {typ}")
        if "status" not in have:  # version 0 kept only finished rows
            self._conn.execute("UPDATE results SET status='ok' WHERE status IS NULL")
        self._conn.execute(
            "UPDATE results SET task_id=json_extract(extra, '$.task_id'), "
            "task_rows=json_extract(extra, '$.task_rows') "
            "WHERE task_id IS NULL AND json_valid(extra) AND json_type(extra) = 'object'")
        self.migrated_from = version
        logger.warning("results store %s migrated from schema version %d to %d (backup: %s)",
                       self.path, version, SCHEMA_VERSION, self.backup)

    # -- rows --------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        """True if a row with this key exists (with status "ok" unless errors are kept).

        Parameters
        ----------
        key : str
            Row key (see :func:`make_key`).
        """
        row = self._conn.execute("SELECT status FROM results WHERE row_key=?", (key,)).fetchone()
        return row is not None and row[0] == "ok"

    def keys(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT row_key FROM results WHERE status='ok'")}

    def _values(self, row: dict) -> dict:
        """A row's column values, checked and serialised (key, status, task columns filled)."""
        unknown = set(row) - set(COLUMN_NAMES)
        if unknown:
            raise ValueError(f"Unknown result columns {sorted(unknown)}; allowed are {list(COLUMN_NAMES)}.")
        if not row.get("kind"):
            raise ValueError("A result row needs a 'kind' (e.g. 'bci', 'fmri-decoding', 'rsa').")
        values = dict(row)
        values.setdefault("row_key", make_key(**{k: values.get(k) for k in IDENTITY}))
        values.setdefault("status", "ok" if not values.get("error") else "error")
        if values.get("versions") is None:
            values["versions"] = _default_versions()
        values.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        extra = values.get("extra")
        if isinstance(extra, dict):
            values.setdefault("task_id", extra.get("task_id"))
            values.setdefault("task_rows", extra.get("task_rows"))
        for c in JSON_COLUMNS:
            if values.get(c) is not None and not isinstance(values[c], str):
                values[c] = json.dumps(values[c], sort_keys=True, default=_to_builtin)
        for c in ("subject", "session"):
            if values.get(c) is not None:
                values[c] = str(values[c])
        return values

    def _write(self, sql: str, rows: list) -> None:
        """One write transaction (taken at once: ``BEGIN IMMEDIATE``), retried when locked."""
        def attempt():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(sql, rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        _retry_locked(attempt)

    def add(self, row: dict) -> str:
        """Insert (or replace) one row and commit it at once. Returns its key.

        ``row`` holds column values; identity columns that are missing are None.
        ``row_key`` is computed from the identity when absent; ``task_id`` and
        ``task_rows`` from ``extra`` when it holds them.

        Parameters
        ----------
        row : dict
            Column name -> value; every name must be a result column.
        """
        return self.add_many([row])[0]

    def add_many(self, rows: Iterable[dict]) -> list[str]:
        """Insert (or replace) rows in one transaction (all or none). Returns their keys.

        Parameters
        ----------
        rows : iterable of dict
            Rows as for :meth:`add`.
        """
        values = [self._values(r) for r in rows]
        groups: dict[tuple, list] = {}
        for v in values:
            groups.setdefault(tuple(v), []).append([_to_builtin(v[c]) for c in v])
        for cols, batch in groups.items():
            self._write(f"INSERT OR REPLACE INTO results ({', '.join(cols)}) "
                        f"VALUES ({', '.join('?' * len(cols))})", batch)
        return [v["row_key"] for v in values]

    def delete(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        self._write("DELETE FROM results WHERE row_key=?", [(k,) for k in keys])
        return len(keys)

    def done_tasks(self, kind: str) -> dict[str, int]:
        """``task_id -> number of rows`` for the tasks of ``kind`` whose rows are all stored.

        Reads the task index only (not the rows): a resume lookup on a large store.

        Parameters
        ----------
        kind : str
            Result kind of the tasks.
        """
        rows = self._conn.execute(
            "SELECT task_id, COUNT(*), MIN(task_rows), MAX(task_rows) FROM results "
            "WHERE kind=? AND status='ok' AND task_id IS NOT NULL GROUP BY task_id",
            (kind,)).fetchall()
        return {t: n for t, n, lo, hi in rows if lo is not None and lo == hi == n}

    def to_frame(self, kind: str | None = None, parse_json: bool = True, include_errors: bool = False,
                 task_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Rows (of one ``kind``, of the given tasks) as a DataFrame, JSON columns decoded.

        Parameters
        ----------
        kind : str | None
            Keep only rows of this kind.
        parse_json : bool
            Decode the JSON columns (``fold_scores``, ``params``, ``extra``, ``versions``).
        include_errors : bool
            Keep rows whose status is not ``"ok"``.
        task_ids : iterable of str | None
            Keep only rows of these tasks (looked up through the task index).
        """
        sql = "SELECT * FROM results"
        conds, args = [], []
        if kind is not None:
            conds.append("kind=?")
            args.append(kind)
        if not include_errors:
            conds.append("status='ok'")
        if task_ids is not None:
            self._want(task_ids)
            conds.append("task_id IN (SELECT task_id FROM wanted_tasks)")
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        df = pd.read_sql_query(sql + " ORDER BY created, rowid", self._conn, params=args)
        if parse_json:
            for c in JSON_COLUMNS:
                df[c] = [json.loads(v) if isinstance(v, str) else v for v in df[c]]
        return df

    def summary_frame(self, kind: str, task_ids: Iterable[str] | None = None,
                      fields: Iterable[str] = ("p_value", "chance_level", "rejected_share")) -> pd.DataFrame:
        """The columns a summary needs, without decoding every row's JSON.

        Named columns (dataset, subject, session, pipeline, evaluation, metric, score,
        row_key, task_id) plus ``fields`` read from ``extra`` by SQLite itself; rows of
        ``kind`` with status "ok" (of ``task_ids`` when given).

        Parameters
        ----------
        kind : str
            Row kind (e.g. ``"bci"``).
        task_ids : iterable of str | None
            Keep only rows of these tasks.
        fields : iterable of str
            Keys of the ``extra`` JSON to return as columns (letters, digits, ``_``).
        """
        fields = list(fields)
        bad = [f for f in fields if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(f))]
        if bad:
            raise ValueError(f"Invalid value for the 'fields' parameter. Allowed are names of letters, digits "
                             f"and '_', but got {bad} instead.")
        cols = ("row_key", "task_id", "dataset", "subject", "session", "pipeline", "evaluation",
                "metric", "score")
        sel = ", ".join(cols + tuple(f"json_extract(extra, '$.{f}') AS {f}" for f in fields))
        sql, args = f"SELECT {sel} FROM results WHERE kind=? AND status='ok'", [kind]
        if task_ids is not None:
            self._want(task_ids)
            sql += " AND task_id IN (SELECT task_id FROM wanted_tasks)"
        cur = self._conn.execute(sql + " ORDER BY rowid", args)
        return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])

    def _want(self, task_ids: Iterable[str]) -> None:
        """Fill the temporary table of wanted task ids (joined through the task index)."""
        self._conn.execute("DROP TABLE IF EXISTS temp.wanted_tasks")
        self._conn.execute("CREATE TEMP TABLE wanted_tasks (task_id TEXT PRIMARY KEY)")
        self._conn.executemany("INSERT OR IGNORE INTO wanted_tasks VALUES (?)", [(t,) for t in task_ids])

    def __len__(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def export(self, path: str | os.PathLike, kind: str | None = None) -> Path:
        """Write rows to ``.csv`` or ``.parquet`` atomically (temporary file, then rename).

        Parameters
        ----------
        path : str | os.PathLike
            Output file; its suffix (``.csv`` or ``.parquet``) picks the format.
        kind : str | None, optional
            Export only the rows of this kind; None exports every kind.
        """
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
