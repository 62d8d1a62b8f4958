"""NSD fsaverage surface: .mgh betas vs a direct nibabel read, int16 scaling, hemisphere order, cache,
surface decoding of the planted ROI signal, per-hemisphere maps and plots, and bad input."""
import shutil

import nibabel as nib
import numpy as np
import pytest

from neurosig.datasets import nsd_surface
from neurosig.datasets.nsd import NSD, read_ctab
from neurosig.datasets.synthetic_nsd import icosphere, make_synthetic_nsd
from neurosig.evaluation.fmri import decode_fmri, load_job
from neurosig.evaluation.results import ResultStore

SURF = "nsddata_betas/ppdata/subj01/fsaverage/betas_fithrf_GLMdenoise_RR"
LABEL = "nsddata/freesurfer/fsaverage/label"
TINY = dict(subjects=(1,), n_sessions_present=2, trials_per_session=30, n_sessions_total=6, images_per_subject=60,
            n_images_total=300, n_shared=10, shape=(6, 6, 6), surface_ico=2, annotate=False, seed=1)


def _direct(root, session, roi_value, atlas="prf-visualrois"):
    """Betas of one session and ROI read here with nibabel alone: (trials, lh ROI vertices + rh ROI vertices)."""
    cols = []
    for h in ("lh", "rh"):
        lab = np.asarray(nib.load(root / LABEL / f"{h}.{atlas}.mgz").dataobj).ravel()
        img = nib.load(root / SURF / f"{h}.betas_session{session:02d}.mgh")
        data = np.asarray(img.dataobj)[:, 0, 0, :].T  # (trials, vertices), stored dtype
        cols.append(data[:, lab == roi_value])
    return np.concatenate(cols, axis=1), img.header.get_data_dtype()


@pytest.fixture()
def sds(mini_nsd, tmp_path):
    return NSD(mini_nsd, 1, space="fsaverage", cache_dir=tmp_path / "cache", verbose=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_synthetic_nsd(tmp_path_factory.mktemp("tiny_nsd"), **TINY)


def _copy(tiny, tmp_path):
    return shutil.copytree(tiny, tmp_path / "nsd")


def test_surface_betas_equal_direct_read_left_then_right(sds, mini_nsd):
    vol = NSD(mini_nsd, 1, cache_dir=sds.cache_dir, verbose=False)
    assert sds.sessions == [1, 2, 3] and sds.n_vertices == {"lh": 642, "rh": 642}
    assert sds.trials.equals(vol.trials)  # same design, whatever the space
    assert sds.atlases() == ["nsdgeneral", "prf-visualrois"]
    labels = read_ctab(mini_nsd / LABEL / "prf-visualrois.mgz.ctab")
    assert sds.labels("prf-visualrois") == {k: v for k, v in labels.items() if v > 0}
    X, info = sds.get_betas("prf-visualrois:hV4")
    ref = np.concatenate([_direct(mini_nsd, s, labels["hV4"])[0] for s in sds.sessions])
    assert _direct(mini_nsd, 1, 7)[1] == np.dtype(">f4")  # float32 files: percent signal change as stored
    np.testing.assert_array_equal(X, ref.astype(np.float32))
    # left vertices first: the masker puts the first columns back on lh, the rest on rh
    m = sds.masker("prf-visualrois:hV4")
    back = m.inverse_transform(X[0])
    lh = np.asarray(nib.load(mini_nsd / SURF / "lh.betas_session01.mgh").dataobj)[:, 0, 0, 0]
    np.testing.assert_array_equal(back["lh"][m.masks["lh"]], lh[m.masks["lh"]])
    assert m.masks["lh"].sum() + m.masks["rh"].sum() == X.shape[1] and m.masks["rh"].any()
    np.testing.assert_array_equal(m.transform({"lh": back["lh"], "rh": back["rh"]})[0], X[0])
    # noise ceiling, z-scoring and averaging run through the same path as the volume
    assert sds.ncsnr("prf-visualrois:hV4").shape == (X.shape[1],)
    A, ainfo = sds.get_betas("prf-visualrois:hV4", zscore=True, average=True)
    assert A.shape == (len(ainfo), X.shape[1]) and ainfo.n_reps.sum() == len(info)


def test_int16_surface_betas_divided_by_300_and_cache_reused(tiny, tmp_path, monkeypatch):
    root = make_synthetic_nsd(tmp_path / "i16", surface_dtype="int16", **TINY)
    ds = NSD(root, 1, space="fsaverage", cache_dir=tmp_path / "cache", verbose=False)
    X, _ = ds.get_betas("prf-visualrois:V2v", sessions=[2])
    raw, dtype = _direct(root, 2, 3)
    assert dtype == np.dtype(">i2")
    np.testing.assert_allclose(X, raw / 300.0, rtol=1e-6)
    # the same data stored as float32 (tiny, same seed) agree within the int16 rounding
    Xf, _ = NSD(tiny, 1, space="fsaverage", cache_dir=tmp_path / "c2", verbose=False).get_betas(
        "prf-visualrois:V2v", sessions=[2])
    np.testing.assert_allclose(X, Xf, atol=0.5 / 300 + 1e-6)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 1
    monkeypatch.setattr(nsd_surface, "stream_mgh_rois", lambda *a, **k: pytest.fail("read twice"))
    np.testing.assert_array_equal(ds.get_betas("prf-visualrois:V2v", sessions=[2])[0], X)


def test_icosphere_has_fsaverage_vertex_counts(tiny):
    for k in (0, 1, 2, 3):
        coords, faces = icosphere(k)
        assert len(coords) == 10 * 4 ** k + 2 and len(faces) == 20 * 4 ** k
        np.testing.assert_allclose(np.linalg.norm(coords, axis=1), 1.0)
        assert len(np.unique(faces)) == len(coords)  # every vertex belongs to a face
    # the generated mesh is FreeSurfer geometry, one per hemisphere
    coords, faces = nib.freesurfer.read_geometry(str(tiny / "nsddata/freesurfer/fsaverage/surf/rh.inflated"))
    assert coords.shape == (162, 3) and faces.shape == (320, 3)


def test_bad_surface_inputs(tiny, tmp_path):
    root = _copy(tiny, tmp_path)
    kw = dict(space="fsaverage", cache_dir=tmp_path / "cache", verbose=False)
    # unknown ROI label: the allowed ROIs are listed
    with pytest.raises(ValueError, match="prf-visualrois:hV4"):
        NSD(root, 1, **kw).get_betas("prf-visualrois:V7")
    # label file with another vertex count than the betas: both counts named, before any read
    lab = root / LABEL / "lh.nsdgeneral.mgz"
    shutil.copy(lab, tmp_path / "keep.mgz")
    nib.save(nib.MGHImage(np.zeros((42, 1, 1), np.int32), np.eye(4)), str(lab))
    with pytest.raises(ValueError, match=r"\(162, 162\) vertices.*\(42, 162\)"):
        NSD(root, 1, **kw).get_betas("nsdgeneral")
    # a label file that is not a surface file
    nib.save(nib.MGHImage(np.zeros((4, 4, 4), np.int32), np.eye(4)), str(lab))
    with pytest.raises(ValueError, match="not a surface file"):
        NSD(root, 1, **kw).roi_mask("nsdgeneral")
    shutil.copy(tmp_path / "keep.mgz", lab)
    # missing hemisphere label file
    (root / LABEL / "rh.prf-visualrois.mgz").unlink()
    with pytest.raises(FileNotFoundError, match="rh.prf-visualrois.mgz"):
        NSD(root, 1, **kw).roi_mask("prf-visualrois:V1v")
    # rh betas with another vertex count than lh
    rh = root / SURF / "rh.betas_session02.mgh"
    nib.save(nib.MGHImage(np.zeros((42, 1, 1, 30), np.float32), np.eye(4)), str(rh))
    with pytest.raises(ValueError, match="has 162 vertices but.*has 42"):
        NSD(root, 1, **kw)
    # missing hemisphere of a session
    rh.unlink()
    with pytest.raises(FileNotFoundError, match=r"rh\.betas_session02\.mgh' is missing"):
        NSD(root, 1, **kw)
    assert not (tmp_path / "cache").exists()  # nothing was read or cached


def test_mesh_errors_and_job_schema(tiny, tmp_path):
    from neurosig.evaluation.fmri_outputs import surface_mesh

    meshes = nsd_surface.load_mesh(tiny / "nsddata/freesurfer/fsaverage/surf")
    assert meshes["lh"][0].shape == (162, 3)
    with pytest.raises(ValueError, match="10242 vertices but the surface betas have 162.*fsaverage5"):
        nsd_surface.check_mesh(surface_mesh("fsaverage5", "inflated"), {"lh": 162, "rh": 162}, "fsaverage5")
    with pytest.raises(FileNotFoundError, match="lh.pial"):
        nsd_surface.load_mesh(tiny / "nsddata/freesurfer/fsaverage/surf", "pial")
    job = {"dataset": {"type": "nsd", "root": str(tiny), "space": "fsaverage", "mesh": "fsaverage5",
                       "cache_dir": str(tmp_path / "cache")},
           "rois": ["prf-visualrois:hV4"], "targets": [{"type": "coco", "categories": ["person"]}],
           "models": ["logistic"], "results": str(tmp_path / "res.sqlite"), "output_dir": str(tmp_path / "out"),
           "verbose": False}
    with pytest.raises(ValueError, match="10242 vertices"):  # refused before any cell runs
        decode_fmri(job)
    with ResultStore(job["results"]) as store:
        assert len(store) == 0
    with pytest.raises(ValueError, match="'decoder'.*fsaverage"):
        load_job(dict(job, models=["decoder"]))
    vol = dict(job, dataset={"type": "nsd", "root": str(tiny), "mesh": "fsaverage5"})
    with pytest.raises(ValueError, match="dataset.mesh"):
        load_job(vol)
    ok = load_job(dict(job, dataset={"type": "nsd", "root": str(tiny), "space": "fsaverage"}))
    assert ok["dataset"]["mesh"] == str(tiny / "nsddata/freesurfer/fsaverage/surf")


def test_surface_decoding_finds_planted_roi_and_writes_hemisphere_maps(mini_nsd, tmp_path):
    rois = ["prf-visualrois:V2v", "prf-visualrois:hV4"]
    job = {"dataset": {"type": "nsd", "root": str(mini_nsd), "space": "fsaverage",
                       "cache_dir": str(tmp_path / "cache")},
           "rois": rois, "targets": [{"type": "coco", "categories": ["person"]},
                                     {"type": "features", "path": str(mini_nsd / "features.npy"), "name": "feat"}],
           "models": ["ridge", "logistic"], "analyses": ["decoding", "encoding"],
           "cv": {"scheme": "group-kfold", "n_splits": 4}, "results": str(tmp_path / "res.sqlite"),
           "verbose": False}
    df = decode_fmri(job)
    assert (df.status == "ok").all(), df.error.tolist()
    assert len(df) == 8 and set(df.params.map(lambda p: p["space"])) == {"fsaverage"}
    roi = df.params.map(lambda p: p["roi"])
    target = df.params.map(lambda p: p["target"])
    for _, r in df[(df.kind == "fmri-decoding") & (target == "person")].iterrows():
        assert (r.score > 0.85) if r.params["roi"] == "prf-visualrois:hV4" else (r.score < 0.65), r
    feat = df[(df.kind == "fmri-decoding") & (target == "feat")].set_index(roi[(df.kind == "fmri-decoding") & (target == "feat")])
    assert feat.loc["prf-visualrois:hV4", "score"] > 0.5 and abs(feat.loc["prf-visualrois:V2v", "score"]) < 0.2
    enc = df[df.kind == "fmri-encoding"].set_index(roi[df.kind == "fmri-encoding"])
    assert enc.loc["prf-visualrois:hV4", "score"] > 0.3 > enc.loc["prf-visualrois:V2v", "score"]
    assert enc.loc["prf-visualrois:hV4", "extra"]["median_noise_ceiling"] > 0
    # maps: one .mgh per hemisphere, all vertices, non-zero on the ROI only (plots: see the example's test)
    one = dict(job, rois=["prf-visualrois:hV4"], targets=[{"type": "coco", "categories": ["person"]}],
               models=["logistic"], analyses=["decoding"], output_dir=str(tmp_path / "out"), plots=False,
               results=str(tmp_path / "r2.sqlite"))
    maps = decode_fmri(one).extra.iloc[0]["maps"]
    assert [m[-7:] for m in maps] == ["_lh.mgh", "_rh.mgh"]
    mask = NSD(mini_nsd, 1, space="fsaverage", cache_dir=tmp_path / "cache", verbose=False).roi_mask(
        "prf-visualrois:hV4")
    for path, h in zip(maps, ("lh", "rh")):
        w = np.asarray(nib.load(path).dataobj)
        assert w.shape == (642, 1, 1) and np.array_equal(w.ravel() != 0, mask[h])


def test_cli_mesh_override(tiny, tmp_path, capsys):
    import yaml

    from neurosig.cli.main import main

    job = {"dataset": {"type": "nsd", "root": str(tiny), "space": "fsaverage", "cache_dir": str(tmp_path / "c")},
           "rois": ["prf-visualrois:hV4"], "targets": [{"type": "features", "path": str(tiny / "features.npy")}],
           "models": ["ridge"], "results": str(tmp_path / "res.sqlite"), "output_dir": str(tmp_path / "out")}
    path = tmp_path / "job.yml"
    path.write_text(yaml.safe_dump(job))
    assert main(["decode-fmri", str(path), "--check"]) == 0
    assert main(["-q", "decode-fmri", str(path), "--mesh", "fsaverage5"]) == 2
    assert "10242 vertices" in capsys.readouterr().err
