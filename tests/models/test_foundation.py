"""FoundationClassifier: fine-tuning vs linear probing, checkpoints, save/load, seeds, bad input."""
import numpy as np
import pytest
import torch
from models_data import simulated_windows
from sklearn.base import clone

from neurosig.contracts import SignalContract
from neurosig.models.checkpoints import save_encoder, save_femba_safetensors
from neurosig.models.femba import BiMambaEncoder
from neurosig.models.foundation import FoundationClassifier, evaluate_over_seeds, summarize_seeds
from neurosig.models.pretrain import PretrainConfig, pretrain
from neurosig.models.transformer import PatchTransformer

FAST = dict(max_epochs=15, batch_size=16, lr=1e-2, patience=15, val_fraction=0.0)


@pytest.fixture(scope="module")
def data():
    X, y = simulated_windows(n=64, n_channels=4, n_times=64, seed=3)
    return X[:48], y[:48], X[48:], y[48:]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, data):
    torch.set_num_threads(1)
    X = data[0]
    d = tmp_path_factory.mktemp("pre")
    torch.manual_seed(0)
    contract = SignalContract(("C3", "Cz", "C4", "Pz"), 128.0, 64, "average")
    pretrain(BiMambaEncoder("nano", n_channels=4, n_times=64), X,
             PretrainConfig(max_epochs=4, batch_size=16, lr=2e-2, warmup_steps=2, val_fraction=0.25),
             checkpoint_dir=d, contract=contract, verbose=False)
    return d / "best.pt"


@pytest.mark.parametrize("encoder", ["bimamba", "transformer"])
def test_fit_predict_from_scratch(encoder, data):
    Xtr, ytr, Xte, yte = data
    clf = FoundationClassifier(encoder=encoder, **FAST).fit(Xtr, ytr)
    assert clf.predict_proba(Xte).shape == (len(Xte), 2)
    assert clf.score(Xte, yte) > 0.7  # 10 Hz vs 20 Hz sources: easy
    assert clf.transform(Xte).shape == (len(Xte), clf.module_.encoder.config.d_model)


def test_linear_probe_freezes_encoder_and_finetune_moves_it(pretrained, data):
    Xtr, ytr, Xte, yte = data
    before = {k: v.clone() for k, v in torch.load(pretrained, weights_only=True)["model"].items()
              if k.startswith("encoder.")}
    probe = FoundationClassifier(checkpoint=str(pretrained), mode="linear_probe", **FAST).fit(Xtr, ytr)
    for k, v in probe.module_.encoder.state_dict().items():
        torch.testing.assert_close(v, before["encoder." + k], atol=0, rtol=0)
    ft = FoundationClassifier(checkpoint=str(pretrained), mode="finetune", encoder_lr=1e-3, **FAST).fit(Xtr, ytr)
    moved = max(float((v - before["encoder." + k]).abs().max()) for k, v in ft.module_.encoder.state_dict().items())
    assert moved > 1e-4
    groups = ft._configure_optimizer(ft.module_).param_groups
    assert [g["lr"] for g in groups] == [1e-2, 1e-3]
    assert ft.checkpoint_info_["contract"]["sfreq"] == 128.0
    for est in (probe, ft):
        assert 0.0 <= est.score(Xte, yte) <= 1.0


def test_save_load_round_trip(pretrained, data, tmp_path):
    Xtr, ytr, Xte, _ = data
    clf = FoundationClassifier(checkpoint=str(pretrained), mode="linear_probe", head="mlp", **FAST).fit(Xtr, ytr)
    p = clf.save(tmp_path / "clf.pt")
    pretrained_copy = pretrained  # the checkpoint file is not needed to load the fitted estimator
    clf2 = FoundationClassifier.load(p)
    np.testing.assert_allclose(clf.predict_proba(Xte), clf2.predict_proba(Xte), atol=1e-6)
    assert clf2.get_params()["checkpoint"] == str(pretrained_copy)


def test_checkpoint_mismatches_are_clear_errors(pretrained, data, tmp_path):
    Xtr, ytr, _, _ = data
    with pytest.raises(ValueError, match=r"\(4, 64\), but the data have \(4, 48\)"):
        FoundationClassifier(checkpoint=str(pretrained), crop=False, **FAST).fit(Xtr[:, :, :48], ytr)
    X6 = np.concatenate([Xtr, Xtr[:, :2]], axis=1)
    with pytest.raises(ValueError, match=r"\(4, 64\), but the data have \(6, 64\)"):
        FoundationClassifier(checkpoint=str(pretrained), **FAST).fit(X6, ytr)
    with pytest.raises(ValueError, match="holds a 'bimamba' encoder, but arch='transformer'"):
        FoundationClassifier(encoder="transformer", checkpoint=str(pretrained), **FAST).fit(Xtr, ytr)
    with pytest.raises(ValueError, match=r"channels differ \(missing \['Pz'\], unexpected \['Oz'\]\)"):
        FoundationClassifier(checkpoint=str(pretrained), ch_names=["C3", "Cz", "C4", "Oz"], sfreq=128.0,
                             **FAST).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="sampling rate 256.0 Hz instead of 128.0 Hz"):
        FoundationClassifier(checkpoint=str(pretrained), ch_names=["C3", "Cz", "C4", "Pz"], sfreq=256.0,
                             **FAST).fit(Xtr, ytr)
    torch.manual_seed(0)
    tr = PatchTransformer("nano", n_channels=4, n_times=64)
    p = save_encoder(tr, tmp_path / "tr.pt")
    with pytest.raises(ValueError, match="holds a 'transformer' encoder, but arch='bimamba'"):
        FoundationClassifier(checkpoint=str(p), **FAST).fit(Xtr, ytr)
    enc = BiMambaEncoder("nano", n_channels=22, n_times=1280)
    st = save_femba_safetensors(enc, tmp_path / "femba.safetensors")
    with pytest.raises(ValueError, match=r"\(22, 1280\), but the data have \(4, 64\)"):
        FoundationClassifier(checkpoint=str(st), **FAST).fit(Xtr, ytr)


def test_bad_parameters(data):
    Xtr, ytr, _, _ = data
    for kw, msg in [({"mode": "probe"}, "'mode'.*'finetune', 'linear_probe'.*'probe'"),
                    ({"head": "cnn"}, "'head'.*'cnn'"), ({"encoder": "lstm"}, "'encoder'.*'lstm'"),
                    ({"size": "gigantic"}, "'size'.*'gigantic'"), ({"encoder_lr": -1.0}, "'encoder_lr'")]:
        with pytest.raises(ValueError, match=msg):
            FoundationClassifier(**{**FAST, **kw}).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="'n_channels'.*multiple of 2.*got 3"):
        FoundationClassifier(**FAST).fit(Xtr[:, :3], ytr)
    Xnan = Xtr.copy()
    Xnan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FoundationClassifier(**FAST).fit(Xnan, ytr)


def test_crop_to_patch_multiple(data):
    Xtr, ytr, Xte, _ = data
    X70 = np.concatenate([Xtr, Xtr[:, :, :6]], axis=2)  # 70 samples -> 64 used
    clf = FoundationClassifier(max_epochs=1, val_fraction=0.0).fit(X70, ytr)
    assert clf.module_.encoder.config.n_times == 64
    with pytest.raises(ValueError, match="trials of shape"):
        clf.predict(Xte)  # fitted on 70-sample windows


def test_seeds_mean_and_ci(data):
    Xtr, ytr, Xte, yte = data
    est = FoundationClassifier(max_epochs=3, batch_size=16, lr=1e-2, val_fraction=0.0, preprocessing_hash="abc123")
    res = evaluate_over_seeds(est, Xtr, ytr, Xte, yte, seeds=[0, 1, 2])
    assert len(res.scores) == 3 and res.ci_low <= res.mean <= res.ci_high
    assert res.settings["head"] == "linear" and res.settings["preprocessing_hash"] == "abc123"
    assert res.settings["lr"] == 1e-2 and "settings_hash" in res.to_dict()
    # the CI against scipy's t interval
    from scipy import stats
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(res.scores), scale=stats.sem(res.scores))
    if np.isfinite(lo):
        assert np.isclose(res.ci_low, lo) and np.isclose(res.ci_high, hi)
    s = summarize_seeds([0.5, 0.7, 0.6, 0.8], [0, 1, 2, 3], "accuracy")
    lo, hi = stats.t.interval(0.95, 3, loc=0.65, scale=stats.sem([0.5, 0.7, 0.6, 0.8]))
    assert np.isclose(s.ci_low, lo) and np.isclose(s.ci_high, hi)


def test_sklearn_clone_and_params():
    est = FoundationClassifier(mode="linear_probe", encoder_lr=1e-4)
    c = clone(est)
    assert c.get_params()["mode"] == "linear_probe" and c.get_params()["encoder_lr"] == 1e-4
