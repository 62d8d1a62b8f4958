"""Decode on NSD's fsaverage surface betas: generate a miniature NSD, run a small job, print the
table and the per-hemisphere maps (``.mgh``) and surface plot (nilearn ``plot_surf_stat_map``).

The miniature surface is an icosphere (642 vertices per hemisphere) written as FreeSurfer
geometry under ``nsddata/freesurfer/fsaverage/surf``; the planted "person" signal lives in
the vertices of prf-visualrois:hV4 only, so decoding is near perfect there and at chance in V2v.

    PYTHONPATH=$PWD python examples/fmri_decode_nsd_surface.py [--root DIR] [--out DIR] [--mesh DIR|fsaverage5]

With real NSD data, point ``dataset.root`` at the NSD folder: the default mesh is
``<root>/nsddata/freesurfer/fsaverage/surf/{lh,rh}.inflated``.
"""
import argparse
import tempfile
from pathlib import Path

import neurosig
from neurosig.datasets.synthetic_nsd import make_synthetic_nsd
from neurosig.evaluation.fmri import _table

ap = argparse.ArgumentParser()
ap.add_argument("--root", help="where to write the mini NSD (default: a temporary folder)")
ap.add_argument("--out", help="results and maps folder (default: <root>/out_surface)")
ap.add_argument("--mesh", help="mesh folder or 'fsaverage5' (default: the NSD folder's fsaverage/surf)")
args = ap.parse_args()

root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="mini_nsd_"))
if not (root / "nsddata").is_dir():
    make_synthetic_nsd(root, subjects=(1,), n_sessions_present=3, trials_per_session=60, n_sessions_total=10,
                       images_per_subject=200, n_images_total=700, n_shared=40, shape=(10, 14, 8),
                       effect=0.6, surface_ico=3, seed=0)
out = Path(args.out) if args.out else root / "out_surface"
dataset = {"type": "nsd", "root": str(root), "space": "fsaverage", "cache_dir": str(out / "cache")}
if args.mesh:
    dataset["mesh"] = args.mesh
job = {
    "dataset": dataset,
    "subjects": [1],
    "rois": ["prf-visualrois:V2v", "prf-visualrois:hV4"],
    "targets": [{"type": "coco", "categories": ["person"]}],
    "models": ["logistic"],
    "analyses": ["decoding"],
    "cv": {"scheme": "group-kfold", "n_splits": 4},
    "results": str(out / "results.sqlite"),
    "output_dir": str(out),
    "verbose": False,
}
rows = neurosig.decode_fmri(job)
tab = _table(rows)[["kind", "roi", "target", "model", "metric", "score", "voxels"]]
print(tab.rename(columns={"voxels": "vertices"}).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
for maps in rows.extra.map(lambda e: e.get("maps", [])):
    for path in maps:
        print("map:", Path(path).relative_to(out))
