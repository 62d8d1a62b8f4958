"""Sequence-length scaling: bi-Mamba vs transformer of equal parameter count, forward + backward.

Sequence lengths from 5 s to 10 min of EEG at FEMBA's token rate (16-sample patches at
256 Hz: 80 tokens per 5 s, 9,600 per 10 min), 22 channels, batch 1. The transformer
(reference) uses ``scaled_dot_product_attention``; both models have the same number of
parameters (not counting the positional embedding, which both have and which grows
with the length). For each length: median time of forward+backward over repeats after
a warm-up, and the peak extra memory of one forward+backward (CPU: peak resident memory,
VmHWM after resetting it through /proc/self/clear_refs, minus the resident memory just
before, after malloc_trim; CUDA: torch.cuda.max_memory_allocated minus the allocation
before). Prints fitted log-log exponents of time and memory, the crossover length (first
length where bi-Mamba is faster) and memory at the longest length.

    python benchmarks/seq_scaling.py --quick
    python benchmarks/seq_scaling.py --device cuda --size tiny
Targets: bi-Mamba exponents <= 1.15 (time and memory); at the longest length bi-Mamba's
peak memory <= the transformer's. The bi-Mamba runs with ``FEMBAConfig(recompute=True)``
(segment recomputation inside each Mamba block; ``--no-recompute`` for plain autograd).
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import os
import platform
import statistics
import time

TOKENS_PER_5S = 80


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def build_models(size: str, n_tokens: int, recompute: bool = True):
    """(bi-Mamba, transformer) with matched parameter counts for ``n_tokens`` tokens of 22 channels."""
    from neurosig.models.femba import BiMambaEncoder, FEMBAConfig
    from neurosig.models.transformer import PatchTransformer, TransformerConfig

    n_times = 16 * n_tokens
    if size == "tiny":  # FEMBA-Tiny (7.8 M) vs a 4-layer transformer of the same width (7.2 M)
        m = BiMambaEncoder(FEMBAConfig.from_size("tiny", n_times=n_times, recompute=recompute))
        t = PatchTransformer(TransformerConfig.from_size("tiny", n_times=n_times))
    else:  # "small": CPU-sized, token width 88 (8 features x 11 channel pairs)
        m = BiMambaEncoder(FEMBAConfig(n_times=n_times, embed_dim=8, n_blocks=2, expand=2, d_state=16,
                                       recompute=recompute, size="custom"))
        t = PatchTransformer(TransformerConfig(n_times=n_times, embed_dim=8, n_layers=3, n_heads=4,
                                               mlp_ratio=3, size="custom"))
    return m, t


def n_params(model) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if n != "pos_embed")


def measure(model, n_tokens: int, device, reps: int):
    import torch

    x = torch.randn(1, 22, 16 * n_tokens, device=device)

    def once():
        model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = model(x)
        out.float().square().mean().backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    once()  # warm-up
    gc.collect()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        once()
        mem = (torch.cuda.max_memory_allocated() - before) / 2**20
    else:
        model.zero_grad(set_to_none=True)
        gc.collect()
        ok = _reset_peak()
        before = _rss_kib("VmRSS")
        once()
        mem = (_rss_kib("VmHWM") - before) / 1024 if ok else float("nan")
    times = [once() for _ in range(reps)]
    return statistics.median(times), min(times), max(times), mem


def fit_exponent(xs, ys) -> float:
    import numpy as np

    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="4 lengths from 5 s to 2 min (about a minute)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", choices=["small", "tiny"], default=None,
                    help="model pair; default 'small' on CPU, 'tiny' (FEMBA-Tiny) on CUDA")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, nargs="*", default=None, help="window lengths in seconds")
    ap.add_argument("--no-recompute", action="store_true",
                    help="plain autograd in the bi-Mamba blocks, keeping every activation (default: "
                         "FEMBAConfig.recompute, each Mamba direction keeps only its input and the scan "
                         "state every 256 steps and recomputes segment by segment in backward)")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    size = args.size or ("tiny" if device.type == "cuda" else "small")
    seconds = args.seconds or ([5, 20, 60, 120] if args.quick else [5, 10, 20, 40, 80, 160, 320, 600])
    tokens = [int(round(s / 5 * TOKENS_PER_5S)) for s in seconds]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, numpy {np.__version__}, "
          f"device {device}, {args.threads} threads (both sides)")
    rec = not args.no_recompute
    m0, t0 = build_models(size, tokens[0], rec)
    pm, pt = n_params(m0), n_params(t0)
    print(f"models ({size}): bi-Mamba {pm:,} params, transformer {pt:,} params (without positional "
          f"embedding; ratio {pm / pt:.2f}), 22 channels, 16-sample patches, batch 1; bi-Mamba block "
          f"recompute {'on' if rec else 'off'}")
    rows = []
    print(f"{'seconds':>8} {'tokens':>7} | {'mamba_s':>9} {'transf_s':>9} {'t ratio':>8} | {'mamba_MiB':>10} {'transf_MiB':>10}")
    for sec, L in zip(seconds, tokens):
        torch.manual_seed(0)
        m, t = build_models(size, L, rec)
        m, t = m.to(device), t.to(device)
        reps = 3 if L < 4800 else 2  # long lengths: 2 timed runs after the warm-up and the memory run
        # the output and gradients must be finite on both sides (there is no common answer to compare)
        rm = measure(m, L, device, reps)
        del m
        gc.collect()
        rt = measure(t, L, device, reps)
        del t
        gc.collect()
        rows.append((sec, L, rm, rt))
        print(f"{sec:>8g} {L:>7d} | {rm[0]:>9.3f} {rt[0]:>9.3f} {rt[0] / rm[0]:>8.2f} | {rm[3]:>10.1f} {rt[3]:>10.1f}",
              flush=True)
    Ls = [r[1] for r in rows]
    exps = {"mamba_time": fit_exponent(Ls, [r[2][0] for r in rows]),
            "transformer_time": fit_exponent(Ls, [r[3][0] for r in rows]),
            "mamba_mem": fit_exponent(Ls, [max(r[2][3], 1e-3) for r in rows]),
            "transformer_mem": fit_exponent(Ls, [max(r[3][3], 1e-3) for r in rows])}
    # exponent over the long half, where fixed overheads no longer dominate
    half = len(Ls) // 2
    tail = {"mamba_time": fit_exponent(Ls[half:], [r[2][0] for r in rows[half:]]),
            "transformer_time": fit_exponent(Ls[half:], [r[3][0] for r in rows[half:]])}
    cross = next((r[1] for r in rows if r[2][0] < r[3][0]), None)
    print("fitted log-log exponents over all lengths: "
          + ", ".join(f"{k} {v:.2f}" for k, v in exps.items()))
    print("fitted time exponents over the longer half: " + ", ".join(f"{k} {v:.2f}" for k, v in tail.items()))
    print(f"crossover: bi-Mamba is faster from {cross} tokens ({cross / TOKENS_PER_5S * 5:g} s of EEG)"
          if cross else "crossover: bi-Mamba is not faster at any measured length")
    last = rows[-1]
    print(f"reference_s (transformer, {last[1]} tokens): {last[3][0]:.3f}   neurosig_s (bi-Mamba): {last[2][0]:.3f}   "
          f"ratio {last[3][0] / last[2][0]:.2f}")
    print(f"memory at {last[1]} tokens: bi-Mamba {last[2][3]:.1f} MiB, transformer {last[3][3]:.1f} MiB")
    ok = exps["mamba_time"] <= 1.15 and exps["mamba_mem"] <= 1.15 and last[2][3] <= last[3][3]
    print(f"seq scaling: bi-Mamba exponents time {exps['mamba_time']:.2f} / memory {exps['mamba_mem']:.2f} "
          f"(target <= 1.15), memory at {last[1]} tokens {last[2][3]:.0f} vs {last[3][3]:.0f} MiB transformer "
          f"(target <=): {'met' if ok else 'NOT met'}")
    return {"rows": rows, "exponents": exps, "tail": tail, "crossover": cross, "ok": ok}


if __name__ == "__main__":
    main()
