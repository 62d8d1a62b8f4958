"""Bad RSA job files (RDM-file jobs and brain-versus-model grid jobs): refused before any work.

Each case runs the real command ``neurosig rsa JOB.yml`` with NEUROSIG_DEBUG=1 so the
exception itself comes back: it must be a schema error (a missing file: also a
FileNotFoundError) whose message names the file, the key, what is allowed and what was
given, and the command must have written nothing (no results store, no output folder).
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurosig._schema import SchemaError
from neurosig.cli.main import main
from neurosig.evaluation.rsa import calc_rdm
from neurosig.evaluation.rsa.job import MissingFileError


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIG_DEBUG", "1")
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(6, 4))
    rdms = calc_rdm(truth[None] + 0.5 * rng.normal(size=(4, 6, 4)))
    np.savez(tmp_path / "brain.npz", rdms=rdms, subjects=np.array([0, 0, 1, 1]))
    np.savez(tmp_path / "models.npz", good=calc_rdm(truth), noise=calc_rdm(rng.normal(size=(6, 4))))
    np.savez(tmp_path / "brain_rdms.npz", rdms=rdms, subjects=np.array(["a", "a", "b", "b"]))
    np.save(tmp_path / "code.npy", truth)
    (tmp_path / "epochs.npz").write_bytes(b"")  # only needs to exist: refused before it is read
    (tmp_path / "notes.sqlite").write_text("my notes")
    (tmp_path / "a_folder.sqlite").mkdir()
    return tmp_path


def _edit(doc: dict, path: str, value) -> dict:
    """Copy of ``doc`` with the key at ``a.b.c`` set to ``value`` (``a.0.b`` indexes a list)."""
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    d = doc
    for k in parents:
        d = d[int(k)] if isinstance(d, list) else d.setdefault(k, {})
    if isinstance(d, list):
        d[int(last)] = value
    else:
        d[last] = value
    return doc


def _files(folder: Path) -> dict:
    return {p.relative_to(folder): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


def _refused(folder: Path, doc: dict, key: str, allowed: str, given: str, exc=SchemaError):
    job = folder / "job.yml"
    job.write_text(yaml.safe_dump(doc))
    before = _files(folder)
    with pytest.raises(exc) as info:
        main(["-q", "rsa", str(job)])
    msg = str(info.value)
    assert isinstance(info.value, SchemaError)
    for part in (str(job), key, allowed, given):
        assert part in msg, (part, msg)
    assert info.value.source == str(job)
    # nothing written: no results store, no output folder, every file as it was
    assert _files(folder) == before
    assert not (folder / "out").exists()
    assert not list(folder.rglob("results.sqlite"))
    assert (folder / "notes.sqlite").read_text() == "my notes"


# ------------------------------------------------------------------------------------ RDM-file job

RDM_JOB = {"name": "toy", "data": {"path": "brain.npz", "key": "rdms", "subjects_key": "subjects"},
           "models": {"path": "models.npz"}, "method": "spearman",
           "transform": {"kind": "geotopological", "low": 0.1, "up": 0.9},
           "bootstrap": {"n": 20, "seed": 0}, "output": {"dir": "out"}}

RDM_CASES = [
    ("name-traversal", "name", "../../../elsewhere/x", "'name'", "letters, digits", "'../../../elsewhere/x'"),
    ("name-slash", "name", "a/b", "'name'", "no '..'", "'a/b'"),
    ("name-hidden", "name", ".hidden", "'name'", "starting with a letter or digit", "'.hidden'"),
    ("name-dotdot", "name", "a..b", "'name'", "no '..'", "'a..b'"),
    ("name-number", "name", 5, "'name'", "strings", "5"),
    ("method", "method", "pearson", "'method'", "'spearman'", "'pearson'"),
    ("transform-kind", "transform.kind", "log", "'transform.kind'", "'geotopological'", "'log'"),
    ("transform-low-range", "transform.low", 1.5, "'transform.low'", ">= 0 and <= 1", "1.5"),
    ("transform-up-range", "transform.up", -0.1, "'transform.up'", ">= 0 and <= 1", "-0.1"),
    ("transform-low-above-up", "transform", {"kind": "geodesic", "low": 0.8, "up": 0.2}, "'transform.low'",
     "<= transform.up (0.2)", "0.8"),
    ("transform-up-missing", "transform", {"kind": "geodesic", "low": 0.1}, "'transform.up'",
     "required for kind 'geodesic'", "None"),
    ("transform-pooled", "transform.pooled", "yes", "'transform.pooled'", "true or false", "'yes'"),
    ("bootstrap-zero", "bootstrap.n", 0, "'bootstrap.n'", ">= 1", "0"),
    ("bootstrap-text", "bootstrap.n", "many", "'bootstrap.n'", "integers", "'many'"),
    ("bootstrap-float", "bootstrap.n", 2.5, "'bootstrap.n'", "integers", "2.5"),
    ("bootstrap-seed", "bootstrap.seed", -1, "'bootstrap.seed'", ">= 0", "-1"),
    ("data-key-type", "data.key", 3, "'data.key'", "strings", "3"),
    ("data-not-mapping", "data", ["brain.npz"], "'data'", "mappings with keys", "['brain.npz']"),
    ("unknown-top", "colour", "red", "in 'job'", "Allowed keys are ['name'", "['colour']"),
    ("unknown-data", "data.kee", "rdms", "in 'data'", "Did you mean ['key']", "['kee']"),
    ("output-dir-type", "output.dir", 7, "'output.dir'", "strings", "7"),
    ("results-not-a-store", "output.results", "notes.sqlite", "'output.results'", "neurosig results store",
     "'notes.sqlite'"),
    ("results-a-folder", "output.results", "a_folder.sqlite", "'output.results'", "neurosig results store",
     "'a_folder.sqlite'"),
]


@pytest.mark.parametrize("path, value, key, allowed, given", [c[1:] for c in RDM_CASES],
                         ids=[c[0] for c in RDM_CASES])
def test_bad_rdm_job_refused_before_work(folder, path, value, key, allowed, given):
    _refused(folder, _edit(RDM_JOB, path, value), key, allowed, given)


@pytest.mark.parametrize("path, value", [("data.path", "nope.npz"), ("models.path", "gone/models.npz")])
def test_missing_rdm_job_file_refused_before_work(folder, path, value):
    _refused(folder, _edit(RDM_JOB, path, value), f"'{path}'", "an existing file", repr(value),
             exc=MissingFileError)


# ---------------------------------------------------------------------------------------- grid job

GRID_JOB = {"name": "grid", "brain": {"kind": "rdms", "path": "brain_rdms.npz"},
            "models": [{"kind": "features", "name": "code", "path": "code.npy"}],
            "method": "spearman", "transforms": {"variants": ["geotopological"], "lows": [0.1], "ups": [0.9]},
            "bootstrap": {"n": 20, "seed": 0}, "output": {"dir": "out"}}
EEG = {"kind": "eeg", "epochs": "epochs.npz", "window": 0.5}
TORCH = {"kind": "torch", "name": "t", "module": "torch.nn:Linear", "layers": ["x"]}

GRID_CASES = [
    ("name-traversal", "name", "../x", "'name'", "letters, digits", "'../x'"),
    ("brain-kind", "brain.kind", "meg", "'brain.kind'", "'eeg', 'nsd', 'fmri', 'rdms'", "'meg'"),
    ("brain-not-mapping", "brain", "eeg", "'brain'", "mappings", "'eeg'"),
    ("brain-unknown", "brain.colour", "red", "in 'brain'", "Allowed keys are ['kind'", "['colour']"),
    ("brain-name", "brain.name", "a/b", "'brain.name'", "letters, digits", "'a/b'"),
    ("eeg-window", "brain", dict(EEG, window=-1.0), "'brain.window'", "> 0", "-1.0"),
    ("eeg-noise", "brain", dict(EEG, noise="bogus"), "'brain.noise'", "'shrinkage_diag'", "'bogus'"),
    ("eeg-distance", "brain", dict(EEG, distance="manhattan"), "'brain.distance'", "'crossnobis'", "'manhattan'"),
    ("eeg-folds", "brain", dict(EEG, folds="random"), "'brain.folds'", "'run'", "'random'"),
    ("eeg-no-data", "brain", {"kind": "eeg", "dataset": "PhysionetMI"}, "'brain.epochs'",
     "both 'dataset' and 'paradigm'", "None"),
    ("nsd-subject", "brain", {"kind": "nsd", "root": ".", "rois": ["a:b"], "subjects": [9]},
     "'brain.subjects[0]'", "<= 8", "9"),
    ("nsd-min-reps", "brain", {"kind": "nsd", "root": ".", "rois": ["a:b"], "min_reps": 0}, "'brain.min_reps'",
     ">= 1", "0"),
    ("models-empty", "models", [], "'models'", "a non-empty list", "[]"),
    ("models-not-list", "models", {"kind": "features"}, "'models'", "a non-empty list", "{'kind': 'features'}"),
    ("model-kind", "models.0.kind", "cnn", "'models[0].kind'", "'encoder', 'torch', 'tfm', 'features'", "'cnn'"),
    ("model-not-mapping", "models.0", "code.npy", "'models[0]'", "mappings", "'code.npy'"),
    ("model-name", "models.0.name", "../x", "'models[0].name'", "letters, digits", "'../x'"),
    ("model-names-unique", "models", [GRID_JOB["models"][0]] * 2, "'models'", "unique names",
     "['code', 'code']"),
    ("model-unknown", "models.0.layer", "x", "in 'models[0]'", "Allowed keys are ['kind'", "['layer']"),
    ("model-rows", "models.0.rows", "bogus", "'models[0].rows'", "'conditions', 'ids'", "'bogus'"),
    ("model-distance", "models.0.distance", "manhattan", "'models[0].distance'", "'correlation'", "'manhattan'"),
    ("torch-not-allowed", "models", [dict(TORCH, module="os:system")], "'models[0].module'",
     "'torch.nn:Linear'", "'os:system'"),
    ("torch-batch", "models", [dict(TORCH, batch_size=0)], "'models[0].batch_size'", ">= 1", "0"),
    ("torch-layers-empty", "models", [dict(TORCH, layers=[])], "'models[0].layers'", "a non-empty list", "[]"),
    ("distance", "distance", "manhattan", "'distance'", "'correlation'", "'manhattan'"),
    ("method", "method", "pearson", "'method'", "'spearman'", "'pearson'"),
    ("variant", "transforms.variants", ["log"], "'transforms.variants[0]'", "'geodesic'", "'log'"),
    ("low-range", "transforms.lows", [1.5], "'transforms.lows[0]'", ">= 0 and <= 1", "1.5"),
    ("ups-text", "transforms.ups", "0.9", "'transforms.ups'", "a list of numbers", "'0.9'"),
    ("bootstrap-zero", "bootstrap.n", 0, "'bootstrap.n'", ">= 1", "0"),
    ("results-not-a-store", "output.results", "notes.sqlite", "'output.results'", "neurosig results store",
     "'notes.sqlite'"),
]


@pytest.mark.parametrize("path, value, key, allowed, given", [c[1:] for c in GRID_CASES],
                         ids=[c[0] for c in GRID_CASES])
def test_bad_grid_job_refused_before_work(folder, path, value, key, allowed, given):
    _refused(folder, _edit(GRID_JOB, path, value), key, allowed, given)


@pytest.mark.parametrize("path, value, key", [
    ("brain", {"kind": "rdms", "path": "nope.npz"}, "'brain.path'"),
    ("brain", dict(EEG, epochs="gone/epochs.npz"), "'brain.epochs'"),
    ("models.0.path", "nope.npy", "'models[0].path'"),
    ("models", [dict(TORCH, weights="nope.pt")], "'models[0].weights'"),
])
def test_missing_grid_job_file_refused_before_work(folder, path, value, key):
    doc = _edit(GRID_JOB, path, value)
    missing = value if isinstance(value, str) else next(v for k, v in (value[0] if isinstance(value, list)
                                                                      else value).items()
                                                        if k in ("path", "epochs", "weights"))
    _refused(folder, doc, key, "an existing file", repr(missing), exc=MissingFileError)
