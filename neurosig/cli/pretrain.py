"""``neurosig pretrain CONFIG.yml``: masked patch reconstruction pretraining of an encoder.

The job file (see ``examples/configs/pretrain_nano.yml``)::

    data: {path: windows.npy, ch_names: [...], sfreq: 256}   # .npy (n, C, T) or .npz with X
    encoder: {arch: bimamba, size: nano}                     # + config overrides
    training: {max_epochs: 20, batch_size: 32, lr: 0.001, ...}  # PretrainConfig fields
    output: runs/pretrain-nano                               # last.pt, best.pt, history.json
    resume: true

Under ``torchrun --nproc_per_node N -m neurosig.cli.main pretrain CONFIG.yml`` the
process group is initialised (gloo on CPU, nccl on GPUs) and training is data parallel:
``training.batch_size`` is the global batch, split across the processes; rank 0 writes
the checkpoints and prints the summary. On CPU set ``OMP_NUM_THREADS`` so that
processes x threads fits the cores. ``encoder: {recompute: true}`` (bi-Mamba) trades one
extra forward pass for much less activation memory on long windows.
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("pretrain", help="masked-reconstruction pretraining of a bi-Mamba/transformer encoder",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="YAML job file")
    p.add_argument("--dry-run", action="store_true", help="validate the job file and data, then stop")
    p.set_defaults(func=run, imports=("torch", "neurosig.models.pretrain"))


def run(args) -> int:
    import os
    from pathlib import Path

    import torch

    from neurosig.models.checkpoints import build_encoder
    from neurosig.models.pretrain import pretrain
    from neurosig.models.training import forked_rng

    from ._jobfile import PretrainFileSchema, check_training, contract_of, load_arrays, read_job

    job, base = read_job(args.config, PretrainFileSchema, "pretrain")
    enc_kw = job.encoder.model_dump(exclude_none=True)
    arch, size = enc_kw.pop("arch"), enc_kw.pop("size")
    cfg = check_training(job, args.config)
    X, _ = load_arrays(job.data, base, need_y=False)
    contract = contract_of(job.data, X.shape[2])
    with forked_rng(cfg.random_state):  # seeded initialisation, global RNG untouched
        encoder = build_encoder(arch, size, n_channels=X.shape[1], n_times=X.shape[2], **enc_kw)
    out = Path(job.output)
    if not out.is_absolute():
        out = base / out
    if args.dry_run:
        print(f"pretrain: {args.config} is valid: {len(X)} windows {X.shape[1:]} (opened and checked: finite, "
              f"channel names match), {arch}-{size} ({sum(p.numel() for p in encoder.parameters())} "
              f"parameters), output {out}")
        return 0
    started = False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if (cfg.device or "").startswith("cuda") else "gloo"
        torch.distributed.init_process_group(backend)
        started = True
    try:
        res = pretrain(encoder, X, cfg, checkpoint_dir=out, resume=job.resume,
                       contract=contract, verbose=not getattr(args, "quiet", False))
    finally:
        if started:
            torch.distributed.destroy_process_group()
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, one summary line (rank 0)
        return 0
    last = res.history[-1] if res.history else {}
    print(f"pretrain: {len(res.history)} epochs, best loss {res.best_loss:.4f} at epoch {res.best_epoch}, "
          f"last train loss {last.get('train_loss', float('nan')):.4f}; checkpoints in {out}")
    return 0
