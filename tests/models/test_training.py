"""The shared training loop: local generators, reproducibility, early stopping, errors, checkpoints, progress."""
import numpy as np
import pytest
import torch
from torch import nn

from neurosig.models.cnn import ShallowConvNet
from neurosig.models.training import (
    Checkpointing,
    StepOutput,
    Trainer,
    TrainSettings,
    forked_rng,
    lr_factor,
    resolve_device,
    resolve_seed,
)


def _regression(n=48, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = torch.from_numpy(rng.standard_normal((n, d)).astype(np.float32))
    w = torch.linspace(-1.0, 1.0, d)
    return X, X @ w + 0.1 * torch.from_numpy(rng.standard_normal(n).astype(np.float32))


def _trainer(seed=0, X=None, y=None, callbacks=(), validate=None, ckpt=None, **kw):
    X, y = (X, y) if X is not None else _regression()
    with forked_rng(seed):
        module = nn.Sequential(nn.Linear(X.shape[1], 8), nn.Dropout(0.2), nn.Linear(8, 1))

    def step(model, batch):
        b = batch.local
        batch.check_finite(X[b])
        loss = nn.functional.mse_loss(model(X[b])[:, 0], y[b])
        return StepOutput(loss, {"train_loss": float(loss.detach()) * len(b)}, len(b))

    settings = TrainSettings(**{"max_epochs": 4, "batch_size": 8, "seed": seed, **kw})
    opt = torch.optim.AdamW(module.parameters(), lr=3e-2)
    return Trainer(module, step, opt, settings, torch.device("cpu"), validate=validate, checkpointing=ckpt,
                   callbacks=callbacks), module


def _weights(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_global_random_state_is_unchanged_by_fit():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((24, 3, 128)).astype(np.float32)
    y = np.repeat([0, 1], 12)
    np.random.seed(11)
    torch.manual_seed(11)
    np_before, torch_before = np.random.get_state(), torch.random.get_rng_state().clone()
    ShallowConvNet(sfreq=128, max_epochs=2, random_state=0).fit(X, y)
    ShallowConvNet(sfreq=128, max_epochs=2, random_state=None).fit(X, y)
    np_after = np.random.get_state()
    assert np_after[0] == np_before[0] and np.array_equal(np_after[1], np_before[1])
    assert np_after[2:] == np_before[2:]
    assert torch.equal(torch.random.get_rng_state(), torch_before)


def test_same_seed_same_model_other_seed_other_model():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((24, 3, 128)).astype(np.float32)
    y = np.repeat([0, 1], 12)
    a = ShallowConvNet(sfreq=128, max_epochs=3, random_state=5).fit(X, y)
    torch.manual_seed(99)  # the caller's global state must not matter
    np.random.seed(99)
    b = ShallowConvNet(sfreq=128, max_epochs=3, random_state=5).fit(X, y)
    c = ShallowConvNet(sfreq=128, max_epochs=3, random_state=6).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.history_ == b.history_
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))


def test_trainer_reproducible_with_dropout_and_loss_falls():
    t1, m1 = _trainer(seed=1, max_epochs=6)
    r1 = t1.run(np.arange(48))
    t2, m2 = _trainer(seed=1, max_epochs=6)
    r2 = t2.run(np.arange(48))
    assert r1.history == r2.history and torch.equal(_weights(m1), _weights(m2))
    losses = [h["train_loss"] for h in r1.history]
    assert losses[-1] < 0.5 * losses[0]


def test_early_stopping_restores_the_best_epoch_weights():
    scripted = iter([3.0, 2.0, 1.0, 1.5, 2.5, 0.5])  # best at epoch 2, patience 2 stops after epoch 4
    snapshots = {}
    trainer, module = _trainer(max_epochs=6, patience=2, validate=lambda m: next(scripted),
                               callbacks=[lambda e, rec: snapshots.__setitem__(e, _weights(module).clone())])
    res = trainer.run(np.arange(48))
    assert [h["epoch"] for h in res.history] == [0, 1, 2, 3, 4]
    assert res.best_epoch == 2 and res.best_loss == 1.0 and res.stopped_early
    assert torch.equal(_weights(module), snapshots[2])
    assert not torch.equal(snapshots[4], snapshots[2])


def test_warmup_cosine_schedule_is_applied():
    trainer, _ = _trainer(max_epochs=3, warmup_steps=2, min_lr_ratio=0.1)
    res = trainer.run(np.arange(48))  # 6 steps per epoch, 18 in all
    for h in res.history:
        step = 6 * (h["epoch"] + 1)
        assert h["lr"] == pytest.approx(3e-2 * lr_factor(step, 2, 18, 0.1))


def test_non_finite_input_and_loss_name_epoch_and_step():
    X, y = _regression()
    X[13, 2] = np.nan
    trainer, _ = _trainer(X=X, y=y)
    with pytest.raises(FloatingPointError, match=r"sample\(s\) \[13\] contain NaN or inf \(epoch 0, step \d\)"):
        trainer.run(np.arange(48))
    X, y = _regression()
    y[40] = np.inf
    trainer, _ = _trainer(X=X, y=y)
    with pytest.raises(FloatingPointError, match=r"the loss of sample\(s\) \[.*40.*\] became NaN or inf \(epoch 0"):
        trainer.run(np.arange(48))


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    straight, m_straight = _trainer(max_epochs=4, ckpt=Checkpointing(tmp_path / "a", identity={"id": 1}))
    straight.run(np.arange(48))

    def crash(epoch, rec):
        if epoch == 1:
            raise RuntimeError("simulated crash")

    crashing, _ = _trainer(max_epochs=4, ckpt=Checkpointing(tmp_path / "b", identity={"id": 1}), callbacks=[crash])
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.run(np.arange(48))
    resumed, m_resumed = _trainer(seed=0, max_epochs=4, ckpt=Checkpointing(tmp_path / "b", identity={"id": 1}))
    res = resumed.run(np.arange(48))
    assert [h["epoch"] for h in res.history] == [0, 1, 2, 3]
    torch.testing.assert_close(_weights(m_resumed), _weights(m_straight))
    other, _ = _trainer(max_epochs=4, ckpt=Checkpointing(tmp_path / "b", identity={"id": 2}))
    with pytest.raises(ValueError, match="Cannot resume.*its id is 1, but this run has 2"):
        other.run(np.arange(48))


def test_progress_moves_inside_an_epoch(monkeypatch, capsys):
    import neurosig.models.training as training

    bars = []

    def recording(*args, **kwargs):
        bar = training_progress(*args, **kwargs)
        bars.append((bar, bar.disable))  # (tqdm marks a bar disabled once closed)
        return bar

    training_progress = training.progress
    monkeypatch.setattr(training, "progress", recording)
    trainer, _ = _trainer(max_epochs=2, verbose=True, desc="demo")
    trainer.run(np.arange(48))
    inner = [(b, off) for b, off in bars if b.desc.startswith("demo epoch")]
    assert [b.desc for b, _ in inner] == ["demo epoch 0", "demo epoch 1"]
    assert all(b.n == b.total == 6 and not off for b, off in inner)  # 48 samples / 8 per batch
    assert "demo" in capsys.readouterr().err
    bars.clear()
    trainer, _ = _trainer(max_epochs=2, verbose=False)
    trainer.run(np.arange(48))
    assert bars and all(off for _, off in bars) and capsys.readouterr().err == ""


def test_bad_settings_and_seed_and_device():
    with pytest.raises(ValueError, match="'max_epochs'"):
        TrainSettings(max_epochs=0, batch_size=4).validate()
    with pytest.raises(ValueError, match="'amp'.*'auto'.*'fast'"):
        TrainSettings(max_epochs=1, batch_size=4, amp="fast").validate()
    with pytest.raises(ValueError, match="'seed'.*non-negative integers or None, but got -1"):
        resolve_seed(-1)
    assert isinstance(resolve_seed(None), int)
    assert resolve_device(None) == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'device'.*'cuda'.*is_available"):
            resolve_device("cuda")


def test_old_parameter_names_still_work_for_one_release_with_a_future_warning():
    import warnings

    from sklearn.base import clone

    from neurosig.tokenizers.tfm import TFMTokenizerEstimator

    rng = np.random.default_rng(5)
    X = rng.standard_normal((16, 3, 128)).astype(np.float32)
    y = np.repeat([0, 1], 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the new names never warn
        new = ShallowConvNet(sfreq=128, max_epochs=2, random_state=5).fit(X, y)
    old = clone(ShallowConvNet(sfreq=128, max_epochs=2, seed=5))
    with pytest.warns(FutureWarning, match="'seed' parameter of ShallowConvNet was renamed 'random_state'"):
        old.fit(X, y)
    np.testing.assert_array_equal(old.predict_proba(X), new.predict_proba(X))

    W = rng.standard_normal((12, 2, 400)).astype(np.float32)
    tiny = dict(n_codes=16, dim=8, n_layers=1, batch_size=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        tok_new = TFMTokenizerEstimator(**tiny, max_epochs=2, random_state=1).fit(W)
    with pytest.warns(FutureWarning) as record:
        tok_old = TFMTokenizerEstimator(**tiny, epochs=2, seed=1).fit(W)
    messages = sorted(str(r.message) for r in record if r.category is FutureWarning)
    assert len(messages) == 2 and "'epochs'" in messages[0] and "'max_epochs'" in messages[0]
    assert "'seed'" in messages[1] and "'random_state'" in messages[1]
    assert tok_old.history_ == tok_new.history_
    np.testing.assert_array_equal(tok_old.transform(W), tok_new.transform(W))


def test_bad_random_state_is_refused_before_training():
    X = np.zeros((8, 2, 64), np.float32)
    y = np.repeat([0, 1], 4)
    with pytest.raises(ValueError, match="'random_state' parameter.*non-negative integers or None, but got -3"):
        ShallowConvNet(sfreq=128, max_epochs=1, random_state=-3).fit(X, y)


def test_mixed_precision_only_on_cuda(caplog):
    from neurosig.models.training import amp_dtype

    cpu = torch.device("cpu")
    assert amp_dtype("auto", cpu) is None and amp_dtype("off", cpu) is None
    with caplog.at_level("WARNING", logger="neurosig.models._runtime"):
        assert amp_dtype("fp16", cpu) is None
    assert "needs a CUDA device" in caplog.text
    with pytest.raises(ValueError, match="'amp'"):
        amp_dtype("half", cpu)
