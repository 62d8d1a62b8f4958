"""`neurosig report`: one static page per results store kind; every referenced figure exists."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from neurosig.cli.main import main
from neurosig.evaluation.results import ResultStore


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.external, self.tables = [], [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a["src"])
        if tag == "table":
            self.tables += 1
        for k in ("src", "href"):
            if a.get(k, "").startswith(("http:", "https:", "//")):
                self.external.append(a[k])


def _parse(page: Path) -> _Refs:
    p = _Refs()
    p.feed(page.read_text(encoding="utf-8"))
    for src in p.imgs:
        assert (page.parent / src).is_file(), f"figure {src} referenced by the page does not exist"
    assert not p.external, "the page must open without network"
    return p


def _figure(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def test_report_of_a_benchmark_store(tmp_path, capsys):
    store_path = tmp_path / "bench" / "results.sqlite"
    with ResultStore(store_path) as store:
        for s in (1, 2):
            for pipe, score in (("csp-lda", 0.7 + 0.05 * s), ("ts-lr", 0.8)):
                store.add({"kind": "bci", "dataset": "SimulatedMotorImagery", "subject": s, "session": "0train",
                           "pipeline": pipe, "evaluation": "within-session", "metric": "accuracy",
                           "score": score, "time": 0.1, "samples": 96})
        store.add({"kind": "bci", "dataset": "SimulatedMotorImagery", "subject": 3, "pipeline": "bad",
                   "evaluation": "within-session", "error": "ValueError: boom"})
    _figure(tmp_path / "bench" / "out" / "scores.png")
    out = tmp_path / "elsewhere" / "page.html"
    assert main(["report", str(store_path), "--out", str(out)]) == 0
    assert "report written to" in capsys.readouterr().out
    refs = _parse(out)
    text = out.read_text()
    assert "Benchmark (BCI)" in text and "csp-lda" in text and "ValueError: boom" in text
    assert refs.imgs == ["../bench/out/scores.png"]


def test_report_of_an_fmri_store(tmp_path):
    store_path = tmp_path / "results.sqlite"
    with ResultStore(store_path) as store:
        for roi, sc in (("prf-visualrois:hV4", 0.4), ("prf-visualrois:V1v", 0.02)):
            store.add({"kind": "fmri-decoding", "dataset": "nsd", "subject": 1, "pipeline": "ridge",
                       "evaluation": "decoding", "metric": "r2", "score": sc, "params": {"roi": roi}})
    page = main(["report", str(store_path)]) == 0 and tmp_path / "report.html"
    refs = _parse(page)
    assert "fMRI decoding" in page.read_text() and refs.tables >= 2 and refs.imgs == []


def test_report_of_an_rsa_grid_store(tmp_path):
    from test_rsa_grid import _cfg, _epochs

    from neurosig.evaluation.rsa.job import run_config

    _epochs(tmp_path)
    run_config(_cfg(output={"dir": "out", "results": "store/results.sqlite"}), base=tmp_path)
    page = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "store" / "results.sqlite"), "--out", str(page)]) == 0
    refs = _parse(page)
    text = page.read_text()
    assert "layer x region similarity" in text and "region identification" in text
    names = {Path(s).name for s in refs.imgs}
    assert {"toy-grid_heatmap.png", "toy-grid_profiles.png", "toy-grid_rdms.png",
            "toy-grid_identification.png"} <= names


def test_report_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="'results' parameter.*does not exist"):
        from neurosig.evaluation.html_report import write_html_report

        write_html_report(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()
    (tmp_path / "x.sqlite").write_bytes(np.arange(4, dtype=np.uint8).tobytes())
    assert main(["report", str(tmp_path / "x.sqlite")]) == 2


ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_report_of_a_real_benchmark_run(tmp_path):
    """`neurosig benchmark` (simulated data, one pipeline) then `neurosig report` of its store."""
    db = tmp_path / "bench" / "results.sqlite"
    argv = ["-q", "benchmark", "--subjects", "1", "--pipelines", str(ROOT / "pipelines" / "default" / "mdm.yml"),
            "--evaluation", "WithinSession", "--results", str(db), "--out", str(tmp_path / "bench" / "out"),
            "--n-permutations", "20"]
    assert main(argv) == 0
    page = tmp_path / "report.html"
    assert main(["report", str(db), "--out", str(page)]) == 0
    refs = _parse(page)
    assert "MDM" in page.read_text() and "within-session" in page.read_text()
    assert any(Path(s).name == "scores.png" for s in refs.imgs)


@pytest.mark.slow
def test_report_of_a_real_fmri_decoding_run(tmp_path):
    """decode_fmri on a mini NSD tree (figures in its output_dir) then the report of its store."""
    from neurosig.datasets.synthetic_nsd import make_synthetic_nsd
    from neurosig.evaluation.fmri import decode_fmri

    root = make_synthetic_nsd(tmp_path / "nsd", subjects=(1,), n_sessions_present=2, trials_per_session=60,
                              n_sessions_total=5, images_per_subject=100, n_images_total=400, n_shared=40,
                              shape=(8, 8, 6), surface_ico=None, seed=0)
    job = {"dataset": {"type": "nsd", "root": str(root), "cache_dir": str(tmp_path / "cache")},
           "subjects": [1], "rois": ["prf-visualrois:hV4"], "targets": [{"type": "coco", "categories": ["person"]}],
           "models": ["logistic"], "analyses": ["decoding"], "cv": {"scheme": "group-kfold", "n_splits": 3},
           "results": str(tmp_path / "fmri" / "res.sqlite"), "output_dir": str(tmp_path / "fmri" / "out"),
           "verbose": False}
    decode_fmri(job)
    assert main(["report", str(tmp_path / "fmri" / "res.sqlite")]) == 0
    page = tmp_path / "fmri" / "report.html"
    refs = _parse(page)
    assert "fMRI decoding" in page.read_text() and len(refs.imgs) >= 1
