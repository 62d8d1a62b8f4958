"""TokenTransformer (pretraining, classifier, pipeline YAML), token analysis, tokenize CLI."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from _tfm_data import one_thread, two_class_band_power  # noqa: F401 (fixture)
from sklearn.base import clone
from sklearn.metrics import mutual_info_score

from neurosig.models.token_transformer import (
    TokenTransformer,
    TokenTransformerClassifier,
    pretrain_masked_tokens,
)
from neurosig.models.transformer import _TORCH_LAYER_KEYS
from neurosig.tokenizers import analysis as ta

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(n_codes=32, tokenizer_dim=16, dim=16, n_layers=1, n_heads=4, tokenizer_max_epochs=2,
             max_epochs=30, batch_size=16, lr=3e-3, patience=10)


# -- TokenTransformer -----------------------------------------------------------------------
def test_token_transformer_defaults_and_shapes():
    m = TokenTransformer(n_codes=8192, n_channels=16, n_patches=19, n_classes=2)
    assert m.dim == 64 and len(m.encoder.layers) == 4 and m.encoder.layers[0].n_heads == 8
    ids = torch.randint(0, 8192, (2, 16, 19))
    assert m(ids).shape == (2, 2)
    assert m.encode(ids).shape == (2, 16, 19, 64)
    mask = torch.zeros(2, 16, 19, dtype=torch.bool)
    mask[0, 3, 4] = mask[1, 0, 0] = True
    assert m.mlm_logits(ids, mask).shape == (2, 8192)
    cont = TokenTransformer(8192, 16, 19, n_classes=3, in_features=101)
    assert cont(torch.randn(2, 16, 19, 101)).shape == (2, 3)


def test_masked_token_pretraining_learns_structure():
    """Tokens that copy their neighbour are predictable from context: MLM accuracy rises far above chance."""
    g = torch.Generator().manual_seed(0)
    base = torch.randint(0, 16, (128, 2, 5), generator=g)
    tokens = base.repeat_interleave(2, dim=2)  # (128, 2, 10): every token appears twice in a row
    torch.manual_seed(0)
    m = TokenTransformer(16, 2, 10, dim=32, n_layers=2, n_heads=4, dropout=0.0)
    hist = pretrain_masked_tokens(m, tokens, mask_ratio=0.3, max_epochs=25, batch_size=32, lr=3e-3, random_state=0)
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert hist[-1]["acc"] > 0.4  # chance is 1/16


def test_masked_token_pretraining_former_argument_names():
    """epochs= / seed= still work for one release (FutureWarning naming the new argument), same history."""
    tokens = torch.randint(0, 8, (32, 2, 4), generator=torch.Generator().manual_seed(1))

    def run(**kw):
        torch.manual_seed(0)
        m = TokenTransformer(8, 2, 4, dim=16, n_layers=1, n_heads=2, dropout=0.0)
        return pretrain_masked_tokens(m, tokens, mask_ratio=0.3, batch_size=16, **kw)

    new = run(max_epochs=2, random_state=3)
    with pytest.warns(FutureWarning) as record:  # one context: nested pytest.warns swallow on pytest < 8
        old = run(epochs=2, seed=3)
    messages = [str(w.message) for w in record if w.category is FutureWarning]
    assert any("'epochs' argument of pretrain_masked_tokens was renamed 'max_epochs'" in m for m in messages)
    assert any("'seed' argument of pretrain_masked_tokens was renamed 'random_state'" in m for m in messages)
    assert old == new


def test_channel_pooling_reads_the_side_of_a_pattern():
    """pooling='channel': per-channel means concatenated, so a class that is only the side of a pattern
    (code 1 on channel 0 vs on channel 1, same code mix) is linearly readable; wrong channel count refused."""
    g = torch.Generator().manual_seed(0)
    n = 64
    y = torch.arange(n) % 2
    ids = torch.randint(2, 8, (n, 2, 6), generator=g)        # background codes 2..7
    ids[y == 0, 0, :3], ids[y == 1, 1, :3] = 1, 1              # the pattern, on channel 0 or channel 1
    torch.manual_seed(0)
    m = TokenTransformer(8, 2, 6, n_classes=2, dim=16, n_layers=1, n_heads=4, dropout=0.0, pooling="channel")
    assert m.cls_head.in_features == 2 * 16
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(m(ids), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (m(ids).argmax(1) == y).float().mean() == 1.0
    with pytest.raises(ValueError, match="pooling='channel' needs all 2 channels, got 1"):
        m(ids[:, :1])
    with pytest.raises(ValueError, match="'pooling'"):
        TokenTransformer(8, 2, 6, n_classes=2, pooling="max")


@pytest.fixture(scope="module")
def data():
    X, y = two_class_band_power(n_per_class=24, n_channels=2, n_times=1000, seed=1)
    return X, np.where(y == 1, "alpha", "beta")


def test_classifier_three_stages_and_save_load(data, tmp_path):
    X, y = data
    clf = TokenTransformerClassifier(**SMALL, pretrain_max_epochs=3).fit(X[::2], y[::2])
    assert clf.pretrain_history_ and len(clf.pretrain_history_) == 3
    assert clf.tokenizer_usage_["n_used"] >= 4
    proba = clf.predict_proba(X[1::2])
    assert proba.shape == (24, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert set(clf.predict(X[1::2])) <= {"alpha", "beta"}
    # tokenizer travels with the classifier
    loaded = TokenTransformerClassifier.load(clf.save(tmp_path / "clf.pt"))
    np.testing.assert_allclose(loaded.predict_proba(X[1::2]), proba, atol=1e-6)
    # a file written when the encoder layers were torch's (their parameter names) still loads
    payload = torch.load(tmp_path / "clf.pt", weights_only=True)
    torch_names = {new: old for old, new in _TORCH_LAYER_KEYS.items()}
    layer_key = re.compile(r"^(transformer\.encoder\.layers\.\d+\.)(.+)$")
    payload["state_dict"] = {(m[1] + torch_names.get(m[2], m[2]) if (m := layer_key.match(k)) else k): v
                             for k, v in payload["state_dict"].items()}
    assert "transformer.encoder.layers.0.self_attn.in_proj_weight" in payload["state_dict"]
    torch.save(payload, tmp_path / "old.pt")
    np.testing.assert_array_equal(TokenTransformerClassifier.load(tmp_path / "old.pt").predict_proba(X[1::2]),
                                  loaded.predict_proba(X[1::2]))
    assert clone(clf).get_params() == clf.get_params()
    # tokens() gives the fitted tokenizer's ids (what stage 3 sees)
    ids = clf.tokens(X[1::2])
    assert ids.dtype == np.int64 and ids.shape == (24, X.shape[1], clf.module_.transformer.n_patches)
    np.testing.assert_array_equal(ids, clf.module_.tokenizer.tokenize(torch.from_numpy(X[1::2])).numpy())
    # refitting the same object retrains the tokenizer from scratch: same seed, same result
    np.testing.assert_allclose(clf.fit(X[::2], y[::2]).predict_proba(X[1::2]), proba, atol=1e-5)


def test_three_stages_leave_global_rng_alone_and_repeat_with_the_same_seed(data):
    X, y = data
    kw = dict(SMALL, max_epochs=3, pretrain_max_epochs=2)
    np.random.seed(7)
    torch.manual_seed(7)
    np_before, torch_before = np.random.get_state(), torch.random.get_rng_state().clone()
    a = TokenTransformerClassifier(**kw, random_state=3).fit(X[::2], y[::2])
    np_after = np.random.get_state()
    assert np.array_equal(np_after[1], np_before[1]) and np_after[2:] == np_before[2:]
    assert torch.equal(torch.random.get_rng_state(), torch_before)
    torch.manual_seed(123)  # another global state: the fit must not depend on it
    b = TokenTransformerClassifier(**kw, random_state=3).fit(X[::2], y[::2])
    assert a.pretrain_history_ == b.pretrain_history_ and a.history_ == b.history_
    np.testing.assert_array_equal(a.predict_proba(X[1::2]), b.predict_proba(X[1::2]))



def test_former_epoch_and_seed_names_warn_and_train_the_same(data):
    """tokenizer_epochs / pretrain_epochs / seed (former names): one FutureWarning each, same fit."""
    import warnings

    X, y = data
    kw = {**SMALL, "max_epochs": 2}
    kw.pop("tokenizer_max_epochs")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the new names never warn
        new = TokenTransformerClassifier(**kw, tokenizer_max_epochs=2, pretrain_max_epochs=1,
                                         random_state=4).fit(X[::2], y[::2])
    old = clone(TokenTransformerClassifier(**kw, tokenizer_epochs=2, pretrain_epochs=1, seed=4))
    with pytest.warns(FutureWarning) as record:
        old.fit(X[::2], y[::2])
    messages = sorted(str(r.message) for r in record if r.category is FutureWarning)
    assert len(messages) == 3
    for msg, (former, current) in zip(messages, [("pretrain_epochs", "pretrain_max_epochs"), ("seed", "random_state"),
                                                 ("tokenizer_epochs", "tokenizer_max_epochs")]):
        assert f"'{former}' parameter of TokenTransformerClassifier was renamed '{current}'" in msg
    assert old.pretrain_history_ == new.pretrain_history_ and old.history_ == new.history_
    np.testing.assert_array_equal(old.predict_proba(X[1::2]), new.predict_proba(X[1::2]))
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="'pretrain_epochs' parameter.*got -1"):
        TokenTransformerClassifier(**kw, pretrain_epochs=-1).fit(X[::2], y[::2])


def test_verbose_shows_a_bar_per_stage_and_quiet_shows_none(data, capsys):
    """verbose=True: epoch bars of the tokenizer, the pretraining and the fine-tuning; False: silence."""
    X, y = data
    kw = {**SMALL, "max_epochs": 1, "tokenizer_max_epochs": 1, "pretrain_max_epochs": 1}
    TokenTransformerClassifier(**kw, verbose=True).fit(X[::4], y[::4])
    err = capsys.readouterr().err
    for stage in ("TFM tokenizer epoch 0", "masked-token pretraining epoch 0", "TokenTransformerClassifier epoch 0"):
        assert stage in err, stage
    TokenTransformerClassifier(**kw).fit(X[::4], y[::4])
    assert capsys.readouterr().err == ''

def test_classifier_learns_band_power(data):
    X, y = data
    clf = TokenTransformerClassifier(**SMALL, pretrain_max_epochs=0, input="stft").fit(X[::2], y[::2])
    assert clf.tokenizer_usage_ == {} and clf.pretrain_history_ == []
    assert (clf.predict(X[1::2]) == y[1::2]).mean() >= 0.75


def test_embedding_scale():
    # channel / position embeddings start small (N(0, 0.02)), not torch's N(0, 1) whose norm ~8
    # swamped the unit-norm code vectors the token embedding starts from
    tt = TokenTransformer(64, 22, 7, 2)
    for emb in (tt.chan_emb, tt.pos_emb, tt.token_emb):
        assert 0.015 < float(emb.weight.detach().std()) < 0.025
    assert all(layer.attn_dropout == 0.0 for layer in tt.encoder.layers)


def test_classifier_bad_params(data):
    X, y = data
    with pytest.raises(ValueError, match="input='tokens'"):
        TokenTransformerClassifier(**SMALL, pretrain_max_epochs=0, input="stft").fit(X[::6], y[::6]).tokens(X[:2])
    with pytest.raises(ValueError, match="'pretrain_max_epochs'.*input='stft'"):
        TokenTransformerClassifier(input="stft", pretrain_max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="'input'"):
        TokenTransformerClassifier(input="wavelet").fit(X, y)
    with pytest.raises(ValueError, match="shorter than n_fft"):
        TokenTransformerClassifier(**SMALL).fit(X[:, :, :150], y)


def test_classifier_with_a_tokenizer_learned_beforehand(data, tmp_path):
    """tokenizer=<checkpoint>: stage 1 is skipped, the file's tokenizer is used frozen (and its codebook size)."""
    from neurosig.tokenizers.tfm import TFMTokenizerEstimator
    X, y = data
    # "corpus" tokenizer with another codebook size and hop than the classifier's parameters
    tok = TFMTokenizerEstimator(n_codes=24, dim=16, hop=50, max_epochs=2, batch_size=8, random_state=3).fit(X[1::2])
    tok.save(tmp_path / "tok.pt")
    clf = TokenTransformerClassifier(**SMALL, pretrain_max_epochs=2, tokenizer=tmp_path / "tok.pt").fit(X[::2], y[::2])
    assert clf.n_codes_ == 24 and clf.tokenizer_config_.n_codes == 24  # the file's, not SMALL's 32
    assert clf.tokenizer_config_.hop == 50 and clf.tokens(X[:1]).shape[-1] == tok.transform(X[:1]).shape[-1]
    np.testing.assert_array_equal(clf.tokens(X[:5]), tok.transform(X[:5]))
    assert clf.tokenizer_usage_["n_used"] == len(np.unique(tok.transform(X[::2])))
    assert clf.module_.transformer.token_emb.num_embeddings == 24 + 1  # + [MASK]
    # saved classifier loads without the tokenizer file
    clf.save(tmp_path / "clf.pt")
    (tmp_path / "tok.pt").unlink()
    back = TokenTransformerClassifier.load(tmp_path / "clf.pt")
    np.testing.assert_allclose(back.predict_proba(X[:6]), clf.predict_proba(X[:6]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(back.tokens(X[:5]), tok.transform(X[:5]))
    # the STFT control uses the file's front end; clone keeps the path
    tok.save(tmp_path / "tok.pt")
    stft = TokenTransformerClassifier(**{**SMALL, "max_epochs": 2}, pretrain_max_epochs=0, input="stft",
                                      tokenizer=tmp_path / "tok.pt").fit(X[::2], y[::2])
    assert float(stft.module_.tokenizer.corpus_scale) == float(tok.tokenizer_.corpus_scale)
    assert clone(clf).tokenizer == tmp_path / "tok.pt"
    # bad input: a missing file or another sampling rate, before any work
    with pytest.raises(FileNotFoundError, match="'tokenizer' parameter.*nope.pt"):
        TokenTransformerClassifier(tokenizer=tmp_path / "nope.pt").fit(X, y)
    with pytest.raises(ValueError, match="sfreq=200.0.*sfreq=250.0"):
        TokenTransformerClassifier(tokenizer=tmp_path / "tok.pt", model_sfreq=250.0).fit(X, y)


def test_pipeline_yaml_builds():
    from neurosig.pipelines import load_pipeline_file
    spec = load_pipeline_file(ROOT / "pipelines" / "full" / "tfm_token_transformer.yml")
    assert "full" in spec.tags
    est = spec.build()
    assert type(est.steps[-1][1]).__name__ == "TokenTransformerClassifier"
    assert est.steps[-1][1].sfreq is None  # filled by the benchmark from the epochs


# -- analysis ---------------------------------------------------------------------------------
def test_analysis_against_direct_formulas():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 6, (40, 2, 5))
    y = np.repeat([0, 1], 20)
    tokens[y == 1, 0, 0] = 5  # code 5 marks class 1
    tokens[y == 0] = np.where(tokens[y == 0] == 5, 4, tokens[y == 0])
    counts = ta.token_counts(tokens, 6)
    assert counts.shape == (40, 6) and (counts.sum(1) == 10).all()
    assert counts[3, tokens[3, 1, 2]] >= 1
    # plug-in MI == sklearn's mutual_info_score on (token, class-of-window) pairs
    flat_y = np.repeat(y, 10)
    assert np.isclose(ta.tokens_class_mi(tokens, y, 6), mutual_info_score(flat_y, tokens.ravel()))
    freq, classes = ta.class_token_frequency(tokens, y, 6)
    assert np.allclose(freq.sum(1), 1) and freq[0, 5] == 0 and freq[1, 5] > 0.1
    codes, mi = ta.most_informative_tokens(tokens, y, 6, k=3)
    assert codes[0] == 5 and np.isclose(mi[0], np.log(2))  # presence of code 5 determines the class
    res = ta.token_mutual_information(tokens, y, 6, n_shuffles=10)
    assert res["mi"] > res["shuffled"].max()
    spectra = rng.random((40, 2, 5, 7))
    c, mean, cnt = ta.code_mean_spectra(tokens, spectra)
    sel = tokens == 5
    np.testing.assert_allclose(mean[list(c).index(5)], spectra[sel].mean(0))
    assert cnt.sum() == tokens.size
    cons = ta.token_consistency(tokens, y, 6)
    assert cons["within"] > cons["between"] and cons["ratio"] > 1
    with pytest.raises(ValueError, match="outside"):
        ta.code_usage(tokens, 5)


def test_analysis_plots(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 8, (10, 2, 5))
    y = np.repeat([0, 1], 5)
    for fig in (ta.plot_code_usage(tokens, 8), ta.plot_class_token_frequency(tokens, y, 8, k=4),
                ta.plot_code_spectra(tokens, rng.random((10, 2, 5, 101)))):
        fig.savefig(tmp_path / "f.png")
        assert (tmp_path / "f.png").stat().st_size > 1000


# -- CLI --------------------------------------------------------------------------------------
class _R:
    def __init__(self, rc, out, err):
        self.returncode, self.stdout, self.stderr = rc, out, err


@pytest.fixture
def cli(capsys):
    from neurosig.cli.main import main

    def run(*args, cwd=None):
        capsys.readouterr()
        rc = main(["-q", "tokenize", *args])
        out = capsys.readouterr()
        return _R(rc, out.out, out.err)
    return run


def test_cli_fit_transform_and_errors(tmp_path, cli):
    X, _ = two_class_band_power(n_per_class=4, n_channels=2, n_times=500)
    np.save(tmp_path / "win.npy", fft_up := np.ascontiguousarray(np.repeat(X, 1, axis=0)))
    ck = tmp_path / "tok.pt"
    r = cli("fit", "--input", str(tmp_path / "win.npy"), "--out", str(ck), "--n-codes", "16", "--dim", "16",
             "--max-epochs", "1", "--batch-size", "4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli("transform", "--input", str(tmp_path / "win.npy"), "--checkpoint", str(ck), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ids = np.load(tmp_path / "win.tokens.npy")
    assert ids.shape == (len(fft_up), 2, 4)
    # HDF5 window cache (dataset key + sfreq attribute)
    import h5py
    with h5py.File(tmp_path / "win.h5", "w") as fh:
        fh.create_dataset("windows", data=fft_up).attrs["sfreq"] = 200.0
    r = cli("transform", "--input", str(tmp_path / "win.h5"), "--key", "windows", "--checkpoint", str(ck),
            "--out", str(tmp_path / "h5.tokens.npy"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "h5.tokens.npy"), ids)
    r = cli("transform", "--input", str(tmp_path / "win.h5"), "--key", "nope", "--checkpoint", str(ck),
            "--overwrite", cwd=tmp_path)
    assert r.returncode == 2 and "nope" in r.stderr and "windows" in r.stderr
    # rerun resumes (does nothing)
    r = cli("transform", "--input", str(tmp_path / "win.npy"), "--checkpoint", str(ck), cwd=tmp_path)
    assert "exists" in r.stdout
    # config mismatch, short windows, NaN, unknown input
    r = cli("transform", "--input", str(tmp_path / "win.npy"), "--checkpoint", str(ck), "--n-codes", "8192",
             "--overwrite", cwd=tmp_path)
    assert r.returncode == 2 and "tok.pt" in r.stderr and "n_codes=16" in r.stderr
    np.save(tmp_path / "short.npy", X[:, :, :100])
    r = cli("transform", "--input", str(tmp_path / "short.npy"), "--checkpoint", str(ck), cwd=tmp_path)
    assert r.returncode == 2 and "shorter than n_fft=200" in r.stderr
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    r = cli("transform", "--input", str(tmp_path / "nan.npy"), "--checkpoint", str(ck), cwd=tmp_path)
    assert r.returncode == 2 and "NaN" in r.stderr
    r = cli("fit", "--input", str(tmp_path / "missing.npy"), "--out", str(ck), cwd=tmp_path)
    assert r.returncode == 2 and "missing.npy" in r.stderr


def test_tfm_tokenizer_loads_weights_saved_with_torch_layer_names():
    """The tokenizer's transformer layers are neurosig's Block; weights saved when they were torch's
    nn.TransformerEncoderLayer (self_attn.in_proj_weight, linear1, ...) load and give the same tokens."""
    from neurosig.models.transformer import _TORCH_LAYER_KEYS
    from neurosig.tokenizers.tfm_model import TFMConfig, TFMTokenizer

    torch.manual_seed(0)
    m = TFMTokenizer(TFMConfig()).eval()
    back = {new: old for old, new in _TORCH_LAYER_KEYS.items()}
    old_sd = {}
    for k, v in m.state_dict().items():
        for new, old in back.items():
            if k.endswith("." + new):
                k = k[: -len(new)] + old
                break
        old_sd[k] = v
    assert any(k.endswith("self_attn.in_proj_weight") for k in old_sd)
    fresh = TFMTokenizer(TFMConfig()).eval()
    fresh.load_state_dict(old_sd)
    x = torch.randn(4, 2, 1000)
    np.testing.assert_array_equal(m.encode(x).detach().numpy(), fresh.encode(x).detach().numpy())
    np.testing.assert_array_equal(m.tokenize(x).numpy(), fresh.tokenize(x).numpy())
