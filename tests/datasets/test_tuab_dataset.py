"""TUAB index, window store (atomic, resumable, parallel), dataset split and reading, bad input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import mne
import numpy as np
import pandas as pd
import pytest
import torch

from neurosig.contracts import SignalContract
from neurosig.datasets import window_store
from neurosig.datasets.synthetic_tuab import (
    TUH_AR_CHANNELS,
    TUH_EXTRA_CHANNELS,
    _signals,
    make_synthetic_tuab,
    write_edf,
)
from neurosig.datasets.tuab import TUAB, find_edf_root, load_index, save_index, scan_tuab
from neurosig.datasets.window_dataset import WindowDataset
from neurosig.datasets.window_store import split_subjects, store_info
from neurosig.preprocessing.montage import montage_channel_names
from neurosig.preprocessing.recipe import PreprocessingConfig

BAD = ("truncated", "short", "missing_electrodes", "low_sfreq", "bad_name")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tuab") / "v3.0.1"
    make_synthetic_tuab(root, n_subjects=6, n_eval_subjects=2, duration=35.0, bad=BAD, seed=0)
    return root


@pytest.fixture(scope="module")
def store(corpus, tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("cache") / "store"
    TUAB(corpus, verbose=False).prepare(cache)
    return cache


def _plain_mne_windows(path, picks_orig, pairs, sfreq=200.0, notch=60.0, win=2000):
    """Independent reference: a plain MNE pass over one file (the steps, written out)."""
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    raw.pick(picks_orig)
    raw.filter(0.1, 75.0, verbose="error")
    raw.notch_filter(notch, verbose="error")
    raw.resample(sfreq, verbose="error")
    d = raw.get_data(units="uV")
    pos = {n: i for i, n in enumerate(raw.ch_names)}
    bip = np.stack([d[pos[a]] - d[pos[b]] for a, b in pairs])
    n = bip.shape[1] // win
    return bip[:, : n * win].reshape(len(pairs), n, win).transpose(1, 0, 2)


def _exact_grid_windows(path, picks_orig, pairs, sfreq=200.0, win=2000):
    """Reference on the exact 200 Hz grid: MNE filters, then scipy's (unpadded) FFT resampling.

    (MNE's ``raw.resample`` pads to a power of two, which puts 250 or 500 -> 200 Hz
    output up to half a sample off the grid; scipy's periodic resampling is on the
    grid but wraps around at the ends.)
    """
    from scipy.signal import resample

    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    raw.pick(picks_orig).filter(0.1, 75.0, verbose="error").notch_filter(60.0, verbose="error")
    d = raw.get_data(units="uV")
    d = resample(d, int(round(d.shape[1] * sfreq / raw.info["sfreq"])), axis=-1)
    pos = {n: i for i, n in enumerate(raw.ch_names)}
    bip = np.stack([d[pos[a]] - d[pos[b]] for a, b in pairs])
    n = bip.shape[1] // win
    return bip[:, : n * win].reshape(len(pairs), n, win).transpose(1, 0, 2)


def _store_arrays(cache: Path) -> dict:
    out = {}
    for f in sorted((cache / "recordings").glob("*.h5")):
        with h5py.File(f, "r") as h:
            out[f.stem] = (h["X"][()], dict(h.attrs))
    return out


# ------------------------------------------------------------------ index

@pytest.mark.parametrize("layout", ["v3", "v2"])
def test_index_layouts(tmp_path, layout):
    root = make_synthetic_tuab(tmp_path / layout, n_subjects=2, n_eval_subjects=2, duration=12.0,
                               layout=layout)
    for r in (root, root / "edf"):
        index = TUAB(r, verbose=False).index
        assert len(index) == 4 and (index["status"] == "ok").all()
        assert set(index["split"]) == {"train", "eval"} and set(index["label"]) == {"normal", "abnormal"}
        row = index.iloc[0]
        assert row["sfreq"] == 256.0 and row["duration"] == pytest.approx(12.0)
        assert row["montage_type"] == "01_tcp_ar" and row["session"] == 1 and row["token"] == 0
        assert "EEG FP1-REF" in row["ch_names"] and "PHOTIC-REF" in row["ch_names"]
    save_index(index, tmp_path / "i.parquet")
    back = load_index(tmp_path / "i.parquet")
    assert back["ch_names"].iloc[0] == index["ch_names"].iloc[0]


def test_wrong_root_is_refused_before_work(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(ValueError, match="'root' parameter must be a TUAB folder"):
        TUAB(tmp_path)
    with pytest.raises(FileNotFoundError, match="'root' parameter"):
        find_edf_root(tmp_path / "nope")


def test_index_records_bad_files(corpus):
    index = scan_tuab(corpus, verbose=False)
    reasons = dict(zip(index["path"].map(lambda p: Path(p).name), index["reason"]))
    assert reasons["recording_01.edf"].startswith("unparsable file name 'recording_01.edf'")
    assert reasons["zzzz0000_s001_t000.edf"].startswith("truncated EDF")


# ------------------------------------------------------------------ store

def test_store_contents_match_plain_mne(store, corpus):
    meta = json.loads((store / "store.json").read_text())
    assert meta["complete"] and meta["contract"]["n_times"] == 2000
    table = pd.read_parquet(store / "windows.parquet")
    index = pd.read_parquet(store / "index.parquet")
    ok = index[index["status"] == "ok"]
    assert len(ok) == 8
    # 35 s at 200 Hz -> 3 whole 10 s windows per recording
    assert (ok["n_windows"] == 3).all() and len(table) == 24
    # TUAB.prepare scans names only; the workers read the headers and fill these columns in
    assert (ok["sfreq"] == 256.0).all() and (ok["duration"] == 35.0).all()
    assert all("EEG FP1-REF" in list(c) for c in ok["ch_names"])
    path = ok["path"].iloc[0]
    pairs = [tuple(f"EEG {e}-REF" for e in name.split("-")) for name in montage_channel_names("tcp16")]
    ref = _plain_mne_windows(path, sorted({c for p in pairs for c in p}), pairs)
    with h5py.File(store / "recordings" / f"{ok['recording'].iloc[0]}.h5", "r") as h:
        got = h["X"][()]
        assert h["X"].chunks is None and h["X"].id.get_offset() is not None  # memory-mappable
        assert got.dtype == np.float32
    # default one-pass engine: same MNE kernels, one padding instead of three (see spectral.py)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-3 * ref.std())
    assert 1.0 < np.std(got) < 500.0  # microvolt scale


def test_mne_engine_equals_plain_mne(corpus, tmp_path):
    cache = tmp_path / "mne_engine"
    TUAB(corpus, verbose=False).prepare(cache, config=PreprocessingConfig(engine="mne"))
    index = pd.read_parquet(cache / "index.parquet")
    row = index[index["status"] == "ok"].iloc[-1]
    pairs = [tuple(f"EEG {e}-REF" for e in name.split("-")) for name in montage_channel_names("tcp16")]
    ref = _plain_mne_windows(row["path"], sorted({c for p in pairs for c in p}), pairs)
    with h5py.File(cache / "recordings" / f"{row['recording']}.h5", "r") as h:
        np.testing.assert_allclose(h["X"][()], ref, rtol=1e-5, atol=1e-4)  # float32 rounding only


def test_each_bad_input_is_skipped_with_its_reason(store):
    info = store_info(store)
    rej = info["rejected"]
    reasons = dict(zip(rej["path"].map(lambda p: Path(p).name), rej["reason"]))
    assert len(reasons) == 5
    assert reasons["zzzz0000_s001_t000.edf"].startswith("truncated EDF")
    assert reasons["zzzz0001_s001_t000.edf"] == "shorter than one window: 5.0 s < 10 s"
    assert reasons["zzzz0002_s001_t000.edf"] == "missing electrodes: C3"
    assert reasons["zzzz0003_s001_t000.edf"].startswith("unexpected sampling rate: 100 Hz")
    assert reasons["recording_01.edf"].startswith("unparsable file name")
    t = info["table"].set_index(["split", "label"])
    assert t.loc[("train", "normal"), "recordings"] == 3 and t.loc[("eval", "abnormal"), "windows"] == 3


def test_corrupt_edf_header_and_data_do_not_stop_the_job(tmp_path):
    root = make_synthetic_tuab(tmp_path / "c", n_subjects=2, n_eval_subjects=0, duration=12.0)
    folder = root / "edf" / "train" / "normal" / "01_tcp_ar"
    (folder / "garbage0_s001_t000.edf").write_bytes(b"\x00\xff" * 500)
    # a header that parses but declares nonsense: sizes agree, values do not
    good = next(folder.glob("aaaa*.edf")).read_bytes()
    bad = bytearray(good)
    bad[236:244] = b"-1      "  # unknown record count is legal; garbage sampling fields are not
    ns = int(good[252:256].decode())
    bad[256 + 216 * ns: 256 + 216 * ns + 8] = b"abc     "  # samples per record of signal 1
    (folder / "garbage1_s001_t000.edf").write_bytes(bytes(bad))
    summary = TUAB(root, verbose=False).prepare(tmp_path / "cache")
    assert summary["n_ok"] == 2 and summary["n_rejected"] == 2 and summary["n_errors"] == 0
    rej = store_info(tmp_path / "cache")["rejected"]
    assert all(r.startswith(("not an EDF file", "unreadable EDF")) for r in rej["reason"])


def test_montage_electrodes_are_picked_before_rereferencing(tmp_path):
    """Extra channels (EKG, photic, a huge artefact) must not change a single derivation."""
    rng = np.random.default_rng(7)
    data = _signals(rng, len(TUH_AR_CHANNELS) + len(TUH_EXTRA_CHANNELS), 256 * 12, 256.0, False)
    data[-5] *= 1e3  # a huge EKG channel
    names = list(TUH_AR_CHANNELS) + list(TUH_EXTRA_CHANNELS)
    for variant, (d, n) in {"with": (data, names), "without": (data[:16], names[:16])}.items():
        write_edf(tmp_path / variant / "edf/train/normal/01_tcp_ar/aaaa0001_s001_t000.edf", d, n, 256.0)
    a = WindowDataset_from(tmp_path / "with", tmp_path / "cw")
    b = WindowDataset_from(tmp_path / "without", tmp_path / "cwo")
    np.testing.assert_array_equal(a, b)


def WindowDataset_from(root, cache):
    TUAB(root, verbose=False).prepare(cache)
    return WindowDataset(cache, split="all").get_windows([0])


class _Crash(BaseException):
    """Stands in for a kill: not an Exception, so nothing in the job catches it."""


def test_crash_then_resume_gives_identical_store(corpus, store, tmp_path, monkeypatch):
    cache = tmp_path / "resumed"
    real_write = window_store._write_recording
    calls = {"n": 0}

    def crashing_write(path, windows, attrs):
        calls["n"] += 1
        if calls["n"] == 4:
            # die half-way through writing the 4th recording: a temporary file is left behind
            (path.parent / f".{path.name}.partial.tmp").write_bytes(b"half a file")
            raise _Crash()
        real_write(path, windows, attrs)

    monkeypatch.setattr(window_store, "_write_recording", crashing_write)
    with pytest.raises(_Crash):
        TUAB(corpus, verbose=False).prepare(cache)
    assert len(list((cache / "recordings").glob("*.h5"))) == 3  # whole files only
    with pytest.raises(ValueError, match="incomplete"):
        WindowDataset(cache)
    monkeypatch.setattr(window_store, "_write_recording", real_write)
    summary = TUAB(corpus, verbose=False).prepare(cache)
    assert summary["n_skipped_done"] >= 3 and summary["n_errors"] == 0
    assert not list((cache / "recordings").glob(".*.tmp"))
    got, ref = _store_arrays(cache), _store_arrays(store)
    assert got.keys() == ref.keys()
    for k in ref:
        np.testing.assert_array_equal(got[k][0], ref[k][0])
    pd.testing.assert_frame_equal(pd.read_parquet(cache / "windows.parquet"),
                                  pd.read_parquet(store / "windows.parquet"))
    # a third run has nothing left to do
    assert TUAB(corpus, verbose=False).prepare(cache)["n_skipped_done"] == summary["n_recordings"] - 2


def test_parallel_equals_sequential(corpus, store, tmp_path):
    summary = TUAB(corpus, verbose=False).prepare(tmp_path / "par", n_jobs=2)
    assert summary["n_ok"] == 8
    got, ref = _store_arrays(tmp_path / "par"), _store_arrays(store)
    for k in ref:
        np.testing.assert_array_equal(got[k][0], ref[k][0])


def test_other_configuration_is_refused_unless_overwrite(corpus, store, tmp_path):
    cache = tmp_path / "s"
    shutil.copytree(store, cache)
    with pytest.raises(ValueError, match="another configuration"):
        TUAB(corpus, verbose=False).prepare(cache, config=PreprocessingConfig(notch=50.0))
    s = TUAB(corpus, verbose=False).prepare(cache, config=PreprocessingConfig(notch=50.0, sfreq=256.0),
                                            overwrite=True)
    assert s["n_skipped_done"] == 0 and s["contract"].n_times == 2560


# ------------------------------------------------------------------ split and reading

def test_split_subject_disjoint_and_deterministic(store):
    subjects = [f"s{i:03d}" for i in range(50)]
    v0 = split_subjects(subjects, 0.2, seed=0)
    assert len(v0) == 10 and v0 == split_subjects(subjects[::-1], 0.2, seed=0)
    assert v0 != split_subjects(subjects, 0.2, seed=1)
    with pytest.raises(ValueError, match="'val_fraction'"):
        split_subjects(subjects, 1.5)
    sets = {s: set(WindowDataset(store, split=s).windows["subject"]) for s in ("train", "val", "test")}
    assert sets["train"] and sets["val"] and sets["test"]
    assert not (sets["train"] & sets["val"]) and not (sets["test"] & (sets["train"] | sets["val"]))
    assert all(WindowDataset(store, split="test").windows["split"] == "eval")
    n = {s: len(WindowDataset(store, split=s)) for s in ("train", "val", "test", "all")}
    assert n["train"] + n["val"] + n["test"] == n["all"] == 24


def test_dataset_items_loader_and_options(store):
    ds = WindowDataset(store, split="all")
    assert isinstance(ds, torch.utils.data.Dataset)
    x, y = ds[5]
    assert x.shape == (16, 2000) and x.dtype == torch.float32 and y in (0, 1)
    assert y == (ds.windows["label"].iloc[5] == "abnormal")
    batch = ds.__getitems__([5, 0, 23, 1])
    np.testing.assert_array_equal(batch[0][0].numpy(), x.numpy())
    loader = torch.utils.data.DataLoader(ds, batch_size=7, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    seen = 0
    for xb, yb in loader:
        assert xb.shape[1:] == (16, 2000) and yb.dtype == torch.int64
        seen += len(yb)
    assert seen == len(ds)
    xb, yb = ds[[5, 0, 23]]
    assert xb.shape == (3, 16, 2000) and yb.tolist() == [ds[k][1] for k in (5, 0, 23)]
    np.testing.assert_array_equal(xb[0].numpy(), x.numpy())
    batches = list(ds.loader(batch_size=5, shuffle=True, random_state=1))
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 4]
    order = torch.cat([b[1] for b in batches])
    assert sorted(order.tolist()) == sorted(ds.labels.tolist())
    again = list(ds.loader(batch_size=5, shuffle=True, random_state=1))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again))
    # the same through DataLoader worker processes (handles reopened after fork)
    xw = torch.cat([b[0] for b in ds.loader(batch_size=6, shuffle=False, num_workers=2)])
    np.testing.assert_array_equal(xw.numpy(), ds.get_windows(np.arange(len(ds))))
    scaled = WindowDataset(store, split="all", scale="p95")
    xs = scaled[5][0].numpy()
    np.testing.assert_allclose(np.quantile(np.abs(xs), 0.95, axis=-1), 1.0, rtol=1e-3)
    res = WindowDataset(store, split="all", resample_sfreq=100.0)
    assert res[0][0].shape == (16, 1000) and res.contract.sfreq == 100.0
    with pytest.raises(IndexError):
        ds.get_windows([len(ds)])


def test_window_dataset_former_seed_name(store):
    """``seed=`` (former name of ``random_state``) still works for one release: same split, same order."""
    new = WindowDataset(store, split="val", random_state=3)
    with pytest.warns(FutureWarning, match="'seed' parameter of WindowDataset was renamed 'random_state'"):
        old = WindowDataset(store, split="val", seed=3)
    pd.testing.assert_frame_equal(old.windows, new.windows)
    assert WindowDataset(store, "val", 0.2, 3).windows.equals(new.windows)  # positional: random_state
    by_new = [b[1] for b in new.loader(batch_size=2, random_state=7)]
    with pytest.warns(FutureWarning, match="'seed' parameter of WindowDataset.loader was renamed"):
        by_old = [b[1] for b in new.loader(batch_size=2, seed=7)]
    assert all(torch.equal(a, b) for a, b in zip(by_new, by_old)) and len(by_new) == len(by_old)
    with pytest.raises(ValueError, match="both 'random_state' and its former name 'seed'"):
        WindowDataset(store, random_state=1, seed=2)


def test_contract_checked_on_read(store):
    ds = WindowDataset(store, split="all")
    WindowDataset(store, contract=ds.contract)  # same contract: fine
    wrong = SignalContract(ch_names=ds.contract.ch_names[::-1], sfreq=200.0, n_times=2000,
                           reference="bipolar-tcp16")
    with pytest.raises(ValueError, match="different order"):
        WindowDataset(store, contract=wrong)
    tfm = SignalContract(ch_names=ds.contract.ch_names, sfreq=256.0, n_times=2560,
                         reference="bipolar-tcp16")
    with pytest.raises(ValueError, match="sampling rate 200.0 Hz instead of 256.0 Hz"):
        WindowDataset(store, contract=tfm)
    with pytest.raises(FileNotFoundError, match="not a window store"):
        WindowDataset(store.parent)


# ------------------------------------------------------------------ real clinical EDF

def test_real_eegmat_edf_through_the_pipeline(shared_data, tmp_path):
    src = shared_data / "eegmat"
    files = sorted(src.glob("Subject0*_*.edf"))
    assert files, f"no Subject0*_*.edf files in {src}: the shared data folder is incomplete"
    root = tmp_path / "eegmat_tuab"
    for f in files:  # TUH-style names; rest = "normal", arithmetic = "abnormal" (a stand-in)
        subj, kind = f.stem.split("_")
        split = "eval" if subj == "Subject02" else "train"
        d = root / "edf" / split / ("normal" if kind == "1" else "abnormal") / "01_tcp_ar"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{subj.lower()}_s001_t00{kind}.edf").symlink_to(f)
    tuab = TUAB(root, verbose=False)
    assert (tuab.index["sfreq"] == 500.0).all()
    s16 = tuab.prepare(tmp_path / "c16")
    assert s16["n_ok"] == len(files) and s16["n_rejected"] == 0
    index = pd.read_parquet(tmp_path / "c16" / "index.parquet")
    expected = np.floor(index["duration"] * 200 / 2000).astype(int)
    np.testing.assert_array_equal(index["n_windows"], expected)
    # one recording against a plain MNE pass with the eegmat channel names
    row = index.iloc[0]
    pairs = [tuple(f"EEG {e[0]}{e[1:].lower()}" for e in name.split("-"))
             for name in montage_channel_names("tcp16")]
    ref = _exact_grid_windows(row["path"], sorted({c for p in pairs for c in p}), pairs)
    with h5py.File(tmp_path / "c16" / "recordings" / f"{row['recording']}.h5", "r") as h:
        got = h["X"][()]
    # 500 -> 200 Hz: compare away from the ends, where the circular reference wraps around
    np.testing.assert_allclose(got[2:-2], ref[2:-2], rtol=0, atol=2e-3 * ref.std())
    s22 = tuab.prepare(tmp_path / "c22", config=PreprocessingConfig(montage="tcp22"))
    assert s22["n_ok"] == 0
    rej = store_info(tmp_path / "c22")["rejected"]
    assert set(rej["reason"]) == {"missing electrodes: A1, A2"}
    ds = WindowDataset(tmp_path / "c16", split="test")
    assert set(ds.windows["subject"]) == {"subject02"} and len(ds) == 18 + 6


def test_default_cache_folder_from_environment(tmp_path, monkeypatch):
    root = make_synthetic_tuab(tmp_path / "t", n_subjects=1, n_eval_subjects=0, duration=12.0)
    monkeypatch.setenv("NEUROSIG_DATA", str(tmp_path / "data"))
    summary = TUAB(root, verbose=False).prepare()
    cfg = PreprocessingConfig()
    assert summary["cache"] == tmp_path / "data" / f"tuab_tcp16_{cfg.hash()}"
    assert len(WindowDataset(summary["cache"], split="all")) == 1
