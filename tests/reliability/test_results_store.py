"""Results store: refused files stay untouched, older stores migrate with a backup, many writers.

Every refusal asserts the exception type, that the message names the 'results'
parameter and the file, what is allowed and what was given, and that the file
(and its folder) are byte-for-byte what they were.
"""
from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from reliability_helpers import ROOT, cli_env, snapshot

from neurosig._io import OutputIsAFileError, OutputIsAFolderError, OutputNotWritableError
from neurosig.evaluation.results import (
    COLUMNS,
    SCHEMA_VERSION,
    NotAResultStoreError,
    ResultStore,
    ResultStoreVersionError,
)

# the table of a store written before the schema had a status (version 0) or task columns (1)
_V1_COLUMNS = [c for c in COLUMNS if c[0] not in ("task_id", "task_rows")]
_V0_COLUMNS = [c for c in _V1_COLUMNS if c[0] not in ("status", "error")]


def _old_store(path: Path, version: int | None, n_rows: int = 3, magic: str = "neurosig-results",
               columns=None) -> list[str]:
    """Write a store as an older neurosig did; return its row keys."""
    columns = columns or (_V0_COLUMNS if version in (None, 0) else _V1_COLUMNS)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE neurosig_meta (key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO neurosig_meta VALUES ('magic', ?)", (magic,))
    if version is not None:
        con.execute("INSERT INTO neurosig_meta VALUES ('schema', ?)", (str(version),))
    con.execute(f"CREATE TABLE results ({', '.join(f'{c} {t}' for c, t in columns)})")
    names = [c for c, _ in columns]
    keys = []
    for i in range(n_rows):
        row = {"row_key": f"k{i}", "kind": "bci", "score": 0.5 + i / 10, "subject": str(i + 1),
               "extra": json.dumps({"task_id": f"t{i}", "task_rows": 1})}
        if "status" in names:
            row["status"] = "ok"
        row = {k: v for k, v in row.items() if k in names}
        con.execute(f"INSERT INTO results ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()))
        keys.append(f"k{i}")
    con.commit()
    con.close()
    return keys


def _dump(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def _assert_refused(exc_info, path: Path, *words: str) -> None:
    msg = str(exc_info.value)
    assert "'results' parameter" in msg and str(path) in msg, msg
    for w in words:
        assert w in msg, (w, msg)


# -- files that are not neurosig stores ----------------------------------------------------
@pytest.mark.parametrize("content", [b"not a database at all\n", b"\x00" * 64, b"SQLite format 2\x00junk",
                                     b"PK\x03\x04 a zip file"], ids=["text", "zeros", "sqlite2", "zip"])
def test_non_sqlite_file_refused_untouched(tmp_path, content):
    db = tmp_path / "r.sqlite"
    db.write_bytes(content)
    before = snapshot(tmp_path)
    with pytest.raises(NotAResultStoreError) as ei:
        ResultStore(db)
    _assert_refused(ei, db, "not a SQLite database")
    assert snapshot(tmp_path) == before  # no -wal/-shm, no backup, same bytes


@pytest.mark.parametrize("tables", [["users"], ["results"], ["neurosig_meta"], []],
                         ids=["other-app", "results-only", "meta-without-magic", "no-tables"])
def test_foreign_sqlite_refused_untouched(tmp_path, tables):
    db = tmp_path / "r.sqlite"
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version=7")  # writes the header even without tables
    for t in tables:
        con.execute(f"CREATE TABLE {t} (key TEXT, value TEXT)")
    con.commit()
    con.close()
    before = snapshot(tmp_path)
    with pytest.raises(NotAResultStoreError) as ei:
        ResultStore(db)
    _assert_refused(ei, db, "not a neurosig results store", "left untouched")
    assert snapshot(tmp_path) == before


def test_wrong_magic_refused(tmp_path):
    db = tmp_path / "r.sqlite"
    _old_store(db, SCHEMA_VERSION, magic="someone-else")
    before = snapshot(tmp_path)
    with pytest.raises(NotAResultStoreError) as ei:
        ResultStore(db)
    _assert_refused(ei, db, "not a neurosig results store")
    assert snapshot(tmp_path) == before


def test_truncated_sqlite_refused(tmp_path):
    db = tmp_path / "r.sqlite"
    _old_store(db, 1)
    db.write_bytes(db.read_bytes()[:150])  # header intact, pages gone
    before = snapshot(tmp_path)
    with pytest.raises(NotAResultStoreError) as ei:
        ResultStore(db)
    _assert_refused(ei, db)
    assert snapshot(tmp_path) == before


# -- versions ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, SCHEMA_VERSION + 7, 999])
def test_newer_store_refused_untouched(tmp_path, version):
    db = tmp_path / "r.sqlite"
    _old_store(db, version, columns=list(COLUMNS))
    before = snapshot(tmp_path)
    with pytest.raises(ResultStoreVersionError) as ei:
        ResultStore(db)
    _assert_refused(ei, db, f"schema version {version}", f"0 to {SCHEMA_VERSION}", "newer neurosig")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("raw", ["two", "", "2.5", "v1"])
def test_unreadable_schema_version_refused(tmp_path, raw):
    db = tmp_path / "r.sqlite"
    _old_store(db, 1)
    con = sqlite3.connect(db)
    con.execute("UPDATE neurosig_meta SET value=? WHERE key='schema'", (raw,))
    con.commit()
    con.close()
    before = snapshot(tmp_path)
    with pytest.raises(ResultStoreVersionError) as ei:
        ResultStore(db)
    _assert_refused(ei, db, repr(raw), f"integers up to {SCHEMA_VERSION}")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("version", [None, 0, 1], ids=["no-version", "v0", "v1"])
def test_older_store_refused_without_migration(tmp_path, version):
    db = tmp_path / "r.sqlite"
    _old_store(db, version)
    before = snapshot(tmp_path)
    with pytest.raises(ResultStoreVersionError) as ei:
        ResultStore(db, migrate=False)
    _assert_refused(ei, db, "older neurosig", f"version {SCHEMA_VERSION}", "migrate=True")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("version", [None, 0, 1], ids=["no-version", "v0", "v1"])
def test_older_store_migrated_with_backup(tmp_path, version):
    db = tmp_path / "r.sqlite"
    keys = _old_store(db, version)
    original = _dump(db)
    with ResultStore(db) as st:
        assert st.migrated_from == (version or 0)
        assert st.backup is not None and _dump(st.backup) == original  # copy written first
        assert all(st.has(k) for k in keys)  # old rows kept, readable as finished rows
        assert st.done_tasks("bci") == {f"t{i}": 1 for i in range(3)}  # task index backfilled
        st.add({"kind": "bci", "score": 0.9, "subject": "9"})
        df = st.to_frame(kind="bci")
    assert len(df) == 4 and sorted(df["score"])[:3] == [0.5, 0.6, 0.7]
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM neurosig_meta WHERE key='schema'").fetchone()[0] == str(SCHEMA_VERSION)
    con.close()
    with ResultStore(db) as st:  # reopening migrates nothing more
        assert st.migrated_from is None and len(st) == 4


def test_old_store_without_core_columns_refused(tmp_path):
    db = tmp_path / "r.sqlite"
    _old_store(db, 0, columns=[("id", "INTEGER"), ("score", "REAL")])
    before = snapshot(tmp_path)
    with pytest.raises(NotAResultStoreError) as ei:
        ResultStore(db)
    _assert_refused(ei, db, "['row_key', 'kind']", "cannot be migrated")
    assert snapshot(tmp_path) == before


def test_failed_migration_rolls_back(tmp_path, monkeypatch):
    """A migration that fails half-way leaves the store as it was (one transaction)."""
    from neurosig.evaluation import results as res

    db = tmp_path / "r.sqlite"
    _old_store(db, 0)

    def broken(self, version):
        self._conn.execute("ALTER TABLE results ADD COLUMN status TEXT")
        raise RuntimeError("disk full")

    monkeypatch.setattr(res.ResultStore, "_migrate", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        ResultStore(db)
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(results)")]
    assert "status" not in cols and con.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 3
    con.close()


# -- paths ---------------------------------------------------------------------------------
def test_folder_as_results_refused(tmp_path):
    (tmp_path / "r.sqlite").mkdir()
    with pytest.raises(OutputIsAFolderError) as ei:
        ResultStore(tmp_path / "r.sqlite")
    _assert_refused(ei, tmp_path / "r.sqlite", "existing folder", "a file is expected")
    assert snapshot(tmp_path) == {}


def test_results_under_a_file_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    db = tmp_path / "afile" / "sub" / "r.sqlite"
    with pytest.raises(OutputIsAFileError) as ei:
        ResultStore(db)
    _assert_refused(ei, db, "is a file, not a folder")
    assert snapshot(tmp_path) == {"afile": snapshot(tmp_path)["afile"]}


def test_results_in_read_only_folder_refused(read_only_dir):
    db = read_only_dir / "neurosig_out" / "r.sqlite"
    with pytest.raises(OutputNotWritableError) as ei:
        ResultStore(db)
    _assert_refused(ei, db, "not writable", "writable folder")
    assert isinstance(ei.value, PermissionError) and isinstance(ei.value, ValueError)
    assert not db.parent.exists()


@pytest.mark.parametrize("bad", [3, None, b"r.sqlite", ""])
def test_results_of_wrong_type_refused(tmp_path, bad):
    with pytest.raises(TypeError) as ei:
        ResultStore(bad)
    assert "'results' parameter" in str(ei.value) and "str or path" in str(ei.value)


# -- rows ----------------------------------------------------------------------------------
@pytest.mark.parametrize("row,words", [
    ({"kind": "bci", "scor": 1.0}, ["Unknown result columns ['scor']", "allowed are"]),
    ({"score": 1.0}, ["needs a 'kind'"]),
    ({"kind": "", "score": 1.0}, ["needs a 'kind'"]),
])
def test_bad_rows_refused_store_untouched(tmp_path, row, words):
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as st:
        st.add({"kind": "bci", "score": 0.7})
        before = st.to_frame()
        with pytest.raises(ValueError) as ei:
            st.add_many([{"kind": "bci", "score": 0.1, "subject": "2"}, row])
        for w in words:
            assert w in str(ei.value)
        after = st.to_frame()
    assert after.equals(before)  # all or nothing: the good row of the batch was not written


@pytest.mark.parametrize("name", ["results.txt", "results.json", "results"])
def test_export_bad_suffix_refused(tmp_path, name):
    with ResultStore(tmp_path / "r.sqlite") as st:
        st.add({"kind": "bci", "score": 0.7})
        with pytest.raises(ValueError) as ei:
            st.export(tmp_path / name)
    assert "'path' parameter" in str(ei.value) and "'.csv'" in str(ei.value) and name in str(ei.value)
    assert not (tmp_path / name).exists()


def test_done_tasks_counts_only_complete_tasks(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as st:
        st.add_many([{"kind": "bci", "subject": str(s), "extra": {"task_id": "a", "task_rows": 2}}
                     for s in (1, 2)])
        st.add({"kind": "bci", "subject": "3", "extra": {"task_id": "b", "task_rows": 2}})  # 1 of 2
        st.add({"kind": "bci", "subject": "4", "extra": {"task_id": "c", "task_rows": 1},
                "error": "boom"})  # failed rows never count as done
        assert st.done_tasks("bci") == {"a": 2}
        assert st.done_tasks("rsa") == {}
        assert set(st.to_frame(task_ids=["a", "b"])["subject"]) == {"1", "2", "3"}


# -- several writers -----------------------------------------------------------------------
def _writer(db: str, wid: int, n: int) -> None:
    with ResultStore(db) as st:
        for i in range(n):
            st.add({"kind": "bci", "subject": str(wid), "session": str(i), "score": float(i),
                    "extra": {"task_id": f"{wid}-{i}", "task_rows": 1}})


def test_concurrent_writers_every_row_once(tmp_path):
    """Four processes create and write one new store at once: no lock error, no row lost."""
    db = tmp_path / "r.sqlite"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(db), w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with ResultStore(db) as st:
        df = st.to_frame()
        assert len(df) == 160 and df["row_key"].is_unique
        assert len(st.done_tasks("bci")) == 160


@pytest.mark.slow
def test_two_benchmark_processes_share_one_store(tmp_path):
    """Two ``neurosig benchmark`` processes on one store both finish; every row is there once."""
    import subprocess
    import sys

    import pandas as pd


    pipe = str(ROOT / "pipelines" / "default" / "csp_lda.yml")
    args = ["-q", "benchmark", "--subjects", "1", "2", "--pipelines", pipe, "--n-permutations", "0",
            "--no-plots", "--results", "r.sqlite"]
    procs = [subprocess.Popen([sys.executable, "-m", "neurosig.cli.main", *args, "--out", f"out{i}"],
                              cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    with ResultStore(tmp_path / "r.sqlite") as st:
        df = st.to_frame(kind="bci", include_errors=True)
    assert (df["status"] == "ok").all()
    assert not df.duplicated(["dataset", "subject", "session", "pipeline", "evaluation"]).any()
    assert len(df) == df["row_key"].nunique() and set(df["subject"]) == {"1", "2"}
    # each process's export holds the full set, the same rows once
    for i in range(2):
        exp = pd.read_csv(tmp_path / f"out{i}" / "results.csv")
        assert sorted(exp["row_key"]) == sorted(df["row_key"])


def test_results_store_benchmark_quick(capsys):
    """The scale benchmark runs (small size) and checks its two sides agree before its headline."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("results_store_bench", ROOT / "benchmarks" / "results_store.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--quick", "--rows", "400", "--repeat", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert "same finished tasks (200): True" in "\n".join(lines)
    assert lines[-1].startswith("results store (400 rows): resume lookup") and "identical results" in lines[-1]
