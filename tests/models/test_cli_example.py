"""CLI (pretrain, finetune: schema, dry run, a tiny real run) and the runnable example."""
import json
import runpy
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from neurosig.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def job_dir(tmp_path):
    for name in ("pretrain_nano.yml", "finetune_nano.yml"):
        shutil.copy(ROOT / "examples" / "configs" / name, tmp_path / name)
    mod = runpy.run_path(str(ROOT / "examples" / "models_pretrain_finetune.py"))
    Xu, _ = mod["simulate"](48, n_times=64, seed=1, labelled=False)
    X, y = mod["simulate"](40, n_times=64, seed=2)
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "unlabelled.npy", Xu)
    np.savez(tmp_path / "data" / "labelled.npz", X=X, y=y)
    return tmp_path


def _shrink(path: Path, **changes):
    import yaml
    d = yaml.safe_load(path.read_text())
    for k, v in changes.items():
        sec, key = k.split("__") if "__" in k else (k, None)
        if key:
            d[sec][key] = v
        else:
            d[sec] = v
    path.write_text(yaml.safe_dump(d))


def test_example_configs_validate(job_dir, capsys):
    assert main(["pretrain", str(job_dir / "pretrain_nano.yml"), "--dry-run"]) == 0
    assert "is valid: 48 windows" in capsys.readouterr().out


def test_cli_pretrain_then_finetune(job_dir, capsys):
    _shrink(job_dir / "pretrain_nano.yml", training__max_epochs=2, training__batch_size=16)
    assert main(["-q", "pretrain", str(job_dir / "pretrain_nano.yml")]) == 0
    assert (job_dir / "runs" / "pretrain-nano" / "best.pt").is_file()
    _shrink(job_dir / "finetune_nano.yml", model__max_epochs=2, seeds=[0, 1])
    assert main(["-q", "finetune", str(job_dir / "finetune_nano.yml")]) == 0
    res = json.loads((job_dir / "runs" / "finetune-nano.json").read_text())
    assert set(res) == {"finetune", "linear_probe"}
    for r in res.values():
        assert len(r["scores"]) == 2 and r["settings"]["head"] == "linear"
    assert res["finetune"]["settings"]["encoder_lr"] == 0.001
    from neurosig.evaluation.results import ResultStore
    with ResultStore(job_dir / "runs" / "results.sqlite") as store:
        assert len(store) == 4


def test_cli_refuses_bad_job_files(job_dir, capsys):
    p = job_dir / "pretrain_nano.yml"
    _shrink(p, training__learning_rate=0.1)
    assert main(["pretrain", str(p), "--dry-run"]) == 2
    assert "unknown key(s) ['learning_rate'] in 'training'" in capsys.readouterr().err
    f = job_dir / "finetune_nano.yml"
    _shrink(f, optimizer={"lr": 1})
    assert main(["finetune", str(f), "--dry-run"]) == 2
    assert "unknown key(s) ['optimizer']" in capsys.readouterr().err
    _shrink(f, optimizer=None)
    import yaml
    d = yaml.safe_load(f.read_text())
    d.pop("optimizer")
    d["modes"] = ["probe"]
    f.write_text(yaml.safe_dump(d))
    assert main(["finetune", str(f), "--dry-run"]) == 2
    assert "invalid value for 'modes'" in capsys.readouterr().err
    _shrink(p, training={"max_epochs": 1}, encoder={"arch": "bimamba", "size": "enormous"})
    assert main(["pretrain", str(p), "--dry-run"]) == 2
    assert "invalid value for 'encoder.size'" in capsys.readouterr().err


def test_example_runs_quick(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["models_pretrain_finetune.py"])
    mod = runpy.run_path(str(ROOT / "examples" / "models_pretrain_finetune.py"))
    out = mod["main"](["--quick"])
    assert set(out["table"]) == {"pretrained + fine-tune", "pretrained + linear probe", "scratch (same model)",
                                 "random init + linear probe"}
    hist = out["pretrain_history"]
    assert min(h["val_loss"] for h in hist) < hist[0]["val_loss"]
    assert "TS+SVM" in capsys.readouterr().out


def test_torchrun_environment_two_processes_end_to_end(job_dir, capfd):
    """`torchrun --nproc_per_node 2 -m neurosig.cli.main pretrain CONFIG` on CPU: each process gets
    torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR/PORT) and runs the CLI, which starts the gloo
    process group itself. One set of checkpoints, one summary line, and the same weights as a
    1-process run with the same global batch. (Forked, not through the torchrun executable, whose
    three fresh interpreters cost ~40 s here; that command was run by hand, see the models report.)"""
    import socket

    import _ddp_worker
    import torch

    cfg = job_dir / "pretrain_nano.yml"
    _shrink(cfg, training__max_epochs=1, training__batch_size=16, training__val_fraction=0.25, output="runs/ddp")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])  # first AdamW imports torch._dynamo (s): before the fork
    method = "fork" if "fork" in torch.multiprocessing.get_all_start_methods() else "spawn"
    torch.multiprocessing.start_processes(_ddp_worker.run_cli, args=(2, port, ["-q", "pretrain", str(cfg)],
                                                                     str(job_dir)), nprocs=2, start_method=method)
    assert [(job_dir / f"rc{r}").read_text() for r in (0, 1)] == ["0", "0"]
    assert capfd.readouterr().out.count("pretrain: 1 epochs") == 1  # one summary, from rank 0
    out = job_dir / "runs" / "ddp"
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "history.json", "last.pt"]
    _shrink(cfg, output="runs/single")
    assert main(["-q", "pretrain", str(cfg)]) == 0
    a = torch.load(out / "last.pt", weights_only=True)
    b = torch.load(job_dir / "runs" / "single" / "last.pt", weights_only=True)
    assert a["config"] == b["config"]
    assert a["history"][0]["val_loss"] == pytest.approx(b["history"][0]["val_loss"], rel=1e-5)
    for k, v in b["model"].items():
        torch.testing.assert_close(a["model"][k], v, atol=1e-5, rtol=1e-4, msg=k)
