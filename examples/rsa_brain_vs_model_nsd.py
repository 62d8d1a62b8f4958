"""Brain versus model on fMRI: NSD ROI RDMs against image feature arrays, in one RSA job.

A miniature NSD folder from the project's generator (3 subjects, volume and fsaverage
betas) carries a planted signal: the images' features (``features.npy``, one row per
73k image) and the presence of "person" drive the voxels of ONE ROI (hV4); every
other ROI sees noise only. The job computes, per subject and ROI, the crossnobis RDM
of the shared images seen twice by every subject (repetitions as folds) and compares
each ROI with the image features and with an unrelated control feature array, with
bootstrap CIs, noise ceilings, tRSA settings and ROI identification. Run in the
volume space (``func1pt8mm``) and on the fsaverage surface.

Run:  PYTHONPATH=$PWD python examples/rsa_brain_vs_model_nsd.py [--out DIR] [--space func1pt8mm|fsaverage|both]
Prints the feature x ROI table of each space; writes the results store, CSV tables
and figures to --out.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROIS = ["prf-visualrois:V1v", "prf-visualrois:V1d", "prf-visualrois:V2v", "prf-visualrois:V3v",
        "prf-visualrois:hV4"]
SIGNAL_ROI = "prf-visualrois:hV4"


def make_tree(root: Path) -> Path:
    from neurosig.datasets.synthetic_nsd import make_synthetic_nsd

    if not (root / "nsddata").is_dir():
        make_synthetic_nsd(root, subjects=(1, 2, 3), n_sessions_present=5, trials_per_session=60,
                           n_sessions_total=5, images_per_subject=100, n_images_total=400, n_shared=40,
                           shape=(10, 12, 8), effect=1.0, feature_effect=1.5, noise=1.0, surface_ico=2, seed=0)
    rng = np.random.default_rng(1)
    feats = np.load(root / "features.npy")
    np.save(root / "control_features.npy", rng.normal(size=feats.shape).astype(np.float32))
    return root


def job_config(space: str, n_boot: int) -> dict:
    return {
        "name": f"nsd-{space}",
        "brain": {"kind": "nsd", "name": "mini-nsd", "root": "nsd", "subjects": [1, 2, 3], "space": space,
                  "rois": ROIS, "images": "shared", "min_reps": 2, "distance": "crossnobis",
                  "cache_dir": "nsd_cache"},
        "models": [{"kind": "features", "name": "image-features", "path": "nsd/features.npy", "rows": "ids"},
                   {"kind": "features", "name": "control", "path": "nsd/control_features.npy", "rows": "ids"}],
        "distance": "euclidean", "method": "spearman",
        "transforms": {"variants": ["geotopological", "geodesic"], "lows": [0.0, 0.1], "ups": [0.5, 0.9]},
        "bootstrap": {"n": n_boot, "seed": 0},
        "output": {"dir": f"out_{space}", "results": "results.sqlite"},
    }


def main(argv=None) -> int:
    import pandas as pd

    from neurosig.evaluation.rsa.job import run_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("rsa_nsd_models_out"))
    ap.add_argument("--space", default="both", choices=["func1pt8mm", "fsaverage", "both"])
    ap.add_argument("--n-boot", type=int, default=100)
    args = ap.parse_args(argv)
    make_tree(args.out / "nsd")
    spaces = ["func1pt8mm", "fsaverage"] if args.space == "both" else [args.space]
    for space in spaces:
        res = run_config(job_config(space, args.n_boot), base=args.out)
        raw = res.table("raw")
        raw.columns = [c.split(":")[-1] for c in raw.columns]
        with pd.option_context("display.width", 200):
            n_img = len(np.load(args.out / f"out_{space}" / f"nsd-{space}_rdms.npz")["conditions"])
            print(f"[{space}] feature x ROI similarity (Spearman, raw RDMs; {n_img} shared images, "
                  "3 subjects):")
            print(raw.round(3).to_string())
            best = res.best[res.best["setting"] == "raw"][["region", "best_layer", "score", "ci_low", "ci_high"]]
            print(best.round(3).to_string(index=False))
            print(res.identification[["setting", "accuracy", "ci_low", "ci_high", "chance"]].round(3)
                  .to_string(index=False))
            hit = raw.loc["image-features:features"]
            print(f"[{space}] planted ROI {SIGNAL_ROI.split(':')[1]}: {hit[SIGNAL_ROI.split(':')[1]]:.3f}; "
                  f"best null ROI: {hit.drop(SIGNAL_ROI.split(':')[1]).max():.3f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
