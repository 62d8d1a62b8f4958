"""Bad job and config files (decode-fmri, pretrain, finetune): refused before any work.

Each case runs the real command (not a dry run) with NEUROSIG_DEBUG=1 so the exception itself
comes back; it must be a schema error (or FileNotFoundError) whose message names the file, the
key, what is allowed and what was given, and the command must have written nothing.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurosig._schema import SchemaError
from neurosig.cli.main import main

CH = ["C3", "Cz", "C4", "Pz", "O1", "O2", "F3", "F4"]


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIG_DEBUG", "1")
    rng = np.random.default_rng(0)
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "unlabelled.npy", rng.standard_normal((12, 8, 64)).astype("float32"))
    np.savez(tmp_path / "data" / "labelled.npz", X=rng.standard_normal((12, 8, 64)).astype("float32"),
             y=np.array([0, 1] * 6))
    np.save(tmp_path / "features.npy", rng.standard_normal((20, 3)).astype("float32"))
    (tmp_path / "nsd").mkdir()
    return tmp_path


def _edit(doc: dict, path: str, value) -> dict:
    """Copy of ``doc`` with the key at ``a.b.c`` set to ``value`` (removed when value is ``...``)."""
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    d = doc
    for k in parents:
        d = d[int(k)] if isinstance(d, list) else d.setdefault(k, {})
    if value is ...:
        d.pop(last, None)
    elif isinstance(d, list):
        d[int(last)] = value
    else:
        d[last] = value
    return doc


def _nothing_written(folder: Path, before: set) -> None:
    assert {p.relative_to(folder) for p in folder.rglob("*")} == before


def _run_refused(folder: Path, argv_of, doc: dict, key: str, allowed: str, given: str, exc=SchemaError):
    job = folder / "job.yml"
    job.write_text(yaml.safe_dump(doc))
    before = {p.relative_to(folder) for p in folder.rglob("*")}
    with pytest.raises(exc) as info:
        main(argv_of(job))
    msg = str(info.value)
    for part in (str(job) if exc is SchemaError else "", key, allowed, given):
        assert part in msg, (part, msg)
    _nothing_written(folder, before)


# ------------------------------------------------------------------------------------------- pretrain

PRETRAIN = {"data": {"path": "data/unlabelled.npy", "ch_names": CH, "sfreq": 128},
            "encoder": {"arch": "bimamba", "size": "nano"},
            "training": {"max_epochs": 1, "batch_size": 4}, "output": "runs/pre", "resume": True}

PRETRAIN_CASES = [
    ("unknown-top", "optimizer", {"lr": 1}, "unknown key(s) ['optimizer'] in 'pretrain'", "Allowed keys", "optimizer"),
    ("unknown-training", "training.learning_rate", 0.1, "in 'training'", "'lr'", "learning_rate"),
    ("unknown-encoder", "encoder.depth", 3, "in 'encoder'", "'n_blocks'", "depth"),
    ("unknown-data", "data.channels", CH, "in 'data'", "Did you mean ['ch_names']", "channels"),
    ("missing-data", "data", ..., "missing the required key 'data'", "pretrain", "data"),
    ("missing-output", "output", ..., "missing the required key 'output'", "pretrain", "output"),
    ("missing-encoder", "encoder", ..., "missing the required key 'encoder'", "pretrain", "encoder"),
    ("missing-path", "data.path", ..., "missing the required key 'path' in 'data'", "data", "path"),
    ("data-not-mapping", "data", "x.npy", "'data'", "mappings with keys", "'x.npy'"),
    ("epochs-zero", "training.max_epochs", 0, "'training.max_epochs'", "positive integers", "0"),
    ("epochs-string", "training.max_epochs", "10", "'training.max_epochs'", "integers", "'10'"),
    ("former-seed-neg", "training.seed", -1, "'training.seed'", "integers >= 0", "-1"),
    ("former-and-new", "training.epochs", 3, "'training.epochs'", "only one of 'training.max_epochs'", "3"),
    ("batch-neg", "training.batch_size", -4, "'training.batch_size'", "positive integers", "-4"),
    ("lr-neg", "training.lr", -0.01, "'training.lr'", "positive numbers", "-0.01"),
    ("lr-string", "training.lr", "1e-3", "'training.lr'", "numbers", "'1e-3'"),
    ("mask-ratio", "training.mask_ratio", 1.5, "'training.mask_ratio'", "(0.0, 1.0)", "1.5"),
    ("amp", "training.amp", "fast", "'training.amp'", "'auto'", "'fast'"),
    ("scaling", "training.scaling", "minmax", "'training.scaling'", "'zscore'", "'minmax'"),
    ("val-fraction", "training.val_fraction", 2.0, "'training.val_fraction'", "(0, 1.0) incl. 0", "2.0"),
    ("arch", "encoder.arch", "cnn", "'encoder.arch'", "'bimamba', 'transformer'", "'cnn'"),
    ("size", "encoder.size", "enormous", "'encoder.size'", "'nano'", "'enormous'"),
    ("embed-dim", "encoder.embed_dim", 0, "'encoder.embed_dim'", "integers >= 1", "0"),
    ("recompute", "encoder.recompute", "yes", "'encoder.recompute'", "true or false", "'yes'"),
    ("resume", "resume", "yes", "'resume'", "true or false", "'yes'"),
    ("sfreq-neg", "data.sfreq", -128, "'data.sfreq'", "numbers > 0", "-128"),
    ("ch-names-empty", "data.ch_names", [], "'data.ch_names'", "a non-empty list of strings", "[]"),
    ("ch-names-ints", "data.ch_names", [1, 2], "'data.ch_names[0]'", "strings", "1"),
    ("output-list", "output", ["a"], "'output'", "strings", "['a']"),
]


@pytest.mark.parametrize("key, value, where, allowed, given", [c[1:] for c in PRETRAIN_CASES],
                         ids=[c[0] for c in PRETRAIN_CASES])
def test_pretrain_file_refused(folder, key, value, where, allowed, given):
    _run_refused(folder, lambda job: ["-q", "pretrain", str(job)], _edit(PRETRAIN, key, value), where, allowed,
                 given)


def test_pretrain_former_training_keys(folder):
    """``training.epochs`` / ``training.seed`` (former names) still work for one release, with a
    FutureWarning, and their errors name the key the file used."""
    doc = _edit(_edit(PRETRAIN, "training.max_epochs", ...), "training.epochs", 0)
    with pytest.warns(FutureWarning, match="'training.epochs' was renamed 'training.max_epochs'"):
        _run_refused(folder, lambda job: ["-q", "pretrain", str(job)], doc, "'training.epochs'",
                     "positive integers", "0")


def test_pretrain_missing_data_file(folder):
    _run_refused(folder, lambda job: ["-q", "pretrain", str(job)], _edit(PRETRAIN, "data.path", "data/nope.npy"),
                 "'data.path'", "does not exist", "nope.npy", exc=FileNotFoundError)


# ------------------------------------------------------------------------------------------- finetune

FINETUNE = {"data": {"path": "data/labelled.npz", "ch_names": CH, "sfreq": 128},
            "split": {"test_size": 0.25, "random_state": 0}, "model": {"max_epochs": 1, "batch_size": 4},
            "modes": ["finetune"], "seeds": [0], "scoring": "balanced_accuracy", "output": "runs/ft.json",
            "results_db": "runs/results.sqlite"}

FINETUNE_CASES = [
    ("unknown-top", "optimizer", {"lr": 1}, "unknown key(s) ['optimizer'] in 'finetune'", "Allowed keys", "optimizer"),
    ("unknown-split", "split.folds", 3, "in 'split'", "'test_size'", "folds"),
    ("missing-output", "output", ..., "missing the required key 'output'", "finetune", "output"),
    ("missing-data", "data", ..., "missing the required key 'data'", "finetune", "data"),
    ("modes-bad", "modes", ["probe"], "'modes", "'finetune'", "'probe'"),
    ("modes-empty", "modes", [], "'modes'", "non-empty", "[]"),
    ("seeds-neg", "seeds", [-1], "'seeds[0]'", "integers >= 0", "-1"),
    ("seeds-empty", "seeds", [], "'seeds'", "a non-empty list", "[]"),
    ("seeds-string", "seeds", "0 1 2", "'seeds'", "a non-empty list", "'0 1 2'"),
    ("scoring", "scoring", "accuracy_score", "'scoring'", "scikit-learn scorer names", "'accuracy_score'"),
    ("test-size-big", "split.test_size", 1.5, "'split.test_size'", "numbers > 0 and < 1", "1.5"),
    ("test-size-zero", "split.test_size", 0, "'split.test_size'", "numbers > 0 and < 1", "0"),
    ("split-random-state", "split.random_state", -3, "'split.random_state'", "integers >= 0", "-3"),
    ("former-split-seed-neg", "split.seed", -1, "'split.seed'", "integers >= 0", "-1"),
    ("former-split-and-new", "split.seed", 3, "'split.seed'", "only one of 'split.random_state'", "3"),
    ("model-unknown", "model.learning_rate", 0.1, "'model.learning_rate'", "parameters of FoundationClassifier",
     "'learning_rate'"),
    ("model-close", "model.max_epoch", 3, "'model.max_epoch'", "Did you mean ['max_epochs']", "'max_epoch'"),
    ("model-job-set", "model.seed", 3, "'model.seed'", "the job sets those", "'seed'"),
    ("model-mode", "model.mode", "finetune", "'model.mode'", "the job sets those", "'mode'"),
    ("model-head", "model.head", "deep", "'model.head'", "'linear'", "'deep'"),
    ("model-encoder", "model.encoder", "cnn", "'model.encoder'", "'bimamba'", "'cnn'"),
    ("model-max-epochs", "model.max_epochs", 0, "'model.max_epochs'", "positive integers", "0"),
    ("model-lr", "model.lr", -1.0, "'model.lr'", "positive numbers", "-1.0"),
    ("model-not-mapping", "model", ["lr"], "'model'", "mappings of names", "['lr']"),
    ("results-db-int", "results_db", 3, "'results_db'", "strings or null", "3"),
]


@pytest.mark.parametrize("key, value, where, allowed, given", [c[1:] for c in FINETUNE_CASES],
                         ids=[c[0] for c in FINETUNE_CASES])
def test_finetune_file_refused(folder, key, value, where, allowed, given):
    _run_refused(folder, lambda job: ["-q", "finetune", str(job)], _edit(FINETUNE, key, value), where, allowed,
                 given)



def test_finetune_former_split_seed(folder, capsys):
    """``split.seed`` (former name of ``split.random_state``) still works for one release, with a
    FutureWarning, and gives the same split settings."""
    from neurosig.cli._jobfile import FinetuneFileSchema, check_split, read_job

    job = folder / "job.yml"
    job.write_text(yaml.safe_dump(_edit(_edit(FINETUNE, "split.random_state", ...), "split.seed", 5)))
    with pytest.warns(FutureWarning, match="'split.seed' was renamed 'split.random_state'"):
        assert main(["finetune", str(job), "--dry-run"]) == 0
    assert "is valid: 9 train / 3 test windows" in capsys.readouterr().out
    with pytest.warns(FutureWarning):
        old = check_split(read_job(str(job), FinetuneFileSchema, "finetune")[0], job)
    job.write_text(yaml.safe_dump(_edit(FINETUNE, "split.random_state", 5)))
    assert check_split(read_job(str(job), FinetuneFileSchema, "finetune")[0], job) == old
    assert old == {"test_size": 0.25, "random_state": 5}


# ------------------------------------------------------------------------------------------- decode-fmri

def _fmri(folder: Path) -> dict:
    return {"dataset": {"type": "nsd", "root": str(folder / "nsd")}, "subjects": [1],
            "rois": ["prf-visualrois:V1v"],
            "targets": [{"type": "coco", "categories": ["person"]},
                        {"type": "features", "path": "features.npy", "name": "feat"}],
            "models": ["ridge", "logistic"], "analyses": ["decoding"], "cv": {"scheme": "group-kfold", "n_splits": 3},
            "results": "out/res.sqlite", "output_dir": "out", "verbose": False}


FMRI_CASES = [
    ("unknown-top", "colour", "blue", "unknown key(s) ['colour'] in 'job'", "Allowed keys", "colour"),
    ("unknown-cv", "cv.folds", 3, "unknown key(s) ['folds'] in 'cv'", "'n_splits'", "folds"),
    ("unknown-prep", "preprocessing.smooth", 4, "in 'preprocessing'", "'zscore'", "smooth"),
    ("unknown-dataset", "dataset.subject", 1, "in 'dataset'", "'root'", "subject"),
    ("missing-results", "results", ..., "missing the required key 'results' in 'job'", "job", "results"),
    ("missing-rois", "rois", ..., "missing the required key 'rois' in 'job'", "job", "rois"),
    ("missing-root", "dataset.root", ..., "missing the required key 'root' in 'dataset'", "dataset", "root"),
    ("rois-empty", "rois", [], "'rois'", "a non-empty list of strings", "[]"),
    ("rois-string", "rois", "V1", "'rois'", "a non-empty list of strings", "'V1'"),
    ("dataset-type", "dataset.type", "bids", "'dataset.type'", "'nsd', 'nifti'", "'bids'"),
    ("dataset-string", "dataset", "nsd", "'dataset'", "mappings of names", "'nsd'"),
    ("space", "dataset.space", "mni", "'dataset.space'", "'func1pt8mm'", "'mni'"),
    ("betas", "dataset.betas", "raw", "'dataset.betas'", "'betas_fithrf'", "'raw'"),
    ("mesh-volume", "dataset.mesh", "fsaverage5", "'dataset.mesh'", "a surface space", "'fsaverage5'"),
    ("subject-9", "subjects", [9], "'subjects[0]'", "NSD subjects 1, 2, ..., 8", "9"),
    ("subject-0", "subjects", [0], "'subjects[0]'", "NSD subjects 1, 2, ..., 8", "0"),
    ("subject-string", "subjects", ["one"], "'subjects[0]'", "integers", "'one'"),
    ("subjects-empty", "subjects", [], "'subjects'", "a non-empty list", "[]"),
    ("targets-empty", "targets", [], "'targets'", "a non-empty list", "[]"),
    ("target-type", "targets.0.type", "imagenet", "'targets[0].type'", "'coco', 'features', 'events'",
     "'imagenet'"),
    ("coco-no-categories", "targets.0.categories", ..., "missing the required key 'categories' in 'targets[0]'",
     "targets[0]", "categories"),
    ("coco-empty", "targets.0.categories", [], "'targets[0].categories'", "a non-empty list", "[]"),
    ("coco-unknown", "targets.0.colour", "red", "in 'targets[0]'", "'categories'", "colour"),
    ("features-suffix", "targets.1.path", "features.csv", "'targets[1].path'", ".npy, .h5 or .hdf5",
     "features.csv"),
    ("events-nsd", "targets.0", {"type": "events"}, "'targets[0].type'", "'coco' or 'features' for an NSD",
     "'events'"),
    ("model-unknown", "models", ["xgboost"], "'models[0].name'", "'ridge', 'logistic', 'svm', 'decoder'",
     "'xgboost'"),
    ("model-param", "models", [{"name": "logistic", "alpha": 3}], "in 'models[0]'", "'C'", "alpha"),
    ("ridge-negative-alpha", "models", [{"name": "ridge", "alphas": [1.0, -10.0]}], "'models[0].alphas[1]'",
     "numbers > 0", "-10.0"),
    ("ridge-zero-alpha", "models", [{"name": "ridge", "alphas": [0]}], "'models[0].alphas[0]'", "numbers > 0",
     "0"),
    ("ridge-empty-alphas", "models", [{"name": "ridge", "alphas": []}], "'models[0].alphas'", "a non-empty list",
     "[]"),
    ("ridge-inner-cv", "models", [{"name": "ridge", "inner_cv": 1}], "'models[0].inner_cv'", "integers >= 2", "1"),
    ("logistic-c", "models", [{"name": "logistic", "C": -1}], "'models[0].C'", "numbers > 0", "-1"),
    ("svm-max-iter", "models", [{"name": "svm", "max_iter": 0}], "'models[0].max_iter'", "integers >= 1", "0"),
    ("decoder-estimator", "models", [{"name": "decoder", "estimator": "xgb"}], "'models[0].estimator'", "'svc'",
     "'xgb'"),
    ("decoder-screening", "models", [{"name": "decoder", "screening_percentile": 0}],
     "'models[0].screening_percentile'", "numbers > 0 and <= 100", "0"),
    ("model-int", "models", [3], "'models'", "a non-empty list of strings or mappings", "[3]"),
    ("cv-scheme", "cv.scheme", "loo", "'cv.scheme'", "'group-kfold', 'shared'", "'loo'"),
    ("cv-splits", "cv.n_splits", 1, "'cv.n_splits'", "integers >= 2", "1"),
    ("prep-zscore", "preprocessing.zscore", "yes", "'preprocessing.zscore'", "true or false", "'yes'"),
    ("prep-sessions", "preprocessing.sessions", [0], "'preprocessing.sessions[0]'", "integers >= 1", "0"),
    ("analyses", "analyses", ["decode"], "'analyses", "'decoding', 'encoding'", "'decode'"),
    ("seed", "seed", -1, "'seed'", "integers >= 0", "-1"),
    ("plots-no-dir", "output_dir", ..., "'output_dir'", "a folder when 'plots' or 'maps' is true", "None"),
    ("verbose", "verbose", "loud", "'verbose'", "true or false", "'loud'"),
]


@pytest.mark.parametrize("key, value, where, allowed, given", [c[1:] for c in FMRI_CASES],
                         ids=[c[0] for c in FMRI_CASES])
def test_decode_fmri_job_refused(folder, key, value, where, allowed, given):
    doc = _fmri(folder)
    if key == "output_dir":
        doc["plots"] = True
    _run_refused(folder, lambda job: ["-q", "decode-fmri", str(job)], _edit(doc, key, value), where, allowed, given)


def test_decode_fmri_missing_features_file(folder):
    _run_refused(folder, lambda job: ["-q", "decode-fmri", str(job)],
                 _edit(_fmri(folder), "targets.1.path", "nope.npy"), "targets[1].path", "", "nope.npy",
                 exc=FileNotFoundError)


def test_base_documents_are_valid(folder, capsys):
    """The documents the cases start from pass: each case is refused for its own key."""
    for name, doc, argv in (("p.yml", PRETRAIN, ["pretrain", "--dry-run"]),
                            ("f.yml", FINETUNE, ["finetune", "--dry-run"]),
                            ("d.yml", _fmri(folder), ["decode-fmri", "--check"])):
        (folder / name).write_text(yaml.safe_dump(doc))
        assert main([argv[0], str(folder / name), argv[1]]) == 0
    assert capsys.readouterr().out.count("is valid") == 3


# ------------------------------------------------------------------------------------------- YAML tags

TAG = "a: !!python/object/apply:os.system ['echo owned > owned.txt']\n"
COMMANDS = [("decode-fmri", ["decode-fmri"]), ("pretrain", ["pretrain"]), ("finetune", ["finetune"]),
            ("rsa", ["rsa"]), ("benchmark", ["benchmark", "--pipelines"]), ("pipelines-check", ["pipelines", "check"])]


@pytest.mark.parametrize("argv", [c[1] for c in COMMANDS], ids=[c[0] for c in COMMANDS])
def test_python_tag_refused_in_one_line(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "job.yml"
    bad.write_text(TAG)
    rc = main([*argv, str(bad)])
    captured = capsys.readouterr()
    text = captured.err + captured.out
    assert rc in (1, 2) and "Traceback" not in text
    line = next(ln for ln in text.splitlines() if "YAML tag" in ln)
    assert str(bad) in line and "'!!python/object/apply:os.system'" in line and "plain data" in line
    assert not (tmp_path / "owned.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.yml"]
