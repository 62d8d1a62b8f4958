"""Masked pretraining: loss falls, checkpoints, resume after a crash, NaN batches, DDP == single process."""
import json

import _ddp_worker
import numpy as np
import pytest
import torch
from models_data import simulated_windows

from neurosig.contracts import SignalContract
from neurosig.models._patch import scale_windows
from neurosig.models.checkpoints import load_encoder
from neurosig.models.femba import BiMambaEncoder
from neurosig.models.pretrain import PretrainConfig, load_pretrained, lr_factor, pretrain
from neurosig.models.transformer import PatchTransformer


def _enc(cls=BiMambaEncoder, C=4, T=64, seed=0):
    torch.manual_seed(seed)
    return cls("nano", n_channels=C, n_times=T)


@pytest.mark.parametrize("cls", [BiMambaEncoder, PatchTransformer])
def test_pretraining_loss_falls(cls, tmp_path):
    X, _ = simulated_windows(n=64, n_channels=4, n_times=64)
    cfg = PretrainConfig(max_epochs=10, batch_size=16, lr=2e-2, warmup_steps=2, val_fraction=0.25, patience=20)
    res = pretrain(_enc(cls), X, cfg, checkpoint_dir=tmp_path, verbose=False)
    tr = [h["train_loss"] for h in res.history]
    va = [h["val_loss"] for h in res.history]
    assert len(tr) == 10 and np.isfinite(tr).all()
    assert tr[-1] < 0.85 * tr[0] and va[-1] < 0.85 * va[0]
    # better than the trivial reconstruction (zeros = the mean of z-scored windows)
    xs = scale_windows(torch.from_numpy(X), "zscore")
    zero_loss = float(torch.nn.functional.smooth_l1_loss(xs, torch.zeros_like(xs)))
    assert min(va) < 0.9 * zero_loss
    assert json.loads((tmp_path / "history.json").read_text())[-1]["epoch"] == 9
    model, meta = load_pretrained(tmp_path / "best.pt")
    assert meta["best_epoch"] == int(np.argmin(va)) and meta["arch"] == cls.arch
    enc, info = load_encoder(tmp_path / "best.pt", arch=cls.arch, n_channels=4, n_times=64)
    x = torch.randn(2, 4, 64)
    torch.testing.assert_close(enc(x), res.encoder.eval()(x))


def test_lr_schedule_warmup_then_cosine():
    f = [lr_factor(s, 4, 20, 0.0) for s in range(20)]
    assert f[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in zip(f[3:], f[4:])) and f[-1] < 0.05


def test_resume_after_crash_equals_uninterrupted_run(tmp_path):
    X, _ = simulated_windows(n=40, n_channels=4, n_times=64)
    cfg = PretrainConfig(max_epochs=4, batch_size=8, lr=3e-3, warmup_steps=2, val_fraction=0.2, patience=10)
    straight = pretrain(_enc(), X, cfg, checkpoint_dir=tmp_path / "a", verbose=False)

    def crash(epoch, rec):
        if epoch == 1:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        pretrain(_enc(), X, cfg, checkpoint_dir=tmp_path / "b", verbose=False, callbacks=[crash])
    assert torch.load(tmp_path / "b" / "last.pt", weights_only=True)["epoch"] == 2
    resumed = pretrain(_enc(seed=123), X, cfg, checkpoint_dir=tmp_path / "b", verbose=False)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2, 3]
    for (k, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=k)
    np.testing.assert_allclose([h["val_loss"] for h in straight.history],
                               [h["val_loss"] for h in resumed.history], rtol=1e-5)
    # a finished run resumes to a no-op; other settings are refused
    again = pretrain(_enc(), X, cfg, checkpoint_dir=tmp_path / "b", verbose=False)
    assert len(again.history) == 4
    with pytest.raises(ValueError, match="Cannot resume.*pretrain_config"):
        pretrain(_enc(), X, PretrainConfig(max_epochs=4, batch_size=8, lr=1e-2, warmup_steps=2, val_fraction=0.2),
                 checkpoint_dir=tmp_path / "b", verbose=False)


def test_former_names_epochs_seed(tmp_path):
    """PretrainConfig(epochs=, seed=) still works for one release (FutureWarning), same training;
    checkpoints keep the keys they always stored, so a run started under the former names resumes."""
    X, _ = simulated_windows(n=24, n_channels=4, n_times=64)
    new = PretrainConfig(max_epochs=2, batch_size=8, random_state=3, val_fraction=0.25)
    with pytest.warns(FutureWarning) as record:
        old = PretrainConfig(epochs=2, batch_size=8, seed=3, val_fraction=0.25)
    said = " ".join(str(w.message) for w in record)
    assert "'epochs' parameter of PretrainConfig was renamed 'max_epochs'" in said and "random_state=3" in said
    assert old == new and old.to_dict() == new.to_dict()
    with pytest.warns(FutureWarning, match="renamed PretrainConfig.random_state"):
        assert old.seed == 3
    a = pretrain(_enc(), X, new, checkpoint_dir=tmp_path, verbose=False)
    with pytest.warns(FutureWarning):
        b = pretrain(_enc(), X, PretrainConfig(epochs=2, batch_size=8, seed=3, val_fraction=0.25), verbose=False)
    assert a.history == b.history
    for (k, va), (_, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        torch.testing.assert_close(va, vb, rtol=0, atol=0, msg=k)
    stored = torch.load(tmp_path / "last.pt", weights_only=True)["pretrain_config"]
    assert stored["epochs"] == 2 and stored["seed"] == 3 and "max_epochs" not in stored
    with pytest.raises(ValueError, match="both 'max_epochs' and its former name 'epochs'"):
        PretrainConfig(epochs=2, max_epochs=3)
    with pytest.raises(ValueError, match="'random_state' parameter"):
        PretrainConfig(random_state=-1).validate()


def test_nan_batch_stops_and_keeps_last_good_checkpoint(tmp_path):
    X, _ = simulated_windows(n=32, n_channels=4, n_times=64)
    cfg = PretrainConfig(max_epochs=3, batch_size=8, val_fraction=0.0)
    pretrain(_enc(), X, PretrainConfig(max_epochs=1, batch_size=8, val_fraction=0.0),
             checkpoint_dir=tmp_path, verbose=False)
    before = (tmp_path / "last.pt").read_bytes()
    Xbad = X.copy()
    Xbad[5, 1, 10] = np.nan
    with pytest.raises(FloatingPointError, match=r"window\(s\) \[5\] contain NaN or inf \(epoch 0"):
        pretrain(_enc(), Xbad, cfg, checkpoint_dir=tmp_path / "new", verbose=False)
    with pytest.raises(FloatingPointError, match="contain NaN.*last good checkpoint.*is unchanged"):
        pretrain(_enc(), Xbad, PretrainConfig(max_epochs=3, batch_size=8, val_fraction=0.0),
                 checkpoint_dir=tmp_path, resume=False, verbose=False)
    assert (tmp_path / "last.pt").read_bytes() == before


def test_bad_inputs():
    X, _ = simulated_windows(n=16, n_channels=4, n_times=64)
    with pytest.raises(ValueError, match=r"\(n_channels, n_times\) = \(4, 64\), but the encoder expects \(6, 64\)"):
        pretrain(_enc(C=6), X, PretrainConfig(max_epochs=1), verbose=False)
    with pytest.raises(ValueError, match="'mask_ratio'"):
        pretrain(_enc(), X, PretrainConfig(mask_ratio=1.5), verbose=False)
    with pytest.raises(ValueError, match="'amp'.*'auto'.*'fast'"):
        pretrain(_enc(), X, PretrainConfig(amp="fast"), verbose=False)
    with pytest.raises(ValueError, match="shape"):
        pretrain(_enc(), X[0], PretrainConfig(max_epochs=1), verbose=False)
    bad_contract = SignalContract(("a", "b"), 128.0, 64)
    with pytest.raises(ValueError, match="contract describes"):
        pretrain(_enc(), X, PretrainConfig(max_epochs=1), contract=bad_contract, verbose=False)


def test_torch_dataset_input_matches_array(tmp_path):
    X, y = simulated_windows(n=24, n_channels=4, n_times=64)

    class Windows(torch.utils.data.Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return torch.from_numpy(X[i]), int(y[i])

    cfg = PretrainConfig(max_epochs=2, batch_size=8, val_fraction=0.25)
    a = pretrain(_enc(), X, cfg, verbose=False)
    b = pretrain(_enc(), Windows(), cfg, verbose=False)
    assert a.history == b.history


# -- DDP ------------------------------------------------------------------------------------
def test_ddp_two_processes_match_one(tmp_path):
    X, _ = simulated_windows(n=30, n_channels=4, n_times=64)  # 24 training windows: 3 batches of 8
    kw = dict(max_epochs=2, batch_size=8, lr=3e-3, warmup_steps=1, val_fraction=0.2)
    single = pretrain(_enc(), X, PretrainConfig(**kw), verbose=False)
    # fork (where available) reuses the imported torch; spawn pays a fresh import per process
    method = "fork" if "fork" in torch.multiprocessing.get_all_start_methods() else "spawn"
    torch.multiprocessing.start_processes(_ddp_worker.run, args=(2, str(tmp_path / "init"), X, str(tmp_path), kw),
                                          nprocs=2, join=True, start_method=method)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k, v in single.model.state_dict().items():
        torch.testing.assert_close(r0["state"][k], v, atol=1e-5, rtol=1e-4, msg=k)
        torch.testing.assert_close(r1["state"][k], r0["state"][k], atol=0, rtol=0, msg=k)
    np.testing.assert_allclose([h["train_loss"] for h in r0["history"]],
                               [h["train_loss"] for h in single.history], rtol=1e-5)
    assert (tmp_path / "ckpt" / "last.pt").is_file()
