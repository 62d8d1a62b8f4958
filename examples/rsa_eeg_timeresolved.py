"""Time-resolved RSA on real EEG: crossnobis RDMs over a sliding window.

PhysioNet EEG Motor Movement/Imagery, subject S001, imagined left fist (T1), right
fist (T2) and rest (T0), runs 4, 8 and 12 (shared data). One RDM of the 3 conditions
per 250 ms window, cross-validated over the 3 runs (crossnobis, unbiased: 0 means
"not distinguishable"), plus the Spearman similarity of each window's RDM with a
"rest differs from movement" model RDM.

Run:  PYTHONPATH=$PWD python examples/rsa_eeg_timeresolved.py [--data-dir DIR] [--out DIR]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np


def load_epochs(data_dir: Path, tmin=0.0, tmax=3.0):
    import mne

    X, y, runs = [], [], []
    for run in (4, 8, 12):
        raw = mne.io.read_raw_edf(data_dir / "eegmmidb" / "S001" / f"S001R{run:02d}.edf", preload=True,
                                  verbose="error")
        raw.filter(1.0, 30.0, verbose="error")
        events, ids = mne.events_from_annotations(raw, verbose="error")
        ep = mne.Epochs(raw, events, {k: ids[k] for k in ("T0", "T1", "T2")}, tmin=tmin, tmax=tmax,
                        baseline=None, preload=True, verbose="error").resample(80, verbose="error")
        X.append(ep.get_data(copy=True) * 1e6)
        inv = {v: k for k, v in ep.event_id.items()}
        y += [inv[e] for e in ep.events[:, 2]]
        runs += [run] * len(ep)
    return np.concatenate(X), np.array(y), np.array(runs), ep.times


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosig.evaluation.rsa import compare, noise_precision, sliding_window_rdms

    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path,
                    default=Path(os.environ.get("NEUROSIG_SHARED_DATA", here.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, default=Path("rsa_eeg_out"))
    args = ap.parse_args(argv)

    X, y, runs, times = load_epochs(args.data_dir)
    # noise normalisation: precision of the residuals (trial minus its condition mean in each
    # window, channel values averaged over the window) with Schaefer-Strimmer shrinkage
    win = np.lib.stride_tricks.sliding_window_view(X, 20, axis=2)[:, :, ::10].mean(-1)  # (trials, ch, windows)
    res = win.copy()
    for c in np.unique(y):
        res[y == c] -= win[y == c].mean(axis=0)
    P = noise_precision(res.transpose(0, 2, 1).reshape(-1, X.shape[1]), method="shrinkage_diag")
    rdms, centers = sliding_window_rdms(X, y, window=20, step=10, method="crossnobis", folds=runs,
                                        times=times, noise=P)
    # model: rest (T0) far from both movements (T1, T2), movements close to each other
    model = np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0.0]])
    fit = compare(model, rdms, "spearman")[0]
    labels, counts = np.unique(y, return_counts=True)
    print(f"{len(y)} epochs ({', '.join(f'{lab}: {n}' for lab, n in zip(labels, counts))}), "
          f"{len(centers)} windows of 250 ms")
    print("window centre (s) | d(T0,T1) d(T0,T2) d(T1,T2) | spearman with model")
    for c, D, f in zip(centers, rdms, fit):
        print(f"{c:6.2f} | {D[0, 1]:8.3f} {D[0, 2]:8.3f} {D[1, 2]:8.3f} | {f:6.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for (i, j), lab in zip([(0, 1), (0, 2), (1, 2)], ["rest-left", "rest-right", "left-right"]):
        ax.plot(centers, rdms[:, i, j], marker="o", label=lab)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("crossnobis distance (noise-normalised)")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(args.out / "rsa_eeg_timeresolved.png", dpi=110)
    plt.close(fig)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
