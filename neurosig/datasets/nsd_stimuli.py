"""NSD experiment design and stimuli: which image each trial showed, and what the images contain.

Functions on the official files (relative to the NSD root):

* ``nsddata/experiments/nsd/nsd_expdesign.mat``: ``masterordering`` (trial ->
  index into the subject's 10,000 images), ``subjectim`` (subject x 10,000 ->
  73k id) and ``sharedix`` (the shared 1,000), all 1-based MATLAB indices
  (:func:`read_expdesign`, :func:`trial_table`);
* ``nsddata/experiments/nsd/nsd_stim_info_merged.csv``: one row per 73k image
  with its COCO id and split (:func:`read_stim_info`);
* ``nsddata_stimuli/stimuli/nsd/annotations/instances_{train2017,val2017}.json``:
  COCO instance annotations, reduced to the category names per image
  (:func:`coco_categories`, :func:`category_presence`).

:func:`average_repetitions` averages the trials that showed the same image.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._io import atomic_path
from .._validation import check_option
from ..contracts import stable_hash

EXPDESIGN = "nsddata/experiments/nsd/nsd_expdesign.mat"
STIMINFO = "nsddata/experiments/nsd/nsd_stim_info_merged.csv"
ANNOTATIONS = "nsddata_stimuli/stimuli/nsd/annotations"


def read_expdesign(root) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the experimental design of an NSD folder.

    Parameters
    ----------
    root : str | Path
        NSD root folder.

    Returns
    -------
    masterordering : ndarray, shape (n_trials,), int64
        1-based index into a subject's images, per trial.
    subjectim : ndarray, shape (8, n_images_per_subject), int64
        1-based 73k id of each subject's images.
    sharedix : ndarray, shape (n_shared,), int64
        1-based 73k ids of the shared images.
    """
    from scipy.io import loadmat

    d = loadmat(Path(root) / EXPDESIGN, squeeze_me=False)
    for key in ("masterordering", "subjectim", "sharedix"):
        if key not in d:
            raise ValueError(f"{EXPDESIGN!r} has no variable {key!r} (found {sorted(k for k in d if not k.startswith('__'))}).")
    return (np.asarray(d["masterordering"]).ravel().astype(np.int64),
            np.asarray(d["subjectim"]).astype(np.int64),
            np.asarray(d["sharedix"]).ravel().astype(np.int64))


def trial_table(masterordering: np.ndarray, subjectim: np.ndarray, sharedix: np.ndarray, subject: int,
                files: dict, trials_per_session: int):
    """One row per trial of the sessions present.

    Parameters
    ----------
    masterordering, subjectim, sharedix : ndarray
        The design, as returned by :func:`read_expdesign`.
    subject : int
        Subject 1..8.
    files : dict of int to Path
        Betas file of each present session (named in errors), in session order.
    trials_per_session : int
        Trials in each session.

    Returns
    -------
    trials : pandas.DataFrame, shape (n_trials, 6)
        ``trial`` (0-based index into ``masterordering``), ``session``, ``trial_in_session``
        (1-based), ``nsd10k`` (1-based), ``nsd_id`` (0-based 73k id), ``shared``.
    """
    import pandas as pd

    rows = []
    for ses in files:
        start = (ses - 1) * trials_per_session
        if start + trials_per_session > len(masterordering):
            raise ValueError(f"Session {ses} ({files[ses].name}) lies beyond the "
                             f"{len(masterordering)} trials of masterordering.")
        t = np.arange(start, start + trials_per_session)
        rows.append(np.column_stack([t, np.full_like(t, ses), t - start + 1]))
    arr = np.concatenate(rows)
    nsd10k = masterordering[arr[:, 0]]
    nsd_id = subjectim[subject - 1, nsd10k - 1] - 1
    return pd.DataFrame({"trial": arr[:, 0], "session": arr[:, 1], "trial_in_session": arr[:, 2],
                         "nsd10k": nsd10k, "nsd_id": nsd_id, "shared": np.isin(nsd_id + 1, sharedix)})


def read_stim_info(root):
    """The stimulus table (``nsd_stim_info_merged.csv``), one row per 73k image, indexed by ``nsdId``.

    Parameters
    ----------
    root : str | Path
        NSD root folder.

    Returns
    -------
    stim : pandas.DataFrame, shape (n_images, n_columns)
        With at least ``cocoId``, ``cocoSplit`` and ``nsdId`` (also the index).
    """
    import pandas as pd

    df = pd.read_csv(Path(root) / STIMINFO)
    for col in ("cocoId", "cocoSplit", "nsdId"):
        if col not in df.columns:
            raise ValueError(f"{STIMINFO!r} has no column {col!r} (columns: {list(df.columns)[:12]}...).")
    return df.set_index("nsdId", drop=False)


def coco_categories(root, cache: Path, stim=None) -> tuple[dict[int, list[str]], dict[str, str | None]]:
    """COCO category names per 73k image, from the instance annotations (cached).

    Parameters
    ----------
    root : str | Path
        NSD root folder.
    cache : Path
        JSON file holding the parsed map (written atomically; reused while the annotation
        files keep their path and size), because the real annotation files are large.
    stim : pandas.DataFrame | None
        The stimulus table (:func:`read_stim_info`), matched through ``cocoId`` and ``cocoSplit``;
        None reads it from ``root`` when the cache has to be rebuilt.

    Returns
    -------
    labels : dict of int to list of str
        ``nsdId`` -> sorted category names (images without annotations are absent).
    supercategories : dict of str to str | None
        Category name -> its COCO supercategory.
    """
    ann_dir = Path(root) / ANNOTATIONS
    files = {s: ann_dir / f"instances_{s}.json" for s in ("train2017", "val2017")}
    for f in files.values():
        if not f.is_file():
            raise FileNotFoundError(f"COCO annotation file {str(f)!r} is missing (needed for category labels).")
    tag = stable_hash({s: [str(f.resolve()), f.stat().st_size] for s, f in files.items()}, length=10)
    if cache.is_file():
        doc = json.loads(cache.read_text())
        if doc.get("tag") == tag:
            return {int(k): v for k, v in doc["labels"].items()}, doc["supercategories"]
    if stim is None:
        stim = read_stim_info(root)
    labels: dict[int, set] = {}
    supercats = {}
    for split, f in files.items():
        doc = json.loads(f.read_text())
        names = {c["id"]: c["name"] for c in doc["categories"]}
        supercats.update({c["name"]: c.get("supercategory") for c in doc["categories"]})
        sel = stim[stim.cocoSplit == split]
        by_coco = dict(zip(sel.cocoId.astype(int), sel.nsdId.astype(int)))
        for a in doc["annotations"]:
            nid = by_coco.get(int(a["image_id"]))
            if nid is not None:
                labels.setdefault(nid, set()).add(names[a["category_id"]])
    out = {k: sorted(v) for k, v in labels.items()}
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache) as tmp:
        tmp.write_text(json.dumps({"tag": tag, "labels": {str(k): v for k, v in out.items()},
                                   "supercategories": supercats}))
    return out, supercats


def category_presence(cats: dict, supercats: dict, categories, nsd_ids) -> np.ndarray:
    """Presence (0/1) of each category (or supercategory) in each image.

    Parameters
    ----------
    cats : dict of int to list of str
        Category names per 73k image (:func:`coco_categories`).
    supercats : dict of str to str | None
        Supercategory of each category name.
    categories : list of str
        COCO category names (``"person"``) or supercategories (``"animal"``).
    nsd_ids : array of int, shape (n_images,)
        0-based 73k ids.

    Returns
    -------
    Y : ndarray, shape (n_images, n_categories), int8
        1 where the image shows the category.
    """
    known = set(supercats) | {v for v in supercats.values() if v}
    for c in categories:
        check_option("categories", c, sorted(known))
    Y = np.zeros((len(nsd_ids), len(categories)), dtype=np.int8)
    for i, nid in enumerate(np.asarray(nsd_ids).astype(int)):
        names = cats.get(int(nid), ())
        sup = {supercats.get(n) for n in names}
        for j, c in enumerate(categories):
            Y[i, j] = c in names or c in sup
    return Y


def average_repetitions(X: np.ndarray, info):
    """Average the rows of ``X`` that show the same image (``info.nsd_id``).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_voxels)
    info : pandas.DataFrame with columns ``nsd_id``, ``shared``, ``session``

    Returns
    -------
    Xavg : ndarray, shape (n_images, n_voxels), same dtype (images in ascending ``nsd_id``)
    info_avg : pandas.DataFrame with ``nsd_id``, ``shared``, ``n_reps``, ``first_session``
    """
    import pandas as pd
    from scipy import sparse

    ids = info["nsd_id"].to_numpy()
    uniq, inv, counts = np.unique(ids, return_inverse=True, return_counts=True)
    S = sparse.csr_matrix(((1.0 / counts[inv]).astype(X.dtype), (inv, np.arange(len(ids)))),
                          shape=(len(uniq), len(ids)))
    Xavg = np.asarray(S @ X, dtype=X.dtype)
    g = info.groupby("nsd_id", sort=True)
    info_avg = pd.DataFrame({"nsd_id": uniq, "shared": g["shared"].first().to_numpy(),
                             "n_reps": counts, "first_session": g["session"].min().to_numpy()})
    return Xavg, info_avg
