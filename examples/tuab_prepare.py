"""Prepare a TUAB-shaped folder into a window store and read a training batch from it.

Runs in seconds on a small generated corpus (synthetic signals with real TUH
channel names). On a real TUAB copy, replace ``root`` with its folder, or run
``neurosig tuab prepare ROOT --cache DIR --n-jobs 2``.
"""
import tempfile
from pathlib import Path

import torch

from neurosig.datasets import TUAB, WindowDataset, make_synthetic_tuab
from neurosig.preprocessing.recipe import PreprocessingConfig

with tempfile.TemporaryDirectory(prefix="neurosig_tuab_") as tmp:
    work = Path(tmp)
    root = make_synthetic_tuab(work / "tuab", n_subjects=6, n_eval_subjects=2, duration=30.0,
                               bad=("short", "missing_electrodes"))

    tuab = TUAB(root, verbose=False)
    print(tuab.index.groupby(["split", "label"]).size().to_string())

    config = PreprocessingConfig(montage="tcp16", notch=60.0, sfreq=200.0, window_s=10.0)
    summary = tuab.prepare(work / "cache", config=config, n_jobs=1)
    print(f"{summary['n_ok']} recordings -> {summary['n_windows']} windows, {summary['n_rejected']} rejected")

    train = WindowDataset(work / "cache", split="train", val_fraction=0.2, random_state=0, scale="p95")
    loader = torch.utils.data.DataLoader(train, batch_size=8, shuffle=True)
    x, y = next(iter(loader))
    print("batch:", tuple(x.shape), "labels:", y.tolist())
    print("contract:", train.contract.reference, train.contract.sfreq, "Hz,", train.contract.n_times, "samples")
