"""The NSD decoding example runs and finds the planted signal in hV4 only; the example job YAML validates."""
import runpy
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fmri_decode_nsd_example_and_job_yaml(tmp_path, monkeypatch, capsys):
    from neurosig.evaluation.fmri import load_job

    monkeypatch.setenv("NEUROSIG_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "argv", ["fmri_decode_nsd.py", "--root", str(tmp_path / "mini_nsd")])
    runpy.run_path(str(ROOT / "examples/fmri_decode_nsd.py"), run_name="__main__")
    out = capsys.readouterr()
    rows = [line.split() for line in out.out.splitlines() if line.startswith("fmri-decoding")]
    acc = {r[1]: float(r[5]) for r in rows if r[2] == "person" and r[3] == "logistic"}
    assert acc["prf-visualrois:hV4"] > 0.85 and acc["prf-visualrois:V1v"] < 0.65
    # the example job file, next to the generated folder, passes the schema
    shutil.copy(ROOT / "examples/configs/fmri_decode_nsd.yml", tmp_path / "job.yml")
    job = load_job(tmp_path / "job.yml")
    assert job["dataset"]["root"] == str(tmp_path / "mini_nsd") and len(job["models"]) == 3
