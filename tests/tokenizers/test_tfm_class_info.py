"""TFM tokenizer: amplitude-preserving input scaling, Euclidean codebook, channel-aware
token-class MI, the probe scripts, and the done-when check on the simulated motor-imagery dataset
(tokenizer learned on a corpus of other subjects)."""
from __future__ import annotations

import runpy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from _tfm_data import one_thread  # noqa: F401 (fixture)
from sklearn.metrics import mutual_info_score

from neurosig.tokenizers import analysis as ta
from neurosig.tokenizers.tfm import TFMConfig, TFMTokenizer, TFMTokenizerEstimator

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[2]
TINY = dict(n_codes=16, dim=8, n_layers=1, max_epochs=1, batch_size=8)


def _pink(n, c, t, seed=0):
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal((n, c, t)), axis=-1)
    f = np.fft.rfftfreq(t, 1 / 200.0)
    return np.fft.irfft(spec / np.maximum(f, 1.0) ** 0.5, t, axis=-1).astype(np.float32)


def test_defaults_are_corpus_scale_and_cosine_codebook():
    cfg = TFMConfig()
    assert (cfg.scale, cfg.normalize, cfg.n_codes, cfg.dim) == ("corpus", True, 8192, 64)
    est = TFMTokenizerEstimator()
    assert (est.scale, est.codebook) == ("corpus", "cosine")
    assert est._config().normalize is True
    assert TFMTokenizerEstimator(codebook="euclidean")._config().normalize is False


def test_corpus_scale_is_median_p95_and_keeps_level(tmp_path):
    X = _pink(12, 3, 400) * np.float32(1e-5)
    X[:, 1] *= 3  # channels of different level
    est = TFMTokenizerEstimator(**TINY, scale="corpus", random_state=0).fit(X)
    ref = np.median(np.quantile(np.abs(X.astype(np.float64)), 0.95, axis=-1))
    assert np.isclose(float(est.tokenizer_.corpus_scale), ref, rtol=1e-5)
    # the spectrum features are those of X / scale (independent formula: numpy rfft of Hann frames)
    spec = est.spectra(X[:2])                                   # (2, 3, n_patches, 101)
    w = np.hanning(201)[:-1]                                    # periodic Hann, as the STFT front end
    x = X[0, 1].astype(np.float64) / ref
    frame = x[100:300] * w                                      # patch 1 (hop 100, n_fft 200, no padding)
    np.testing.assert_allclose(spec[0, 1, 1], np.log1p(np.abs(np.fft.rfft(frame))), rtol=1e-4, atol=1e-4)
    # level is kept: doubling a window changes its features (p95 scaling would cancel it)
    assert not np.allclose(est.spectra(2 * X[:1]), est.spectra(X[:1]), atol=1e-3)
    Xu = X * np.float32(1e5)  # unit scale: scale_p95's eps (1e-8) is negligible
    p95 = TFMTokenizerEstimator(**TINY, scale="p95", random_state=0).fit(Xu)
    np.testing.assert_allclose(p95.spectra(2 * Xu[:1]), p95.spectra(Xu[:1]), rtol=1e-5, atol=1e-5)
    # stored in the checkpoint: identical tokens after a round trip
    est.save(tmp_path / "tok.pt")
    back = TFMTokenizerEstimator.load(tmp_path / "tok.pt")
    assert float(back.tokenizer_.corpus_scale) == float(est.tokenizer_.corpus_scale)
    np.testing.assert_array_equal(back.transform(X), est.transform(X))


def test_bad_scale_codebook_and_corpus_scale():
    X = _pink(4, 2, 400)
    with pytest.raises(ValueError, match="'codebook'.*'cosine', 'euclidean'.*'dot'"):
        TFMTokenizerEstimator(**TINY, codebook="dot").fit(X)
    with pytest.raises(ValueError, match="'scale'.*'corpus'.*'zscore'"):
        TFMTokenizerEstimator(**TINY, scale="zscore").fit(X)
    with pytest.raises(ValueError, match="'corpus_scale'.*positive and finite.*0.0"):
        TFMTokenizerEstimator(**TINY, scale="corpus").fit(np.zeros((4, 2, 400), np.float32))


def test_checkpoint_written_before_corpus_scale_still_loads(tmp_path):
    m = TFMTokenizer(TFMConfig(n_codes=16, dim=8, scale="p95")).eval()
    m.save(tmp_path / "new.pt")
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    del payload["state_dict"]["corpus_scale"]
    torch.save(payload, tmp_path / "old.pt")
    x = torch.from_numpy(_pink(2, 2, 400))
    assert torch.equal(TFMTokenizer.load(tmp_path / "old.pt").tokenize(x), m.tokenize(x))


def test_per_channel_mi_matches_sklearn_and_sees_lateralised_classes():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 5, (30, 3, 4))
    y = rng.integers(0, 2, 30)
    pair = (tokens + 5 * np.arange(3)[None, :, None]).ravel()
    assert np.isclose(ta.tokens_class_mi(tokens, y, 5, per_channel=True),
                      mutual_info_score(np.repeat(y, 12), pair))
    # class 0: code 0 on channel 0 and code 1 on channel 1; class 1: the other way round
    y = np.repeat([0, 1], 10)
    lat = np.zeros((20, 2, 3), int)
    lat[:10, 1], lat[10:, 0] = 1, 1
    assert np.isclose(ta.tokens_class_mi(lat, y, 2), 0.0)              # pooled: the same code mix
    assert np.isclose(ta.tokens_class_mi(lat, y, 2, per_channel=True), np.log(2))
    counts = ta.token_counts(lat, 2, per_channel=True)                 # (20, 2 channels x 2 codes)
    np.testing.assert_array_equal(counts[0], [3, 0, 0, 3])              # class 0: code 0 on ch 0, code 1 on ch 1
    np.testing.assert_array_equal(counts, np.stack([ta.token_counts(lat[:, k], 2) for k in range(2)], 1)
                                  .reshape(20, 4))
    res = ta.token_mutual_information(lat, y, 2, n_shuffles=50, per_channel=True)
    assert res["p_value"] == pytest.approx(1 / 51)
    with pytest.raises(ValueError, match="per_channel=True needs"):
        ta.tokens_class_mi(lat[:, 0], y, 2, per_channel=True)


def test_probe_script_quick():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    main = runpy.run_path(str(ROOT / "benchmarks" / "tfm_probe.py"))["main"]
    res = main(["--quick", "--configs", "published", "corpus-euclid"])
    for r in res.values():
        assert set(r["mi"]) == {"pooled", "per_channel", "per_channel_sel"}
        for key in ("log-power|all", "spectra|all", "encoder|all", "quantised|all", "counts/ch|all"):
            assert 0 <= r["auroc"][key] <= 1
    # the stages before the tokenizer do not depend on it
    assert res["published"]["auroc"]["log-power|all"] == res["corpus-euclid"]["auroc"]["log-power|all"]


@pytest.fixture(scope="module")
def corpus_tokenizer():
    """The tokenizer of the done-when check: learned on a corpus of OTHER subjects, without labels.

    Simulated subjects 1-5, session 0train, 8 runs each (960 windows of 4 s, 22 channels); package defaults
    (corpus scaling, cosine codebook) with 64 codes x 16 dims, 20 epochs, batch 32. Chosen on the pilot
    subject 6 (the comparison of benchmarks/tfm_corpus_probe.py); the exploratory runs also printed
    subjects 7 and 8, so only 9 and 10 are untouched by the choice.
    """
    sys.path.insert(0, str(ROOT / "benchmarks"))
    load_simulated = runpy.run_path(str(ROOT / "benchmarks" / "tfm_eval.py"))["load_simulated"]
    Xc, _, _, sfreq = load_simulated([1, 2, 3, 4, 5], ["0train"], ["left_hand", "right_hand"], 8)
    est = TFMTokenizerEstimator(sfreq=sfreq, n_codes=64, dim=16, max_epochs=20, batch_size=32, random_state=0).fit(Xc)
    return est, load_simulated


@pytest.mark.parametrize("subject", [6, 7, 8, 9, 10])
@pytest.mark.slow  # its fixture learns a tokenizer on five subjects' windows (~30 s on 2 cores)
def test_tokens_carry_class_information_simulated_mi(corpus_tokenizer, subject):
    """Done-when item on the simulated motor-imagery dataset (left vs right hand).

    The tokenizer never sees the tested subject (fixture: learned on subjects 1-5 without labels, as the
    published tokenizer is learned on a corpus). On all 192 windows of the subject's session 0train, the
    token-class mutual information per (channel, code) must beat 200 label shuffles in a permutation test
    at level 0.01 (p with the +1 correction <= 0.01; no threshold taken from an observed value).
    Subject 6 chose the design (pilot); 7 and 8 were studied in session 3 with tokenizers learned on 48
    windows of the subject itself (subject 8 then failed, p 0.22) and seen in this design's exploratory
    runs; 9 and 10 were first run with this test (session 4: p 0.005 on all five).
    Pooled over channels the class is invisible (it is the *side* of the mu/beta desynchronisation).
    """
    est, load_simulated = corpus_tokenizer
    X, y, _, _ = load_simulated([subject], ["0train"], ["left_hand", "right_hand"], 8)
    ids = est.transform(X)
    res = ta.token_mutual_information(ids, y, 64, n_shuffles=200, per_channel=True)
    print(f"subject {subject}: MI {res['mi']:.4f} nats, shuffled mean {res['shuffled'].mean():.4f}, p {res['p_value']:.3f}")
    assert res["p_value"] <= 0.01, res  # (1 + #shuffles >= mi) / 201


def test_cli_fit_scale_and_codebook(tmp_path, capsys):
    from neurosig.cli.main import main
    np.save(tmp_path / "win.npy", _pink(6, 2, 400))
    for scale, codebook in (("p95", "cosine"), ("corpus", "euclidean")):
        ck = tmp_path / f"{scale}.pt"
        assert main(["-q", "tokenize", "fit", "--input", str(tmp_path / "win.npy"), "--out", str(ck), "--n-codes",
                     "16", "--dim", "8", "--max-epochs", "1", "--batch-size", "4", "--scale", scale,
                     "--codebook", codebook]) == 0
        cfg = TFMTokenizer.load(ck).config
        assert (cfg.scale, cfg.normalize) == (scale, codebook == "cosine")


def test_corpus_scale_unset_warns_instead_of_silently_not_scaling():
    """The raw module with scale='corpus' and no divisor set says so (the estimator sets it)."""
    m = TFMTokenizer(TFMConfig(n_codes=16, dim=8))
    with pytest.warns(UserWarning, match="no corpus divisor"):
        m.features(torch.zeros(2, 400))
    m.set_corpus_scale(2.5)
    m._warned_unset_scale = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.features(torch.zeros(2, 400))


def test_corpus_probe_script_quick():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    main = runpy.run_path(str(ROOT / "benchmarks" / "tfm_corpus_probe.py"))["main"]
    res = main(["--quick"])
    assert set(res) == {(6, "own 48 windows"), (6, "corpus")}
    for r in res.values():
        assert 0 <= r["encoder"] <= 1 and 0 <= r["counts"] <= 1 and 0 < r["p"] <= 1 and r["mi"] >= 0
    with pytest.raises(SystemExit, match="overlaps"):
        main(["--quick", "--corpus", "6", "--subjects", "6"])
