"""Evaluation of the TFM token pipelines next to TS+SVM, one code path for every dataset.

The comparison runs on any windows ``X`` with labels ``y`` and any list of train/test
splits (within-session folds, leave one subject out, ...):

* ``"TFM+TT (pretrained)"``: TFM tokenizer + TokenTransformer with the masked-token
  pretraining stage (the published three stages),
* ``"TFM+TT (no pretraining)"``: the same without stage 2,
* ``"STFT patches+TT"``: the same transformer on the raw log-magnitude STFT patches
  (no quantisation),
* ``"TS+SVM"``: OAS covariances, tangent space, linear SVM.

Metrics (:data:`METRICS`): balanced accuracy, Cohen's kappa, weighted F1 (from the
predicted labels), AUROC and AUPR (from the scores; macro one-vs-rest for more than
two classes). Every (pipeline, split) cell is a row with its metrics, the codebook
usage of the tokenizer on the training and on the test windows, and timings; rows are
written atomically to a JSON file after every cell, so a rerun resumes.
:func:`summarize` gives the mean and a 95 % t-interval over *units* (the
(subject, session) of a within-session fold, or the held-out subject of a
leave-one-subject-out fold): folds of one unit are averaged first.

Used by ``benchmarks/tfm_eval.py`` (simulated motor imagery) and
``examples/tfm_eegmat.py`` (PhysioNet eegmat, rest vs mental arithmetic).
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._io import atomic_path
from .._logging import get_logger
from .._validation import check_option

logger = get_logger(__name__)

__all__ = ["METRICS", "PIPELINE_NAMES", "PRESETS", "Split", "classification_metrics", "binary_metrics_fast",
           "bootstrap_ci", "mean_ci", "token_pipelines", "evaluate_pipelines", "summarize", "markdown_table"]

#: metric names, in the order of the report tables
METRICS = ("bal_acc", "kappa", "f1_w", "auroc", "aupr")
#: the four pipelines of the comparison, cheapest first
PIPELINE_NAMES = ("TS+SVM", "STFT patches+TT", "TFM+TT (no pretraining)", "TFM+TT (pretrained)")

#: settings of the token models per preset (``paper`` = the published defaults)
PRESETS: dict[str, dict] = {
    # seconds: tests and --quick runs
    "quick": dict(n_codes=32, tokenizer_dim=16, dim=16, n_layers=1, n_heads=4, tokenizer_max_epochs=1,
                  pretrain_max_epochs=1, max_epochs=2, batch_size=16, patience=2),
    # what fits a shared 2-core machine: few epochs, the transformer at its defaults, 64 codes x 16
    # dims with a Euclidean codebook (chosen on the pilot subject 6 with benchmarks/tfm_probe.py:
    # these token ids keep more of the class than a 512 x 64 cosine codebook), pooling="channel"
    # (the class head reads per-channel means; chosen on pilot subject 6 with a corpus tokenizer:
    # AUROC 0.84 over 5 folds with the masked-token pretraining)
    "reduced": dict(n_codes=64, tokenizer_dim=16, tokenizer_codebook="euclidean", dim=64, n_layers=4, n_heads=8,
                    tokenizer_max_epochs=5, tokenizer_batch_size=16, pretrain_max_epochs=10, max_epochs=30, batch_size=16,
                    patience=6, lr=5e-4, pooling="channel"),
    # the paper's defaults as implemented here (8192 x 64 codebook, width 64, 4 layers, 8 heads)
    "paper": dict(n_codes=8192, tokenizer_dim=64, dim=64, n_layers=4, n_heads=8, tokenizer_max_epochs=10,
                  pretrain_max_epochs=20, max_epochs=100, batch_size=32, patience=10, lr=1e-3),
}


@dataclass
class Split:
    """One train/test split of the evaluation.

    Attributes
    ----------
    name : str
        Unique name of the split (key of its rows, e.g. ``"s1/0train/fold2"``).
    unit : str
        The unit the interval is computed over (e.g. ``"s1/0train"`` or ``"s3"``);
        folds of one unit are averaged before the interval.
    train, test : ndarray of int
        Indices into X / y.
    """

    name: str
    unit: str
    train: np.ndarray
    test: np.ndarray
    info: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------------
def classification_metrics(y, pred, score, classes) -> dict:
    """The five metrics of one test set.

    Parameters
    ----------
    y, pred : array-like, shape (n_trials,)
        True and predicted labels.
    score : ndarray, shape (n_trials, n_classes)
        Class scores (probabilities or decision values; larger = more likely), column
        ``k`` for ``classes[k]``.
    classes : array-like, shape (n_classes,)

    Returns
    -------
    metrics : dict
        ``bal_acc``, ``kappa``, ``f1_w`` (weighted F1), ``auroc`` and ``aupr`` (binary:
        ``classes[1]`` is the positive class; more classes: macro one-vs-rest). A
        rank metric is NaN when the test set has one class only.
    """
    from sklearn.metrics import (
        average_precision_score,
        balanced_accuracy_score,
        cohen_kappa_score,
        f1_score,
        roc_auc_score,
    )
    y, pred, classes = np.asarray(y), np.asarray(pred), np.asarray(classes)
    score = np.asarray(score, dtype=float)
    if score.ndim != 2 or score.shape != (len(y), len(classes)):
        raise ValueError(f"The 'score' parameter must have shape (n_trials, n_classes) = ({len(y)}, {len(classes)}), "
                         f"but got {score.shape}.")
    out = {"bal_acc": float(balanced_accuracy_score(y, pred)), "kappa": float(cohen_kappa_score(y, pred)),
           "f1_w": float(f1_score(y, pred, average="weighted", zero_division=0))}
    ks = [1] if len(classes) == 2 else range(len(classes))
    aucs, aps = [], []
    for k in ks:
        pos = y == classes[k]
        if pos.all() or not pos.any():
            aucs.append(np.nan), aps.append(np.nan)
            continue
        aucs.append(roc_auc_score(pos, score[:, k]))
        aps.append(average_precision_score(pos, score[:, k]))
    out["auroc"], out["aupr"] = float(np.mean(aucs)), float(np.mean(aps))
    return out


def binary_metrics_fast(y, proba) -> dict:
    """The five metrics for 0/1 labels and positive-class scores in plain numpy.

    Predicted label = ``proba >= 0.5``. Equal to :func:`classification_metrics`
    (checked in :func:`bootstrap_ci` and the tests); sklearn's input checks would
    dominate a bootstrap.

    Parameters
    ----------
    y : ndarray of {0, 1}, shape (n_trials,)
        True labels.
    proba : ndarray, shape (n_trials,)
        Positive-class scores (probabilities); the predicted label is ``proba >= 0.5``.

    Returns
    -------
    metrics : dict
        metric name (:data:`METRICS`) -> value.
    """
    y, proba = np.asarray(y), np.asarray(proba, dtype=float)
    pred = proba >= 0.5
    pos = y == 1
    tp, fn = np.sum(pred & pos), np.sum(~pred & pos)
    fp, tn = np.sum(pred & ~pos), np.sum(~pred & ~pos)
    n = len(y)
    rec1, rec0 = tp / max(tp + fn, 1), tn / max(tn + fp, 1)
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / n ** 2
    f1_1 = 2 * tp / max(2 * tp + fp + fn, 1)
    f1_0 = 2 * tn / max(2 * tn + fn + fp, 1)
    n1, n0 = pos.sum(), (~pos).sum()
    order = np.argsort(proba, kind="mergesort")
    _, inv, counts = np.unique(proba[order], return_inverse=True, return_counts=True)
    cum = np.cumsum(counts)
    ranks = np.empty(n)
    ranks[order] = (cum - (counts - 1) / 2)[inv]  # average ranks for ties
    auroc = (ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    desc = np.argsort(-proba, kind="mergesort")
    ys, ps = pos[desc], proba[desc]
    last = np.r_[np.flatnonzero(np.diff(ps)), n - 1]  # thresholds at distinct scores
    tps = np.cumsum(ys)[last]
    aupr = np.sum(np.diff(np.r_[0, tps / n1]) * (tps / (last + 1)))
    return {"bal_acc": float((rec1 + rec0) / 2), "kappa": float((po - pe) / (1 - pe)) if pe < 1 else 0.0,
            "f1_w": float((f1_1 * n1 + f1_0 * n0) / n), "auroc": float(auroc), "aupr": float(aupr)}


def bootstrap_ci(y, proba, n_boot: int = 1000, seed: int = 0) -> dict:
    """Percentile 95 % intervals of the five metrics over trials resampled with replacement.

    Binary only (``y`` in {0, 1}, ``proba`` = positive-class score, label = ``proba >= 0.5``).
    Trials of one subject are correlated, so these intervals are optimistic; prefer
    :func:`summarize`'s intervals over units where there are enough units.

    Parameters
    ----------
    y : ndarray of {0, 1}, shape (n_trials,)
        True labels.
    proba : ndarray, shape (n_trials,)
        Positive-class scores (probabilities).
    n_boot : int
        Number of bootstrap resamples (resamples with a single class are skipped).
    seed : int
        Seed of the resampling.

    Returns
    -------
    ci : dict
        metric -> (low, high).
    """
    y, proba = np.asarray(y), np.asarray(proba, dtype=float)
    ref = classification_metrics(y, (proba >= 0.5).astype(int), np.c_[1 - proba, proba], [0, 1])
    fast = binary_metrics_fast(y, proba)
    if not all(np.isclose(ref[k], fast[k]) for k in METRICS):
        raise AssertionError(f"numpy metrics disagree with sklearn: {fast} vs {ref}")
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if len(np.unique(y[idx])) == 2:
            rows.append(binary_metrics_fast(y[idx], proba[idx]))
    return {k: (float(np.percentile([r[k] for r in rows], 2.5)), float(np.percentile([r[k] for r in rows], 97.5)))
            for k in METRICS}


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t interval of independent values (NaNs dropped).

    Returns ``(mean, low, high)``; the bounds are NaN with fewer than 2 values.

    Parameters
    ----------
    values : array-like
        Independent values (e.g. one score per unit); non-finite values are dropped.
    level : float
        Confidence level of the interval.
    """
    from scipy import stats
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, math.nan, math.nan
    h = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return m, m - h, m + h


# ----------------------------------------------------------------------------------------
# pipelines
# ----------------------------------------------------------------------------------------
def token_pipelines(sfreq: float | None, preset: str = "reduced", seed: int = 0, device: str | None = None,
                    **overrides) -> dict[str, Callable[[], object]]:
    """Factories of the four pipelines of the comparison.

    Parameters
    ----------
    sfreq : float | None
        Sampling rate of the windows (the token models FFT-resample to 200 Hz).
    preset : {"quick", "reduced", "paper"}
        Token-model settings (:data:`PRESETS`).
    seed : int
    device : str | None
        "cpu" (default) or "cuda".
    **overrides
        Replace preset settings (e.g. ``n_codes=1024``).

    Returns
    -------
    pipelines : dict
        name (:data:`PIPELINE_NAMES`, cheapest first) -> function returning a fresh,
        unfitted estimator.
    """
    from pyriemann.estimation import Covariances
    from pyriemann.tangentspace import TangentSpace
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from ..models.token_transformer import TokenTransformerClassifier
    check_option("preset", preset, tuple(PRESETS))
    common = {**PRESETS[preset], **overrides}
    pre = common.pop("pretrain_max_epochs")
    kw = dict(sfreq=sfreq, random_state=seed, device=device, **common)
    return {
        "TS+SVM": lambda: make_pipeline(Covariances("oas"), TangentSpace(), SVC(kernel="linear")),
        "STFT patches+TT": lambda: TokenTransformerClassifier(input="stft", pretrain_max_epochs=0, **kw),
        "TFM+TT (no pretraining)": lambda: TokenTransformerClassifier(pretrain_max_epochs=0, **kw),
        "TFM+TT (pretrained)": lambda: TokenTransformerClassifier(pretrain_max_epochs=pre, **kw),
    }


def _scores(model, X) -> tuple[np.ndarray, np.ndarray]:
    """Predicted labels (n,) and class scores (n, n_classes) of a fitted classifier."""
    pred = np.asarray(model.predict(X))
    if hasattr(model, "predict_proba") and not hasattr(model, "decision_function"):
        return pred, np.asarray(model.predict_proba(X))
    d = np.asarray(model.decision_function(X), dtype=float)
    return pred, (np.c_[-d, d] if d.ndim == 1 else d)


def _usage(ids, n_codes: int) -> dict:
    from ..tokenizers.vq import codebook_usage
    u = codebook_usage(ids, n_codes)
    return {k: (float(v) if k != "n_used" else int(v)) for k, v in u.items() if k != "counts"}


# ----------------------------------------------------------------------------------------
# the evaluation loop
# ----------------------------------------------------------------------------------------
def evaluate_pipelines(X, y, splits: list[Split], pipelines: dict[str, Callable[[], object]],
                       out: str | Path | None = None, token_analysis: bool = True,
                       context: dict | None = None, verbose: bool = True) -> list[dict]:
    """Fit and score every pipeline on every split; one row per (pipeline, split).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    y : ndarray, shape (n_trials,)
    splits : list of Split
    pipelines : dict
        name -> factory of an unfitted estimator (e.g. :func:`token_pipelines`).
    out : path | None
        JSON file of the rows, rewritten atomically after every cell; rows already in
        it (same pipeline, split and ``context``) are kept and not recomputed (resume).
    token_analysis : bool
        For token models, also the codebook usage on the test windows and the token-class
        mutual information on the test windows against a shuffled-label control.
    context : dict | None
        Identity of the run stored in every row (dataset, evaluation, preset, ...);
        rows of another context in ``out`` are kept but never reused.
    verbose : bool
        Log one line per cell.

    Returns
    -------
    rows : list of dict
        ``pipeline``, ``split``, ``unit``, ``context``, the :data:`METRICS`, ``seconds``,
        ``n_train``, ``n_test``, and for token models ``codebook_train`` /
        ``codebook_test`` (``n_used``, ``share_used``, ``perplexity``),
        ``n_epochs``, ``pretrain_last``, ``token_mi``. Also ``y_test`` / ``score_test``
        (positive-class score, binary only) for pooled metrics.
    """
    from .._validation import check_labels, check_signal_array
    X = check_signal_array("X", X, ndim=3, allow_nan=True, dtype=None)  # the pipelines see the caller's dtype
    y = check_labels("y", y, len(X))
    names = [s.name for s in splits]
    if len(set(names)) != len(names):
        raise ValueError("The 'splits' parameter has duplicate split names.")
    context = dict(context or {})
    ctx_key = json.dumps(context, sort_keys=True, default=str)
    rows: list[dict] = []
    if out is not None and Path(out).is_file():
        rows = json.loads(Path(out).read_text())
    done = {(r["pipeline"], r["split"]) for r in rows if json.dumps(r["context"], sort_keys=True) == ctx_key}
    classes = np.unique(y)
    # split-major: a run cut short has every pipeline on the same first splits
    for sp in splits:
        for pname, make in pipelines.items():
            if (pname, sp.name) in done:
                continue
            row = _evaluate_cell(pname, make, X, y, sp, classes, context, token_analysis)
            rows.append(row)
            if verbose:
                logger.info("%s | %s: %s (%.0f s)", pname, sp.name,
                            " ".join(f"{k} {row[k]:.3f}" for k in METRICS), row["seconds"])
            if out is not None:
                with atomic_path(out) as tmp:
                    Path(tmp).write_text(json.dumps(rows, indent=1, default=float))
    return [r for r in rows if json.dumps(r["context"], sort_keys=True) == ctx_key
            and r["pipeline"] in pipelines and r["split"] in set(names)]


def _evaluate_cell(pname, make, X, y, sp, classes, context, token_analysis) -> dict:
    """Fit one pipeline on one split's training trials and score it on its test trials."""
    t0 = time.perf_counter()
    model = make()
    model.fit(X[sp.train], y[sp.train])
    t_fit = time.perf_counter() - t0
    pred, score = _scores(model, X[sp.test])
    mclasses = np.asarray(getattr(model, "classes_", classes))
    yt = y[sp.test]
    row = {"pipeline": pname, "split": sp.name, "unit": sp.unit, "context": context, **sp.info,
           **classification_metrics(yt, pred, score, mclasses),
           "n_train": int(len(sp.train)), "n_test": int(len(sp.test)), "fit_s": t_fit}
    if len(mclasses) == 2:
        row["y_test"] = (yt == mclasses[1]).astype(int).tolist()
        s = score[:, 1] if score.shape[1] == 2 else score[:, 0]
        if not hasattr(model, "predict_proba") or hasattr(model, "decision_function"):
            s = 1 / (1 + np.exp(-(score[:, 1] - score[:, 0]) / 2))  # monotone, 0.5 at the boundary
        row["score_test"] = np.asarray(s, dtype=float).tolist()
    if getattr(model, "input", None) == "tokens":
        row.update(_token_fields(model, X[sp.test], yt, token_analysis))
    elif hasattr(model, "n_epochs_"):
        row["n_epochs"] = int(model.n_epochs_)
    row["seconds"] = time.perf_counter() - t0
    return row


def _token_fields(model, X_test, y_test, token_analysis: bool) -> dict:
    """Codebook usage, epochs and (with ``token_analysis``) token-class mutual information."""
    out = {"codebook_train": dict(model.tokenizer_usage_), "n_epochs": int(getattr(model, "n_epochs_", 0))}
    if getattr(model, "pretrain_history_", None):
        out["pretrain_last"] = model.pretrain_history_[-1]
    if token_analysis:
        from ..tokenizers import analysis as ta
        tok = model.tokens(X_test)
        out["codebook_test"] = _usage(tok, model.n_codes_)
        for key, per_channel in (("token_mi", False), ("token_mi_ch", True)):
            mi = ta.token_mutual_information(tok, y_test, model.n_codes_, n_shuffles=20, seed=0,
                                             per_channel=per_channel)
            out[key] = {"mi": float(mi["mi"]), "shuffled_mean": float(np.mean(mi["shuffled"])),
                        "z": float(mi["z"]), "p": float(mi["p_value"])}
    return out


def summarize(rows: list[dict], pooled_bootstrap: bool = False):
    """Mean and 95 % t-interval over units of every metric, per pipeline.

    Parameters
    ----------
    rows : list of dict
        Output of :func:`evaluate_pipelines`.
    pooled_bootstrap : bool
        Also the metrics of all test trials pooled, with bootstrap intervals over
        trials (binary only; optimistic when trials are correlated).

    Returns
    -------
    table : pandas.DataFrame
        One row per pipeline (order of :data:`PIPELINE_NAMES` first): ``n_units``,
        ``n_splits``, for every metric ``<m>``, ``<m>_lo``, ``<m>_hi``, the codebook
        usage means (``share_used_train``, ``perplexity_train``, ``share_used_test``,
        ``perplexity_test``), ``token_mi`` / ``token_mi_shuffled``, ``seconds``.
    """
    import pandas as pd
    if not rows:
        raise ValueError("The 'rows' parameter is empty: nothing to summarize.")
    df = pd.DataFrame(rows)
    order = [p for p in PIPELINE_NAMES if p in set(df["pipeline"])] + \
        sorted(set(df["pipeline"]) - set(PIPELINE_NAMES))
    out = []
    for p in order:
        d = df[df["pipeline"] == p]
        per_unit = d.groupby("unit", sort=False)[list(METRICS)].mean()
        rec = {"pipeline": p, "n_units": len(per_unit), "n_splits": len(d)}
        for m in METRICS:
            rec[m], rec[f"{m}_lo"], rec[f"{m}_hi"] = mean_ci(per_unit[m].to_numpy())
        for part in ("train", "test"):
            col = f"codebook_{part}"
            if col in d and d[col].notna().any():
                u = [c for c in d[col] if isinstance(c, dict)]
                rec[f"share_used_{part}"] = float(np.mean([c["share_used"] for c in u]))
                rec[f"perplexity_{part}"] = float(np.mean([c["perplexity"] for c in u]))
                rec[f"n_used_{part}"] = float(np.mean([c["n_used"] for c in u]))
        if "token_mi" in d and d["token_mi"].notna().any():
            t = [c for c in d["token_mi"] if isinstance(c, dict)]
            rec["token_mi"] = float(np.mean([c["mi"] for c in t]))
            rec["token_mi_shuffled"] = float(np.mean([c["shuffled_mean"] for c in t]))
        if "token_mi_ch" in d and d["token_mi_ch"].notna().any():
            t = [c for c in d["token_mi_ch"] if isinstance(c, dict)]
            rec["token_mi_ch"] = float(np.mean([c["mi"] for c in t]))
            rec["token_mi_ch_shuffled"] = float(np.mean([c["shuffled_mean"] for c in t]))
            rec["token_mi_ch_p"] = [c["p"] for c in t]
        rec["seconds"] = float(d["seconds"].sum())
        if pooled_bootstrap and "y_test" in d:
            yy = np.concatenate([np.asarray(v) for v in d["y_test"]])
            ss = np.concatenate([np.asarray(v) for v in d["score_test"]])
            rec["pooled"] = binary_metrics_fast(yy, ss)
            rec["pooled_ci"] = bootstrap_ci(yy, ss)
        out.append(rec)
    return pd.DataFrame(out)


def markdown_table(summary) -> str:
    """The summary of :func:`summarize` as a markdown table (mean [95 % CI] per metric, codebook usage).

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`summarize`.
    """
    def cell(r, m):
        lo, hi = r[f"{m}_lo"], r[f"{m}_hi"]
        return f"{r[m]:.3f}" + ("" if not np.isfinite(lo) else f" [{lo:.2f}, {hi:.2f}]")

    head = "| pipeline | units | " + " | ".join(METRICS) + " | codes used (train / test) | perplexity (train / test) |"
    lines = [head, "|" + "---|" * (len(METRICS) + 4)]
    for _, r in summary.iterrows():
        cb, pp = "", ""
        if "share_used_train" in r and np.isfinite(r.get("share_used_train", np.nan)):
            cb = f"{100 * r['share_used_train']:.0f}% / {100 * r.get('share_used_test', np.nan):.0f}%"
            pp = f"{r['perplexity_train']:.0f} / {r.get('perplexity_test', np.nan):.0f}"
        lines.append(f"| {r['pipeline']} | {r['n_units']} | " + " | ".join(cell(r, m) for m in METRICS)
                     + f" | {cb} | {pp} |")
    return "\n".join(lines)
