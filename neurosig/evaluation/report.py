"""The benchmark's report: summary table, per-subject confusion matrices and rejection
shares, and the files written to the output folder (CSV, Parquet, statistics, PNG plots).

Everything here reads result rows (the frame :func:`neurosig.evaluation.bci.benchmark`
returns, or :meth:`~neurosig.evaluation.results.ResultStore.to_frame`); nothing computes a score.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and std of the score per (dataset, pipeline), over subjects (sessions averaged).

    Columns: ``dataset, pipeline, evaluation, metric, mean, std, n_subjects, chance_level``
    (mean permutation chance level of the rows), ``n_significant`` (rows with p < 0.05),
    ``n_rows`` and ``rejected`` (mean share of epochs rejected as artifacts).

    Parameters
    ----------
    df : DataFrame
        BCI result rows (``dataset, pipeline, evaluation, metric, subject, score``, and
        ``p_value``/``chance_level`` columns or an ``extra`` dict holding them).
    """
    if df.empty:
        return pd.DataFrame(columns=["dataset", "pipeline", "evaluation", "metric", "mean", "std",
                                     "n_subjects", "chance_level", "n_significant", "n_rows",
                                     "rejected"])
    d = df.copy()
    if "p_value" not in d:
        d["p_value"] = [e.get("p_value") if isinstance(e, dict) else None for e in d["extra"]]
        d["chance_level"] = [e.get("chance_level") if isinstance(e, dict) else None for e in d["extra"]]
    d["p_value"] = pd.to_numeric(d["p_value"], errors="coerce")
    d["chance_level"] = pd.to_numeric(d["chance_level"], errors="coerce")
    per_subject = d.groupby(["dataset", "pipeline", "evaluation", "metric", "subject"],
                            sort=True)["score"].mean().reset_index()
    agg = per_subject.groupby(["dataset", "pipeline", "evaluation", "metric"], sort=True)["score"]
    table = agg.agg(mean="mean", std="std", n_subjects="count").reset_index()
    if "rejected_share" not in d:
        d["rejected_share"] = [e.get("rejected_share") if isinstance(e, dict) else None
                               for e in d["extra"]]
    d["rejected_share"] = pd.to_numeric(d["rejected_share"], errors="coerce")
    extra = d.groupby(["dataset", "pipeline", "evaluation", "metric"], sort=True).agg(
        chance_level=("chance_level", "mean"),
        n_significant=("p_value", lambda p: int((p < 0.05).sum())),
        n_rows=("score", "count"), rejected=("rejected_share", "mean")).reset_index()
    return table.merge(extra, on=["dataset", "pipeline", "evaluation", "metric"])


def format_summary(table: pd.DataFrame) -> str:
    """The summary table as text for the terminal.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`summarize`.
    """
    if table.empty:
        return "(no results)"
    t = table.copy()
    for c in ("mean", "std", "chance_level", "rejected"):
        if c in t:
            t[c] = t[c].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    t["significant"] = [f"{a}/{b}" for a, b in zip(t.pop("n_significant"), t.pop("n_rows"))]
    return t.to_string(index=False)


def subject_confusions(df: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, pipeline, subject): confusion matrix summed over the subject's sessions.

    Parameters
    ----------
    df : DataFrame
        BCI result rows with ``dataset, pipeline, subject, score`` and an ``extra`` dict
        (``confusion_matrix``, ``classes``, epoch counts).

    Returns
    -------
    DataFrame
        Columns ``dataset, pipeline, subject, score, classes, confusion`` (ndarray, shape
        (n_classes, n_classes): rows true class, columns predicted, out-of-fold test trials),
        ``epochs_total, epochs_rejected, rejected_share, calibration_trials``.
    """
    cols = ["dataset", "pipeline", "subject", "score", "classes", "confusion", "epochs_total",
            "epochs_rejected", "rejected_share", "calibration_trials"]
    out = []
    if df.empty:
        return pd.DataFrame(columns=cols)
    for (d, p, s), g in df.groupby(["dataset", "pipeline", "subject"], sort=True):
        extras = [e for e in g["extra"] if isinstance(e, dict)]
        cms = [np.asarray(e["confusion_matrix"]) for e in extras if "confusion_matrix" in e]
        classes = next((e["classes"] for e in extras if "classes" in e), None)
        tot = sum(int(e.get("epochs_total", 0)) for e in extras)
        rej = sum(int(e.get("epochs_rejected", 0)) for e in extras)
        out.append({"dataset": d, "pipeline": p, "subject": s, "score": float(g["score"].mean()),
                    "classes": classes, "confusion": sum(cms) if cms else None,
                    "epochs_total": tot, "epochs_rejected": rej,
                    "rejected_share": rej / tot if tot else 0.0,
                    "calibration_trials": int(max((e.get("calibration") or {}).get(
                        "n_calibration_trials", 0) for e in extras)) if extras else 0})
    return pd.DataFrame(out, columns=cols)


def format_subject_report(df: pd.DataFrame) -> str:
    """Per subject and pipeline: score, share of epochs rejected, confusion matrix (text).

    Parameters
    ----------
    df : DataFrame
        BCI result rows, as for :func:`subject_confusions`.
    """
    table = subject_confusions(df)
    if table.empty:
        return "(no results)"
    lines = []
    rules = {e.get("reject_rule") for e in df["extra"] if isinstance(e, dict) and e.get("reject_rule")}
    for d, gd in table.groupby("dataset", sort=True):
        classes = next((c for c in gd["classes"] if c), None)
        lines.append(f"{d}: confusion matrices (rows true, columns predicted"
                     f"{': ' + ', '.join(classes) if classes else ''}; out-of-fold test trials)")
        for _, r in gd.iterrows():
            cm = r["confusion"]
            cm_txt = " | ".join(" ".join(f"{v:4d}" for v in row) for row in cm) if cm is not None else "n/a"
            cal = f"  calibration {r['calibration_trials']}" if r["calibration_trials"] else ""
            lines.append(f"  {r['pipeline']:<24.24} subject {str(r['subject']):>4}  score {r['score']:.3f}  "
                         f"rejected {r['epochs_rejected']}/{r['epochs_total']} "
                         f"({r['rejected_share']:.1%}){cal}  [{cm_txt}]")
    for rule in sorted(rules):
        lines.append(f"artifact rejection: {rule}")
    return "\n".join(lines)


def write_outputs(store, df: pd.DataFrame, out: str | os.PathLike, plots: bool = True,
                  kind: str = "bci", n_jobs: int | None = None) -> dict:
    """Export the store's BCI rows (CSV, Parquet), statistics and PNG plots into ``out``.

    Parameters
    ----------
    store : ResultStore
        The results store whose rows are exported.
    df : DataFrame
        The result rows the statistics and plots are computed from.
    out : str | os.PathLike
        Output folder (created if missing).
    plots : bool, optional
        Whether to write the PNG plots.
    kind : str, optional
        Result kind of the exported rows.
    n_jobs : int | None, optional
        Local processes the figures may be drawn in (see :func:`neurosig.parallel.resolve_n_jobs`);
        with more than one, a forked process draws some of them while this one draws the rest.

    Returns
    -------
    dict
        Output name -> path of each file written.
    """
    from .._io import atomic_path
    from . import stats as st

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {"csv": store.export(out / "results.csv", kind=kind),
               "parquet": store.export(out / "results.parquet", kind=kind)}
    if df.empty:
        return written
    stats_df = None
    if df["pipeline"].nunique() > 1 and df.groupby("dataset")["subject"].nunique().min() >= 2:
        stats_df = st.dataset_statistics(df)
        with atomic_path(out / "stats.csv") as tmp:
            stats_df.to_csv(tmp, index=False)
        written["stats"] = out / "stats.csv"
    if plots:
        from . import plots as pl

        figures = {}  # output name -> (function, arguments), the slowest to draw first
        pipes = sorted(df["pipeline"].unique())
        compared = len(pipes) >= 2 and stats_df is not None  # pipelines compared pairwise
        if compared:
            figures["paired_png"] = (pl.plot_pairs, (df, pipes, out / "paired.png"))
        figures["scores_png"] = (pl.plot_scores, (df, out / "scores.png"))
        conf = subject_confusions(df)
        if conf["confusion"].notna().any():
            figures["confusion_png"] = (pl.plot_confusion, (conf, out / "confusion.png"))
        if compared:
            figures["meta_png"] = (pl.plot_meta, (stats_df, pipes, out / "meta_analysis.png"))
        written.update(_draw(figures, n_jobs))
    return written


def _draw(figures: dict, n_jobs: int | None) -> dict:
    """Call each figure's function; with ``n_jobs`` > 1 a forked process draws the first one.

    The first figure (the slowest) goes to one worker process forked from this one (it
    starts with matplotlib and the data in memory), the others are drawn here meanwhile; an
    error in the worker is raised here like one of this process's own.
    """
    from concurrent.futures import ProcessPoolExecutor

    from ..parallel import LOCAL_START_METHOD, resolve_n_jobs

    names = list(figures)
    if resolve_n_jobs(n_jobs) < 2 or len(names) < 2 or LOCAL_START_METHOD != "fork":
        return {name: fn(*args) for name, (fn, args) in figures.items()}
    import multiprocessing

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        fn, args = figures[names[0]]
        first = pool.submit(fn, *args)
        written = {name: fn(*args) for name, (fn, args) in list(figures.items())[1:]}
        return {names[0]: first.result(), **written}
