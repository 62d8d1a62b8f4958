"""Worker for the 2-process DDP test (kept light: spawned processes import only this)."""
import os

import torch


def run(rank, world, init_file, X, out_dir, cfg_kwargs):
    from neurosig.models.femba import BiMambaEncoder
    from neurosig.models.pretrain import PretrainConfig, pretrain

    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                                         world_size=world)
    try:
        torch.manual_seed(0)
        enc = BiMambaEncoder("nano", n_channels=X.shape[1], n_times=X.shape[2])
        res = pretrain(enc, X, PretrainConfig(**cfg_kwargs), checkpoint_dir=os.path.join(out_dir, "ckpt"),
                       verbose=False)
        torch.save({"state": res.model.state_dict(), "history": res.history},
                   os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        torch.distributed.destroy_process_group()


def run_cli(rank, world, port, argv, out_dir):
    """One process of a torchrun-style launch: torchrun's environment variables, then the CLI."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    from neurosig.cli.main import main

    code = main(argv)
    with open(os.path.join(out_dir, f"rc{rank}"), "w") as f:
        f.write(str(code))
