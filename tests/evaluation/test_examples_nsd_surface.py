"""The fsaverage decoding example runs on a mini NSD, finds the planted signal in hV4 only and writes
per-hemisphere .mgh maps and surface plots."""
import runpy
import shutil
import sys
from pathlib import Path

import nibabel as nib

ROOT = Path(__file__).resolve().parents[2]


def test_fmri_decode_nsd_surface_example(mini_nsd, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["fmri_decode_nsd_surface.py", "--root", str(mini_nsd), "--out", str(out)])
    runpy.run_path(str(ROOT / "examples/fmri_decode_nsd_surface.py"), run_name="__main__")
    text = capsys.readouterr().out
    rows = [line.split() for line in text.splitlines() if line.startswith("fmri-decoding")]
    acc = {r[1]: float(r[5]) for r in rows}
    assert acc["prf-visualrois:hV4"] > 0.85 and acc["prf-visualrois:V2v"] < 0.65
    maps = [line.split()[1] for line in text.splitlines() if line.startswith("map:")]
    assert len(maps) == 6  # 2 ROIs x (lh.mgh, rh.mgh, png)
    pngs = [out / m for m in maps if m.endswith(".png")]
    assert len(pngs) == 2 and all(p.stat().st_size > 10_000 for p in pngs)
    lh = [out / m for m in maps if m.endswith("_lh.mgh")]
    assert nib.load(lh[0]).shape == (642, 1, 1)


def test_surface_job_yaml_validates(mini_nsd, tmp_path):
    from neurosig.evaluation.fmri import load_job

    shutil.copy(ROOT / "examples/configs/fmri_decode_nsd_surface.yml", tmp_path / "job.yml")
    (tmp_path / "mini_nsd").symlink_to(mini_nsd)
    job = load_job(tmp_path / "job.yml")
    assert job["dataset"]["space"] == "fsaverage"
    assert job["dataset"]["mesh"] == str(tmp_path / "mini_nsd/nsddata/freesurfer/fsaverage/surf")
