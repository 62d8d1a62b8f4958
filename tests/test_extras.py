"""Optional extras: each feature without its extra fails first, in one line naming the install command."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from neurosig._extras import EXTRAS, MissingExtraError, install_hint, require_extra
from neurosig.cli.main import main


def _absent(monkeypatch, extra):
    """Make the extra's module unimportable, as on an install without it."""
    monkeypatch.setitem(sys.modules, EXTRAS[extra][0], None)


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_require_extra_names_feature_and_install_command(monkeypatch, extra):
    _absent(monkeypatch, extra)
    with pytest.raises(MissingExtraError) as err:
        require_extra(extra, "Some feature")
    msg = str(err.value)
    assert msg.startswith("Some feature needs the") and f"'{extra}' extra" in msg
    assert msg.endswith(install_hint(extra)) and install_hint(extra) == f'pip install "neurosig[{extra}]"'
    assert "\n" not in msg


def test_unknown_extra_is_refused():
    with pytest.raises(ValueError, match="'extra' parameter.*'dask'.*'nonexistent'"):
        require_extra("nonexistent", "x")


def test_dask_backend_without_extra_fails_before_any_task(monkeypatch):
    from neurosig.parallel import run_tasks

    _absent(monkeypatch, "dask")
    ran = []
    for kw in ({"backend": "dask"}, {"scheduler": "tcp://127.0.0.1:8786"}):
        with pytest.raises(MissingExtraError, match=r'pip install "neurosig\[dask\]"'):
            run_tasks(ran.append, [1, 2], verbose=False, **kw)
    assert ran == []


@pytest.mark.parametrize("flag", [["--dask-workers", "2"], ["--scheduler", "tcp://127.0.0.1:8786"]])
def test_benchmark_cli_without_dask_one_line_and_nothing_written(monkeypatch, tmp_path, capsys, flag):
    _absent(monkeypatch, "dask")
    out = tmp_path / "res"
    rc = main(["benchmark", "--subjects", "1", "--out", str(out), "--results", str(out / "r.sqlite"),
               "--no-plots", *flag])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "Dask" in err and 'pip install "neurosig[dask]"' in err
    assert not (out / "r.sqlite").exists()


def test_cuda_kernel_required_without_extra(monkeypatch):
    from neurosig.models.mamba import selective_scan

    _absent(monkeypatch, "cuda")
    u = torch.randn(1, 5, 3)
    B = torch.randn(1, 5, 2)
    with pytest.raises(MissingExtraError, match=r'use_fast_path=.require.*pip install "neurosig\[cuda\]"'):
        selective_scan(u, torch.rand(1, 5, 3), -torch.rand(3, 2), B, B, use_fast_path="require")
    # the default stays the pure-PyTorch scan without the extra
    y = selective_scan(u, torch.rand(1, 5, 3), -torch.rand(3, 2), B, B)
    assert y.shape == u.shape and torch.isfinite(y).all()


def test_version_and_info(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"neurosig {version('neurosig')}"
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    from neurosig._sys_info import RUNTIME
    for dist in RUNTIME:
        assert f"  {dist}: {version(dist)}" in out
    assert "torch device: cpu" in out or "torch device: cuda" in out
    assert "BLAS / OpenMP threads:" in out and "data folders:" in out
    assert np.__version__ in out
