"""The shared TFM evaluation helper (neurosig.evaluation.token_eval) and benchmarks/tfm_eval.py --quick."""
from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pytest
from _tfm_data import one_thread, two_class_band_power  # noqa: F401 (fixture)
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

from neurosig.evaluation import token_eval as te

pytestmark = pytest.mark.usefixtures("one_thread")
BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "tfm_eval.py"


def test_fast_binary_metrics_equal_sklearn():
    rng = np.random.default_rng(0)
    for trial in range(20):
        n = int(rng.integers(6, 60))
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        p = np.round(rng.random(n), 1 if trial % 2 else 6)  # with and without ties
        ref = te.classification_metrics(y, (p >= 0.5).astype(int), np.c_[1 - p, p], [0, 1])
        fast = te.binary_metrics_fast(y, p)
        for k in te.METRICS:
            assert fast[k] == pytest.approx(ref[k], abs=1e-12), (k, trial)


def test_multiclass_rank_metrics_equal_sklearn_ovr():
    rng = np.random.default_rng(1)
    y = np.repeat(["a", "b", "c"], 10)
    proba = rng.dirichlet(np.ones(3), len(y))
    pred = np.array(["a", "b", "c"])[proba.argmax(1)]
    m = te.classification_metrics(y, pred, proba, ["a", "b", "c"])
    assert m["auroc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    ap = np.mean([average_precision_score(y == c, proba[:, k]) for k, c in enumerate("abc")])
    assert m["aupr"] == pytest.approx(ap)
    with pytest.raises(ValueError, match="score"):
        te.classification_metrics(y, pred, proba[:, :2], ["a", "b", "c"])


def test_mean_ci_is_the_t_interval():
    v = np.array([0.6, 0.7, 0.65, 0.9, 0.55])
    m, lo, hi = te.mean_ci(v)
    ref = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    assert (m, lo, hi) == pytest.approx((v.mean(), *ref))
    assert np.isnan(te.mean_ci([0.5])[1])


def test_bootstrap_ci_contains_point_estimate():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 20)
    p = np.clip(0.5 + 0.3 * (y - 0.5) + 0.2 * rng.standard_normal(40), 0, 1)
    ci = te.bootstrap_ci(y, p, n_boot=200)
    point = te.binary_metrics_fast(y, p)
    for k in te.METRICS:
        assert ci[k][0] <= point[k] <= ci[k][1]


def test_evaluate_resumes_and_summarizes_over_units(tmp_path):
    X, y = two_class_band_power(n_per_class=12, n_channels=2, n_times=400, seed=3)
    X[y == 1, 0] *= 3.0  # class 1 also has 9x the power on channel 0 (visible to covariances)
    y = np.where(y == 1, "alpha", "beta")
    idx = np.arange(len(y))
    units = idx % 2  # two "sessions", two folds each
    splits = []
    for u in (0, 1):
        members = idx[units == u]
        for f in (0, 1):
            test = members[f::2]
            splits.append(te.Split(f"u{u}/f{f}", f"u{u}", np.setdiff1d(idx, test), test))
    pipes = te.token_pipelines(None, preset="quick")
    pipes = {k: pipes[k] for k in ("TS+SVM", "TFM+TT (pretrained)")}
    calls = []

    def counting(make):
        def f():
            calls.append(1)
            return make()
        return f
    out = tmp_path / "rows.json"
    rows = te.evaluate_pipelines(X, y, splits, {k: counting(v) for k, v in pipes.items()}, out=out,
                                 context={"t": 1}, verbose=False)
    assert len(rows) == 8 and len(calls) == 8
    assert len(json.loads(out.read_text())) == 8
    tok = [r for r in rows if r["pipeline"] == "TFM+TT (pretrained)"]
    assert all(0 < r["codebook_train"]["share_used"] <= 1 and r["codebook_test"]["n_used"] >= 1 for r in tok)
    assert all(r["pretrain_last"]["loss"] > 0 for r in tok)
    # the band-power classes are easy for TS+SVM
    svm = [r for r in rows if r["pipeline"] == "TS+SVM"]
    assert np.mean([r["auroc"] for r in svm]) > 0.8
    # resume: nothing is refitted; another context is computed afresh
    rows2 = te.evaluate_pipelines(X, y, splits, {k: counting(v) for k, v in pipes.items()}, out=out,
                                  context={"t": 1}, verbose=False)
    assert len(calls) == 8 and [r["auroc"] for r in rows2] == [r["auroc"] for r in rows]
    te.evaluate_pipelines(X, y, splits[:1], {"TS+SVM": counting(pipes["TS+SVM"])}, out=out, context={"t": 2},
                          verbose=False)
    assert len(calls) == 9 and len(json.loads(out.read_text())) == 9
    # summary: folds averaged per unit, then the t-interval over the 2 units
    s = te.summarize(rows, pooled_bootstrap=True).set_index("pipeline")
    unit_means = [np.mean([r["auroc"] for r in svm if r["unit"] == u]) for u in ("u0", "u1")]
    assert s.loc["TS+SVM", "auroc"] == pytest.approx(np.mean(unit_means))
    assert s.loc["TS+SVM", "auroc_lo"] == pytest.approx(te.mean_ci(unit_means)[1])
    assert s.loc["TS+SVM", "n_units"] == 2 and s.loc["TS+SVM", "n_splits"] == 4
    assert "share_used_train" in s.columns and np.isfinite(s.loc["TFM+TT (pretrained)", "perplexity_test"])
    assert "| TS+SVM | 2 |" in te.markdown_table(s.reset_index())


def test_bad_input():
    X = np.zeros((4, 2, 400), np.float32)
    with pytest.raises(ValueError, match="duplicate"):
        te.evaluate_pipelines(X, np.arange(4) % 2, [te.Split("a", "a", [0], [1])] * 2, {}, verbose=False)
    with pytest.raises(ValueError, match=r"'X' parameter must be a 3-D array .* got an array of shape \(2, 400\)"):
        te.evaluate_pipelines(X[0], np.arange(4) % 2, [], {}, verbose=False)
    with pytest.raises(ValueError, match="'y' parameter: X has 4 trials"):
        te.evaluate_pipelines(X, np.arange(3) % 2, [], {}, verbose=False)
    with pytest.raises(ValueError, match="preset"):
        te.token_pipelines(250.0, preset="huge")
    with pytest.raises(ValueError, match="empty"):
        te.summarize([])


def test_benchmark_script_quick_cross_subject(tmp_path):
    main = runpy.run_path(str(BENCH))["main"]
    res = main(["--quick", "--evaluation", "cross-subject", "--pipelines", "TS+SVM", "TFM+TT (pretrained)",
                "--out", str(tmp_path)])
    s = res["cross-subject"].set_index("pipeline")
    assert list(s.index) == ["TS+SVM", "TFM+TT (pretrained)"]
    assert (s["n_units"] == 2).all()
    assert np.isfinite(s[list(te.METRICS)].to_numpy()).all()
    assert s.loc["TFM+TT (pretrained)", "share_used_train"] > 0
    rows = json.loads((tmp_path / "cross-subject.json").read_text())
    assert {r["split"] for r in rows} == {"s1", "s2"}


def test_benchmark_script_tokenizer_corpus(tmp_path, capsys):
    """--tokenizer-corpus: one tokenizer learned on other subjects, reused by every fit and by a rerun."""
    main = runpy.run_path(str(BENCH))["main"]
    argv = ["--quick", "--evaluation", "cross-subject", "--pipelines", "TFM+TT (no pretraining)",
            "--tokenizer-corpus", "3", "--corpus-runs", "1", "--corpus-epochs", "1", "--out", str(tmp_path)]
    main(argv)
    ck = list(tmp_path.glob("tokenizer-corpus-s3_*.pt"))
    assert len(ck) == 1
    from neurosig.tokenizers import TFMTokenizerEstimator
    assert TFMTokenizerEstimator.load(ck[0]).n_codes == te.PRESETS["quick"]["n_codes"]
    rows = json.loads((tmp_path / "cross-subject.json").read_text())
    assert {r["split"] for r in rows} == {"s1", "s2"}
    assert all(r["context"]["tokenizer_corpus"]["subjects"] == [3] for r in rows)
    capsys.readouterr()
    main(argv)  # rerun: the tokenizer file and the rows are reused
    assert "reusing" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="overlaps the evaluated subjects"):
        main(["--quick", "--evaluation", "cross-subject", "--tokenizer-corpus", "2", "--out", str(tmp_path)])
