"""LSA single-trial betas from a 4-D NIfTI + BIDS events (nilearn first-level GLM)."""
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from neurosig.datasets.fmri_glm import read_events, trial_betas


def _events(n=4, tr=2.0, n_vol=20):
    onsets = np.linspace(2, (n_vol - 4) * tr, n)
    return pd.DataFrame({"onset": onsets, "duration": 1.0, "trial_type": ["a", "b"] * (n // 2)})


def test_real_bold_crop_matches_direct_least_squares(shared_data, tmp_path):
    bold = shared_data / "fmri_small/nipy_testing/functional.nii.gz"
    img = nib.load(bold)
    ev = _events()
    path = tmp_path / "sub-01_task-x_events.tsv"
    ev.to_csv(path, sep="\t", index=False)
    mask = nib.Nifti1Image(np.ones(img.shape[:3], np.uint8), img.affine)
    betas, trials, masker = trial_betas(bold, path, mask=mask, noise_model="ols")
    assert betas.shape == (4, int(np.prod(img.shape[:3]))) and list(trials.trial_type) == ["a", "b", "a", "b"]
    # independent reference: ordinary least squares on nilearn's own design matrix
    from nilearn.glm.first_level import make_first_level_design_matrix

    frame = np.arange(img.shape[3]) * 2.0
    lsa = ev.assign(trial_type=[f"trial_{i:04d}" for i in range(4)])
    D = make_first_level_design_matrix(frame, lsa, hrf_model="glover", drift_model="cosine", high_pass=0.01)
    Y = masker.transform(img)
    B = np.linalg.lstsq(D.to_numpy(), Y, rcond=None)[0]
    ref = B[[list(D.columns).index(f"trial_{i:04d}") for i in range(4)]]
    np.testing.assert_allclose(betas, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())


def test_planted_trial_betas_recovered():
    from nilearn.glm.first_level import make_first_level_design_matrix

    rng = np.random.default_rng(0)
    n_vol, tr = 120, 2.0
    ev = pd.DataFrame({"onset": np.arange(6, 220, 18.0), "duration": 1.0})
    ev["trial_type"] = np.where(np.arange(len(ev)) % 2, "face", "house")
    lsa = ev.assign(trial_type=[f"trial_{i:04d}" for i in range(len(ev))])
    D = make_first_level_design_matrix(np.arange(n_vol) * tr, lsa, hrf_model="glover", drift_model=None)
    shape = (4, 4, 3)
    true = rng.normal(0, 2, (len(ev), int(np.prod(shape))))
    data = D[[f"trial_{i:04d}" for i in range(len(ev))]].to_numpy() @ true + 100
    data = data + 0.005 * rng.standard_normal(data.shape)  # regressors peak near 0.2
    img = nib.Nifti1Image(data.T.reshape(shape + (n_vol,)).astype(np.float32), np.eye(4))
    img.header.set_zooms((1, 1, 1, tr))
    mask = nib.Nifti1Image(np.ones(shape, np.uint8), np.eye(4))
    betas, trials, _ = trial_betas(img, ev, mask=mask, drift_model=None, noise_model="ols")
    np.testing.assert_allclose(betas, true, atol=0.05)


def test_bad_events(tmp_path):
    p = tmp_path / "events.tsv"
    pd.DataFrame({"onset": [1.0], "trial_type": ["a"]}).to_csv(p, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"duration"):
        read_events(p)
    img = nib.Nifti1Image(np.zeros((2, 2, 2, 5), np.float32), np.eye(4))
    with pytest.raises(ValueError, match="after the end of the run"):
        trial_betas(img, pd.DataFrame({"onset": [100.0], "duration": [1.0], "trial_type": ["a"]}), t_r=2.0)


def test_nifti_job_decodes_events(tmp_path):
    """A 'nifti' job: LSA betas from a generated run, decoded like NSD betas (labels from events)."""
    from nilearn.glm.first_level import make_first_level_design_matrix

    from neurosig.evaluation.fmri import decode_fmri

    rng = np.random.default_rng(1)
    n_vol, tr, shape = 200, 2.0, (4, 4, 3)
    ev = pd.DataFrame({"onset": np.arange(6, 380, 9.0), "duration": 1.0})
    ev["trial_type"] = rng.permutation(np.resize(["face", "house"], len(ev)))
    lsa = ev.assign(trial_type=[f"trial_{i:04d}" for i in range(len(ev))])
    D = make_first_level_design_matrix(np.arange(n_vol) * tr, lsa, hrf_model="glover", drift_model=None)
    pattern = np.where(np.arange(48) < 24, 1.0, 0.0)  # the first 24 voxels (x < 2) respond to faces
    true = rng.normal(0, 1, (len(ev), 48)) + 3 * np.outer(ev.trial_type == "face", pattern)
    data = D[lsa.trial_type].to_numpy() @ true + 100 + 0.05 * rng.standard_normal((n_vol, 48))
    img = nib.Nifti1Image(data.T.reshape(shape + (n_vol,)).astype(np.float32), np.eye(4))
    img.header.set_zooms((1, 1, 1, tr))
    nib.save(img, tmp_path / "bold.nii.gz")
    ev.to_csv(tmp_path / "events.tsv", sep="\t", index=False)
    nib.save(nib.Nifti1Image(np.ones(shape, np.uint8), np.eye(4)), tmp_path / "brain.nii.gz")
    front = np.zeros(shape, np.uint8)
    front[2:] = 1  # x >= 2: no face signal
    nib.save(nib.Nifti1Image(front, np.eye(4)), tmp_path / "front.nii.gz")
    job = {"dataset": {"type": "nifti", "bold": "bold.nii.gz", "events": "events.tsv", "mask": "brain.nii.gz",
                       "noise_model": "ols"},
           "rois": ["mask", "front.nii.gz"], "targets": [{"type": "events"}], "models": ["logistic"],
           "cv": {"n_splits": 4}, "results": "res.sqlite", "verbose": False}
    df = decode_fmri(job, base_dir=tmp_path)
    assert (df.status == "ok").all(), df.error.tolist()
    scores = dict(zip(df.params.map(lambda p: p["roi"]), df.score))
    assert scores["mask"] > 0.85 and scores[str(tmp_path / "front.nii.gz")] < 0.7
    assert df.channels.tolist() == [48, 24]
