"""Bad input to the benchmark: one clear error naming parameter, allowed and given values,
raised before any computation, and nothing already in the database lost (Python and CLI)."""
from __future__ import annotations

import hashlib
import sqlite3

import pytest

from neurosig.cli.main import main
from neurosig.evaluation import bci
from neurosig.evaluation.results import ResultStore


@pytest.fixture
def db(tmp_path):
    """A results database that already holds one row."""
    path = tmp_path / "results.sqlite"
    with ResultStore(path) as st:
        st.add({"kind": "bci", "dataset": "X", "subject": "1", "session": "0", "pipeline": "P",
                "score": 0.7, "evaluation": "within-session"})
    return path


@pytest.fixture
def no_work(monkeypatch):
    """Record any task that starts: there must be none."""
    calls = []
    monkeypatch.setattr(bci, "evaluate_task", lambda task: calls.append(task) or [])
    monkeypatch.setattr(bci, "load_data", lambda *a, **k: calls.append(a))
    return calls


def _rows(path):
    with ResultStore(path) as st:
        return st.to_frame()[["row_key", "score", "created"]].to_dict("records")


def _bad_yaml(tmp_path, text, name="bad.yml"):
    p = tmp_path / name
    p.write_text(text)
    return p


UNKNOWN_CLASS = """name: evil
paradigms: [LeftRightImagery]
pipeline:
  - name: system
    from: os
"""

CASES = {
    "dataset": (dict(datasets=["NoSuchDataset"]),
                ["--datasets", "NoSuchDataset"], r"'datasets' parameter.*got 'NoSuchDataset'"),
    "paradigm": (dict(paradigm="P300x"), ["--paradigm", "P300x"],
                 r"'paradigm' parameter.*'LeftRightImagery'.*got 'P300x'"),
    "evaluation": (dict(evaluation="few-trials"), ["--evaluation", "few-trials"],
                   r"'evaluation' parameter.*'within-session'.*got 'few-trials'"),
    "subject": (dict(subjects=[99]), ["--subjects", "99"],
                r"'subjects' parameter.*has subjects \[1, 2, 3, 4, 5, 6\].*got 99"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_argument_python(case, db, no_work):
    before = _rows(db)
    kwargs, _, pattern = CASES[case]
    kwargs = dict(kwargs)
    if case != "dataset":
        kwargs.setdefault("datasets", ["SimulatedMotorImagery"])
    with pytest.raises(ValueError, match=pattern):
        bci.benchmark(results=db, out=None, verbose=False, **kwargs)
    assert no_work == [] and _rows(db) == before


@pytest.mark.parametrize("case", list(CASES))
def test_bad_argument_cli(case, db, no_work, capsys, tmp_path):
    before = _rows(db)
    _, argv, pattern = CASES[case]
    rc = main(["benchmark", "--results", str(db), "--out", str(tmp_path / "out"), *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("neurosig benchmark: error:")
    import re
    assert re.search(pattern, err)
    assert no_work == [] and _rows(db) == before
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text,pattern", [
    (UNKNOWN_CLASS, r"class 'os:system' is not in neurosig's allow-list"),
    ("- just\n- a list\n", r"expected a YAML mapping.*got a list"),
])
def test_bad_pipeline_file(text, pattern, db, no_work, capsys, tmp_path, fake_factory):
    make_fake = fake_factory
    before = _rows(db)
    bad = _bad_yaml(tmp_path, text)
    with pytest.raises(ValueError, match=pattern):
        bci.benchmark(datasets=[make_fake()], pipelines=[bad], results=db, out=None, verbose=False)
    rc = main(["benchmark", "--pipelines", str(bad), "--results", str(db), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "bad.yml" in err
    assert no_work == [] and _rows(db) == before


def test_not_a_neurosig_database(tmp_path, no_work, capsys, fake_factory):
    make_fake = fake_factory
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE patients (name TEXT)")
    con.execute("INSERT INTO patients VALUES ('keep me')")
    con.commit()
    con.close()
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database")
    for path in (other, text):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with pytest.raises(ValueError, match=r"'results' parameter.*not a neurosig results store|"
                                             r"'results' parameter.*not a SQLite"):
            bci.benchmark(datasets=[make_fake()], results=path, out=None, verbose=False)
        rc = main(["benchmark", "--results", str(path), "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and "'results' parameter" in err
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert no_work == []


def test_unsupported_evaluation_refused_before_work(db, no_work, capsys, tmp_path, fake_factory):
    make_fake = fake_factory
    before = _rows(db)
    with pytest.raises(ValueError, match="'cross-session' needs at least 2 sessions"):
        bci.benchmark(datasets=[make_fake(n_sessions=1)], evaluation="CrossSession", results=db,
                      out=None, verbose=False)
    # PhysionetMI has one session per subject: refused by name, nothing downloaded
    rc = main(["benchmark", "--datasets", "PhysionetMI", "--evaluation", "cross-session",
               "--results", str(db), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "'cross-session' needs at least 2 sessions" in err and "PhysionetMotorImagery" in err
    assert no_work == [] and _rows(db) == before


def test_other_bad_values(db, no_work, fake_factory):
    make_fake = fake_factory
    with pytest.raises(ValueError, match="'n_jobs' parameter"):
        bci.benchmark(datasets=[make_fake()], n_jobs=0, results=db, out=None)
    with pytest.raises(ValueError, match="'seed' parameter"):
        bci.benchmark(datasets=[make_fake()], seed=-1, results=db, out=None)
    with pytest.raises(TypeError, match="'datasets' parameter"):
        bci.benchmark(datasets=[3.5], results=db, out=None)
    with pytest.raises(ValueError, match="named explicitly do not support the paradigm 'MotorImagery'"):
        bad = db.parent / "lr_only.yml"
        bad.write_text("name: X\nparadigms: [LeftRightImagery]\npipeline:\n"
                       "  - {name: Covariances, from: pyriemann.estimation}\n"
                       "  - {name: MDM, from: pyriemann.classification}\n")
        bci.benchmark(datasets=[make_fake(events=("left_hand", "right_hand", "feet"))],
                      paradigm="imagery", pipelines=[bad], results=db, out=None)
    assert no_work == []
