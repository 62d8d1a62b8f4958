"""Selective scan: chunked == per-step recurrence (forward and gradients), causality, streaming, dispatch."""
import pytest
import torch

from neurosig.models import mamba
from neurosig.models.mamba import BiMamba, MambaBlock, selective_scan, selective_scan_ref


def _inputs(b=2, L=150, d=6, n=4, dtype=torch.float64, delta_scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(b, L, d, generator=g, dtype=dtype)
    delta = delta_scale * torch.nn.functional.softplus(torch.randn(b, L, d, generator=g, dtype=dtype))
    A = -torch.rand(d, n, generator=g, dtype=dtype) * 3 - 0.1
    B = torch.randn(b, L, n, generator=g, dtype=dtype)
    C = torch.randn(b, L, n, generator=g, dtype=dtype)
    D = torch.randn(d, generator=g, dtype=dtype)
    h0 = torch.randn(b, d, n, generator=g, dtype=dtype)
    return [t.requires_grad_() for t in (u, delta, A, B, C, D, h0)]


@pytest.mark.parametrize("chunk_size", [1, 7, 32, 64, 500])
@pytest.mark.parametrize("delta_scale", [1.0, 40.0])  # 40: decays too strong for one closed-form piece
def test_chunked_scan_matches_recurrence_forward_and_grad(chunk_size, delta_scale):
    u, delta, A, B, C, D, h0 = _inputs(delta_scale=delta_scale)
    y1, h1 = selective_scan(u, delta, A, B, C, D, chunk_size=chunk_size, h0=h0, return_last_state=True)
    y2, h2 = selective_scan_ref(u, delta, A, B, C, D, h0=h0, return_last_state=True)
    torch.testing.assert_close(y1, y2, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h1, h2, atol=1e-5, rtol=1e-5)
    gy, gh = torch.randn_like(y1), torch.randn_like(h1)
    args = (u, delta, A, B, C, D, h0)
    g1 = torch.autograd.grad((y1 * gy).sum() + (h1 * gh).sum(), args)
    g2 = torch.autograd.grad((y2 * gy).sum() + (h2 * gh).sum(), args)
    for name, a, b in zip("u delta A B C D h0".split(), g1, g2):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=f"gradient of {name}")


def test_chunked_scan_float32_close_to_float64_reference():
    args64 = [t.detach() for t in _inputs(L=300)]
    y64 = selective_scan_ref(*args64[:6])
    y32 = selective_scan(*[t.float() for t in args64[:6]], chunk_size=64)
    err = (y32.double() - y64).abs().max() / y64.abs().max()
    assert err < 1e-5


def test_gradcheck_small():
    u, delta, A, B, C, D, _ = _inputs(b=1, L=9, d=2, n=3)
    assert torch.autograd.gradcheck(lambda *a: selective_scan(*a, chunk_size=4), (u, delta, A, B, C, D))


def test_scan_bad_shapes():
    u, delta, A, B, C, D, _ = [t.detach() for t in _inputs()]
    with pytest.raises(ValueError, match="d_inner"):
        selective_scan(u, delta[:, :, :3], A, B, C)
    with pytest.raises(ValueError, match="d_state"):
        selective_scan(u, delta, A, B[:, :, :2], C)
    with pytest.raises(ValueError, match="chunk_size"):
        selective_scan(u, delta, A, B, C, chunk_size=0)


def test_block_is_causal_and_streams():
    torch.manual_seed(0)
    blk = MambaBlock(8, d_state=4, expand=2, chunk_size=8).double()
    x = torch.randn(2, 40, 8, dtype=torch.float64)
    y = blk(x)
    x2 = x.clone()
    x2[:, 25:] += torch.randn(2, 15, 8, dtype=torch.float64)
    y2 = blk(x2)
    torch.testing.assert_close(y[:, :25], y2[:, :25], atol=0, rtol=0)  # past untouched by the future
    assert (y[:, 25:] - y2[:, 25:]).abs().max() > 1e-3
    # recurrent step mode == parallel forward
    state = blk.allocate_state(2, dtype=torch.float64)
    outs = []
    for t in range(x.shape[1]):
        o, state = blk.step(x[:, t], state)
        outs.append(o)
    torch.testing.assert_close(torch.stack(outs, 1), y.detach(), atol=1e-10, rtol=1e-8)


def test_backward_direction_is_forward_on_flipped_input():
    torch.manual_seed(1)
    bi = BiMamba(8, d_state=4, expand=2, chunk_size=8).double()
    x = torch.randn(2, 30, 8, dtype=torch.float64)
    rev = bi.mamba_rev(x.flip(1)).flip(1)
    # the reverse branch is anti-causal: the output at t depends only on inputs >= t
    x2 = x.clone()
    x2[:, :10] += 1.0
    rev2 = bi.mamba_rev(x2.flip(1)).flip(1)
    torch.testing.assert_close(rev[:, 10:], rev2[:, 10:], atol=0, rtol=0)
    # with tied weights the bidirectional mixer commutes with reversal
    bi.mamba_rev.load_state_dict(bi.mamba_fwd.state_dict())
    torch.testing.assert_close(bi(x.flip(1)), bi(x).flip(1), atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(bi(x) - bi.mamba_fwd(x), bi.mamba_fwd(x.flip(1)).flip(1), atol=1e-12, rtol=1e-10)


def _block_reference(blk, x):
    """The Mamba block written out step by step: per-step causal conv and per-step scan loop (autograd)."""
    K, L = blk.d_conv, x.shape[1]
    xz = x @ blk.in_proj.weight.T
    xs, z = xz.chunk(2, dim=-1)
    w = blk.conv1d.weight[:, 0]  # (d_inner, K)
    conv = []
    for t in range(L):
        acc = blk.conv1d.bias.expand(x.shape[0], -1)
        for k in range(K):
            if t - (K - 1) + k >= 0:
                acc = acc + w[:, k] * xs[:, t - (K - 1) + k]
        conv.append(acc)
    u = torch.nn.functional.silu(torch.stack(conv, 1))
    dt, B, C = torch.split(u @ blk.x_proj.weight.T, [blk.dt_rank, blk.d_state, blk.d_state], dim=-1)
    delta = torch.nn.functional.softplus(dt @ blk.dt_proj.weight.T + blk.dt_proj.bias)
    y = selective_scan_ref(u, delta, -torch.exp(blk.A_log), B, C, blk.D)
    return (y * torch.nn.functional.silu(z)) @ blk.out_proj.weight.T


@pytest.mark.parametrize("recompute,segment_size", [(False, 256), (True, 1), (True, 3), (True, 7), (True, 64)])
def test_block_matches_step_by_step_reference_forward_and_grad(recompute, segment_size):
    torch.manual_seed(2)
    blk = MambaBlock(8, d_state=4, expand=2, chunk_size=4, recompute=recompute,
                     segment_size=segment_size).double()
    x = torch.randn(2, 30, 8, dtype=torch.float64, requires_grad=True)
    y, y_ref = blk(x), _block_reference(blk, x)
    torch.testing.assert_close(y, y_ref, atol=1e-10, rtol=1e-10)
    gy = torch.randn_like(y)
    wrt = [x, *blk.parameters()]
    g = torch.autograd.grad((y * gy).sum(), wrt)
    g_ref = torch.autograd.grad((y_ref * gy).sum(), wrt)
    for name, a, b in zip(["x", *blk._param_names()], g, g_ref):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8, msg=f"gradient of {name}")


def test_recomputed_block_gradcheck():
    torch.manual_seed(3)
    blk = MambaBlock(4, d_state=2, expand=1, chunk_size=2, recompute=True, segment_size=3).double()
    x = torch.randn(1, 7, 4, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_() for p in blk.parameters()]
    assert torch.autograd.gradcheck(lambda *a: mamba._RecomputedMamba.apply(a[0], blk, *a[1:]), (x, *params))


def test_recomputed_block_saves_only_input_and_boundary_states():
    """What autograd keeps for backward: the recomputed block holds (L, d_model) plus one state per
    segment, the plain block holds many (L, d_inner) intermediates."""
    torch.manual_seed(4)
    L, d_model, seg = 512, 8, 64
    saved = {}
    for recompute in (False, True):
        blk = MambaBlock(d_model, d_state=4, expand=2, recompute=recompute, segment_size=seg)
        x = torch.randn(1, L, d_model, requires_grad=True)
        store = {}  # data_ptr -> numel, so a tensor saved twice counts once
        params = {p.data_ptr() for p in blk.parameters()}

        def pack(t, params=params, store=store):
            if t.data_ptr() not in params:
                store[t.data_ptr()] = t.numel()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):  # what the forward keeps
            y = blk(x)
        y.sum().backward()
        saved[recompute] = sum(store.values())
    n_states = (L // seg - 1) * blk.d_inner * blk.d_state
    assert saved[True] == L * d_model + n_states
    assert saved[False] > 8 * L * blk.d_inner


def test_recompute_with_frozen_parameters_and_input_without_grad():
    torch.manual_seed(5)
    a = MambaBlock(8, d_state=4, expand=2, chunk_size=4).double()
    b = MambaBlock(8, d_state=4, expand=2, chunk_size=4, recompute=True, segment_size=5).double()
    b.load_state_dict(a.state_dict())
    for blk in (a, b):
        blk.in_proj.weight.requires_grad_(False)
    x = torch.randn(2, 17, 8, dtype=torch.float64)
    a(x).square().sum().backward()
    b(x).square().sum().backward()
    assert b.in_proj.weight.grad is None
    for (k, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        if p.requires_grad:
            torch.testing.assert_close(p.grad, q.grad, atol=1e-12, rtol=1e-10, msg=k)


def test_cuda_fast_path_dispatch(monkeypatch):
    calls = []

    def fake_kernel(u, delta, A, B, C, D=None, return_last_state=False):
        calls.append((tuple(u.shape), tuple(B.shape)))
        y = selective_scan_ref(u.transpose(1, 2), delta.transpose(1, 2), A, B.transpose(1, 2),
                               C.transpose(1, 2), D)
        return y.transpose(1, 2)

    u, delta, A, B, C, D, _ = [t.detach().float() for t in _inputs(L=20)]
    expected = selective_scan(u, delta, A, B, C, D)
    monkeypatch.setattr(mamba, "_cuda_selective_scan", fake_kernel)
    # CPU tensors: the CUDA kernel is never used even when importable
    selective_scan(u, delta, A, B, C, D)
    assert calls == []
    monkeypatch.setattr(mamba, "_is_cuda", lambda t: True)  # pretend the tensors are on a GPU
    y = selective_scan(u, delta, A, B, C, D)
    assert calls == [((2, 6, 20), (2, 4, 20))]  # (batch, d_inner, L) layout of mamba_ssm
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)
    selective_scan(u, delta, A, B, C, D, use_fast_path=False)
    assert len(calls) == 1
    monkeypatch.setattr(mamba, "_cuda_selective_scan", None)  # not importable
    assert not mamba.fast_path_available(u)
