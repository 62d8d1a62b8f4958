"""TUAB preparation and cache read speed: neurosig vs a plain per-file MNE loop.

Reference: for each EDF file, ``mne.io.read_raw_edf(preload=True)`` -> ``pick`` the 16
TCP electrodes -> ``raw.filter(0.1, 75)`` -> ``raw.notch_filter(60)`` ->
``raw.resample(200)`` -> bipolar subtraction -> 10 s windows -> one HDF5 file, one
file after the other in one process (1 thread).
neurosig: ``TUAB(root).prepare(cache, n_jobs=...)``: file scan, then per worker process one
MNE open per file (header + the 16 electrodes' data), the one-pass FFT engine, one HDF5 file.
Both run on the same generated corpus (synthetic signals, real TUH channel names,
256 Hz, 28 channels + annotations) in this one process; outputs are compared.

Also measured: peak resident memory of ``prepare`` (main process and largest worker,
``VmHWM`` of the main process, ``ru_maxrss`` of its largest forked worker, which counts
the pages it shares with the main process) for growing corpus sizes, and the DataLoader read rate
from the cache (plain, with p95 scaling, and TFM-style 256 Hz store + FFT resampling to
200 Hz + p95 scaling at read time).

Usage::

    PYTHONPATH=$PWD python benchmarks/tuab_prepare.py --quick   # about a minute
    PYTHONPATH=$PWD python benchmarks/tuab_prepare.py           # full size
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def plain_mne_loop(files: list[Path], out_dir: Path) -> dict:
    """The reference: one file after the other, each step a plain MNE call."""
    import h5py
    import mne

    from neurosig.preprocessing.montage import montage_channel_names

    pairs = [tuple(f"EEG {e}-REF" for e in name.split("-")) for name in montage_channel_names("tcp16")]
    picks = list(dict.fromkeys(c for p in pairs for c in p))
    out_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for f in files:
        raw = mne.io.read_raw_edf(f, preload=True, verbose="error")
        raw.pick(picks)
        raw.filter(0.1, 75.0, verbose="error")
        raw.notch_filter(60.0, verbose="error")
        raw.resample(200.0, verbose="error")
        d = raw.get_data(units="uV")
        pos = {n: i for i, n in enumerate(raw.ch_names)}
        bip = np.stack([d[pos[a]] - d[pos[b]] for a, b in pairs])
        n = bip.shape[1] // 2000
        w = np.ascontiguousarray(bip[:, : n * 2000].reshape(16, n, 2000).transpose(1, 0, 2)).astype(np.float32)
        with h5py.File(out_dir / f"{f.stem}.h5", "w") as h:
            h.create_dataset("X", data=w, chunks=(1, 16, 2000))
        out[f.stem] = out_dir / f"{f.stem}.h5"
    return out


def neurosig_prepare(root: Path, cache: Path, n_jobs: int, sfreq: float = 200.0) -> dict:
    from neurosig.datasets.tuab import TUAB
    from neurosig.preprocessing.recipe import PreprocessingConfig

    # scan (file names + EDF size check), then workers read headers and data
    return TUAB(root, verbose=False).prepare(cache, config=PreprocessingConfig(sfreq=sfreq), n_jobs=n_jobs)


def _fft_work(seed: int) -> float:
    x = np.random.default_rng(seed).standard_normal(1 << 19)
    return float(sum(np.fft.rfft(x)[3].real for _ in range(8)))


def parallel_efficiency(n_jobs: int, n_tasks: int = 8) -> float:
    """Throughput of ``n_jobs`` processes over 1 process on a pure FFT workload, right now.

    On an idle machine with ``n_jobs`` free cores this is close to ``n_jobs``; on a
    shared machine it says how much the processes of this benchmark can gain.
    """
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    for i in range(n_tasks):
        _fft_work(i)
    t1 = time.perf_counter() - t0
    with ProcessPoolExecutor(n_jobs) as pool:
        list(pool.map(_fft_work, range(n_jobs)))
        t0 = time.perf_counter()
        list(pool.map(_fft_work, range(n_tasks)))
        t2 = time.perf_counter() - t0
    return t1 / t2


def timed(fn, *args, **kw) -> tuple[float, object]:
    t0 = time.perf_counter()
    r = fn(*args, **kw)
    return time.perf_counter() - t0, r


def compare(ref_files: dict, cache: Path) -> tuple[float, float]:
    """Max |neurosig - reference| / std(reference): over all windows, and without the first/last."""
    import h5py

    worst_all, worst_inner = 0.0, 0.0
    for stem, path in ref_files.items():
        with h5py.File(path, "r") as a, h5py.File(cache / "recordings" / f"{stem}.h5", "r") as b:
            r, g = a["X"][()].astype(np.float64), b["X"][()].astype(np.float64)
        assert r.shape == g.shape, (stem, r.shape, g.shape)
        d = np.abs(r - g) / r.std()
        worst_all = max(worst_all, float(d.max()))
        if len(d) > 2:
            worst_inner = max(worst_inner, float(d[1:-1].max()))
    return worst_all, worst_inner


MEM_SCRIPT = r"""
import os, sys, json, resource
for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[v] = "1"
sys.path.insert(0, sys.argv[1])
from neurosig.datasets.tuab import TUAB
s = TUAB(sys.argv[2], verbose=False).prepare(sys.argv[3], n_jobs=int(sys.argv[4]))
# VmHWM: peak RSS of this process image (ru_maxrss would carry over the parent's across exec)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({"main_mb": int(hwm) / 1024,
                  "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "n_windows": s["n_windows"]}))
"""


def read_rate(cache: Path, n_windows_min: int, default_loader: bool = False, **kw) -> float:
    """Windows per second through a DataLoader (batch 64, shuffled, 0 workers)."""
    import torch

    from neurosig.datasets.window_dataset import WindowDataset

    ds = WindowDataset(cache, split="all", **kw)
    if default_loader:  # plain DataLoader: __getitems__ + default_collate (stacks the samples)
        loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True,
                                             generator=torch.Generator().manual_seed(0))
    else:  # WindowDataset.loader: whole batches, no collation copy
        loader = ds.loader(batch_size=64, shuffle=True, random_state=0)
    for _ in loader:  # warm-up: open files, page cache
        pass
    rates = []
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while n < n_windows_min:
            for xb, _ in loader:
                n += len(xb)
        rates.append(n / (time.perf_counter() - t0))
    return float(np.median(rates))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import mne
    import torch

    from neurosig.datasets.synthetic_tuab import make_synthetic_tuab

    torch.set_num_threads(1)
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, load avg {os.getloadavg()[0]:.2f}; "
          f"python {platform.python_version()}, numpy {np.__version__}, mne {mne.__version__}, "
          f"torch {torch.__version__}; 1 thread per process")
    if args.quick:
        n_rec, dur, mem_sizes, mem_dur = 6, 120.0, (4, 8, 16, 32), 20.0
    else:
        n_rec, dur, mem_sizes, mem_dur = 16, 600.0, (10, 25, 50, 100), 60.0
    work = Path(tempfile.mkdtemp(prefix="tuab_bench_"))
    try:
        root = make_synthetic_tuab(work / "corpus", n_subjects=n_rec - 2, n_eval_subjects=2,
                                   duration=dur, seed=1)
        files = sorted(root.rglob("*.edf"))
        hours = len(files) * dur / 3600
        print(f"corpus: {len(files)} recordings x {dur:g} s at 256 Hz ({hours:.2f} h)")

        # warm-up (imports, FFT plans, filter design) on one file each
        plain_mne_loop(files[:1], work / "warm_ref")
        neurosig_prepare(root, work / "warm_ns", n_jobs=1)

        ref_t, ns_t, ns1_t = [], [], []
        for r in range(args.repeats):
            t, ref_files = timed(plain_mne_loop, files, work / f"ref{r}")
            ref_t.append(t)
            t, summary = timed(neurosig_prepare, root, work / f"ns{r}", args.n_jobs)
            ns_t.append(t)
            t, _ = timed(neurosig_prepare, root, work / f"ns1_{r}", 1)
            ns1_t.append(t)
        d_all, d_inner = compare(ref_files, work / f"ns{args.repeats - 1}")
        med = lambda v: float(np.median(v))  # noqa: E731
        spread = lambda v: f"[{min(v):.2f}, {max(v):.2f}]"  # noqa: E731
        print(f"outputs: {summary['n_windows']} windows; max |neurosig - reference| / std = {d_all:.2e} "
              f"(all windows), {d_inner:.2e} (without each recording's first and last window)")
        print(f"reference_s (plain MNE loop, 1 process) = {med(ref_t):.2f} {spread(ref_t)}")
        print(f"neurosig_s  (n_jobs={args.n_jobs})             = {med(ns_t):.2f} {spread(ns_t)}")
        print(f"neurosig_s  (n_jobs=1)             = {med(ns1_t):.2f} {spread(ns1_t)}")
        ratio = med(ref_t) / med(ns_t)
        ratio1 = med(ref_t) / med(ns1_t)
        eff = parallel_efficiency(args.n_jobs)
        print(f"machine check: {args.n_jobs} processes give {eff:.2f}x the throughput of 1 on a pure FFT "
              f"workload right now (load avg {os.getloadavg()[0]:.1f}; {args.n_jobs:.1f}x on idle cores)")
        print(f"ratio: {ratio:.2f}x with {args.n_jobs} processes, {ratio1:.2f}x with 1 process; "
              f"throughput {hours / med(ns_t) * 3600:.0f} recorded hours per hour")

        # ---- peak memory vs corpus size (subprocesses)
        mem = []
        for n in mem_sizes:
            mroot = make_synthetic_tuab(work / f"mem{n}", n_subjects=n - 2, n_eval_subjects=2,
                                        duration=mem_dur, seed=2)
            out = subprocess.run([sys.executable, "-c", MEM_SCRIPT, str(REPO), str(mroot),
                                  str(work / f"memcache{n}"), str(args.n_jobs)],
                                 capture_output=True, text=True, check=True)
            m = json.loads(out.stdout.strip().splitlines()[-1])
            mem.append((n, m["main_mb"], m["worker_mb"]))
            print(f"peak RSS, {n:3d} recordings x {mem_dur:g} s: main {m['main_mb']:.0f} MB, "
                  f"largest worker {m['worker_mb']:.0f} MB")
            shutil.rmtree(mroot)
            shutil.rmtree(work / f"memcache{n}")
        ns_, tot = np.array([m[0] for m in mem], float), np.array([m[1] + m[2] for m in mem])
        slope = float(np.polyfit(np.log(ns_), np.log(tot), 1)[0])
        print(f"peak memory (main + largest worker) vs corpus size: log-log exponent {slope:.3f} "
              f"(0 = independent of size)")

        # ---- read rate from the cache
        big = work / f"ns{args.repeats - 1}"  # the store of the speed run
        n_min = 3000 if args.quick else 20000
        rate_plain = read_rate(big, n_min)
        rate_default = read_rate(big, n_min, default_loader=True)
        rate_p95 = read_rate(big, n_min // 4, scale="p95")
        tfm_cache = work / "tfm256"
        neurosig_prepare(root, tfm_cache, args.n_jobs, sfreq=256.0)
        rate_tfm = read_rate(tfm_cache, n_min // 8, scale="p95", resample_sfreq=200.0)
        # what is read is what was stored
        import h5py

        from neurosig.datasets.window_dataset import WindowDataset
        ds = WindowDataset(big, split="all")
        k = len(ds) // 2
        rec, win = ds.windows["recording"].iloc[k], int(ds.windows["window"].iloc[k])
        with h5py.File(big / "recordings" / f"{rec}.h5", "r") as h:
            assert np.array_equal(ds[k][0].numpy(), h["X"][win])
        print(f"DataLoader read rate ({len(ds)} windows in the store, batch 64, shuffled, 0 workers, "
              f"median of 3): {rate_plain:.0f} windows/s (WindowDataset.loader), {rate_default:.0f} "
              f"windows/s (plain torch DataLoader, default collate); with read-time options "
              f"(WindowDataset.loader): {rate_p95:.0f} windows/s p95 scaling, {rate_tfm:.0f} windows/s "
              f"256->200 Hz FFT resampling + p95 scaling (TFM style)")
        print(f"tuab prepare: {ratio:.1f}x faster than a plain MNE loop on {args.n_jobs} processes "
              f"(target >= 3x; {ratio1:.1f}x on 1; machine gave {eff:.2f}x for {args.n_jobs} processes), "
              f"outputs agree to {d_all:.1e} of std; "
              f"memory exponent {slope:.2f}; read {rate_plain:.0f} windows/s (target >= 5000)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
