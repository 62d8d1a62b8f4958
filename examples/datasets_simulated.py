"""Simulated motor imagery: generate, epoch with a MOABB paradigm, measure ERD, plot the PSD.

Run:  python examples/datasets_simulated.py [--out FOLDER] [--subject N]

Prints the mu (8-13 Hz) event-related desynchronisation at C3 and C4 for
left- and right-hand imagery (power during imagery relative to the pre-cue
baseline) and saves a PSD plot (C3 and C4, per class) as
``FOLDER/simulated_psd.png`` (default: a temporary folder).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from moabb.paradigms import LeftRightImagery  # noqa: E402
from scipy.signal import welch  # noqa: E402

from neurosig.datasets import SimulatedMotorImagery  # noqa: E402
from neurosig.datasets.simulated import EEG_CHANNELS  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="folder for the PSD plot (default: a temp folder)")
    parser.add_argument("--subject", type=int, default=4, help="simulated subject (1-6)")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="neurosig_sim_"))
    out.mkdir(parents=True, exist_ok=True)

    dataset = SimulatedMotorImagery(n_subjects=6, n_runs=2, seed=42, sessions=["0train"])
    print("subject physiology:", {k: round(v, 2) for k, v in dataset.subject_parameters(args.subject).items()
                                  if k in ("smr_snr", "mu_freq", "beta_freq", "erd")})
    # Epochs from 0 s (trial start) to 6 s so that the pre-cue baseline (0-2 s) is included;
    # MOABB's default for this dataset is the imagery window [2, 6] s.
    # (tmin is relative to the start of the dataset's interval, tmax=None keeps its end.)
    paradigm = LeftRightImagery(fmin=1, fmax=40, tmin=-2.0)
    X, y, meta = paradigm.get_data(dataset, subjects=[args.subject])
    ch = ["C3", "C4"]
    idx = [EEG_CHANNELS.index(c) for c in ch]
    sf = 250.0
    print(f"epochs: {X.shape} (trials, channels, samples) at {sf:.0f} Hz; classes {sorted(set(y))}")

    def band_power(seg, lo=8, hi=13):
        f, p = welch(seg, sf, nperseg=int(sf))
        return p[..., (f >= lo) & (f <= hi)].mean(-1)

    base = band_power(X[:, idx, : int(2 * sf)])                  # 0-2 s: before the cue
    act = band_power(X[:, idx, int(2.5 * sf): int(6 * sf)])     # 2.5-6 s: imagery
    erd = {}
    for cls in ("left_hand", "right_hand"):
        m = y == cls
        erd[cls] = {c: float(1 - act[m, i].mean() / base[m, i].mean()) for i, c in enumerate(ch)}
        print(f"{cls:>10}: mu ERD at C3 = {erd[cls]['C3']:+.0%}, at C4 = {erd[cls]['C4']:+.0%}")
    print("expected: right hand -> larger ERD at C3 (left hemisphere), left hand -> larger at C4")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for ax, c, i in zip(axes, ch, idx):
        for cls, color in (("left_hand", "tab:blue"), ("right_hand", "tab:red")):
            f, p = welch(X[y == cls][:, i, int(2.5 * sf): int(6 * sf)], sf, nperseg=int(sf))
            keep = (f >= 2) & (f <= 40)
            ax.semilogy(f[keep], p.mean(0)[keep], color=color, label=f"{cls} (2.5-6 s)")
        f, p = welch(X[:, i, : int(2 * sf)], sf, nperseg=int(sf))
        keep = (f >= 2) & (f <= 40)
        ax.semilogy(f[keep], p.mean(0)[keep], color="gray", ls="--", label="baseline (0-2 s)")
        ax.set(title=c, xlabel="Hz", xlim=(2, 40))
    axes[0].set_ylabel("PSD (uV^2/Hz)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    png = out / "simulated_psd.png"
    fig.savefig(png, dpi=80)
    plt.close(fig)
    print(f"PSD plot: {png}")
    return {"erd": erd, "png": png, "shape": X.shape}


if __name__ == "__main__":
    main()
