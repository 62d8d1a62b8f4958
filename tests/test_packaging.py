"""The wheel ships the pipeline files and dataset cards (a non-editable install finds them)."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_pipelines_and_cards(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    wheel = next(tmp_path.glob("neurosig-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "pipelines").rglob("*.yml")}
    shipped |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "datasets").rglob("*.yml")}
    assert shipped, "nothing to ship"
    for rel in shipped:
        assert f"neurosig/_data/{rel}" in names, rel
    assert any(n.endswith("entry_points.txt") for n in names)
