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
