"""Layer RDMs of a torch network (forward hooks by layer name) compared with a category model.

A small random-weight MLP sees 40 stimuli from 4 categories (generated: category
prototypes plus noise). Each named layer's activations give an RDM; each layer RDM
is compared with the categorical model RDM (Spearman), with a condition-label
permutation test and Holm correction over layers.

Run:  PYTHONPATH=$PWD python examples/rsa_torch_layers.py [--out DIR]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from neurosig.evaluation.rsa import compare, correct_pvalues, model_rdms, permutation_test
    from neurosig.evaluation.rsa.plots import plot_rdm

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("rsa_torch_out"))
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    cats = np.repeat(np.arange(4), 10)
    stimuli = (rng.normal(size=(4, 32))[cats] + 1.5 * rng.normal(size=(40, 32))).astype(np.float32)
    net = torch.nn.Sequential(
        torch.nn.Linear(32, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 8))
    layers = ["0", "1", "3", "4"]
    rdms = model_rdms(net, stimuli, layers, method="correlation")
    category_model = (cats[:, None] != cats[None, :]).astype(float)
    names, sims, ps = [], [], []
    for name, rdm in rdms.items():
        sim = float(compare(category_model, rdm, "spearman")[0, 0])
        p = permutation_test(rdm, category_model, "spearman", n_perm=500, seed=0)["p"]
        names.append(name), sims.append(sim), ps.append(p)
    p_holm = correct_pvalues(ps, "holm")
    print("layer | spearman with category model | permutation p | Holm p")
    for n, s, p, ph in zip(names, sims, ps, p_holm):
        print(f"{n:>5} | {s:8.3f} | {p:.4f} | {ph:.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(layers), figsize=(3 * len(layers), 3))
    for ax, (name, rdm) in zip(axes, rdms.items()):
        plot_rdm(rdm, ax=ax, title=f"layer {name}", rank=True, colorbar=False)
    fig.tight_layout()
    fig.savefig(args.out / "rsa_torch_layers.png", dpi=100)
    plt.close(fig)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
