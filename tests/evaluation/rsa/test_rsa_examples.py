"""The RSA examples run (quick settings) and write their outputs."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[3]


def _run(script, args, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(script), run_name="__main__")
    assert exc.value.code == 0


def test_rsa_92images_example(shared_data, tmp_path, monkeypatch, capsys):
    _run(ROOT / "examples" / "rsa_92images.py",
         ["--quick", "--data-dir", str(shared_data), "--out", str(tmp_path)], monkeypatch)
    table = pd.read_csv(tmp_path / "rsa_92images_identification.csv")
    assert set(table["variant"]) == {"none", "geotopological", "geodesic", "geodesic_rsatoolbox"}
    valid = table[~table["degenerate"]]
    assert valid["accuracy"].between(0, 1).all() and (table["n_test"] == 8).all()
    # geodesic over [0.5, 0.9] collapses every hIT RDM to one value: flagged, no accuracy reported
    flat = table[table["degenerate"]]
    assert list(zip(flat["variant"], flat["low"], flat["up"])) == [("geodesic", 0.5, 0.9)]
    assert flat["accuracy"].isna().all()
    assert "excluded: geodesic [0.5, 0.9]" in capsys.readouterr().out
    assert (tmp_path / "rsa_92images_identification.png").stat().st_size > 1000
    assert (tmp_path / "rsa_92images_models.png").stat().st_size > 1000


def test_rsa_eeg_timeresolved_example(shared_data, tmp_path, monkeypatch, capsys):
    _run(ROOT / "examples" / "rsa_eeg_timeresolved.py", ["--data-dir", str(shared_data), "--out", str(tmp_path)],
         monkeypatch)
    out = capsys.readouterr().out
    assert "90 epochs (T0: 45, T1: 23, T2: 22), 23 windows" in out
    assert (tmp_path / "rsa_eeg_timeresolved.png").stat().st_size > 1000


def test_rsa_torch_layers_example(tmp_path, monkeypatch, capsys):
    _run(ROOT / "examples" / "rsa_torch_layers.py", ["--out", str(tmp_path)], monkeypatch)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "|" in ln][1:]
    assert len(lines) == 4
    assert (tmp_path / "rsa_torch_layers.png").stat().st_size > 1000


def test_rsa_cli_job_example(shared_data, tmp_path, monkeypatch):
    _run(ROOT / "examples" / "rsa_cli_job.py", ["--quick", "--data-dir", str(shared_data), "--out", str(tmp_path)],
         monkeypatch)
    table = pd.read_csv(tmp_path / "out" / "hit92_comparison.csv")
    assert len(table) == 8 and (tmp_path / "out" / "results.sqlite").is_file()


def test_rsa_searchlight_example(capsys):
    import re

    runpy.run_path(str(ROOT / "examples" / "rsa_searchlight.py"), run_name="not_main")["main"]()
    out = capsys.readouterr().out
    inside, far = map(float, re.findall(r"block ([\d.]+), far from it (-?[\d.]+)", out)[0])
    assert inside > 5 * abs(far)


@pytest.mark.slow
def test_rsa_brain_vs_model_eeg_example(tmp_path, monkeypatch, capsys):
    """Simulated EEG with planted structure vs planted features, nano bi-Mamba, PatchTransformer, TFM."""
    pytest.importorskip("torch")
    pytest.importorskip("rsatoolbox")
    _run(ROOT / "examples" / "rsa_brain_vs_model_eeg.py", ["--out", str(tmp_path), "--n-boot", "50", "--by-hand"],
         monkeypatch)
    out = capsys.readouterr().out
    assert "rsatoolbox by hand" in out
    page = (tmp_path / "out" / "report.html").read_text()
    assert "layer x region similarity" in page and "eeg-vs-models_heatmap.png" in page
    assert "layer x window similarity" in out and "bimamba:mamba_blocks.1" in out and "tfm:tokens-mean" in out
    cells = pd.read_csv(tmp_path / "out" / "eeg-vs-models_grid.csv")
    raw = cells[cells["setting"] == "raw"].pivot(index="layer", columns="region", values="score")
    windows = sorted(raw.columns, key=lambda r: float(r[:-1]))  # 2 baseline, 2 category, 2 ring, 2 after
    early, late, quiet = windows[2:4], windows[4:6], windows[:2] + windows[6:]
    assert {"transformer:blocks.0", "bimamba:patch_embed", "tfm:tokens-mean"} <= set(raw.index)
    best = pd.read_csv(tmp_path / "out" / "eeg-vs-models_best_layer.csv")
    best = best[best["setting"] == "raw"].set_index("region")
    assert list(best.loc[early, "best_layer"]) == ["truth-category:features"] * 2
    assert list(best.loc[late, "best_layer"]) == ["truth-ring:features"] * 2
    assert (raw.loc["truth-category:features", early] > 0.6).all()
    assert (raw.loc["truth-ring:features", late] > 0.6).all()
    assert (raw[quiet].abs() < 0.35).all().all()  # no structure where nothing was planted
    ident = pd.read_csv(tmp_path / "out" / "eeg-vs-models_identification.csv")
    assert ident.loc[ident["setting"] == "raw", "ci_low"].iloc[0] > ident["chance"].iloc[0]


@pytest.mark.slow
def test_rsa_brain_vs_model_nsd_example(tmp_path, monkeypatch, capsys):
    """Mini-NSD (volume and fsaverage): the planted ROI matches the image features, the null ROIs do not."""
    _run(ROOT / "examples" / "rsa_brain_vs_model_nsd.py", ["--out", str(tmp_path), "--n-boot", "50"], monkeypatch)
    out = capsys.readouterr().out
    assert "[func1pt8mm] feature x ROI similarity" in out and "[fsaverage] feature x ROI similarity" in out
    for space in ("func1pt8mm", "fsaverage"):
        cells = pd.read_csv(tmp_path / f"out_{space}" / f"nsd-{space}_grid.csv")
        raw = cells[(cells["setting"] == "raw") & (cells["layer"] == "image-features:features")]
        raw = raw.set_index("region")
        hit = raw.loc["prf-visualrois:hV4"]
        null = raw.drop("prf-visualrois:hV4")
        assert hit["score"] > 0.3 and hit["ci_low"] > null["score"].max()
        assert (null["ci_low"] < 0.1).all()
        best = pd.read_csv(tmp_path / f"out_{space}" / f"nsd-{space}_best_layer.csv")
        best = best[best["setting"] == "raw"].set_index("region")
        assert best.loc["prf-visualrois:hV4", "best_layer"] == "image-features:features"


@pytest.mark.slow
def test_rsa_brain_vs_model_eeg_example_physionet(shared_data, tmp_path, monkeypatch, capsys):
    """Real PhysionetMI subject 1 (runs 3-14, 9 conditions) through the dataset/paradigm path."""
    pytest.importorskip("torch")
    mne_dir = tmp_path / "data" / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0"
    mne_dir.mkdir(parents=True)
    (mne_dir / "S001").symlink_to(shared_data / "eegmmidb" / "S001")
    _run(ROOT / "examples" / "rsa_brain_vs_model_eeg.py",
         ["--out", str(tmp_path / "out"), "--physionet", str(tmp_path / "data"), "--n-boot", "30"], monkeypatch)
    out = capsys.readouterr().out
    assert "PhysionetMI subject 1: layer x window similarity" in out and "bimamba:mamba_blocks" in out
    with np.load(tmp_path / "out" / "out_physionet" / "physionet-vs-models_rdms.npz") as z:
        assert sorted(z["conditions"]) == sorted(["rest"] + [f"{c}/{k}" for c in ("feet", "hands", "left_hand",
                                                                                   "right_hand")
                                                      for k in ("executed", "imagined")])
        assert len(z["region_order"]) == 6 and np.isfinite(z["model_rdms"]).all()
