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
    # the lazy-export stubs (lazy_loader reads them at import time)
    stubs = {p.relative_to(ROOT).as_posix() for p in (ROOT / "neurosig").rglob("__init__.pyi")}
    assert stubs and stubs <= set(names)


def _pyproject():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the [dev] extra installs tomli there
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _floors(requirements):
    """``{name: floor}`` from ``name>=floor`` requirement strings (the one form pyproject uses)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    out = {}
    for text in requirements:
        req = Requirement(text)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == ">=", \
            f"{text!r}: a dependency is declared as 'name>=floor' and nothing else"
        out[canonicalize_name(req.name)] = specs[0].version
    return out


def _constraints():
    """``{name: version}`` from ci/min-versions.txt (``name==version`` lines, ``#`` comments)."""
    from packaging.utils import canonicalize_name

    out = {}
    for line in (ROOT / "ci" / "min-versions.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and version.strip(), f"ci/min-versions.txt: {line!r} is not 'name==version'"
        out[canonicalize_name(name.strip())] = version.strip()
    return out


def test_min_versions_file_pins_the_declared_floors():
    """ci/min-versions.txt pins each runtime and [dev] dependency at its pyproject floor."""
    from packaging.version import Version

    project = _pyproject()["project"]
    runtime = _floors(project["dependencies"])
    dev = _floors(project["optional-dependencies"]["dev"])
    # the [dask] extra repeats the [dev] floor of dask
    assert _floors(project["optional-dependencies"]["dask"]) == {"dask": dev["dask"]}
    declared = {**runtime, **dev}
    pinned = _constraints()
    # dask[distributed] pulls distributed of the same release
    assert pinned.pop("distributed", None) == dev["dask"], "distributed is pinned with dask"
    assert set(pinned) == set(declared), (
        f"only in pyproject: {sorted(set(declared) - set(pinned))}; "
        f"only in ci/min-versions.txt: {sorted(set(pinned) - set(declared))}")
    for name, floor in declared.items():
        if name == "torch":
            # the one CPU build the stage can install: at or above the declared floor
            assert Version(pinned[name]) >= Version(floor), (name, pinned[name], floor)
        else:
            assert Version(pinned[name]) == Version(floor), (name, pinned[name], floor)
