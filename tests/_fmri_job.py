"""A small generated NSD subject and a decoding job on it, shared by the job tests."""
from __future__ import annotations

from pathlib import Path


def small_nsd(tmp_path: Path) -> Path:
    """One generated NSD subject (2 sessions of 36 trials, 8 x 10 x 6 voxels)."""
    from neurosig.datasets.synthetic_nsd import make_synthetic_nsd

    return make_synthetic_nsd(tmp_path / "nsd", subjects=(1,), n_sessions_present=2, trials_per_session=36,
                              n_sessions_total=10, images_per_subject=120, n_images_total=400, n_shared=20,
                              shape=(8, 10, 6), effect=0.6, seed=0)


def decoding_job(root: Path, tmp_path: Path, name: str) -> dict:
    """Two ROIs x two models decoding one COCO category; results in ``tmp_path / f"{name}.sqlite"``."""
    return {"dataset": {"type": "nsd", "root": str(root), "cache_dir": str(tmp_path / "cache")},
            "subjects": [1], "rois": ["prf-visualrois:V1d", "prf-visualrois:hV4"],
            "targets": [{"type": "coco", "categories": ["person"]}], "models": ["ridge", "logistic"],
            "analyses": ["decoding"], "cv": {"scheme": "group-kfold", "n_splits": 3},
            "results": str(tmp_path / f"{name}.sqlite"), "verbose": False}
