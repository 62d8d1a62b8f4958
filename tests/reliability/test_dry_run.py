"""``--dry-run`` opens the data a job names and refuses what a run would fail on or misuse.

Each case writes a valid job file next to bad data and runs ``pretrain`` / ``finetune`` both
with ``--dry-run`` and for real (NEUROSIG_DEBUG=1 returns the exception): both refuse with a
message naming the file, the key, what is allowed and what was given, and nothing is written.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from neurosig._schema import SchemaError
from neurosig.cli.main import main

CH = ["C3", "Cz", "C4", "Pz", "O1", "O2", "F3", "F4"]


def _x(n=12, c=8, t=64, seed=0):
    return np.random.default_rng(seed).standard_normal((n, c, t)).astype("float32")


def _nan(X):
    X = X.copy()
    X[3, 2, 10] = np.nan
    return X


def _inf(X):
    X = X.copy()
    X[0, 0, 0] = np.inf
    return X


# (id, X or None, y or None, data-section changes, key named, allowed fragment, given fragment)
PRETRAIN_DATA = [
    ("nan", _nan(_x()), None, {}, "'X'", "finite values", "NaN or inf in 1 window(s), first [3]"),
    ("inf", _inf(_x()), None, {}, "'X'", "finite values", "first [0]"),
    ("zero-windows", _x(n=0), None, {}, "'X'", "at least one window", "shape (0, 8, 64)"),
    ("zero-samples", _x(t=0), None, {}, "'X'", "at least one window, channel and sample", "shape (12, 8, 0)"),
    ("two-d", _x()[:, 0, :], None, {}, "'X'", "(n_windows, n_channels, n_times)", "shape (12, 64)"),
    ("four-d", _x()[..., None], None, {}, "'X'", "(n_windows, n_channels, n_times)", "shape (12, 8, 64, 1)"),
    ("4ch-8names", _x(c=4), None, {}, "'data.ch_names'", "4 names (one per channel of X)", "8 names"),
    ("8ch-4names", _x(), None, {"ch_names": CH[:4]}, "'data.ch_names'", "8 names", "4 names"),
    ("duplicate-names", _x(), None, {"ch_names": CH[:7] + ["C3"]}, "'data.ch_names'", "unique channel names",
     "duplicates ['C3']"),
    ("strings", np.array([[["a"] * 64] * 8] * 2), None, {}, "'X'", "real numbers", "dtype <U1"),
    ("complex", _x().astype("complex64"), None, {}, "'X'", "real numbers", "dtype complex64"),
]


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIG_DEBUG", "1")
    (tmp_path / "data").mkdir()
    return tmp_path


def _job(folder: Path, command: str, data_file: str, changes: dict) -> Path:
    data = {"path": data_file, "ch_names": CH, "sfreq": 128, **changes}
    if command == "pretrain":
        doc = {"data": data, "encoder": {"arch": "bimamba", "size": "nano"}, "training": {"max_epochs": 1},
               "output": "runs/pre"}
    else:
        doc = {"data": data, "model": {"max_epochs": 1}, "seeds": [0], "output": "runs/ft.json",
               "results_db": "runs/r.sqlite"}
    path = folder / f"{command}.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _refused_twice(folder: Path, command: str, job: Path, data_path: Path, key, allowed, given):
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    for extra in (["--dry-run"], []):
        with pytest.raises(SchemaError) as info:
            main(["-q", command, str(job), *extra])
        msg = str(info.value)
        assert str(data_path) in msg or str(job) in msg, msg
        for part in (key, allowed, given):
            assert part in msg, (part, msg)
        assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


@pytest.mark.parametrize("X, changes, key, allowed, given",
                         [(c[1], c[3], c[4], c[5], c[6]) for c in PRETRAIN_DATA], ids=[c[0] for c in PRETRAIN_DATA])
def test_pretrain_dry_run_checks_data(folder, X, changes, key, allowed, given):
    np.save(folder / "data" / "w.npy", X)
    job = _job(folder, "pretrain", "data/w.npy", changes)
    _refused_twice(folder, "pretrain", job, folder / "data" / "w.npy", key, allowed, given)


FINETUNE_DATA = PRETRAIN_DATA[:4] + PRETRAIN_DATA[6:9] + [
    ("no-labels", _x(), "absent", {}, "'data.y_key'", "the name of a label array", "'y'"),
    ("labels-short", _x(), np.array([0, 1] * 5), {}, "'y'", "one label per window (12)", "shape (10,)"),
    ("labels-2d", _x(), np.zeros((12, 2)), {}, "'y'", "one label per window (12)", "shape (12, 2)"),
    ("one-class", _x(), np.zeros(12), {}, "'y'", "at least 2 classes with 2 windows each", "{0.0: 12}"),
    ("singleton-class", _x(), np.array([0] * 11 + [1]), {}, "'y'", "at least 2 classes with 2 windows each",
     "1: 1"),
    ("x-key", _x(), np.array([0, 1] * 6), {"x_key": "windows"}, "'data.x_key'", "array names in the file",
     "'windows'"),
]


@pytest.mark.parametrize("X, y, changes, key, allowed, given",
                         [(c[1], c[2], c[3], c[4], c[5], c[6]) for c in FINETUNE_DATA],
                         ids=[c[0] for c in FINETUNE_DATA])
def test_finetune_dry_run_checks_data(folder, X, y, changes, key, allowed, given):
    arrays = {"X": X}
    if y is None:
        y = np.array([0, 1] * (len(X) // 2)) if len(X) else np.zeros(0)
    if not isinstance(y, str):
        arrays["y"] = y
    np.savez(folder / "data" / "l.npz", **arrays)
    job = _job(folder, "finetune", "data/l.npz", changes)
    _refused_twice(folder, "finetune", job, folder / "data" / "l.npz", key, allowed, given)


def test_unreadable_data_files(folder):
    np.save(folder / "data" / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    job = _job(folder, "pretrain", "data/obj.npy", {})
    _refused_twice(folder, "pretrain", job, folder / "data" / "obj.npy", "'data.path'",
                   "read without pickle", "numpy cannot read")
    (folder / "data" / "junk.npz").write_bytes(b"not a zip file at all")
    job = _job(folder, "finetune", "data/junk.npz", {})
    _refused_twice(folder, "finetune", job, folder / "data" / "junk.npz", "'data.path'",
                   "read without pickle", "numpy cannot read")


def test_dry_run_says_valid_only_for_good_data(folder, capsys):
    np.save(folder / "data" / "w.npy", _x())
    job = _job(folder, "pretrain", "data/w.npy", {})
    assert main(["pretrain", str(job), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "is valid: 12 windows (8, 64) (opened and checked: finite, channel names match)" in out
    assert not (folder / "runs").exists()


# decode-fmri: --check (and the real run) open the feature files and the NSD root
FEATURES = [
    ("nan-rows", np.array([[1.0, np.nan], [2.0, 3.0], [np.inf, 1.0]]), "finite feature values",
     "NaN or inf in 2 row(s), first [0, 2]"),
    ("one-d", np.arange(5.0), "non-empty 2-D feature arrays", "shape (5,)"),
    ("empty", np.zeros((0, 3)), "non-empty 2-D feature arrays", "shape (0, 3)"),
    ("three-d", np.zeros((4, 2, 2)), "non-empty 2-D feature arrays", "shape (4, 2, 2)"),
]


def _fmri_job(folder: Path, root: Path) -> Path:
    doc = {"dataset": {"type": "nsd", "root": str(root)}, "rois": ["prf-visualrois:V1v"],
           "targets": [{"type": "features", "path": "f.npy"}], "models": ["ridge"], "results": "out/r.sqlite",
           "verbose": False}
    path = folder / "job.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("F, allowed, given", [c[1:] for c in FEATURES], ids=[c[0] for c in FEATURES])
def test_decode_fmri_check_opens_features(folder, F, allowed, given):
    (folder / "nsd").mkdir()
    np.save(folder / "f.npy", F)
    job = _fmri_job(folder, folder / "nsd")
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    for extra in (["--check"], []):
        with pytest.raises(SchemaError) as info:
            main(["-q", "decode-fmri", str(job), *extra])
        msg = str(info.value)
        for part in (str(job), "'targets[0].path'", allowed, given):
            assert part in msg, (part, msg)
        assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


def test_decode_fmri_check_needs_the_nsd_root(folder):
    np.save(folder / "f.npy", np.ones((3, 2)))
    job = _fmri_job(folder, folder / "missing_nsd")
    with pytest.raises(FileNotFoundError, match=r"'dataset.root'.*missing_nsd"):
        main(["-q", "decode-fmri", str(job), "--check"])
    assert not (folder / "out").exists()
