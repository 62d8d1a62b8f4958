"""NSD loader: trial -> image mapping, int16 scaling, ROI masking, averaging, z-scoring, bad input."""
import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy.io import loadmat
from scipy.stats import zscore

from neurosig.datasets import nsd as nsd_mod
from neurosig.datasets.nsd import NSD, read_ctab

BETAS_DIR = "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR"


@pytest.fixture()
def ds(mini_nsd, tmp_path):
    return NSD(mini_nsd, 1, cache_dir=tmp_path / "cache", verbose=False)


def test_sessions_and_trial_mapping_match_design_and_stim_table(ds, mini_nsd):
    assert ds.sessions == [1, 2, 3] and ds.trials_per_session == 60 and len(ds.trials) == 180
    # against the design file, read here independently (1-based MATLAB indices)
    d = loadmat(mini_nsd / "nsddata/experiments/nsd/nsd_expdesign.mat")
    mo, sim = d["masterordering"].ravel(), d["subjectim"]
    for t in (0, 1, 59, 60, 179):
        assert ds.trials.nsd_id[t] == sim[0, int(mo[t]) - 1] - 1
    # against the stimulus table: subject1_rep{0,1,2} hold the 1-based trial numbers of each image
    stim = pd.read_csv(mini_nsd / "nsddata/experiments/nsd/nsd_stim_info_merged.csv")
    trial_to_id = {}
    for r in range(3):
        sel = stim[stim[f"subject1_rep{r}"] > 0]
        trial_to_id.update(dict(zip(sel[f"subject1_rep{r}"] - 1, sel.nsdId)))
    expected = np.array([trial_to_id[t] for t in ds.trials.trial])
    np.testing.assert_array_equal(ds.trials.nsd_id.to_numpy(), expected)
    shared = set(stim.nsdId[stim.shared1000])
    assert ds.n_shared_present == len(shared & set(expected))
    assert 0 < ds.n_shared_present < 40  # counted, not assumed


def test_int16_scaling_and_roi_masking_match_nilearn_masker(ds, mini_nsd):
    from nilearn.maskers import NiftiMasker

    roi = "prf-visualrois:hV4"
    X, info = ds.get_betas(roi, sessions=[2])
    img = nib.load(mini_nsd / BETAS_DIR / "betas_session02.nii.gz")
    raw = NiftiMasker(mask_img=ds.roi_mask(roi), standardize=None).fit().transform(img)  # (trials, voxels), int16 values
    np.testing.assert_allclose(X, raw / 300.0, rtol=1e-6, atol=1e-6)
    assert X.dtype == np.float32 and (info.session == 2).all()
    labels = read_ctab(mini_nsd / "nsddata/freesurfer/subj01/label/prf-visualrois.mgz.ctab")
    atlas = np.asarray(nib.load(mini_nsd / "nsddata/ppdata/subj01/func1pt8mm/roi/prf-visualrois.nii.gz").dataobj)
    assert X.shape[1] == int((atlas == labels["hV4"]).sum())
    whole = ds.get_betas("prf-visualrois", sessions=[2])[0]
    assert whole.shape[1] == int((atlas > 0).sum())


def test_hdf5_betas_equal_niigz_betas(mini_nsd, mini_nsd_h5, tmp_path):
    a = NSD(mini_nsd, 1, cache_dir=tmp_path / "a", verbose=False).get_betas("prf-visualrois:V2v")[0]
    b = NSD(mini_nsd_h5, 1, cache_dir=tmp_path / "b", verbose=False).get_betas("prf-visualrois:V2v")[0]
    np.testing.assert_array_equal(a, b)


def test_cache_written_once_and_reused(ds, monkeypatch):
    X1, _ = ds.get_betas("prf-visualrois:V1v")
    files = list(ds.cache_dir.rglob("*.npy"))
    assert len(files) == 3
    monkeypatch.setattr(nsd_mod, "_stream_nifti_rois", lambda *a, **k: pytest.fail("decompressed twice"))
    X2, _ = ds.get_betas("prf-visualrois:V1v")
    np.testing.assert_array_equal(X1, X2)


def test_zscore_per_session_and_repetition_averaging(ds):
    X, info = ds.get_betas("prf-visualrois:V3v")
    Z, _ = ds.get_betas("prf-visualrois:V3v", zscore=True)
    for s in ds.sessions:
        sel = (info.session == s).to_numpy()
        np.testing.assert_allclose(Z[sel], zscore(X[sel].astype(np.float64), axis=0), atol=1e-4)
    A, ainfo = ds.get_betas("prf-visualrois:V3v", average=True)
    ref = pd.DataFrame(X.astype(np.float64)).groupby(info.nsd_id.to_numpy()).mean()
    np.testing.assert_array_equal(ainfo.nsd_id.to_numpy(), ref.index.to_numpy())
    np.testing.assert_allclose(A, ref.to_numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ainfo.n_reps.to_numpy(), info.groupby("nsd_id").size().to_numpy())
    assert ainfo.n_reps.max() > 1


def test_coco_labels_from_instances(ds, mini_nsd):
    import json

    ids = ds.trials.nsd_id.unique()[:30]
    Y = ds.coco_labels(["person", "animal"], ids)
    stim = ds.stim_info
    for j, nid in enumerate(ids):
        split, coco = stim.loc[nid, "cocoSplit"], int(stim.loc[nid, "cocoId"])
        doc = json.loads((mini_nsd / f"nsddata_stimuli/stimuli/nsd/annotations/instances_{split}.json").read_text())
        cats = {a["category_id"] for a in doc["annotations"] if a["image_id"] == coco}
        assert Y[j, 0] == (1 in cats)
        assert Y[j, 1] == bool(cats & {16, 17, 18, 25})  # the animal ids written by the generator
    with pytest.raises(ValueError, match="categories"):
        ds.coco_labels(["unicorn"], ids)


def test_bad_inputs(mini_nsd, tmp_path):
    (tmp_path / "notnsd").mkdir()
    with pytest.raises(FileNotFoundError, match="nsd_expdesign.mat"):
        NSD(tmp_path / "notnsd", 1)
    with pytest.raises(ValueError, match="subject"):
        NSD(mini_nsd, 9)
    with pytest.raises(ValueError, match="subject.*subj01"):
        NSD(mini_nsd, 2)
    with pytest.raises(ValueError, match="space"):
        NSD(mini_nsd, 1, space="func2mm")
    with pytest.raises(ValueError, match="betas"):
        NSD(mini_nsd, 1, betas="betas_assumehrf")
    ds = NSD(mini_nsd, 1, cache_dir=tmp_path / "c", verbose=False)
    with pytest.raises(ValueError, match="roi.*V9"):
        ds.get_betas("prf-visualrois:V9")
    with pytest.raises(ValueError, match="roi"):
        ds.get_betas("kastner2015")


def test_betas_shape_mismatch_refused(mini_nsd, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(mini_nsd, root)
    roi = root / "nsddata/ppdata/subj01/func1pt8mm/roi/prf-visualrois.nii.gz"
    img = nib.load(roi)
    data = np.asarray(img.dataobj)[:-1]  # one plane short
    nib.save(nib.Nifti1Image(data, img.affine), roi)
    ds = NSD(root, 1, cache_dir=tmp_path / "c", verbose=False)
    with pytest.raises(ValueError, match=r"spatial shape \(10, 14, 8\).*mask has shape \(9, 14, 8\)"):
        ds.get_betas("prf-visualrois:V1v")
