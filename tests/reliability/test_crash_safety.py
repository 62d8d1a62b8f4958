"""Crash safety: kill -9 a real job process half-way; the rerun resumes and the end result is
the one an uninterrupted run gives (same rows, same weights, same store), earlier results kept.

Each job runs as its own Python process (a short script); a pause is added between its units
of work (ROI tasks, epochs, recordings) only so that the kill lands half-way on any machine:
the pause changes no result.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from reliability_helpers import cli_env

pytestmark = pytest.mark.slow


def _run_and_kill(tmp_path: Path, code: str, ready, timeout: float = 300) -> None:
    """Start ``code`` in a new Python process, SIGKILL it once ``ready()`` is true."""
    script = tmp_path / f"job_{time.monotonic_ns()}.py"
    script.write_text(textwrap.dedent(code))
    proc = subprocess.Popen([sys.executable, str(script)], env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and proc.poll() is None:
            if ready():
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the job ended before it could be killed:\n{proc.stdout.read()[-3000:]}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _count_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:  # read-only peek: never take the writer's lock
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


# -- decode-fmri -----------------------------------------------------------------------------
def _fmri_job(root: Path, results: Path) -> dict:
    return {"dataset": {"type": "nsd", "root": str(root)}, "subjects": [1],
            "rois": ["prf-visualrois:V1v", "prf-visualrois:V1d", "prf-visualrois:V2v",
                     "prf-visualrois:V2d", "prf-visualrois:hV4"],
            "targets": [{"type": "coco", "categories": ["person"]}],
            "models": ["ridge", "logistic"], "analyses": ["decoding"],
            "cv": {"scheme": "group-kfold", "n_splits": 3}, "results": str(results), "verbose": False}


def test_decode_fmri_killed_resumes_same_rows(tmp_path):
    import yaml

    from neurosig.datasets.synthetic_nsd import make_synthetic_nsd
    from neurosig.evaluation.fmri import decode_fmri
    from neurosig.evaluation.results import ResultStore

    root = make_synthetic_nsd(tmp_path / "nsd", subjects=(1,), n_sessions_present=2, trials_per_session=30,
                              n_sessions_total=10, images_per_subject=100, n_images_total=300, n_shared=10,
                              shape=(8, 14, 6), effect=0.6, seed=0)
    db = tmp_path / "killed.sqlite"
    job_file = tmp_path / "job.yml"
    job_file.write_text(yaml.safe_dump(_fmri_job(root, db)))
    _run_and_kill(tmp_path, f"""
        import time
        from neurosig.evaluation import fmri
        from neurosig.cli.main import main
        real = fmri._roi_task
        def paused(task):
            time.sleep(1.0)
            return real(task)
        fmri._roi_task = paused
        main(["-q", "decode-fmri", {str(job_file)!r}])
        """, ready=lambda: _count_rows(db) >= 1)
    with ResultStore(db) as st:
        first = st.to_frame(include_errors=True)
    n_cells = 5 * 2
    assert 1 <= len(first) < n_cells, "killed half-way: some cells committed, not all"

    from neurosig.cli.main import main
    assert main(["-q", "decode-fmri", str(job_file)]) == 0  # the rerun resumes
    straight = decode_fmri(_fmri_job(root, tmp_path / "straight.sqlite"))
    with ResultStore(db) as st:
        final = st.to_frame(include_errors=True)
    assert len(final) == n_cells and final["row_key"].is_unique and (final["status"] == "ok").all()
    kept = final.set_index("row_key").loc[first["row_key"]]
    assert list(kept["created"]) == list(first["created"])  # earlier rows untouched
    ref = straight.set_index("row_key")["score"].sort_index()
    got = final.set_index("row_key")["score"].sort_index()
    assert list(got.index) == list(ref.index)  # the same cells ...
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-9)  # ... with the same scores


# -- pretrain --------------------------------------------------------------------------------
_PRETRAIN = """
    import sys, time
    sys.path.insert(0, {tests!r})
    import torch
    from models_data import simulated_windows
    from neurosig.models.femba import BiMambaEncoder
    from neurosig.models.pretrain import PretrainConfig, pretrain
    torch.manual_seed({seed})
    enc = BiMambaEncoder("nano", n_channels=4, n_times=64)
    X, _ = simulated_windows(n=40, n_channels=4, n_times=64)
    cfg = PretrainConfig(max_epochs=6, batch_size=8, lr=3e-3, warmup_steps=2, val_fraction=0.2, patience=10)
    pause = [lambda epoch, rec: time.sleep({pause})]
    pretrain(enc, X, cfg, checkpoint_dir={ckpt!r}, verbose=False, callbacks=pause)
"""


def test_pretrain_killed_resumes_same_final_weights(tmp_path):
    import torch

    from neurosig.models.pretrain import load_pretrained

    tests = str(Path(__file__).resolve().parents[1] / "models")
    ckpt = tmp_path / "killed"

    def epoch_of_last():
        try:
            return torch.load(ckpt / "last.pt", weights_only=True)["epoch"]
        except Exception:  # absent, or being replaced
            return 0

    _run_and_kill(tmp_path, _PRETRAIN.format(tests=tests, seed=0, pause=1.5, ckpt=str(ckpt)),
                  ready=lambda: epoch_of_last() >= 2)
    killed_at = epoch_of_last()
    assert 2 <= killed_at < 6
    history = json.loads((ckpt / "history.json").read_text())
    assert len(history) >= 2  # the finished epochs were recorded
    # resume with another initial seed: the weights must come from the last good checkpoint
    subprocess.run([sys.executable, "-c", textwrap.dedent(
        _PRETRAIN.format(tests=tests, seed=123, pause=0.0, ckpt=str(ckpt)))], env=cli_env(), check=True)
    subprocess.run([sys.executable, "-c", textwrap.dedent(
        _PRETRAIN.format(tests=tests, seed=0, pause=0.0, ckpt=str(tmp_path / "straight")))],
        env=cli_env(), check=True)
    resumed, meta_r = load_pretrained(ckpt / "last.pt")
    straight, meta_s = load_pretrained(tmp_path / "straight" / "last.pt")
    assert meta_r["epoch"] == meta_s["epoch"] == 6
    for (k, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=k)
    hr = json.loads((ckpt / "history.json").read_text())
    hs = json.loads((tmp_path / "straight" / "history.json").read_text())
    assert [h["epoch"] for h in hr] == list(range(6))
    np.testing.assert_allclose([h["val_loss"] for h in hr], [h["val_loss"] for h in hs], rtol=1e-5)


# -- tuab prepare ----------------------------------------------------------------------------
def test_tuab_prepare_killed_resumes_identical_store(tmp_path):
    import h5py
    import pandas as pd

    from neurosig.datasets.synthetic_tuab import make_synthetic_tuab
    from neurosig.datasets.tuab import TUAB

    corpus = make_synthetic_tuab(tmp_path / "tuab", n_subjects=4, n_eval_subjects=2, duration=30.0, seed=0)
    cache = tmp_path / "killed"

    def n_done():
        return len(list((cache / "recordings").glob("*.h5"))) if (cache / "recordings").exists() else 0

    _run_and_kill(tmp_path, f"""
        import time
        from neurosig.datasets import window_store
        from neurosig.datasets.tuab import TUAB
        real = window_store._write_recording
        def paused(path, windows, attrs):
            real(path, windows, attrs)
            time.sleep(1.5)
        window_store._write_recording = paused
        TUAB({str(corpus)!r}, verbose=False).prepare({str(cache)!r})
        """, ready=lambda: n_done() >= 2)
    done_before = {p.name: p.stat().st_mtime_ns for p in (cache / "recordings").glob("*.h5")}
    assert 2 <= len(done_before) < 6
    summary = TUAB(corpus, verbose=False).prepare(cache)  # the rerun resumes
    assert summary["n_skipped_done"] >= len(done_before) and summary["n_errors"] == 0
    assert not list((cache / "recordings").glob(".*.tmp"))
    for name, mtime in done_before.items():  # finished recordings were not redone
        assert (cache / "recordings" / name).stat().st_mtime_ns == mtime
    TUAB(corpus, verbose=False).prepare(tmp_path / "straight")
    ref_files = sorted((tmp_path / "straight" / "recordings").glob("*.h5"))
    assert [p.name for p in ref_files] == sorted(p.name for p in (cache / "recordings").glob("*.h5"))
    for ref in ref_files:
        with h5py.File(ref, "r") as a, h5py.File(cache / "recordings" / ref.name, "r") as b:
            np.testing.assert_array_equal(a["X"][()], b["X"][()])
    pd.testing.assert_frame_equal(pd.read_parquet(cache / "windows.parquet"),
                                  pd.read_parquet(tmp_path / "straight" / "windows.parquet"))


# -- rsa ---------------------------------------------------------------------------------------
_RSA = """
    import time
    from neurosig.evaluation.rsa import grid_plots
    real = grid_plots.plot_heatmap
    def slow(*args, **kwargs):
        open({marker!r}, "w").close()  # every row is stored: the figures come last
        time.sleep(300)                # the kill lands while figures are being written
        return real(*args, **kwargs)
    grid_plots.plot_heatmap = slow
    from neurosig.cli.main import main
    main(["-q", "rsa", {job!r}])
"""


def test_rsa_killed_while_writing_figures_rerun_writes_them(tmp_path):
    import yaml

    from neurosig.cli.main import main
    from neurosig.evaluation.results import ResultStore

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation" / "rsa"))
    from test_rsa_grid import _cfg, _epochs

    runs = {}
    for name in ("killed", "straight"):
        folder = tmp_path / name
        folder.mkdir()
        _epochs(folder)
        (folder / "job.yml").write_text(yaml.safe_dump(_cfg()))
        runs[name] = folder
    killed = runs["killed"]
    marker = tmp_path / "writing_figures"
    _run_and_kill(tmp_path, _RSA.format(marker=str(marker), job=str(killed / "job.yml")),
                  ready=marker.exists)
    out = killed / "out"
    figs = [out / f"toy-grid_{k}.png" for k in ("heatmap", "profiles", "rdms", "identification")]
    assert not any(f.exists() for f in figs), "killed before the figures were written"
    n_rows = _count_rows(out / "results.sqlite")
    assert n_rows == 2 * 3 * 3 + 2  # every row was committed before the kill
    with ResultStore(out / "results.sqlite") as st:
        before = st.to_frame(kind="rsa")

    assert main(["-q", "rsa", str(killed / "job.yml")]) == 0  # the rerun writes the figures
    assert all(f.stat().st_size > 1000 for f in figs)
    assert main(["-q", "rsa", str(runs["straight"] / "job.yml")]) == 0
    with ResultStore(out / "results.sqlite") as st:
        after = st.to_frame(kind="rsa")
    with ResultStore(runs["straight"] / "out" / "results.sqlite") as st:
        straight = st.to_frame(kind="rsa")
    assert len(after) == n_rows and list(after["created"]) == list(before["created"])  # nothing recomputed
    got = after.set_index("row_key")["score"].sort_index()
    ref = straight.set_index("row_key")["score"].sort_index()
    assert list(got.index) == list(ref.index)
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-9)
