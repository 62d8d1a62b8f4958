"""Chunked selective scan vs the naive per-step loop (forward + backward), side by side.

Reference: ``selective_scan_ref`` (Python loop over time steps, autograd through it).
neurosig: ``selective_scan`` (chunks, closed form inside, boundary states only, custom backward).
Same inputs, same precision; the outputs and all gradients are compared before timing.

    python benchmarks/mamba_scan.py --quick
    python benchmarks/mamba_scan.py --device cuda
Target: >= 20x faster at 4,096 steps (d_inner 70, d_state 16, 2 threads on CPU).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time


def main(argv=None) -> float:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 repeats of each side (about a minute)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4096)
    ap.add_argument("--d-inner", type=int, default=70)
    ap.add_argument("--d-state", type=int, default=16)
    ap.add_argument("--chunk-size", type=int, default=64)
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    import torch

    from neurosig.models.mamba import selective_scan, selective_scan_ref

    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"numpy {np.__version__}, device {dev}, {args.threads} threads (both sides)")
    b, L, d, n = 1, args.steps, args.d_inner, args.d_state
    g = torch.Generator().manual_seed(0)
    base = dict(u=torch.randn(b, L, d, generator=g), delta=torch.rand(b, L, d, generator=g) * 0.1 + 1e-3,
                A=-torch.arange(1, n + 1.0).repeat(d, 1), B=torch.randn(b, L, n, generator=g),
                C=torch.randn(b, L, n, generator=g), D=torch.ones(d))
    gy = torch.randn(b, L, d, generator=g).to(dev)

    def run(fn):
        ts = {k: v.to(dev).clone().requires_grad_() for k, v in base.items()}
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        y = fn(**ts)
        (y * gy).sum().backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, y.detach(), {k: v.grad for k, v in ts.items()}

    def ours(**t):
        return selective_scan(**t, chunk_size=args.chunk_size, use_fast_path=False)

    _, y_ref, g_ref = run(selective_scan_ref)  # warm-up + outputs
    _, y_new, g_new = run(ours)
    err = float((y_new - y_ref).abs().max() / y_ref.abs().max())
    gerr = max(float((g_new[k] - g_ref[k]).abs().max() / g_ref[k].abs().max()) for k in g_ref)
    print(f"agreement: max rel. error output {err:.2e}, gradients {gerr:.2e}", flush=True)
    assert err < 1e-4 and gerr < 1e-4, "chunked scan disagrees with the per-step loop"
    reps_ref = 3
    reps_new = 3 if args.quick else 10
    ref_t, new_t = [], []
    for i in range(max(reps_ref, reps_new)):  # interleaved, so both sides see the same machine state
        if i < reps_ref:
            ref_t.append(run(selective_scan_ref)[0])
        if i < reps_new:
            new_t.append(run(ours)[0])
        print(f"  run {i}: reference {ref_t[-1]:.3f} s, neurosig {new_t[-1]:.4f} s", flush=True)
    r, s = statistics.median(ref_t), statistics.median(new_t)
    print(f"reference_s (per-step loop, fwd+bwd, {L} steps): median {r:.3f} (min {min(ref_t):.3f}, max {max(ref_t):.3f}, n={reps_ref})")
    print(f"neurosig_s  (chunked scan,  fwd+bwd, {L} steps): median {s:.4f} (min {min(new_t):.4f}, max {max(new_t):.4f}, n={reps_new})")
    ratio = r / s
    print(f"mamba scan: {ratio:.1f}x faster than the per-step loop at {L} steps fwd+bwd (target >= 20x), "
          f"outputs agree to {max(err, gerr):.1e}")
    return ratio


if __name__ == "__main__":
    main()
