"""Brain x model grid jobs: results rows, resume, figures, parallel runs, reference values, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from neurosig.evaluation.results import ResultStore
from neurosig.evaluation.rsa.job import run_config

N_COND = 7


def _epochs(path, n_subj=3, nan=False, n_cond=N_COND, seed=0):
    """Epochs whose channels carry a planted code per condition in samples 16-32 only."""
    rng = np.random.default_rng(seed)
    code = rng.normal(size=(n_cond, 3))
    X, y, subj, run = [], [], [], []
    for s in range(n_subj):
        A = rng.normal(size=(8, 3))
        for r in range(3):
            for c in np.repeat(np.arange(n_cond), 2):
                x = rng.normal(size=(8, 48))
                x[:, 16:32] += 1.5 * (A @ code[c])[:, None]
                X.append(x), y.append(f"c{c}"), subj.append(s + 1), run.append(r)
    X = np.array(X, dtype=np.float32)
    if nan:
        X[0, 0, 0] = np.nan
    np.savez(path / "epochs.npz", X=X, y=np.array(y), subject=np.array(subj), run=np.array(run), sfreq=16.0)
    np.save(path / "code.npy", code)
    np.save(path / "noise.npy", rng.normal(size=(n_cond, 3)))
    return code


def _cfg(**over):
    cfg = {"name": "toy-grid",
           "brain": {"kind": "eeg", "epochs": "epochs.npz", "window": 1.0, "distance": "crossnobis", "folds": "run"},
           "models": [{"kind": "features", "name": "code", "path": "code.npy", "distance": "euclidean"},
                      {"kind": "features", "name": "noise", "path": "noise.npy", "distance": "euclidean"}],
           "method": "spearman",
           "transforms": {"variants": ["geotopological"], "lows": [0.1], "ups": [0.9]},
           "bootstrap": {"n": 30, "seed": 0}, "output": {"dir": "out"}}
    cfg.update(over)
    return cfg


def test_grid_rows_resume_and_figures(tmp_path):
    _epochs(tmp_path)
    res = run_config(_cfg(), base=tmp_path)
    regions = ["+0.469s", "+1.469s", "+2.469s"]
    assert list(dict.fromkeys(res.cells["region"])) == regions
    raw = res.table("raw")
    # the planted code is found in the signal window only, and beats the unrelated features there
    assert raw.loc["code:features", "+1.469s"] > 0.6
    assert raw.loc["code:features", "+1.469s"] > raw.loc["noise:features", "+1.469s"] + 0.4
    assert abs(raw.loc["code:features", "+0.469s"]) < 0.5
    best = res.best[res.best["setting"] == "raw"].set_index("region")
    assert best.loc["+1.469s", "best_layer"] == "code:features"
    assert set(res.identification["setting"]) == {"raw", "geotopological [0.1, 0.9]"}
    out = tmp_path / "out"
    with ResultStore(out / "results.sqlite") as store:
        df = store.to_frame(kind="rsa")
    # 2 settings x 3 regions x (2 layers + best layer) + 2 identification rows
    assert len(df) == 2 * 3 * 3 + 2
    figs = [out / f"toy-grid_{k}.png" for k in ("heatmap", "profiles", "rdms", "identification")]
    assert all(f.stat().st_size > 1000 for f in figs)
    # a crash while writing figures: the rerun recomputes nothing and writes them again
    for f in figs:
        f.unlink()
    mtime = (out / "toy-grid_rdms.npz").stat().st_mtime_ns
    res2 = run_config(_cfg(), base=tmp_path)
    assert all(f.is_file() for f in figs)
    assert (out / "toy-grid_rdms.npz").stat().st_mtime_ns == mtime  # cached RDMs reused
    with ResultStore(out / "results.sqlite") as store:
        assert len(store) == len(df)
    np.testing.assert_allclose(res2.cells["score"], res.cells["score"])


def test_grid_scores_match_rsatoolbox(tmp_path, rsatb):
    _epochs(tmp_path)
    res = run_config(_cfg(transforms={}), base=tmp_path)
    with np.load(tmp_path / "out" / "toy-grid_rdms.npz") as z:
        brain, regions, model = z["brain_rdms"], z["regions"], z["model_rdms"]
        X = np.load(tmp_path / "epochs.npz")
    # brain RDM of subject 1, window 2: rsatoolbox crossnobis with the same noise precision
    from neurosig.evaluation.rsa.brain_sources import _residual_precision

    m = X["subject"] == 1
    seg = X["X"][m][:, :, 16:32].astype(float)
    P = _residual_precision(X["X"][m].astype(float), X["y"][m], 16, 16, "shrinkage_diag")
    ds = rsatb.data.Dataset(seg.mean(axis=2), obs_descriptors={"c": X["y"][m], "r": X["run"][m]})
    ref = rsatb.rdm.calc_rdm(ds, method="crossnobis", descriptor="c", cv_descriptor="r", noise=P)
    np.testing.assert_allclose(brain[(regions == "+1.469s")][0], ref.dissimilarities[0], rtol=1e-6, atol=1e-9)
    # the cell score is rsatoolbox's mean Spearman over subjects
    rdms = rsatb.rdm.RDMs(brain[regions == "+1.469s"])
    sims = rsatb.rdm.compare(rsatb.rdm.RDMs(model[:1]), rdms, method="spearman")
    cell = res.cells[(res.cells["region"] == "+1.469s") & (res.cells["layer"] == "code:features")]
    assert cell["score"].iloc[0] == pytest.approx(float(np.mean(sims)), abs=1e-10)


def test_grid_parallel_equals_sequential(tmp_path):
    _epochs(tmp_path)
    seq = run_config(_cfg(transforms={}, output={"dir": "seq"}), base=tmp_path)
    par = run_config(_cfg(transforms={}, output={"dir": "par"}), base=tmp_path, n_jobs=2, backend="processes")
    np.testing.assert_allclose(par.cells["score"], seq.cells["score"])
    np.testing.assert_allclose(par.cells["ci_low"], seq.cells["ci_low"])


def test_encoder_layers_and_container(tmp_path):
    pytest.importorskip("torch")
    _epochs(tmp_path)
    models = [{"kind": "encoder", "name": "mamba", "arch": "bimamba", "size": "nano", "seed": 0,
               "settings": {"n_blocks": 2}, "layers": ["mamba_blocks", "norm_layers.*"]}]
    res = run_config(_cfg(models=models, transforms={}), base=tmp_path)
    assert set(res.cells["layer"]) == {"mamba:mamba_blocks", "mamba:norm_layers.0", "mamba:norm_layers.1"}
    assert res.cells["score"].notna().all()


# ------------------------------------------------------------------------------ bad input
def _refused(tmp_path, match, **over):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        run_config(_cfg(**over), base=tmp_path)
    assert not (tmp_path / "out" / "results.sqlite").exists() or "results" in match


def test_bad_layer_name_lists_close_names(tmp_path):
    pytest.importorskip("torch")
    _epochs(tmp_path)
    models = [{"kind": "encoder", "name": "mamba", "arch": "bimamba", "size": "nano", "layers": ["mamba_block"]}]
    _refused(tmp_path, r"'layers' parameter of 'mamba'.*Close names: \['mamba_blocks'", models=models)


def test_stimuli_of_another_shape(tmp_path):
    torch = pytest.importorskip("torch")
    from neurosig.models.checkpoints import build_encoder, save_encoder

    _epochs(tmp_path)
    save_encoder(build_encoder("transformer", "nano", n_channels=8, n_times=64), tmp_path / "enc.pt")
    models = [{"kind": "encoder", "name": "tf", "checkpoint": "enc.pt", "layers": ["norm"]}]
    _refused(tmp_path, r"'stimuli' parameter of the model source 'tf'.*\(8, 64\).*\(8, 48\)", models=models)
    torch.save(torch.nn.Linear(5, 2).state_dict(), tmp_path / "lin.pt")
    models = [{"kind": "torch", "name": "lin", "module": "torch.nn:Linear",
               "params": {"in_features": 5, "out_features": 2}, "weights": "lin.pt", "layers": ["output"]}]
    _refused(tmp_path, r"'stimuli' parameter of the model source 'lin'.*shape \(8, 48\)", models=models)


def test_torch_module_not_allowed(tmp_path):
    _epochs(tmp_path)
    models = [{"kind": "torch", "name": "evil", "module": "os:system", "layers": ["x"]}]
    _refused(tmp_path, r"'models\[0\]\.module'.*Allowed values", models=models)


def test_different_condition_sets(tmp_path):
    _epochs(tmp_path)
    np.save(tmp_path / "short.npy", np.zeros((N_COND - 1, 3)))
    _refused(tmp_path, "different condition sets.*6 rows but 7", models=[{"kind": "features", "path": "short.npy"}])
    np.savez(tmp_path / "other.npz", features=np.ones((N_COND, 2)), conditions=[f"d{i}" for i in range(N_COND)])
    _refused(tmp_path, "different condition sets", models=[{"kind": "features", "path": "other.npz"}])


def test_region_with_fewer_than_3_conditions(tmp_path):
    _epochs(tmp_path)
    brain = {"kind": "eeg", "epochs": "epochs.npz", "window": 1.0, "conditions": ["c0", "c1"]}
    _refused(tmp_path, "'conditions' parameter of the brain source 'eeg'.*at least 3 conditions", brain=brain)


def test_non_finite_patterns(tmp_path):
    _epochs(tmp_path, nan=True)
    _refused(tmp_path, "'epochs' parameter of the brain source 'eeg'.*NaN")
    _epochs(tmp_path)
    bad = np.ones((N_COND, 3))
    bad[2, 1] = np.inf
    np.save(tmp_path / "inf.npy", bad)
    _refused(tmp_path, "model source 'inf'.*NaN or infinite",
             models=[{"kind": "features", "name": "inf", "path": "inf.npy"}])


@pytest.mark.parametrize("name", ["../../../elsewhere/x", "a/b", "..", "", ".hidden"])
def test_unsafe_job_name_refused(tmp_path, name):
    _epochs(tmp_path)
    with pytest.raises(ValueError, match="invalid value for 'name'"):
        run_config(_cfg(name=name), base=tmp_path)
    assert not (tmp_path.parent / "elsewhere").exists()


def test_results_path_that_is_not_a_store_is_refused_first(tmp_path):
    _epochs(tmp_path)
    (tmp_path / "notes.sqlite").write_text("not a database")
    with pytest.raises(ValueError, match="'output.results'.*not a SQLite"):
        run_config(_cfg(output={"dir": "out", "results": "notes.sqlite"}), base=tmp_path)
    assert not (tmp_path / "out").exists()  # nothing computed or written


def test_cli_grid_job_prints_tables(tmp_path, capsys):
    from neurosig.cli.main import main

    _epochs(tmp_path)
    path = tmp_path / "job.yml"
    path.write_text(yaml.safe_dump(_cfg(transforms={})))
    assert main(["-q", "rsa", str(path)]) == 0
    out = capsys.readouterr().out
    assert "layer x region similarity" in out and "code:features" in out and "+1.469s" in out
    path.write_text(yaml.safe_dump(_cfg(name="../../elsewhere/x")))
    assert main(["-q", "rsa", str(path)]) == 2
    assert "invalid value for 'name'" in capsys.readouterr().err



def test_cli_grid_job_passes_retries_and_connect_timeout(tmp_path, monkeypatch, capsys):
    """A grid job's tasks run with the --retries and --connect-timeout of the command line."""
    import neurosig.parallel as parallel
    from neurosig.cli.main import main

    real, seen = parallel.run_tasks, []

    def spy(fn, tasks, **kw):
        seen.append(kw)
        return real(fn, tasks, **kw)

    monkeypatch.setattr(parallel, "run_tasks", spy)
    _epochs(tmp_path)
    path = tmp_path / "job.yml"
    path.write_text(yaml.safe_dump(_cfg(transforms={})))
    assert main(["-q", "rsa", str(path), "--retries", "2", "--connect-timeout", "5"]) == 0
    assert len(seen) == 1 and seen[0]["retries"] == 2 and seen[0]["connect_timeout"] == 5.0
    assert "ignored" not in capsys.readouterr().err

@pytest.mark.slow
def test_eeg_source_through_a_benchmark_dataset_and_paradigm(tmp_path):
    """SimulatedMotorImagery + MotorImagery: 4 classes as conditions, one RDM per subject and window."""
    from neurosig.evaluation.rsa.brain_sources import load_brain

    brain = {"kind": "eeg", "dataset": "SimulatedMotorImagery", "paradigm": "MotorImagery", "window": 1.0,
             "dataset_params": {"n_subjects": 2, "n_sessions": 1, "n_runs": 2, "n_trials_per_run": 16,
                                "artifacts": False}}
    b = load_brain(brain, tmp_path)
    assert list(b.conditions) == ["feet", "left_hand", "right_hand", "tongue"]
    assert b.rdms.shape == (2 * 4, 6) and sorted(set(b.subjects)) == ["1", "2"]
    assert b.stimuli.shape[:2] == (64, 22) and np.isfinite(b.rdms).all()
    np.save(tmp_path / "f.npy", np.eye(4))
    res = run_config(_cfg(brain=brain, models=[{"kind": "features", "name": "f", "path": "f.npy"}],
                          transforms={}), base=tmp_path)
    assert len(res.cells) == 4 and res.cells["score"].notna().all()


def _bold_runs(path, n_subj=2, n_runs=2, seed=0):
    """4-D runs whose voxels x < 2 respond to 4 conditions with a planted pattern; the rest is noise."""
    import nibabel as nib
    import pandas as pd
    from nilearn.glm.first_level import make_first_level_design_matrix

    rng = np.random.default_rng(seed)
    code = rng.normal(size=(4, 3))
    t_r, n_vol, shape = 2.0, 100, (4, 4, 3)
    subjects = []
    for s in range(n_subj):
        A = rng.normal(size=(2 * 4 * 3, 3))  # signal voxels x code dims (the subject's own mixing)
        runs = []
        for r in range(n_runs):
            cond = rng.permutation(np.repeat(np.arange(4), 3))
            ev = pd.DataFrame({"onset": 6 + 15 * np.arange(12.0), "duration": 1.0,
                               "trial_type": [f"k{c}" for c in cond]})
            lsa = ev.assign(trial_type=[f"t{i}" for i in range(12)])
            D = make_first_level_design_matrix(t_r * np.arange(n_vol), lsa, hrf_model="glover", drift_model=None)
            D = D[[f"t{i}" for i in range(12)]].to_numpy()
            data = rng.normal(size=(n_vol, *shape))
            data[:, :2] += 3 * (D @ (A @ code[cond].T).T).reshape(n_vol, 2, 4, 3)
            img = nib.Nifti1Image(np.moveaxis(data, 0, -1).astype(np.float32), np.eye(4))
            img.header.set_zooms((1, 1, 1, t_r))
            nib.save(img, path / f"s{s}_r{r}_bold.nii.gz")
            ev.to_csv(path / f"s{s}_r{r}_events.tsv", sep="\t", index=False)
            runs.append({"bold": f"s{s}_r{r}_bold.nii.gz", "events": f"s{s}_r{r}_events.tsv"})
        subjects.append({"id": f"sub-{s + 1}", "runs": runs})
    mask = np.ones(shape, np.uint8)
    roi = np.zeros(shape, np.uint8)
    roi[:2] = 1
    for name, arr in (("mask", mask), ("signal", roi), ("null", 1 - roi)):
        nib.save(nib.Nifti1Image(arr, np.eye(4)), path / f"{name}.nii.gz")
    np.save(path / "code.npy", code)
    return subjects


@pytest.mark.slow
def test_fmri_source_through_the_glm_path(tmp_path):
    """4-D runs -> LSA single-trial betas -> crossnobis over runs: the planted ROI matches its code."""
    subjects = _bold_runs(tmp_path)
    brain = {"kind": "fmri", "subjects": subjects, "mask": "mask.nii.gz",
             "rois": {"signal": "signal.nii.gz", "null": "null.nii.gz"}}
    models = [{"kind": "features", "name": "code", "path": "code.npy", "distance": "euclidean"}]
    res = run_config(_cfg(brain=brain, transforms={}, models=models), base=tmp_path)
    raw = res.table("raw")
    assert list(raw.columns) == ["signal", "null"]
    assert raw.loc["code:features", "signal"] > 0.6 > abs(raw.loc["code:features", "null"])
    bad = dict(brain, subjects=[{"id": "x", "runs": [{"bold": "s0_r0_bold.nii.gz"}]}])
    with pytest.raises(ValueError, match="'subjects' parameter of the brain source 'fmri'"):
        run_config(_cfg(brain=bad, models=models), base=tmp_path)


def test_model_sources_checked_before_brain_work(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import neurosig.evaluation.rsa.brain_sources as bs

    _epochs(tmp_path)

    def no_brain_work(*a, **k):
        raise AssertionError("the brain source must not be computed before the model sources are checked")

    monkeypatch.setattr(bs, "eeg_rdms", no_brain_work)
    for models, match in (
            ([{"kind": "encoder", "name": "m", "arch": "bimamba", "size": "nano", "layers": ["mamba_block"]}],
             "Close names"),
            ([{"kind": "torch", "name": "t", "module": "os:system", "layers": ["x"]}], r"'models\[0\]\.module'"),
            ([{"kind": "features", "name": "f", "path": "missing.npy"}], "does not exist")):
        with pytest.raises((ValueError, FileNotFoundError), match=match):
            run_config(_cfg(models=models), base=tmp_path)


def test_changed_input_file_invalidates_the_rdm_cache(tmp_path):
    _epochs(tmp_path, seed=0)
    first = run_config(_cfg(transforms={}), base=tmp_path)
    _epochs(tmp_path, seed=1)  # same job file, new data
    second = run_config(_cfg(transforms={}), base=tmp_path)
    assert not np.allclose(first.cells["score"], second.cells["score"])


@pytest.mark.slow
def test_grid_on_a_local_dask_cluster_equals_sequential(tmp_path):
    pytest.importorskip("distributed")
    _epochs(tmp_path)
    seq = run_config(_cfg(transforms={}, output={"dir": "seq"}), base=tmp_path)
    dask = run_config(_cfg(transforms={}, output={"dir": "dask"}), base=tmp_path, n_jobs=2, backend="dask")
    np.testing.assert_allclose(dask.cells["score"], seq.cells["score"])
    np.testing.assert_allclose(dask.best["best_frequency"], seq.best["best_frequency"])
