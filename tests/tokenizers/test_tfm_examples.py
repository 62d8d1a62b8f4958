"""The TFM examples run (quick modes)."""
from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
from _tfm_data import one_thread  # noqa: F401 (fixture)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.usefixtures("one_thread")


def test_example_token_analysis(tmp_path):
    main = runpy.run_path(str(EXAMPLES / "tfm_token_analysis.py"))["main"]
    out = main(["--out-dir", str(tmp_path)])
    assert out["mi"]["mi"] > out["mi"]["shuffled"].max()
    assert len(out["mi_per_channel"]["shuffled"]) == 20 and np.isfinite(out["mi_per_channel"]["mi"])
    assert len(list(tmp_path.glob("*.png"))) == 3


def test_example_eegmat_quick(shared_data, monkeypatch):
    monkeypatch.setenv("NEUROSIG_SHARED_DATA", str(shared_data))
    main = runpy.run_path(str(EXAMPLES / "tfm_eegmat.py"))["main"]
    res = main(["--quick"])
    assert set(res) == {"TFM+TT (pretrained)", "TFM+TT (no pretraining)", "STFT patches+TT", "TS+SVM"}
    for r in res.values():
        assert all(np.isfinite(v) for v in r["pooled"].values())
    assert res["TFM+TT (pretrained)"]["codebook_usage"][0]["n_used"] >= 1


def test_example_eval_pipelines():
    main = runpy.run_path(str(EXAMPLES / "tfm_eval_pipelines.py"))["main"]
    s = main([]).set_index("pipeline")
    assert list(s.index) == ["TS+SVM", "TFM+TT (pretrained)"]
    assert np.isfinite(s["auroc"]).all() and s.loc["TFM+TT (pretrained)", "n_used_train"] >= 1



def test_example_corpus_tokenizer(tmp_path):
    main = runpy.run_path(str(EXAMPLES / "tfm_corpus_tokenizer.py"))["main"]
    out = main(["--out-dir", str(tmp_path)])
    assert out["path"] == tmp_path / "corpus_tokenizer.pt" and out["path"].is_file()
    assert out["classifier"].n_codes_ == 32 and out["tokens"].shape == (12, 22, 7)
    # the classifier tokenizes with the file's tokenizer, unchanged by stages 2-3
    np.testing.assert_array_equal(out["tokens"], out["tokenizer"].transform(out["X_test"]))
    assert 0 < out["mi"]["p_value"] <= 1
