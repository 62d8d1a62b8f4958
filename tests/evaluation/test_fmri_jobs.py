"""decode_fmri jobs: planted signal recovered only in its ROI, resume, failures, schema, CLI, outputs."""
import numpy as np
import pytest
import yaml

import neurosig
from neurosig.evaluation import fmri
from neurosig.evaluation.fmri import decode_fmri, identification_accuracy, load_job, noise_ceiling
from neurosig.evaluation.results import ResultStore

ROIS = ["prf-visualrois:V1d", "prf-visualrois:V2v", "prf-visualrois:hV4"]


def _job(root, tmp_path, **kw):
    job = {"dataset": {"type": "nsd", "root": str(root), "cache_dir": str(tmp_path / "cache")},
           "subjects": [1], "rois": ROIS,
           "targets": [{"type": "coco", "categories": ["person"]},
                       {"type": "features", "path": str(root / "features.npy"), "name": "feat"}],
           "models": ["ridge", "logistic"], "analyses": ["decoding", "encoding"],
           "cv": {"scheme": "group-kfold", "n_splits": 4},
           "results": str(tmp_path / "res.sqlite"), "verbose": False}
    job.update(kw)
    return job


@pytest.fixture(scope="module")
def first_run(mini_nsd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("job")
    job = _job(mini_nsd, tmp)
    return job, decode_fmri(job)


def test_planted_signal_only_in_its_roi(first_run):
    _, df = first_run
    assert (df.status == "ok").all(), df.error.tolist()
    # 3 ROIs x (person: ridge + logistic, feat: ridge) decoding + 3 ROIs x feat encoding
    assert len(df) == 12 and set(df.kind) == {"fmri-decoding", "fmri-encoding"}
    roi = df.params.map(lambda p: p["roi"])
    target = df.params.map(lambda p: p["target"])
    lab = df[(df.kind == "fmri-decoding") & (target == "person")]
    for _, r in lab.iterrows():
        if r.params["roi"] == "prf-visualrois:hV4":
            assert r.score > 0.85, r
        else:
            assert r.score < 0.65, r  # chance level 0.5
    feat = df[(df.kind == "fmri-decoding") & (target == "feat")].set_index(roi[(df.kind == "fmri-decoding") & (target == "feat")])
    assert feat.loc["prf-visualrois:hV4", "score"] > 0.5
    assert feat.loc["prf-visualrois:hV4", "extra"]["identification_accuracy"] > 0.5
    assert abs(feat.loc["prf-visualrois:V1d", "score"]) < 0.2
    enc = df[df.kind == "fmri-encoding"].set_index(roi[df.kind == "fmri-encoding"])
    assert enc.loc["prf-visualrois:hV4", "score"] > 0.3 > enc.loc["prf-visualrois:V2v", "score"]
    e = enc.loc["prf-visualrois:hV4", "extra"]
    assert 0 < e["median_noise_ceiling"] <= 1 and e["median_r2_over_nc"] > 0
    assert (lab.samples == lab.samples.iloc[0]).all() and lab.n_sessions.iloc[0] == 3


def test_resume_skips_finished_cells(first_run, monkeypatch):
    job, df = first_run
    def boom(*a, **k):
        pytest.fail("a finished cell was recomputed")

    monkeypatch.setattr(fmri, "_decode_labels", boom)
    monkeypatch.setattr(fmri, "_decode_features", boom)
    monkeypatch.setattr(fmri, "_encode", boom)
    again = decode_fmri(job)
    assert sorted(again.row_key) == sorted(df.row_key)
    with ResultStore(job["results"]) as store:
        assert len(store) == 12


def test_failed_cell_recorded_and_job_goes_on(mini_nsd, tmp_path, monkeypatch):
    short = tmp_path / "short.npy"
    np.save(short, np.zeros((10, 3), np.float32))  # too few rows for the 73k ids
    job = _job(mini_nsd, tmp_path, rois=["prf-visualrois:hV4"], models=["logistic"], analyses=["decoding"],
               targets=[{"type": "features", "path": str(short)}, {"type": "coco", "categories": ["person"]}])
    job["models"] = ["ridge"]
    df = decode_fmri(job)
    assert list(df.status) == ["error", "ok"]
    assert "rows" in df.error.iloc[0]
    # the failed cell is retried on the next run (and fails again), the finished one is not
    monkeypatch.setattr(fmri, "_decode_labels", lambda *a, **k: pytest.fail("recomputed"))
    df2 = decode_fmri(job)
    assert list(df2.status) == ["error", "ok"]


def test_outputs_maps_and_plots(mini_nsd, tmp_path):
    job = _job(mini_nsd, tmp_path, rois=["prf-visualrois:hV4"], models=["logistic"], analyses=["decoding"],
               targets=[{"type": "coco", "categories": ["person"]}], output_dir=str(tmp_path / "out"))
    df = decode_fmri(job)
    out = tmp_path / "out"
    assert (out / "scores.csv").is_file() and (out / "scores_fmri-decoding_balanced_accuracy.png").is_file()
    maps = df.extra.iloc[0]["maps"]
    nii = [m for m in maps if m.endswith(".nii.gz")]
    assert len(nii) == 1 and any(m.endswith(".png") for m in maps)
    import nibabel as nib

    w = nib.load(nii[0]).get_fdata()
    assert np.count_nonzero(w) > 0.9 * df.channels.iloc[0] and w.shape == (10, 14, 8)


def test_job_schema_refuses_bad_keys_before_work(mini_nsd, tmp_path):
    good = _job(mini_nsd, tmp_path)
    bad = dict(good, colour="blue")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['colour'\] in 'job'"):
        load_job(bad)
    bad = dict(good, cv={"scheme": "group-kfold", "folds": 3})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['folds'\] in 'cv'"):
        load_job(bad)
    bad = dict(good, models=[{"name": "logistic", "alpha": 3}])
    with pytest.raises(ValueError, match="alpha"):
        load_job(bad)
    with pytest.raises(ValueError, match="models\\[0\\].name"):
        load_job(dict(good, models=["xgboost"]))
    with pytest.raises(ValueError, match="cv.scheme"):
        load_job(dict(good, cv={"scheme": "loo"}))
    with pytest.raises(ValueError, match="subjects"):
        load_job(dict(good, subjects=[11]))
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        load_job(dict(good, targets=[{"type": "features", "path": str(tmp_path / "nope.npy")}]))
    assert not (tmp_path / "res.sqlite").exists()  # nothing started
    with pytest.raises(ValueError, match="roi"):  # unknown ROI: refused before any cell runs
        decode_fmri(dict(good, rois=["prf-visualrois:V7"]))
    with ResultStore(good["results"]) as store:
        assert len(store) == 0


def test_cli_and_top_level_function(mini_nsd, tmp_path, capsys):
    from neurosig.cli.main import main

    assert neurosig.decode_fmri is decode_fmri
    job = _job(mini_nsd, tmp_path, rois=["prf-visualrois:hV4"], models=["ridge"], analyses=["decoding"],
               targets=[{"type": "coco", "categories": ["person"]}])
    path = tmp_path / "job.yml"
    path.write_text(yaml.safe_dump(job))
    assert main(["decode-fmri", str(path), "--check"]) == 0
    assert main(["-q", "decode-fmri", str(path)]) == 0
    out = capsys.readouterr().out
    assert "balanced_accuracy" in out and "prf-visualrois:hV4" in out
    path.write_text(yaml.safe_dump(dict(job, extra_key=1)))
    assert main(["decode-fmri", str(path)]) == 2
    assert "extra_key" in capsys.readouterr().err


def test_shared_test_set_and_helpers(mini_nsd, tmp_path):
    job = _job(mini_nsd, tmp_path, rois=["prf-visualrois:hV4"], models=["logistic"], analyses=["decoding"],
               targets=[{"type": "coco", "categories": ["person"]}], cv={"scheme": "shared"})
    df = decode_fmri(job)
    assert df.evaluation.iloc[0] == "shared" and df.score.iloc[0] > 0.8
    rng = np.random.default_rng(0)
    T = rng.standard_normal((20, 5))
    assert identification_accuracy(T + 0.01 * rng.standard_normal(T.shape), T) == 1.0
    assert identification_accuracy(T[::-1], T) < 0.2
    np.testing.assert_allclose(noise_ceiling(np.array([1.0]), np.full(10, 3)), [1 / (1 + 1 / 3)])


def test_cell_blocks_same_rows_and_roi_loaded_once(first_run, mini_nsd, tmp_path, monkeypatch):
    job, ref = first_run
    loads = []
    orig = fmri._NSDSource.load

    def counting(self, roi, prep):
        loads.append(roi)
        return orig(self, roi, prep)

    monkeypatch.setattr(fmri._NSDSource, "load", counting)
    got = decode_fmri(_job(mini_nsd, tmp_path), cells_per_task=1)  # 12 one-cell tasks
    assert list(got.row_key) == list(ref.row_key)
    np.testing.assert_array_equal(got.score.to_numpy(float), ref.score.to_numpy(float))
    assert sorted(loads) == sorted(ROIS)  # each ROI's betas read once, not once per task
    with pytest.raises(ValueError, match="cells_per_task"):
        decode_fmri(_job(mini_nsd, tmp_path / "x"), cells_per_task=0)
