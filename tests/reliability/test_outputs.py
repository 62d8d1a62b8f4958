"""Outputs checked before any work, and names kept inside their output folder.

Each case asserts the exception type, that the message names the parameter and the given
path with what is expected, that nothing was computed or created, and that earlier results
are untouched.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from reliability_helpers import snapshot

from neurosig._io import (
    OutputIsAFileError,
    OutputIsAFolderError,
    OutputNotWritableError,
    check_inside,
    check_output_path,
    safe_filename,
)
from neurosig.evaluation import bci
from neurosig.evaluation.results import ResultStore


# -- the helper ----------------------------------------------------------------------------
def test_file_path_that_is_a_folder(tmp_path):
    (tmp_path / "x.csv").mkdir()
    with pytest.raises(OutputIsAFolderError) as ei:
        check_output_path("out", tmp_path / "x.csv", kind="file")
    msg = str(ei.value)
    assert "'out' parameter" in msg and str(tmp_path / "x.csv") in msg and "a file is expected" in msg
    assert isinstance(ei.value, IsADirectoryError) and isinstance(ei.value, ValueError)


def test_folder_path_that_is_a_file(tmp_path):
    (tmp_path / "o").write_text("keep me")
    with pytest.raises(OutputIsAFileError) as ei:
        check_output_path("output_dir", tmp_path / "o", kind="dir")
    msg = str(ei.value)
    assert "'output_dir' parameter" in msg and str(tmp_path / "o") in msg and "a folder is expected" in msg
    assert (tmp_path / "o").read_text() == "keep me"


@pytest.mark.parametrize("kind", ["file", "dir"])
@pytest.mark.parametrize("depth", [1, 3])
def test_path_below_a_file(tmp_path, kind, depth):
    (tmp_path / "f").write_text("x")
    target = tmp_path.joinpath("f", *(["sub"] * depth))
    before = snapshot(tmp_path)
    with pytest.raises(OutputIsAFileError) as ei:
        check_output_path("out", target, kind=kind)
    assert "'out' parameter" in str(ei.value) and str(tmp_path / "f") in str(ei.value)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["file", "dir"])
@pytest.mark.parametrize("sub", ["", "a", "a/b/c"])
def test_read_only_folder(read_only_dir, kind, sub):
    target = read_only_dir / sub / "neurosig_out" if sub else read_only_dir / "neurosig_out"
    with pytest.raises(OutputNotWritableError) as ei:
        check_output_path("results", target, kind=kind)
    msg = str(ei.value)
    assert "'results' parameter" in msg and str(target) in msg and "not writable" in msg
    assert "writable folder" in msg and "Nothing was computed" in msg


@pytest.mark.parametrize("bad", [None, 3, 2.5, b"out", "", ["out"]])
def test_wrong_type(bad):
    with pytest.raises(TypeError) as ei:
        check_output_path("out", bad)
    assert "'out' parameter" in str(ei.value) and "str or path" in str(ei.value)
    assert type(bad).__name__ in str(ei.value)


@pytest.mark.parametrize("name", ["results.txt", "results", "r.sqlite.bak"])
def test_wrong_suffix(tmp_path, name):
    with pytest.raises(ValueError) as ei:
        check_output_path("results", tmp_path / name, kind="file", suffixes=(".sqlite", ".db"))
    assert "'results' parameter" in str(ei.value) and "'.sqlite'" in str(ei.value) and name in str(ei.value)


def test_wrong_kind_argument(tmp_path):
    with pytest.raises(ValueError, match=r"'kind' parameter.*'file', 'dir'.*'folder'"):
        check_output_path("out", tmp_path, kind="folder")


def test_good_paths_create_nothing(tmp_path):
    assert check_output_path("out", tmp_path / "a" / "b", kind="dir") == tmp_path / "a" / "b"
    assert check_output_path("results", tmp_path / "c" / "r.sqlite") == tmp_path / "c" / "r.sqlite"
    assert list(tmp_path.iterdir()) == []


# -- file names ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../../elsewhere/x", "/etc/passwd", "a/../../b", "..\\..\\x",
                                  "~/x", "x\x00y", "a b/c", ".hidden", "....//....//x", "C:\\x"])
def test_unsafe_names_stay_inside(tmp_path, name):
    safe = safe_filename(name, "name")
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".") and "\x00" not in safe
    path = check_inside(tmp_path / f"{safe}.csv", tmp_path, "name")
    assert path.resolve().parent == tmp_path.resolve()


@pytest.mark.parametrize("name", ["", "..", ".", "/", "...", "  ", "//..//", "\\"])
def test_names_without_letters_refused(name):
    with pytest.raises(ValueError) as ei:
        safe_filename(name, "name")
    assert "'name' parameter" in str(ei.value) and repr(name) in str(ei.value)
    assert "letters or digits" in str(ei.value)


@pytest.mark.parametrize("bad", [None, 3, ["x"]])
def test_name_of_wrong_type(bad):
    with pytest.raises(TypeError, match=r"'job\.name' parameter must be a str"):
        safe_filename(bad, "job.name")


@pytest.mark.parametrize("rel", ["../x.csv", "../../etc/x", "/tmp/elsewhere.csv"])
def test_check_inside_refuses_escape(tmp_path, rel):
    out = tmp_path / "out"
    with pytest.raises(ValueError) as ei:
        check_inside(out / rel, out, "name")
    assert "'name' parameter" in str(ei.value) and str(out.resolve()) in str(ei.value)


def test_good_names_unchanged():
    assert safe_filename("CSP+LDA_v2-final.1", "name") == "CSP+LDA_v2-final.1"


# -- the benchmark entry -------------------------------------------------------------------
@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a benchmark task starts."""
    calls = []
    monkeypatch.setattr(bci, "evaluate_task", lambda task: calls.append(task) or [])
    return calls


@pytest.fixture
def earlier(tmp_path):
    """A store with one earlier result, and its snapshot."""
    db = tmp_path / "earlier" / "r.sqlite"
    with ResultStore(db) as st:
        st.add({"kind": "bci", "score": 0.8, "subject": "1"})
    return db, snapshot(db.parent)


def _case_out_is_file(tmp_path, db):
    (tmp_path / "afile").write_text("x")
    return dict(results=db, out=tmp_path / "afile"), OutputIsAFileError, "'out' parameter"


def _case_results_is_folder(tmp_path, db):
    return dict(results=db.parent, out=None), OutputIsAFolderError, "'results' parameter"


def _case_out_read_only(tmp_path, db):
    return dict(results=db, out=Path("/sys/kernel/neurosig_out")), OutputNotWritableError, "'out' parameter"


def _case_results_read_only(tmp_path, db):
    return dict(results=Path("/sys/kernel/x/r.sqlite"), out=None), OutputNotWritableError, "'results' parameter"


def _case_out_is_results(tmp_path, db):
    return dict(results=db, out=db), OutputIsAFileError, "'out' parameter"


def _case_out_under_file(tmp_path, db):
    (tmp_path / "afile").write_text("x")
    return dict(results=db, out=tmp_path / "afile" / "o"), OutputIsAFileError, "'out' parameter"


def _case_results_type(tmp_path, db):
    return dict(results=42, out=None), TypeError, "'results' parameter"


def _case_out_type(tmp_path, db):
    return dict(results=db, out=["o"]), TypeError, "'out' parameter"


@pytest.mark.parametrize("case", [_case_out_is_file, _case_results_is_folder, _case_out_read_only,
                                  _case_results_read_only, _case_out_is_results, _case_out_under_file,
                                  _case_results_type, _case_out_type],
                         ids=lambda f: f.__name__[6:])
def test_benchmark_refuses_bad_outputs_before_work(tmp_path, no_work, earlier, case, read_only_dir):
    db, before = earlier
    kwargs, exc, word = case(tmp_path, db)
    with pytest.raises(exc) as ei:
        bci.benchmark(subjects=[1], verbose=False, n_permutations=0, **kwargs)
    assert word in str(ei.value)
    assert no_work == []  # no task ran
    assert snapshot(db.parent) == before  # the earlier results are untouched


def test_cli_out_is_a_file(tmp_path, earlier, capsys, monkeypatch, no_work):
    from neurosig.cli.main import main

    db, before = earlier
    (tmp_path / "afile").write_text("keep")
    rc = main(["benchmark", "--subjects", "1", "--results", str(db), "--out", str(tmp_path / "afile")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "'out' parameter" in err and str(tmp_path / "afile") in err and "a folder is expected" in err
    assert no_work == [] and snapshot(db.parent) == before and (tmp_path / "afile").read_text() == "keep"


def test_cli_read_only_results(tmp_path, capsys, no_work, read_only_dir):
    from neurosig.cli.main import main

    rc = main(["benchmark", "--subjects", "1", "--results", str(read_only_dir / "x" / "r.sqlite"),
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "'results' parameter" in err and "not writable" in err and "Traceback" not in err
    assert no_work == [] and not (tmp_path / "o").exists()


# -- decode-fmri ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fmri_job(tmp_path_factory):
    from neurosig.datasets.synthetic_nsd import make_synthetic_nsd

    root = make_synthetic_nsd(tmp_path_factory.mktemp("nsd"), subjects=(1,), n_sessions_present=2,
                              trials_per_session=30, n_sessions_total=10, images_per_subject=100,
                              n_images_total=300, n_shared=10, shape=(8, 10, 6), effect=0.6, seed=0)
    return {"dataset": {"type": "nsd", "root": str(root)}, "subjects": [1],
            "rois": ["prf-visualrois:hV4"], "targets": [{"type": "coco", "categories": ["person"]}],
            "models": ["ridge"], "analyses": ["decoding"], "cv": {"scheme": "group-kfold", "n_splits": 3},
            "verbose": False}


@pytest.mark.parametrize("which", ["output_dir-is-file", "results-is-folder", "output_dir-read-only",
                                   "results-read-only", "output_dir-under-file"])
def test_decode_fmri_outputs_checked_first(tmp_path, fmri_job, capsys, monkeypatch, which, read_only_dir):
    from neurosig.cli.main import main
    from neurosig.evaluation import fmri

    monkeypatch.setattr(fmri, "decode_fmri", lambda *a, **k: pytest.fail("decode_fmri ran"))
    (tmp_path / "afile").write_text("keep")
    (tmp_path / "afolder").mkdir()
    job = dict(fmri_job, results=str(tmp_path / "res.sqlite"), output_dir=str(tmp_path / "out"))
    param, given = which.split("-", 1)
    bad = {"is-file": tmp_path / "afile", "is-folder": tmp_path / "afolder",
           "read-only": read_only_dir / "neurosig_out" / ("r.sqlite" if param == "results" else "o"),
           "under-file": tmp_path / "afile" / "o"}[given]
    job[param] = str(bad)
    path = tmp_path / "job.yml"
    path.write_text(yaml.safe_dump(job))
    before = snapshot(tmp_path)
    rc = main(["decode-fmri", str(path)])
    err = capsys.readouterr().err
    assert rc == 2 and f"'{param}' parameter" in err and str(bad) in err and "Traceback" not in err
    assert snapshot(tmp_path) == before  # no store, no output folder, nothing changed
