"""Core: validation messages, task runner, results store, pipeline YAML safety."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from neurosig._validation import check_option, check_positive_int, check_signal_array
from neurosig.contracts import SignalContract, stable_hash
from neurosig.evaluation.results import NotAResultStoreError, ResultStore, make_key
from neurosig.parallel import run_tasks
from neurosig.pipelines import PipelineFileError, load_pipeline_file, parse_pipeline


def test_check_messages_name_parameter():
    with pytest.raises(ValueError, match=r"'lag' parameter.*positive integers.*-2"):
        check_positive_int("lag", -2)
    with pytest.raises(ValueError, match=r"'evaluation'.*'within-session'.*'foo'"):
        check_option("evaluation", "foo", ["within-session"])
    with pytest.raises(ValueError, match="3-D array"):
        check_signal_array("X", np.zeros((4, 5)))
    with pytest.raises(ValueError, match="NaN"):
        check_signal_array("X", np.full((2, 2, 2), np.nan))


def _square(x):
    if x == 3:
        raise RuntimeError("boom")
    return x * x


@pytest.mark.parametrize("backend,n_jobs", [("sequential", 1), ("processes", 2)])
def test_run_tasks_records_failures_in_order(backend, n_jobs):
    seen = []
    res = run_tasks(_square, [1, 2, 3, 4], backend=backend, n_jobs=n_jobs, on_result=seen.append,
                    verbose=False)
    assert [r.value for r in res] == [1, 4, None, 16]
    assert "boom" in res[2].error and res[2].attempts == 1
    assert len(seen) == 4


def _pid_of(task):
    import os

    if task == ("b", 3):
        raise RuntimeError("boom")
    return task, os.getpid()


def _group_of(task):
    return task[0]


def test_run_tasks_processes_keep_a_group_in_one_process_in_order():
    tasks = [(g, k) for g in "abcde" for k in range(4)]
    seen = []
    res = run_tasks(_pid_of, tasks, backend="processes", n_jobs=2, group=_group_of, retries=1,
                    on_result=lambda r: seen.append(r.index), verbose=False)
    assert len(res) == len(tasks) and sorted(seen) == list(range(len(tasks)))
    assert res[tasks.index(("b", 3))].error and res[tasks.index(("b", 3))].attempts == 2
    for g in "abcde":
        rows = [r for r in res if r.task[0] == g and r.ok]
        assert len({pid for _, pid in (r.value for r in rows)}) == 1  # one process per group
    order = {}
    for i in seen:  # results of one group arrive in task order (a failure after its retry)
        order.setdefault(tasks[i][0], []).append(tasks[i][1])
    assert all(v == sorted(v) for v in order.values())
    assert len({pid for r in res if r.ok for _, pid in [r.value]}) == 2  # both processes used


def test_prestarted_workers_and_this_process_share_the_groups(monkeypatch):
    """prestart_workers: the next run's groups go to the started worker and to this process."""
    import os

    import neurosig.parallel as par

    monkeypatch.setattr(par, "_usable_cores", lambda: 2)
    par.prestart_workers(2, ["json"])
    assert len(par._PRESTARTED) == 1
    tasks = [(g, k) for g in "abcdef" for k in range(4)]
    seen = []
    res = run_tasks(_pid_of, tasks, backend="processes", n_jobs=2, group=_group_of, retries=1,
                    on_result=lambda r: seen.append(r.index), verbose=False)
    assert not par._PRESTARTED  # used once, then stopped
    assert [r.index for r in res] == list(range(len(tasks))) and sorted(seen) == list(range(len(tasks)))
    failed = res[tasks.index(("b", 3))]
    assert "boom" in failed.error and failed.attempts == 2
    pids = {g: {pid for r in res if r.ok and r.task[0] == g for _, pid in [r.value]} for g in "abcdef"}
    assert all(len(p) == 1 for p in pids.values())  # one process per group
    used = set().union(*pids.values())
    assert len(used) == 2 and os.getpid() in used
    order = {}
    for i in seen:
        order.setdefault(tasks[i][0], []).append(tasks[i][1])
    assert all(v == sorted(v) for v in order.values())
    par.shutdown_prestarted()


def test_prestarted_workers_are_stopped_when_no_run_uses_them(monkeypatch):
    import neurosig.parallel as par

    monkeypatch.setattr(par, "_usable_cores", lambda: 3)
    par.prestart_workers(4, [])  # more jobs than cores: nothing started, the run forks as usual
    assert not par._PRESTARTED

    par.prestart_workers(3, [])
    pools = list(par._PRESTARTED)
    assert len(pools) == 2
    par.shutdown_prestarted()
    assert not par._PRESTARTED
    with pytest.raises(RuntimeError):  # a stopped pool takes no task
        pools[0].submit(_square, 1)


def test_store_roundtrip_resume_and_export(tmp_path):
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        k = store.add({"kind": "bci", "dataset": "d", "subject": 1, "pipeline": "p", "score": 0.7,
                       "fold_scores": [0.6, 0.8], "params": {"calibration": 0}})
        assert store.has(k)
        # same identity -> same key (replace, no duplicate)
        store.add({"kind": "bci", "dataset": "d", "subject": 1, "pipeline": "p", "score": 0.7,
                   "fold_scores": [0.6, 0.8], "params": {"calibration": 0}})
        assert len(store) == 1
        store.export(tmp_path / "r.csv")
        store.export(tmp_path / "r.parquet")
    with ResultStore(db) as store:  # reopen
        df = store.to_frame()
        assert df.loc[0, "fold_scores"] == [0.6, 0.8]
        assert df.loc[0, "versions"]["numpy"] == np.__version__
    assert (tmp_path / "r.csv").read_text().count("\n") == 2


def test_key_changes_with_identity():
    a = make_key("bci", "d", 1, "0", "p", "h1", "within-session")
    assert a != make_key("bci", "d", 1, "0", "p", "h2", "within-session")
    assert a != make_key("bci", "d", 1, "0", "p", "h1", "within-session", params={"lr": 1e-3})
    assert a == make_key("bci", "d", "1", "0", "p", "h1", "within-session")


def test_store_refuses_foreign_database(tmp_path):
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x INT)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(NotAResultStoreError, match="not a neurosig results store"):
        ResultStore(other)
    assert other.read_bytes() == before
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(NotAResultStoreError, match="not a SQLite"):
        ResultStore(txt)


def test_pipeline_yaml_allow_list(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: evil\nparadigms: [LeftRightImagery]\npipeline:\n"
                   "  - name: system\n    from: os\n    parameters: {command: 'rm -rf /'}\n")
    with pytest.raises(PipelineFileError, match="allow-list"):
        load_pipeline_file(bad)
    notmap = tmp_path / "list.yml"
    notmap.write_text("- a\n- b\n")
    with pytest.raises(PipelineFileError, match="mapping"):
        load_pipeline_file(notmap)
    tag = tmp_path / "tag.yml"
    tag.write_text("!!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(PipelineFileError, match=r"tag\.yml.*YAML tag '!!python/object/apply:os.system'"):
        load_pipeline_file(tag)


def test_pipeline_hash_depends_on_parameters():
    doc = {"name": "TS+SVM", "paradigms": ["LeftRightImagery"], "pipeline": [
        {"name": "Covariances", "from": "pyriemann.estimation", "parameters": {"estimator": "oas"}},
        {"name": "TangentSpace", "from": "pyriemann.tangentspace"},
        {"name": "SVC", "from": "sklearn.svm", "parameters": {"kernel": "linear"}}]}
    a = parse_pipeline(doc)
    doc["pipeline"][2]["parameters"] = {"kernel": "rbf"}
    b = parse_pipeline(doc)
    assert a.config_hash != b.config_hash
    assert a.build().steps[-1][1].kernel == "linear"


def test_signal_contract_mismatch_is_named():
    c = SignalContract(("Fp1", "Fp2"), 200.0, 2000, "bipolar-tcp", stable_hash({"a": 1}))
    c.check(SignalContract(("Fp1", "Fp2"), 200.0, 2000, "bipolar-tcp", stable_hash({"a": 1})))
    with pytest.raises(ValueError, match=r"missing \['Fp2'\].*256"):
        c.check(SignalContract(("Fp1",), 256.0, 2000, "bipolar-tcp"))


def _die_once(arg):
    """Kill the worker process the first time task ``marker`` runs (simulates a lost node)."""
    import os
    import time
    x, marker = arg
    time.sleep(0.05)
    if marker is not None and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return x * 10


def test_dask_local_cluster_survives_worker_death(tmp_path):
    marker = str(tmp_path / "died")
    tasks = [(i, marker if i == 3 else None) for i in range(8)]
    seen = []
    res = run_tasks(_die_once, tasks, backend="dask", n_jobs=2, on_result=lambda r: seen.append(r.index),
                    verbose=False)
    assert (tmp_path / "died").exists()  # a worker really died mid-run
    assert [r.value for r in res] == [i * 10 for i in range(8)]
    assert sorted(seen) == list(range(8))  # every result delivered exactly once


def _modules_loaded(names):
    import sys
    return [n in sys.modules for n in names]


def test_local_workers_start_with_this_process_modules():
    """Local workers are forked: modules imported here are there without a second import."""
    import neurosig.evaluation.bci  # noqa: F401
    from neurosig.parallel import LOCAL_START_METHOD, local_cluster

    assert LOCAL_START_METHOD == "fork"  # Linux (CI)
    names = ["neurosig.evaluation.bci", "moabb", "pyriemann"]
    import moabb  # noqa: F401
    import pyriemann  # noqa: F401
    from distributed import Client

    cluster = local_cluster(2)
    try:
        with Client(cluster) as client:
            loaded = client.run(_modules_loaded, names)
    finally:
        cluster.close()
    assert len(loaded) == 2 and all(v == [True] * len(names) for v in loaded.values())
    res = run_tasks(_modules_loaded, [names] * 4, backend="processes", n_jobs=2, verbose=False)
    assert all(r.value == [True] * len(names) for r in res)


@pytest.mark.slow  # three whole benchmark commands
def test_scale_out_benchmark_script_quick(capsys):
    import runpy
    main = runpy.run_path(str(Path(__file__).resolve().parents[1] / "benchmarks" / "scale_out.py"))["main"]
    import sys
    old = sys.argv
    sys.argv = ["scale_out.py", "--quick"]
    try:
        main()
    finally:
        sys.argv = old
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("local scale-out, whole commands: --n-jobs 2 ") and out[-1].endswith("identical rows")
    assert sum(ln.lstrip().startswith(("sequential", "processes", "dask")) and "run 0" in ln for ln in out) == 3
    assert any(ln.startswith("serial part (no-task rerun) ") for ln in out)


# Dask on a shared cluster (same rows as sequential, unreachable scheduler): tests/dask/


def test_every_shipped_pipeline_file_loads_and_builds():
    from neurosig._resources import resource_dir
    from neurosig.pipelines import fill_sfreq, load_pipelines

    root = resource_dir("pipelines")
    specs = load_pipelines([root])
    assert specs, "no pipeline files shipped"
    for spec in specs:
        est = fill_sfreq(spec.build(), 160.0)
        assert "sfreq" not in str({k: v for k, v in est.get_params().items()
                                   if k.endswith("sfreq") and v is None})
        assert spec.paradigms, spec.name


#: verdicts of `neurosig pipelines check` on MOABB's own pipeline files (file -> ok or what the reason names)
MOABB_REFUSED = {
    "pipelines/FBCSP.py": "Python pipeline files are not loaded (they run code); write the pipeline as YAML",
    "pipelines/WTRCSP.py": "Python pipeline files are not loaded (they run code); write the pipeline as YAML",
    "pipelines/AUG_TANG_SVM_grid.yml": "neurosig.riemann.augmented:AugmentedCovariances",
    "pipelines/CCA-SSVEP.yml": "neurosig.features:SSVEPCCA",
    "pipelines/TRCA-SSVEP.yml": "neurosig.features:SSVEPCCA",
    "pipelines/MsetCCA-SSVEP.yml": "neurosig.features:SSVEPCCA",
    "moabb/tests/test_pipelines/SSVEP_CCA.yml": "neurosig.features:SSVEPCCA",
}


def test_pipelines_check_moabb_pipeline_files(shared_data, capsys):
    """Every MOABB pipeline file is either usable or refused with what to use instead."""
    from neurosig.cli.main import main

    root = shared_data / "moabb_pipelines"
    assert main(["pipelines", "check", str(root)]) == 1
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(str(root))]
    verdicts = {ln[len(str(root)) + 1:].split(": ", 1)[0]: ln.split(": ", 1)[1] for ln in lines}
    assert len(verdicts) == 35  # 33 YAML + 2 Python files
    for name, verdict in verdicts.items():
        if name in MOABB_REFUSED:
            assert verdict.startswith("refused: ") and MOABB_REFUSED[name] in verdict, (name, verdict)
        else:
            assert verdict.startswith("ok ("), (name, verdict)
    for ssvep in ("TSSVM-SSVEP.yml", "TSLR-SSVEP.yml"):  # `from: moabb.pipelines` re-export spelling
        assert verdicts[f"pipelines/{ssvep}"].startswith("ok (")
    assert main(["pipelines", "check", "--skip-unsupported", str(root)]) == 0
    assert "28 ok, 7 skipped of 35" in capsys.readouterr().out


def test_pipeline_aliases_are_the_allowed_classes():
    """Each accepted re-export spelling names the very class the allow-list holds."""
    import importlib

    from neurosig._pipeline_rules import ALIASES
    from neurosig.pipelines import REGISTRY

    for alias, key in ALIASES.items():
        mod, _, name = alias.partition(":")
        assert key in REGISTRY
        assert getattr(importlib.import_module(mod), name) is getattr(importlib.import_module(REGISTRY[key]), name)


def test_shipped_pipelines_listed(capsys):
    from neurosig.cli.main import main

    assert main(["pipelines", "list"]) == 0
    out = capsys.readouterr().out
    assert "CSP+LDA" in out and "SSVEP-TS+SVM" in out and "FilterBankSSVEP" in out and "transfer" in out


def test_schema_page_is_current():
    """docs/schemas.md is generated from the schemas; regenerate with `python -m neurosig._schema`."""
    from neurosig._schema import render_markdown

    page = Path(__file__).resolve().parents[1] / "docs" / "schemas.md"
    assert page.read_text() == render_markdown(), (
        "docs/schemas.md is stale: run `python -m neurosig._schema > docs/schemas.md`")
