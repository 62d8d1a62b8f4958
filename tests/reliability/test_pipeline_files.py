"""Bad pipeline files: each refused when read, naming the file, the key, what is allowed and what was given.

Every case is also checked to have done no work: the folder holds only the bad file afterwards,
and a subset runs through ``neurosig benchmark`` to show that no results store or output is written.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from neurosig._schema import SchemaError
from neurosig.cli.main import main
from neurosig.pipelines import (
    PipelineFileError,
    check_pipeline_files,
    load_pipeline_file,
    load_pipelines,
)

GOOD = {"name": "TS+SVM", "paradigms": ["LeftRightImagery"], "pipeline": [
    {"name": "Covariances", "from": "pyriemann.estimation", "parameters": {"estimator": "oas"}},
    {"name": "TangentSpace", "from": "pyriemann.tangentspace", "parameters": {"metric": "riemann"}},
    {"name": "SVC", "from": "sklearn.svm", "parameters": {"kernel": "linear"}}]}


def _step(name, module, **params):
    return {"name": name, "parameters": params, "from": module}


def _one(step, **extra):
    return {"name": "P", "paradigms": ["LeftRightImagery"], "pipeline": [step], **extra}


def _with(**top):
    doc = copy.deepcopy(GOOD)
    for k, v in top.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    return doc


def _param(i, **params):
    doc = copy.deepcopy(GOOD)
    doc["pipeline"][i]["parameters"] = {**(doc["pipeline"][i].get("parameters") or {}), **params}
    return doc


# (id, document, key named, allowed fragment, given fragment)
STRUCTURE = [
    ("top-list", ["a", "b"], "(top level)", "a YAML mapping with keys", "a list (['a', 'b'])"),
    ("top-string", "just text", "(top level)", "a YAML mapping with keys", "a str ('just text')"),
    ("unknown-key", _with(colour="blue"), "file", "Allowed keys are", "colour"),
    ("unknown-key-close", _with(paradigm=["LeftRightImagery"]), "file", "Did you mean ['paradigms']", "paradigm"),
    ("missing-name", _with(name=None), "file", "missing the required key 'name'", "name"),
    ("missing-pipeline", _with(pipeline=None), "file", "missing the required key 'pipeline'", "pipeline"),
    ("missing-paradigms", _with(paradigms=None), "file", "missing the required key 'paradigms'", "paradigms"),
    ("empty-pipeline", _with(pipeline=[]), "pipeline", "a non-empty list", "[]"),
    ("pipeline-string", _with(pipeline="Covariances"), "pipeline", "a non-empty list", "'Covariances'"),
    ("step-string", _with(pipeline=["Covariances"]), "pipeline[0]", "mappings with keys", "'Covariances'"),
    ("step-no-from", _with(pipeline=[{"name": "SVC"}]), "pipeline[0]", "missing the required key 'from'", "from"),
    ("step-no-name", _with(pipeline=[{"from": "sklearn.svm"}]), "pipeline[0]",
     "missing the required key 'name'", "name"),
    ("step-unknown-key", _with(pipeline=[{"name": "SVC", "from": "sklearn.svm", "params": {}}]), "pipeline[0]",
     "Allowed keys are ['name', 'from', 'parameters']", "params"),
    ("parameters-list", _with(pipeline=[{"name": "SVC", "from": "sklearn.svm", "parameters": [1, 2]}]),
     "pipeline[0].parameters", "mappings of names", "[1, 2]"),
    ("name-int", _with(name=123), "name", "strings", "123"),
    ("name-null", _with(name=None) | {"name": None}, "name", "strings", "None"),
    ("paradigms-int", _with(paradigms=3), "paradigms", "a list of strings or strings", "3"),
    ("tags-string", _with(tags="default"), "tags", "a list of strings", "'default'"),
    ("citations-int", _with(citations=[1]), "citations[0]", "strings", "1"),
    ("calibration-bad", _with(calibration="some"), "calibration", "'unlabeled', 'labeled'", "'some'"),
    ("calibration-with-grid", _with(calibration="unlabeled", param_grid={"svc__C": [1]}), "param_grid",
     "no grid for a transfer pipeline", "svc__C"),
    ("grid-not-mapping", _with(param_grid=[1, 2]), "param_grid", "mappings of names", "[1, 2]"),
    ("grid-value-scalar", _with(param_grid={"svc__C": 1}), "param_grid.svc__C", "a non-empty list", "1"),
    ("grid-value-empty", _with(param_grid={"svc__C": []}), "param_grid.svc__C", "a non-empty list", "[]"),
]

CLASSES = [
    ("os-system", _one(_step("system", "os", command="rm -rf /")), "pipeline[0]", "allow-list", "'os:system'"),
    ("builtins-eval", _one(_step("eval", "builtins")), "pipeline[0]", "allow-list", "'builtins:eval'"),
    ("subprocess", _one(_step("Popen", "subprocess")), "pipeline[0]", "allow-list", "'subprocess:Popen'"),
    ("nusvc", _one(_step("NuSVC", "sklearn.svm")), "pipeline[0]", "sklearn.svm:SVC", "'sklearn.svm:NuSVC'"),
    ("wrong-module", _one(_step("CSP", "pyriemann.classification")), "pipeline[0]",
     "Did you mean ['mne.decoding:CSP', 'pyriemann.spatialfilters:CSP']", "'pyriemann.classification:CSP'"),
    ("lower-case", _one(_step("covariances", "pyriemann.estimation")), "pipeline[0]", "allow-list",
     "'pyriemann.estimation:covariances'"),
    ("augmented-dataset", _one(_step("AugmentedDataset", "moabb.pipelines.features")), "pipeline[0]",
     "neurosig.riemann.augmented:AugmentedCovariances", "'moabb.pipelines.features:AugmentedDataset'"),
    ("moabb-wrong-submodule", _one(_step("SSVEP_CCA", "moabb.pipelines.features")), "pipeline[0]",
     "Did you mean ['moabb.pipelines.classification:SSVEP_CCA']", "'moabb.pipelines.features:SSVEP_CCA'"),
    ("pickle", _one(_step("loads", "pickle")), "pipeline[0]", "allow-list", "'pickle:loads'"),
]

NAMES = [
    ("csp-nfilters", _one(_step("CSP", "pyriemann.spatialfilters", nfilters=4)), "pipeline[0].parameters.nfilters",
     "Did you mean ['nfilter']", "'nfilters'"),
    ("svc-kernal", _param(2, kernal="rbf"), "pipeline[2].parameters.kernal", "Did you mean ['kernel']", "'kernal'"),
    ("cov-estimater", _param(0, estimater="oas"), "pipeline[0].parameters.estimater", "Did you mean ['estimator']",
     "'estimater'"),
    ("ts-metrc", _param(1, metrc="riemann"), "pipeline[1].parameters.metrc", "Did you mean ['metric']", "'metrc'"),
    ("lda-solvr", _one(_step("LinearDiscriminantAnalysis", "sklearn.discriminant_analysis", solvr="lsqr")),
     "pipeline[0].parameters.solvr", "Did you mean ['solver']", "'solvr'"),
    ("mdm-metirc", _one(_step("MDM", "pyriemann.classification", metirc="riemann")),
     "pipeline[0].parameters.metirc", "Did you mean ['metric']", "'metirc'"),
    ("lr-c", _one(_step("LogisticRegression", "sklearn.linear_model", c=1.0)), "pipeline[0].parameters.c",
     "parameters of LogisticRegression", "'c'"),
    ("ssvep-cca-interval", _one(_step("SSVEP_CCA", "moabb.pipelines.classification", interval=[2, 4])),
     "pipeline[0].parameters.interval", "neurosig.features:SSVEPCCA", "'interval'"),
    ("eegnet-epochs", _one(_step("EEGNet", "neurosig.models.cnn", epochs=3)), "pipeline[0].parameters.epochs",
     "Did you mean ['max_epochs']", "'epochs'"),
]

VALUES = [
    ("csp-nfilter-neg", _one(_step("CSP", "pyriemann.spatialfilters", nfilter=-3)), "nfilter", "range [1, inf)", "-3"),
    ("csp-nfilter-zero", _one(_step("CSP", "pyriemann.spatialfilters", nfilter=0)), "nfilter", "range [1, inf)", "0"),
    ("csp-nfilter-str", _one(_step("CSP", "pyriemann.spatialfilters", nfilter="four")), "nfilter", "int",
     "'four'"),
    ("csp-log-str", _one(_step("CSP", "pyriemann.spatialfilters", log="yes")), "log", "bool", "'yes'"),
    ("cov-estimator", _param(0, estimator="nonexistent"), "estimator", "'oas'", "'nonexistent'"),
    ("ts-metric", _param(1, metric="cosine"), "metric", "'riemann'", "'cosine'"),
    ("ts-tsupdate", _param(1, tsupdate="sometimes"), "tsupdate", "bool", "'sometimes'"),
    ("mdm-metric", _one(_step("MDM", "pyriemann.classification", metric="manhattan")), "metric", "'riemann'",
     "'manhattan'"),
    ("fgmdm-tsupdate", _one(_step("FgMDM", "pyriemann.classification", tsupdate="yes")), "tsupdate", "bool",
     "'yes'"),
    ("svc-c-neg", _param(2, C=-1.0), "C", "range (0.0, inf]", "-1.0"),
    ("svc-kernel", _param(2, kernel="rbff"), "kernel", "'rbf'", "'rbff'"),
    ("svc-gamma", _param(2, gamma="sometimes"), "gamma", "'scale'", "'sometimes'"),
    ("lda-solver", _one(_step("LinearDiscriminantAnalysis", "sklearn.discriminant_analysis", solver="magic")),
     "solver", "'lsqr'", "'magic'"),
    ("lda-shrinkage", _one(_step("LinearDiscriminantAnalysis", "sklearn.discriminant_analysis", solver="lsqr",
                                 shrinkage=2.0)), "shrinkage", "range [0.0, 1.0]", "2.0"),
    ("lr-penalty", _one(_step("LogisticRegression", "sklearn.linear_model", penalty="l3")), "penalty", "'l2'",
     "'l3'"),
    ("lr-max-iter", _one(_step("LogisticRegression", "sklearn.linear_model", max_iter=-5)), "max_iter",
     "range [0, inf)", "-5"),
    ("pca-n-components", _one(_step("PCA", "sklearn.decomposition", n_components=-2)), "n_components", "range",
     "-2"),
    ("scaler-with-mean", _one(_step("StandardScaler", "sklearn.preprocessing", with_mean="no")), "with_mean",
     "bool", "'no'"),
    ("xdawncov-nfilter", _one(_step("XdawnCovariances", "pyriemann.estimation", nfilter=0)), "nfilter",
     "range [1, inf)", "0"),
    ("xdawncov-estimator", _one(_step("XdawnCovariances", "pyriemann.estimation", xdawn_estimator="bad")),
     "xdawn_estimator", "'scm'", "'bad'"),
    ("erpcov-estimator", _one(_step("ERPCovariances", "pyriemann.estimation", estimator="bad")), "estimator",
     "'lwf'", "'bad'"),
    ("xdawn-nfilter", _one(_step("Xdawn", "pyriemann.spatialfilters", nfilter=-1)), "nfilter", "range [1, inf)",
     "-1"),
    ("mne-csp-components", _one(_step("CSP", "mne.decoding", n_components=0)), "n_components", "range [1, inf)",
     "0"),
    ("mne-csp-cov-est", _one(_step("CSP", "mne.decoding", cov_est="fancy")), "cov_est", "'concat'", "'fancy'"),
    ("mne-csp-reg", _one(_step("CSP", "mne.decoding", reg=3.0)), "reg", "range [0.0, 1.0]", "3.0"),
    ("trca-method", _one(_step("SSVEP_TRCA", "moabb.pipelines.classification", method="x")), "method",
     "'original'", "'x'"),
    ("cca-harmonics", _one(_step("SSVEP_CCA", "moabb.pipelines.classification", n_harmonics=0)), "n_harmonics",
     "range [1, inf)", "0"),
    ("msetcca-filters", _one(_step("SSVEP_MsetCCA", "moabb.pipelines.classification", n_filters=0)), "n_filters",
     "range [1, inf)", "0"),
    ("acm-order", _one(_step("AugmentedCovariances", "neurosig.riemann.augmented", order=0)), "order",
     "range [1, inf)", "0"),
    ("acm-lag", _one(_step("AugmentedCovariances", "neurosig.riemann.augmented", lag=-1)), "lag",
     "range [1, inf)", "-1"),
    ("acm-estimator", _one(_step("AugmentedCovariances", "neurosig.riemann.augmented", estimator="x")),
     "estimator", "'cov'", "'x'"),
    ("ea-shrinkage", _one(_step("EuclideanAlignment", "neurosig.riemann.transfer", shrinkage=2)), "shrinkage",
     "range [0.0, 1.0]", "2"),
    ("rc-metric", _one(_step("RiemannianRecentering", "neurosig.riemann.transfer", metric="cosine")), "metric",
     "'riemann'", "'cosine'"),
    ("eegnet-max-epochs", _one(_step("EEGNet", "neurosig.models.cnn", max_epochs=0)), "max_epochs",
     "positive integers", "0"),
    ("eegnet-lr", _one(_step("EEGNet", "neurosig.models.cnn", lr=-0.1)), "lr", "positive numbers", "-0.1"),
    ("eegnet-val-fraction", _one(_step("EEGNet", "neurosig.models.cnn", val_fraction=1.5)), "val_fraction",
     "[0, 1)", "1.5"),
]
def _key_of_value(doc, name):
    j = next(j for j, s in enumerate(doc["pipeline"]) if name in (s.get("parameters") or {}))
    return f"pipeline[{j}].parameters.{name}"


GRID = [
    ("grid-misspelled", _with(param_grid={"svc__CC": [1]}), "param_grid.svc__CC", "a parameter of 'svc'",
     "'svc__CC'"),
    ("grid-unknown-step", _with(param_grid={"svm__C": [1]}), "param_grid.svm__C",
     "a step of this pipeline (['covariances', 'tangentspace', 'svc'])", "'svm__C'"),
    ("grid-no-step", _with(param_grid={"C": [1]}), "param_grid.C", "a step of this pipeline", "'C'"),
    ("grid-close-name", _with(param_grid={"svc__kernal": ["rbf"]}), "param_grid.svc__kernal",
     "Did you mean ['svc__kernel'", "'svc__kernal'"),
    ("grid-bad-value", _with(param_grid={"svc__C": [1.0, -1.0]}), "param_grid.svc__C", "range (0.0, inf]", "-1.0"),
    ("grid-bad-estimator", _with(param_grid={"covariances__estimator": ["oas", "nonexistent"]}),
     "param_grid.covariances__estimator", "'oas'", "'nonexistent'"),
    ("grid-bad-metric", _with(param_grid={"tangentspace__metric": ["cosine"]}), "param_grid.tangentspace__metric",
     "'riemann'", "'cosine'"),
    ("grid-bad-kernel", _with(param_grid={"svc__kernel": ["linear", "rbff"]}), "param_grid.svc__kernel", "'rbf'",
     "'rbff'"),
]

CASES = STRUCTURE + CLASSES + NAMES + [(i, doc, _key_of_value(doc, k), a, g) for i, doc, k, a, g in VALUES] + GRID


def _write(tmp_path: Path, doc) -> Path:
    path = tmp_path / "bad_pipeline.yml"
    path.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
    return path


def _check_message(msg: str, path: Path, key: str, allowed: str, given: str) -> None:
    assert str(path) in msg, msg
    assert key in msg, (key, msg)
    assert allowed in msg, (allowed, msg)
    assert given in msg, (given, msg)


@pytest.mark.parametrize("doc, key, allowed, given", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_pipeline_file_refused_when_read(tmp_path, doc, key, allowed, given):
    path = _write(tmp_path, doc)
    with pytest.raises(PipelineFileError) as info:
        load_pipeline_file(path)
    _check_message(str(info.value), path, key, allowed, given)
    assert isinstance(info.value, SchemaError) and info.value.source == str(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad_pipeline.yml"]  # nothing written


SOURCE_CASES = [
    ("python-tag", "!!python/object/apply:os.system ['echo hi']\n", "YAML tag '!!python/object/apply:os.system'",
     "plain data"),
    ("python-tag-nested", "name: x\npipeline:\n  - !!python/name:os.system\n", "YAML tag '!!python/name:os.system'",
     "plain data"),
    ("not-yaml", "name: [unclosed\n", "not valid YAML", "line"),
    ("tabs", "name: x\n\tparadigms: y\n", "not valid YAML", "line"),
]


@pytest.mark.parametrize("text, what, allowed", [c[1:] for c in SOURCE_CASES], ids=[c[0] for c in SOURCE_CASES])
def test_unreadable_pipeline_file_one_line(tmp_path, text, what, allowed):
    path = _write(tmp_path, text)
    with pytest.raises(PipelineFileError) as info:
        load_pipeline_file(path)
    msg = str(info.value)
    assert str(path) in msg and what in msg and allowed in msg and "\n" not in msg


def test_binary_and_python_and_missing_files(tmp_path):
    binary = tmp_path / "b.yml"
    binary.write_bytes(b"\xff\xfe\x00\x01" * 8)
    with pytest.raises(PipelineFileError, match=r"b\.yml.*not a text \(UTF-8\) file"):
        load_pipeline_file(binary)
    code = tmp_path / "FBCSP.py"
    code.write_text("import os\nos.system('echo hi')\n")
    with pytest.raises(PipelineFileError, match=r"FBCSP\.py.*Python pipeline files are not loaded \(they run "
                                                r"code\); write the pipeline as YAML"):
        load_pipeline_file(code)
    with pytest.raises(FileNotFoundError, match=r"'pipelines' parameter.*nope\.yml.*neither"):
        load_pipelines(tmp_path / "nope.yml")


def test_folder_with_unsupported_files_lists_all_then_skips(tmp_path):
    (tmp_path / "good.yml").write_text(yaml.safe_dump(GOOD))
    (tmp_path / "code.py").write_text("print('hi')\n")
    (tmp_path / "aug.yml").write_text(yaml.safe_dump(_one(_step("AugmentedDataset", "moabb.pipelines.features"))))
    (tmp_path / "README.md").write_text("not a pipeline\n")
    with pytest.raises(PipelineFileError) as info:
        load_pipelines(tmp_path)
    msg = str(info.value)
    assert "2 of 3 pipeline files cannot be used" in msg and "code.py" in msg and "aug.yml" in msg
    assert "--skip-unsupported" in msg
    specs = load_pipelines(tmp_path, skip_unsupported=True)
    assert [s.name for s in specs] == ["TS+SVM"]
    verdicts = {v.path.name: v for v in check_pipeline_files(tmp_path)}
    assert set(verdicts) == {"good.yml", "code.py", "aug.yml"} and verdicts["good.yml"].spec is not None


BENCH_CASES = ["os-system", "csp-nfilter-neg", "cov-estimator", "svc-kernal", "grid-misspelled",
               "augmented-dataset", "step-unknown-key"]


@pytest.mark.parametrize("case", BENCH_CASES)
def test_benchmark_refuses_bad_pipeline_before_any_work(tmp_path, capsys, case):
    doc, key, allowed, given = next(c[1:] for c in CASES if c[0] == case)
    path = _write(tmp_path, doc)
    db, out = tmp_path / "res" / "r.sqlite", tmp_path / "out"
    rc = main(["-q", "benchmark", "--pipelines", str(path), "--results", str(db), "--out", str(out),
               "--subjects", "1", "--no-plots"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    _check_message(err, path, key, allowed, given)
    assert not db.exists() and not db.parent.exists() and not out.exists()


def test_pipelines_check_cli(tmp_path, capsys):
    (tmp_path / "good.yml").write_text(yaml.safe_dump(GOOD))
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(_param(0, estimator="nonexistent")))
    (tmp_path / "x.py").write_text("print('hi')\n")
    assert main(["pipelines", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "good.yml: ok ('TS+SVM'" in out
    assert "bad.yml: refused: invalid value for 'pipeline[0].parameters.estimator'" in out and "'nonexistent'" in out
    assert "x.py: refused: Python pipeline files are not loaded" in out
    assert "1 ok, 2 refused of 3" in out
    assert main(["pipelines", "check", "--skip-unsupported", str(tmp_path)]) == 0
    assert "x.py: skipped: Python" in capsys.readouterr().out


@pytest.mark.slow
def test_benchmark_skip_unsupported_runs_the_rest(tmp_path, capsys):
    import shutil

    from neurosig._resources import resource_dir

    folder = tmp_path / "pipes"
    folder.mkdir()
    shutil.copy(resource_dir("pipelines") / "default" / "csp_lda.yml", folder)
    (folder / "FBCSP.py").write_text("import os\n")
    (folder / "aug.yml").write_text(yaml.safe_dump(_one(_step("AugmentedDataset", "moabb.pipelines.features"))))
    db, out = tmp_path / "r.sqlite", tmp_path / "out"
    argv = ["-q", "benchmark", "--pipelines", str(folder), "--results", str(db), "--out", str(out),
            "--subjects", "1", "--no-plots", "--n-permutations", "0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "2 of 3 pipeline files cannot be used" in err and "FBCSP.py" in err and "aug.yml" in err
    assert not db.exists() and not out.exists()
    assert main([*argv, "--skip-unsupported"]) == 0
    text = capsys.readouterr().out
    assert text.count("skipped: ") == 2 and "FBCSP.py" in text and "AugmentedCovariances" in text
    from neurosig.evaluation.results import ResultStore
    with ResultStore(db) as store:
        assert set(store.to_frame().pipeline) == {"CSP+LDA"}
