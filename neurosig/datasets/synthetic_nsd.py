"""Generator of a miniature Natural Scenes Dataset folder (for tests, examples, benchmarks).

The folder follows the official NSD layout file for file (see
``shared/docs/dataset-facts.md``): the experimental design ``.mat`` (1-based
MATLAB indices), the merged stimulus table, single-trial betas per session as
int16 NIfTI (``.nii.gz``, x/y/z/trial) or HDF5 (dataset ``betas``, trial/z/y/x),
``ncsnr`` next to the betas, ROI atlases with integer labels (-1 outside the
brain, 0 unlabelled) and their FreeSurfer ``.mgz.ctab`` label tables, and COCO
``instances_{train2017,val2017}.json`` annotation files.

It also writes the fsaverage surface preparation (``surface_ico``): surface betas
``{lh,rh}.betas_sessionSS.mgh`` (vertices x 1 x 1 x trials; float32 percent signal
change by default, or int16 x 300), ``{lh,rh}.ncsnr.mgh``, the fsaverage ROI label
files ``nsddata/freesurfer/fsaverage/label/{lh,rh}.<atlas>.mgz`` with their
``<atlas>.mgz.ctab``, and a small icosphere mesh as FreeSurfer geometry
``nsddata/freesurfer/fsaverage/surf/{lh,rh}.inflated`` (fsaverage itself is a
subdivided icosahedron: order 7 = 163,842 vertices per hemisphere; order 3 = 642).

Only the sizes shrink (volume, number of images, trials per session, sessions
present). The betas carry a planted signal: the presence of one COCO category
(``signal_category``) and a linear read-out of per-image stimulus features
(written as ``features.npy``, one row per 73k image) drive the voxels of ONE
ROI (``signal_roi``); every other voxel sees image-specific noise unrelated to
either. The surface betas carry the same planted signal, in the vertices of
``signal_roi`` only. As in the public release, the design covers all
``n_sessions_total`` sessions while betas are written for the first
``n_sessions_present`` only.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_path
from .._validation import check_positive_int

#: (name, COCO id, supercategory) for the categories the generator annotates (real COCO ids).
COCO_CATEGORIES = (
    ("person", 1, "person"), ("bicycle", 2, "vehicle"), ("car", 3, "vehicle"),
    ("bird", 16, "animal"), ("cat", 17, "animal"), ("dog", 18, "animal"),
    ("giraffe", 25, "animal"), ("umbrella", 28, "accessory"), ("pizza", 59, "food"),
    ("chair", 62, "furniture"), ("tv", 72, "electronic"), ("clock", 85, "indoor"),
)
#: NSD atlases written by the generator: atlas -> label names (index 1..n).
ATLASES = {
    "prf-visualrois": ("V1v", "V1d", "V2v", "V2d", "V3v", "V3d", "hV4"),
    "nsdgeneral": ("nsdgeneral",),
}
EXPDESIGN = "nsddata/experiments/nsd/nsd_expdesign.mat"
STIMINFO = "nsddata/experiments/nsd/nsd_stim_info_merged.csv"
ANNOTATIONS = "nsddata_stimuli/stimuli/nsd/annotations"


@dataclass(frozen=True)
class _NSDSpec:
    """The arguments of :func:`make_synthetic_nsd`, as one record handed to each writer."""

    root: Path
    subjects: Sequence[int]
    n_sessions_present: int
    trials_per_session: int
    n_sessions_total: int
    images_per_subject: int
    n_images_total: int
    n_shared: int
    shape: tuple
    space: str
    betas: str
    betas_format: str
    signal_roi: tuple
    signal_category: str
    effect: float
    n_features: int
    feature_effect: float
    noise: float
    annotate: bool
    surface_ico: int | None
    surface_dtype: str
    seed: int


def make_synthetic_nsd(root, subjects=(1,), *, n_sessions_present: int = 3,
                       trials_per_session: int = 750, n_sessions_total: int = 40,
                       images_per_subject: int = 10000, n_images_total: int = 73000,
                       n_shared: int = 1000, shape=(14, 16, 12), space: str = "func1pt8mm",
                       betas: str = "betas_fithrf_GLMdenoise_RR", betas_format: str = "nii.gz",
                       signal_roi=("prf-visualrois", "hV4"), signal_category: str = "person",
                       effect: float = 1.0, n_features: int = 8, feature_effect: float = 1.0,
                       noise: float = 1.0, annotate: bool = True, surface_ico: int | None = 3,
                       surface_dtype: str = "float32", seed: int = 0) -> Path:
    """Write a miniature NSD folder under ``root`` and return ``root`` (layout: module docstring).

    Parameters
    ----------
    root : str | Path
        Folder to create (may exist).
    subjects : sequence of int
        Subjects (1..8) that get betas and ROIs.
    n_sessions_present : int
        Sessions written per subject (the design covers ``n_sessions_total``).
    trials_per_session, n_sessions_total, images_per_subject : int
        Design sizes; ``trials_per_session * n_sessions_total`` must equal
        ``3 * images_per_subject`` (each image shown 3 times: 750 x 40 = 3 x 10,000 in NSD).
    n_images_total, n_shared : int
        Size of the stimulus set (73,000 in NSD) and of the shared set (1,000).
    shape : tuple of 3 int
        Volume shape (NSD subject 1 func1pt8mm is 81 x 104 x 83).
    space, betas : str
        Folder names of the volume space (``nsddata/ppdata/subjNN/<space>``) and of the
        betas version (``nsddata_betas/ppdata/subjNN/<space>/<betas>``).
    betas_format : {"nii.gz", "hdf5"}
        File format of the betas.
    signal_roi : (atlas, label)
        The only ROI whose voxels carry the category and feature signal.
    signal_category : str
        COCO category whose presence in the image adds a fixed voxel pattern.
    effect : float
        Size of the category signal (percent signal change).
    n_features : int
        Width of ``features.npy`` (shape (n_images_total, n_features), float32, row = 73k id - 1).
    feature_effect, noise : float
        Size of the feature signal and of the trial noise (percent signal change).
    annotate : bool
        Write the COCO ``instances_{train2017,val2017}.json`` annotation files.
    surface_ico : int | None
        Icosahedron order of the fsaverage-like surface (``10 * 4**k + 2`` vertices per
        hemisphere); None writes no surface files.
    surface_dtype : {"float32", "int16"}
        Value type of the surface ``.mgh`` betas: float32 percent signal change, or int16 x 300.
    seed : int
        Random seed.

    Returns
    -------
    root : Path
        The folder written.
    """
    spec = _NSDSpec(**{**locals(), "root": Path(root)})  # every argument, as one record
    _check_spec(spec)
    rng = np.random.default_rng(seed)  # one stream, drawn in this order: design, table, labels, features
    subjectim, masterordering, shared_ids = _write_design(spec, rng)
    coco_ids, splits = _write_stim_table(spec, rng, subjectim, masterordering, shared_ids)
    label = _write_annotations(spec, rng, coco_ids, splits)
    features = rng.standard_normal((n_images_total, n_features)).astype(np.float32)
    with atomic_path(spec.root / "features.npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, features)
    for subj in subjects:
        _write_volume_subject(spec, subj, _trial_images(subjectim, masterordering, subj), label, features)
    if surface_ico is not None:
        _write_surface(spec, lambda subj: _trial_images(subjectim, masterordering, subj), label, features)
    return spec.root


def _check_spec(spec: _NSDSpec) -> None:
    """Raise a ValueError naming the argument when the sizes or options are inconsistent."""
    n_master = spec.trials_per_session * spec.n_sessions_total
    if n_master != 3 * spec.images_per_subject:
        raise ValueError(f"trials_per_session * n_sessions_total ({n_master}) must equal "
                         f"3 * images_per_subject ({3 * spec.images_per_subject}).")
    if spec.n_shared + len(spec.subjects) * (spec.images_per_subject - spec.n_shared) > spec.n_images_total:
        raise ValueError("n_images_total is too small for the requested subjects and images.")
    check_positive_int("n_sessions_present", spec.n_sessions_present)
    if spec.n_sessions_present > spec.n_sessions_total:
        raise ValueError("n_sessions_present cannot exceed n_sessions_total.")
    if spec.betas_format not in ("nii.gz", "hdf5"):
        raise ValueError(f"Invalid value for the 'betas_format' parameter. Allowed values are "
                         f"'nii.gz', 'hdf5', but got {spec.betas_format!r} instead.")
    if spec.surface_dtype not in ("float32", "int16"):
        raise ValueError(f"Invalid value for the 'surface_dtype' parameter. Allowed values are "
                         f"'float32', 'int16', but got {spec.surface_dtype!r} instead.")
    if spec.surface_ico is not None:
        check_positive_int("surface_ico", spec.surface_ico, minimum=1)


def _trial_images(subjectim: np.ndarray, masterordering: np.ndarray, subj: int) -> np.ndarray:
    """0-based 73k image index of every trial of subject ``subj``, shape (n_trials,)."""
    return subjectim[subj - 1, masterordering[0].astype(int) - 1].astype(int) - 1


def _write_design(spec: _NSDSpec, rng: np.random.Generator):
    """Write the experimental design ``.mat`` (1-based MATLAB indices); return ``subjectim``
    (8, images_per_subject), ``masterordering`` (1, n_trials) and the shared 73k ids (n_shared,)."""
    from scipy.io import savemat

    n_images_total, images_per_subject = spec.n_images_total, spec.images_per_subject
    trials_per_session, n_sessions_total = spec.trials_per_session, spec.n_sessions_total
    shared_ids = np.sort(rng.choice(n_images_total, spec.n_shared, replace=False)) + 1  # 73k ids, 1-based
    pool = np.setdiff1d(np.arange(1, n_images_total + 1), shared_ids)
    rng.shuffle(pool)
    subjectim = np.zeros((8, images_per_subject), dtype=np.float64)
    n_own = images_per_subject - spec.n_shared
    n_subj = max(len(spec.subjects), 1)
    for s in range(8):
        own = pool[(s % n_subj) * n_own:((s % n_subj) + 1) * n_own]
        if len(own) < n_own:
            own = rng.choice(pool, n_own, replace=False)
        subjectim[s] = np.concatenate([shared_ids, own])
    # masterordering: blocks of `trials_per_session` images, each block's 3 showings shuffled
    # over 3 consecutive sessions, so the first sessions already contain repeats
    order10k = rng.permutation(images_per_subject) + 1
    master = []
    for b in range(0, images_per_subject, trials_per_session):
        block = np.repeat(order10k[b:b + trials_per_session], 3)
        master.append(rng.permutation(block))
    masterordering = np.concatenate(master)[None, :].astype(np.float64)
    stimpattern = np.ones((n_sessions_total, 12, max(trials_per_session // 12, 1)), dtype=np.float64)
    design = spec.root / EXPDESIGN
    design.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(design) as tmp:
        with open(tmp, "wb") as fh:
            savemat(fh, {"masterordering": masterordering, "subjectim": subjectim,
                         "sharedix": shared_ids[None, :].astype(np.float64),
                         "stimpattern": stimpattern, "basiccnt": np.zeros((3, n_sessions_total))})
    return subjectim, masterordering, shared_ids


def _write_stim_table(spec: _NSDSpec, rng: np.random.Generator, subjectim, masterordering, shared_ids):
    """Write the merged stimulus table (one row per 73k image); return its COCO ids and splits,
    shape (n_images_total,) each."""
    import pandas as pd

    n_images_total = spec.n_images_total
    coco_ids = rng.choice(np.arange(1, 600000), n_images_total, replace=False)
    splits = np.where(rng.random(n_images_total) < 0.85, "train2017", "val2017")
    table = {"cocoId": coco_ids, "cocoSplit": splits,
             "cropBox": ["(0, 0, 0.1671875, 0.1671875)"] * n_images_total,
             "loss": np.zeros(n_images_total), "nsdId": np.arange(n_images_total),
             "flagged": np.zeros(n_images_total, bool), "BOLD5000": np.zeros(n_images_total, bool),
             "shared1000": np.isin(np.arange(1, n_images_total + 1), shared_ids)}
    reps = {}
    for s in range(1, 9):
        seen = np.zeros(n_images_total, int)
        seen[subjectim[s - 1].astype(int) - 1] = 1
        table[f"subject{s}"] = seen
        rep = np.zeros((n_images_total, 3), int)
        counts = np.zeros(n_images_total, int)
        for t, i in enumerate(_trial_images(subjectim, masterordering, s)):  # 1-based trial numbers
            rep[i, counts[i]] = t + 1                                          # of the 3 showings
            counts[i] += 1
        reps[s] = rep
    for s in range(1, 9):
        for r in range(3):
            table[f"subject{s}_rep{r}"] = reps[s][:, r]
    with atomic_path(spec.root / STIMINFO) as tmp:
        pd.DataFrame(table).to_csv(tmp, index=True)
    return coco_ids, splits


def _write_annotations(spec: _NSDSpec, rng: np.random.Generator, coco_ids, splits) -> np.ndarray:
    """Draw the presence of each COCO category per image, write the annotation files when
    ``spec.annotate``; return the presence of ``signal_category``, shape (n_images_total,), float32."""
    names = [c[0] for c in COCO_CATEGORIES]
    p_cat = np.full(len(COCO_CATEGORIES), 0.15)
    p_cat[names.index(spec.signal_category)] = 0.5
    present = rng.random((spec.n_images_total, len(COCO_CATEGORIES))) < p_cat
    if spec.annotate:
        for split in ("train2017", "val2017"):
            images, anns = [], []
            for i in np.flatnonzero(splits == split):
                images.append({"id": int(coco_ids[i]), "file_name": f"{int(coco_ids[i]):012d}.jpg",
                               "height": 425, "width": 425})
                for c in np.flatnonzero(present[i]):
                    anns.append({"id": len(anns) + 1, "image_id": int(coco_ids[i]),
                                 "category_id": COCO_CATEGORIES[c][1], "iscrowd": 0,
                                 "bbox": [0.0, 0.0, 10.0, 10.0], "area": 100.0})
            doc = {"info": {"description": "neurosig synthetic COCO subset"}, "licenses": [],
                   "images": images, "annotations": anns,
                   "categories": [{"id": i, "name": n, "supercategory": s}
                                  for n, i, s in COCO_CATEGORIES]}
            path = spec.root / ANNOTATIONS / f"instances_{split}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(doc))
    return present[:, names.index(spec.signal_category)].astype(np.float32)


def _write_ctab(path: Path, atlas: str) -> None:
    """Write the FreeSurfer label table of ``atlas`` (``0 Unknown``, then ``i name`` per label)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("0 Unknown\n" + "".join(f"{i + 1} {n}\n" for i, n in enumerate(ATLASES[atlas])))


def _volume_rois(shape, brain: np.ndarray) -> dict[str, np.ndarray]:
    """Integer ROI volumes (-1 outside ``brain``, 0 unlabelled): prf-visualrois = 7 slabs along y
    (the first and last 2 planes stay unlabelled), nsdgeneral = their union."""
    prf = np.where(brain, 0, -1).astype(np.int16)
    edges = np.linspace(2, shape[1] - 2, 8).astype(int)
    for k in range(7):
        sl = np.zeros(shape, bool)
        sl[:, edges[k]:edges[k + 1], :] = True
        prf[sl & brain] = k + 1
    gen = np.where(brain, 0, -1).astype(np.int16)
    gen[(prf > 0)] = 1
    return {"prf-visualrois": prf, "nsdgeneral": gen}


def _write_volume_subject(spec: _NSDSpec, subj: int, ids: np.ndarray, label, features) -> None:
    """Write one subject's volume files: ROIs (+ ctab), brain mask, per-session betas and ncsnr.

    ``ids`` (n_trials,) are the 0-based 73k images of the subject's trials; ``label``
    (n_images_total,) and ``features`` (n_images_total, n_features) drive the planted signal."""
    shape, root = spec.shape, spec.root
    affine = np.diag([1.8, 1.8, 1.8, 1.0])
    affine[:3, 3] = -0.9 * np.asarray(shape)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    brain = (grid ** 2).sum(0) < 0.95
    srng = np.random.default_rng(spec.seed + 1000 * subj)
    sdir = root / f"nsddata/ppdata/subj{subj:02d}/{spec.space}"
    rois = _volume_rois(shape, brain)
    for atlas, data in rois.items():
        _save_nii(sdir / "roi" / f"{atlas}.nii.gz", data, affine, np.int16)
        _write_ctab(root / f"nsddata/freesurfer/subj{subj:02d}/label/{atlas}.mgz.ctab", atlas)
    _save_nii(sdir / "brainmask.nii.gz", brain.astype(np.int16), affine, np.int16)

    atlas, name = spec.signal_roi
    target = rois[atlas] == ATLASES[atlas].index(name) + 1
    n_vox, n_features = int(np.prod(shape)), spec.n_features
    pattern = np.where(target, srng.choice([-1.0, 1.0], shape), 0.0).ravel()
    w_feat = np.where(target.ravel()[:, None], srng.standard_normal((n_vox, n_features)), 0.0)
    w_feat *= spec.feature_effect / np.sqrt(n_features)
    base = np.where(brain, srng.normal(0, 0.5, shape), 0.0).ravel()
    nuis = srng.standard_normal((n_vox, 4))  # image-specific nuisance, unrelated to labels
    nuis_img = srng.standard_normal((spec.n_images_total, 4)).astype(np.float32)
    bdir = root / f"nsddata_betas/ppdata/subj{subj:02d}/{spec.space}/{spec.betas}"
    bdir.mkdir(parents=True, exist_ok=True)
    effect, noise, tps = spec.effect, spec.noise, spec.trials_per_session
    for ses in range(1, spec.n_sessions_present + 1):
        tr = ids[(ses - 1) * tps: ses * tps]
        img = (effect * label[tr, None] * pattern[None, :] + features[tr] @ w_feat.T
               + nuis_img[tr] @ nuis.T * 0.5)
        offset = srng.normal(0, 0.5)  # session drift, removed by per-session z-scoring
        vals = base[None, :] + offset + img + noise * srng.standard_normal((len(tr), n_vox))
        vals = np.where(brain.ravel()[None, :], vals, 0.0)
        ints = np.clip(np.round(vals * 300), -32768, 32767).astype(np.int16)  # % change x 300
        _save_volume_betas(bdir, ses, ints.reshape((len(tr),) + tuple(shape)), affine, spec.betas_format)
    signal_var = (effect ** 2 * 0.25 * pattern ** 2 + (w_feat ** 2).sum(1) + 0.25 * (nuis ** 2).sum(1))
    ncsnr = np.sqrt(signal_var) / noise
    _save_nii(bdir / "ncsnr.nii.gz", np.where(brain, ncsnr.reshape(shape), 0).astype(np.float32),
              affine, np.float32)


def _save_volume_betas(bdir: Path, ses: int, vol: np.ndarray, affine: np.ndarray, fmt: str) -> None:
    """Write one session's int16 betas ``vol`` (trials, x, y, z) as NIfTI (x/y/z/trial) or HDF5."""
    if fmt == "nii.gz":
        _save_nii(bdir / f"betas_session{ses:02d}.nii.gz", np.moveaxis(vol, 0, -1), affine, np.int16)
        return
    import h5py
    with atomic_path(bdir / f"betas_session{ses:02d}.hdf5") as tmp:
        with h5py.File(tmp, "w") as fh:  # NSD's HDF5 axes: trial, z, y, x
            fh.create_dataset("betas", data=np.ascontiguousarray(vol.transpose(0, 3, 2, 1)),
                              chunks=(1,) + tuple(vol.shape[1:][::-1]))


def icosphere(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere: the icosahedron subdivided ``order`` times (as FreeSurfer's fsaverage meshes).

    Parameters
    ----------
    order : int
        Number of subdivisions (0 gives the icosahedron's 12 vertices).

    Returns
    -------
    coords : ndarray, shape (10 * 4**order + 2, 3), float64
    faces : ndarray, shape (20 * 4**order, 3), int32
    """
    t = (1 + 5 ** 0.5) / 2
    v = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
         (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    f = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
         (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11),
         (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    verts = [np.asarray(p, float) / np.linalg.norm(p) for p in v]
    for _ in range(order):
        mid: dict = {}

        def middle(a, b, mid=mid):
            key = (min(a, b), max(a, b))
            if key not in mid:
                m = verts[a] + verts[b]
                verts.append(m / np.linalg.norm(m))
                mid[key] = len(verts) - 1
            return mid[key]

        new = []
        for a, b, c in f:
            ab, bc, ca = middle(a, b), middle(b, c), middle(c, a)
            new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        f = new
    return np.asarray(verts), np.asarray(f, dtype=np.int32)


def _surface_atlases(coords: np.ndarray, mirror: bool) -> dict[str, np.ndarray]:
    """Integer labels per vertex: prf-visualrois = 7 sectors of the posterior cap (y < -0.3), 0 elsewhere
    (``mirror`` flips x, so both hemispheres get the same layout seen from the midline)."""
    post = coords[:, 1] < -0.3
    angle = np.arctan2(coords[:, 2], -coords[:, 0] if mirror else coords[:, 0])  # around the y axis
    sector = np.minimum(((angle + np.pi) / (2 * np.pi) * 7).astype(int), 6) + 1
    prf = np.where(post, sector, 0).astype(np.int32)
    return {"prf-visualrois": prf, "nsdgeneral": (prf > 0).astype(np.int32)}


def _write_surface(spec: _NSDSpec, ids_of, label: np.ndarray, features: np.ndarray) -> None:
    """fsaverage-like surface files: mesh, ROI labels (+ ctab), per-subject .mgh betas and ncsnr.

    ``ids_of(subj)`` gives the 0-based 73k images of a subject's trials; ``label`` and ``features``
    are those of the volume betas, so both carry the same planted signal."""
    import nibabel as nib

    coords, faces = icosphere(spec.surface_ico)
    n = len(coords)
    fs = spec.root / "nsddata/freesurfer/fsaverage"
    labels = {}
    for h, sign in (("lh", -1.0), ("rh", 1.0)):
        path = fs / "surf" / f"{h}.inflated"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            nib.freesurfer.write_geometry(str(tmp), coords * 50.0 + [sign * 60.0, 0.0, 0.0], faces)
        labels[h] = _surface_atlases(coords, mirror=h == "rh")
        for atlas, lab in labels[h].items():
            _save_mgh(fs / "label" / f"{h}.{atlas}.mgz", lab.reshape(n, 1, 1))
    for atlas in ATLASES:
        _write_ctab(fs / "label" / f"{atlas}.mgz.ctab", atlas)
    atlas, name = spec.signal_roi
    target = np.concatenate([labels[h][atlas] == ATLASES[atlas].index(name) + 1 for h in ("lh", "rh")])
    for subj in spec.subjects:
        _write_surface_subject(spec, subj, ids_of(subj), target, label, features)


def _write_surface_subject(spec: _NSDSpec, subj: int, ids: np.ndarray, target: np.ndarray,
                           label: np.ndarray, features: np.ndarray) -> None:
    """One subject's surface betas ``{lh,rh}.betas_sessionSS.mgh`` and ``{lh,rh}.ncsnr.mgh``;
    ``target`` (2 * n_vertices,) marks the vertices of the signal ROI."""
    n_vert = target.size
    n = n_vert // 2
    n_features = features.shape[1]
    effect, noise, tps = spec.effect, spec.noise, spec.trials_per_session
    srng = np.random.default_rng(spec.seed + 1000 * subj + 500)  # separate stream: volume data unchanged
    f32 = np.float32  # float32 throughout: a realistic fsaverage session is 327,684 vertices x 750 trials
    pattern = np.where(target, srng.choice([-1.0, 1.0], n_vert), 0.0).astype(f32)
    w_feat = np.where(target[:, None], srng.standard_normal((n_vert, n_features)), 0.0).astype(f32)
    w_feat *= f32(spec.feature_effect / np.sqrt(n_features))
    base = srng.normal(0, 0.5, n_vert).astype(f32)
    nuis = srng.standard_normal((n_vert, 4)).astype(f32)
    nuis_img = srng.standard_normal((spec.n_images_total, 4)).astype(f32)
    bdir = spec.root / f"nsddata_betas/ppdata/subj{subj:02d}/fsaverage/{spec.betas}"
    bdir.mkdir(parents=True, exist_ok=True)
    for ses in range(1, spec.n_sessions_present + 1):
        tr = ids[(ses - 1) * tps: ses * tps]
        vals = srng.standard_normal((len(tr), n_vert), dtype=f32)
        vals *= f32(noise)
        vals += base[None, :] + f32(srng.normal(0, 0.5))
        vals += f32(effect) * label[tr, None] * pattern[None, :]
        vals += features[tr] @ w_feat.T
        vals += (nuis_img[tr] @ nuis.T) * f32(0.5)
        if spec.surface_dtype == "int16":  # % change x 300, as NSD's volume betas
            vals = np.clip(np.round(vals * 300), -32768, 32767).astype(np.int16)
        for h, cols in (("lh", slice(0, n)), ("rh", slice(n, n_vert))):
            _save_mgh(bdir / f"{h}.betas_session{ses:02d}.mgh", vals[:, cols].T.reshape(n, 1, 1, len(tr)))
    signal_var = effect ** 2 * 0.25 * pattern ** 2 + (w_feat ** 2).sum(1) + 0.25 * (nuis ** 2).sum(1)
    ncsnr = (np.sqrt(signal_var) / noise).astype(np.float32)
    for h, cols in (("lh", slice(0, n)), ("rh", slice(n, n_vert))):
        _save_mgh(bdir / f"{h}.ncsnr.mgh", ncsnr[cols].reshape(n, 1, 1))


def _save_mgh(path: Path, data: np.ndarray) -> None:
    """Write a FreeSurfer ``.mgh``/``.mgz`` surface file (shape (vertices, 1, 1[, frames])) atomically."""
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    ext = ".mgz" if path.name.endswith(".mgz") else ".mgh"
    with atomic_path(path) as tmp:
        nib.save(nib.MGHImage(np.asarray(data), np.eye(4)), str(tmp) + ext)
        Path(str(tmp) + ext).replace(tmp)


def _save_nii(path: Path, data: np.ndarray, affine: np.ndarray, dtype) -> None:
    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(data, dtype=dtype), affine)
    img.header.set_data_dtype(dtype)
    img.header.set_xyzt_units("mm", "sec")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp) + ".nii.gz")
        Path(str(tmp) + ".nii.gz").replace(tmp)
