"""Brain versus model on EEG: time-resolved crossnobis RDMs against network layers, in one RSA job.

Simulated epochs with a planted condition structure: 8 conditions (2 categories x 4
items), 16 channels, 4 subjects with their own sensor mixing, 3 runs each. From
0.0 to 0.25 s the channels carry the category (a two-block RDM), from 0.25 to 0.5 s
the items' position on a ring (a circular RDM), before 0 s and after 0.5 s noise
only. One job compares every 125 ms window ("region") with

* the planted structures themselves (feature arrays ``truth:category``, ``truth:ring``),
* a nano bi-Mamba pretrained for a few seconds on 128 of the epochs (masked patch
  reconstruction; its checkpoint is read back by the job),
* a nano PatchTransformer built with a fixed seed,
* TFM tokenizer token embeddings (a small tokenizer fitted on the epochs),

with raw and tRSA-transformed RDMs, bootstrap CIs, noise ceilings, the best layer per
window and leave-one-subject-out window identification. Prints the layer x window
table and the best layer per window; writes the results store, CSV tables,
figures and a report page (``out/report.html``, as ``neurosig report`` writes it)
to --out.

With ``--physionet DIR`` the same job runs on real EEG instead: PhysioNet EEG Motor
Movement/Imagery subject 1 through MOABB's ``PhysionetMI`` dataset and the
``MotorImagery`` paradigm (runs 3-14: rest, and left fist, right fist, both fists,
both feet, each imagined and executed: 9 conditions), 64 channels at 80 Hz, 0-3 s;
``DIR`` holds ``MNE-eegbci-data/files/eegmmidb/1.0.0/S001``.

Run:  PYTHONPATH=$PWD python examples/rsa_brain_vs_model_eeg.py [--out DIR] [--by-hand] [--physionet DIR]
``--by-hand`` also times the same brain-side steps written directly with rsatoolbox
(crossnobis RDMs per subject and window, comparison with the planted model RDMs,
bootstrap over subjects and conditions) for comparison.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SFREQ, N_CH, N_T, TMIN = 128.0, 16, 128, -0.25
N_SUBJ, N_RUNS, N_PER_RUN = 4, 3, 4


def planted():
    """Condition codes of the two planted structures, shape (8, 2) and (8, 2)."""
    cat = np.repeat([[1.0, 0.0], [0.0, 1.0]], 4, axis=0)
    ang = 2 * np.pi * np.arange(8) / 8
    ring = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    return cat, ring


def simulate(seed: int = 0):
    """Epochs X (n_trials, 16, 128), labels, subject and run of each trial."""
    rng = np.random.default_rng(seed)
    cat, ring = planted()
    t = TMIN + np.arange(N_T) / SFREQ
    early = ((t >= 0.0) & (t < 0.25)).astype(float)
    late = ((t >= 0.25) & (t < 0.5)).astype(float)
    X, y, subj, run = [], [], [], []
    for s in range(1, N_SUBJ + 1):
        A1, A2 = rng.normal(size=(N_CH, 2)), rng.normal(size=(N_CH, 2))  # subject's sensor mixing
        for r in range(N_RUNS):
            for c in np.repeat(np.arange(8), N_PER_RUN):
                sig = 1.2 * (A1 @ cat[c])[:, None] * early + 1.2 * (A2 @ ring[c])[:, None] * late
                X.append(sig + rng.normal(size=(N_CH, N_T)))
                y.append(f"c{c}"), subj.append(s), run.append(r)
    return np.array(X, dtype=np.float32), np.array(y), np.array(subj), np.array(run)


def pretrain_mamba(X, path: Path) -> float:
    """A nano bi-Mamba trained by masked patch reconstruction (2 epochs on 128 epochs); returns seconds."""
    import torch

    from neurosig.models.checkpoints import build_encoder
    from neurosig.models.pretrain import PretrainConfig, pretrain

    torch.manual_seed(0)
    enc = build_encoder("bimamba", "nano", n_channels=N_CH, n_times=N_T, n_blocks=2)
    t0 = time.time()
    pick = np.random.default_rng(0).choice(len(X), 128, replace=False)
    pretrain(enc, X[pick], PretrainConfig(max_epochs=2, batch_size=32, random_state=0), checkpoint_dir=path, verbose=False)
    return time.time() - t0


def job_config(out: Path, n_boot: int) -> dict:
    return {
        "name": "eeg-vs-models",
        "brain": {"kind": "eeg", "name": "simulated-eeg", "epochs": "epochs.npz", "window": 0.125,
                  "distance": "crossnobis", "folds": "run"},
        "models": [
            {"kind": "features", "name": "truth-category", "path": "truth_category.npy", "distance": "euclidean"},
            {"kind": "features", "name": "truth-ring", "path": "truth_ring.npy", "distance": "euclidean"},
            {"kind": "encoder", "name": "bimamba", "checkpoint": "mamba_ckpt/best.pt",
             "layers": ["patch_embed", "mamba_blocks.*", "norm_layers.*"]},
            {"kind": "encoder", "name": "transformer", "arch": "transformer", "size": "nano", "seed": 0,
             "layers": ["patch_embed", "blocks.*", "norm"]},
            {"kind": "tfm", "name": "tfm", "settings": {"n_codes": 64, "dim": 16, "n_fft": 32, "hop": 16,
                                                        "epochs": 2, "model_sfreq": SFREQ}},
        ],
        "distance": "correlation", "method": "spearman",
        "transforms": {"variants": ["geotopological", "geodesic"], "lows": [0.0, 0.1], "ups": [0.5, 0.9]},
        "bootstrap": {"n": n_boot, "seed": 0},
        "output": {"dir": "out", "results": "out/results.sqlite"},
    }


def physionet_config(data_dir: Path, n_boot: int) -> dict:
    """The job on PhysionetMI subject 1 (real EEG): built nano encoders and TFM embeddings."""
    return {
        "name": "physionet-vs-models",
        "brain": {"kind": "eeg", "name": "physionetmi-s1", "dataset": "PhysionetMI", "data_path": str(data_dir),
                  "subjects": [1], "dataset_params": {"imagined": True, "executed": True},
                  "paradigm": "MotorImagery",
                  "paradigm_params": {"n_classes": 5, "resample": 80, "fmin": 1, "fmax": 30},
                  "window": 0.5, "distance": "crossnobis",
                  # MOABB runs "0".."11" are runs 3-14: executed (3, 5, 7, ...) and imagined (4, 6, 8, ...)
                  "run_labels": {str(i): "executed" if i % 2 == 0 else "imagined" for i in range(12)},
                  "unsplit": ["rest"]},
        "models": [
            {"kind": "encoder", "name": "bimamba", "arch": "bimamba", "size": "nano", "seed": 0,
             "layers": ["patch_embed", "mamba_blocks", "norm_layers.*"]},
            {"kind": "encoder", "name": "transformer", "arch": "transformer", "size": "nano", "seed": 0,
             "layers": ["patch_embed", "blocks.*", "norm"]},
            {"kind": "tfm", "name": "tfm", "settings": {"n_codes": 64, "dim": 16, "n_fft": 40, "hop": 20,
                                                        "epochs": 1, "model_sfreq": 80.0}},
        ],
        "method": "spearman", "bootstrap": {"n": n_boot, "seed": 0},
        "output": {"dir": "out_physionet", "results": "out_physionet/results.sqlite"},
    }


def by_hand(X, y, subj, run, n_boot: int) -> float:
    """The brain-side steps with rsatoolbox directly; returns seconds."""
    import rsatoolbox as rt

    from neurosig.evaluation.rsa import noise_precision

    t0 = time.time()
    cat, ring = planted()
    models = [rt.model.ModelFixed(n, rt.rdm.calc_rdm(rt.data.Dataset(f), method="correlation"))
              for n, f in (("category", cat), ("ring", ring))]
    win = int(0.125 * SFREQ)
    for w in range(N_T // win):
        rdms = []
        for s in np.unique(subj):
            m = subj == s
            seg = X[m][:, :, w * win:(w + 1) * win].mean(axis=2)
            res = seg.copy()
            for c in np.unique(y):
                res[y[m] == c] -= seg[y[m] == c].mean(axis=0)
            P = noise_precision(res, method="shrinkage_diag")
            ds = rt.data.Dataset(seg, descriptors={"subj": int(s)},
                                 obs_descriptors={"cond": y[m], "run": run[m]})
            rdms.append(rt.rdm.calc_rdm(ds, method="crossnobis", descriptor="cond", cv_descriptor="run",
                                        noise=P))
        data = rt.rdm.concat(rdms)
        rt.inference.eval_bootstrap(models, data, method="spearman", N=n_boot)
    return time.time() - t0


def main(argv=None) -> int:
    import pandas as pd

    from neurosig.evaluation.rsa.job import run_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("rsa_eeg_models_out"))
    ap.add_argument("--n-boot", type=int, default=100)
    ap.add_argument("--by-hand", action="store_true", help="also time the same steps with rsatoolbox")
    ap.add_argument("--physionet", type=Path, default=None, metavar="DIR",
                    help="run on real PhysionetMI subject 1 found under DIR instead")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.physionet is not None:
        res = run_config(physionet_config(args.physionet.resolve(), args.n_boot), base=args.out)
        with pd.option_context("display.width", 250, "display.max_columns", 30):
            print("PhysionetMI subject 1: layer x window similarity (Spearman, raw RDMs):")
            print(res.table("raw").round(2).to_string())
            print(res.best[res.best["setting"] == "raw"].drop(columns="setting").round(3).to_string(index=False))
        return 0
    t0, c0 = time.time(), time.process_time()
    X, y, subj, run = simulate()
    np.savez(args.out / "epochs.npz", X=X, y=y, subject=subj, run=run, sfreq=SFREQ, tmin=TMIN)
    cat, ring = planted()
    np.save(args.out / "truth_category.npy", cat)
    np.save(args.out / "truth_ring.npy", ring)
    if not (args.out / "mamba_ckpt" / "best.pt").is_file():
        print(f"nano bi-Mamba pretrained in {pretrain_mamba(X, args.out / 'mamba_ckpt'):.1f} s")
    res = run_config(job_config(args.out, args.n_boot), base=args.out)
    elapsed, cpu = time.time() - t0, time.process_time() - c0
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("layer x window similarity (Spearman, raw RDMs):")
        print(res.table("raw").round(2).to_string())
        print("\nbest layer per window (raw):")
        print(res.best[res.best["setting"] == "raw"].drop(columns="setting").round(3).to_string(index=False))
        print("\nwindow identification (leave one subject out):")
        print(res.identification.round(3).to_string(index=False))
    from neurosig.evaluation.html_report import write_html_report

    print(f"report page: {write_html_report(args.out / 'out' / 'results.sqlite')}")
    print(f"\nneurosig job: {elapsed:.1f} s wall / {cpu:.1f} s CPU (simulation, pretraining, RDMs, grid, "
          "figures; a rerun resumes from the stored rows)")
    if args.by_hand:
        same = job_config(args.out, args.n_boot)
        same.update(name="same-steps", models=same["models"][:2], transforms={},
                    output={"dir": "out_same_steps", "results": "out_same_steps/results.sqlite"})
        w0, c0 = time.time(), time.process_time()
        run_config(same, base=args.out)
        w1, c1 = time.time(), time.process_time()
        hand = by_hand(X, y, subj, run, args.n_boot)
        c2 = time.process_time()
        print(f"same steps (8 windows x 4 subjects crossnobis RDMs, 2 planted model RDMs, bootstrap over "
              f"subjects and conditions, raw only): neurosig job {w1 - w0:.1f} s wall / {c1 - c0:.1f} s CPU "
              f"(also window identification, tables, figures); rsatoolbox by hand {hand:.1f} s wall / "
              f"{c2 - c1:.1f} s CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
