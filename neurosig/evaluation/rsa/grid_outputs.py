"""Tables and figures of an RSA grid job: stored rows -> cells, best layers, identification; CSV and PNG files."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._io import atomic_path


@dataclass
class GridResult:
    """Tables of a grid job: ``cells`` (setting, region, layer), ``best`` (best layer per
    setting and region), ``identification`` (per setting) and the written ``figures``."""

    cells: Any
    best: Any
    identification: Any
    figures: list = field(default_factory=list)

    def table(self, setting: str = "raw"):
        """Layer x region similarity for one setting.

        Parameters
        ----------
        setting : str
            A setting label (``"raw"``, ``"geotopological [0.1, 0.9]"``).

        Returns
        -------
        table : pandas.DataFrame
            Scores, shape (n_layers, n_regions), in job order.
        """
        c = self.cells[self.cells["setting"] == setting]
        return c.pivot(index="layer", columns="region", values="score").reindex(
            index=list(dict.fromkeys(c["layer"])), columns=list(dict.fromkeys(c["region"])))


def _tables(df, layers: list[str], regions: list[str]) -> GridResult:
    import pandas as pd

    ex = pd.json_normalize(df["extra"].tolist()).set_index(df.index) if len(df) else pd.DataFrame(index=df.index)
    g = df[(df["evaluation"] == "grid") & (df["pipeline"] != "best-layer")]
    cells = pd.DataFrame({"setting": ex.loc[g.index, "setting"], "region": ex.loc[g.index, "region"],
                          "layer": g["pipeline"], "score": g["score"].astype(float),
                          "ci_low": ex.loc[g.index, "ci_low"].astype(float),
                          "ci_high": ex.loc[g.index, "ci_high"].astype(float),
                          "nc_lower": [v[0] for v in ex.loc[g.index, "noise_ceiling"]],
                          "nc_upper": [v[1] for v in ex.loc[g.index, "noise_ceiling"]],
                          "degenerate": ex.loc[g.index, "degenerate"].astype(bool)})
    order = {lay: i for i, lay in enumerate(layers)}
    rorder = {r: i for i, r in enumerate(regions)}
    cells = cells.assign(_l=cells["layer"].map(order), _r=cells["region"].map(rorder))
    cells = cells.sort_values(["setting", "_r", "_l"], kind="stable").drop(columns=["_l", "_r"])
    b = df[df["pipeline"] == "best-layer"]
    best = pd.DataFrame({"setting": ex.loc[b.index, "setting"], "region": ex.loc[b.index, "region"],
                         "best_layer": ex.loc[b.index, "best_layer"], "score": b["score"].astype(float),
                         "ci_low": ex.loc[b.index, "ci_low"].astype(float),
                         "ci_high": ex.loc[b.index, "ci_high"].astype(float),
                         "best_frequency": ex.loc[b.index, "best_frequency"].astype(float),
                         "degenerate": ex.loc[b.index, "degenerate"].astype(bool)})
    best = best.assign(_r=best["region"].map(rorder)).sort_values(["setting", "_r"]).drop(columns="_r")
    i = df[df["pipeline"] == "region-identification"]
    ident = pd.DataFrame({"setting": ex.loc[i.index, "setting"], "accuracy": i["score"].astype(float),
                          "ci_low": ex.loc[i.index, "ci_low"].astype(float),
                          "ci_high": ex.loc[i.index, "ci_high"].astype(float),
                          "chance": ex.loc[i.index, "chance"].astype(float),
                          "degenerate": ex.loc[i.index, "degenerate"].astype(bool),
                          "n_test": i["samples"]}) if len(i) else pd.DataFrame(
        columns=["setting", "accuracy", "ci_low", "ci_high", "chance", "degenerate", "n_test"])
    return GridResult(cells.reset_index(drop=True), best.reset_index(drop=True), ident.reset_index(drop=True))


def write_outputs(result: GridResult, d: dict, out_dir: Path, name: str) -> list[Path]:
    """CSV tables and figures, rewritten on every run (so a crash while writing them heals).

    Parameters
    ----------
    result : GridResult
        The tables.
    d : dict
        The RDMs of :func:`compute_rdms`.
    out_dir : Path
        Output folder.
    name : str
        The job's name (starts every file name).

    Returns
    -------
    figures : list of Path
        The figures written.
    """
    import matplotlib

    matplotlib.use("Agg")
    from .grid_plots import plot_heatmap, plot_identification, plot_profiles, plot_rdm_panels

    out_dir.mkdir(parents=True, exist_ok=True)
    for tab, suffix in ((result.cells, "grid"), (result.best, "best_layer"),
                        (result.identification, "identification")):
        with atomic_path(out_dir / f"{name}_{suffix}.csv") as tmp:
            tab.to_csv(tmp, index=False)
    layers = d["layers"].astype(str).tolist()
    regions = d["region_order"].astype(str).tolist()
    raw = result.cells[result.cells["setting"] == "raw"]
    figs = [plot_heatmap(raw, layers, regions, out_dir / f"{name}_heatmap.png", f"{name}: layer x region (raw)"),
            plot_profiles(raw, layers, regions, out_dir / f"{name}_profiles.png", f"{name}: profiles (raw)")]
    br = d["brain_rdms"]
    reg = d["regions"].astype(str)
    brain_means = {r: br[reg == r].mean(axis=0) for r in regions}
    figs.append(plot_rdm_panels(brain_means, dict(zip(layers, d["model_rdms"])), out_dir / f"{name}_rdms.png"))
    if len(result.identification):
        figs.append(plot_identification(result.identification, out_dir / f"{name}_identification.png",
                                        f"{name}: region identification (LOSO)"))
    return figs
