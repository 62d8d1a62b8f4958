"""Outputs of fMRI decoding jobs: result table, per-ROI score plots, voxel maps (NIfTI + glass brain)
and, for surface (fsaverage) data, vertex maps per hemisphere (``.mgh`` + nilearn surface plots)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .._io import atomic_path


def _slug(s: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "-", str(Path(s).name if "/" in str(s) else s)).strip("-")


def _write_maps(out_dir, subject, kind, roi, name, m, masker, X, info, t, y, maps, job):
    """Voxel weight maps (decoding, linear label models) or score maps (encoding): NIfTI + glass brain,
    or on the surface one ``.mgh`` per hemisphere + a surface plot."""
    from ..datasets.nsd_surface import SurfaceROIMasker

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
        if isinstance(masker, SurfaceROIMasker):
            ds = job["dataset"]
            written += _write_surface_map(out_dir / "maps" / f"{stem}_{what}", masker, vec, job["plots"],
                                          ds["mesh"], ds["mesh_surface"], f"{stem} {what}")
            continue
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


@lru_cache(maxsize=4)
def surface_mesh(mesh: str, surface: str) -> dict:
    """Meshes of both hemispheres (:func:`neurosig.datasets.nsd_surface.load_mesh`), read once per process.

    Parameters
    ----------
    mesh : str
        A folder of FreeSurfer surfaces, or ``"fsaverage5"`` for nilearn's bundled mesh
        (see :func:`neurosig.datasets.nsd_surface.load_mesh`).
    surface : str
        Which surface (``"inflated"``, ``"pial"``, ``"white"``, ...).
    """
    from ..datasets.nsd_surface import load_mesh

    return load_mesh(mesh, surface)


def _write_surface_map(stem: Path, masker, vec, plot: bool, mesh: str, surface: str, title: str) -> list:
    """``<stem>_lh.mgh`` and ``<stem>_rh.mgh`` (vertices x 1 x 1, float32) and, with ``plot``, ``<stem>.png``."""
    import nibabel as nib

    maps = masker.inverse_transform(np.asarray(vec, np.float32))
    written = []
    stem.parent.mkdir(parents=True, exist_ok=True)
    for h, data in maps.items():
        path = stem.parent / f"{stem.name}_{h}.mgh"
        with atomic_path(path) as tmp:
            nib.save(nib.MGHImage(data.reshape(-1, 1, 1), np.eye(4)), str(tmp) + ".mgh")
            Path(str(tmp) + ".mgh").replace(tmp)
        written.append(str(path))
    if plot:
        from ..datasets.nsd_surface import check_mesh

        meshes = surface_mesh(mesh, surface)
        check_mesh(meshes, masker.n_vertices, mesh)
        written.append(str(plot_surface_maps(maps, meshes, stem.parent / f"{stem.name}.png", title)))
    return written


def plot_surface_maps(maps: dict, meshes: dict, png: Path, title: str = "") -> Path:
    """Both hemispheres (lateral, medial, posterior views) with nilearn's ``plot_surf_stat_map``.

    Parameters
    ----------
    maps : dict
        ``{"lh": (n_lh,), "rh": (n_rh,)}`` values per vertex.
    meshes : dict
        ``{"lh": (coords (n_lh, 3), faces), "rh": ...}`` (see :func:`surface_mesh`).
    png : Path
        Output figure (written atomically).
    title : str
        Figure title (its last 80 characters are shown).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from nilearn import plotting

    vmax = float(max(np.nanmax(np.abs(v)) for v in maps.values())) or 1.0
    views = ("lateral", "medial", "posterior")
    fig, axes = plt.subplots(2, 3, figsize=(11, 6.5), subplot_kw={"projection": "3d"})
    for row, (h, hemi) in enumerate((("lh", "left"), ("rh", "right"))):
        for col, view in enumerate(views):
            plotting.plot_surf_stat_map(meshes[h], maps[h], hemi=hemi, view=view, axes=axes[row, col],
                                        figure=fig, colorbar=(row, col) == (1, 2), vmin=-vmax, vmax=vmax,
                                        cmap="RdBu_r", title=f"{h} {view}")
    fig.suptitle(title[-80:], fontsize=9)
    with atomic_path(png) as tmp:
        fig.savefig(str(tmp) + ".png", dpi=80)
        Path(str(tmp) + ".png").replace(tmp)
    plt.close(fig)
    return png


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
