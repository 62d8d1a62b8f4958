"""The one pre-norm transformer block (PatchTransformer, TokenTransformer) against torch's layer."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from neurosig.models.token_transformer import TokenTransformer
from neurosig.models.transformer import Block, BlockStack, PatchTransformer


def _torch_layer(d, heads, ratio, activation, dropout, attn_dropout):
    layer = nn.TransformerEncoderLayer(d, heads, ratio * d, dropout=dropout, activation=activation,
                                       batch_first=True, norm_first=True)
    layer.self_attn.dropout = attn_dropout
    return layer


@pytest.mark.parametrize("activation,dropout,attn_dropout", [("gelu", 0.0, 0.0), ("relu", 0.1, 0.0),
                                                              ("relu", 0.1, 0.2)])
def test_block_computes_what_torch_encoder_layer_computes(activation, dropout, attn_dropout):
    torch.manual_seed(0)
    ref = _torch_layer(16, 2, 2, activation, dropout, attn_dropout)
    block = Block(16, 2, 2, activation, dropout, attn_dropout)
    block.load_state_dict(ref.state_dict())  # torch's parameter names are mapped
    x = torch.randn(3, 11, 16)
    torch.manual_seed(5)
    expected = ref(x)
    torch.manual_seed(5)
    got = block(x)  # training mode: the same dropout masks too
    if attn_dropout:  # torch lays the attention inputs out otherwise: rounding may differ
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    else:
        assert torch.equal(got, expected)
    ref.eval()
    block.eval()
    assert torch.equal(block(x), ref(x))
    with torch.no_grad():  # torch's fused inference path rounds differently
        torch.testing.assert_close(block(x), ref(x), rtol=0, atol=1e-5)


def test_block_stack_starts_from_torch_initialisation():
    torch.manual_seed(3)
    stack = BlockStack(3, 16, 4, 2, "relu", 0.1)
    after = torch.rand(1)
    torch.manual_seed(3)
    ref = nn.TransformerEncoder(_torch_layer(16, 4, 2, "relu", 0.1, 0.0), 3, enable_nested_tensor=False)
    assert torch.equal(torch.rand(1), after)  # the same random numbers were drawn
    for block, layer in zip(stack.layers, ref.layers):
        copy = Block(16, 4, 2, "relu", 0.1)
        copy.load_state_dict(layer.state_dict())
        for (name, p), q in zip(block.state_dict().items(), copy.state_dict().values()):
            assert torch.equal(p, q), name


def test_token_transformer_loads_state_dicts_of_torch_layers():
    torch.manual_seed(0)
    tt = TokenTransformer(n_codes=16, n_channels=3, n_patches=5, n_classes=2, dim=16, n_layers=2, n_heads=2)
    old_names = {new: old for old, new in _torch_names().items()}
    old = {}
    for k, v in tt.state_dict().items():
        tail = k.split(".", 3)[-1] if k.startswith("encoder.layers.") else None
        old[k[: -len(tail)] + old_names[tail] if tail in old_names else k] = v.clone()
    assert "encoder.layers.1.self_attn.in_proj_weight" in old and "encoder.layers.1.qkv.weight" not in old
    fresh = TokenTransformer(n_codes=16, n_channels=3, n_patches=5, n_classes=2, dim=16, n_layers=2, n_heads=2)
    fresh.load_state_dict(old)  # strict
    ids = torch.randint(0, 16, (4, 3, 5))
    assert torch.equal(fresh.eval()(ids), tt.eval()(ids))


def _torch_names():
    from neurosig.models.transformer import _TORCH_LAYER_KEYS

    return _TORCH_LAYER_KEYS


def test_patch_transformer_keeps_its_parameter_names():
    keys = set(PatchTransformer("nano", n_channels=4, n_times=64).state_dict())
    assert {"blocks.0.norm1.weight", "blocks.0.qkv.weight", "blocks.0.proj.bias", "blocks.0.mlp.0.weight",
            "blocks.0.mlp.2.bias", "norm.weight"} <= keys
