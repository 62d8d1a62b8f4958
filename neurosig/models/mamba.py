"""Selective state-space (Mamba / S6) block in pure PyTorch.

The recurrence, per channel ``d`` of the inner width and state index ``n``::

    h_t[d, n] = exp(delta_t[d] * A[d, n]) * h_{t-1}[d, n] + delta_t[d] * B_t[n] * u_t[d]
    y_t[d]    = sum_n C_t[n] * h_t[d, n] + D[d] * u_t[d]

with an input-dependent step size ``delta`` and input-dependent ``B`` and ``C``
(the "selective" part), a diagonal negative ``A = -exp(A_log)`` and a skip ``D``.

:func:`selective_scan` runs it **chunked**: the sequence is cut into chunks of
``chunk_size`` steps; inside a chunk the linear recurrence is solved in closed
form with cumulative sums of log-decays (whole-tensor operations), and only the
state at each chunk boundary is carried and kept for backward. A custom
:class:`torch.autograd.Function` recomputes the chunk's states in backward and
solves the adjoint recurrence the same way in reverse, so the
``(length, d_inner, d_state)`` expanded state is never held for the whole
sequence. The Python loop runs over chunks, never over time steps.

:func:`selective_scan_ref` is the plain per-step loop, used as the reference in
tests and benchmarks. :meth:`MambaBlock.step` is the recurrent mode for
streaming inference (one token at a time, constant memory).

When the CUDA package ``mamba_ssm`` is importable and the tensors live on a GPU,
:func:`selective_scan` dispatches to its fused kernel (same arguments, same
result up to float precision); otherwise the pure-PyTorch path runs. Parameter
names follow ``mamba_ssm.Mamba`` (``in_proj``, ``conv1d``, ``x_proj``,
``dt_proj``, ``A_log``, ``D``, ``out_proj``) so published checkpoints load.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._extras import require_extra
from .._logging import get_logger
from .._validation import check_positive_int

logger = get_logger(__name__)

try:  # optional CUDA fast path; not installable on CPU-only machines
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _cuda_selective_scan
except Exception:  # ImportError, or a broken CUDA build
    _cuda_selective_scan = None


def _is_cuda(t: torch.Tensor) -> bool:
    return t.is_cuda


def fast_path_available(u: torch.Tensor) -> bool:
    """True when the ``mamba_ssm`` CUDA kernel is importable and ``u`` is on a GPU.

    Parameters
    ----------
    u : Tensor
        The scan input.
    """
    return _cuda_selective_scan is not None and _is_cuda(u)


def _require_kernel(u: torch.Tensor, h0) -> None:
    """Errors for ``use_fast_path="require"``: the extra, the device and the initial state."""
    require_extra("cuda", "The CUDA selective-scan kernel (use_fast_path='require')")
    if _cuda_selective_scan is None:
        raise ImportError("The CUDA selective-scan kernel (use_fast_path='require'): mamba_ssm is "
                          "installed but its selective_scan_fn could not be imported (a broken CUDA "
                          'build?); reinstall it with pip install "neurosig[cuda]".')
    if not _is_cuda(u):
        raise ValueError(f"The CUDA selective-scan kernel (use_fast_path='require') needs tensors on a "
                         f"GPU, but got tensors on {u.device}.")
    if h0 is not None:
        raise ValueError("The CUDA selective-scan kernel (use_fast_path='require') starts from a zero "
                         "state, but an initial state 'h0' was given.")


# -- the scan ------------------------------------------------------------------------------
#: A piece of a chunk whose total log-decay stays above minus this uses the closed form (no overflow).
_MAX_LOG_DECAY = 60.0


def _pieces(dA_log: torch.Tensor, start: int, stop: int) -> list[tuple[int, int]]:
    """Split [start, stop) into pieces whose total log-decay stays above -_MAX_LOG_DECAY (halving)."""
    total = float(dA_log[:, start:stop].sum(1).min()) if stop - start > 1 else 0.0
    if total > -_MAX_LOG_DECAY:
        return [(start, stop)]
    mid = (start + stop) // 2
    return _pieces(dA_log, start, mid) + _pieces(dA_log, mid, stop)


def _piece_states(h0, dA_log, dBu):
    """States of one piece. h0 (b, d, n); dA_log, dBu (b, T, d, n) -> h (b, T, d, n), S (b, T, d, n) or None.

    Closed form with cumulative log-decays ``S_t = sum_{s<=t} delta_s A`` (all <= 0)::

        h_t = exp(S_t) * (h0 + sum_{s<=t} exp(-S_s) * delta_s B_s u_s)

    Every term of the running sum carries the common factor ``exp(-S_t)`` of its true
    contribution, so the sum is as accurate as the recurrence; :func:`_pieces` keeps
    ``-S`` below :data:`_MAX_LOG_DECAY` so nothing overflows. A one-step piece is
    computed directly (any decay).
    """
    if dA_log.shape[1] == 1:
        return torch.addcmul(dBu, torch.exp(dA_log), h0.unsqueeze(1)), None
    S = torch.cumsum(dA_log, dim=1)
    P = torch.cumsum(torch.exp(-S) * dBu, dim=1).add_(h0.unsqueeze(1))
    return torch.exp(S).mul_(P), S


def _chunk_forward(h0, u, delta, A, B, C):
    """One chunk without autograd. Returns y (b, T, d) and the last state (b, d, n)."""
    dA_log = delta.unsqueeze(-1) * A
    dBu = (delta * u).unsqueeze(-1) * B.unsqueeze(2)
    ys = []
    for s, e in _pieces(dA_log, 0, u.shape[1]):
        h, _ = _piece_states(h0, dA_log[:, s:e], dBu[:, s:e])
        ys.append((h * C[:, s:e].unsqueeze(2)).sum(-1))
        h0 = h[:, -1]
    return torch.cat(ys, 1) if len(ys) > 1 else ys[0], h0


def _chunk_backward(h0, u, delta, A, B, C, dy, dh_next):
    """Gradients of one chunk given dy (b, T, d) and dL/dh_last from later chunks (b, d, n).

    Adjoint recurrence ``g_t = C_t dy_t + exp(delta_{t+1} A) g_{t+1}`` solved per piece in
    the same closed form as the forward, in reverse. Returns (dh0, du, ddelta, dA, dB, dC).
    """
    dA_log = delta.unsqueeze(-1) * A
    du_delta = delta * u
    dBu = du_delta.unsqueeze(-1) * B.unsqueeze(2)
    pieces = _pieces(dA_log, 0, u.shape[1])
    states, h = [], h0
    for s, e in pieces:  # recompute the states of the chunk
        hs, S = _piece_states(h, dA_log[:, s:e], dBu[:, s:e])
        states.append((h, hs, S))
        h = hs[:, -1]
    g_all = [None] * len(pieces)
    carry = dh_next  # dL/dh at the end of the current piece coming from later steps
    for i in range(len(pieces) - 1, -1, -1):
        s, e = pieces[i]
        h_prev, hs, S = states[i]
        c = dy[:, s:e].unsqueeze(-1) * C[:, s:e].unsqueeze(2)  # (b, T, d, n)
        if S is None:  # one step
            g = c + carry.unsqueeze(1)
            carry = torch.exp(dA_log[:, s:e])[:, 0] * g[:, 0]
        else:
            eS = torch.exp(S)
            x = eS * c
            rev = x.flip(1).cumsum(1).flip(1)
            g = torch.exp(-S) * (rev + (eS[:, -1] * carry).unsqueeze(1))
            carry = torch.exp(dA_log[:, s]) * g[:, 0]  # dL/dh before the piece
        g_all[i] = g
    g = torch.cat(g_all, 1) if len(g_all) > 1 else g_all[0]
    hs = torch.cat([st[1] for st in states], 1) if len(states) > 1 else states[0][1]
    dh0 = carry
    gB = (g * B.unsqueeze(2)).sum(-1)  # (b, T, d) = dL/d(delta*u)
    ddAlog = g * (hs - dBu)  # dL/d(delta A) = g_t * a_t h_{t-1}
    ddelta = gB * u + (ddAlog * A).sum(-1)
    du = gB * delta
    dA = (ddAlog * delta.unsqueeze(-1)).sum((0, 1))
    dB = (g * du_delta.unsqueeze(-1)).sum(2)
    dC = (dy.unsqueeze(-1) * hs).sum(2)
    return dh0, du, ddelta, dA, dB, dC


class _ChunkedScan(torch.autograd.Function):
    """Chunked selective scan keeping only chunk-boundary states; backward recomputes each chunk."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, h0, chunk_size):
        L = u.shape[1]
        bounds = [(s, min(s + chunk_size, L)) for s in range(0, L, chunk_size)]
        h, starts, ys = h0, [], []
        for s, e in bounds:
            starts.append(h)
            y, h = _chunk_forward(h, u[:, s:e], delta[:, s:e], A, B[:, s:e], C[:, s:e])
            ys.append(y)
        ctx.bounds = bounds
        ctx.save_for_backward(u, delta, A, B, C, torch.stack(starts, 1))
        return torch.cat(ys, 1), h

    @staticmethod
    def backward(ctx, dy, dh_last):
        u, delta, A, B, C, starts = ctx.saved_tensors
        dy = dy.contiguous()
        carry = dh_last if dh_last is not None else torch.zeros_like(starts[:, 0])
        du, ddelta = torch.empty_like(u), torch.empty_like(delta)
        dB, dC = torch.empty_like(B), torch.empty_like(C)
        dA = torch.zeros_like(A)
        for i in range(len(ctx.bounds) - 1, -1, -1):
            s, e = ctx.bounds[i]
            carry, du_c, dd_c, dA_c, dB_c, dC_c = _chunk_backward(
                starts[:, i], u[:, s:e], delta[:, s:e], A, B[:, s:e], C[:, s:e], dy[:, s:e], carry)
            du[:, s:e], ddelta[:, s:e], dB[:, s:e], dC[:, s:e] = du_c, dd_c, dB_c, dC_c
            dA += dA_c
        return du, ddelta, dA, dB, dC, carry, None


def selective_scan(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                   C: torch.Tensor, D: torch.Tensor | None = None, *, chunk_size: int = 64,
                   h0: torch.Tensor | None = None, return_last_state: bool = False,
                   use_fast_path: bool | str = True):
    """Chunked selective scan (pure PyTorch, optional ``mamba_ssm`` CUDA kernel).

    Parameters
    ----------
    u : Tensor, shape (batch, length, d_inner)
        Input sequence.
    delta : Tensor, shape (batch, length, d_inner)
        Positive step sizes (already through softplus).
    A : Tensor, shape (d_inner, d_state)
        Negative real diagonal state matrix.
    B, C : Tensor, shape (batch, length, d_state)
        Input-dependent input and output projections.
    D : Tensor, shape (d_inner,) | None
        Skip connection.
    chunk_size : int
        Steps per chunk; memory of the expanded state is (batch, chunk_size, d_inner, d_state).
    h0 : Tensor, shape (batch, d_inner, d_state) | None
        Initial state (zeros by default).
    return_last_state : bool
        Also return the final state, shape (batch, d_inner, d_state).
    use_fast_path : bool | "require"
        True: use the ``mamba_ssm`` CUDA kernel when it is importable and inputs are on a
        GPU, else the pure-PyTorch scan. ``"require"``: the kernel or an error (the ``cuda``
        extra must be installed and the tensors on a GPU).

    Returns
    -------
    y : Tensor, shape (batch, length, d_inner)
    last_state : Tensor, shape (batch, d_inner, d_state), only with ``return_last_state``.
    """
    if u.ndim != 3 or delta.shape != u.shape:
        raise ValueError(f"selective_scan: 'u' and 'delta' must both have shape (batch, length, d_inner), "
                         f"but got {tuple(u.shape)} and {tuple(delta.shape)}.")
    bsz, L, d = u.shape
    if A.shape[0] != d or B.shape != (bsz, L, A.shape[1]) or C.shape != B.shape:
        raise ValueError(f"selective_scan: expected A (d_inner={d}, d_state), B and C (batch={bsz}, "
                         f"length={L}, d_state); got A {tuple(A.shape)}, B {tuple(B.shape)}, "
                         f"C {tuple(C.shape)}.")
    check_positive_int("chunk_size", chunk_size)
    if use_fast_path == "require":
        _require_kernel(u, h0)
    if use_fast_path and h0 is None and fast_path_available(u):
        out = _cuda_selective_scan(u.transpose(1, 2).contiguous(), delta.transpose(1, 2).contiguous(),
                                   A.contiguous(), B.transpose(1, 2).contiguous(),
                                   C.transpose(1, 2).contiguous(), D, return_last_state=return_last_state)
        if return_last_state:
            y, last = out
            return y.transpose(1, 2), last
        return out.transpose(1, 2)
    dtype = u.dtype
    if dtype in (torch.float16, torch.bfloat16):  # the recurrence runs in float32 under autocast
        u, delta, B, C = u.float(), delta.float(), B.float(), C.float()
    A = A.to(u.dtype)
    h = h0.to(u.dtype) if h0 is not None else u.new_zeros(bsz, d, A.shape[1])
    y, h = _ChunkedScan.apply(u, delta, A, B, C, h, chunk_size)
    if D is not None:
        y = y + u * D.to(u.dtype)
    y = y.to(dtype)
    return (y, h) if return_last_state else y


def selective_scan_ref(u, delta, A, B, C, D=None, h0=None, return_last_state=False):
    """Reference: the recurrence as a Python loop over time steps (slow; tests and benchmarks only).

    Same arguments and shapes as :func:`selective_scan` (without its chunking options).

    Parameters
    ----------
    u : Tensor, shape (batch, length, d_inner)
        Input sequence.
    delta : Tensor, shape (batch, length, d_inner)
        Positive step sizes (already through softplus).
    A : Tensor, shape (d_inner, d_state)
        Negative real diagonal state matrix.
    B, C : Tensor, shape (batch, length, d_state)
        Input-dependent input and output projections.
    D : Tensor, shape (d_inner,) | None
        Skip connection.
    h0 : Tensor, shape (batch, d_inner, d_state) | None
        Initial state (zeros by default).
    return_last_state : bool
        Also return the final state, shape (batch, d_inner, d_state).

    Returns
    -------
    y : Tensor, shape (batch, length, d_inner)
    last_state : Tensor, shape (batch, d_inner, d_state), only with ``return_last_state``.
    """
    bsz, L, d = u.shape
    h = h0 if h0 is not None else u.new_zeros(bsz, d, A.shape[1])
    ys = []
    for t in range(L):
        h = torch.exp(delta[:, t, :, None] * A) * h + (delta[:, t] * u[:, t])[..., None] * B[:, t, None, :]
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, t]))
    y = torch.stack(ys, dim=1)
    if D is not None:
        y = y + u * D
    return (y, h) if return_last_state else y


# -- the block, functional ------------------------------------------------------------------
def _at_least_f32(t: torch.Tensor) -> torch.Tensor:
    """Half-precision parameters (A_log, D, dt bias) run in float32, as in mamba_ssm; float64 stays float64."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def _ssm_inputs(x, x_proj_w, dt_proj_w, dt_proj_b, dt_rank, d_state):
    """x (b, L, d_inner) after conv+SiLU -> delta (b, L, d_inner), B, C (b, L, d_state)."""
    dt, B, C = torch.split(F.linear(x, x_proj_w), [dt_rank, d_state, d_state], dim=-1)
    delta = F.softplus(F.linear(dt, dt_proj_w) + _at_least_f32(dt_proj_b))
    return delta, B, C


def _mixer(block, p: dict, hidden: torch.Tensor, start: int, h0, fast_path: bool = False):
    """The Mamba mixer on rows ``start:`` of ``hidden`` with parameter tensors ``p`` (name -> tensor).

    ``hidden`` (b, lead + T, d_model) holds the ``lead = min(start, d_conv - 1)`` rows before
    the segment (the causal convolution needs them); rows before position 0 are zeros of
    the convolution input, as in the full-sequence forward. ``h0`` (b, d_inner, d_state) is
    the scan state entering the segment (None: zeros). Returns out (b, T, d_model) and the
    scan state after the segment (None on the CUDA fast path).
    """
    K = block.d_conv
    lead = min(start, K - 1)
    xz = F.linear(hidden, p["in_proj.weight"], p.get("in_proj.bias"))
    x, z = xz.chunk(2, dim=-1)
    x = F.pad(x.transpose(1, 2), (K - 1 - lead, 0))  # causal: left zero padding
    u = F.silu(F.conv1d(x, p["conv1d.weight"], p.get("conv1d.bias"), groups=block.d_inner)).transpose(1, 2)
    delta, B, C = _ssm_inputs(u, p["x_proj.weight"], p["dt_proj.weight"], p["dt_proj.bias"],
                              block.dt_rank, block.d_state)
    A = -torch.exp(_at_least_f32(p["A_log"]))
    if fast_path and h0 is None and fast_path_available(u):
        y, h_last = selective_scan(u, delta, A, B, C, _at_least_f32(p["D"]), chunk_size=block.chunk_size), None
    else:
        y, h_last = selective_scan(u, delta, A, B, C, _at_least_f32(p["D"]), chunk_size=block.chunk_size, h0=h0,
                                   return_last_state=True, use_fast_path=False)
    return F.linear(y * F.silu(z[:, lead:]), p["out_proj.weight"], p.get("out_proj.bias")), h_last


class _RecomputedMamba(torch.autograd.Function):
    """A Mamba block that keeps only its input and segment-boundary scan states for backward.

    Forward runs the block segment by segment without autograd and stores the scan state
    entering each segment. Backward walks the segments in reverse: it recomputes one
    segment with autograd (projections, convolution, softplus step sizes, SiLU gate, D
    skip, the chunked scan) and back-propagates the segment's output gradient together
    with the gradient of its final state (from the later segments), which yields the
    gradient of the state entering it. Every (length, d_inner) intermediate exists for
    one segment at a time; the full-length tensors kept are the block input (b, L,
    d_model) and its gradient.
    """

    @staticmethod
    def forward(ctx, hidden, block, *params):
        L, K, seg = hidden.shape[1], block.d_conv, block.segment_size
        p = dict(zip(block._param_names(), params))
        bounds = [(s, min(s + seg, L)) for s in range(0, L, seg)]
        outs, starts, h = [], [], None
        for s, e in bounds:
            starts.append(h)
            out, h = _mixer(block, p, hidden[:, max(0, s - K + 1):e], s, h)
            outs.append(out)
        dev = hidden.device.type
        ctx.amp = (torch.is_autocast_enabled(dev), torch.get_autocast_dtype(dev), dev)
        ctx.block, ctx.bounds, ctx.n_params = block, bounds, len(params)
        # the states entering segments 1.. (segment 0 starts from zeros), (n_segments - 1, b, d_inner, d_state)
        states = torch.stack(starts[1:]) if len(starts) > 1 else hidden.new_empty(0)
        ctx.save_for_backward(hidden, states, *params)
        return torch.cat(outs, 1) if len(outs) > 1 else outs[0]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout):
        hidden, states, *params = ctx.saved_tensors
        block, K = ctx.block, ctx.block.d_conv
        need_h = ctx.needs_input_grad[0]
        need_p = ctx.needs_input_grad[2:]
        names = block._param_names()
        dhidden = torch.zeros_like(hidden) if need_h else None
        dparams = [torch.zeros_like(q) if n else None for q, n in zip(params, need_p)]
        carry = None  # dL/d(state after the current segment)
        enabled, amp_dtype, dev = ctx.amp
        for i in range(len(ctx.bounds) - 1, -1, -1):
            s, e = ctx.bounds[i]
            lo = max(0, s - K + 1)
            with torch.enable_grad(), torch.autocast(dev, dtype=amp_dtype, enabled=enabled):
                hid = hidden[:, lo:e].detach().requires_grad_(need_h)
                leaves = [q.detach().requires_grad_(n) for q, n in zip(params, need_p)]
                h0 = states[i - 1].detach().requires_grad_() if i > 0 else None
                out, h_last = _mixer(block, dict(zip(names, leaves)), hid, s, h0)
            outputs, grads = [out], [dout[:, s:e]]
            if carry is not None:
                outputs.append(h_last)
                grads.append(carry)
            wrt = ([hid] if need_h else []) + [q for q, n in zip(leaves, need_p) if n]
            wrt += [h0] if h0 is not None else []
            got = list(torch.autograd.grad(outputs, wrt, grads, allow_unused=True))
            if need_h:
                dhidden[:, lo:e] += got.pop(0)
            for j, n in enumerate(need_p):
                if n:
                    g = got.pop(0)
                    if g is not None:
                        dparams[j] += g
            carry = got.pop(0) if h0 is not None else None
        return (dhidden, None, *dparams)


# -- the block -----------------------------------------------------------------------------
class MambaBlock(nn.Module):
    """Mamba (S6) mixer: fused input projection, causal depthwise conv, selective scan, gating.

    Parameters
    ----------
    d_model : int
        Token width.
    d_state : int
        State size per inner channel (16 in Mamba and FEMBA).
    d_conv : int
        Causal convolution width (4).
    expand : int
        ``d_inner = expand * d_model``.
    dt_rank : int | None
        Rank of the step-size projection; default ``ceil(d_model / 16)``.
    dt_min, dt_max : float
        Range of the initial step sizes (drawn log-uniformly per inner channel, as in Mamba).
    chunk_size : int
        Chunk length of the scan.
    bias : bool
        Bias in the input and output projections.
    conv_bias : bool
        Bias in the causal depthwise convolution.
    recompute : bool
        Memory-saving training mode: keep only the block input and the scan state at
        every ``segment_size`` steps for backward, and recompute each segment's
        projections, convolution, step sizes, gate and scan in backward (one extra
        forward pass). Peak activation memory of the block is then that of one
        segment instead of about ten (length, d_inner) tensors. Same result.
    segment_size : int
        Segment length of ``recompute`` (a multiple of ``chunk_size`` is best).

    Notes
    -----
    ``forward`` maps (batch, length, d_model) to (batch, length, d_model) and is causal.
    """

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_rank: int | None = None, dt_min: float = 1e-3, dt_max: float = 0.1,
                 chunk_size: int = 64, bias: bool = False, conv_bias: bool = True,
                 recompute: bool = False, segment_size: int = 256):
        super().__init__()
        check_positive_int("segment_size", segment_size)
        self.recompute, self.segment_size = bool(recompute), segment_size
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        self.dt_rank = dt_rank or math.ceil(d_model / 16)
        self.chunk_size = chunk_size
        self.use_fast_path = True
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)  # x and gate z, fused
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner,
                                padding=d_conv - 1, bias=conv_bias)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)  # dt, B, C fused
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)
        # S4D-real initialisation of A and a log-uniform initial step size (as in Mamba)
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        with torch.no_grad():
            std = self.dt_rank ** -0.5
            nn.init.uniform_(self.dt_proj.weight, -std, std)
            dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min))
                           + math.log(dt_min)).clamp(min=1e-4)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus

    def _ssm_inputs(self, x: torch.Tensor):
        """x (b, L, d_inner) after conv+SiLU -> delta (b, L, d_inner), B, C (b, L, d_state)."""
        return _ssm_inputs(x, self.x_proj.weight, self.dt_proj.weight, self.dt_proj.bias,
                           self.dt_rank, self.d_state)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden: (batch, length, d_model) -> (batch, length, d_model).

        With ``recompute`` and gradients needed (and no CUDA fast path), the block runs
        through :class:`_RecomputedMamba`: segments of ``segment_size`` steps, only the
        input and the scan state at each segment boundary kept for backward.

        Parameters
        ----------
        hidden : Tensor, shape (batch, length, d_model)
            Input tokens.
        """
        names, params = self._param_names(), tuple(self.parameters())
        if (self.recompute and torch.is_grad_enabled()
                and not (self.use_fast_path and fast_path_available(hidden))
                and (hidden.requires_grad or any(p.requires_grad for p in params))):
            return _RecomputedMamba.apply(hidden, self, *params)
        out, _ = _mixer(self, dict(zip(names, params)), hidden, 0, None, fast_path=self.use_fast_path)
        return out

    def _param_names(self) -> tuple:
        return tuple(n for n, _ in self.named_parameters())

    # -- streaming -------------------------------------------------------------------------
    def allocate_state(self, batch_size: int, device=None, dtype=torch.float32):
        """Zero streaming state: (conv_state (b, d_inner, d_conv), ssm_state (b, d_inner, d_state)).

        Parameters
        ----------
        batch_size : int
            Number of parallel streams.
        device : torch.device | str | None
            Device of the state (default: that of the block's parameters).
        dtype : torch.dtype
            Data type of the state.
        """
        device = device or self.A_log.device
        return (torch.zeros(batch_size, self.d_inner, self.d_conv, device=device, dtype=dtype),
                torch.zeros(batch_size, self.d_inner, self.d_state, device=device, dtype=dtype))

    @torch.no_grad()
    def step(self, hidden_t: torch.Tensor, state):
        """One token. hidden_t (batch, d_model), state from :meth:`allocate_state` -> (out (batch, d_model), state).

        Parameters
        ----------
        hidden_t : Tensor, shape (batch, d_model)
            The current token of each stream.
        state : tuple of Tensor
            ``(conv_state, ssm_state)`` from :meth:`allocate_state` or returned by the last :meth:`step`.
        """
        conv_state, ssm_state = state
        x, z = self.in_proj(hidden_t).chunk(2, dim=-1)
        conv_state = torch.cat([conv_state[:, :, 1:], x.unsqueeze(-1)], dim=-1)
        x = (conv_state * self.conv1d.weight.squeeze(1)).sum(-1)
        if self.conv1d.bias is not None:
            x = x + self.conv1d.bias
        x = F.silu(x)
        delta, B, C = self._ssm_inputs(x)
        A = -torch.exp(_at_least_f32(self.A_log))
        ssm_state = torch.exp(delta.unsqueeze(-1) * A) * ssm_state + (delta * x).unsqueeze(-1) * B.unsqueeze(1)
        y = torch.einsum("bdn,bn->bd", ssm_state, C) + self.D * x
        return self.out_proj(y * F.silu(z)), (conv_state, ssm_state)


class BiMamba(nn.Module):
    """Bidirectional mixer: a forward scan plus a scan over the reversed sequence, summed.

    ``mamba_fwd`` and ``mamba_rev`` are independent :class:`MambaBlock` s (FEMBA's
    ``MambaWrapper`` naming). (batch, length, d_model) -> same shape.

    Parameters
    ----------
    d_model : int
        Token width.
    **mamba_kwargs
        Further arguments of both :class:`MambaBlock` s (``d_state``, ``expand``, ``chunk_size``, ...).
    """

    def __init__(self, d_model: int, **mamba_kwargs):
        super().__init__()
        self.mamba_fwd = MambaBlock(d_model, **mamba_kwargs)
        self.mamba_rev = MambaBlock(d_model, **mamba_kwargs)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.mamba_fwd(hidden) + self.mamba_rev(hidden.flip(1)).flip(1)
