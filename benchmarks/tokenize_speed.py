"""TFM tokenizer inference speed: batched + fused nearest-code search vs a per-channel loop.

Both sides run the SAME model (default config: 8192 codes x 64 dims, n_fft 200,
hop 100) on the SAME 10 s, 16-channel, 200 Hz windows in one process:

* reference: for every window, for every channel: STFT -> encoder -> nearest code
  by broadcasting ``((z - E) ** 2).sum(-1).argmin()`` (no algebraic shortcut);
* neurosig: ``TFMTokenizer.tokenize`` on whole batches (all channels of all windows
  at once), nearest code by ``||E||^2 - 2 z E^T`` with one ``addmm`` per chunk.

The script checks the tokens agree, prints windows/s of both, a profile of the
neurosig path (STFT front end, encoder, nearest-code search), the achieved GFLOP/s
(matmul FLOPs counted by ``torch.utils.flop_counter``) next to the machine's fp32
matmul throughput measured in the same run, and ends with the headline against the
target (>= 100 windows/s on 2 cores).

    python benchmarks/tokenize_speed.py --quick     # < 1 minute
    python benchmarks/tokenize_speed.py             # 256 windows
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch


def make_windows(n: int, n_channels: int = 16, n_times: int = 2000, seed: int = 0) -> torch.Tensor:
    """Pink-noise windows with an alpha component (float32, (n, n_channels, n_times))."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal((n, n_channels, n_times)), axis=-1)
    f = np.fft.rfftfreq(n_times, 1 / 200)
    x = np.fft.irfft(spec / np.maximum(f, 1.0) ** 0.5, n_times, axis=-1)
    t = np.arange(n_times) / 200
    x += 0.5 * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6.3, (n, n_channels, 1)))
    return torch.from_numpy(x.astype(np.float32))


@torch.no_grad()
def reference_tokenize(model, X: torch.Tensor) -> torch.Tensor:
    """Straightforward implementation of the same model: per window, per channel, unfused search."""
    from neurosig.tokenizers.vq import nearest_code_naive
    cb = model.vq.effective_codebook()
    out = torch.empty(X.shape[0], X.shape[1], model_patches(model, X.shape[-1]), dtype=torch.long)
    for w in range(X.shape[0]):
        for c in range(X.shape[1]):
            spec, frames = model.features(X[w, c][None])
            z = model.encode_features(spec, frames)[0]
            z = model.vq._prep(z)
            out[w, c] = nearest_code_naive(z, cb, chunk_size=z.shape[0])
    return out


def model_patches(model, n_times: int) -> int:
    return 1 + (n_times - model.config.n_fft) // model.config.hop


@torch.no_grad()
def profiled_tokenize(model, X: torch.Tensor, batch: int) -> tuple[torch.Tensor, dict]:
    """neurosig path split into stages (same computation as ``model.tokenize``)."""
    from neurosig.tokenizers.vq import nearest_code
    t = {"stft": 0.0, "encoder": 0.0, "search": 0.0}
    cb = model.vq.effective_codebook()
    sq = (cb * cb).sum(1)
    outs = []
    for s in range(0, len(X), batch):
        xb = X[s:s + batch]
        t0 = time.perf_counter()
        spec, frames = model.features(xb.reshape(-1, xb.shape[-1]))
        t1 = time.perf_counter()
        z = model.vq._prep(model.encode_features(spec, frames))
        t2 = time.perf_counter()
        ids = nearest_code(z.reshape(-1, z.shape[-1]), cb, sq, chunk_size=model.config.chunk_size)
        t3 = time.perf_counter()
        t["stft"] += t1 - t0
        t["encoder"] += t2 - t1
        t["search"] += t3 - t2
        outs.append(ids.reshape(xb.shape[0], xb.shape[1], -1))
    return torch.cat(outs), t


def matmul_gflops(n: int = 1024, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / min(times) / 1e9


def count_flops(model, X: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        model.tokenize(X)
    return float(fc.get_total_flops())


def median_time(fn, reps: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), (max(times) - min(times)), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small run (< 1 minute)")
    ap.add_argument("--scale", default="corpus", choices=["corpus", "p95", "none"],
                    help="input scaling (default: the tokenizer's default, corpus)")
    ap.add_argument("--codebook", default="cosine", choices=["cosine", "euclidean"],
                    help="codebook search (default: the tokenizer's default, cosine)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (both sides)")
    ap.add_argument("--windows", type=int, default=None, help="windows per timed run (neurosig)")
    ap.add_argument("--batch", type=int, default=32, help="windows per batch (neurosig)")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from neurosig.tokenizers.tfm import TFMConfig, TFMTokenizer, corpus_scale

    n_win = args.windows or (16 if args.quick else 256)
    n_ref = min(n_win, 2 if args.quick else 8)
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({args.threads} threads both sides), numpy {np.__version__}")
    torch.manual_seed(0)
    # default 8192 x 64 codebook; --scale / --codebook p95 / cosine time the published recipe
    model = TFMTokenizer(TFMConfig(scale=args.scale, normalize=args.codebook == "cosine")).eval()
    if args.scale == "corpus":  # as after fit
        model.set_corpus_scale(corpus_scale([make_windows(16, seed=1)]))
    # give the codebook a data-driven spread (as after training): init from encoder outputs
    warm = make_windows(16, seed=1)
    model.vq.train()
    with torch.no_grad():
        spec, frames = model.features(warm.reshape(-1, warm.shape[-1]))
        model.vq._init_from_data(model.vq._prep(model.encode_features(spec, frames)).reshape(-1, 64),
                                 torch.Generator().manual_seed(0))
    model.vq.eval()
    X = make_windows(n_win)
    print(f"data: {n_win} windows x 16 channels x 2000 samples (10 s at 200 Hz); config: "
          f"{model.config.n_codes} codes x {model.config.dim}, n_fft {model.config.n_fft}, hop {model.config.hop}, "
          f"scale {model.config.scale}, codebook {args.codebook}")

    gflops_machine = matmul_gflops()
    print(f"machine fp32 matmul (1024^3, {args.threads} threads): {gflops_machine:.1f} GFLOP/s")

    # reference: per-channel loop, unfused search (on the first n_ref windows)
    reference_tokenize(model, X[:1])
    ref_s, ref_spread, ref_ids = median_time(lambda: reference_tokenize(model, X[:n_ref]), 1 if args.quick else 2)
    # neurosig on the same windows, then on all windows
    with torch.no_grad():
        model.tokenize(X[: args.batch])
        ns_same_s, _, ns_same = median_time(
            lambda: torch.cat([model.tokenize(X[s:min(s + args.batch, n_ref)]) for s in range(0, n_ref, args.batch)]),
            args.reps)
        ns_s, ns_spread, ns_ids = median_time(
            lambda: torch.cat([model.tokenize(X[s:s + args.batch]) for s in range(0, n_win, args.batch)]),
            args.reps)
    agree = (ns_same == ref_ids).float().mean().item()
    n_diff = int((ns_same != ref_ids).sum())
    if n_diff:
        # differences must be float ties: the two nearest distances within rounding
        z = model.encode(X[:n_ref]).reshape(-1, 64)
        z = model.vq._prep(z)
        cb = model.vq.effective_codebook()
        d = torch.cdist(z.double(), cb.double())
        a, b = ns_same.reshape(-1), ref_ids.reshape(-1)
        gap = (d[torch.arange(len(a)), a] - d[torch.arange(len(b)), b]).abs()[a != b]
        print(f"token mismatches: {n_diff} (max distance gap {gap.max().item():.2e}: float ties)")
    print(f"tokens agree: {agree * 100:.3f}% of {ref_ids.numel()} tokens; neurosig on all {n_win} windows "
          f"consistent with the same-window run: {bool(torch.equal(ns_ids[:n_ref], ns_same))}")

    ref_wps = n_ref / ref_s
    ns_same_wps = n_ref / ns_same_s
    ns_wps = n_win / ns_s
    print(f"reference_s = {ref_s:.3f} ({n_ref} windows, spread {ref_spread:.3f}) -> {ref_wps:.1f} windows/s")
    print(f"neurosig_s  = {ns_same_s:.3f} ({n_ref} windows) -> {ns_same_wps:.1f} windows/s")
    print(f"neurosig_s  = {ns_s:.3f} ({n_win} windows, spread {ns_spread:.3f}) -> {ns_wps:.1f} windows/s")
    print(f"ratio (same windows) = {ns_same_wps / ref_wps:.1f}x")

    _, prof = profiled_tokenize(model, X, args.batch)
    tot = sum(prof.values())
    print("profile (neurosig, all windows): " + ", ".join(
        f"{k} {v:.3f} s ({100 * v / tot:.0f}%)" for k, v in prof.items()))
    flops_per_window = count_flops(model, X[:4]) / 4
    search_flops = 2 * 16 * model_patches(model, 2000) * model.config.n_codes * model.config.dim
    achieved = flops_per_window * ns_wps / 1e9
    print(f"matmul FLOPs per window: {flops_per_window / 1e9:.3f} GFLOP (nearest-code search "
          f"{search_flops / 1e9:.3f}); achieved {achieved:.1f} GFLOP/s = "
          f"{100 * achieved / gflops_machine:.0f}% of the measured fp32 matmul throughput "
          f"({gflops_machine:.1f} GFLOP/s); search alone {search_flops * n_win / prof['search'] / 1e9:.1f} GFLOP/s")
    print(f"upper bound at the measured matmul throughput (every FLOP at peak): "
          f"{gflops_machine * 1e9 / flops_per_window:.0f} windows/s")
    hours = 830_000 / ns_wps / 3600
    print(f"TUAB-sized corpus (830,000 windows) at this rate: {hours:.2f} h (target < 2.5 h)")
    ok = "meets" if ns_wps >= 100 else "MISSES"
    print(f"tokenize: {ns_wps:.1f} windows/s on {args.threads} threads ({ok} target >= 100), "
          f"{ns_same_wps / ref_wps:.1f}x faster than the per-channel loop, tokens agree {agree * 100:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
