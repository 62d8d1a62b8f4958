"""neurosig's pre-norm transformer block vs torch's ``nn.TransformerEncoderLayer``, same weights.

The TokenTransformer's default encoder (width 64, 4 layers, 8 heads, feed-forward 128,
dropout 0.1) on 22 channels x 16 patches (352 tokens), batches of 32: once as
:class:`neurosig.models.transformer.BlockStack` and once as torch's
``nn.TransformerEncoder(nn.TransformerEncoderLayer(..., norm_first=True))`` holding the same
weights. Prints the seconds per inference batch (``torch.no_grad()``, where torch takes
its fused path) and per training step (forward, backward, SGD step), and the ratio
torch / neurosig, with the largest output difference. Run from the repository root::

    PYTHONPATH=$PWD python benchmarks/transformer_block.py            # 5 repeats, 2 threads
    PYTHONPATH=$PWD python benchmarks/transformer_block.py --quick    # 1 repeat
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from neurosig.models.transformer import BlockStack


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def _measure(encoder: nn.Module, x: torch.Tensor, repeats: int) -> tuple[float, float]:
    opt = torch.optim.SGD(encoder.parameters(), lr=1e-3)

    def infer():
        encoder.eval()
        with torch.no_grad():
            encoder(x)

    def train():
        encoder.train()
        opt.zero_grad()
        encoder(x).square().mean().backward()
        opt.step()

    return _time(infer, repeats), _time(train, repeats)


def main(argv=None) -> None:
    """Print the timings of both encoders and their ratio.

    Parameters
    ----------
    argv : list of str | None
        Command-line arguments (default: ``sys.argv``).
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = 1 if args.quick else 5
    torch.manual_seed(0)
    ours = BlockStack(4, 64, 8, 2, "relu", dropout=0.1)
    layer = nn.TransformerEncoderLayer(64, 8, 128, dropout=0.1, batch_first=True, norm_first=True)
    ref = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
    for block, torch_layer in zip(ours.layers, ref.layers):
        block.load_state_dict(torch_layer.state_dict())
    x = torch.randn(32, 352, 64)
    with torch.no_grad():
        diff = (ours.eval()(x) - ref.eval()(x)).abs().max().item()
    t_ours, t_ref = _measure(ours, x, repeats), _measure(ref, x, repeats)
    print(f"{torch.__version__}, {args.threads} threads, batch 32 x 352 tokens x 64, 4 layers")
    print(f"inference: neurosig {t_ours[0]:.3f} s, torch {t_ref[0]:.3f} s, ratio {t_ref[0] / t_ours[0]:.2f}")
    print(f"train step: neurosig {t_ours[1]:.3f} s, torch {t_ref[1]:.3f} s, ratio {t_ref[1] / t_ours[1]:.2f}")
    print(f"largest output difference (inference): {diff:.2e}")


if __name__ == "__main__":
    main()
