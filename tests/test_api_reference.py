"""The API reference builds without a warning: every public name is importable and its docstring renders."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # imports every subpackage and renders each public name (~30 s)
def test_api_reference_builds_without_warnings(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "docs" / "api", src, ignore=shutil.ignore_patterns("_build", "generated", "index.rst"))
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           str(src), str(tmp_path / "html")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    index = (tmp_path / "html" / "index.html").read_text()
    for name in ("SimulatedMotorImagery", "ACMClassifier", "ResultStore", "calc_rdm", "TFMTokenizer"):
        assert name in index
    generated = {p.stem for p in (src / "generated").glob("*.rst")}
    import neurosig.models
    assert {f"neurosig.models.{n}" for n in neurosig.models.__all__} <= generated
