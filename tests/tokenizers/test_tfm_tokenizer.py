"""TFM tokenizer: STFT front end, masking, VQ, training on real EEG, persistence, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
from _tfm_data import eegmat_windows, one_thread, two_class_band_power  # noqa: F401 (fixture)

from neurosig.preprocessing.stft import stft_magnitude
from neurosig.preprocessing.tfm_resample import fft_resample
from neurosig.tokenizers.analysis import token_mutual_information
from neurosig.tokenizers.tfm import (
    TFMConfig,
    TFMTokenizer,
    TFMTokenizerEstimator,
    scale_p95,
    tf_mask,
)
from neurosig.tokenizers.vq import VectorQuantizer, codebook_usage, nearest_code, nearest_code_naive

TINY = dict(n_codes=32, dim=16, max_epochs=2, batch_size=16, n_layers=1)
pytestmark = pytest.mark.usefixtures("one_thread")


# -- STFT -----------------------------------------------------------------------------------
@pytest.mark.parametrize("n_fft,hop,n_times", [(200, 100, 2000), (64, 16, 301), (50, 50, 50)])
def test_stft_matches_torch_and_scipy_random(n_fft, hop, n_times):
    x = np.random.default_rng(1).standard_normal((3, 2, n_times)).astype(np.float64)
    mag = stft_magnitude(torch.from_numpy(x), n_fft, hop).numpy()
    ref_t = torch.stft(torch.from_numpy(x).reshape(-1, n_times), n_fft, hop, window=torch.hann_window(
        n_fft, dtype=torch.float64), center=False, return_complex=True).abs().reshape(mag.shape).numpy()
    win = scipy.signal.get_window("hann", n_fft)
    _, _, z = scipy.signal.stft(x, nperseg=n_fft, noverlap=n_fft - hop, window=win, boundary=None,
                                padded=False, detrend=False, return_onesided=True)
    np.testing.assert_allclose(mag, ref_t, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mag, np.abs(z) * win.sum(), rtol=1e-8, atol=1e-8)


def test_stft_matches_scipy_real_eeg(shared_data):
    X = eegmat_windows(shared_data, max_windows=2)
    mag = stft_magnitude(X).numpy()  # float32
    win = scipy.signal.get_window("hann", 200)
    _, _, z = scipy.signal.stft(X.astype(np.float64), nperseg=200, noverlap=100, window=win, boundary=None,
                                padded=False, detrend=False)
    ref = np.abs(z) * win.sum()
    assert mag.shape == ref.shape == (2, 19, 101, 19)
    np.testing.assert_allclose(mag, ref, rtol=1e-3, atol=1e-4 * ref.max())


def test_stft_short_window_error():
    with pytest.raises(ValueError, match="shorter than n_fft=200"):
        stft_magnitude(np.zeros((2, 150)), 200, 100)


def test_scale_p95_matches_numpy():
    x = torch.randn(4, 500)
    ref = x.numpy() / np.quantile(np.abs(x.numpy()), 0.95, axis=-1, keepdims=True)
    np.testing.assert_allclose(scale_p95(x).numpy(), ref, rtol=1e-5)


def test_fft_resample_matches_scipy():
    x = np.random.default_rng(0).standard_normal((2, 3, 500))
    out = fft_resample(x, 250.0, 200.0)
    assert out.shape == (2, 3, 400)
    np.testing.assert_allclose(out, scipy.signal.resample(x, 400, axis=-1), rtol=1e-4, atol=1e-5)


# -- masking ----------------------------------------------------------------------------------
def test_tf_mask_masks_what_it_says():
    g = torch.Generator().manual_seed(0)
    spec = torch.rand(64, 19, 101) + 1.0  # strictly positive: zeros can only come from the mask
    frames = torch.rand(64, 19, 200) + 1.0
    s_m, f_m, tm, fm = tf_mask(spec, frames, 0.3, 0.2, g)
    assert tm.shape == (64, 19) and fm.shape == (64, 101)
    assert (tm.sum(1) == round(0.3 * 19)).all() and (fm.sum(1) == round(0.2 * 101)).all()
    for b in range(64):  # one contiguous span / band each
        for m in (tm[b], fm[b]):
            idx = torch.nonzero(m).flatten()
            assert (idx.diff() == 1).all()
    masked = tm[:, :, None] | fm[:, None, :]
    assert torch.equal(s_m == 0, masked)
    assert torch.equal(s_m[~masked], spec[~masked])
    assert torch.equal((f_m == 0).all(-1), tm) and torch.equal(f_m[~tm], frames[~tm])
    # starts vary across rows
    assert len({int(torch.nonzero(tm[b])[0]) for b in range(64)}) > 5
    s0, _, tm0, fm0 = tf_mask(spec, frames, 0.0, 0.0, g)
    assert not tm0.any() and not fm0.any() and torch.equal(s0, spec)


# -- VQ ---------------------------------------------------------------------------------------
def test_nearest_code_matches_naive():
    g = torch.Generator().manual_seed(0)
    z, cb = torch.randn(1000, 16, generator=g), torch.randn(300, 16, generator=g)
    ids = nearest_code(z, cb, chunk_size=128)
    ref = nearest_code_naive(z, cb)
    brute = torch.cdist(z.double(), cb.double()).argmin(1)
    assert torch.equal(ids, ref) and torch.equal(ids, brute)


def test_vq_straight_through_gradients_flow():
    torch.manual_seed(0)
    enc = torch.nn.Linear(8, 16)
    vq = VectorQuantizer(n_codes=32, dim=16, update="straight_through", normalize=False).train()
    x = torch.randn(64, 8)
    z = enc(x)
    zq, ids, loss = vq(z)
    # forward value is the code vectors
    torch.testing.assert_close(zq, vq.codebook[ids].detach())
    target = torch.randn_like(zq)
    ((zq - target) ** 2).sum().backward()
    # straight-through: dL/dz == dL/dzq, so the encoder gets exactly the decoder's gradient
    expected = enc.weight.grad.clone()
    enc.weight.grad = None
    z2 = enc(x)
    ((z2 - target + (vq.codebook[ids].detach() - z2.detach())) ** 2).sum().backward()
    torch.testing.assert_close(enc.weight.grad, expected)
    assert expected.abs().sum() > 0
    # the codebook loss reaches the used codes only
    vq.codebook.grad = None
    zq, ids, loss = vq(enc(x).detach())
    loss.backward()
    used = torch.zeros(32, dtype=torch.bool)
    used[ids] = True
    g = vq.codebook.grad.abs().sum(1)
    assert (g[used] > 0).all() and (g[~used] == 0).all()


def test_vq_ema_moves_codes_and_restarts_dead():
    g = torch.Generator().manual_seed(0)
    vq = VectorQuantizer(n_codes=16, dim=4, update="ema", normalize=False, dead_threshold=0.5).train()
    data = torch.randn(256, 4, generator=g) + 5.0
    vq(data, g)  # initialises from data
    before = vq.codebook.clone()
    for _ in range(30):
        vq(torch.randn(256, 4, generator=g) * 0.1 + 5.0, g)
    assert not torch.allclose(before, vq.codebook)
    # all codes sit near the data after restarts (none stranded far away)
    assert (vq.codebook - 5.0).abs().max() < 1.0
    usage = codebook_usage(vq.codes(data), 16)
    assert usage["n_used"] >= 8
    u = codebook_usage(np.array([0, 0, 1, 1]), 4)
    assert u["n_used"] == 2 and u["share_used"] == 0.5 and np.isclose(u["perplexity"], 2.0)


# -- training on real EEG --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def eeg(shared_data):
    X = eegmat_windows(shared_data, "Subject00_1", max_windows=8)  # (8, 19, 2000)
    return X.reshape(-1, 1, 2000)  # single-channel windows


@pytest.fixture(scope="module")
def fitted(eeg):
    return TFMTokenizerEstimator(**TINY, random_state=3).fit(eeg)


def test_codebook_usage_floor_real_eeg(fitted, eeg):
    ids = fitted.transform(eeg)
    assert ids.shape == (len(eeg), 1, 19) and ids.dtype == np.int64
    u = codebook_usage(ids, 32)
    # floor: at least a third of a tiny codebook in use and perplexity well above a collapsed codebook (1)
    assert u["share_used"] >= 1 / 3, u
    assert u["perplexity"] >= 4.0, u
    assert np.isfinite([h["loss"] for h in fitted.history_]).all()


def test_save_load_roundtrip_and_seed(fitted, eeg, tmp_path):
    ids = fitted.transform(eeg)
    path = fitted.save(tmp_path / "tok.pt")
    loaded = TFMTokenizerEstimator.load(path)
    np.testing.assert_array_equal(loaded.transform(eeg), ids)
    np.testing.assert_array_equal(loaded.embed(eeg[:2]), fitted.embed(eeg[:2]))
    again = TFMTokenizerEstimator(**TINY, random_state=3).fit(eeg)
    np.testing.assert_array_equal(again.transform(eeg), ids)
    emb = fitted.embed(eeg[:3])
    assert emb.shape == (3, 1, 19, 16)
    rec = fitted.inverse_transform(ids[:3])
    assert rec.shape == (3, 1, 101, 19)


def test_checkpoint_mismatch_errors(fitted, tmp_path):
    path = fitted.save(tmp_path / "tok.pt")
    with pytest.raises(ValueError, match=r"tok.pt.*n_codes=32.*n_codes=8192"):
        TFMTokenizer.load(path, expect={"n_codes": 8192})
    payload = torch.load(path, weights_only=True)
    payload["config"]["n_codes"] = 64
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"bad.pt.*does not match its own config"):
        TFMTokenizer.load(tmp_path / "bad.pt")
    payload["config"]["bogus"] = 1
    torch.save(payload, tmp_path / "bad2.pt")
    with pytest.raises(ValueError, match=r"bad2.pt.*bogus"):
        TFMTokenizer.load(tmp_path / "bad2.pt")
    torch.save({"a": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="does not hold a TFMTokenizer"):
        TFMTokenizer.load(tmp_path / "other.pt")


def test_bad_input_errors(fitted):
    ok = np.zeros((2, 1, 2000), np.float32)
    with pytest.raises(ValueError, match=r"'sfreq'.*200.0 Hz.*resample=False.*250"):
        TFMTokenizerEstimator(sfreq=250, resample=False, **TINY).fit(ok)
    with pytest.raises(ValueError, match=r"'X'.*150 samples.*shorter than n_fft=200"):
        fitted.transform(np.zeros((2, 1, 150), np.float32))
    with pytest.raises(ValueError, match=r"'X'.*shorter than n_fft=200"):
        TFMTokenizerEstimator(sfreq=500, **TINY).fit(np.zeros((2, 1, 400), np.float32))  # 160 at 200 Hz
    bad = ok.copy()
    bad[0, 0, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        fitted.transform(bad)
    bad[0, 0, 5] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        TFMTokenizerEstimator(**TINY).fit(bad)
    with pytest.raises(ValueError, match="empty"):
        fitted.transform(np.zeros((0, 1, 2000), np.float32))
    with pytest.raises(ValueError, match="3-D"):
        fitted.transform(np.zeros((2, 2000), np.float32))
    with pytest.raises(ValueError, match="'vq_update'"):
        TFMTokenizerEstimator(vq_update="kmeans", **{k: v for k, v in TINY.items()}).fit(ok)


def test_resampled_input_gives_same_tokens(fitted, eeg):
    """250 Hz input is FFT-resampled to 200 Hz before tokenizing."""
    x250 = fft_resample(eeg[:4], 200.0, 250.0)
    fitted.sfreq = 250.0
    try:
        ids250 = fitted.transform(x250)
    finally:
        fitted.sfreq = None
    ids = fitted.transform(eeg[:4])
    assert (ids250 == ids).mean() > 0.9


def test_tokens_carry_class_information():
    X, y = two_class_band_power(n_per_class=30, n_channels=2, n_times=1000)
    est = TFMTokenizerEstimator(**{**TINY, "max_epochs": 3}, random_state=0).fit(X)
    ids = est.transform(X)
    res = token_mutual_information(ids, y, 32, n_shuffles=20)
    assert res["mi"] > res["shuffled"].max()
    assert res["z"] > 5, res
    assert res["mi"] > 3 * res["shuffled"].mean()


def test_module_default_config_and_shapes():
    cfg = TFMConfig()
    assert (cfg.n_codes, cfg.dim, cfg.n_fft, cfg.hop, cfg.sfreq) == (8192, 64, 200, 100, 200.0)
    m = TFMTokenizer(TFMConfig(n_codes=16, dim=16)).eval()
    X = torch.randn(2, 3, 2000)
    assert m.tokenize(X).shape == (2, 3, 19)
    assert m.encode(X).shape == (2, 3, 19, 16)
    assert m.embed(m.tokenize(X)).shape == (2, 3, 19, 16)
