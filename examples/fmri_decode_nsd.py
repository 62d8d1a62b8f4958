"""Generate a miniature NSD folder, run a small decoding + encoding job, print the table.

The planted category ("person") and feature signal live in ROI prf-visualrois:hV4 only,
so decoding should be near perfect there and at chance in V1v/V2v.

    PYTHONPATH=$PWD python examples/fmri_decode_nsd.py [--root DIR] [--no-run]
"""
import argparse
import tempfile
from pathlib import Path

import neurosig
from neurosig.datasets.synthetic_nsd import make_synthetic_nsd
from neurosig.evaluation.fmri import _table

ap = argparse.ArgumentParser()
ap.add_argument("--root", help="where to write the mini NSD (default: a temporary folder)")
ap.add_argument("--no-run", action="store_true", help="only generate the folder")
args = ap.parse_args()

root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="mini_nsd_"))
if not (root / "nsddata").is_dir():
    make_synthetic_nsd(root, subjects=(1,), n_sessions_present=3, trials_per_session=90,
                       n_sessions_total=10, images_per_subject=300, n_images_total=1500, n_shared=60,
                       shape=(10, 14, 8), effect=0.6, seed=0)
print(f"mini NSD in {root}")
if not args.no_run:
    job = {
        "dataset": {"type": "nsd", "root": str(root), "cache_dir": str(root / "cache")},
        "subjects": [1],
        "rois": ["prf-visualrois:V1v", "prf-visualrois:hV4"],
        "targets": [{"type": "coco", "categories": ["person"]},
                    {"type": "features", "path": str(root / "features.npy"), "name": "feat"}],
        "models": ["ridge", "logistic"],
        "analyses": ["decoding", "encoding"],
        "cv": {"scheme": "group-kfold", "n_splits": 5},
        "results": str(root / "out" / "results.sqlite"),
        "output_dir": str(root / "out"),
        "plots": False, "maps": False, "verbose": False,
    }
    rows = neurosig.decode_fmri(job)
    tab = _table(rows)[["kind", "roi", "target", "model", "metric", "score", "identification", "nc_fraction"]]
    print(tab.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
