"""One static HTML page for any results store: tables per kind, the jobs' figures, run metadata.

:func:`write_html_report` reads a results store (benchmark ``bci`` rows, ``fmri-decoding``
rows, ``rsa`` rows and any other kind) and writes a single self-contained page: no
scripts, no style sheets or fonts from the network. Figures are linked by paths
relative to the page: the images (``.png``, ``.svg``) found in the store's folder tree
and in the ``output_dir`` recorded by rows, so the page and the outputs move together.
"""
from __future__ import annotations

import html
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .._io import atomic_path
from .._logging import get_logger

logger = get_logger(__name__)

_IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg")
_STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #ddd;margin:4px}
figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}figcaption{font-size:11px;color:#555}
.meta td{text-align:left}"""


def _table(df: pd.DataFrame, max_rows: int = 200) -> str:
    if df is None or not len(df):
        return "<p><em>no rows</em></p>"
    note = f"<p><em>first {max_rows} of {len(df)} rows</em></p>" if len(df) > max_rows else ""
    return df.head(max_rows).to_html(index=isinstance(df.index, pd.MultiIndex) or df.index.name is not None,
                                     float_format=lambda v: f"{v:.3f}", na_rep="", border=0,
                                     escape=True) + note


def _extra(df: pd.DataFrame, key: str) -> pd.Series:
    return pd.Series([e.get(key) if isinstance(e, dict) else None for e in df["extra"]], index=df.index)


def _bci(df: pd.DataFrame) -> str:
    parts = []
    for (ev, metric), g in df.groupby(["evaluation", "metric"], dropna=False):
        t = g.pivot_table(index="pipeline", columns="dataset", values="score", aggfunc="mean")
        parts.append(f"<h3>{html.escape(str(ev))} ({html.escape(str(metric))}): mean score per pipeline</h3>")
        parts.append(_table(t))
    cols = [c for c in ("dataset", "subject", "session", "pipeline", "evaluation", "metric", "score", "time")
            if c in df]
    return "".join(parts) + "<h3>rows</h3>" + _table(df[cols])


def _fmri(df: pd.DataFrame) -> str:
    cols = [c for c in ("dataset", "subject", "pipeline", "evaluation", "metric") if c in df]
    t = df.groupby(cols, dropna=False)["score"].agg(["mean", "count"]).reset_index()
    return "<h3>mean score per cell</h3>" + _table(t)


def _rsa(df: pd.DataFrame) -> str:
    parts = []
    for job, g in df.groupby("dataset", dropna=False):
        parts.append(f"<h3>job {html.escape(str(job))}</h3>")
        setting, region = _extra(g, "setting"), _extra(g, "region")
        cells = g[(g["evaluation"] == "grid") & (g["pipeline"] != "best-layer")]
        if len(cells):
            raw = cells[setting[cells.index] == "raw"]
            t = pd.DataFrame({"layer": raw["pipeline"], "region": region[raw.index], "score": raw["score"]})
            order = list(dict.fromkeys(t["region"]))
            parts.append("<h4>layer x region similarity (raw RDMs)</h4>")
            parts.append(_table(t.pivot(index="layer", columns="region", values="score").reindex(
                index=list(dict.fromkeys(t["layer"])), columns=order)))
            b = g[g["pipeline"] == "best-layer"]
            bt = pd.DataFrame({"setting": setting[b.index], "region": region[b.index],
                               "best layer": _extra(b, "best_layer"), "score": b["score"],
                               "ci low": _extra(b, "ci_low"), "ci high": _extra(b, "ci_high"),
                               "degenerate": _extra(b, "degenerate")})
            parts.append("<h4>best layer per region and setting</h4>" + _table(bt))
        ident = g[g["pipeline"] == "region-identification"]
        if len(ident):
            it = pd.DataFrame({"setting": setting[ident.index], "accuracy": ident["score"],
                               "ci low": _extra(ident, "ci_low"), "ci high": _extra(ident, "ci_high"),
                               "chance": _extra(ident, "chance"), "degenerate": _extra(ident, "degenerate")})
            parts.append("<h4>region identification (leave one subject out)</h4>" + _table(it))
        other = g[~g["evaluation"].isin(["grid", "loso"])]
        if len(other):
            ot = pd.DataFrame({"model": other["pipeline"], "evaluation": other["evaluation"],
                               "metric": other["metric"], "score": other["score"],
                               "ci low": _extra(other, "ci_low"), "ci high": _extra(other, "ci_high")})
            parts.append("<h4>model comparisons</h4>" + _table(ot))
    return "".join(parts)


def _generic(df: pd.DataFrame) -> str:
    cols = [c for c in ("dataset", "subject", "pipeline", "evaluation", "metric", "score") if c in df]
    return _table(df[cols])


def find_figures(store_path: Path, df: pd.DataFrame, max_depth: int = 3) -> list[Path]:
    """Images in the store's folder tree and in the ``output_dir`` recorded by rows.

    Parameters
    ----------
    store_path : Path
        The results database file; its folder is searched.
    df : DataFrame
        Result rows; the ``output_dir`` in their ``extra`` column are searched too.
    max_depth : int, optional
        Depth below each folder beyond which subfolders are not entered.
    """
    roots = [store_path.parent]
    if "extra" in df:
        roots += [Path(d) for d in _extra(df, "output_dir").dropna().unique()]
    found: list[Path] = []
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            depth = len(Path(dirpath).relative_to(root).parts)
            if depth >= max_depth:
                dirnames[:] = []
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in sorted(filenames):
                p = Path(dirpath) / f
                if p.suffix.lower() in _IMAGE_SUFFIXES and not f.startswith(".") and p.resolve() not in found:
                    found.append(p.resolve())
    return found


def _metadata(store_path: Path, df: pd.DataFrame) -> str:
    import json
    import sqlite3

    schema = None
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM neurosig_meta WHERE key='schema'").fetchone()
        schema = row[0] if row else None
    except sqlite3.Error:
        pass
    finally:
        conn.close()
    versions = sorted({json.dumps(v, sort_keys=True) for v in df.get("versions", []) if isinstance(v, dict)})
    created = df["created"].dropna() if "created" in df else pd.Series(dtype=str)
    n_err = int((df["status"] == "error").sum()) if "status" in df else 0
    rows = [("results store", str(store_path)), ("schema version", schema), ("rows", len(df)),
            ("rows with errors", n_err),
            ("first / last row", f"{created.min()} / {created.max()}" if len(created) else ""),
            ("kinds", ", ".join(f"{k}: {n}" for k, n in df["kind"].value_counts().items()) if len(df) else ""),
            ("page written", datetime.now(timezone.utc).isoformat(timespec="seconds"))]
    rows += [(f"package versions ({i + 1})", ", ".join(f"{k} {v}" for k, v in json.loads(s).items()))
             for i, s in enumerate(versions)]
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    errs = df[df["status"] == "error"] if n_err else df.iloc[:0]
    err_html = ""
    if len(errs):
        err_html = "<h3>errors</h3>" + _table(errs[["kind", "dataset", "pipeline", "error"]])
    return f'<table class="meta">{body}</table>{err_html}'


_SECTIONS = {"bci": ("Benchmark (BCI)", _bci), "fmri-decoding": ("fMRI decoding", _fmri), "rsa": ("RSA", _rsa)}


def write_html_report(results: str | os.PathLike, out: str | os.PathLike | None = None,
                      title: str | None = None) -> Path:
    """Write one static HTML page summarising a results store.

    Parameters
    ----------
    results : path-like
        An existing neurosig results store (``results.sqlite``).
    out : path-like | None
        The page to write; default ``report.html`` next to the store.
    title : str | None
        Page title; default the store's file name.

    Returns
    -------
    path : Path
        The page written (atomically).
    """
    from .results import ResultStore

    store_path = Path(results).expanduser()
    if not store_path.is_file():
        raise FileNotFoundError(f"Invalid value for the 'results' parameter: {str(store_path)!r} does not exist "
                                "(expected a neurosig results store, e.g. results.sqlite).")
    out = Path(out) if out is not None else store_path.parent / "report.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"Invalid value for the 'out' parameter: the page must end in '.html', "
                         f"but got {str(out)!r}.")
    with ResultStore(store_path) as store:
        df = store.to_frame(include_errors=True)
    ok = df[df["status"] == "ok"]
    title = title or f"neurosig results: {store_path.name}"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for kind in sorted(ok["kind"].unique(), key=lambda k: (k not in _SECTIONS, k)):
        name, fn = _SECTIONS.get(kind, (kind, _generic))
        parts.append(f"<h2>{html.escape(name)} <small>({int((ok['kind'] == kind).sum())} rows)</small></h2>")
        parts.append(fn(ok[ok["kind"] == kind]))
    if not len(ok):
        parts.append("<p><em>The store holds no successful rows.</em></p>")
    figs = find_figures(store_path, df)
    out.parent.mkdir(parents=True, exist_ok=True)
    base = out.parent.resolve()
    if figs:
        parts.append("<h2>Figures</h2>")
        for f in figs:
            rel = Path(os.path.relpath(f, base)).as_posix()
            parts.append(f"<figure><img src=\"{html.escape(rel, quote=True)}\" alt=\"{html.escape(f.name)}\">"
                         f"<figcaption>{html.escape(rel)}</figcaption></figure>")
    parts.append("<h2>Run metadata</h2>" + _metadata(store_path, df) + "</body></html>")
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    logger.info("report of %d rows and %d figures written to %s", len(df), len(figs), out)
    return out
