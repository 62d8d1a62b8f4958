"""``neurosig benchmark --datasets bids:PATH --event-map FILE``: a lab's BIDS folder from the CLI."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from _bids_data import bids_root_fixture  # noqa: F401 (the bids_root fixture)

from neurosig._resources import resource_dir
from neurosig._schema import SchemaError
from neurosig.cli.main import main
from neurosig.datasets.bids import BIDSDataset, read_event_map

EVENTS = {"imagery/left": "left_hand", "imagery/right": "right_hand"}


@pytest.fixture
def event_map_file(tmp_path):
    path = tmp_path / "events.yml"
    path.write_text("imagery/left: left_hand\nimagery/right: right_hand\n")
    return path


def _argv(root, event_map, tmp_path, *extra):
    return ["-q", "benchmark", "--datasets", f"bids:{root}", "--event-map", str(event_map),
            "--pipelines", str(resource_dir("pipelines") / "default" / "mdm.yml"),
            "--evaluation", "cross-session", "--n-permutations", "0", "--no-plots",
            "--results", str(tmp_path / "out" / "r.sqlite"), "--out", str(tmp_path / "out"), *extra]


def test_benchmark_runs_a_bids_folder(bids_root, event_map_file, tmp_path, capsys):
    assert main(_argv(bids_root, event_map_file, tmp_path, "--bids-task", "mi")) == 0
    out = capsys.readouterr().out
    assert "BIDSDataset-mylab" in out and "2 task(s) computed" in out
    rows = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(rows["dataset"]) == {"BIDSDataset-mylab"} and set(rows["subject"]) == {1, 2}
    assert len(rows) == 2 * 2 and rows["score"].between(0, 1).all()  # subjects x held-out sessions
    # the same rows as the Python API with the mapping given as a dict
    from neurosig.evaluation.bci import benchmark
    df = benchmark(datasets=[BIDSDataset(bids_root, event_map=EVENTS, task="mi")],
                   pipelines=str(resource_dir("pipelines") / "default" / "mdm.yml"), evaluation="cross-session",
                   n_permutations=0, results=tmp_path / "py.sqlite", out=None, verbose=False)
    key = ["subject", "session"]
    pd.testing.assert_series_equal(df.sort_values(key)["score"].reset_index(drop=True),
                                   rows.sort_values(key)["score"].reset_index(drop=True), check_exact=True)


def test_event_map_file_yaml_or_json(tmp_path, event_map_file):
    js = tmp_path / "events.json"
    js.write_text(json.dumps(EVENTS))
    assert read_event_map(event_map_file) == read_event_map(js) == EVENTS
    num = tmp_path / "num.yml"
    num.write_text("1: left_hand\n2: right_hand\n")
    assert read_event_map(num) == {"1": "left_hand", "2": "right_hand"}
    for text, match in (("[a, b]", r"'event_map'.*mapping"), ("{}", r"'event_map'.*got \{\}"),
                        ("imagery/left: [a]", r"'event_map.imagery/left'.*strings"),
                        ("imagery/left: ''", r"'event_map.imagery/left'")):
        bad = tmp_path / "bad.yml"
        bad.write_text(text)
        with pytest.raises(SchemaError, match=f"Event map file '{bad}'.*" + match):
            read_event_map(bad)


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_bids_errors_before_any_work(bids_root, event_map_file, tmp_path, capsys):
    err = _error(_argv(tmp_path / "nope", event_map_file, tmp_path), capsys)
    assert "'datasets'" in err and "does not exist" in err and "nope" in err
    (tmp_path / "plain").mkdir()
    err = _error(_argv(tmp_path / "plain", event_map_file, tmp_path), capsys)
    assert "not a BIDS folder" in err and "dataset_description.json" in err
    err = _error(_argv(bids_root, tmp_path / "missing.yml", tmp_path), capsys)
    assert "'event_map'" in err and "missing.yml" in err and "does not exist" in err
    bad = tmp_path / "bad.yml"
    bad.write_text("imagery/left: 3\n")
    err = _error(_argv(bids_root, bad, tmp_path), capsys)
    assert f"Event map file '{bad}'" in err and "'event_map.imagery/left'" in err
    typo = tmp_path / "typo.yml"
    typo.write_text("imagery/lef: left_hand\nimagery/right: right_hand\n")
    err = _error(_argv(bids_root, typo, tmp_path), capsys)
    assert f"event map file '{typo}'" in err and "['imagery/lef']" in err and "imagery/left" in err
    err = _error(_argv(bids_root, event_map_file, tmp_path, "--bids-task", "rest"), capsys)
    assert "task 'rest'" in err
    argv = _argv(bids_root, event_map_file, tmp_path)
    without_map = argv[:4] + argv[6:]
    assert "needs an event map" in _error(without_map, capsys)
    not_bids = argv[:3] + ["SimulatedMotorImagery"] + argv[4:]
    assert "'event_map'" in _error(not_bids, capsys)
    assert not (tmp_path / "out").exists()  # nothing written by any refused run
    from neurosig.evaluation.bci_inputs import resolve_datasets
    with pytest.raises(ValueError, match="needs an event map.*BIDSDataset"):  # a name in Python, no map
        resolve_datasets([f"bids:{bids_root}"])
