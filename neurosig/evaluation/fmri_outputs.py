"""Outputs of fMRI decoding jobs: result table, per-ROI score plots, voxel maps (NIfTI + glass brain)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import atomic_path


def _slug(s: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "-", str(Path(s).name if "/" in str(s) else s)).strip("-")


def _write_maps(out_dir, subject, kind, roi, name, m, masker, X, info, t, y, maps, job):
    """Voxel weight maps (decoding, linear label models) or score maps (encoding): NIfTI + glass brain."""
    stem = f"sub-{subject:02d}_{kind}_roi-{_slug(roi)}_target-{_slug(name)}_model-{m['name']}"
    written = []
    images = {}
    if maps is not None:
        images["r"] = maps["r"]
        if maps["nc"] is not None:
            images["noiseceiling"] = maps["nc"]
    elif y is not None and m["name"] in ("ridge", "logistic", "svm") and len(np.unique(y)) == 2:
        from .fmri import _classifier

        est = _classifier(m, job["seed"]).fit(X, y)
        images["weights"] = np.ravel(est[-1].coef_)
    for what, vec in images.items():
        img = masker.inverse_transform(np.asarray(vec, np.float32)[None, :])
        if len(img.shape) == 4:
            from nilearn.image import index_img

            img = index_img(img, 0)
        path = out_dir / "maps" / f"{stem}_{what}.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            nii = Path(str(tmp) + ".nii.gz")
            img.to_filename(nii)
            nii.replace(tmp)
        written.append(str(path))
        if job["plots"]:
            written.append(str(_glass_brain(img, path.with_suffix("").with_suffix(".png"), f"{stem} {what}")))
    return written


def _glass_brain(img, png: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from nilearn import plotting

    with atomic_path(png) as tmp:
        disp = plotting.plot_glass_brain(img, title=title[-60:], colorbar=True, plot_abs=False)
        disp.savefig(str(tmp) + ".png")
        disp.close()
        Path(str(tmp) + ".png").replace(tmp)
    plt.close("all")
    return png


def _table(df):
    import pandas as pd

    rows = []
    for _, r in df.iterrows():
        p = r["params"] or {}
        e = r["extra"] if isinstance(r["extra"], dict) else {}
        rows.append({"kind": r["kind"], "subject": r["subject"], "roi": p.get("roi"), "target": p.get("target"),
                     "model": r["pipeline"], "cv": r["evaluation"], "metric": r["metric"],
                     "score": r["score"], "accuracy": e.get("accuracy"),
                     "identification": e.get("identification_accuracy"),
                     "nc_fraction": e.get("median_r2_over_nc"), "n": r["samples"], "voxels": r["channels"],
                     "status": r["status"], "error": r["error"]})
    return pd.DataFrame(rows)


def _plot_scores(df, out_dir: Path):
    """One bar chart per kind and metric: score per ROI, one bar per (target, model)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tab = _table(df)
    tab = tab[tab.status == "ok"]
    for (kind, metric), g in tab.groupby(["kind", "metric"]):
        piv = g.pivot_table(index="roi", columns=["target", "model"], values="score", aggfunc="mean")
        fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(piv)), 3.5))
        piv.plot.bar(ax=ax)
        ax.set_ylabel(metric)
        ax.set_title(kind)
        if metric == "balanced_accuracy":
            ax.axhline(0.5, color="k", lw=0.8, ls="--")
        ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
        fig.tight_layout()
        png = out_dir / f"scores_{kind}_{metric}.png"
        with atomic_path(png) as tmp:
            fig.savefig(str(tmp) + ".png", dpi=100)
            Path(str(tmp) + ".png").replace(tmp)
        plt.close(fig)
