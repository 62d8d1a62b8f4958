"""Offline means offline: with a data folder given, loaders name the missing folder or files
and where they looked, never touch the network, never create the folder; corrupt window-store
manifests are errors naming the file.
"""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from reliability_helpers import snapshot

from neurosig.datasets import get_dataset
from neurosig.datasets.moabb import MissingDataError

# small MOABB datasets whose first file is fetched through pooch or a web API
DATASETS = ["PhysionetMI", "BNCI2014_001", "BNCI2014_004", "Zhou2016", "Cho2017", "Lee2019_MI",
            "Weibo2014", "Schirrmeister2017", "Kalunga2016", "BI2013a"]


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails the test (the loaders must not even try)."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.parametrize("name", DATASETS)
def test_missing_folder_refused_and_not_created(tmp_path, no_network, name):
    folder = tmp_path / "nonexistent" / "data"
    with pytest.raises(MissingDataError) as ei:
        get_dataset(name, path=folder)
    msg = str(ei.value)
    assert "'path' parameter" in msg and str(folder) in msg and "does not exist" in msg
    assert "download=True" in msg and "--download" in msg  # what is allowed instead
    assert not (tmp_path / "nonexistent").exists()  # nothing created on disk
    assert isinstance(ei.value, FileNotFoundError)


@pytest.mark.parametrize("name", DATASETS)
def test_missing_files_named_without_network(tmp_path, no_network, name):
    folder = tmp_path / "data"
    folder.mkdir()
    ds = get_dataset(name, path=folder)
    with pytest.raises(MissingDataError) as ei:
        ds.get_data(subjects=[ds.subject_list[0]])
    msg = str(ei.value)
    assert "Missing data files" in msg and str(folder) in msg and "Nothing was downloaded" in msg
    assert str(folder) in msg.split("):", 1)[1] or "(a network request)" in msg  # the file (or API) named
    assert "download=True" in msg
    assert _files(folder) == []  # no partial download left behind


def test_physionet_missing_run_named(shared_data, tmp_path, no_network):
    """Subject 1 present except run 8: the error names exactly that file."""
    root = tmp_path / "data"
    dest = root / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    dest.mkdir(parents=True)
    for f in (shared_data / "eegmmidb" / "S001").iterdir():
        if "R08" not in f.name:
            (dest / f.name).symlink_to(f)
    before = snapshot(root)
    ds = get_dataset("PhysionetMI", path=root, subjects=[1])
    with pytest.raises(MissingDataError) as ei:
        ds.get_data(subjects=[1])
    msg = str(ei.value)
    assert str(dest / "S001R08.edf") in msg and "physionet.org" in msg
    assert snapshot(root) == before


def test_neurosig_data_env_folder_missing(tmp_path, monkeypatch, no_network):
    folder = tmp_path / "env_data"
    monkeypatch.setenv("NEUROSIG_DATA", str(folder))
    with pytest.raises(MissingDataError) as ei:
        get_dataset("BNCI2014_001")
    assert str(folder) in str(ei.value) and not folder.exists()


@pytest.mark.parametrize("bad", ["yes", 1, "true"])
def test_download_of_wrong_type(tmp_path, bad):
    with pytest.raises(TypeError) as ei:
        get_dataset("BNCI2014_001", path=tmp_path, download=bad)
    assert "'download' parameter" in str(ei.value) and repr(bad) in str(ei.value)


def test_download_false_without_folder_is_offline(tmp_path, no_network, monkeypatch):
    monkeypatch.delenv("NEUROSIG_DATA", raising=False)
    monkeypatch.setenv("MNE_DATA", str(tmp_path))
    ds = get_dataset("BNCI2014_001", download=False)
    with pytest.raises(MissingDataError) as ei:
        ds.get_data(subjects=[1])
    assert "A01T.mat" in str(ei.value)


def test_benchmark_missing_data_path_before_work(tmp_path, no_network, monkeypatch):
    from neurosig.evaluation import bci

    calls = []
    monkeypatch.setattr(bci, "evaluate_task", lambda t: calls.append(t) or [])
    db = tmp_path / "r.sqlite"
    with pytest.raises(MissingDataError) as ei:
        bci.benchmark(datasets=["PhysionetMI"], subjects=[1], data_path=tmp_path / "nope", results=db,
                      out=None, verbose=False)
    assert str(tmp_path / "nope") in str(ei.value)
    assert calls == [] and not db.exists() and not (tmp_path / "nope").exists()


def test_cli_benchmark_data_path_missing(tmp_path, capsys, no_network):
    from neurosig.cli.main import main

    rc = main(["benchmark", "--datasets", "PhysionetMI", "--subjects", "1", "--data-path",
               str(tmp_path / "nonexistent"), "--results", str(tmp_path / "r.sqlite"), "--out",
               str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "--data-path" in err and str(tmp_path / "nonexistent") in err and "--download" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no folder, no store, no outputs


# -- the window store manifest ---------------------------------------------------------------
CORRUPT = {"garbage": b"{not json", "truncated": b'{"preprocessing_hash": "ab', "list": b"[1, 2]",
           "empty": b"", "binary": b"\x89PNG\r\n\x1a\n\x00\x00", "string": b'"store"'}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_manifest_named_on_read(tmp_path, kind):
    from neurosig.datasets.window_store import STORE_FILE, read_store_meta

    (tmp_path / STORE_FILE).write_bytes(CORRUPT[kind])
    with pytest.raises(ValueError) as ei:
        read_store_meta(tmp_path)
    msg = str(ei.value)
    assert str(tmp_path / STORE_FILE) in msg and "corrupt" in msg and "neurosig tuab prepare" in msg or \
        str(tmp_path / STORE_FILE) in msg and "expected a JSON object" in msg


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_manifest_refused_by_prepare_untouched(tmp_path, kind):
    import pandas as pd

    from neurosig.datasets.window_store import STORE_FILE, prepare_store

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / STORE_FILE).write_bytes(CORRUPT[kind])
    (cache / "earlier.txt").write_text(json.dumps({"kept": True}))
    before = snapshot(cache)
    index = pd.DataFrame(columns=["recording", "path", "subject", "label", "split", "status", "reason"])
    with pytest.raises(ValueError) as ei:
        prepare_store(index, cache, verbose=False)
    assert str(cache / STORE_FILE) in str(ei.value) and "overwrite" in str(ei.value)
    assert snapshot(cache) == before


def test_cli_tuab_info_corrupt_manifest(tmp_path, capsys):
    from neurosig.cli.main import main
    from neurosig.datasets.window_store import STORE_FILE

    (tmp_path / STORE_FILE).write_text("{oops")
    rc = main(["tuab", "info", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and str(tmp_path / STORE_FILE) in err and "Traceback" not in err
