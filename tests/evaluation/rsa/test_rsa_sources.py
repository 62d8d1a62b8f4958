"""RDM sources: sliding-window EEG RDMs, torch layer activations via hooks, token embeddings."""
from __future__ import annotations

import numpy as np
import pytest

from neurosig.evaluation.rsa import (
    calc_rdm,
    embedding_patterns,
    layer_activations,
    model_rdms,
    sliding_window_rdms,
)


def test_sliding_window_matches_per_window_rdms():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 5, 40))
    cond = np.tile(np.arange(6), 4)
    runs = np.repeat(np.arange(4), 6)
    rdms, centers = sliding_window_rdms(X, cond, window=10, step=5, method="correlation",
                                        times=np.linspace(-0.1, 0.29, 40))
    assert rdms.shape == (7, 6, 6)
    for w, start in enumerate(range(0, 31, 5)):
        np.testing.assert_allclose(rdms[w], calc_rdm(X[:, :, start:start + 10].mean(2), "correlation",
                                                     conditions=cond), atol=1e-12)
    assert centers[0] == pytest.approx(-0.1 + 4.5 * 0.01)
    xn, _ = sliding_window_rdms(X, cond, window=8, method="crossnobis", folds=runs, average_window=False)
    np.testing.assert_allclose(
        xn[1], calc_rdm(X[:, :, 8:16].reshape(24, -1), "crossnobis", conditions=cond, folds=runs), atol=1e-12)
    with pytest.raises(ValueError, match="'window'"):
        sliding_window_rdms(X, cond, window=50)
    with pytest.raises(ValueError, match="'conditions'"):
        sliding_window_rdms(X, cond[:5], window=5)


def test_layer_activations_by_name_with_hooks():
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
                                torch.nn.Sequential(torch.nn.Linear(16, 4), torch.nn.Tanh()))
    model.train()
    x = torch.randn(10, 8)
    acts = layer_activations(model, x, ["1", "2.0"], batch_size=3)
    with torch.no_grad():
        h = torch.relu(model[0](x))
        np.testing.assert_allclose(acts["1"], h.double().numpy(), atol=1e-6)
        np.testing.assert_allclose(acts["2.0"], model[2][0](h).double().numpy(), atol=1e-6)
    assert model.training  # mode restored
    assert all(len(m._forward_hooks) == 0 for m in model.modules())  # hooks removed
    rdms = model_rdms(model, x.numpy(), ["2"], method="euclidean")
    assert rdms["2"].shape == (10, 10)
    with pytest.raises(ValueError, match="'layers'.*'nope' matches no layer.*top-level layers"):
        layer_activations(model, x, ["nope"])


def test_embedding_patterns():
    rng = np.random.default_rng(1)
    E = rng.normal(size=(6, 3, 4))
    cond = np.array([1, 0, 1, 0, 2, 2])
    P = embedding_patterns(E, cond)
    np.testing.assert_allclose(P[0], E[[1, 3]].mean(axis=(0, 1)))
    assert embedding_patterns(E, pool="flatten").shape == (6, 12)
    with pytest.raises(ValueError, match="'pool'"):
        embedding_patterns(E, pool="max")


def test_container_layer_gives_its_last_submodule_output():
    torch = pytest.importorskip("torch")
    from neurosig.models.checkpoints import build_encoder

    torch.manual_seed(0)
    enc = build_encoder("bimamba", "nano", n_channels=4, n_times=64, n_blocks=2)
    x = torch.randn(3, 4, 64)
    acts = layer_activations(enc, x, ["mamba_blocks", "norm_layers.*"])
    assert list(acts) == ["mamba_blocks", "norm_layers.0", "norm_layers.1"]
    with torch.no_grad():
        h = enc.embed(x)
        h1 = enc.norm_layers[0](h + enc.mamba_blocks[0](h))
        last = enc.mamba_blocks[1](h1)
    np.testing.assert_allclose(acts["mamba_blocks"], last.reshape(3, -1).double().numpy(), atol=1e-6)
    np.testing.assert_allclose(acts["norm_layers.0"], h1.reshape(3, -1).double().numpy(), atol=1e-6)


def test_unknown_layer_lists_close_names():
    torch = pytest.importorskip("torch")
    from neurosig.models.checkpoints import build_encoder

    enc = build_encoder("bimamba", "nano", n_channels=4, n_times=64)
    with pytest.raises(ValueError, match=r"'layers' parameter of 'enc'.*'mamba_block' matches no layer.*"
                                         r"Close names: \['mamba_blocks'"):
        layer_activations(enc, torch.randn(2, 4, 64), ["mamba_block"], source="enc")
    with pytest.raises(ValueError, match="'blocks.9' matches no layer"):
        layer_activations(enc, torch.randn(2, 4, 64), ["blocks.9"])


def test_output_names_the_model_output():
    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    acts = layer_activations(lin, x, ["output"])
    with torch.no_grad():
        np.testing.assert_allclose(acts["output"], lin(x).double().numpy(), atol=1e-6)


def test_fresh_encoder_is_seeded_without_touching_the_global_generator(tmp_path):
    """A model source built fresh (no checkpoint) takes its initial weights from its own seed;
    the caller's torch random state is left as it was."""
    import numpy as np
    import torch

    from neurosig.evaluation.rsa.model_sources import _encoder

    stimuli = np.zeros((4, 4, 128), np.float32)
    cfg = {"arch": "transformer", "size": "nano", "seed": 3}
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, _ = _encoder(cfg, tmp_path, "m", stimuli)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(7)  # another global state: the same weights
    b, _ = _encoder(cfg, tmp_path, "m", stimuli)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    c, _ = _encoder({**cfg, "seed": 4}, tmp_path, "m", stimuli)
    assert any(not torch.equal(va, vc) for va, vc in zip(a.state_dict().values(), c.state_dict().values()))
